//! Registration, login, token refresh, logout, and getting back in: password-reset links and
//! e-mail verification.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use pupero_core::user::PASSWORD_MAX_BYTES;
use pupero_core::{EmailAddress, Password, UserId, Username};
use uuid::Uuid;

use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::audit_refusal;
use crate::client::client_addr;
use crate::client::client_ip;
use crate::error::{ApiError, codes};
use pupero_market::accounts::Registration;
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::ratelimit::ThrottleKey;
use pupero_market::security::{new_refresh_token, token_hash};
use pupero_market::store::Rotation;
use pupero_market::two_factor::SecondFactorProof;

/// The auth resource.
pub struct AuthApi {
    pub(crate) state: Arc<AppState>,
}

/// A registration.
#[derive(Debug, Object)]
pub struct RegisterRequest {
    /// 3–32 letters, digits, `_`, `-`, `.`; unique regardless of case.
    pub username: Text,
    /// Optional; unique; lets you log in with it.
    pub email: Option<Text>,
    /// At least 10 characters.
    pub password: Text,
}

/// A new account.
#[derive(Debug, Object)]
pub struct Registered {
    /// The new user's id.
    pub user_id: Uuid,
    /// The username as registered.
    pub username: String,
}

/// `201 Created`.
#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account exists; log in next.
    #[oai(status = 201)]
    Created(Json<Registered>),
}

/// A login.
#[derive(Debug, Object)]
pub struct LoginRequest {
    /// Username (any case) or e-mail address.
    pub login: Text,
    /// The password.
    pub password: Text,
    /// With 2FA on: the six digits from the authenticator app.
    pub totp_code: Option<Text>,
    /// With 2FA on: a one-time recovery code, instead of `totp_code`.
    pub recovery_code: Option<Text>,
}

/// A refresh.
#[derive(Debug, Object)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. Each is accepted once.
    pub refresh_token: Text,
}

/// Tokens of a session.
#[derive(Debug, Object)]
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

/// A request for a password-reset link.
#[derive(Debug, Object)]
pub struct PasswordResetRequest {
    /// Username (any case) or e-mail address of the account.
    pub login: Text,
}

/// A new password, set with the token of a reset link.
#[derive(Debug, Object)]
pub struct PasswordResetConfirmation {
    /// The token from the link in the mail (`…/reset?token=…`).
    pub token: Text,
    /// The new password, at least 10 characters.
    pub new_password: Text,
    /// With 2FA on: the six digits from the authenticator app.
    pub totp_code: Option<Text>,
    /// With 2FA on: a one-time recovery code, instead of `totp_code`.
    pub recovery_code: Option<Text>,
}

