-- API keys for bots (MariaDB / MySQL). Only the SHA-256 of a key is stored; `prefix` is its
-- first characters, shown in lists so that people can tell their keys apart.
CREATE TABLE api_keys (
    id              VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id         VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name            VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
    prefix          VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    scopes          BIGINT      NOT NULL CHECK (scopes BETWEEN 1 AND 7),
    created_at_ms   BIGINT      NOT NULL,
    last_used_at_ms BIGINT      NULL,
    revoked_at_ms   BIGINT      NULL,
    CONSTRAINT api_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX api_keys_user (user_id)
) ENGINE = InnoDB;
