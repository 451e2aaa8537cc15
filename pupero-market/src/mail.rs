//! Outgoing mail: e-mail verification and password-reset links, and notices of security
//! changes.
//!
//! A request never talks to the mail relay. It writes its mail to `mail_outbox` — sealed under
//! the data key ([`Purpose::Mail`]), since a reset link opens the account while it lasts — in
//! the same commit as the token the mail carries, and wakes the mailer. [`run_mailer`] sends
//! what is due one mail at a time, each within [`SEND_TIMEOUT`]; a failed attempt is tried again
//! after a doubling delay, at most [`MAX_SEND_ATTEMPTS`] times and never once the link in it has
//! expired, and a relay's permanent refusal is final. So a slow, failing or absent relay never
//! slows a request down or shows in its answer (which would tell whether an account exists),
//! and a restart loses no mail. Several processes may run the mailer: every attempt is claimed
//! with a compare-and-set, so a mail goes out once (twice only if a process dies between the
//! relay's acceptance and the row's update).

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use pupero_core::{Timestamp, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Market;
use crate::crypto::Purpose;
use crate::security::MailToken;
use crate::settings::MailSettings;
use crate::store::{NewMail, StoreError};

/// How long the relay may take to answer one SMTP command: a relay answers in milliseconds,
/// or is down.
const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Seconds one whole delivery (connect, TLS, the dialogue, the message) may take.
const SEND_TIMEOUT_SECS: u64 = 20;

/// `SEND_TIMEOUT_SECS` as a duration.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(SEND_TIMEOUT_SECS);

/// Delay before the second attempt at a mail, doubled after each further failure. Longer than
/// a delivery may take: a claimed mail is not due again before its attempt is over, so no other
/// process sends it meanwhile.
const RETRY_FIRST_DELAY_SECS: u64 = 60;

const _: () = assert!(RETRY_FIRST_DELAY_SECS > SEND_TIMEOUT_SECS);

/// The longest delay between two attempts.
const RETRY_MAX_DELAY_SECS: u64 = 30 * 60;

/// Attempts at one mail before it is given up: with the delays above, a relay that stays down
/// for about two hours. Reset links expire long before; a notice that late helps nobody, and
/// an outage that long is the operator's to see in the log.
pub const MAX_SEND_ATTEMPTS: u32 = 8;

/// Mails one pass of the mailer sends at most before it looks at its wake-ups again.
const MAX_MAILS_PER_PASS: u32 = 100;

/// A mail lost its claim to another process this many times in a row: the others are at it.
const MAX_CLAIM_RACES: u32 = 8;

/// How often the mailer looks at the outbox without being woken: for retries, and for mails
/// queued by another process (such as `pupero admin reset-password`).
const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How often sent and given-up mails past [`MAIL_RETENTION_SECS`] and expired tokens are
/// deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// How long a sent or given-up mail's row (without its message) stays: enough to answer "did
/// the mail go out?" for a few days.
const MAIL_RETENTION_SECS: u64 = 7 * 24 * 60 * 60;

/// Rows deleted per table in one prune; a backlog goes at the next ones.
const MAX_PRUNED_PER_BATCH: u32 = 1_000;

/// The largest mail accepted into the outbox, as JSON: ours are a few hundred bytes, and the
/// sealed form of this many must stay below what the data cipher opens.
const MAX_LETTER_BYTES: usize = 2_048;

/// What a mail is about; stored with it (never secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A link that verifies the address.
    VerifyEmail,
    /// A link that sets a new password.
    PasswordReset,
    /// The password was changed or reset.
    PasswordChanged,
    /// The address was changed (sent to the old one).
    EmailChanged,
}

impl MailKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::PasswordReset => "password_reset",
            MailKind::PasswordChanged => "password_changed",
            MailKind::EmailChanged => "email_changed",
        }
    }
}

/// A mail as written: recipient, subject, plain-text body. `Debug` shows neither the
/// recipient nor the body (which may hold a link).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// The recipient's address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The body, plain text.
    pub body: String,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The mails Pupero sends. Each says who it is for and why it came, and what to do if the
/// reader did not ask for it.
pub mod letters {
    use super::Letter;

