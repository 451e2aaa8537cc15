-- Deposits: each user's subaddress of the platform wallet, and what the wallet received on
-- them (MariaDB / MySQL).

-- One deposit subaddress per user, created in the wallet on first request.
CREATE TABLE deposit_addresses (
    user_id       VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    account_index BIGINT       NOT NULL CHECK (account_index >= 0),
    address_index BIGINT       NOT NULL CHECK (address_index > 0),
    address       VARCHAR(110) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    CONSTRAINT deposit_addresses_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    UNIQUE INDEX deposit_addresses_index (account_index, address_index),
    UNIQUE INDEX deposit_addresses_address (address)
) ENGINE = InnoDB;

-- Money one transaction brought to one user's subaddress. Credited once, through the ledger
-- transfer derived from (txid, account_index, address_index).
CREATE TABLE deposits (
    txid              CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    account_index     BIGINT      NOT NULL,
    address_index     BIGINT      NOT NULL,
    user_id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount_piconero   BIGINT      NOT NULL CHECK (amount_piconero > 0),
    height            BIGINT      NULL,
    confirmations     BIGINT      NOT NULL CHECK (confirmations >= 0),
    locked            SMALLINT    NOT NULL CHECK (locked IN (0, 1)),
    unlock_time       BIGINT      NOT NULL,
    double_spend_seen SMALLINT    NOT NULL CHECK (double_spend_seen IN (0, 1)),
    state             VARCHAR(8)  CHARACTER SET ascii NOT NULL CHECK (state IN ('pending', 'credited', 'gone')),
    first_seen_ms     BIGINT      NOT NULL,
    updated_at_ms     BIGINT      NOT NULL,
    credited_at_ms    BIGINT      NULL,
    PRIMARY KEY (txid, account_index, address_index),
    CONSTRAINT deposits_credited CHECK ((credited_at_ms IS NULL) = (state <> 'credited')),
    CONSTRAINT deposits_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX deposits_by_user (user_id, first_seen_ms),
    INDEX deposits_by_state (state, height)
) ENGINE = InnoDB;

-- How far the deposit scanner read the chain: one row per wallet account.
CREATE TABLE wallet_scans (
    account_index BIGINT NOT NULL PRIMARY KEY,
    scanned_to    BIGINT NOT NULL CHECK (scanned_to >= 0),
    updated_at_ms BIGINT NOT NULL
) ENGINE = InnoDB;
