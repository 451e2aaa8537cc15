-- Progressive lockout of guessed credentials, per login identifier (SQLite).
-- `login_key` is a digest of the lower-cased identifier, never the text itself: people type
-- passwords into the login field, and an unknown login must be kept exactly like a known one.
CREATE TABLE login_throttle (
    login_key       VARCHAR(254) NOT NULL PRIMARY KEY,
    failures        BIGINT       NOT NULL CHECK (failures >= 0),
    locked_until_ms BIGINT       NULL,
    updated_at_ms   BIGINT       NOT NULL
);

CREATE INDEX login_throttle_updated ON login_throttle (updated_at_ms);
