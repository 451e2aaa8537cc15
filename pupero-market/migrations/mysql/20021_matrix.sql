-- The optional Matrix bridge (MariaDB): linked accounts, trade rooms, the outbox of what is
-- mirrored to Matrix, and the homeserver's events already taken in.

-- A user's Matrix account. `pending` while the code shown to the user has not come back from
-- that account (only its SHA-256 is kept); `linked_account` is set once it has, and is unique,
-- so one Matrix account speaks for one Pupero user.
CREATE TABLE matrix_links (
    user_id        VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    matrix_user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    code_hash      VARCHAR(64)  CHARACTER SET ascii NULL,
    attempts       BIGINT       NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    room_id        VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    linked_account VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    created_at_ms  BIGINT       NOT NULL,
    expires_at_ms  BIGINT       NOT NULL,
    linked_at_ms   BIGINT       NULL,
    CHECK ((linked_account IS NULL) = (linked_at_ms IS NULL)),
    CONSTRAINT matrix_links_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    UNIQUE INDEX matrix_links_account (linked_account),
    INDEX matrix_links_room (room_id)
) ENGINE = InnoDB;

-- A trade's room, once created; `closed_at_ms` once it was made read-only.
CREATE TABLE matrix_rooms (
    trade_id      VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    room_id       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    closed_at_ms  BIGINT       NULL,
    CONSTRAINT matrix_rooms_trade_fk FOREIGN KEY (trade_id) REFERENCES trades (id),
    UNIQUE INDEX matrix_rooms_room (room_id)
) ENGINE = InnoDB;

-- What goes to Matrix, written in the commit of what it mirrors; its id is the Matrix
-- transaction id of what it sends, so a retry never sends twice.
CREATE TABLE matrix_outbox (
    id                 VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    kind               VARCHAR(16)   CHARACTER SET ascii NOT NULL CHECK (kind IN ('message', 'notice', 'dispute', 'close', 'link')),
    trade_id           VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_id            VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    body               VARCHAR(4000) CHARACTER SET utf8mb4 NULL,
    state              VARCHAR(8)    CHARACTER SET ascii NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts           BIGINT        NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at_ms BIGINT        NOT NULL,
    created_at_ms      BIGINT        NOT NULL,
    done_at_ms         BIGINT        NULL,
    CONSTRAINT matrix_outbox_trade_fk FOREIGN KEY (trade_id) REFERENCES trades (id),
    CONSTRAINT matrix_outbox_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    INDEX matrix_outbox_pending (state, id),
    INDEX matrix_outbox_done (done_at_ms)
) ENGINE = InnoDB;

-- Events the homeserver pushed that became chat messages (or link confirmations): a
-- transaction pushed again takes in nothing twice.
CREATE TABLE matrix_inbound (
    event_id       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    received_at_ms BIGINT       NOT NULL
) ENGINE = InnoDB;
