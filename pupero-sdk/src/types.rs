//! Requests and responses of the API.

use pupero_core::Piconero;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize)]
pub(crate) struct RegisterRequest<'a> {
    pub(crate) username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<&'a str>,
    pub(crate) password: &'a str,
}

#[derive(Serialize)]
pub(crate) struct LoginRequest<'a> {
    pub(crate) login: &'a str,
    pub(crate) password: &'a str,
}

#[derive(Serialize)]
pub(crate) struct RefreshRequest<'a> {
    pub(crate) refresh_token: &'a str,
}

/// A health report.
#[derive(Debug, Clone, Deserialize)]
pub struct Health {
    /// `ok`, or what is wrong.
    pub status: String,
}

/// A new account.
#[derive(Debug, Clone, Deserialize)]
pub struct Registered {
    /// The new user's id.
    pub user_id: Uuid,
    /// The username as registered.
    pub username: String,
}

/// A session's tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The JWT sent as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Single-use token for the next refresh.
    pub refresh_token: String,
}

/// The caller's profile.
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// E-mail address, if given.
    pub email: Option<String>,
    /// Whether `email` was verified by the link sent to it; only a verified address receives
    /// password-reset links.
    pub email_verified: bool,
    /// `user`, `moderator` or `admin`.
    pub role: String,
    /// Account creation, unix milliseconds.
    pub created_at_ms: u64,
}

/// The caller's XMR balance.
#[derive(Debug, Clone, Deserialize)]
pub struct Balance {
    /// Spendable now.
    pub available: Piconero,
    /// Held by trades in escrow and withdrawals in progress.
    pub held: Piconero,
    /// Arriving, not yet spendable.
    pub incoming: Piconero,
}

/// One ledger transfer touching the caller's account.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerEntry {
    /// The transfer that started the movement.
    pub id: Uuid,
    /// `credit` or `debit`, from the caller's side.
    pub direction: String,
    /// What moved in the end (for a hold still waiting, what is held).
    pub amount: Piconero,
    /// For a hold: what it held at first.
    pub held: Option<Piconero>,
    /// `completed`, `held`, `returned` or `expired`.
    pub status: String,
    /// Why money moved.
    pub code: String,
    /// For a hold that ended: why.
    pub outcome_code: Option<String>,
    /// `trade`, `deposit`, `withdrawal` or `other`.
    pub cause: String,
    /// The trade it is about.
    pub trade_id: Option<Uuid>,
    /// The withdrawal it is about.
    pub withdrawal_id: Option<Uuid>,
    /// The deposit's transaction.
    pub txid: Option<String>,
    /// When it started, unix milliseconds.
    pub timestamp_ms: u64,
    /// When it ended; absent while held.
    pub settled_at_ms: Option<u64>,
}

/// A page of ledger history.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerPage {
    /// Newest first.
    pub items: Vec<LedgerEntry>,
    /// Cursor of the next (older) page.
    pub next_cursor: Option<String>,
}
