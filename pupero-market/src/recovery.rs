//! Getting back into an account, and what every new password ends.
//!
//! - **E-mail verification**: a link to the address (at registration, on a change, or asked
//!   for again) shows that the account's holder reads it. Only a verified address receives
//!   password-reset links: an address is typed by hand, and a typo must not hand someone else
//!   the account.
//! - **Password reset by mail**: anyone may ask for a link by username or address; the answer
//!   is the same whether or not a link goes out, and takes as long (one lookup, one commit).
//!   The link works once, for [`PASSWORD_RESET_TTL_SECS`], only while it is the newest and the
//!   account still has the address it went to. With 2FA on, the code (or a recovery code) is
//!   needed as well: a mailbox alone does not take over such an account.
//! - **The operator's reset** at the machine (`pupero admin reset-password`), for people
//!   without an address, under the same second factor.
//! - **The owner's changes** from a logged-in session: a new password under the old one, a new
//!   address under the password and the second factor.
//!
//! Every new password, whichever way it came, goes through [`Market::replace_password`]: it
//! is stored in the commit that ends every session (but the changer's own), every API key and
//! every reset link, and it is audited and announced to the verified address.

use std::net::IpAddr;

use pupero_core::{EmailAddress, Password, UserId};
use uuid::Uuid;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::mail::{MailKind, letters};
use crate::ratelimit::audit_refusal;
use crate::security::MailToken;
use crate::store::{NewPassword, NewToken, TokenPurpose};
use crate::two_factor::SecondFactorProof;

/// How long a verification link works: people read mail hours later, and the link proves no
/// more than that they read this address.
pub const EMAIL_VERIFICATION_TTL_SECS: u64 = 24 * 60 * 60;

/// How long a password-reset link works: long enough to open the mail, short enough that a
/// link found later in a mailbox, a log or a browser history opens nothing.
pub const PASSWORD_RESET_TTL_SECS: u64 = 30 * 60;

/// The path of the public site that verifies an address: it posts the token to
/// `POST /api/v1/auth/verify-email`.
pub const VERIFY_EMAIL_PATH: &str = "/verify-email";

/// The path of the public site that resets a password: it asks for the new one and posts it
/// with the token to `POST /api/v1/auth/password-reset/confirm`.
pub const PASSWORD_RESET_PATH: &str = "/reset";

/// The longest login identifier looked up: an e-mail address at most.
const MAX_LOGIN_LEN: usize = pupero_core::user::EMAIL_MAX_LEN;

/// How a password came to change; decides what is stored, audited and written to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChangeKind {
    /// By the logged-in owner, with the old password: their session stays.
    Changed,
    /// By a link from a mail.
    ResetByMail,
    /// By the operator at the machine.
    ResetByOperator,
}

impl PasswordChangeKind {
    /// Why sessions ended, as stored.
    const fn reason(self) -> &'static str {
        match self {
            PasswordChangeKind::Changed => "password_changed",
            PasswordChangeKind::ResetByMail => "password_reset",
            PasswordChangeKind::ResetByOperator => "password_reset_operator",
        }
    }

    /// The audit event.
    const fn event(self) -> AuditEvent {
        match self {
            PasswordChangeKind::Changed => AuditEvent::PasswordChanged,
            PasswordChangeKind::ResetByMail | PasswordChangeKind::ResetByOperator => {
                AuditEvent::PasswordReset
            }
        }
    }

    /// As the notice to the owner says it.
    const fn told(self) -> &'static str {
        match self {
            PasswordChangeKind::Changed => "changed",
            PasswordChangeKind::ResetByMail => "reset by a link sent to this address",
            PasswordChangeKind::ResetByOperator => "reset by an operator of the platform",
        }
    }
}

fn invalid_token() -> Error {
    Error::new(
        ErrorKind::InvalidToken,
        "this link is unknown, used, replaced by a newer one or expired; ask for a new one",
    )
}

