//! Requests and responses of `totp` (see the server's `api::totp`).

use crate::*;

/// Whether 2FA is on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TotpStatus {
    /// Logins (and sensitive actions) need a code from the authenticator app.
    pub enabled: bool,
    /// Recovery codes not used yet (0 when 2FA is off).
    pub recovery_codes_left: u32,
}

/// A 2FA setup in progress: add the secret to an authenticator app, then confirm with a code.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TotpSetup {
    /// The secret in base32, to type in by hand.
    pub secret: String,
    /// `otpauth://totp/...` URI with the secret, issuer `Pupero` and the username.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG document).
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TotpConfirmRequest {
    /// The account's password: a stolen session alone cannot turn 2FA on and lock the owner out.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// Six digits.
    pub code: Text,
}

/// One-time recovery codes. Shown once: only their hashes are stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RecoveryCodes {
    /// Each logs in once instead of a 2FA code.
    pub recovery_codes: Vec<String>,
}

/// Turning 2FA off needs the password and a current code (or a recovery code).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct TotpDisableRequest {
    /// The account's password.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 256)))]
    pub password: Text,
    /// Six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Text>,
    /// A recovery code, instead of `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}
