//! The `login_throttle` table: failed guesses and lockouts per login identifier, shared by every
//! process on the database and kept across restarts. The rules (how long a lock lasts) live in
//! [`crate::ratelimit`]; this file only reads and writes rows, one key at a time, under a lock.

use pupero_core::Timestamp;
use pupero_ledger::Engine;

use super::convert::{ms, small, time, time_opt};
use super::{Store, StoreError};

/// Longest key stored; the column is `VARCHAR(254)`.
pub const MAX_THROTTLE_KEY_LEN: usize = 254;

/// What the table says about one key. A key without a row is [`ThrottleState::FRESH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Failed attempts since the last success (or since the count was forgotten).
    pub failures: u32,
    /// Attempts are refused until then.
    pub locked_until: Option<Timestamp>,
    /// When the row last changed.
    pub updated_at: Timestamp,
}

impl ThrottleState {
    /// No failures, no lock.
    pub const FRESH: ThrottleState = ThrottleState {
        failures: 0,
        locked_until: None,
        updated_at: Timestamp::EPOCH,
    };
}

/// A key's columns.
#[derive(sqlx::FromRow)]
struct ThrottleColumns {
    failures: i64,
    locked_until_ms: Option<i64>,
    updated_at_ms: i64,
}

impl TryFrom<ThrottleColumns> for ThrottleState {
    type Error = StoreError;

    fn try_from(c: ThrottleColumns) -> Result<ThrottleState, StoreError> {
        Ok(ThrottleState {
            failures: small(c.failures, "throttle failures")?,
            locked_until: time_opt(c.locked_until_ms, "throttle lock")?,
            updated_at: time(c.updated_at_ms, "throttle time")?,
        })
    }
}

/// What to do with a key's row after deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleWrite {
    /// Leave it as it was.
    Keep,
    /// Store this state.
    Put(ThrottleState),
}

impl Store {
    /// Reads the state of `key`, lets `decide` choose what to store and what to answer, and
    /// writes its choice, all in one transaction that holds the row's lock: two processes
    /// counting guesses at the same account never lose a count.
    pub async fn throttle_update<T>(
        &self,
        key: &str,
        now: Timestamp,
        decide: impl FnOnce(ThrottleState) -> (ThrottleWrite, T),
    ) -> Result<T, StoreError> {
        if key.is_empty() || key.len() > MAX_THROTTLE_KEY_LEN {
            return Err(StoreError::Corrupt("throttle key length"));
        }
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        // The row exists from here on, so the locking read below locks a record, not a gap: two
        // first attempts at a new key then queue instead of deadlocking. (MariaDB's no-op
        // update takes the row's exclusive lock at once, where `INSERT IGNORE` would take a
        // shared one that two transactions could not both upgrade.)
        let ensure = match self.engine {
            Engine::Sqlite => {
                "INSERT INTO login_throttle (login_key, failures, locked_until_ms, updated_at_ms) \
                 VALUES (?, 0, NULL, ?) ON CONFLICT (login_key) DO NOTHING"
            }
            Engine::MySql => {
                "INSERT INTO login_throttle (login_key, failures, locked_until_ms, updated_at_ms) \
                 VALUES (?, 0, NULL, ?) ON DUPLICATE KEY UPDATE login_key = login_key"
            }
        };
        sqlx::query(ensure)
            .bind(key.to_owned())
            .bind(ms(now)?)
            .execute(&mut *tx)
            .await?;
        let select = format!(
            "SELECT failures, locked_until_ms, updated_at_ms FROM login_throttle WHERE login_key = ?{}",
            self.engine.lock_rows()
        );
        let current: ThrottleState =
            sqlx::query_as::<_, ThrottleColumns>(sqlx::AssertSqlSafe(select))
                .bind(key.to_owned())
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
        let (write, answer) = decide(current);
        if let ThrottleWrite::Put(next) = write {
            sqlx::query(
                "UPDATE login_throttle SET failures = ?, locked_until_ms = ?, updated_at_ms = ? \
                 WHERE login_key = ?",
            )
            .bind(i64::from(next.failures))
            .bind(next.locked_until.map(ms).transpose()?)
            .bind(ms(next.updated_at)?)
            .bind(key.to_owned())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// Forgets the failures of `key` (a success).
    pub async fn throttle_reset(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE login_key = ?")
            .bind(key.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the rows untouched since `quiet_since` whose lock (if any) is over by `now`;
    /// returns how many. Keeps the table as small as the guessing of the last day.
    pub async fn throttle_prune(
        &self,
        quiet_since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM login_throttle WHERE updated_at_ms < ? \
             AND (locked_until_ms IS NULL OR locked_until_ms <= ?)",
        )
        .bind(ms(quiet_since)?)
        .bind(ms(now)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