/// An e-mail address verified by the link sent to it.
#[derive(Debug, Object)]
pub struct EmailVerification {
    /// The token from the link in the mail (`…/verify-email?token=…`).
    pub token: Text,
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Creates an account. Public. Registrations per client address are limited: past the
    /// limit, 429 `RATE_LIMITED` with `Retry-After` (seconds).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        req: &Request,
        body: Json<RegisterRequest>,
    ) -> Result<RegisterResponse, ApiError> {
        let registration = Registration {
            username: Username::parse(&body.username)
                .map_err(|e| ApiError::validation(e.to_string()))?,
            email: body
                .email
                .as_deref()
                .map(EmailAddress::parse)
                .transpose()
                .map_err(|e| ApiError::validation(e.to_string()))?,
            password: Password::parse(&body.password)
                .map_err(|e| ApiError::validation(e.to_string()))?,
        };
        let username = registration.username.to_string();
        let user = self
            .state
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
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        let state = &self.state;
        if let Err(refused) = state.market.limits.check_login_ip(client_addr(req)) {
            return Err(audit_refusal(
                state,
                req,
                "login: too many attempts from this address",
                refused,
            )
            .await);
        }
        let invalid =
            || ApiError::unauthorized(codes::INVALID_CREDENTIALS, "wrong login or password");
        if body.password.len() > PASSWORD_MAX_BYTES || body.login.len() > 254 {
            return Err(invalid());
        }
        // Before the password check: a locked account (or unknown login) is refused the same
        // way whatever the password, and this attempt counts as a failure until the password
        // proves right. One counter per account, whether it was named by username or e-mail.
        let user = state.market.store.user_by_login(&body.login).await?;
        let throttle = match &user {
            Some(user) => ThrottleKey::account(user.id),
            None => ThrottleKey::login(&body.login),
        };
        if let Err(refused) = state.market.limits.begin_attempt(&throttle).await {
            return Err(
                audit_refusal(state, req, "login: locked after failed attempts", refused).await,
            );
        }
        let matched = state
            .market
            .hasher
            .verify(
                &body.password,
                user.as_ref().map(|u| u.password_hash.as_str()),
            )
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let known = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|_| matched) else {
            tracing::info!("failed login");
            let entry = AuditEntry {
                subject: known,
                ..AuditEntry::of(AuditEvent::LoginFailed, None)
            };
            state
                .market
                .audit(
                    entry
                        .from_ip(client_ip(req))
                        .detail("wrong login or password"),
                )
                .await;
            return Err(invalid());
        };
        state.market.limits.attempt_succeeded(&throttle).await?;
        if user.disabled {
            return Err(ApiError::forbidden_code(
                codes::ACCOUNT_DISABLED,
                "account disabled",
            ));
        }
        // The code is asked for only once the password matched, so `TOTP_REQUIRED` tells the
        // caller the password was right. That is accepted practice (asking everyone for a code
        // would reveal who has 2FA instead); the password alone still opens nothing.
        if let Err(refusal) = state
            .market
            .check_second_factor(
                user.id,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
            )
            .await?
        {
            // As for a wrong password: the subject is known, the actor is not (yet).
            let entry = AuditEntry {
                subject: Some(user.id),
                ..AuditEntry::of(AuditEvent::LoginFailed, None)
            };
            state
                .market
                .audit(entry.from_ip(client_ip(req)).detail(refusal.message()))
                .await;
            return Err(pupero_market::Error::new(refusal.login_kind(), refusal.message()).into());
        }
        let session = Uuid::new_v4();
        let refresh = new_refresh_token();
        let now = state.now();
        let expires = now.plus_secs(state.settings.market.refresh_token_ttl_secs);
        state
            .market
            .store
            .create_session(session, user.id, &token_hash(&refresh), now, expires)
            .await?;
        tracing::info!(user_id = %user.id, "login");
        state
            .market
            .audit(
                AuditEntry::of(AuditEvent::LoginSucceeded, Some(user.id)).from_ip(client_ip(req)),
            )
            .await;
        self.tokens(user.id, session, refresh)
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
        req: &Request,
        body: Json<PasswordResetRequest>,
    ) -> Result<Accepted, ApiError> {
        let state = &self.state;
        if let Err(refused) = state.market.limits.check_recovery_ip(client_addr(req)) {
            return Err(audit_refusal(state, req, "password reset: too many", refused).await);
        }
        state
            .market
            .request_password_reset(&body.login, client_ip(req))
            .await;
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
        req: &Request,
        body: Json<PasswordResetConfirmation>,
    ) -> Result<NoContent, ApiError> {
        let state = &self.state;
        if let Err(refused) = state.market.limits.check_recovery_ip(client_addr(req)) {
            return Err(audit_refusal(state, req, "password reset: too many", refused).await);
        }
        state
            .market
            .reset_password_by_mail(
                &body.token,
                &body.new_password,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
                client_ip(req),
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
        req: &Request,
        body: Json<EmailVerification>,
    ) -> Result<NoContent, ApiError> {
        let state = &self.state;
        if let Err(refused) = state.market.limits.check_recovery_ip(client_addr(req)) {
            return Err(audit_refusal(state, req, "e-mail verification: too many", refused).await);
        }
        state
            .market
            .verify_email(&body.token, client_ip(req))
            .await?;
        Ok(NoContent::Done)
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once: presenting a
    /// used one again ends the whole session (it was stolen or replayed). Public.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        req: &Request,
        body: Json<RefreshRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        let state = &self.state;
        let next = new_refresh_token();
        match state
            .market
            .store
            .rotate_refresh_token(
                &token_hash(&body.refresh_token),
                &token_hash(&next),
                state.now(),
            )
            .await?
        {
            Rotation::Rotated { session, user } => self.tokens(user, session, next),
            Rotation::Reused => {
                tracing::warn!("refresh token reused; session revoked");
                state
                    .market
                    .audit(
                        AuditEntry::of(AuditEvent::RefreshTokenReused, None)
                            .from_ip(client_ip(req)),
                    )
                    .await;
                Err(ApiError::unauthorized(
                    codes::SESSION_REVOKED,
                    "refresh token already used; session revoked",
                ))
            }
            Rotation::Invalid => Err(ApiError::unauthorized(
                codes::INVALID_REFRESH_TOKEN,
                "invalid refresh token",
            )),
        }
    }

    /// Ends the caller's session: its access and refresh tokens stop working at once.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, auth: SessionAuth) -> Result<NoContent, ApiError> {
        let principal = auth.0;
        let session = principal.require_session()?;
        self.state
            .market
            .store
            .revoke_session(session, "logout", self.state.now())
            .await?;
        self.state
            .market
            .audit(AuditEntry::of(AuditEvent::LoggedOut, Some(principal.user)))
            .await;
        Ok(NoContent::Done)
    }

    /// Logs out everywhere: ends every session of the account, this one included, and
    /// revokes every API key. For when a device or a key may be in someone else's hands.
    #[oai(
        path = "/logout-all",
        method = "post",
        operation_id = "logout_everywhere"
    )]
    async fn logout_all(&self, req: &Request, auth: SessionAuth) -> Result<NoContent, ApiError> {
        let principal = auth.0;
        let (sessions, keys) = self
            .state
            .market
            .store
            .end_access(principal.user, None, "logout_all", self.state.now())
            .await?;
        self.state
            .market
            .audit(
                AuditEntry::of(AuditEvent::SessionsRevoked, Some(principal.user))
                    .from_ip(client_ip(req))
                    .detail(format!("everywhere: sessions={sessions} api_keys={keys}")),
            )
            .await;
        Ok(NoContent::Done)
    }
}

impl AuthApi {
    fn tokens(
        &self,
        user: UserId,
        session: Uuid,
        refresh_token: String,
    ) -> Result<Json<Tokens>, ApiError> {
        let (access_token, expires_in) = self
            .state
            .tokens
            .issue(user, session, self.state.now())
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(Tokens {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in,
            refresh_token,
        }))
    }
}
