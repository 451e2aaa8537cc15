//! Sessions: logging in, rotating the refresh token, logging out.
//!
//! A session is a row with a refresh token (stored as its hash) that is rotated on every
//! refresh; presenting a used one again ends the whole session. The short-lived access token
//! that goes with it is signed by whoever speaks the protocol (the HTTP server): the services
//! here return what it is signed for ([`SessionTokens`]).

use std::net::IpAddr;

use pupero_core::user::PASSWORD_MAX_BYTES;
use pupero_core::{Caller, UserId};
use uuid::Uuid;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::ratelimit::{ThrottleKey, audit_refusal};
use crate::security::{new_refresh_token, token_hash};
use crate::store::{Rotation, SessionInfo};
use crate::two_factor::SecondFactorProof;

/// The longest login identifier whose password is checked: an e-mail address at most.
const MAX_LOGIN_BYTES: usize = pupero_core::user::EMAIL_MAX_LEN;

/// A session that was started or refreshed: whom and which session the access token names,
/// and the new refresh token (shown once; only its hash is stored).
#[derive(Debug)]
pub struct SessionTokens {
    /// The user.
    pub user: UserId,
    /// The session.
    pub session: Uuid,
    /// The refresh token, single use.
    pub refresh_token: String,
}

impl Market {
    /// Logs in with `login` (username in any case, or e-mail address) and `password`, and the
    /// second factor when 2FA is on; starts a session from `client`.
    ///
    /// In this order: the per-address limit (429), then the account's lockout, checked before
    /// the password so that a locked account (or an unknown login) is refused the same way
    /// whatever the password (429); the password, hashed the same whether or not the account
    /// exists (401 `INVALID_CREDENTIALS`); a disabled account (403 `ACCOUNT_DISABLED`); the
    /// second factor (401 `TOTP_REQUIRED` / `INVALID_TOTP`). Failures are audited.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        proof: SecondFactorProof<'_>,
        client: Option<IpAddr>,
    ) -> Result<SessionTokens, Error> {
        if let Err(refused) = self.limits.check_login_ip(client) {
            return Err(audit_refusal(
                self,
                client,
                "login: too many attempts from this address",
                refused,
            )
            .await);
        }
        let client_ip = client.map(|ip| ip.to_string());
        let invalid = || Error::new(ErrorKind::InvalidCredentials, "wrong login or password");
        if password.len() > PASSWORD_MAX_BYTES || login.len() > MAX_LOGIN_BYTES {
            return Err(invalid());
        }
        // Before the password check: a locked account (or unknown login) is refused the same
        // way whatever the password, and this attempt counts as a failure until the password
        // proves right. One counter per account, whether it was named by username or e-mail.
        let user = self.store.user_by_login(login).await?;
        let throttle = match &user {
            Some(user) => ThrottleKey::account(user.id),
            None => ThrottleKey::login(login),
        };
        if let Err(refused) = self.limits.begin_attempt(&throttle).await {
            return Err(audit_refusal(
                self,
                client,
                "login: locked after failed attempts",
                refused,
            )
            .await);
        }
        let matched = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await
            .map_err(|e| Error::internal(&e))?;
        let known = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|_| matched) else {
            tracing::info!("failed login");
            let entry = AuditEntry {
                subject: known,
                ..AuditEntry::of(AuditEvent::LoginFailed, None)
            };
            self.audit(entry.from_ip(client_ip).detail("wrong login or password"))
                .await;
            return Err(invalid());
        };
        self.limits.attempt_succeeded(&throttle).await?;
        if user.disabled {
            return Err(Error::new(ErrorKind::AccountDisabled, "account disabled"));
        }
        // The code is asked for only once the password matched, so `TOTP_REQUIRED` tells the
        // caller the password was right. That is accepted practice (asking everyone for a code
        // would reveal who has 2FA instead); the password alone still opens nothing.
        if let Err(refusal) = self.check_second_factor(user.id, proof).await? {
            // As for a wrong password: the subject is known, the actor is not (yet).
            let entry = AuditEntry {
                subject: Some(user.id),
                ..AuditEntry::of(AuditEvent::LoginFailed, None)
            };
            self.audit(entry.from_ip(client_ip).detail(refusal.message()))
                .await;
            return Err(Error::new(refusal.login_kind(), refusal.message()));
        }
        let session = Uuid::new_v4();
        let refresh_token = new_refresh_token();
        let now = self.now();
        let expires = now.plus_secs(self.settings.refresh_token_ttl_secs);
        self.store
            .create_session(
                session,
                user.id,
                &token_hash(&refresh_token),
                client,
                now,
                expires,
            )
            .await?;
        tracing::info!(user_id = %user.id, "login");
        self.audit(AuditEntry::of(AuditEvent::LoginSucceeded, Some(user.id)).from_ip(client_ip))
            .await;
        Ok(SessionTokens {
            user: user.id,
            session,
            refresh_token,
        })
    }

    /// Exchanges `refresh_token` for a new one of the same session. Each works once: a used
    /// one presented again ends the whole session (it was stolen or replayed), audited; 401
    /// `SESSION_REVOKED`. 401 `INVALID_REFRESH_TOKEN` for one that is unknown, expired or of
    /// an ended session.
    pub async fn refresh_session(
        &self,
        refresh_token: &str,
        client: Option<IpAddr>,
    ) -> Result<SessionTokens, Error> {
        let next = new_refresh_token();
        match self
            .store
            .rotate_refresh_token(&token_hash(refresh_token), &token_hash(&next), self.now())
            .await?
        {
            Rotation::Rotated { session, user } => Ok(SessionTokens {
                user,
                session,
                refresh_token: next,
            }),
            Rotation::Reused => {
                tracing::warn!("refresh token reused; session revoked");
                self.audit(
                    AuditEntry::of(AuditEvent::RefreshTokenReused, None)
                        .from_ip(client.map(|ip| ip.to_string())),
                )
                .await;
                Err(Error::new(
                    ErrorKind::SessionRevoked,
                    "refresh token already used; session revoked",
                ))
            }
            Rotation::Invalid => Err(Error::new(
                ErrorKind::InvalidRefreshToken,
                "invalid refresh token",
            )),
        }
    }

    /// Ends `session` of `user`: its access and refresh tokens stop working at once.
    pub async fn logout(&self, user: UserId, session: Uuid) -> Result<(), Error> {
        self.store
            .revoke_session(session, "logout", self.now())
            .await?;
        self.audit(AuditEntry::of(AuditEvent::LoggedOut, Some(user)))
            .await;
        Ok(())
    }

    /// The live sessions of `user`, the most recent first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>, Error> {
        Ok(self.store.live_sessions(user, self.now()).await?)
    }

    /// Ends one live session of `user` (any of theirs, the current one included), asked for
    /// from `client`; 404 `NOT_FOUND` for a session that is not a live one of theirs, so that
    /// another user's session ids cannot be probed.
    pub async fn end_session(
        &self,
        user: UserId,
        session: Uuid,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if !self
            .store
            .revoke_own_session(user, session, "ended_by_owner", self.now())
            .await?
        {
            return Err(Error::not_found("no such session"));
        }
        self.audit(
            AuditEntry::of(AuditEvent::SessionsRevoked, Some(user))
                .from_ip(client.map(|ip| ip.to_string()))
                .detail(format!("one: session={session}")),
        )
        .await;
        Ok(())
    }

    /// Ends every session of `user` and revokes every API key, asked for from `client`.
    pub async fn logout_everywhere(
        &self,
        user: UserId,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        let (sessions, keys) = self
            .store
            .end_access(user, None, "logout_all", self.now())
            .await?;
        self.audit(
            AuditEntry::of(AuditEvent::SessionsRevoked, Some(user))
                .from_ip(client.map(|ip| ip.to_string()))
                .detail(format!("everywhere: sessions={sessions} api_keys={keys}")),
        )
        .await;
        Ok(())
    }
}

impl Market {
    /// The caller of `session` of `user`, checked on every request: an ended or unknown
    /// session is `UNAUTHORIZED`/`SESSION_REVOKED`, a disabled account `ACCOUNT_DISABLED`, so
    /// that a logout, a revocation or a disabled account stop an access token at once.
    pub async fn session_caller(&self, session: Uuid, user: UserId) -> Result<Caller, Error> {
        let state = self
            .store
            .session_state(session, user, self.now())
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Unauthorized, "invalid access token"))?;
        if state.disabled {
            return Err(Error::new(ErrorKind::AccountDisabled, "account disabled"));
        }
        if state.ended {
            return Err(Error::new(
                ErrorKind::SessionRevoked,
                "session ended; log in again",
            ));
        }
        Ok(Caller::session(user, state.role))
    }
}
