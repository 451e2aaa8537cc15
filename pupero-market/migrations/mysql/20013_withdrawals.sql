-- Withdrawals, the transactions that pay them, the outbox that wakes the wallet worker, and
-- the lease that keeps one worker active (MariaDB / MySQL).

-- A user's withdrawal. Its amount and fee reserve are held in the ledger from the request on.
CREATE TABLE withdrawals (
    id               VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id          VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idem_key         VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    destination      VARCHAR(110) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount_piconero  BIGINT       NOT NULL CHECK (amount_piconero > 0),
    max_fee_piconero BIGINT       NOT NULL CHECK (max_fee_piconero >= 0),
    state            VARCHAR(10)  CHARACTER SET ascii NOT NULL CHECK (state IN ('requested', 'signed', 'broadcast', 'confirmed', 'failed')),
    tx_id            VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    fee_piconero     BIGINT       NULL CHECK (fee_piconero >= 0),
    failure          VARCHAR(200) CHARACTER SET utf8mb4 NULL,
    requested_at_ms  BIGINT       NOT NULL,
    updated_at_ms    BIGINT       NOT NULL,
    CONSTRAINT withdrawals_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    UNIQUE INDEX withdrawals_key (user_id, idem_key),
    INDEX withdrawals_by_user (user_id, requested_at_ms),
    INDEX withdrawals_by_state (state, requested_at_ms),
    INDEX withdrawals_by_tx (tx_id)
) ENGINE = InnoDB;

-- A transaction paying one or more withdrawals: built and signed, then relayed. Its metadata
-- is what is relayed, again after a crash: the same transaction, never a second one.
CREATE TABLE withdrawal_txs (
    id              VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    txid            CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    tx_key          TEXT        CHARACTER SET ascii NOT NULL,
    tx_metadata     MEDIUMTEXT  CHARACTER SET ascii NOT NULL,
    fee_piconero    BIGINT      NOT NULL CHECK (fee_piconero >= 0),
    state           VARCHAR(10) CHARACTER SET ascii NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'failed')),
    relay_attempts  BIGINT      NOT NULL DEFAULT 0,
    height          BIGINT      NULL,
    created_at_ms   BIGINT      NOT NULL,
    updated_at_ms   BIGINT      NOT NULL,
    INDEX withdrawal_txs_by_state (state, created_at_ms)
) ENGINE = InnoDB;

-- Messages to publish, written in the transaction of the change they announce. A message
-- only says "look at withdrawal N"; the rows are the truth.
CREATE TABLE outbox (
    id              BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    topic           VARCHAR(32) CHARACTER SET ascii NOT NULL,
    payload         VARCHAR(200) CHARACTER SET ascii NOT NULL,
    created_at_ms   BIGINT      NOT NULL,
    published_at_ms BIGINT      NULL,
    INDEX outbox_unpublished (published_at_ms, id)
) ENGINE = InnoDB;

-- Leases of jobs that only one process may run at a time.
CREATE TABLE worker_leases (
    name          VARCHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    holder        VARCHAR(36) CHARACTER SET ascii NOT NULL,
    expires_at_ms BIGINT      NOT NULL
) ENGINE = InnoDB;
INSERT INTO worker_leases (name, holder, expires_at_ms) VALUES ('withdrawals', '', 0);
