//! Requests and responses of `admin` (see the server's `api::admin`).

use crate::*;
use pupero_core::Piconero;
use uuid::Uuid;

/// A user as admins see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AdminUser {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// E-mail address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// What the account may do beyond trading.
    pub role: crate::Role,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
}

/// A page of users, ordered by username.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AdminUserPage {
    /// The users.
    pub items: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A role change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RoleChange {
    /// The new role.
    pub role: crate::Role,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AuditLogEntry {
    /// Position in the log.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: u64,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Whom it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// Stable event name, e.g. `login_failed`.
    pub event: String,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Details.
    pub detail: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AuditLogPage {
    /// The entries.
    pub items: Vec<AuditLogEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The platform's wallet against what the ledger says it owes. Amounts are decimal XMR,
/// exact to the piconero; signed ones (`difference`, `hot_wallet`, `platform_fees`,
/// `network_fees`) start with `-` when below zero.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ReconciliationView {
    /// `ok` when the wallet's total balance covers what is owed, `deficit` when not.
    pub status: crate::ReconciliationStatus,
    /// The wallet's total balance less what is owed (`user_liabilities` +
    /// `deposits_uncredited`): the platform's own money, or below zero the deficit.
    pub difference: pupero_core::SignedPiconero,
    /// Σ of every user's balance in the ledger, money held in trade escrow or for withdrawals
    /// included.
    pub user_liabilities: Piconero,
    /// Of `user_liabilities`, what pending transfers hold (escrow, withdrawal holds).
    pub user_held: Piconero,
    /// User accounts summed.
    pub user_accounts: u64,
    /// Deposits in the wallet (mined or in the pool) and not credited yet: in the wallet's
    /// balance, owed, not yet in users' balances.
    pub deposits_uncredited: Piconero,
    /// How many.
    pub deposits_uncredited_count: u64,
    /// The wallet's total balance, locked outputs included.
    pub wallet_total: Piconero,
    /// What the wallet can spend now.
    pub wallet_unlocked: Piconero,
    /// The ledger's hot wallet account: deposits in; withdrawals, their fees and the
    /// platform's network fees out.
    pub hot_wallet: pupero_core::SignedPiconero,
    /// Trade fees the platform earned (its own money in the wallet).
    pub platform_fees: pupero_core::SignedPiconero,
    /// Network fees the platform paid itself (sweeps).
    pub network_fees: pupero_core::SignedPiconero,
    /// Withdrawals held and not broadcast yet (`requested` or `signed`): their money is still
    /// in the wallet and in `user_liabilities`.
    pub withdrawals_in_flight: u64,
    /// Their total amount.
    pub withdrawals_in_flight_amount: Piconero,
    /// When it was read, unix milliseconds.
    pub checked_at_ms: u64,
}

impl ReconciliationView {
    /// Whether the wallet holds less than what is owed.
    pub fn is_deficit(&self) -> bool {
        self.status == ReconciliationStatus::Deficit
    }
}
