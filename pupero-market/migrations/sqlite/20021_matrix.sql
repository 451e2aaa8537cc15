-- The optional Matrix bridge (SQLite): linked accounts, trade rooms, the outbox of what is
-- mirrored to Matrix, and the homeserver's events already taken in.

-- A user's Matrix account. `pending` while the code shown to the user has not come back from
-- that account (only its SHA-256 is kept); `linked_account` is set once it has, and is unique,
-- so one Matrix account speaks for one Pupero user.
CREATE TABLE matrix_links (
    user_id        VARCHAR(36)  NOT NULL PRIMARY KEY REFERENCES users (id),
    matrix_user_id VARCHAR(255) NOT NULL,
    code_hash      VARCHAR(64)  NULL,
    attempts       BIGINT       NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    room_id        VARCHAR(255) NULL,
    linked_account VARCHAR(255) NULL UNIQUE,
    created_at_ms  BIGINT       NOT NULL,
    expires_at_ms  BIGINT       NOT NULL,
    linked_at_ms   BIGINT       NULL,
    CHECK ((linked_account IS NULL) = (linked_at_ms IS NULL))
);

CREATE INDEX matrix_links_room ON matrix_links (room_id);

-- A trade's room, once created; `closed_at_ms` once it was made read-only.
CREATE TABLE matrix_rooms (
    trade_id      VARCHAR(36)  NOT NULL PRIMARY KEY REFERENCES trades (id),
    room_id       VARCHAR(255) NOT NULL UNIQUE,
    created_at_ms BIGINT       NOT NULL,
    closed_at_ms  BIGINT       NULL
);

-- What goes to Matrix, written in the commit of what it mirrors; its id is the Matrix
-- transaction id of what it sends, so a retry never sends twice.
CREATE TABLE matrix_outbox (
    id                 VARCHAR(36)   NOT NULL PRIMARY KEY,
    kind               VARCHAR(16)   NOT NULL CHECK (kind IN ('message', 'notice', 'dispute', 'close', 'link')),
    trade_id           VARCHAR(36)   NULL REFERENCES trades (id),
    user_id            VARCHAR(36)   NULL REFERENCES users (id),
    body               VARCHAR(4000) NULL,
    state              VARCHAR(8)    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts           BIGINT        NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at_ms BIGINT        NOT NULL,
    created_at_ms      BIGINT        NOT NULL,
    done_at_ms         BIGINT        NULL
);

CREATE INDEX matrix_outbox_pending ON matrix_outbox (state, id);
CREATE INDEX matrix_outbox_done ON matrix_outbox (done_at_ms);

-- Events the homeserver pushed that became chat messages (or link confirmations): a
-- transaction pushed again takes in nothing twice.
CREATE TABLE matrix_inbound (
    event_id       VARCHAR(255) NOT NULL PRIMARY KEY,
    received_at_ms BIGINT       NOT NULL
);
