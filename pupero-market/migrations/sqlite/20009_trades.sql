-- Trades, their idempotent requests, chat, feedback, and the users' event log (SQLite).
-- A trade row is written only in the ledger writer's transaction that moves its escrow.
CREATE TABLE trades (
    id                  VARCHAR(36)   NOT NULL PRIMARY KEY,
    offer_id            VARCHAR(36)   NOT NULL REFERENCES offers (id),
    seller_id           VARCHAR(36)   NOT NULL REFERENCES users (id),
    buyer_id            VARCHAR(36)   NOT NULL REFERENCES users (id),
    maker_side          VARCHAR(6)    NOT NULL CHECK (maker_side IN ('seller', 'buyer')),
    amount_piconero     BIGINT        NOT NULL CHECK (amount_piconero > 0),
    seller_fee_piconero BIGINT        NOT NULL CHECK (seller_fee_piconero >= 0),
    buyer_fee_piconero  BIGINT        NOT NULL CHECK (buyer_fee_piconero >= 0),
    price               VARCHAR(40)   NOT NULL,
    currency            VARCHAR(3)    NOT NULL,
    fiat_amount         VARCHAR(48)   NOT NULL,
    window_minutes      BIGINT        NOT NULL,
    payment_method      VARCHAR(32)   NOT NULL,
    payment_details     VARCHAR(1200) NOT NULL,
    terms               TEXT          NOT NULL,
    state               VARCHAR(10)   NOT NULL CHECK (state IN ('escrowed', 'paid', 'released', 'cancelled', 'expired', 'disputed', 'resolved')),
    resolution          VARCHAR(10)   NULL CHECK (resolution IN ('to_buyer', 'to_seller', 'split')),
    split_piconero      BIGINT        NULL,
    disputed_by         VARCHAR(36)   NULL,
    dispute_reason      VARCHAR(4000) NULL,
    resolved_by         VARCHAR(36)   NULL,
    opened_at_ms        BIGINT        NOT NULL,
    deadline_ms         BIGINT        NOT NULL,
    paid_at_ms          BIGINT        NULL,
    closed_at_ms        BIGINT        NULL,
    version             BIGINT        NOT NULL CHECK (version >= 0),
    CHECK (seller_id <> buyer_id),
    CHECK ((closed_at_ms IS NULL) = (state IN ('escrowed', 'paid', 'disputed'))),
    CHECK ((resolution IS NULL) = (state <> 'resolved'))
);

CREATE INDEX trades_seller ON trades (seller_id, opened_at_ms);
CREATE INDEX trades_buyer ON trades (buyer_id, opened_at_ms);
CREATE INDEX trades_due ON trades (state, deadline_ms);
CREATE INDEX trades_offer ON trades (offer_id);

-- Idempotency keys of trade requests: one per user and key, naming what it did.
CREATE TABLE trade_requests (
    user_id       VARCHAR(36)  NOT NULL,
    idem_key      VARCHAR(100) NOT NULL,
    trade_id      VARCHAR(36)  NOT NULL,
    action        VARCHAR(16)  NOT NULL,
    request_hash  VARCHAR(64)  NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

-- Messages between the parties of a trade (and its moderator once disputed).
CREATE TABLE trade_messages (
    id            VARCHAR(36)   NOT NULL PRIMARY KEY,
    trade_id      VARCHAR(36)   NOT NULL REFERENCES trades (id),
    sender_id     VARCHAR(36)   NOT NULL REFERENCES users (id),
    body          VARCHAR(4000) NOT NULL,
    created_at_ms BIGINT        NOT NULL
);

CREATE INDEX trade_messages_by_trade ON trade_messages (trade_id, id);

-- One rating per party per ended trade, about the other party.
CREATE TABLE trade_feedback (
    trade_id      VARCHAR(36)  NOT NULL REFERENCES trades (id),
    author_id     VARCHAR(36)  NOT NULL REFERENCES users (id),
    subject_id    VARCHAR(36)  NOT NULL REFERENCES users (id),
    rating        VARCHAR(8)   NOT NULL CHECK (rating IN ('positive', 'neutral', 'negative')),
    comment       VARCHAR(2000) NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    PRIMARY KEY (trade_id, author_id),
    CHECK (author_id <> subject_id)
);

CREATE INDEX trade_feedback_subject ON trade_feedback (subject_id, created_at_ms);

-- What happened that a user should hear of, in order: the SSE stream and the cursor listing.
CREATE TABLE user_events (
    seq           INTEGER      PRIMARY KEY AUTOINCREMENT,
    user_id       VARCHAR(36)  NOT NULL,
    kind          VARCHAR(32)  NOT NULL,
    trade_id      VARCHAR(36)  NULL,
    payload       TEXT         NOT NULL,
    created_at_ms BIGINT       NOT NULL
);

CREATE INDEX user_events_by_user ON user_events (user_id, seq);
