//! Two-factor authentication of the caller's account: status, setup, confirmation, disabling.
//! Only a logged-in session may manage 2FA, never an API key.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::TotpCode;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_ip;
use crate::error::{ApiError, codes};
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::crypto::Purpose;
use pupero_market::store::{SetupOutcome, UserRow};
use pupero_market::two_factor::SecondFactorProof;
use pupero_market::two_factor::{code_step, new_recovery_codes, new_secret, recovery_code_hash};

/// The 2FA resource.
pub struct TotpApi {
    pub(crate) state: Arc<AppState>,
}

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
pub struct TotpDisableRequest {
    /// The account's password.
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
    async fn status(&self, auth: SessionAuth) -> Result<Json<TotpStatus>, ApiError> {
        auth.0.require_session()?;
        let user = auth.0.user;
        let enabled = self
            .state
            .market
            .store
            .totp(user)
            .await?
            .is_some_and(|row| row.enabled);
        let recovery_codes_left = if enabled {
            self.state
                .market
                .store
                .totp_recovery_codes_left(user)
                .await?
        } else {
            0
        };
        Ok(Json(TotpStatus {
            enabled,
            recovery_codes_left,
        }))
    }

    /// Starts 2FA setup with a new secret; replaces a setup not yet confirmed. Refused with 409
    /// `TOTP_ALREADY_ENABLED` while 2FA is on.
    #[oai(path = "/setup", method = "post", operation_id = "totp_setup")]
    async fn setup(&self, auth: SessionAuth) -> Result<Json<TotpSetup>, ApiError> {
        auth.0.require_session()?;
        let state = &self.state;
        let user = self.user(&auth).await?;
        if state
            .market
            .store
            .totp(user.id)
            .await?
            .is_some_and(|r| r.enabled)
        {
            return Err(already_enabled());
        }
        let new = new_secret(&user.username).map_err(|e| ApiError::internal(&e))?;
        let sealed = state
            .market
            .data_cipher
            .seal(Purpose::TotpSecret, user.id, &new.bytes);
        match state
            .market
            .store
            .totp_start_setup(user.id, &sealed, state.now())
            .await?
        {
            SetupOutcome::Started => Ok(Json(TotpSetup {
                secret: new.base32,
                otpauth_uri: new.otpauth_uri,
                qr_svg: new.qr_svg,
            })),
            SetupOutcome::AlreadyEnabled => Err(already_enabled()),
        }
    }

    /// Turns 2FA on with a code of the secret from setup, and returns ten one-time recovery
    /// codes (shown only now). 403 `INVALID_TOTP` for a wrong code; 409 `TOTP_NOT_ENABLED`
    /// without a setup.
    #[oai(path = "/confirm", method = "post", operation_id = "totp_confirm")]
    async fn confirm(
        &self,
        req: &Request,
        auth: SessionAuth,
        body: Json<TotpConfirmRequest>,
    ) -> Result<Json<RecoveryCodes>, ApiError> {
        auth.0.require_session()?;
        let state = &self.state;
        let user = auth.0.user;
        state.market.verify_password(user, &body.password).await?;
        let Some(row) = state.market.store.totp(user).await? else {
            return Err(ApiError::conflict(
                codes::TOTP_NOT_ENABLED,
                "start 2FA setup first",
            ));
        };
        if row.enabled {
            return Err(already_enabled());
        }
        let invalid = || ApiError::forbidden_code(codes::INVALID_TOTP, "wrong or expired 2FA code");
        let code = TotpCode::parse(&body.code).map_err(|_| invalid())?;
        let secret = state
            .market
            .data_cipher
            .open(Purpose::TotpSecret, user, &row.secret_enc)
            .map_err(|e| ApiError::internal(&e))?;
        let step =
            code_step(&secret, &code, state.now().as_unix_ms() / 1000).ok_or_else(invalid)?;
        let recovery_codes = new_recovery_codes();
        let hashes = recovery_codes
            .iter()
            .map(|c| recovery_code_hash(user, c))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                ApiError::internal(&std::io::Error::other("a new recovery code does not parse"))
            })?;
        // Enabled only if the secret is still the one the code was checked against: a setup
        // started in between replaced it.
        if !state
            .market
            .store
            .totp_enable(user, &row.secret_enc, step, &hashes, state.now())
            .await?
        {
            return Err(invalid());
        }
        tracing::info!(user_id = %user, "2FA enabled");
        // Sessions opened without the second factor end; this one goes on.
        let session = auth.0.require_session()?;
        state
            .market
            .store
            .revoke_sessions(user, Some(session), "2fa_changed", state.now())
            .await?;
        state
            .market
            .audit(AuditEntry::of(AuditEvent::TotpEnabled, Some(user)).from_ip(client_ip(req)))
            .await;
        Ok(Json(RecoveryCodes { recovery_codes }))
    }

    /// Turns 2FA off. Needs the password and a current code (or a recovery code): a stolen
    /// session alone cannot remove the second factor. 403 `INVALID_CREDENTIALS`,
    /// `TOTP_REQUIRED` or `INVALID_TOTP`; 409 `TOTP_NOT_ENABLED`.
    #[oai(path = "/disable", method = "post", operation_id = "totp_disable")]
    async fn disable(
        &self,
        req: &Request,
        auth: SessionAuth,
        body: Json<TotpDisableRequest>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_session()?;
        let state = &self.state;
        let user = self.user(&auth).await?;
        if !state
            .market
            .store
            .totp(user.id)
            .await?
            .is_some_and(|r| r.enabled)
        {
            return Err(ApiError::conflict(codes::TOTP_NOT_ENABLED, "2FA is off"));
        }
        state
            .market
            .verify_password(user.id, &body.password)
            .await?;
        state
            .market
            .verify_second_factor(
                user.id,
                SecondFactorProof::new(body.code.as_deref(), body.recovery_code.as_deref()),
            )
            .await?;
        state.market.store.totp_disable(user.id).await?;
        // Whoever else held a session got in under the old rules; they log in again.
        let session = auth.0.require_session()?;
        state
            .market
            .store
            .revoke_sessions(user.id, Some(session), "2fa_changed", state.now())
            .await?;
        tracing::info!(user_id = %user.id, "2FA disabled");
        state
            .market
            .audit(AuditEntry::of(AuditEvent::TotpDisabled, Some(user.id)).from_ip(client_ip(req)))
            .await;
        Ok(NoContent::Done)
    }
}

impl TotpApi {
    async fn user(&self, auth: &SessionAuth) -> Result<UserRow, ApiError> {
        self.state
            .market
            .store
            .user_by_id(auth.0.user)
            .await?
            .ok_or_else(|| ApiError::not_found("no such user"))
    }
}

fn already_enabled() -> ApiError {
    ApiError::conflict(
        codes::TOTP_ALREADY_ENABLED,
        "2FA is already on; disable it first",
    )
}
