-- Offers on the market (MariaDB / MySQL). Prices and margins are exact decimal text.
CREATE TABLE offers (
    id              VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    owner_id        VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    side            VARCHAR(4)    CHARACTER SET ascii NOT NULL CHECK (side IN ('sell', 'buy')),
    currency        VARCHAR(3)    CHARACTER SET ascii NOT NULL,
    payment_method  VARCHAR(32)   CHARACTER SET ascii NOT NULL,
    payment_details VARCHAR(1200) CHARACTER SET utf8mb4 NOT NULL,
    pricing_kind    VARCHAR(6)    CHARACTER SET ascii NOT NULL CHECK (pricing_kind IN ('fixed', 'margin')),
    pricing_value   VARCHAR(40)   CHARACTER SET ascii NOT NULL,
    min_piconero    BIGINT        NOT NULL CHECK (min_piconero > 0),
    max_piconero    BIGINT        NOT NULL,
    window_minutes  BIGINT        NOT NULL,
    terms           TEXT          CHARACTER SET utf8mb4 NOT NULL,
    visibility      VARCHAR(8)    CHARACTER SET ascii NOT NULL,
    status          VARCHAR(8)    CHARACTER SET ascii NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
    created_at_ms   BIGINT        NOT NULL,
    updated_at_ms   BIGINT        NOT NULL,
    CONSTRAINT offers_limits CHECK (min_piconero <= max_piconero),
    CONSTRAINT offers_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id),
    INDEX offers_market (status, visibility, side, currency),
    INDEX offers_owner (owner_id, status)
) ENGINE = InnoDB;
