//! Administration and self-service changes of users.

use pupero_core::{EmailAddress, Role, Timestamp, UserId, Username};
use uuid::Uuid;

use super::convert::{ms, unsigned};
use super::{Store, StoreError, USER_COLUMNS, UserColumns, UserRow};

/// Why an e-mail change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailTaken;

/// What an e-mail change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChange {
    /// The address before, and whether it was verified.
    pub previous: Option<(String, bool)>,
    /// Whether the address changed at all (setting the same one again changes nothing).
    pub changed: bool,
}

/// Ends every way into the account but the session `keep`, in the caller's transaction: all
/// its other sessions and all its API keys. See [`Store::end_access`].
pub(crate) async fn end_access_in(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    keep: Option<Uuid>,
    reason: &'static str,
    now: Timestamp,
) -> Result<(u64, u64), StoreError> {
    let sessions = sqlx::query(
        "UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? \
         WHERE user_id = ? AND revoked_at_ms IS NULL AND id <> ?",
    )
    .bind(ms(now)?)
    .bind(reason)
    .bind(user.to_string())
    .bind(keep.map_or_else(String::new, |k| k.to_string()))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let keys = sqlx::query(
        "UPDATE api_keys SET revoked_at_ms = ? WHERE user_id = ? AND revoked_at_ms IS NULL",
    )
    .bind(ms(now)?)
    .bind(user.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((sessions, keys))
}

impl Store {
    /// Users ordered by username key, after `after` (a username key), optionally those whose
    /// username starts with `prefix`.
    pub async fn list_users(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRow>, StoreError> {
        // Username keys are ASCII, and so is their column, which MariaDB refuses to compare with
        // other text. No key starts with such text, and every key sorts before it.
        if !prefix.unwrap_or("").is_ascii() || !after.unwrap_or("").is_ascii() {
            return Ok(Vec::new());
        }
        // `prefix` is escaped for LIKE so `_` and `%` in a search match themselves. The escape
        // character is `!`: a backslash means different things in SQLite and MariaDB literals.
        let escaped: String = prefix
            .unwrap_or("")
            .to_ascii_lowercase()
            .chars()
            .flat_map(|c| {
                if matches!(c, '!' | '%' | '_') {
                    vec!['!', c]
                } else {
                    vec![c]
                }
            })
            .collect();
        let pattern = format!("{escaped}%");
        let rows = sqlx::query_as::<_, UserColumns>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users \
             WHERE username_key LIKE ? ESCAPE '!' AND username_key > ? ORDER BY username_key LIMIT ?"
        )))
        .bind(pattern)
        .bind(after.unwrap_or("").to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(UserRow::try_from).collect()
    }

    /// The user with this username (any case); `None` for text that is no username at all.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        // Parsed rather than sent as it came: usernames are ASCII and so is their column, which
        // MariaDB refuses to compare with other text.
        let Ok(username) = Username::parse(username) else {
            return Ok(None);
        };
        let row = sqlx::query_as::<_, UserColumns>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_key = ? AND deleted_at_ms IS NULL"
        )))
        .bind(username.key())
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::try_from).transpose()
    }

    /// Sets a user's role; `false` when there is no such user.
    pub async fn set_role(&self, user: UserId, role: Role) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET role = ? WHERE id = ? AND deleted_at_ms IS NULL")
            .bind(role.as_str())
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Disables or enables a user; `false` when there is no such user.
    pub async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET disabled = ? WHERE id = ? AND deleted_at_ms IS NULL")
                .bind(i64::from(disabled))
                .bind(user.to_string())
                .execute(&self.pool)
                .await?;
        self.market_changed();
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of `user` except `keep`; returns how many ended.
    pub async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<Uuid>,
        reason: &'static str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? \
             WHERE user_id = ? AND revoked_at_ms IS NULL AND id <> ?",
        )
        .bind(ms(now)?)
        .bind(reason)
        .bind(user.to_string())
        .bind(keep.map_or_else(String::new, |k| k.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Ends every way into the account but the session `keep`: all its other sessions and all
    /// its API keys, in one transaction. What a password change, a forced logout, disabling
    /// and "log out everywhere" do: a key made by whoever held a stolen session must not
    /// outlive the owner's reaction.
    pub async fn end_access(
        &self,
        user: UserId,
        keep: Option<Uuid>,
        reason: &'static str,
        now: Timestamp,
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        let ended = end_access_in(&mut tx, user, keep, reason, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets or clears the e-mail address, unless another user has it. A new address starts
    /// unverified, and every link sent to the old one ends with it (in the same commit).
    pub async fn set_email(
        &self,
        user: UserId,
        email: Option<&EmailAddress>,
        now: Timestamp,
    ) -> Result<Result<EmailChange, EmailTaken>, StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        super::recovery::lock_user_in(&mut tx, self.engine, user).await?;
        let row: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT email, email_verified_at_ms FROM users WHERE id = ?")
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let previous = row.and_then(|(email, verified)| email.map(|e| (e, verified.is_some())));
        let new = email.map(|e| e.as_str().to_owned());
        if previous.as_ref().map(|(old, _)| old) == new.as_ref() {
            return Ok(Ok(EmailChange {
                previous,
                changed: false,
            }));
        }
        let done =
            sqlx::query("UPDATE users SET email = ?, email_verified_at_ms = NULL WHERE id = ?")
                .bind(new)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await;
        match done {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(Err(EmailTaken)),
            Err(e) => return Err(e.into()),
        }
        super::recovery::end_all_tokens_in(&mut tx, user, now).await?;
        tx.commit().await?;
        Ok(Ok(EmailChange {
            previous,
            changed: true,
        }))
    }

    /// Deletes an account: personal data goes, the row stays (history refers to it), every
    /// session ends, the password can never match again. The username stays reserved so nobody
    /// can take over a name others traded with. API keys are revoked with the sessions.
    pub async fn delete_user(&self, user: UserId, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE users SET email = NULL, email_verified_at_ms = NULL, password_hash = '!', \
             disabled = 1, deleted_at_ms = ? \
             WHERE id = ? AND deleted_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET revoked_at_ms = ?, revoked_reason = 'deleted' WHERE user_id = ? AND revoked_at_ms IS NULL")
            .bind(ms(now)?)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = ? WHERE user_id = ? AND revoked_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        // Nobody can trade with an account that is gone.
        sqlx::query(
            "UPDATE offers SET status = 'deleted', updated_at_ms = ?, revision = revision + 1 WHERE owner_id = ? AND status <> 'deleted'",
        )
        .bind(ms(now)?)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.market_changed();
        Ok(())
    }

    /// How many users have `role` and are enabled.
    pub async fn count_active_with_role(&self, role: Role) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0 AND deleted_at_ms IS NULL",
        )
        .bind(role.as_str())
        .fetch_one(&self.pool)
        .await?;
        unsigned(n, "count")
    }
}
