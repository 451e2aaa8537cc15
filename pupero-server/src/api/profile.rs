//! Self-service account management: e-mail, password, deletion; and public profiles.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::{AccountId, EmailAddress, Password, Piconero};

use super::auth::{Accepted, NoContent};
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::audit_refusal;
use crate::client::client_addr;
use crate::client::client_ip;
use crate::error::{ApiError, codes};
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::recovery::PasswordChangeKind;
use pupero_market::two_factor::SecondFactorProof;

/// The profile resource.
pub struct ProfileApi {
    pub(crate) state: Arc<AppState>,
}

/// An e-mail change: the address is a login identifier, so it needs the password (and the
/// 2FA code when 2FA is on), like the other sensitive changes.
#[derive(Debug, Object)]
pub struct EmailChange {
    /// The new address, or absent to remove it.
    pub email: Option<Text>,
    /// The current password.
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
    pub current_password: Text,
    /// The new password, at least 10 characters.
    pub new_password: Text,
}

/// An account deletion.
#[derive(Debug, Object)]
pub struct AccountDeletion {
    /// The current password.
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
pub struct ProfileStats {
    /// Completed trades, as seller or buyer.
    pub completed_trades: u64,
    /// Their summed amounts, decimal XMR.
    pub volume: String,
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
        req: &Request,
        auth: SessionAuth,
        body: Json<EmailChange>,
    ) -> Result<NoContent, ApiError> {
        let user = auth.0.user;
        let state = &self.state;
        let email = body
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| ApiError::validation(e.to_string()))?;
        if let Err(refused) = state
            .market
            .limits
            .check_email_change(user, client_addr(req))
        {
            return Err(audit_refusal(state, req, "e-mail change: too many", refused).await);
        }
        state.market.verify_password(user, &body.password).await?;
        state
            .market
            .verify_second_factor(
                user,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
            )
            .await?;
        match state
            .market
            .store
            .set_email(user, email.as_ref(), state.now())
            .await?
        {
            Ok(change) => {
                if change.changed {
                    state
                        .market
                        .audit(
                            AuditEntry::of(AuditEvent::EmailChanged, Some(user))
                                .from_ip(client_ip(req)),
                        )
                        .await;
                    let username = state
                        .market
                        .store
                        .user_by_id(user)
                        .await?
                        .map(|u| u.username)
                        .unwrap_or_default();
                    state
                        .market
                        .announce_email_change(
                            user,
                            &username,
                            change.previous.as_ref(),
                            email.as_ref(),
                        )
                        .await;
                }
                Ok(NoContent::Done)
            }
            Err(_) => {
                state
                    .market
                    .audit(
                        AuditEntry::of(AuditEvent::EmailTaken, Some(user))
                            .from_ip(client_ip(req))
                            .detail("e-mail change"),
                    )
                    .await;
                Err(ApiError::conflict(
                    codes::EMAIL_TAKEN,
                    "e-mail address is taken",
                ))
            }
        }
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
        req: &Request,
        auth: SessionAuth,
        body: Json<PasswordChange>,
    ) -> Result<NoContent, ApiError> {
        let session = auth.0.require_session()?;
        let state = &self.state;
        state
            .market
            .verify_password(auth.0.user, &body.current_password)
            .await?;
        let password =
            Password::parse(&body.new_password).map_err(|e| ApiError::validation(e.to_string()))?;
        state
            .market
            .replace_password(
                auth.0.user,
                &password,
                PasswordChangeKind::Changed,
                Some(session),
                None,
                client_ip(req),
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
        req: &Request,
        auth: SessionAuth,
    ) -> Result<Accepted, ApiError> {
        let state = &self.state;
        let user = auth.0.user;
        if let Err(refused) = state.market.limits.check_recovery_ip(client_addr(req)) {
            return Err(audit_refusal(state, req, "e-mail verification: too many", refused).await);
        }
        let row = state
            .market
            .store
            .user_by_id(user)
            .await?
            .ok_or_else(|| ApiError::not_found("no such user"))?;
        let email = row
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| {
                ApiError::conflict(codes::NO_EMAIL, "the account has no e-mail address")
            })?;
        if row.email_verified {
            return Err(ApiError::conflict(
                codes::EMAIL_ALREADY_VERIFIED,
                "the e-mail address is already verified",
            ));
        }
        if let Err(wait) = state.market.limits.check_recovery_mail(user) {
            return Err(audit_refusal(
                state,
                req,
                "e-mail verification: too many links for this account",
                pupero_market::Error::rate_limited(wait),
            )
            .await);
        }
        state
            .market
            .send_email_verification(user, &row.username, &email)
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
        req: &Request,
        auth: SessionAuth,
        body: Json<AccountDeletion>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_session()?;
        let state = &self.state;
        state
            .market
            .verify_password(auth.0.user, &body.password)
            .await?;
        state
            .market
            .verify_second_factor(
                auth.0.user,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
            )
            .await?;
        let account_id = AccountId::user_xmr(auth.0.user);
        let mut detail = String::new();
        if body.forfeit_remainder == Some(true)
            && let Some(account) = state.market.ledger.account(account_id).await?
        {
            let b = account.balances();
            let remainder = account.available().unwrap_or(Piconero::ZERO);
            if b.debits_pending.is_zero()
                && b.credits_pending.is_zero()
                && let Some(forfeit) = pupero_core::withdrawal::forfeit_plan(auth.0.user, remainder)
            {
                state.market.ledger.transfer(forfeit).await?;
                detail = format!("forfeited {} XMR", remainder.to_xmr_string());
            }
        }
        if let Some(account) = state.market.ledger.account(account_id).await? {
            let b = account.balances();
            let empty = account.posted().is_some_and(|p| p.is_zero())
                && b.debits_pending.is_zero()
                && b.credits_pending.is_zero();
            if !empty {
                return Err(ApiError::conflict(
                    codes::ACCOUNT_HAS_FUNDS,
                    "withdraw or trade away every piconero before deleting the account (a \
                     remainder of at most 0.0101 XMR may be given up with forfeit_remainder)",
                ));
            }
        }
        state
            .market
            .store
            .delete_user(auth.0.user, state.now())
            .await?;
        state
            .market
            .audit(
                AuditEntry::of(AuditEvent::AccountDeleted, Some(auth.0.user))
                    .from_ip(client_ip(req))
                    .detail(detail),
            )
            .await;
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
        username: Path<String>,
    ) -> Result<Json<PublicProfile>, ApiError> {
        let user = self
            .state
            .market
            .store
            .user_by_username(&username.0)
            .await?
            .ok_or_else(|| ApiError::not_found("no such user"))?;
        let stats = self.state.market.profile_stats(user.id).await?;
        let feedback = stats.numbers.feedback;
        Ok(Json(PublicProfile {
            username: user.username,
            created_at_ms: user.created_at.as_unix_ms(),
            stats: ProfileStats {
                completed_trades: stats.numbers.completed_trades,
                volume: stats.numbers.volume.to_xmr_string(),
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
