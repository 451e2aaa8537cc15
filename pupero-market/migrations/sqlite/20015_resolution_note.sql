-- A moderator's written reason for a dispute's resolution, shown to both parties.
ALTER TABLE trades ADD COLUMN resolution_note VARCHAR(4000) NULL;
