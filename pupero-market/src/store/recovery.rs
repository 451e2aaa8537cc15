//! Tokens sent by mail (e-mail verification, password reset), password replacement, and the
//! mail outbox. What a token is worth and when mails go out is decided in `crate::recovery` and
//! `crate::mail`; this file reads and writes rows, each change in one transaction.
//!
//! Every transaction here that touches a user's tokens locks the user's row first
//! ([`lock_user_in`]), as an address change does: on MariaDB, taking the row and the tokens in
//! different orders (a foreign-key check alone locks the user's row) could deadlock two
//! requests of the same account.

use pupero_core::{Timestamp, UserId};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::convert::{ms, parsed, small, time_opt, unsigned};
use super::{Store, StoreError, lock_row_in};
use crate::audit::AuditEntry;

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Shows that the account's holder reads the address.
    VerifyEmail,
    /// Sets a new password without the old one.
    ResetPassword,
}

impl TokenPurpose {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
        }
    }
}

/// A token to store; only its hash is.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// `token_hash` of the token.
    pub hash: &'a str,
    /// Whose it is.
    pub user: UserId,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The address it is sent to: it works only while the account has this address.
    pub email: &'a str,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A mail to queue, its message sealed (`crate::mail::Market::sealed_mail`).
#[derive(Debug, Clone)]
pub struct NewMail {
    /// Its id, time-ordered.
    pub id: Uuid,
    /// Whom it concerns.
    pub user: UserId,
    /// `crate::mail::MailKind` as stored.
    pub kind: &'static str,
    /// The message, sealed under the data key for `user`.
    pub sealed: String,
    /// After this it is not sent any more (its link has expired).
    pub expires_at: Option<Timestamp>,
}

/// A queued mail that is due.
#[derive(Debug, Clone)]
pub struct DueMail {
    /// Its id.
    pub id: Uuid,
    /// Whom it concerns (its message is sealed for them).
    pub user: UserId,
    /// What it is about.
    pub kind: String,
    /// The sealed message.
    pub sealed: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When its link expires.
    pub expires_at: Option<Timestamp>,
}

/// A new password, and what its change ends besides.
#[derive(Debug, Clone, Copy)]
pub struct NewPassword<'a> {
    /// Whose.
    pub user: UserId,
    /// Its Argon2id PHC string.
    pub hash: &'a str,
    /// The session that stays (a change by a logged-in user); `None` ends every one.
    pub keep_session: Option<Uuid>,
    /// The hash of the reset token this change uses up: the change happens only if that token
    /// is still good.
    pub reset_token: Option<&'a str>,
    /// Why sessions ended, as stored (at most 32 characters).
    pub reason: &'static str,
}

/// Locks `user`'s row until the transaction ends (MariaDB; SQLite's write transaction holds
/// the whole database already).
pub(crate) async fn lock_user_in(
    conn: &mut AnyConnection,
    engine: pupero_ledger::Engine,
    user: UserId,
) -> Result<(), StoreError> {
    lock_row_in(conn, engine, "users", user.to_string()).await
}

/// A due mail's columns.
#[derive(sqlx::FromRow)]
struct DueMailColumns {
    id: String,
    user_id: String,
    kind: String,
    sealed: Option<String>,
    attempts: i64,
    expires_at_ms: Option<i64>,
}

impl TryFrom<DueMailColumns> for DueMail {
    type Error = StoreError;

    fn try_from(c: DueMailColumns) -> Result<DueMail, StoreError> {
        Ok(DueMail {
            id: parsed(&c.id, "mail id")?,
            user: parsed(&c.user_id, "user id")?,
            kind: c.kind,
            sealed: c.sealed,
            attempts: small(c.attempts, "mail attempts")?,
            expires_at: time_opt(c.expires_at_ms, "mail expiry")?,
        })
    }
}

