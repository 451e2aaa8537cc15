-- The address a session was started from, shown to its owner in their list of sessions.
ALTER TABLE sessions ADD COLUMN client_ip VARCHAR(45) NULL;
