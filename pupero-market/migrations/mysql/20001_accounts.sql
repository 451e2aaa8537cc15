-- People, their sessions and refresh tokens (MariaDB / MySQL).

CREATE TABLE users (
    id            VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    username      VARCHAR(32)  CHARACTER SET ascii NOT NULL,
    username_key  VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    email         VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL UNIQUE,
    password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
    role          VARCHAR(16)  CHARACTER SET ascii NOT NULL CHECK (role IN ('user', 'moderator', 'admin')),
    disabled      BIGINT       NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at_ms BIGINT       NOT NULL
) ENGINE = InnoDB;

-- A session is one login: a family of refresh tokens, each used once.
CREATE TABLE sessions (
    id             VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id        VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at_ms  BIGINT      NOT NULL,
    expires_at_ms  BIGINT      NOT NULL,
    revoked_at_ms  BIGINT      NULL,
    revoked_reason VARCHAR(32) CHARACTER SET ascii NULL,
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX sessions_user (user_id)
) ENGINE = InnoDB;

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    token_hash    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    session_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at_ms BIGINT      NOT NULL,
    used_at_ms    BIGINT      NULL,
    CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id) REFERENCES sessions (id),
    INDEX refresh_tokens_session (session_id)
) ENGINE = InnoDB;
