-- Progressive lockout of guessed credentials, per login identifier (MariaDB / MySQL).
-- `login_key` is a digest of the lower-cased identifier, never the text itself: people type
-- passwords into the login field, and an unknown login must be kept exactly like a known one.
CREATE TABLE login_throttle (
    login_key       VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    failures        BIGINT       NOT NULL CHECK (failures >= 0),
    locked_until_ms BIGINT       NULL,
    updated_at_ms   BIGINT       NOT NULL,
    INDEX login_throttle_updated (updated_at_ms)
) ENGINE = InnoDB;
