//! Withdrawals, the transactions paying them, the outbox and the worker lease.

use pupero_core::limits::MAX_REFUNDABLE_RELAY_ATTEMPTS;
use pupero_core::withdrawal::{Holds, Withdrawal, WithdrawalRecord};
use pupero_core::{Piconero, Timestamp, UserId, WithdrawalState};
use pupero_ledger::dialect::placeholders;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::convert::{
    CountAndSum, amount, failure_reason, flag, i64_of, ms, parsed, sql_amount, time, unsigned,
};
use super::{Store, StoreError};

/// The most withdrawals one user's page lists.
pub const MAX_WITHDRAWALS_PER_PAGE: u32 = 100;

/// The outbox topic of withdrawals: the payload is the withdrawal id.
pub const TOPIC_WITHDRAWAL: &str = "withdrawal";

/// The outbox topic of an operator's re-drive: the payload is the withdrawal id.
pub const TOPIC_REDRIVE: &str = "withdrawal.redrive";

/// A withdrawal as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRow {
    /// Its id, derived from the user and the idempotency key.
    pub id: Uuid,
    /// Whose.
    pub user: UserId,
    /// SHA-256 of the request, to tell a retry from another request under the same key.
    pub request_hash: String,
    /// Where to, as the user gave it (parsed for the network when requested).
    pub destination: String,
    /// The amount held: what the destination receives, or for a withdrawal of everything
    /// ([`WithdrawalRow::send_all`]) the least it receives ([`WithdrawalRow::receives`]).
    pub amount: Piconero,
    /// The fee reserve held with it: the most network fee it is charged.
    pub max_fee: Piconero,
    /// Whether it sends everything held but its fee share.
    pub send_all: bool,
    /// Where it stands.
    pub state: WithdrawalState,
    /// The transaction paying it, once signed.
    pub tx: Option<Uuid>,
    /// Its share of the transaction's fee, once signed.
    pub fee: Option<Piconero>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When requested.
    pub requested_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

impl WithdrawalRow {
    /// What it holds, as the core's rules take it.
    pub fn holds(&self) -> Holds {
        Holds::new(self.amount, self.max_fee, self.send_all)
    }

    /// The withdrawal as the core's state machine takes it, which decides every step.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a row no withdrawal could have become (a transaction
    /// without its fee share, a fee share above the reserve, a state that disagrees with them).
    pub fn machine(&self) -> Result<Withdrawal, StoreError> {
        Withdrawal::restore(WithdrawalRecord {
            id: self.id,
            user: self.user,
            holds: self.holds(),
            state: self.state,
            tx: self.tx,
            fee: self.fee,
        })
        .map_err(|e| StoreError::Corrupt(e.0))
    }

    /// What the destination receives: once its fee share is known, what the holds send with
    /// it; before, the amount held.
    pub fn receives(&self) -> Piconero {
        self.fee
            .and_then(|fee| self.holds().sends(fee))
            .unwrap_or(self.amount)
    }
}

/// A transaction paying withdrawals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalTxRow {
    /// Our id of it.
    pub id: Uuid,
    /// The transaction id, lowercase hex.
    pub txid: String,
    /// Its secret key, the payment proof (hex).
    pub tx_key: String,
    /// The signed transaction, as `relay_tx` takes it (hex).
    pub tx_metadata: String,
    /// The whole network fee.
    pub fee: Piconero,
    /// `signed`, `broadcast`, `confirmed` or `failed`.
    pub state: WithdrawalState,
    /// How often relaying was tried.
    pub relay_attempts: u64,
    /// The block that mined it.
    pub height: Option<u64>,
    /// When it was built.
    pub created_at: Timestamp,
}

fn state_of(text: &str) -> Result<WithdrawalState, StoreError> {
    WithdrawalState::parse(text).ok_or(StoreError::Corrupt("withdrawal state"))
}

/// The columns of [`WithdrawalColumns`].
const WITHDRAWAL_COLUMNS: &str = "id, user_id, request_hash, destination, amount_piconero, \
     max_fee_piconero, send_all, state, tx_id, fee_piconero, failure, requested_at_ms, \
     updated_at_ms";

