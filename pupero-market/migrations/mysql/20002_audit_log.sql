-- Security events, append-only (MariaDB / MySQL).
CREATE TABLE audit_log (
    seq        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at_ms      BIGINT       NOT NULL,
    actor_id   VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    subject_id VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    event      VARCHAR(48)  CHARACTER SET ascii NOT NULL,
    client_ip  VARCHAR(45)  CHARACTER SET ascii NULL,
    detail     VARCHAR(512) CHARACTER SET utf8mb4 NOT NULL,
    INDEX audit_log_subject (subject_id, seq)
) ENGINE = InnoDB;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log is append-only';
