//! Requests and responses of `matrix` (see the server's `api::matrix`): linking the caller's
//! Matrix account to the trade-chat bridge.

use crate::*;

/// The Matrix account to link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MatrixLinkRequest {
    /// The account's user id, `@name:server.org`.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 3, max_length = 255)))]
    pub matrix_user_id: Text,
}

/// The caller's Matrix account, linked or waiting for its code.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct MatrixLink {
    /// The account's user id.
    pub matrix_user_id: String,
    /// Whether the account sent the code back: only then is it invited to trade rooms and
    /// are its messages taken in.
    pub linked: bool,
    /// Until when the code may be sent (unix milliseconds), while not linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// The bridge's Matrix user, which invites the account to a room where it sends the code.
    pub bridge_user: String,
    /// Trade rooms are not end-to-end encrypted: moderators read a disputed trade's chat.
    pub notice: String,
}

/// A link started: the code to send from the Matrix account. Shown once.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MatrixLinkStarted {
    /// Send this code from the Matrix account, in the room the bridge's user invites it to.
    pub code: String,
    /// The link, waiting for the code.
    pub link: MatrixLink,
}
