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
    /// Transfer id.
    pub id: Uuid,
    /// `credit` or `debit`, from the caller's side.
    pub direction: String,
    /// The amount.
    pub amount: Piconero,
    /// Why money moved.
    pub code: String,
    /// `single`, `pending`, `post`, `void` or `expiry`.
    pub kind: String,
    /// The hold a post, void or expiry resolved.
    pub pending_id: Option<Uuid>,
    /// Unix milliseconds.
    pub timestamp_ms: u64,
}

/// A page of ledger history.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerPage {
    /// Newest first.
    pub items: Vec<LedgerEntry>,
    /// Cursor of the next (older) page.
    pub next_cursor: Option<String>,
}
