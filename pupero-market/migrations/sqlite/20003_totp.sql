-- Two-factor authentication: TOTP secrets and one-time recovery codes (SQLite).

-- One row per user who started or finished 2FA setup. The secret is encrypted with the data key
-- (base64 of nonce and ciphertext, bound to the user id); it is never stored in clear.
CREATE TABLE user_totp (
    user_id        VARCHAR(36)  NOT NULL PRIMARY KEY REFERENCES users (id),
    secret_enc     VARCHAR(255) NOT NULL,
    enabled        BIGINT       NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- The last accepted time step: a code is accepted once, and never one older than it.
    last_used_step BIGINT       NULL,
    created_at_ms  BIGINT       NOT NULL,
    enabled_at_ms  BIGINT       NULL
);

-- Only the SHA-256 of a recovery code is stored. Each works once.
CREATE TABLE totp_recovery_codes (
    code_hash  VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id),
    used_at_ms BIGINT      NULL
);

CREATE INDEX totp_recovery_codes_user ON totp_recovery_codes (user_id);