    /// The link that verifies `to` for `username`'s account, valid for `hours`.
    pub fn verify_email(to: &str, username: &str, link: &str, hours: u64) -> Letter {
        Letter {
            to: to.to_owned(),
            subject: "Confirm your e-mail address for Pupero".to_owned(),
            body: format!(
                "Hello {username},\n\n\
                 please confirm that this address belongs to your Pupero account by opening\n\
                 this link within {hours} hours:\n\n\
                 {link}\n\n\
                 Only a confirmed address receives password-reset links.\n\n\
                 If you did not add this address to a Pupero account, ignore this mail.\n"
            ),
        }
    }

    /// The link that sets a new password for `username`'s account, valid for `minutes`.
    pub fn password_reset(to: &str, username: &str, link: &str, minutes: u64) -> Letter {
        Letter {
            to: to.to_owned(),
            subject: "Reset your Pupero password".to_owned(),
            body: format!(
                "Hello {username},\n\n\
                 someone, hopefully you, asked to reset the password of your Pupero account.\n\
                 Open this link within {minutes} minutes to choose a new one; it works once:\n\n\
                 {link}\n\n\
                 With 2FA on you will also need a code from your authenticator app, or a\n\
                 recovery code. A reset logs out every session and revokes every API key.\n\n\
                 If you did not ask for this, ignore this mail: your password stays as it is.\n"
            ),
        }
    }

    /// `username`'s password changed; `how` says how (`changed`, `reset by e-mail`...).
    pub fn password_changed(to: &str, username: &str, how: &str) -> Letter {
        Letter {
            to: to.to_owned(),
            subject: "Your Pupero password was changed".to_owned(),
            body: format!(
                "Hello {username},\n\n\
                 the password of your Pupero account was {how}. Every other session was\n\
                 logged out and every API key revoked.\n\n\
                 If this was not you, reset your password at once and contact support.\n"
            ),
        }
    }

    /// `username`'s address is no longer `to`.
    pub fn email_changed(to: &str, username: &str) -> Letter {
        Letter {
            to: to.to_owned(),
            subject: "The e-mail address of your Pupero account changed".to_owned(),
            body: format!(
                "Hello {username},\n\n\
                 this is no longer the e-mail address of your Pupero account: it was changed\n\
                 or removed, and password-reset links no longer come here.\n\n\
                 If this was not you, someone else may control your account: contact support\n\
                 at once.\n"
            ),
        }
    }
}

/// Why a mail was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The relay refused it for good (or it cannot be sent at all): no retry.
    pub permanent: bool,
    /// What went wrong, for the log (never the message).
    pub reason: String,
}

/// Where mails go: the relay, or the log when none is configured (development only: the
/// settings refuse a production server without a relay).
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
}

/// Sends mails and makes their links.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Log => "log",
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The SMTP transport of `url` (`smtp://` or `smtps://`, see
/// [`MailSettings::smtp_url`]), or why it cannot be one. The reason never repeats the URL,
/// which may hold a password.
fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err("expected an smtp:// or smtps:// URL".to_owned());
    }
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| format!("not a usable SMTP URL: {e}"))?;
    Ok(builder.timeout(Some(SMTP_COMMAND_TIMEOUT)).build())
}

/// Whether `url` names a relay Pupero can use; the reason when not.
pub fn check_smtp_url(url: &str) -> Result<(), String> {
    smtp_transport(url).map(drop)
}

