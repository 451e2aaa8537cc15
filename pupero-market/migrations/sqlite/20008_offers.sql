-- Offers on the market (SQLite). Prices and margins are exact decimal text.
CREATE TABLE offers (
    id              VARCHAR(36)   NOT NULL PRIMARY KEY,
    owner_id        VARCHAR(36)   NOT NULL REFERENCES users (id),
    side            VARCHAR(4)    NOT NULL CHECK (side IN ('sell', 'buy')),
    currency        VARCHAR(3)    NOT NULL,
    payment_method  VARCHAR(32)   NOT NULL,
    payment_details VARCHAR(1200) NOT NULL,
    pricing_kind    VARCHAR(6)    NOT NULL CHECK (pricing_kind IN ('fixed', 'margin')),
    pricing_value   VARCHAR(40)   NOT NULL,
    min_piconero    BIGINT        NOT NULL CHECK (min_piconero > 0),
    max_piconero    BIGINT        NOT NULL,
    window_minutes  BIGINT        NOT NULL,
    terms           TEXT          NOT NULL,
    visibility      VARCHAR(8)    NOT NULL,
    status          VARCHAR(8)    NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
    created_at_ms   BIGINT        NOT NULL,
    updated_at_ms   BIGINT        NOT NULL,
    CHECK (min_piconero <= max_piconero)
);

CREATE INDEX offers_market ON offers (status, visibility, side, currency);
CREATE INDEX offers_owner ON offers (owner_id, status);
