//! Two-factor authentication: encrypted TOTP secrets, the replay guard, recovery codes.

use pupero_core::{Timestamp, UserId};

use super::convert::{flag, i64_of, ms, small, unsigned};
use super::{Store, StoreError};

/// A user's 2FA row.
#[derive(Debug, Clone)]
pub struct TotpRow {
    /// The TOTP secret, sealed with the data key (see `crypto`).
    pub secret_enc: String,
    /// Whether setup was confirmed and logins need a code.
    pub enabled: bool,
    /// The last time step whose code was accepted.
    pub last_used_step: Option<u64>,
}

/// What became of a new setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupOutcome {
    /// The new secret is stored, unconfirmed (it replaced an unconfirmed one, if any).
    Started,
    /// 2FA is on; disable it first.
    AlreadyEnabled,
}

fn step_value(step: u64) -> Result<i64, StoreError> {
    i64_of(step, "time step out of range")
}

/// A user's 2FA columns.
#[derive(sqlx::FromRow)]
struct TotpColumns {
    secret_enc: String,
    enabled: i64,
    last_used_step: Option<i64>,
}

impl TryFrom<TotpColumns> for TotpRow {
    type Error = StoreError;

    fn try_from(c: TotpColumns) -> Result<TotpRow, StoreError> {
        Ok(TotpRow {
            secret_enc: c.secret_enc,
            enabled: flag(c.enabled, "totp enabled")?,
            last_used_step: c
                .last_used_step
                .map(|s| unsigned(s, "negative time step"))
                .transpose()?,
        })
    }
}

impl Store {
    /// The user's 2FA row, if setup was ever started.
    pub async fn totp(&self, user: UserId) -> Result<Option<TotpRow>, StoreError> {
        let row = sqlx::query_as::<_, TotpColumns>(
            "SELECT secret_enc, enabled, last_used_step FROM user_totp WHERE user_id = ?",
        )
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TotpRow::try_from).transpose()
    }

    /// Stores a new, unconfirmed secret, replacing an unconfirmed one; refused while 2FA is on.
    pub async fn totp_start_setup(
        &self,
        user: UserId,
        secret_enc: &str,
        now: Timestamp,
    ) -> Result<SetupOutcome, StoreError> {
        // Update first, insert if there was nothing to update. Two attempts cover a concurrent
        // setup that inserted between our update and our insert.
        for _ in 0..2 {
            let updated = sqlx::query(
                "UPDATE user_totp SET secret_enc = ?, last_used_step = NULL, created_at_ms = ? \
                 WHERE user_id = ? AND enabled = 0",
            )
            .bind(secret_enc.to_owned())
            .bind(ms(now)?)
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
            if updated.rows_affected() == 1 {
                return Ok(SetupOutcome::Started);
            }
            let inserted = sqlx::query(
                "INSERT INTO user_totp (user_id, secret_enc, enabled, last_used_step, created_at_ms, enabled_at_ms) \
                 VALUES (?, ?, 0, NULL, ?, NULL)",
            )
            .bind(user.to_string())
            .bind(secret_enc.to_owned())
            .bind(ms(now)?)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(SetupOutcome::Started),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    if self.totp(user).await?.is_some_and(|row| row.enabled) {
                        return Ok(SetupOutcome::AlreadyEnabled);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(SetupOutcome::AlreadyEnabled)
    }

    /// Turns 2FA on with the code of time step `step`, if the stored secret is still
    /// `secret_enc` (no newer setup replaced it) and 2FA is off, and stores the recovery codes'
    /// hashes in place of any older ones. `false` when the row changed in between.
    pub async fn totp_enable(
        &self,
        user: UserId,
        secret_enc: &str,
        step: u64,
        recovery_hashes: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        let enabled = sqlx::query(
            "UPDATE user_totp SET enabled = 1, enabled_at_ms = ?, last_used_step = ? \
             WHERE user_id = ? AND enabled = 0 AND secret_enc = ?",
        )
        .bind(ms(now)?)
        .bind(step_value(step)?)
        .bind(user.to_string())
        .bind(secret_enc.to_owned())
        .execute(&mut *tx)
        .await?;
        if enabled.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO totp_recovery_codes (code_hash, user_id, used_at_ms) VALUES (?, ?, NULL)")
                .bind(hash.clone())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The replay guard: records that the code of time step `step` was used, if no code of this
    /// or a later step was accepted before. A compare-and-set, so of two concurrent uses of one
    /// code exactly one passes.
    pub async fn totp_use_step(&self, user: UserId, step: u64) -> Result<bool, StoreError> {
        let step = step_value(step)?;
        let marked = sqlx::query(
            "UPDATE user_totp SET last_used_step = ? WHERE user_id = ? AND enabled = 1 \
             AND (last_used_step IS NULL OR last_used_step < ?)",
        )
        .bind(step)
        .bind(user.to_string())
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(marked.rows_affected() == 1)
    }

    /// Uses the recovery code with hash `code_hash` once; `false` when unknown or used.
    pub async fn totp_use_recovery_code(
        &self,
        user: UserId,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let marked = sqlx::query(
            "UPDATE totp_recovery_codes SET used_at_ms = ? \
             WHERE code_hash = ? AND user_id = ? AND used_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(code_hash.to_owned())
        .bind(user.to_string())
        .execute(&self.pool)
        .await?;
        Ok(marked.rows_affected() == 1)
    }

    /// Recovery codes of the user not used yet.
    pub async fn totp_recovery_codes_left(&self, user: UserId) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = ? AND used_at_ms IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(&self.pool)
        .await?;
        small(count, "recovery code count")
    }

    /// Turns 2FA off: forgets the secret and the recovery codes.
    pub async fn totp_disable(&self, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM user_totp WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