impl Market {
    /// Sends a verification link to `email`, `user`'s address: at registration, after a
    /// change, or when asked for again. Any earlier verification link ends.
    pub async fn send_email_verification(
        &self,
        user: UserId,
        username: &str,
        email: &EmailAddress,
    ) -> Result<(), Error> {
        let now = self.now();
        let token = MailToken::generate();
        let expires_at = now.plus_secs(EMAIL_VERIFICATION_TTL_SECS);
        let link = self.mailer.link(VERIFY_EMAIL_PATH, &token);
        let letter = letters::verify_email(
            email.as_str(),
            username,
            &link,
            EMAIL_VERIFICATION_TTL_SECS / 3600,
        );
        let Some(mail) = self.sealed_mail(user, MailKind::VerifyEmail, &letter, Some(expires_at))
        else {
            return Err(Error::internal(&crate::store::StoreError::Corrupt(
                "verification mail too large",
            )));
        };
        let hash = token.hash();
        let new = NewToken {
            hash: &hash,
            user,
            purpose: TokenPurpose::VerifyEmail,
            email: email.as_str(),
            expires_at,
        };
        self.store.issue_token(&new, &mail, None, now).await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// As [`Market::send_email_verification`] for a change that already happened
    /// (registration, a new address): a failure is logged, not passed on.
    pub async fn send_email_verification_after(
        &self,
        user: UserId,
        username: &str,
        email: &EmailAddress,
    ) {
        if self
            .send_email_verification(user, username, email)
            .await
            .is_err()
        {
            tracing::error!(user_id = %user, "queueing the verification mail failed");
        }
    }

    /// Verifies the address a verification link was sent to, opened from `client`. 400
    /// `INVALID_TOKEN` for a link that is unknown, used, replaced, expired, or sent to an
    /// address the account no longer has. Requests per client address are limited (429
    /// `RATE_LIMITED`).
    pub async fn verify_email(&self, token: &str, client: Option<IpAddr>) -> Result<(), Error> {
        if let Err(refused) = self.limits.check_recovery_ip(client) {
            return Err(
                audit_refusal(self, client, "e-mail verification: too many", refused).await,
            );
        }
        let ip = client.map(|ip| ip.to_string());
        let token = MailToken::parse(token).ok_or_else(invalid_token)?;
        let user = self
            .store
            .verify_email(&token.hash(), self.now())
            .await?
            .ok_or_else(invalid_token)?;
        self.audit(AuditEntry::of(AuditEvent::EmailVerified, Some(user)).from_ip(ip))
            .await;
        Ok(())
    }

    /// A password-reset link asked for by `login` (username or address). It goes out only to
    /// a verified address of an enabled account, at most as often as the per-account limit
    /// allows; otherwise nothing is sent. The caller answers the same either way, and every
    /// way takes one lookup and one commit (the audit entry, with the token and the mail when
    /// one goes out), so neither the answer nor its time says whether the account exists.
    /// Failures are logged, never answered. The one refusal is the limit on requests per
    /// client address (429 `RATE_LIMITED`), checked first.
    pub async fn request_password_reset(
        &self,
        login: &str,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if let Err(refused) = self.limits.check_recovery_ip(client) {
            return Err(audit_refusal(self, client, "password reset: too many", refused).await);
        }
        let ip = client.map(|ip| ip.to_string());
        if let Err(e) = self.try_request_password_reset(login, ip).await {
            tracing::error!(error = %crate::error::chain(&e), "password reset request failed");
        }
        Ok(())
    }

    async fn try_request_password_reset(
        &self,
        login: &str,
        ip: Option<String>,
    ) -> Result<(), crate::store::StoreError> {
        let now = self.now();
        let user = if login.len() <= MAX_LOGIN_LEN {
            self.store.user_by_login(login).await?
        } else {
            None
        };
        let entry = |event, subject, detail: &str| {
            AuditEntry {
                subject,
                ..AuditEntry::of(event, None)
            }
            .from_ip(ip.clone())
            .detail(detail)
        };
        let known = user.as_ref().map(|u| u.id);
        let target = user.filter(|u| !u.disabled).and_then(|u| {
            let email = u.email.as_deref().filter(|_| u.email_verified)?;
            let email = EmailAddress::parse(email).ok()?;
            Some((u, email))
        });
        let Some((user, email)) = target else {
            let detail = if known.is_some() {
                "not sent: no verified address, or the account is disabled"
            } else {
                "not sent: no such account"
            };
            let entry = entry(AuditEvent::PasswordResetRequested, known, detail);
            return self.store.audit(&entry, now).await;
        };
        if self.limits.check_recovery_mail(user.id).is_err() {
            let entry = entry(
                AuditEvent::RateLimited,
                known,
                "password reset: not sent, too many for this account",
            );
            return self.store.audit(&entry, now).await;
        }
        let token = MailToken::generate();
        let expires_at = now.plus_secs(PASSWORD_RESET_TTL_SECS);
        let link = self.mailer.link(PASSWORD_RESET_PATH, &token);
        let letter = letters::password_reset(
            email.as_str(),
            &user.username,
            &link,
            PASSWORD_RESET_TTL_SECS / 60,
        );
        let Some(mail) =
            self.sealed_mail(user.id, MailKind::PasswordReset, &letter, Some(expires_at))
        else {
            return Err(crate::store::StoreError::Corrupt("reset mail too large"));
        };
        let hash = token.hash();
        let new = NewToken {
            hash: &hash,
            user: user.id,
            purpose: TokenPurpose::ResetPassword,
            email: email.as_str(),
            expires_at,
        };
        let audit = entry(AuditEvent::PasswordResetRequested, known, "link sent");
        self.store
            .issue_token(&new, &mail, Some(&audit), now)
            .await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Sets `new_password` by a reset link, opened from `client`: 429 `RATE_LIMITED` past the
    /// limit on requests per client address (checked first), 400 `VALIDATION` for a password
    /// against the policy, 400 `INVALID_TOKEN` for a link that is no longer good, 403
    /// `TOTP_REQUIRED` / `INVALID_TOTP` when 2FA is on and its code (or a recovery code) is
    /// missing or wrong — the link stays good then, for another try.
    pub async fn reset_password_by_mail(
        &self,
        token: &str,
        new_password: &str,
        proof: SecondFactorProof<'_>,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if let Err(refused) = self.limits.check_recovery_ip(client) {
            return Err(audit_refusal(self, client, "password reset: too many", refused).await);
        }
        let ip = client.map(|ip| ip.to_string());
        let password =
            Password::parse(new_password).map_err(|e| Error::validation(e.to_string()))?;
        let token = MailToken::parse(token).ok_or_else(invalid_token)?;
        let hash = token.hash();
        let user = self
            .store
            .token_user(TokenPurpose::ResetPassword, &hash, self.now())
            .await?
            .ok_or_else(invalid_token)?;
        self.verify_second_factor(user, proof).await?;
        let replaced = self
            .replace_password(
                user,
                &password,
                PasswordChangeKind::ResetByMail,
                None,
                Some(&hash),
                ip,
            )
            .await?;
        // Another request used the link between the lookup and here.
        if !replaced {
            return Err(invalid_token());
        }
        Ok(())
    }

    /// Stores `password` for `user` and ends everything the old one opened (every session
    /// but `keep_session`, every API key, every reset link) in one commit; with
    /// `reset_token` (a hash), only if that reset link is still good, using it up. Then audits
    /// the change, lifts the account's login lockout after a reset (its holder just proved
    /// themself another way), and writes to the verified address. `false` when the link was
    /// no longer good, and nothing changed.
    pub async fn replace_password(
        &self,
        user: UserId,
        password: &Password,
        change: PasswordChangeKind,
        keep_session: Option<Uuid>,
        reset_token: Option<&str>,
        ip: Option<String>,
    ) -> Result<bool, Error> {
        let hash = self
            .hasher
            .hash(password)
            .await
            .map_err(|e| Error::internal(&e))?;
        let new = NewPassword {
            user,
            hash: &hash,
            keep_session,
            reset_token,
            reason: change.reason(),
        };
        let Some((sessions, keys)) = self.store.replace_password(&new, self.now()).await? else {
            return Ok(false);
        };
        if change != PasswordChangeKind::Changed {
            self.limits
                .attempt_succeeded(&crate::ratelimit::ThrottleKey::account(user))
                .await?;
        }
        let how = match change {
            PasswordChangeKind::Changed => "by its owner",
            PasswordChangeKind::ResetByMail => "by e-mail link",
            PasswordChangeKind::ResetByOperator => "command line",
        };
        // The operator acts for the owner: nobody the log knows is the actor.
        let entry = AuditEntry {
            actor: (change != PasswordChangeKind::ResetByOperator).then_some(user),
            ..AuditEntry::of(change.event(), Some(user))
        };
        self.audit(
            entry
                .from_ip(ip)
                .detail(format!("{how}: sessions={sessions} api_keys={keys}")),
        )
        .await;
        if let Some(owner) = self.store.user_by_id(user).await?
            && let Some(email) = owner.email.filter(|_| owner.email_verified)
        {
            let letter = letters::password_changed(&email, &owner.username, change.told());
            self.queue_mail(user, MailKind::PasswordChanged, &letter)
                .await;
        }
        Ok(true)
    }

    /// Changes the password of `user`, logged in as `session`, from `client`: the current
    /// password first (403 `INVALID_CREDENTIALS`, counted towards the lockout), then the new
    /// one against the policy (400 `VALIDATION`). Every other session ends and every API key
    /// is revoked (whoever changes a password may be locking someone out); see
    /// [`Market::replace_password`].
    pub async fn change_password(
        &self,
        user: UserId,
        session: Uuid,
        current_password: &str,
        new_password: &str,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        self.verify_password(user, current_password).await?;
        let password =
            Password::parse(new_password).map_err(|e| Error::validation(e.to_string()))?;
        self.replace_password(
            user,
            &password,
            PasswordChangeKind::Changed,
            Some(session),
            None,
            client.map(|ip| ip.to_string()),
        )
        .await?;
        Ok(())
    }

    /// Sets (or, with `None`, removes) the e-mail address of `user`, from `client`. The
    /// address is a login identifier, so the password and the second factor are asked for,
    /// after the limit on changes per account and per client address (429 `RATE_LIMITED`).
    /// An address of another account is 409 `EMAIL_TAKEN`, audited: an answer that tells
    /// whether an address is in use. A change is audited and announced
    /// ([`Market::announce_email_change`]).
    pub async fn change_email(
        &self,
        user: UserId,
        email: Option<&EmailAddress>,
        password: &str,
        proof: SecondFactorProof<'_>,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if let Err(refused) = self.limits.check_email_change(user, client) {
            return Err(audit_refusal(self, client, "e-mail change: too many", refused).await);
        }
        let ip = client.map(|ip| ip.to_string());
        self.verify_password(user, password).await?;
        self.verify_second_factor(user, proof).await?;
        match self.store.set_email(user, email, self.now()).await? {
            Ok(change) => {
                if change.changed {
                    self.audit(AuditEntry::of(AuditEvent::EmailChanged, Some(user)).from_ip(ip))
                        .await;
                    let username = self
                        .store
                        .user_by_id(user)
                        .await?
                        .map(|u| u.username)
                        .unwrap_or_default();
                    self.announce_email_change(user, &username, change.previous.as_ref(), email)
                        .await;
                }
                Ok(())
            }
            Err(_) => {
                self.audit(
                    AuditEntry::of(AuditEvent::EmailTaken, Some(user))
                        .from_ip(ip)
                        .detail("e-mail change"),
                )
                .await;
                Err(Error::new(ErrorKind::EmailTaken, "e-mail address is taken"))
            }
        }
    }

