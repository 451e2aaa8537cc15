-- API keys for bots (SQLite). Only the SHA-256 of a key is stored; `prefix` is its first
-- characters, shown in lists so that people can tell their keys apart.
CREATE TABLE api_keys (
    id              VARCHAR(36) NOT NULL PRIMARY KEY,
    user_id         VARCHAR(36) NOT NULL REFERENCES users (id),
    name            VARCHAR(64) NOT NULL,
    prefix          VARCHAR(16) NOT NULL,
    key_hash        VARCHAR(64) NOT NULL UNIQUE,
    scopes          BIGINT      NOT NULL CHECK (scopes BETWEEN 1 AND 7),
    created_at_ms   BIGINT      NOT NULL,
    last_used_at_ms BIGINT      NULL,
    revoked_at_ms   BIGINT      NULL
);

CREATE INDEX api_keys_user ON api_keys (user_id);
