-- Users' events get a per-user sequence that follows commit order (MariaDB / MySQL).
--
-- `user_events.seq` was one global AUTO_INCREMENT. With concurrent writers a transaction could
-- take seq 5 and commit after another took 6 and committed; a client that read 6 and resumed
-- "after 6" would never see 5. Now each user has a head row; a writer bumps it (row-locking
-- it until commit) and numbers the user's new events from it, so a user's sequence has no
-- gaps and no event commits after a later-numbered one.
CREATE TABLE user_event_heads (
    user_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    last_seq BIGINT      NOT NULL,
    CONSTRAINT user_event_heads_seq CHECK (last_seq >= 0)
) ENGINE = InnoDB;

-- Existing events keep their numbers (clients may hold them as cursors); each user's
-- sequence continues after the user's highest.
INSERT INTO user_event_heads (user_id, last_seq)
SELECT user_id, MAX(seq) FROM user_events GROUP BY user_id;

ALTER TABLE user_events
    MODIFY seq BIGINT NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (user_id, seq),
    DROP INDEX user_events_by_user,
    ADD INDEX user_events_by_age (created_at_ms),
    ADD CONSTRAINT user_events_seq CHECK (seq > 0);
