-- E-mail verification, password reset by mail, and the outbox of mails (SQLite).

-- When the current address was verified; an address set or changed starts unverified.
ALTER TABLE users ADD COLUMN email_verified_at_ms BIGINT NULL;

-- One-time tokens sent by mail; only the SHA-256 of a token is stored. A token is bound to the
-- address it was sent to, works once (`used_at_ms`, set by compare-and-set) and until
-- `expires_at_ms`; a newer token of the same purpose, a password change or an address change
-- end it as well (they set `used_at_ms`).
CREATE TABLE mail_tokens (
    token_hash    VARCHAR(64)  NOT NULL PRIMARY KEY,
    user_id       VARCHAR(36)  NOT NULL REFERENCES users (id),
    purpose       VARCHAR(16)  NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email         VARCHAR(254) NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    expires_at_ms BIGINT       NOT NULL,
    used_at_ms    BIGINT       NULL
);

CREATE INDEX mail_tokens_user ON mail_tokens (user_id, purpose);
CREATE INDEX mail_tokens_expiry ON mail_tokens (expires_at_ms);

-- Mails to send, written in the commit of what they announce. The message is sealed under the
-- data key (a link in it opens the account) and dropped once it is sent or given up.
CREATE TABLE mail_outbox (
    id                 VARCHAR(36) NOT NULL PRIMARY KEY,
    user_id            VARCHAR(36) NOT NULL REFERENCES users (id),
    kind               VARCHAR(32) NOT NULL,
    sealed             TEXT        NULL,
    state              VARCHAR(8)  NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts           BIGINT      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at_ms BIGINT      NOT NULL,
    expires_at_ms      BIGINT      NULL,
    created_at_ms      BIGINT      NOT NULL,
    done_at_ms         BIGINT      NULL
);

CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at_ms);
CREATE INDEX mail_outbox_done ON mail_outbox (done_at_ms);
