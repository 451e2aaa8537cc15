//! Requests and responses of `auth` (see the server's `api::auth`).

use crate::*;
use pupero_core::{EmailAddress, Username};
use uuid::Uuid;

/// A registration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct RegisterRequest {
    /// 3–32 letters, digits, `_`, `-`, `.`; unique regardless of case.
    pub username: Username,
    /// Optional; unique; lets you log in with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// At least 10 characters.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 10, max_length = 256)))]
    pub password: Text,
}

/// A new account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Registered {
    /// The new user's id.
    pub user_id: Uuid,
    /// The username as registered.
    pub username: String,
}

/// A login.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct LoginRequest {
    /// Username (any case) or e-mail address.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 254)))]
    pub login: Text,
    /// The password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// With 2FA on: the six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// With 2FA on: a one-time recovery code, instead of `totp_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// A refresh.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. Each is accepted once.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 512)))]
    pub refresh_token: Text,
}

/// Tokens of a session. `Debug` leaves the tokens out.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Tokens {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque token for `POST /api/v1/auth/refresh`; single use, rotated on every refresh.
    pub refresh_token: String,
}

/// A request for a password-reset link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PasswordResetRequest {
    /// Username (any case) or e-mail address of the account.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 254)))]
    pub login: Text,
}

/// A new password, set with the token of a reset link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct PasswordResetConfirmation {
    /// The token from the link in the mail (`…/reset?token=…`).
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 512)))]
    pub token: Text,
    /// The new password, at least 10 characters.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 10, max_length = 256)))]
    pub new_password: Text,
    /// With 2FA on: the six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// With 2FA on: a one-time recovery code, instead of `totp_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// An e-mail address verified by the link sent to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct EmailVerification {
    /// The token from the link in the mail (`…/verify-email?token=…`).
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 512)))]
    pub token: Text,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<hidden>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"<hidden>")
            .finish()
    }
}
