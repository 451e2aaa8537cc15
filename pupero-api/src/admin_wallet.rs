//! Requests and responses of `admin_wallet` (see the server's `api::admin_wallet`).

use pupero_core::Piconero;
use uuid::Uuid;

/// A withdrawal as admins see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AdminWithdrawal {
    /// Withdrawal id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Where it is.
    pub state: crate::WithdrawalState,
    /// Why it is stuck: `not_built` (requested for 30 minutes), `not_relayed` (signed for 5
    /// minutes) or `not_mined` (broadcast for an hour); absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck: Option<crate::Stuck>,
    /// The destination.
    pub address: String,
    /// XMR it receives.
    pub amount: Piconero,
    /// Its share of the network fee, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Piconero>,
    /// The transaction, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// Times the worker relayed the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_attempts: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

/// Stuck withdrawals, the longest unchanged first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct StuckWithdrawals {
    /// The withdrawals.
    pub items: Vec<AdminWithdrawal>,
}
