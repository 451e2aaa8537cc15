//! Two-factor authentication of the caller's account: status, setup, confirmation, disabling.
//! Only a logged-in session may manage 2FA, never an API key.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::two_factor::SecondFactorProof;

/// The 2FA resource.
pub struct TotpApi;

/// Whether 2FA is on.
#[derive(Debug, Object)]
pub struct TotpStatus {
    /// Logins (and sensitive actions) need a code from the authenticator app.
    pub enabled: bool,
    /// Recovery codes not used yet (0 when 2FA is off).
    pub recovery_codes_left: u32,
}

/// A 2FA setup in progress: add the secret to an authenticator app, then confirm with a code.
#[derive(Debug, Object)]
pub struct TotpSetup {
    /// The secret in base32, to type in by hand.
    pub secret: String,
    /// `otpauth://totp/...` URI with the secret, issuer `Pupero` and the username.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG document).
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Debug, Object)]
pub struct TotpConfirmRequest {
    /// The account's password: a stolen session alone cannot turn 2FA on and lock the owner out.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// Six digits.
    pub code: Text,
}

/// One-time recovery codes. Shown once: only their hashes are stored.
#[derive(Debug, Object)]
pub struct RecoveryCodes {
    /// Each logs in once instead of a 2FA code.
    pub recovery_codes: Vec<String>,
}

/// Turning 2FA off needs the password and a current code (or a recovery code).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TotpDisableRequest {
    /// The account's password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// Six digits from the authenticator app.
    pub code: Option<Text>,
    /// A recovery code, instead of `code`.
    pub recovery_code: Option<Text>,
}

#[OpenApi(prefix_path = "/api/v1/auth/2fa", tag = "Tag::Auth")]
impl TotpApi {
    /// Whether 2FA is on for the caller.
    #[oai(path = "/", method = "get", operation_id = "totp_status")]
    async fn status(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<TotpStatus>, ApiError> {
        auth.0.require_session()?;
        let status = app.0.market.two_factor_status(auth.0.user).await?;
        Ok(Json(TotpStatus {
            enabled: status.enabled,
            recovery_codes_left: status.recovery_codes_left,
        }))
    }

    /// Starts 2FA setup with a new secret; replaces a setup not yet confirmed. Refused with 409
    /// `TOTP_ALREADY_ENABLED` while 2FA is on.
    #[oai(path = "/setup", method = "post", operation_id = "totp_setup")]
    async fn setup(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<TotpSetup>, ApiError> {
        auth.0.require_session()?;
        let new = app.0.market.start_two_factor_setup(auth.0.user).await?;
        Ok(Json(TotpSetup {
            secret: new.base32,
            otpauth_uri: new.otpauth_uri,
            qr_svg: new.qr_svg,
        }))
    }

    /// Turns 2FA on with a code of the secret from setup, and returns ten one-time recovery
    /// codes (shown only now). 403 `INVALID_TOTP` for a wrong code; 409 `TOTP_NOT_ENABLED`
    /// without a setup.
    #[oai(path = "/confirm", method = "post", operation_id = "totp_confirm")]
    async fn confirm(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<TotpConfirmRequest>,
    ) -> Result<Json<RecoveryCodes>, ApiError> {
        let session = auth.0.require_session()?;
        let recovery_codes = app
            .0
            .market
            .enable_two_factor(
                auth.0.user,
                session,
                &body.password,
                &body.code,
                client_addr(req),
            )
            .await?;
        Ok(Json(RecoveryCodes { recovery_codes }))
    }

    /// Turns 2FA off. Needs the password and a current code (or a recovery code): a stolen
    /// session alone cannot remove the second factor. 403 `INVALID_CREDENTIALS`,
    /// `TOTP_REQUIRED` or `INVALID_TOTP`; 409 `TOTP_NOT_ENABLED`.
    #[oai(path = "/disable", method = "post", operation_id = "totp_disable")]
    async fn disable(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<TotpDisableRequest>,
    ) -> Result<NoContent, ApiError> {
        let session = auth.0.require_session()?;
        app.0
            .market
            .disable_two_factor(
                auth.0.user,
                session,
                &body.password,
                SecondFactorProof::new(body.code.as_deref(), body.recovery_code.as_deref()),
                client_addr(req),
            )
            .await?;
        Ok(NoContent::Done)
    }
}
