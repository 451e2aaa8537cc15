-- The latest market price of XMR per currency, as set by an admin (SQLite).
-- `price` is the exact decimal text of a `Price`, never a float.
CREATE TABLE market_prices (
    currency       VARCHAR(3)  NOT NULL PRIMARY KEY,
    price          VARCHAR(40) NOT NULL,
    source         VARCHAR(16) NOT NULL,
    observed_at_ms BIGINT      NOT NULL
);
