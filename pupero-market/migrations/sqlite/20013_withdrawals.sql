-- Withdrawals, the transactions that pay them, the outbox that wakes the wallet worker, and
-- the lease that keeps one worker active (SQLite).

-- A user's withdrawal. Its amount and fee reserve are held in the ledger from the request on.
CREATE TABLE withdrawals (
    id               VARCHAR(36)  NOT NULL PRIMARY KEY,
    user_id          VARCHAR(36)  NOT NULL REFERENCES users (id),
    idem_key         VARCHAR(100) NOT NULL,
    request_hash     VARCHAR(64)  NOT NULL,
    destination      VARCHAR(110) NOT NULL,
    amount_piconero  BIGINT       NOT NULL CHECK (amount_piconero > 0),
    max_fee_piconero BIGINT       NOT NULL CHECK (max_fee_piconero >= 0),
    state            VARCHAR(10)  NOT NULL CHECK (state IN ('requested', 'signed', 'broadcast', 'confirmed', 'failed')),
    tx_id            VARCHAR(36)  NULL,
    fee_piconero     BIGINT       NULL CHECK (fee_piconero >= 0),
    failure          VARCHAR(200) NULL,
    requested_at_ms  BIGINT       NOT NULL,
    updated_at_ms    BIGINT       NOT NULL,
    UNIQUE (user_id, idem_key)
);
CREATE INDEX withdrawals_by_user ON withdrawals (user_id, requested_at_ms);
CREATE INDEX withdrawals_by_state ON withdrawals (state, requested_at_ms);
CREATE INDEX withdrawals_by_tx ON withdrawals (tx_id);

-- A transaction paying one or more withdrawals: built and signed, then relayed. Its metadata
-- is what is relayed, again after a crash: the same transaction, never a second one.
CREATE TABLE withdrawal_txs (
    id              VARCHAR(36) NOT NULL PRIMARY KEY,
    txid            CHAR(64)    NOT NULL UNIQUE,
    tx_key          TEXT        NOT NULL,
    tx_metadata     TEXT        NOT NULL,
    fee_piconero    BIGINT      NOT NULL CHECK (fee_piconero >= 0),
    state           VARCHAR(10) NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'failed')),
    relay_attempts  BIGINT      NOT NULL DEFAULT 0,
    height          BIGINT      NULL,
    created_at_ms   BIGINT      NOT NULL,
    updated_at_ms   BIGINT      NOT NULL
);
CREATE INDEX withdrawal_txs_by_state ON withdrawal_txs (state, created_at_ms);

-- Messages to publish, written in the transaction of the change they announce. A message
-- only says "look at withdrawal N"; the rows are the truth.
CREATE TABLE outbox (
    id              INTEGER     NOT NULL PRIMARY KEY AUTOINCREMENT,
    topic           VARCHAR(32) NOT NULL,
    payload         VARCHAR(200) NOT NULL,
    created_at_ms   BIGINT      NOT NULL,
    published_at_ms BIGINT      NULL
);
CREATE INDEX outbox_unpublished ON outbox (published_at_ms, id);

-- Leases of jobs that only one process may run at a time.
CREATE TABLE worker_leases (
    name          VARCHAR(32) NOT NULL PRIMARY KEY,
    holder        VARCHAR(36) NOT NULL,
    expires_at_ms BIGINT      NOT NULL
);
INSERT INTO worker_leases (name, holder, expires_at_ms) VALUES ('withdrawals', '', 0);
