//! Self-service account management: e-mail, password, deletion; and public profiles.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::{EmailAddress, Piconero};

use super::auth::{Accepted, NoContent};
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::accounts::AccountDeletion as Deletion;
use pupero_market::two_factor::SecondFactorProof;

/// The profile resource.
pub struct ProfileApi;

/// An e-mail change: the address is a login identifier, so it needs the password (and the
/// 2FA code when 2FA is on), like the other sensitive changes.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EmailChange {
    /// The new address, or absent to remove it.
    pub email: Option<EmailAddress>,
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    pub recovery_code: Option<Text>,
}

/// A password change.
#[derive(Debug, Object)]
pub struct PasswordChange {
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub current_password: Text,
    /// The new password, at least 10 characters.
    #[oai(validator(min_length = 10, max_length = 256))]
    pub new_password: Text,
}

/// An account deletion.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountDeletion {
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    pub recovery_code: Option<Text>,
    /// Give up what is left when it is too little to withdraw (at most 0.0101 XMR, with
    /// nothing held or incoming): it goes to the platform, and the account closes.
    pub forfeit_remainder: Option<bool>,
}

// The documentation above names the limit.
const _: () = assert!(pupero_core::withdrawal::MAX_FORFEIT.as_u64() == 10_100_000_000);

/// What anyone may see of a user.
#[derive(Debug, Object)]
pub struct PublicProfile {
    /// Username.
    pub username: String,
    /// Member since, unix milliseconds.
    pub created_at_ms: u64,
    /// Trading record, from completed trades only.
    pub stats: ProfileStats,
}

/// A user's trading record: completed (released or resolved) trades only.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProfileStats {
    /// Completed trades, as seller or buyer.
    pub completed_trades: u64,
    /// Their summed amounts, decimal XMR.
    pub volume: Piconero,
    /// Ratings received.
    pub feedback: FeedbackCountsView,
    /// Positive ratings in percent of positive and negative ones, rounded down (100 only
    /// without a single negative); neutral ratings do not count. Absent without ratings.
    pub score_percent: Option<u8>,
    /// Median seconds from "paid" to "released" over the user's latest (at most 1000) releases
    /// as a seller; absent when they never released.
    pub median_release_secs: Option<u64>,
}

// The documentation above names the limit.
const _: () = assert!(pupero_core::limits::MAX_RELEASE_TIME_SAMPLES == 1_000);

/// Ratings received, by kind.
#[derive(Debug, Object)]
pub struct FeedbackCountsView {
    /// Positive.
    pub positive: u64,
    /// Neutral.
    pub neutral: u64,
    /// Negative.
    pub negative: u64,
}

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
