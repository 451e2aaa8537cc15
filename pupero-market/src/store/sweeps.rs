//! Sweep transactions as stored.

use pupero_core::sweep::{Sweep, SweepState};
use pupero_core::wallet::Txid;
use pupero_core::{Piconero, Timestamp};
use sqlx::AnyConnection;

use super::convert::{amount, failure_reason, i64_of, ms, small, sql_amount, time, unsigned};
use super::{Store, StoreError};

/// A sweep transaction as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepRow {
    /// The transaction id, lowercase hex.
    pub txid: String,
    /// The wallet account it consolidated.
    pub account: u32,
    /// Its secret key (hex).
    pub tx_key: String,
    /// The signed transaction, as `relay_tx` takes it (hex).
    pub tx_metadata: String,
    /// What it pays to the wallet's own primary address.
    pub amount: Piconero,
    /// Its network fee: the platform's expense.
    pub fee: Piconero,
    /// Where it stands.
    pub state: SweepState,
    /// How often relaying was tried.
    pub relay_attempts: u64,
    /// The block that mined it.
    pub height: Option<u64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When it was built.
    pub created_at: Timestamp,
}

impl SweepRow {
    /// The sweep as the core's state machine takes it, which decides every step.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a txid that is not one.
    pub fn machine(&self) -> Result<Sweep, StoreError> {
        let txid = Txid::from_hex(&self.txid).ok_or(StoreError::Corrupt("sweep txid"))?;
        Ok(Sweep::restore(txid, self.fee, self.state, self.created_at))
    }
}

/// The columns of [`SweepColumns`].
const SWEEP_COLUMNS: &str = "txid, account_index, tx_key, tx_metadata, amount_piconero, \
     fee_piconero, state, relay_attempts, height, failure, created_at_ms";

/// A sweep transaction's columns ([`SWEEP_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct SweepColumns {
    txid: String,
    account_index: i64,
    tx_key: String,
    tx_metadata: String,
    amount_piconero: i64,
    fee_piconero: i64,
    state: String,
    relay_attempts: i64,
    height: Option<i64>,
    failure: Option<String>,
    created_at_ms: i64,
}

impl TryFrom<SweepColumns> for SweepRow {
    type Error = StoreError;

    fn try_from(c: SweepColumns) -> Result<SweepRow, StoreError> {
        Ok(SweepRow {
            txid: c.txid,
            account: small(c.account_index, "account_index")?,
            tx_key: c.tx_key,
            tx_metadata: c.tx_metadata,
            amount: amount(c.amount_piconero, "amount_piconero")?,
            fee: amount(c.fee_piconero, "fee_piconero")?,
            state: SweepState::parse(&c.state).ok_or(StoreError::Corrupt("sweep state"))?,
            relay_attempts: unsigned(c.relay_attempts, "relay_attempts")?,
            height: c.height.map(|h| unsigned(h, "height")).transpose()?,
            failure: c.failure,
            created_at: time(c.created_at_ms, "created_at_ms")?,
        })
    }
}

/// Moves sweep `txid` from `from` to `to` (as [`Sweep::apply`] decided it) in the caller's
/// transaction (the ledger writer's, with the fee's booking); false, with nothing changed, if
/// it was not in `from`.
pub async fn move_sweep_in(
    conn: &mut AnyConnection,
    txid: &str,
    from: SweepState,
    to: SweepState,
    height: Option<u64>,
    failure: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    assert!(from.may_become(to), "{from:?} -> {to:?}");
    let moved = sqlx::query(
        "UPDATE sweeps SET state = ?, height = COALESCE(?, height), \
         failure = COALESCE(?, failure), updated_at_ms = ? WHERE txid = ? AND state = ?",
    )
    .bind(to.as_str())
    .bind(height.map(|h| i64_of(h, "height")).transpose()?)
    .bind(failure.map(failure_reason))
    .bind(ms(now)?)
    .bind(txid.to_owned())
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

impl Store {
    /// Records the transactions of one sweep, built and not yet relayed, as `signed`: all of
    /// them or none.
    pub async fn record_signed_sweeps(
        &self,
        sweeps: &[SweepRow],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut db = self.begin_write().await?;
        for sweep in sweeps {
            debug_assert_eq!(sweep.state, SweepState::Signed);
            sqlx::query(
                "INSERT INTO sweeps (txid, account_index, tx_key, tx_metadata, amount_piconero, \
                 fee_piconero, state, relay_attempts, height, failure, created_at_ms, \
                 updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, 'signed', 0, NULL, NULL, ?, ?)",
            )
            .bind(sweep.txid.clone())
            .bind(i64::from(sweep.account))
            .bind(sweep.tx_key.clone())
            .bind(sweep.tx_metadata.clone())
            .bind(sql_amount(sweep.amount)?)
            .bind(sql_amount(sweep.fee)?)
            .bind(ms(sweep.created_at)?)
            .bind(ms(now)?)
            .execute(&mut *db)
            .await?;
        }
        db.commit().await?;
        Ok(())
    }

    /// Sweeps in `state`, oldest first, at most `limit`.
    pub async fn sweeps_in(
        &self,
        state: SweepState,
        limit: usize,
    ) -> Result<Vec<SweepRow>, StoreError> {
        let sql = format!(
            "SELECT {SWEEP_COLUMNS} FROM sweeps WHERE state = ? \
             ORDER BY created_at_ms, txid LIMIT ?"
        );
        let rows = sqlx::query_as::<_, SweepColumns>(sqlx::AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(SweepRow::try_from).collect()
    }

    /// One sweep transaction.
    pub async fn sweep(&self, txid: &str) -> Result<Option<SweepRow>, StoreError> {
        let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE txid = ?");
        let row = sqlx::query_as::<_, SweepColumns>(sqlx::AssertSqlSafe(sql))
            .bind(txid.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        row.map(SweepRow::try_from).transpose()
    }

    /// Counts one more relay attempt of sweep `txid` if it may still be relayed
    /// ([`SweepState::may_relay`]), before the relay; false (nothing counted, nothing to relay)
    /// when it moved to a final state meanwhile.
    pub async fn count_sweep_relay(&self, txid: &str, now: Timestamp) -> Result<bool, StoreError> {
        let counted = sqlx::query(
            "UPDATE sweeps SET relay_attempts = relay_attempts + 1, updated_at_ms = ? \
             WHERE txid = ? AND state IN (?, ?)",
        )
        .bind(ms(now)?)
        .bind(txid.to_owned())
        .bind(SweepState::Signed.as_str())
        .bind(SweepState::Broadcast.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        debug_assert!(SweepState::Signed.may_relay() && SweepState::Broadcast.may_relay());
        Ok(counted == 1)
    }

    /// Moves sweep `txid` from `from` to `to` when the move books nothing (mined, or failed
    /// before its fee was booked); false if it was not in `from`.
    pub async fn move_sweep(
        &self,
        txid: &str,
        from: SweepState,
        to: SweepState,
        height: Option<u64>,
        failure: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        move_sweep_in(&mut conn, txid, from, to, height, failure, now).await
    }
}
