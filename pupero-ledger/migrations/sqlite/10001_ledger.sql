-- The double-entry ledger (SQLite). Amounts are piconero in BIGINT; ids are UUID text.

CREATE TABLE ledger_accounts (
    id               VARCHAR(36) NOT NULL PRIMARY KEY,
    ledger           BIGINT      NOT NULL CHECK (ledger > 0),
    code             BIGINT      NOT NULL,
    flags            BIGINT      NOT NULL,
    debits_pending   BIGINT      NOT NULL CHECK (debits_pending >= 0),
    debits_posted    BIGINT      NOT NULL CHECK (debits_posted >= 0),
    credits_pending  BIGINT      NOT NULL CHECK (credits_pending >= 0),
    credits_posted   BIGINT      NOT NULL CHECK (credits_posted >= 0),
    created_at_ms    BIGINT      NOT NULL,
    -- The account flags, enforced a second time by the database: a user balance never < 0.
    CHECK ((flags & 2) = 0 OR debits_posted <= credits_posted - debits_pending),
    CHECK ((flags & 4) = 0 OR credits_posted <= debits_posted - credits_pending)
);

CREATE TABLE ledger_transfers (
    seq               INTEGER     PRIMARY KEY AUTOINCREMENT,
    id                VARCHAR(36) NOT NULL UNIQUE,
    debit_account_id  VARCHAR(36) NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id VARCHAR(36) NOT NULL REFERENCES ledger_accounts (id),
    amount            BIGINT      NOT NULL CHECK (amount > 0),
    pending_id        VARCHAR(36) NULL REFERENCES ledger_transfers (id),
    timeout_secs      BIGINT      NOT NULL,
    ledger            BIGINT      NOT NULL,
    code              BIGINT      NOT NULL,
    kind              BIGINT      NOT NULL,
    user_data         VARCHAR(32) NOT NULL,
    created_at_ms     BIGINT      NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);

CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq);

-- Transfers are immutable: corrections are new transfers.
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger transfers are immutable');
END;

CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger transfers are immutable');
END;

-- Where each pending (two-phase) transfer stands: 1 pending, 2 posted, 3 voided, 4 expired.
CREATE TABLE ledger_pending (
    id            VARCHAR(36) NOT NULL PRIMARY KEY REFERENCES ledger_transfers (id),
    status        BIGINT      NOT NULL CHECK (status BETWEEN 1 AND 4),
    expires_at_ms BIGINT      NULL
);

CREATE INDEX ledger_pending_expiry ON ledger_pending (status, expires_at_ms);
