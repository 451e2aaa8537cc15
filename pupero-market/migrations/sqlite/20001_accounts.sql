-- People, their sessions and refresh tokens (SQLite).

CREATE TABLE users (
    id            VARCHAR(36)  NOT NULL PRIMARY KEY,
    username      VARCHAR(32)  NOT NULL,
    username_key  VARCHAR(32)  NOT NULL UNIQUE,
    email         VARCHAR(254) NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL CHECK (role IN ('user', 'moderator', 'admin')),
    disabled      BIGINT       NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at_ms BIGINT       NOT NULL
);

-- A session is one login: a family of refresh tokens, each used once.
CREATE TABLE sessions (
    id             VARCHAR(36) NOT NULL PRIMARY KEY,
    user_id        VARCHAR(36) NOT NULL REFERENCES users (id),
    created_at_ms  BIGINT      NOT NULL,
    expires_at_ms  BIGINT      NOT NULL,
    revoked_at_ms  BIGINT      NULL,
    revoked_reason VARCHAR(32) NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    token_hash    VARCHAR(64) NOT NULL PRIMARY KEY,
    session_id    VARCHAR(36) NOT NULL REFERENCES sessions (id),
    created_at_ms BIGINT      NOT NULL,
    used_at_ms    BIGINT      NULL
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
