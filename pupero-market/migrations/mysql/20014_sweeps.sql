-- Sweeps: transactions consolidating the platform wallet's small outputs into one output of
-- its own (MariaDB / MySQL). Recorded when built, before relaying: the same transaction is
-- relayed again after a crash, and its fee is booked once, when it moves to 'broadcast'.
CREATE TABLE sweeps (
    txid            CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    account_index   BIGINT      NOT NULL,
    tx_key          TEXT        CHARACTER SET ascii NOT NULL,
    tx_metadata     MEDIUMTEXT  CHARACTER SET ascii NOT NULL,
    amount_piconero BIGINT      NOT NULL CHECK (amount_piconero >= 0),
    fee_piconero    BIGINT      NOT NULL CHECK (fee_piconero >= 0),
    state           VARCHAR(10) CHARACTER SET ascii NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'failed')),
    relay_attempts  BIGINT      NOT NULL DEFAULT 0,
    height          BIGINT      NULL,
    failure         VARCHAR(200) CHARACTER SET utf8mb4 NULL,
    created_at_ms   BIGINT      NOT NULL,
    updated_at_ms   BIGINT      NOT NULL,
    INDEX sweeps_by_state (state, created_at_ms)
) ENGINE = InnoDB;
