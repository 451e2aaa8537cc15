-- The double-entry ledger (MariaDB / MySQL, InnoDB). Amounts are piconero in BIGINT; ids are
-- UUID text compared byte for byte.

CREATE TABLE ledger_accounts (
    id               VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    ledger           BIGINT      NOT NULL CHECK (ledger > 0),
    code             BIGINT      NOT NULL,
    flags            BIGINT      NOT NULL,
    debits_pending   BIGINT      NOT NULL CHECK (debits_pending >= 0),
    debits_posted    BIGINT      NOT NULL CHECK (debits_posted >= 0),
    credits_pending  BIGINT      NOT NULL CHECK (credits_pending >= 0),
    credits_posted   BIGINT      NOT NULL CHECK (credits_posted >= 0),
    created_at_ms    BIGINT      NOT NULL,
    -- The account flags, enforced a second time by the database: a user balance never < 0.
    CONSTRAINT ledger_accounts_debits_within_credits
        CHECK ((flags & 2) = 0 OR debits_posted <= credits_posted - debits_pending),
    CONSTRAINT ledger_accounts_credits_within_debits
        CHECK ((flags & 4) = 0 OR credits_posted <= debits_posted - credits_pending)
) ENGINE = InnoDB;

CREATE TABLE ledger_transfers (
    seq               BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id                VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    debit_account_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    credit_account_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount            BIGINT      NOT NULL CHECK (amount > 0),
    pending_id        VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    timeout_secs      BIGINT      NOT NULL,
    ledger            BIGINT      NOT NULL,
    code              BIGINT      NOT NULL,
    kind              BIGINT      NOT NULL,
    user_data         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at_ms     BIGINT      NOT NULL,
    CONSTRAINT ledger_transfers_accounts_differ CHECK (debit_account_id <> credit_account_id),
    CONSTRAINT ledger_transfers_debit FOREIGN KEY (debit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_transfers_credit FOREIGN KEY (credit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_transfers_pending FOREIGN KEY (pending_id) REFERENCES ledger_transfers (id),
    INDEX ledger_transfers_debit_seq (debit_account_id, seq),
    INDEX ledger_transfers_credit_seq (credit_account_id, seq)
) ENGINE = InnoDB;

-- Transfers are immutable: corrections are new transfers.
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger transfers are immutable';

CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger transfers are immutable';

-- Where each pending (two-phase) transfer stands: 1 pending, 2 posted, 3 voided, 4 expired.
CREATE TABLE ledger_pending (
    id            VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    status        BIGINT      NOT NULL CHECK (status BETWEEN 1 AND 4),
    expires_at_ms BIGINT      NULL,
    CONSTRAINT ledger_pending_transfer FOREIGN KEY (id) REFERENCES ledger_transfers (id),
    INDEX ledger_pending_expiry (status, expires_at_ms)
) ENGINE = InnoDB;