/// Ends every unused token of `user` with one of `purposes`.
async fn end_tokens_in(
    conn: &mut AnyConnection,
    user: UserId,
    purposes: &[TokenPurpose],
    now: Timestamp,
) -> Result<(), StoreError> {
    for purpose in purposes {
        sqlx::query(
            "UPDATE mail_tokens SET used_at_ms = ? \
             WHERE user_id = ? AND purpose = ? AND used_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(user.to_string())
        .bind(purpose.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What an address change ends: every link sent to the old address.
pub(crate) async fn end_all_tokens_in(
    conn: &mut AnyConnection,
    user: UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    end_tokens_in(
        conn,
        user,
        &[TokenPurpose::VerifyEmail, TokenPurpose::ResetPassword],
        now,
    )
    .await
}

/// Queues a mail in the caller's transaction.
pub async fn insert_mail_in(
    conn: &mut AnyConnection,
    mail: &NewMail,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, user_id, kind, sealed, state, attempts, next_attempt_at_ms, \
         expires_at_ms, created_at_ms) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
    )
    .bind(mail.id.to_string())
    .bind(mail.user.to_string())
    .bind(mail.kind)
    .bind(mail.sealed.clone())
    .bind(ms(now)?)
    .bind(mail.expires_at.map(ms).transpose()?)
    .bind(ms(now)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Stores a new token and queues its mail, with `audit` when given, in one commit. Every
    /// earlier unused token of the same user and purpose ends: only the newest link works.
    pub async fn issue_token(
        &self,
        token: &NewToken<'_>,
        mail: &NewMail,
        audit: Option<&AuditEntry>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        lock_user_in(&mut tx, self.engine, token.user).await?;
        end_tokens_in(&mut tx, token.user, &[token.purpose], now).await?;
        sqlx::query(
            "INSERT INTO mail_tokens (token_hash, user_id, purpose, email, created_at_ms, \
             expires_at_ms, used_at_ms) VALUES (?, ?, ?, ?, ?, ?, NULL)",
        )
        .bind(token.hash.to_owned())
        .bind(token.user.to_string())
        .bind(token.purpose.as_str())
        .bind(token.email.to_owned())
        .bind(ms(now)?)
        .bind(ms(token.expires_at)?)
        .execute(&mut *tx)
        .await?;
        insert_mail_in(&mut tx, mail, now).await?;
        if let Some(entry) = audit {
            super::audit_in(&mut tx, entry, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues a mail.
    pub async fn enqueue_mail(&self, mail: &NewMail, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_mail_in(&mut conn, mail, now).await
    }

    /// The user whose token of `purpose` has hash `hash`, if the token is unused, unexpired,
    /// and the account still has the address it was sent to.
    pub async fn token_user(
        &self,
        purpose: TokenPurpose,
        hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        // A token belongs to an account while it has the address the token was sent to and
        // is neither disabled nor deleted; the compare-and-sets below say the same.
        let id: Option<String> = sqlx::query_scalar(
            "SELECT t.user_id FROM mail_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND t.purpose = ? AND t.used_at_ms IS NULL \
             AND t.expires_at_ms > ? \
             AND u.email = t.email AND u.disabled = 0 AND u.deleted_at_ms IS NULL",
        )
        .bind(hash.to_owned())
        .bind(purpose.as_str())
        .bind(ms(now)?)
        .fetch_optional(&self.pool)
        .await?;
        id.map(|id| parsed(&id, "user id")).transpose()
    }

    /// Uses a verification token up (compare-and-set): the address it was sent to is verified
    /// now, and the account's other verification links end. `None` when the token was not (or
    /// is no longer) good.
    pub async fn verify_email(
        &self,
        hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        let id: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM mail_tokens WHERE token_hash = ?")
                .bind(hash.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else { return Ok(None) };
        let user: UserId = parsed(&id, "user id")?;
        lock_user_in(&mut tx, self.engine, user).await?;
        let used = sqlx::query(
            "UPDATE mail_tokens SET used_at_ms = ? WHERE token_hash = ? AND purpose = ? \
             AND used_at_ms IS NULL AND expires_at_ms > ? AND EXISTS (SELECT 1 FROM users u \
             WHERE u.id = mail_tokens.user_id AND u.email = mail_tokens.email \
             AND u.disabled = 0 AND u.deleted_at_ms IS NULL)",
        )
        .bind(ms(now)?)
        .bind(hash.to_owned())
        .bind(TokenPurpose::VerifyEmail.as_str())
        .bind(ms(now)?)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        end_tokens_in(&mut tx, user, &[TokenPurpose::VerifyEmail], now).await?;
        sqlx::query("UPDATE users SET email_verified_at_ms = ? WHERE id = ?")
            .bind(ms(now)?)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Stores a new password and ends, in the same commit, everything the old one opened: every
    /// session but `keep_session`, every API key, every unused reset link. With a reset token,
    /// only if that token is still good, and it is used up (compare-and-set). `None` when it
    /// was not; otherwise how many sessions and keys ended.
    pub async fn replace_password(
        &self,
        change: &NewPassword<'_>,
        now: Timestamp,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        lock_user_in(&mut tx, self.engine, change.user).await?;
        if let Some(hash) = change.reset_token {
            let used = sqlx::query(
                "UPDATE mail_tokens SET used_at_ms = ? WHERE token_hash = ? AND purpose = ? \
                 AND user_id = ? AND used_at_ms IS NULL AND expires_at_ms > ? AND EXISTS \
                 (SELECT 1 FROM users u WHERE u.id = mail_tokens.user_id \
                 AND u.email = mail_tokens.email AND u.disabled = 0 AND u.deleted_at_ms IS NULL)",
            )
            .bind(ms(now)?)
            .bind(hash.to_owned())
            .bind(TokenPurpose::ResetPassword.as_str())
            .bind(change.user.to_string())
            .bind(ms(now)?)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Ok(None);
            }
        }
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(change.hash.to_owned())
            .bind(change.user.to_string())
            .execute(&mut *tx)
            .await?;
        end_tokens_in(&mut tx, change.user, &[TokenPurpose::ResetPassword], now).await?;
        let ended = super::admin::end_access_in(
            &mut tx,
            change.user,
            change.keep_session,
            change.reason,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    /// The oldest pending mail due at `now`.
    pub async fn due_mail(&self, now: Timestamp) -> Result<Option<DueMail>, StoreError> {
        let row = sqlx::query_as::<_, DueMailColumns>(
            "SELECT id, user_id, kind, sealed, attempts, expires_at_ms FROM mail_outbox \
             WHERE state = 'pending' AND next_attempt_at_ms <= ? \
             ORDER BY next_attempt_at_ms, id LIMIT 1",
        )
        .bind(ms(now)?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DueMail::try_from).transpose()
    }

    /// Claims an attempt at mail `id`, seen with `attempts` attempts (compare-and-set): counts
    /// it, and makes the mail due again at `retry_at` should this attempt fail or its process
    /// die. `false` when another process claimed it first.
    pub async fn claim_mail(
        &self,
        id: Uuid,
        attempts: u32,
        retry_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at_ms = ? \
             WHERE id = ? AND state = 'pending' AND attempts = ?",
        )
        .bind(ms(retry_at)?)
        .bind(id.to_string())
        .bind(i64::from(attempts))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends mail `id`: sent, or given up. Its message goes either way.
    pub async fn finish_mail(
        &self,
        id: Uuid,
        sent: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET state = ?, sealed = NULL, done_at_ms = ? \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(if sent { "sent" } else { "failed" })
        .bind(ms(now)?)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes at most `max` finished mails done before `before` and at most `max` tokens
    /// expired before `now`; returns how many rows went.
    pub async fn prune_mail(
        &self,
        before: Timestamp,
        now: Timestamp,
        max: u32,
    ) -> Result<u64, StoreError> {
        let mails = self
            .engine
            .delete_at_most("mail_outbox", "state <> 'pending' AND done_at_ms < ?");
        let tokens = self
            .engine
            .delete_at_most("mail_tokens", "expires_at_ms < ?");
        let mails = sqlx::query(sqlx::AssertSqlSafe(mails))
            .bind(ms(before)?)
            .bind(i64::from(max))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let tokens = sqlx::query(sqlx::AssertSqlSafe(tokens))
            .bind(ms(now)?)
            .bind(i64::from(max))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(mails.saturating_add(tokens))
    }

    /// Mails in the outbox by state, for tests and operators: `(pending, sent, failed)`.
    pub async fn mail_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) AS n FROM mail_outbox GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = (0, 0, 0);
        for (state, n) in rows {
            let n = unsigned(n, "n")?;
            match state.as_str() {
                "pending" => counts.0 = n,
                "sent" => counts.1 = n,
                "failed" => counts.2 = n,
                _ => return Err(StoreError::Corrupt("mail state")),
            }
        }
        Ok(counts)
    }
}