    /// Sends a new verification link to the address of `user`, asked for from `client`;
    /// earlier links stop working. 429 `RATE_LIMITED` past the limit on requests per client
    /// address (checked first) or on links per account; 409 `NO_EMAIL` without an address,
    /// `EMAIL_ALREADY_VERIFIED` when it is verified.
    pub async fn resend_email_verification(
        &self,
        user: UserId,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if let Err(refused) = self.limits.check_recovery_ip(client) {
            return Err(
                audit_refusal(self, client, "e-mail verification: too many", refused).await,
            );
        }
        let row = self
            .store
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        let email = row
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| Error::internal(&e))?
            .ok_or_else(|| Error::new(ErrorKind::NoEmail, "the account has no e-mail address"))?;
        if row.email_verified {
            return Err(Error::new(
                ErrorKind::EmailAlreadyVerified,
                "the e-mail address is already verified",
            ));
        }
        if let Err(wait) = self.limits.check_recovery_mail(user) {
            return Err(audit_refusal(
                self,
                client,
                "e-mail verification: too many links for this account",
                Error::rate_limited(wait),
            )
            .await);
        }
        self.send_email_verification(user, &row.username, &email)
            .await
    }

    /// After an e-mail change: a verification link to the new address, and a notice to the
    /// old one if it was verified (an unverified one may be a stranger's typo, and nothing
    /// but verification links goes to such an address). Failures are logged.
    pub async fn announce_email_change(
        &self,
        user: UserId,
        username: &str,
        previous: Option<&(String, bool)>,
        new: Option<&EmailAddress>,
    ) {
        if let Some((old, true)) = previous {
            let letter = letters::email_changed(old, username);
            self.queue_mail(user, MailKind::EmailChanged, &letter).await;
        }
        if let Some(new) = new {
            self.send_email_verification_after(user, username, new)
                .await;
        }
    }
}
