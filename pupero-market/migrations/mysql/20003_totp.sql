-- Two-factor authentication: TOTP secrets and one-time recovery codes (MariaDB / MySQL).

-- One row per user who started or finished 2FA setup. The secret is encrypted with the data key
-- (base64 of nonce and ciphertext, bound to the user id); it is never stored in clear.
CREATE TABLE user_totp (
    user_id        VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    secret_enc     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    enabled        BIGINT       NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- The last accepted time step: a code is accepted once, and never one older than it.
    last_used_step BIGINT       NULL,
    created_at_ms  BIGINT       NOT NULL,
    enabled_at_ms  BIGINT       NULL,
    CONSTRAINT user_totp_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

-- Only the SHA-256 of a recovery code is stored. Each works once.
CREATE TABLE totp_recovery_codes (
    code_hash  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    used_at_ms BIGINT      NULL,
    CONSTRAINT totp_recovery_codes_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX totp_recovery_codes_user (user_id)
) ENGINE = InnoDB;
