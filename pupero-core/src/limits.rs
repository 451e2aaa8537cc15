//! Named limits. Every bound in Pupero lives here with the reason for its value.

/// Most transfers one `create_transfers` call may carry. Bounds the SQL statements built per
/// batch (a row has 14 parameters; MariaDB allows 65,535 per statement, SQLite 32,766) and the
/// time one group commit holds the write lock.
pub const MAX_TRANSFERS_PER_BATCH: usize = 1_000;

/// Most accounts one `create_accounts` call may carry, for the same reasons.
pub const MAX_ACCOUNTS_PER_BATCH: usize = 1_000;

/// Most transfers one group commit applies. Larger groups amortise the fsync further but hold
/// the write lock longer; past a few thousand the gain is gone.
pub const MAX_TRANSFERS_PER_GROUP_COMMIT: usize = 2_000;

/// Longest a pending (two-phase) transfer may stay open before it expires: 30 days. Escrow
/// holds for trades and withdrawals resolve in hours; anything longer is a bug.
pub const MAX_PENDING_TIMEOUT_SECS: u32 = 30 * 24 * 60 * 60;

/// Largest page of account history a caller may ask for.
pub const MAX_HISTORY_PAGE_SIZE: u32 = 200;

/// Page size when the caller does not say.
pub const DEFAULT_HISTORY_PAGE_SIZE: u32 = 50;

/// Most pending transfers one expiry sweep voids; the job runs again for the rest.
pub const MAX_EXPIRIES_PER_SWEEP: u32 = 500;

/// Largest value any account counter may reach. Counters are stored as signed 64-bit SQL
/// `BIGINT`, so a transfer that would push one past `i64::MAX` piconero (about 9.2 million XMR)
/// is refused with an overflow instead of failing at the storage edge. Operator accounts with
/// very long histories can be rolled over into fresh accounts long before that.
pub const MAX_ACCOUNT_COUNTER: u64 = 9_223_372_036_854_775_807;

/// Shortest payment window a trade may have: 5 minutes. A buyer needs at least that long to
/// send a bank transfer or a payment-app payment after opening the trade.
pub const MIN_PAYMENT_WINDOW_SECS: u32 = 5 * 60;

/// Longest payment window a trade may have: 24 hours (1,440 minutes). The seller's XMR is locked
/// in escrow meanwhile; a day covers slow bank transfers without locking funds for longer.
pub const MAX_PAYMENT_WINDOW_SECS: u32 = 24 * 60 * 60;

/// Highest trading fee, maker or taker: 1,000 basis points (10%). A guard against a
/// misconfigured fee schedule, far above any sensible fee.
pub const MAX_FEE_BPS: u16 = 1_000;
