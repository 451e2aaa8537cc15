-- Sweeps: transactions consolidating the platform wallet's small outputs into one output of
-- its own (SQLite). Recorded when built, before relaying: the same transaction is relayed
-- again after a crash, and its fee is booked once, when it moves to 'broadcast'.
CREATE TABLE sweeps (
    txid            CHAR(64)    NOT NULL PRIMARY KEY,
    account_index   BIGINT      NOT NULL,
    tx_key          TEXT        NOT NULL,
    tx_metadata     TEXT        NOT NULL,
    amount_piconero BIGINT      NOT NULL CHECK (amount_piconero >= 0),
    fee_piconero    BIGINT      NOT NULL CHECK (fee_piconero >= 0),
    state           VARCHAR(10) NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'failed')),
    relay_attempts  BIGINT      NOT NULL DEFAULT 0,
    height          BIGINT      NULL,
    failure         VARCHAR(200) NULL,
    created_at_ms   BIGINT      NOT NULL,
    updated_at_ms   BIGINT      NOT NULL
);
CREATE INDEX sweeps_by_state ON sweeps (state, created_at_ms);