impl Mailer {
    /// The mailer of `settings`.
    pub fn new(settings: &MailSettings) -> Result<Mailer, String> {
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(smtp_transport(url.expose())?),
            None => Transport::Log,
        };
        Ok(Mailer {
            transport,
            from: settings.from.clone(),
            public_url: settings.public_url.clone(),
        })
    }

    /// The link to `path` of the public site that carries `token`.
    pub fn link(&self, path: &str, token: &MailToken) -> String {
        format!("{}{path}?token={}", self.public_url, token.expose())
    }

    /// Delivers `letter` to the relay, within [`SEND_TIMEOUT`].
    pub async fn send(&self, letter: &Letter) -> Result<(), SendFailure> {
        let permanent = |reason: String| SendFailure {
            permanent: true,
            reason,
        };
        let to: Address = letter
            .to
            .parse()
            .map_err(|e| permanent(format!("unusable recipient address: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(letter.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", Uuid::new_v4().simple())))
            .header(ContentType::TEXT_PLAIN)
            .body(letter.body.clone())
            .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        match &self.transport {
            Transport::Log => {
                // Development only: the settings refuse production without a relay, so reset
                // links never reach a production log.
                tracing::info!(
                    to = %letter.to,
                    subject = %letter.subject,
                    body = %letter.body,
                    "mail logged, not sent (no PUPERO_SMTP_URL)"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => {
                match tokio::time::timeout(SEND_TIMEOUT, smtp.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(SendFailure {
                        permanent: e.is_permanent(),
                        reason: crate::error::chain(&e),
                    }),
                    Err(_) => Err(SendFailure {
                        permanent: false,
                        reason: format!("no answer within {SEND_TIMEOUT_SECS} s"),
                    }),
                }
            }
        }
    }
}

/// What one step of the mailer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// A mail was delivered to the relay.
    Sent,
    /// An attempt failed; the mail is due again later.
    Retrying,
    /// A mail was given up: refused for good, out of attempts, expired or unreadable.
    GaveUp,
    /// Nothing is due.
    Idle,
}

/// The delay after the `attempts`-th failed attempt: doubling from [`RETRY_FIRST_DELAY_SECS`]
/// up to [`RETRY_MAX_DELAY_SECS`].
fn retry_delay_secs(attempts: u32) -> u64 {
    crate::jobs::backoff_secs(RETRY_FIRST_DELAY_SECS, RETRY_MAX_DELAY_SECS, attempts)
}

impl Market {
    /// `letter` for `user`, sealed for the outbox, to be queued in the commit of what it
    /// announces. `None` (logged) when it is too large to queue, which no letter of ours is.
    pub fn sealed_mail(
        &self,
        user: UserId,
        kind: MailKind,
        letter: &Letter,
        expires_at: Option<Timestamp>,
    ) -> Option<NewMail> {
        let json = serde_json::to_vec(letter).ok()?;
        if json.len() > MAX_LETTER_BYTES {
            tracing::error!(
                kind = kind.as_str(),
                bytes = json.len(),
                "mail too large to queue"
            );
            return None;
        }
        Some(NewMail {
            id: Uuid::now_v7(),
            user,
            kind: kind.as_str(),
            sealed: self.data_cipher.seal(Purpose::Mail, user, &json),
            expires_at,
        })
    }

    /// Queues a notice for `user` and wakes the mailer. A mail is a courtesy: a failure is
    /// logged, never passed on to the change it reports, which has happened.
    pub async fn queue_mail(&self, user: UserId, kind: MailKind, letter: &Letter) {
        let Some(mail) = self.sealed_mail(user, kind, letter, None) else {
            return;
        };
        match self.store.enqueue_mail(&mail, self.now()).await {
            Ok(()) => self.mail_wake.notify_one(),
            Err(e) => tracing::error!(
                kind = kind.as_str(),
                user_id = %user,
                error = %crate::error::chain(&e),
                "queueing a mail failed"
            ),
        }
    }

