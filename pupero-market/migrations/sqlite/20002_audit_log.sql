-- Security events, append-only (SQLite).
CREATE TABLE audit_log (
    seq        INTEGER      PRIMARY KEY AUTOINCREMENT,
    at_ms      BIGINT       NOT NULL,
    actor_id   VARCHAR(36)  NULL,
    subject_id VARCHAR(36)  NULL,
    event      VARCHAR(48)  NOT NULL,
    client_ip  VARCHAR(45)  NULL,
    detail     VARCHAR(512) NOT NULL
);

CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
