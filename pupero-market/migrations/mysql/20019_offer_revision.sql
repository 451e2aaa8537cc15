-- Each change of an offer counts, so that a process keeping the market in memory sees
-- another process's edits even within one millisecond.
ALTER TABLE offers ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
