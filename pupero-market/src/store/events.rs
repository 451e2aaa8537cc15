//! Reading and pruning users' events. They are written only by
//! [`insert_events_in`](crate::events::insert_events_in), in the transaction of the change they
//! report.

use pupero_core::{Timestamp, UserId};
use pupero_ledger::Engine;
use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError, ms};
use crate::events::StoredEvent;

impl Store {
    /// `user`'s events with a seq above `after`, in order, at most `limit`.
    pub async fn events_after(
        &self,
        user: UserId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let after = i64::try_from(after).map_err(|_| StoreError::Corrupt("cursor out of range"))?;
        let rows = sqlx::query(
            "SELECT seq, kind, trade_id, payload, created_at_ms FROM user_events \
             WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(user.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let trade: Option<String> = row.try_get(2)?;
                let payload: String = row.try_get(3)?;
                let created: i64 = row.try_get(4)?;
                Ok(StoredEvent {
                    seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("event seq"))?,
                    kind: row.try_get(1)?,
                    trade: trade
                        .map(|t| t.parse())
                        .transpose()
                        .map_err(|_| StoreError::Corrupt("event trade id"))?,
                    payload: serde_json::from_str(&payload)
                        .ok()
                        .filter(serde_json::Value::is_object)
                        .ok_or(StoreError::Corrupt("event payload"))?,
                    created_at: Timestamp::try_from(created)
                        .map_err(|_| StoreError::Corrupt("event time"))?,
                })
            })
            .collect()
    }

    /// Deletes at most `max` events recorded before `before`; returns how many it deleted.
    /// Users' heads stay, so sequences continue where they were.
    pub async fn prune_events(&self, before: Timestamp, max: u32) -> Result<u64, StoreError> {
        let sql = match self.engine {
            // SQLite has no DELETE ... LIMIT unless compiled with it.
            Engine::Sqlite => {
                "DELETE FROM user_events WHERE rowid IN \
                 (SELECT rowid FROM user_events WHERE created_at_ms < ? LIMIT ?)"
            }
            Engine::MySql => "DELETE FROM user_events WHERE created_at_ms < ? LIMIT ?",
        };
        let done = sqlx::query(sql)
            .bind(ms(before)?)
            .bind(i64::from(max))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether API key `id` of `user` still works: not revoked, its user not disabled.
    pub async fn api_key_active(&self, id: Uuid, user: UserId) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT k.revoked_at_ms, u.disabled FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.id = ? AND k.user_id = ?",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let revoked: Option<i64> = row.try_get(0)?;
        let disabled: i64 = row.try_get(1)?;
        Ok(revoked.is_none() && disabled == 0)
    }
}
