-- Trades, their idempotent requests, chat, feedback, and the users' event log (MariaDB / MySQL).
-- A trade row is written only in the ledger writer's transaction that moves its escrow.
CREATE TABLE trades (
    id                  VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    offer_id            VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    seller_id           VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    buyer_id            VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    maker_side          VARCHAR(6)    CHARACTER SET ascii NOT NULL CHECK (maker_side IN ('seller', 'buyer')),
    amount_piconero     BIGINT        NOT NULL CHECK (amount_piconero > 0),
    seller_fee_piconero BIGINT        NOT NULL CHECK (seller_fee_piconero >= 0),
    buyer_fee_piconero  BIGINT        NOT NULL CHECK (buyer_fee_piconero >= 0),
    price               VARCHAR(40)   CHARACTER SET ascii NOT NULL,
    currency            VARCHAR(3)    CHARACTER SET ascii NOT NULL,
    fiat_amount         VARCHAR(48)   CHARACTER SET ascii NOT NULL,
    window_minutes      BIGINT        NOT NULL,
    payment_method      VARCHAR(32)   CHARACTER SET ascii NOT NULL,
    payment_details     VARCHAR(1200) CHARACTER SET utf8mb4 NOT NULL,
    terms               TEXT          CHARACTER SET utf8mb4 NOT NULL,
    state               VARCHAR(10)   CHARACTER SET ascii NOT NULL CHECK (state IN ('escrowed', 'paid', 'released', 'cancelled', 'expired', 'disputed', 'resolved')),
    resolution          VARCHAR(10)   CHARACTER SET ascii NULL CHECK (resolution IN ('to_buyer', 'to_seller', 'split')),
    split_piconero      BIGINT        NULL,
    disputed_by         VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    dispute_reason      VARCHAR(4000) CHARACTER SET utf8mb4 NULL,
    resolved_by         VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    opened_at_ms        BIGINT        NOT NULL,
    deadline_ms         BIGINT        NOT NULL,
    paid_at_ms          BIGINT        NULL,
    closed_at_ms        BIGINT        NULL,
    version             BIGINT        NOT NULL CHECK (version >= 0),
    CONSTRAINT trades_parties CHECK (seller_id <> buyer_id),
    CONSTRAINT trades_closed CHECK ((closed_at_ms IS NULL) = (state IN ('escrowed', 'paid', 'disputed'))),
    CONSTRAINT trades_resolved CHECK ((resolution IS NULL) = (state <> 'resolved')),
    CONSTRAINT trades_offer_fk FOREIGN KEY (offer_id) REFERENCES offers (id),
    CONSTRAINT trades_seller_fk FOREIGN KEY (seller_id) REFERENCES users (id),
    CONSTRAINT trades_buyer_fk FOREIGN KEY (buyer_id) REFERENCES users (id),
    INDEX trades_seller (seller_id, opened_at_ms),
    INDEX trades_buyer (buyer_id, opened_at_ms),
    INDEX trades_due (state, deadline_ms),
    INDEX trades_offer (offer_id)
) ENGINE = InnoDB;

-- Idempotency keys of trade requests: one per user and key, naming what it did.
CREATE TABLE trade_requests (
    user_id       VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idem_key      VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    trade_id      VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    action        VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    request_hash  VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    PRIMARY KEY (user_id, idem_key)
) ENGINE = InnoDB;

-- Messages between the parties of a trade (and its moderator once disputed).
CREATE TABLE trade_messages (
    id            VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    trade_id      VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    sender_id     VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    body          VARCHAR(4000) CHARACTER SET utf8mb4 NOT NULL,
    created_at_ms BIGINT        NOT NULL,
    CONSTRAINT trade_messages_trade_fk FOREIGN KEY (trade_id) REFERENCES trades (id),
    CONSTRAINT trade_messages_sender_fk FOREIGN KEY (sender_id) REFERENCES users (id),
    INDEX trade_messages_by_trade (trade_id, id)
) ENGINE = InnoDB;

-- One rating per party per ended trade, about the other party.
CREATE TABLE trade_feedback (
    trade_id      VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author_id     VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject_id    VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    rating        VARCHAR(8)    CHARACTER SET ascii NOT NULL CHECK (rating IN ('positive', 'neutral', 'negative')),
    comment       VARCHAR(2000) CHARACTER SET utf8mb4 NOT NULL,
    created_at_ms BIGINT        NOT NULL,
    PRIMARY KEY (trade_id, author_id),
    CONSTRAINT trade_feedback_parties CHECK (author_id <> subject_id),
    CONSTRAINT trade_feedback_trade_fk FOREIGN KEY (trade_id) REFERENCES trades (id),
    CONSTRAINT trade_feedback_author_fk FOREIGN KEY (author_id) REFERENCES users (id),
    CONSTRAINT trade_feedback_subject_fk FOREIGN KEY (subject_id) REFERENCES users (id),
    INDEX trade_feedback_subject (subject_id, created_at_ms)
) ENGINE = InnoDB;

-- What happened that a user should hear of, in order: the SSE stream and the cursor listing.
CREATE TABLE user_events (
    seq           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id       VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind          VARCHAR(32)  CHARACTER SET ascii NOT NULL,
    trade_id      VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    payload       TEXT         CHARACTER SET utf8mb4 NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    INDEX user_events_by_user (user_id, seq)
) ENGINE = InnoDB;