/// A withdrawal's columns ([`WITHDRAWAL_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct WithdrawalColumns {
    id: String,
    user_id: String,
    request_hash: String,
    destination: String,
    amount_piconero: i64,
    max_fee_piconero: i64,
    send_all: i64,
    state: String,
    tx_id: Option<String>,
    fee_piconero: Option<i64>,
    failure: Option<String>,
    requested_at_ms: i64,
    updated_at_ms: i64,
}

impl TryFrom<WithdrawalColumns> for WithdrawalRow {
    type Error = StoreError;

    fn try_from(c: WithdrawalColumns) -> Result<WithdrawalRow, StoreError> {
        Ok(WithdrawalRow {
            id: parsed(&c.id, "withdrawal id")?,
            user: parsed(&c.user_id, "user_id")?,
            request_hash: c.request_hash,
            destination: c.destination,
            amount: amount(c.amount_piconero, "amount_piconero")?,
            max_fee: amount(c.max_fee_piconero, "max_fee_piconero")?,
            send_all: flag(c.send_all, "send_all")?,
            state: state_of(&c.state)?,
            tx: c.tx_id.map(|t| parsed(&t, "tx_id")).transpose()?,
            fee: c
                .fee_piconero
                .map(|f| amount(f, "fee_piconero"))
                .transpose()?,
            failure: c.failure,
            requested_at: time(c.requested_at_ms, "requested_at_ms")?,
            updated_at: time(c.updated_at_ms, "updated_at_ms")?,
        })
    }
}

/// The columns of [`TxColumns`].
const TX_COLUMNS: &str = "id, txid, tx_key, tx_metadata, fee_piconero, state, relay_attempts, \
     height, created_at_ms";

/// A withdrawal transaction's columns ([`TX_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct TxColumns {
    id: String,
    txid: String,
    tx_key: String,
    tx_metadata: String,
    fee_piconero: i64,
    state: String,
    relay_attempts: i64,
    height: Option<i64>,
    created_at_ms: i64,
}

impl TryFrom<TxColumns> for WithdrawalTxRow {
    type Error = StoreError;

    fn try_from(c: TxColumns) -> Result<WithdrawalTxRow, StoreError> {
        Ok(WithdrawalTxRow {
            id: parsed(&c.id, "withdrawal tx id")?,
            txid: c.txid,
            tx_key: c.tx_key,
            tx_metadata: c.tx_metadata,
            fee: amount(c.fee_piconero, "fee_piconero")?,
            state: state_of(&c.state)?,
            relay_attempts: unsigned(c.relay_attempts, "relay_attempts")?,
            height: c.height.map(|h| unsigned(h, "height")).transpose()?,
            created_at: time(c.created_at_ms, "created_at_ms")?,
        })
    }
}

