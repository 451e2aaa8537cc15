//! Requests and responses of `profile` (see the server's `api::profile`).

use crate::*;
use pupero_core::{EmailAddress, Piconero};
use uuid::Uuid;

/// An e-mail change: the address is a login identifier, so it needs the password (and the
/// 2FA code when 2FA is on), like the other sensitive changes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct EmailChange {
    /// The new address, or absent to remove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// One of the caller's live sessions (a login on a device, refreshed as it is used).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct SessionView {
    /// Its id, to end it with `DELETE /api/v1/me/sessions/{id}`.
    pub id: Uuid,
    /// When it started (the login), Unix milliseconds.
    pub created_at_ms: u64,
    /// When its token was last refreshed, Unix milliseconds.
    pub last_active_at_ms: u64,
    /// When it ends unless refreshed, Unix milliseconds.
    pub expires_at_ms: u64,
    /// The address it was started from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Whether it is the session making this request.
    pub current: bool,
}

/// A password change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PasswordChange {
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub current_password: Text,
    /// The new password, at least 10 characters.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 10, max_length = 256)))]
    pub new_password: Text,
}

/// An account deletion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct AccountDeletion {
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
    /// Give up what is left when it is too little to withdraw (at most 0.0101 XMR, with
    /// nothing held or incoming): it goes to the platform, and the account closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forfeit_remainder: Option<bool>,
}

/// What anyone may see of a user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PublicProfile {
    /// Username.
    pub username: String,
    /// Member since, unix milliseconds.
    pub created_at_ms: u64,
    /// Trading record, from completed trades only.
    pub stats: ProfileStats,
}

/// A user's trading record: completed (released or resolved) trades only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct ProfileStats {
    /// Completed trades, as seller or buyer.
    pub completed_trades: u64,
    /// Their summed amounts, decimal XMR.
    pub volume: Piconero,
    /// Ratings received.
    pub feedback: FeedbackCountsView,
    /// Positive ratings in percent of positive and negative ones, rounded down (100 only
    /// without a single negative); neutral ratings do not count. Absent without ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_percent: Option<u8>,
    /// Median seconds from "paid" to "released" over the user's latest (at most 1000) releases
    /// as a seller; absent when they never released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_release_secs: Option<u64>,
}

/// Ratings received, by kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FeedbackCountsView {
    /// Positive.
    pub positive: u64,
    /// Neutral.
    pub neutral: u64,
    /// Negative.
    pub negative: u64,
}
