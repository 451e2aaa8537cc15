//! Self-service account management: e-mail, password, deletion; and public profiles.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;

use super::auth::{Accepted, NoContent};
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::accounts::AccountDeletion as Deletion;
use pupero_market::two_factor::SecondFactorProof;

pub use pupero_api::{
    AccountDeletion, EmailChange, FeedbackCountsView, PasswordChange, ProfileStats, PublicProfile,
    SessionView,
};

/// The profile resource.
pub struct ProfileApi;

// The documentation above names the limit.
const _: () = assert!(pupero_core::withdrawal::MAX_FORFEIT.as_u64() == 10_100_000_000);

// The documentation above names the limit.
const _: () = assert!(pupero_core::limits::MAX_RELEASE_TIME_SAMPLES == 1_000);

#[OpenApi(tag = "Tag::Account")]
impl ProfileApi {
    /// Sets or removes the caller's e-mail address. Needs the password (and the 2FA code when
    /// 2FA is on). Changes per account and per client address are limited (429
    /// `RATE_LIMITED`), and an address that belongs to another account (409 `EMAIL_TAKEN`) is
    /// audited. A new address is unverified until the link sent to it is opened; a verified
    /// old one is told of the change, and links sent to it stop working.
    #[oai(path = "/api/v1/me/email", method = "put", operation_id = "set_email")]
    async fn set_email(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<EmailChange>,
    ) -> Result<NoContent, ApiError> {
        let email = body.email.clone();
        app.0
            .market
            .change_email(
                auth.0.user,
                email.as_ref(),
                &body.password,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
                client_addr(req),
            )
            .await?;
        Ok(NoContent::Done)
    }

    /// Changes the caller's password; every other session of the account ends and every API
    /// key is revoked (whoever changes a password may be locking someone out), and a verified
    /// address is told.
    #[oai(
        path = "/api/v1/me/password",
        method = "post",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<PasswordChange>,
    ) -> Result<NoContent, ApiError> {
        let session = auth.0.require_session()?;
        app.0
            .market
            .change_password(
                auth.0.user,
                session,
                &body.current_password,
                &body.new_password,
                client_addr(req),
            )
            .await?;
        Ok(NoContent::Done)
    }

    /// The caller's live sessions, the most recently started first (at most 100): where and
    /// when each began and was last used, and which one makes this request. Sessions only:
    /// an API key cannot see them.
    #[oai(
        path = "/api/v1/me/sessions",
        method = "get",
        operation_id = "my_sessions"
    )]
    async fn sessions(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<Vec<SessionView>>, ApiError> {
        let current = auth.0.require_session()?;
        let sessions = app.0.market.sessions_of(auth.0.user).await?;
        Ok(Json(
            sessions
                .into_iter()
                .map(|s| SessionView {
                    id: s.id,
                    created_at_ms: s.created.as_unix_ms(),
                    last_active_at_ms: s.last_active.as_unix_ms(),
                    expires_at_ms: s.expires.as_unix_ms(),
                    client_ip: s.client_ip,
                    current: s.id == current,
                })
                .collect(),
        ))
    }

    /// Ends one of the caller's sessions at once: its access and refresh tokens stop working.
    /// Ending the current one logs out. 404 `NOT_FOUND` for an id that is not a live session
    /// of the caller's. Audited.
    #[oai(
        path = "/api/v1/me/sessions/:id",
        method = "delete",
        operation_id = "end_session"
    )]
    async fn end_session(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_session()?;
        app.0
            .market
            .end_session(auth.0.user, id.0, client_addr(req))
            .await?;
        Ok(NoContent::Done)
    }

    /// Sends a new verification link to the caller's e-mail address (one also goes out at
    /// registration and after every change); earlier links stop working. 409 `NO_EMAIL`
    /// without an address, `EMAIL_ALREADY_VERIFIED` when it is verified. Links per account
    /// and requests per client address are limited (429 `RATE_LIMITED`).
    #[oai(
        path = "/api/v1/me/email/verification",
        method = "post",
        operation_id = "send_email_verification"
    )]
    async fn send_email_verification(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
    ) -> Result<Accepted, ApiError> {
        app.0
            .market
            .resend_email_verification(auth.0.user, client_addr(req))
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Deletes the caller's account. Needs the password (and the 2FA code when 2FA is on), and
    /// is refused while the account holds or awaits any money.
    #[oai(
        path = "/api/v1/me/delete",
        method = "post",
        operation_id = "delete_account"
    )]
    async fn delete(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<AccountDeletion>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_session()?;
        let deletion = Deletion {
            password: &body.password,
            proof: SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
            forfeit_remainder: body.forfeit_remainder == Some(true),
        };
        app.0
            .market
            .delete_account(auth.0.user, deletion, client_addr(req))
            .await?;
        Ok(NoContent::Done)
    }

    /// A user's public profile with their trading record. Public.
    #[oai(
        path = "/api/v1/users/:username",
        method = "get",
        operation_id = "public_profile"
    )]
    async fn public_profile(
        &self,
        app: Data<&Arc<AppState>>,
        username: Path<String>,
    ) -> Result<Json<PublicProfile>, ApiError> {
        let profile = app.0.market.public_profile(&username.0).await?;
        let (user, stats) = (profile.user, profile.stats);
        let feedback = stats.numbers.feedback;
        Ok(Json(PublicProfile {
            username: user.username,
            created_at_ms: user.created_at.as_unix_ms(),
            stats: ProfileStats {
                completed_trades: stats.numbers.completed_trades,
                volume: stats.numbers.volume,
                feedback: FeedbackCountsView {
                    positive: feedback.positive,
                    neutral: feedback.neutral,
                    negative: feedback.negative,
                },
                score_percent: stats.score_percent,
                median_release_secs: stats.median_release_secs,
            },
        }))
    }
}
