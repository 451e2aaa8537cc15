//! Registration, login, token refresh, logout, and getting back in: password-reset links and
//! e-mail verification.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_core::Password;

use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::accounts::Registration;
use pupero_market::sessions::SessionTokens;
use pupero_market::two_factor::SecondFactorProof;

pub use pupero_api::{
    EmailVerification, LoginRequest, PasswordResetConfirmation, PasswordResetRequest,
    RefreshRequest, RegisterRequest, Registered, Tokens,
};

/// The auth resource.
pub struct AuthApi;

/// `201 Created`.
#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account exists; log in next.
    #[oai(status = 201)]
    Created(Json<Registered>),
}

/// `204 No Content`.
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// `202 Accepted`.
#[derive(ApiResponse)]
pub enum Accepted {
    /// Taken; what follows comes by mail.
    #[oai(status = 202)]
    Accepted,
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Creates an account. Public. Registrations per client address are limited: past the
    /// limit, 429 `RATE_LIMITED` with `Retry-After` (seconds).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RegisterRequest>,
    ) -> Result<RegisterResponse, ApiError> {
        let registration = Registration {
            username: body.username.clone(),
            email: body.email.clone(),
            password: Password::parse(&body.password)
                .map_err(|e| ApiError::validation(e.to_string()))?,
        };
        let username = registration.username.to_string();
        let user = app
            .0
            .market
            .register(registration, client_addr(req))
            .await?;
        Ok(RegisterResponse::Created(Json(Registered {
            user_id: *user.as_uuid(),
            username,
        })))
    }

    /// Logs in with username or e-mail and password; starts a session. Public. Attempts per
    /// client address are limited, and wrong passwords lock the login for a while, longer each
    /// time (whether or not the account exists): 429 `RATE_LIMITED` with `Retry-After`
    /// (seconds), even for the right password until the lock is over.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        let started = app
            .0
            .market
            .login(
                &body.login,
                &body.password,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
                client_addr(req),
            )
            .await?;
        self.tokens(&app, started)
    }

    /// Asks for a password-reset link. Public. When the username or e-mail address names an
    /// account with a verified e-mail address, a link that works once, for 30 minutes, goes
    /// to that address (asking again replaces it). The answer is 202 whether or not a link
    /// goes out, so it tells nobody whether an account exists. Requests per client address
    /// are limited (429 `RATE_LIMITED`, `Retry-After` in seconds); past the limit per account,
    /// no further link is sent.
    #[oai(
        path = "/password-reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn request_password_reset(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PasswordResetRequest>,
    ) -> Result<Accepted, ApiError> {
        app.0
            .market
            .request_password_reset(&body.login, client_addr(req))
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Sets a new password with the token of a reset link. Public. With 2FA on, the
    /// authenticator app's code or a recovery code is needed as well (403 `TOTP_REQUIRED` or
    /// `INVALID_TOTP`; the link stays good for another try). Every session ends and every API
    /// key is revoked: log in with the new password. 400 `INVALID_TOKEN` for a link that is
    /// unknown, used, replaced by a newer one or expired, or was sent to an address the
    /// account no longer has. Requests per client address are limited (429 `RATE_LIMITED`).
    #[oai(
        path = "/password-reset/confirm",
        method = "post",
        operation_id = "confirm_password_reset"
    )]
    async fn confirm_password_reset(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PasswordResetConfirmation>,
    ) -> Result<NoContent, ApiError> {
        app.0
            .market
            .reset_password_by_mail(
                &body.token,
                &body.new_password,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
                client_addr(req),
            )
            .await?;
        Ok(NoContent::Done)
    }

    /// Verifies an e-mail address with the token of the link sent to it. Public. 400
    /// `INVALID_TOKEN` for a link that is unknown, used, replaced by a newer one or expired,
    /// or was sent to an address the account no longer has. Requests per client address are
    /// limited (429 `RATE_LIMITED`).
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<EmailVerification>,
    ) -> Result<NoContent, ApiError> {
        app.0
            .market
            .verify_email(&body.token, client_addr(req))
            .await?;
        Ok(NoContent::Done)
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once: presenting a
    /// used one again ends the whole session (it was stolen or replayed). Public.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RefreshRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        let refreshed = app
            .0
            .market
            .refresh_session(&body.refresh_token, client_addr(req))
            .await?;
        self.tokens(&app, refreshed)
    }

    /// Ends the caller's session: its access and refresh tokens stop working at once.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<NoContent, ApiError> {
        let principal = auth.0;
        let session = principal.require_session()?;
        app.0.market.logout(principal.user, session).await?;
        Ok(NoContent::Done)
    }

    /// Logs out everywhere: ends every session of the account, this one included, and
    /// revokes every API key. For when a device or a key may be in someone else's hands.
    #[oai(
        path = "/logout-all",
        method = "post",
        operation_id = "logout_everywhere"
    )]
    async fn logout_all(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
    ) -> Result<NoContent, ApiError> {
        app.0
            .market
            .logout_everywhere(auth.0.user, client_addr(req))
            .await?;
        Ok(NoContent::Done)
    }
}

impl AuthApi {
    /// The tokens of a session that was started or refreshed: a new access token signed for
    /// it, and its refresh token.
    fn tokens(
        &self,
        app: &Data<&Arc<AppState>>,
        session: SessionTokens,
    ) -> Result<Json<Tokens>, ApiError> {
        let (access_token, expires_in) = app
            .0
            .tokens
            .issue(session.user, session.session, app.0.now())
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(Tokens {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in,
            refresh_token: session.refresh_token,
        }))
    }
}
