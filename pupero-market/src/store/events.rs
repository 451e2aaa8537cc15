//! Reading and pruning users' events. They are written only by
//! [`insert_events_in`](crate::events::insert_events_in), in the transaction of the change they
//! report.

use pupero_core::{Timestamp, UserId};
use uuid::Uuid;

use super::convert::{flag, ms, parsed, time, unsigned};
use super::{Store, StoreError};
use crate::events::StoredEvent;

/// An event's columns as read.
#[derive(sqlx::FromRow)]
struct EventColumns {
    seq: i64,
    kind: String,
    trade_id: Option<String>,
    payload: String,
    created_at_ms: i64,
}

impl TryFrom<EventColumns> for StoredEvent {
    type Error = StoreError;

    fn try_from(c: EventColumns) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            seq: unsigned(c.seq, "event seq")?,
            kind: c.kind,
            trade: c
                .trade_id
                .map(|t| parsed(&t, "event trade id"))
                .transpose()?,
            payload: serde_json::from_str(&c.payload)
                .ok()
                .filter(serde_json::Value::is_object)
                .ok_or(StoreError::Corrupt("event payload"))?,
            created_at: time(c.created_at_ms, "event time")?,
        })
    }
}

impl Store {
    /// `user`'s events with a seq above `after`, in order, at most `limit`.
    pub async fn events_after(
        &self,
        user: UserId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let after = i64::try_from(after).map_err(|_| StoreError::Corrupt("cursor out of range"))?;
        let rows = sqlx::query_as::<_, EventColumns>(
            "SELECT seq, kind, trade_id, payload, created_at_ms FROM user_events \
             WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(user.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    /// Deletes at most `max` events recorded before `before`; returns how many it deleted.
    /// Users' heads stay, so sequences continue where they were.
    pub async fn prune_events(&self, before: Timestamp, max: u32) -> Result<u64, StoreError> {
        let sql = self
            .engine
            .delete_at_most("user_events", "created_at_ms < ?");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(before)?)
            .bind(i64::from(max))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether API key `id` of `user` still works: not revoked, its user not disabled.
    pub async fn api_key_active(&self, id: Uuid, user: UserId) -> Result<bool, StoreError> {
        let row: Option<(Option<i64>, i64)> = sqlx::query_as(
            "SELECT k.revoked_at_ms, u.disabled FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.id = ? AND k.user_id = ?",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some((revoked, disabled)) = row else {
            return Ok(false);
        };
        Ok(revoked.is_none() && !flag(disabled, "disabled")?)
    }
}
