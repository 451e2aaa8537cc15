-- Whether a withdrawal sends everything it holds but its fee share (1), rather than exactly
-- its amount (0): its amount is then what it holds besides the fee reserve, and it also
-- sends what the fee leaves of the reserve.
ALTER TABLE withdrawals ADD COLUMN send_all BIGINT NOT NULL DEFAULT 0 CHECK (send_all IN (0, 1));
