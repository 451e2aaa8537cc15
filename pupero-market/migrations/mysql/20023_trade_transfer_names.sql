-- How each trade names its ledger transfers. Trades opened before this column hash the trade
-- id and the step ('hashed'); new trades put their opening time first ('time_ordered'), so
-- the ledger's indexes on transfer ids take new transfers on their last pages. A trade keeps
-- its names for life: its steps must find the holds its opening made.
ALTER TABLE trades ADD COLUMN transfer_names VARCHAR(12) NOT NULL DEFAULT 'hashed'
    CHECK (transfer_names IN ('hashed', 'time_ordered'));
