-- Deposits: each user's subaddress of the platform wallet, and what the wallet received on
-- them (SQLite).

-- One deposit subaddress per user, created in the wallet on first request.
CREATE TABLE deposit_addresses (
    user_id       VARCHAR(36)  NOT NULL PRIMARY KEY REFERENCES users (id),
    account_index BIGINT       NOT NULL CHECK (account_index >= 0),
    address_index BIGINT       NOT NULL CHECK (address_index > 0),
    address       VARCHAR(110) NOT NULL UNIQUE,
    created_at_ms BIGINT       NOT NULL,
    UNIQUE (account_index, address_index)
);

-- Money one transaction brought to one user's subaddress. Credited once, through the ledger
-- transfer derived from (txid, account_index, address_index).
CREATE TABLE deposits (
    txid              CHAR(64)    NOT NULL,
    account_index     BIGINT      NOT NULL,
    address_index     BIGINT      NOT NULL,
    user_id           VARCHAR(36) NOT NULL REFERENCES users (id),
    amount_piconero   BIGINT      NOT NULL CHECK (amount_piconero > 0),
    height            BIGINT      NULL,
    confirmations     BIGINT      NOT NULL CHECK (confirmations >= 0),
    locked            SMALLINT    NOT NULL CHECK (locked IN (0, 1)),
    unlock_time       BIGINT      NOT NULL,
    double_spend_seen SMALLINT    NOT NULL CHECK (double_spend_seen IN (0, 1)),
    state             VARCHAR(8)  NOT NULL CHECK (state IN ('pending', 'credited', 'gone')),
    first_seen_ms     BIGINT      NOT NULL,
    updated_at_ms     BIGINT      NOT NULL,
    credited_at_ms    BIGINT      NULL,
    PRIMARY KEY (txid, account_index, address_index),
    CHECK ((credited_at_ms IS NULL) = (state <> 'credited'))
);
CREATE INDEX deposits_by_user ON deposits (user_id, first_seen_ms);
CREATE INDEX deposits_by_state ON deposits (state, height);

-- How far the deposit scanner read the chain: one row per wallet account.
CREATE TABLE wallet_scans (
    account_index BIGINT NOT NULL PRIMARY KEY,
    scanned_to    BIGINT NOT NULL CHECK (scanned_to >= 0),
    updated_at_ms BIGINT NOT NULL
);
