//! Two-factor authentication of the caller's account: status, setup, confirmation, disabling.
//! Only a logged-in session may manage 2FA, never an API key.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::two_factor::SecondFactorProof;

pub use pupero_api::{
    RecoveryCodes, TotpConfirmRequest, TotpDisableRequest, TotpSetup, TotpStatus,
};

/// The 2FA resource.
pub struct TotpApi;

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