/// Records a new withdrawal and its outbox message in the caller's transaction (the ledger
/// writer's, with its holds); false if the id exists (a replayed request).
pub async fn insert_withdrawal_in(
    conn: &mut AnyConnection,
    row: &WithdrawalRow,
    idem_key: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO withdrawals (id, user_id, idem_key, request_hash, destination, \
         amount_piconero, max_fee_piconero, send_all, state, tx_id, fee_piconero, failure, \
         requested_at_ms, updated_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?)",
    )
    .bind(row.id.to_string())
    .bind(row.user.to_string())
    .bind(idem_key.to_owned())
    .bind(row.request_hash.clone())
    .bind(row.destination.clone())
    .bind(sql_amount(row.amount)?)
    .bind(sql_amount(row.max_fee)?)
    .bind(i64::from(row.send_all))
    .bind(row.state.as_str())
    .bind(ms(row.requested_at)?)
    .bind(ms(row.updated_at)?)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    sqlx::query(
        "INSERT INTO outbox (topic, payload, created_at_ms, published_at_ms) \
         VALUES (?, ?, ?, NULL)",
    )
    .bind(TOPIC_WITHDRAWAL)
    .bind(row.id.to_string())
    .bind(ms(row.requested_at)?)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Moves transaction `tx` and its withdrawals from `from` to `to` (as the core decided it,
/// [`WithdrawalState::after`]) in the caller's transaction; false (nothing changed) if the
/// transaction was not in `from`. To `failed`, only if it was relayed at most
/// [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] times, counted in the same statement: a relay counted
/// meanwhile ([`Store::count_relay_attempt`]) and this refund exclude each other.
pub async fn move_tx_in(
    conn: &mut AnyConnection,
    tx: Uuid,
    from: WithdrawalState,
    to: WithdrawalState,
    height: Option<u64>,
    failure: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    assert!(from.may_become(to), "{from:?} -> {to:?}");
    let max_attempts = if to == WithdrawalState::Failed {
        i64_of(MAX_REFUNDABLE_RELAY_ATTEMPTS, "relay attempts")?
    } else {
        i64::MAX
    };
    let moved = sqlx::query(
        "UPDATE withdrawal_txs SET state = ?, height = COALESCE(?, height), updated_at_ms = ? \
         WHERE id = ? AND state = ? AND relay_attempts <= ?",
    )
    .bind(to.as_str())
    .bind(height.map(|h| i64_of(h, "height")).transpose()?)
    .bind(ms(now)?)
    .bind(tx.to_string())
    .bind(from.as_str())
    .bind(max_attempts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE withdrawals SET state = ?, failure = COALESCE(?, failure), updated_at_ms = ? \
         WHERE tx_id = ? AND state = ?",
    )
    .bind(to.as_str())
    .bind(failure.map(failure_reason))
    .bind(ms(now)?)
    .bind(tx.to_string())
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Marks a refused request failed without a transaction (`requested` → `failed`); false if
/// it was no longer requested.
pub async fn fail_requested_in(
    conn: &mut AnyConnection,
    id: Uuid,
    failure: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE withdrawals SET state = ?, failure = ?, updated_at_ms = ? \
         WHERE id = ? AND state = ?",
    )
    .bind(WithdrawalState::Failed.as_str())
    .bind(failure_reason(failure))
    .bind(ms(now)?)
    .bind(id.to_string())
    .bind(WithdrawalState::Requested.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

impl Store {
    /// One withdrawal.
    pub async fn withdrawal(&self, id: Uuid) -> Result<Option<WithdrawalRow>, StoreError> {
        let sql = format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = ?");
        let row = sqlx::query_as::<_, WithdrawalColumns>(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(WithdrawalRow::try_from).transpose()
    }

    /// `user`'s withdrawals, newest first, before `before` (time and id of the previous page's
    /// last row).
    pub async fn withdrawals_of(
        &self,
        user: UserId,
        before: Option<(Timestamp, Uuid)>,
        limit: u32,
    ) -> Result<Vec<WithdrawalRow>, StoreError> {
        let limit = i64::from(limit.min(MAX_WITHDRAWALS_PER_PAGE));
        let (at, id) = match before {
            Some((at, id)) => (ms(at)?, id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE user_id = ? \
             AND (requested_at_ms < ? OR (requested_at_ms = ? AND (? = '' OR id < ?))) \
             ORDER BY requested_at_ms DESC, id DESC LIMIT ?"
        );
        let rows = sqlx::query_as::<_, WithdrawalColumns>(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .bind(at)
            .bind(at)
            .bind(id.clone())
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(WithdrawalRow::try_from).collect()
    }

    /// Withdrawals in `state`, oldest first, at most `limit`.
    pub async fn withdrawals_in(
        &self,
        state: WithdrawalState,
        limit: usize,
    ) -> Result<Vec<WithdrawalRow>, StoreError> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE state = ? \
             ORDER BY requested_at_ms, id LIMIT ?"
        );
        let rows = sqlx::query_as::<_, WithdrawalColumns>(sqlx::AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(WithdrawalRow::try_from).collect()
    }

    /// Withdrawals not final yet, the longest unchanged first, at most `limit`.
    pub async fn unfinished_withdrawals(
        &self,
        limit: u32,
    ) -> Result<Vec<WithdrawalRow>, StoreError> {
        let sql = format!(
            "SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals \
             WHERE state IN ('requested', 'signed', 'broadcast') \
             ORDER BY updated_at_ms, id LIMIT ?"
        );
        let rows = sqlx::query_as::<_, WithdrawalColumns>(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(WithdrawalRow::try_from).collect()
    }

    /// Queues a message on the outbox.
    pub async fn enqueue(
        &self,
        topic: &str,
        payload: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (topic, payload, created_at_ms, published_at_ms) \
             VALUES (?, ?, ?, NULL)",
        )
        .bind(topic)
        .bind(payload)
        .bind(ms(now)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Withdrawals held and not broadcast yet (`requested` or `signed`): their number and
    /// total amount. Their money is still in the wallet and still in users' balances (held).
    pub async fn withdrawals_in_flight(&self) -> Result<(u64, Piconero), StoreError> {
        sqlx::query_as::<_, CountAndSum>(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_piconero), 0) AS CHAR) AS total \
             FROM withdrawals WHERE state IN ('requested', 'signed')",
        )
        .fetch_one(&self.pool)
        .await?
        .parts()
    }

    /// The withdrawals a transaction pays.
    pub async fn withdrawals_of_tx(&self, tx: Uuid) -> Result<Vec<WithdrawalRow>, StoreError> {
        let sql =
            format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE tx_id = ? ORDER BY id");
        let rows = sqlx::query_as::<_, WithdrawalColumns>(sqlx::AssertSqlSafe(sql))
            .bind(tx.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(WithdrawalRow::try_from).collect()
    }

    /// Transactions in `state`, oldest first, at most `limit`.
    pub async fn withdrawal_txs_in(
        &self,
        state: WithdrawalState,
        limit: usize,
    ) -> Result<Vec<WithdrawalTxRow>, StoreError> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM withdrawal_txs WHERE state = ? \
             ORDER BY created_at_ms, id LIMIT ?"
        );
        let rows = sqlx::query_as::<_, TxColumns>(sqlx::AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(WithdrawalTxRow::try_from).collect()
    }

    /// The transactions among `ids` that exist, by id (one query, for a page of withdrawals).
    pub async fn withdrawal_txs(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, WithdrawalTxRow>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM withdrawal_txs WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query_as::<_, TxColumns>(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| WithdrawalTxRow::try_from(row).map(|tx| (tx.id, tx)))
            .collect()
    }

    /// One transaction.
    pub async fn withdrawal_tx(&self, id: Uuid) -> Result<Option<WithdrawalTxRow>, StoreError> {
        let sql = format!("SELECT {TX_COLUMNS} FROM withdrawal_txs WHERE id = ?");
        let row = sqlx::query_as::<_, TxColumns>(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(WithdrawalTxRow::try_from).transpose()
    }

    /// Records a signed transaction paying `shares` (withdrawal id, fee share), moving each
    /// from `requested` to `signed`, with `events` (the owners hear of it), all in one
    /// database transaction. False, with nothing written, if any of them is no longer
    /// `requested`: the built transaction is then never relayed.
    pub async fn record_signed_tx(
        &self,
        tx: &WithdrawalTxRow,
        shares: &[(Uuid, Piconero)],
        events: &[crate::events::NewEvent],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut db = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO withdrawal_txs (id, txid, tx_key, tx_metadata, fee_piconero, state, \
             relay_attempts, height, created_at_ms, updated_at_ms) \
             VALUES (?, ?, ?, ?, ?, 'signed', 0, NULL, ?, ?)",
        )
        .bind(tx.id.to_string())
        .bind(tx.txid.clone())
        .bind(tx.tx_key.clone())
        .bind(tx.tx_metadata.clone())
        .bind(sql_amount(tx.fee)?)
        .bind(ms(now)?)
        .bind(ms(now)?)
        .execute(&mut *db)
        .await?;
        for (id, fee) in shares {
            let moved = sqlx::query(
                "UPDATE withdrawals SET state = 'signed', tx_id = ?, fee_piconero = ?, \
                 updated_at_ms = ? WHERE id = ? AND state = 'requested'",
            )
            .bind(tx.id.to_string())
            .bind(sql_amount(*fee)?)
            .bind(ms(now)?)
            .bind(id.to_string())
            .execute(&mut *db)
            .await?
            .rows_affected();
            if moved != 1 {
                db.rollback().await?;
                return Ok(false);
            }
        }
        crate::events::insert_events_in(&mut db, events, now).await?;
        db.commit().await?;
        Ok(true)
    }

    /// Counts one more relay attempt of `tx` if it is still in `state`, before the relay:
    /// the number of attempts with this one, or `None` (nothing counted, nothing to relay)
    /// when the transaction moved meanwhile. Counting and the check are one statement, so a
    /// refund that requires a single attempt (`move_tx_in`) and this attempt exclude each
    /// other.
    pub async fn count_relay_attempt(
        &self,
        tx: Uuid,
        state: WithdrawalState,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        assert!(
            state.may_relay(),
            "a {} transaction is never relayed",
            state.as_str()
        );
        let mut db = self.begin_write().await?;
        let counted = sqlx::query(
            "UPDATE withdrawal_txs SET relay_attempts = relay_attempts + 1, updated_at_ms = ? \
             WHERE id = ? AND state = ?",
        )
        .bind(ms(now)?)
        .bind(tx.to_string())
        .bind(state.as_str())
        .execute(&mut *db)
        .await?
        .rows_affected();
        if counted != 1 {
            db.rollback().await?;
            return Ok(None);
        }
        let attempts: i64 =
            sqlx::query_scalar("SELECT relay_attempts FROM withdrawal_txs WHERE id = ?")
                .bind(tx.to_string())
                .fetch_one(&mut *db)
                .await?;
        let attempts = unsigned(attempts, "relay_attempts")?;
        db.commit().await?;
        Ok(Some(attempts))
    }

    /// Takes or renews the lease `name` for `holder` until `until`; false if another holder's
    /// lease is still running (it runs until its `until`, exclusive).
    pub async fn take_lease(
        &self,
        name: &str,
        holder: Uuid,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE worker_leases SET holder = ?, expires_at_ms = ? \
             WHERE name = ? AND (holder = ? OR expires_at_ms <= ?)",
        )
        .bind(holder.to_string())
        .bind(ms(until)?)
        .bind(name.to_owned())
        .bind(holder.to_string())
        .bind(ms(now)?)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Who holds lease `name` and until when, as stored: `None` before anyone took it.
    pub async fn lease(&self, name: &str) -> Result<Option<(Uuid, Timestamp)>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT holder, expires_at_ms FROM worker_leases WHERE name = ?")
                .bind(name.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        let Some((holder, expires)) = row else {
            return Ok(None);
        };
        if holder.is_empty() {
            return Ok(None);
        }
        Ok(Some((
            parsed(&holder, "lease holder")?,
            time(expires, "expires_at_ms")?,
        )))
    }

    /// Gives lease `name` back if `holder` has it: it runs out at once, so that another
    /// process may take it without waiting. False if `holder` did not have it.
    pub async fn release_lease(&self, name: &str, holder: Uuid) -> Result<bool, StoreError> {
        let released =
            sqlx::query("UPDATE worker_leases SET expires_at_ms = 0 WHERE name = ? AND holder = ?")
                .bind(name.to_owned())
                .bind(holder.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(released == 1)
    }

    /// Outbox messages not yet published, oldest first: (id, topic, payload).
    pub async fn unpublished(&self, limit: u32) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, topic, payload FROM outbox WHERE published_at_ms IS NULL \
             ORDER BY id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks outbox message `id` published.
    pub async fn mark_published(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET published_at_ms = ? WHERE id = ?")
            .bind(ms(now)?)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
