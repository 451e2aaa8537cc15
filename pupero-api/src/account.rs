//! Requests and responses of `account` (see the server's `api::account`).

use pupero_core::Piconero;
use uuid::Uuid;

/// The caller's profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct Me {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// E-mail address, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `email` was verified by the link sent to it; only a verified address receives
    /// password-reset links.
    pub email_verified: bool,
    /// What the account may do beyond trading.
    pub role: crate::Role,
    /// Account creation, unix milliseconds.
    pub created_at_ms: u64,
}

/// The caller's XMR balance. Amounts are decimal XMR strings with up to 12 decimals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Balance {
    /// What can be spent, traded or withdrawn now.
    pub available: Piconero,
    /// Held by open trades (escrow) and withdrawals in progress.
    pub held: Piconero,
    /// Arriving, not yet spendable (e.g. escrow in trades where the caller buys).
    pub incoming: Piconero,
}

/// One line of the caller's statement: money in or out, or held, and why. A hold (escrow of a
/// trade, a withdrawal's amount or fee reserve) and its outcome are one line with a status.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct LedgerEntry {
    /// The transfer that started the movement.
    pub id: Uuid,
    /// Money in or out, from the caller's side.
    pub direction: crate::Direction,
    /// Decimal XMR that moved in the end: for a hold posted in part (a withdrawal's fee
    /// reserve) what was charged; zero for a hold returned or expired; while held, what is held.
    pub amount: Piconero,
    /// For a hold: what it held at first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Piconero>,
    /// Where it stands: `held` while waiting for its outcome.
    pub status: crate::EntryStatus,
    /// Why money moved.
    pub code: crate::TransferCode,
    /// For a hold that ended: why (`trade_release`, `trade_refund`, `dispute_resolution`,
    /// `withdrawal`, `withdrawal_fee`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_code: Option<crate::TransferCode>,
    /// What it is about.
    pub cause: crate::EntryCause,
    /// The trade, when it is about a trade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_id: Option<Uuid>,
    /// The withdrawal, when it is about a withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_id: Option<Uuid>,
    /// The deposit's transaction, when it is about a deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// When it started, unix milliseconds.
    pub timestamp_ms: u64,
    /// When it ended (a single transfer: when it happened); absent while held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at_ms: Option<u64>,
}

/// A page of ledger history, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct LedgerPage {
    /// The entries.
    pub items: Vec<LedgerEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
