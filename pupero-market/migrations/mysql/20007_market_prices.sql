-- The latest market price of XMR per currency, as set by an admin (MariaDB / MySQL).
-- `price` is the exact decimal text of a `Price`, never a float.
CREATE TABLE market_prices (
    currency       VARCHAR(3)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    price          VARCHAR(40) CHARACTER SET ascii NOT NULL,
    source         VARCHAR(16) CHARACTER SET ascii NOT NULL,
    observed_at_ms BIGINT      NOT NULL
) ENGINE = InnoDB;
