-- The ledger transfer that credited each deposit, so a statement line names the deposit's
-- transaction.
ALTER TABLE deposits ADD COLUMN transfer_id VARCHAR(36) NULL;
CREATE INDEX deposits_transfer ON deposits (transfer_id);
