-- A rescan of the chain the platform's wallet owes: written before a wallet restored from its
-- seed is brought back (its subaddresses made again, then the rescan), deleted once the wallet
-- was rescanned and saved. A process that stops in between leaves it, and the next one rescans.
CREATE TABLE wallet_rescans (
    account_index BIGINT NOT NULL PRIMARY KEY,
    owed_since_ms BIGINT NOT NULL
);
