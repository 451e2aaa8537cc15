//! Requests and responses of `api_keys` (see the server's `api::api_keys`).

use crate::*;
use uuid::Uuid;

/// A key to create.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 64)))]
    pub name: Text,
    /// What the key may do: one or more scopes (a repeated one counts once).
    #[cfg_attr(feature = "openapi", oai(validator(min_items = 1)))]
    pub scopes: Vec<crate::Scope>,
    /// The current password: a key acts for the account until revoked, so making one is as
    /// sensitive as changing the password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// A new key, with its secret. The only time the key is shown: store it now. `Debug` leaves
/// the key out.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreatedApiKey {
    /// The key's id, for revoking it.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters, as shown in lists.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<crate::Scope>,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// The key, sent as `X-API-Key`. Only its hash is stored: it cannot be shown again.
    pub key: String,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<crate::Scope>,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// Last use, unix milliseconds, to the minute; absent if never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<u64>,
    /// Whether it was revoked (it no longer works).
    pub revoked: bool,
    /// When it was revoked, unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
}

/// The caller's keys, newest first: every key in use and the most recently revoked ones (at
/// most 50 in all).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKeyList {
    /// The keys.
    pub items: Vec<ApiKeyInfo>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("scopes", &self.scopes)
            .field("created_at_ms", &self.created_at_ms)
            .field("key", &"<hidden>")
            .finish()
    }
}
