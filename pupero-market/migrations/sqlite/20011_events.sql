-- Users' events get a per-user sequence that follows commit order (SQLite).
--
-- `user_events.seq` was one global AUTOINCREMENT. On an engine with concurrent writers a
-- transaction could take seq 5 and commit after another took 6 and committed; a client that
-- read 6 and resumed "after 6" would never see 5. Now each user has a head row; a writer bumps
-- it (locking it until commit) and numbers the user's new events from it, so a user's
-- sequence has no gaps and no event commits after a later-numbered one.
CREATE TABLE user_event_heads (
    user_id  VARCHAR(36) NOT NULL PRIMARY KEY,
    last_seq BIGINT      NOT NULL CHECK (last_seq >= 0)
);

-- Existing events keep their numbers (clients may hold them as cursors); each user's
-- sequence continues after the user's highest.
INSERT INTO user_event_heads (user_id, last_seq)
SELECT user_id, MAX(seq) FROM user_events GROUP BY user_id;

CREATE TABLE user_events_keyed (
    user_id       VARCHAR(36)  NOT NULL,
    seq           BIGINT       NOT NULL CHECK (seq > 0),
    kind          VARCHAR(32)  NOT NULL,
    trade_id      VARCHAR(36)  NULL,
    payload       TEXT         NOT NULL,
    created_at_ms BIGINT       NOT NULL,
    PRIMARY KEY (user_id, seq)
);

INSERT INTO user_events_keyed (user_id, seq, kind, trade_id, payload, created_at_ms)
SELECT user_id, seq, kind, trade_id, payload, created_at_ms FROM user_events;

DROP TABLE user_events;

ALTER TABLE user_events_keyed RENAME TO user_events;

-- Retention prunes by age.
CREATE INDEX user_events_by_age ON user_events (created_at_ms);
