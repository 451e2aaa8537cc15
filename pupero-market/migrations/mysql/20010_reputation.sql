-- Indexes for public profiles (MariaDB / MySQL). A profile counts a user's completed trades on each
-- side by state and reads a seller's latest releases by closing time; these indexes keep both
-- reads to the user's own rows.
CREATE INDEX trades_seller_state ON trades (seller_id, state, closed_at_ms);
CREATE INDEX trades_buyer_state ON trades (buyer_id, state, closed_at_ms);
