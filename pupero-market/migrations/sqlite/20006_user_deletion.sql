-- Deleted accounts keep their row (ledger history and audit refer to them) but lose their
-- personal data and every way in.
ALTER TABLE users ADD COLUMN deleted_at_ms BIGINT NULL;
