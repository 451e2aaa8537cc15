-- The post, void or expiry of each hold, found by the hold's id: a statement shows each hold
-- with how it ended.
CREATE INDEX ledger_transfers_pending ON ledger_transfers (pending_id);