    /// One step of the mailer: sends the oldest mail that is due, if any.
    pub async fn deliver_next_mail(&self) -> Result<MailOutcome, StoreError> {
        for _ in 0..MAX_CLAIM_RACES {
            let now = self.now();
            let Some(due) = self.store.due_mail(now).await? else {
                return Ok(MailOutcome::Idle);
            };
            if due.expires_at.is_some_and(|expiry| expiry <= now) {
                tracing::warn!(mail_id = %due.id, kind = %due.kind, "mail expired unsent");
                self.store.finish_mail(due.id, false, now).await?;
                return Ok(MailOutcome::GaveUp);
            }
            let retry_at = now.plus_secs(retry_delay_secs(due.attempts.saturating_add(1)));
            if !self
                .store
                .claim_mail(due.id, due.attempts, retry_at)
                .await?
            {
                continue;
            }
            let letter = due
                .sealed
                .as_deref()
                .and_then(|sealed| self.data_cipher.open(Purpose::Mail, due.user, sealed).ok())
                .and_then(|json| serde_json::from_slice::<Letter>(&json).ok());
            let Some(letter) = letter else {
                // Sealed under another data key (a development server restarted) or altered.
                tracing::warn!(mail_id = %due.id, kind = %due.kind, "queued mail unreadable; dropped");
                self.store.finish_mail(due.id, false, now).await?;
                return Ok(MailOutcome::GaveUp);
            };
            return match self.mailer.send(&letter).await {
                Ok(()) => {
                    tracing::info!(mail_id = %due.id, kind = %due.kind, user_id = %due.user, "mail sent");
                    self.store.finish_mail(due.id, true, self.now()).await?;
                    Ok(MailOutcome::Sent)
                }
                Err(failure)
                    if failure.permanent || due.attempts.saturating_add(1) >= MAX_SEND_ATTEMPTS =>
                {
                    tracing::warn!(
                        mail_id = %due.id,
                        kind = %due.kind,
                        attempts = due.attempts.saturating_add(1),
                        reason = %failure.reason,
                        "mail given up"
                    );
                    self.store.finish_mail(due.id, false, self.now()).await?;
                    Ok(MailOutcome::GaveUp)
                }
                Err(failure) => {
                    tracing::warn!(
                        mail_id = %due.id,
                        kind = %due.kind,
                        attempts = due.attempts.saturating_add(1),
                        reason = %failure.reason,
                        "mail not sent; will retry"
                    );
                    Ok(MailOutcome::Retrying)
                }
            };
        }
        Ok(MailOutcome::Idle)
    }

    /// Deletes one batch of sent or given-up mails past their retention and of expired
    /// tokens; returns how many rows went.
    pub async fn prune_mail(&self) -> Result<u64, StoreError> {
        let now = self.now();
        let before = Timestamp::from_unix_ms(
            now.as_unix_ms()
                .saturating_sub(MAIL_RETENTION_SECS.saturating_mul(1000)),
        );
        self.store
            .prune_mail(before, now, MAX_PRUNED_PER_BATCH)
            .await
    }
}

/// The mailer: sends what is due whenever woken (a mail was queued) and every
/// `POLL_INTERVAL`, and prunes every `PRUNE_INTERVAL`. Runs in every serving process.
pub async fn run_mailer(state: Arc<Market>) {
    let mut prune = tokio::time::interval(PRUNE_INTERVAL);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        for _ in 0..MAX_MAILS_PER_PASS {
            match state.deliver_next_mail().await {
                Ok(MailOutcome::Idle) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "mail outbox unavailable");
                    break;
                }
            }
        }
        tokio::select! {
            () = state.mail_wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = prune.tick() => match state.prune_mail().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "pruned old mails and expired tokens"),
                Err(e) => tracing::warn!(error = %crate::error::chain(&e), "pruning mails failed"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap() {
        let delays: Vec<u64> = (1..=MAX_SEND_ATTEMPTS).map(retry_delay_secs).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!(retry_delay_secs(u32::MAX), RETRY_MAX_DELAY_SECS);
    }

    #[test]
    fn smtp_urls_are_checked_without_echoing_them() {
        for good in [
            "smtp://127.0.0.1:2525",
            "smtp://relay.example.org",
            "smtp://user:secret@relay.example.org:587?tls=required",
            "smtps://user:secret@relay.example.org",
        ] {
            assert_eq!(check_smtp_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://relay.example.org",
            "smtp://",
            "smtp://user:secret@relay.example.org?tls=maybe",
            "relay.example.org:25",
        ] {
            let reason = check_smtp_url(bad).expect_err(bad);
            assert!(!reason.contains("secret"), "{reason}");
        }
    }

    #[test]
    fn letters_fit_the_outbox_and_carry_their_link() {
        let link = format!("https://pupero.example/reset?token={}", "x".repeat(47));
        let to = format!("{}@example.org", "a".repeat(240));
        let username = "u".repeat(32);
        for letter in [
            letters::verify_email(&to, &username, &link, 24),
            letters::password_reset(&to, &username, &link, 30),
            letters::password_changed(&to, &username, "reset by an operator"),
            letters::email_changed(&to, &username),
        ] {
            let json = serde_json::to_vec(&letter).unwrap();
            assert!(json.len() <= MAX_LETTER_BYTES, "{}", json.len());
            assert!(!format!("{letter:?}").contains(&to));
        }
        assert!(
            letters::password_reset(&to, &username, &link, 30)
                .body
                .contains(&link)
        );
    }
}
