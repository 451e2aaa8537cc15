//! What operators watch, read in a handful of statements when metrics are scraped.

use super::convert::unsigned;
use super::{Store, StoreError};

const ROW: &str = "a gauge";

/// Counts and ages of the platform's moving parts, as the database has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Trades per state.
    pub trades: Vec<(String, u64)>,
    /// Withdrawals per state.
    pub withdrawals: Vec<(String, u64)>,
    /// When the oldest withdrawal still `requested` was asked for, unix ms.
    pub oldest_requested_withdrawal_ms: Option<i64>,
    /// Messages of the outbox not yet confirmed by the broker.
    pub outbox_unpublished: u64,
    /// When the oldest of them was written, unix ms.
    pub oldest_unpublished_ms: Option<i64>,
    /// Mails not yet handed to the relay.
    pub mails_unsent: u64,
    /// Rows of the Matrix bridge's outbox not yet sent.
    pub matrix_unsent: u64,
    /// Until when the withdrawal worker's lease runs, unix ms, if a worker holds it.
    pub lease_expires_ms: Option<i64>,
}

impl Store {
    /// The gauges, each counted by an index.
    pub async fn gauges(&self) -> Result<Gauges, StoreError> {
        let by_state = |sql: &'static str| async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
            rows.into_iter()
                .map(|(state, n)| Ok((state, unsigned(n, ROW)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        };
        let trades = by_state("SELECT state, COUNT(*) FROM trades GROUP BY state").await?;
        let withdrawals =
            by_state("SELECT state, COUNT(*) FROM withdrawals GROUP BY state").await?;
        let oldest_requested_withdrawal_ms: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(requested_at_ms) FROM withdrawals WHERE state = 'requested'",
        )
        .fetch_one(&self.pool)
        .await?;
        let (unpublished, oldest_unpublished_ms): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at_ms) FROM outbox WHERE published_at_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let unsent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        let matrix_unsent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM matrix_outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        let lease: Option<(String, i64)> = sqlx::query_as(
            "SELECT holder, expires_at_ms FROM worker_leases WHERE name = 'withdrawals'",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(Gauges {
            lease_expires_ms: lease
                .filter(|(holder, _)| !holder.is_empty())
                .map(|(_, expires)| expires),
            trades,
            withdrawals,
            oldest_requested_withdrawal_ms,
            outbox_unpublished: unsigned(unpublished, ROW)?,
            oldest_unpublished_ms,
            mails_unsent: unsigned(unsent, ROW)?,
            matrix_unsent: unsigned(matrix_unsent, ROW)?,
        })
    }
}
