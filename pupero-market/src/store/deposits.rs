//! Deposit subaddresses, the deposits seen on them, and the scanner's cursor.

use std::collections::HashMap;

use pupero_core::{DepositStatus, Piconero, Sighting, Timestamp, UserId};
use pupero_ledger::Engine;
use pupero_ledger::dialect::placeholders;
use sqlx::AnyConnection;

use super::convert::{
    CountAndSum, amount, flag, i64_of, ms, parsed, small, time, time_opt, unsigned,
};
use super::{Store, StoreError};

/// The most deposits one user's page lists.
pub const MAX_DEPOSITS_PER_PAGE: u32 = 100;

/// The most pending deposits one scan re-checks. Pending deposits are credited within
/// `PUPERO_DEPOSIT_CONFIRMATIONS` blocks, so thousands pending at once means something is
/// wrong; the oldest are checked first.
pub const MAX_PENDING_PER_SCAN: u32 = 10_000;

/// A user's deposit subaddress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositAddressRow {
    /// Whose.
    pub user: UserId,
    /// The wallet account.
    pub account: u32,
    /// The subaddress index in the account (never 0, the primary address).
    pub index: u32,
    /// The address.
    pub address: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Identifies a deposit: the transaction and the subaddress it paid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DepositRef {
    /// The transaction id, lowercase hex.
    pub txid: String,
    /// The wallet account.
    pub account: u32,
    /// The subaddress index.
    pub index: u32,
}

/// A deposit as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositRow {
    /// Its key.
    pub key: DepositRef,
    /// Whose subaddress it paid.
    pub user: UserId,
    /// How much.
    pub amount: Piconero,
    /// What the last scan saw.
    pub sighting: Sighting,
    /// Where it stands.
    pub status: DepositStatus,
    /// When it was first seen.
    pub first_seen: Timestamp,
    /// When it was credited.
    pub credited_at: Option<Timestamp>,
}

/// A deposit subaddress's columns.
#[derive(sqlx::FromRow)]
struct DepositAddressColumns {
    user_id: String,
    account_index: i64,
    address_index: i64,
    address: String,
    created_at_ms: i64,
}

impl TryFrom<DepositAddressColumns> for DepositAddressRow {
    type Error = StoreError;

    fn try_from(c: DepositAddressColumns) -> Result<DepositAddressRow, StoreError> {
        Ok(DepositAddressRow {
            user: parsed(&c.user_id, "user_id")?,
            account: small(c.account_index, "account_index")?,
            index: small(c.address_index, "address_index")?,
            address: c.address,
            created_at: time(c.created_at_ms, "created_at_ms")?,
        })
    }
}

/// The columns of [`DepositColumns`].
const DEPOSIT_COLUMNS: &str = "txid, account_index, address_index, user_id, amount_piconero, \
     height, confirmations, locked, unlock_time, double_spend_seen, state, first_seen_ms, \
     credited_at_ms";

/// A deposit's columns ([`DEPOSIT_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct DepositColumns {
    txid: String,
    account_index: i64,
    address_index: i64,
    user_id: String,
    amount_piconero: i64,
    height: Option<i64>,
    confirmations: i64,
    locked: i64,
    unlock_time: i64,
    double_spend_seen: i64,
    state: String,
    first_seen_ms: i64,
    credited_at_ms: Option<i64>,
}

impl TryFrom<DepositColumns> for DepositRow {
    type Error = StoreError;

    fn try_from(c: DepositColumns) -> Result<DepositRow, StoreError> {
        Ok(DepositRow {
            key: DepositRef {
                txid: c.txid,
                account: small(c.account_index, "account_index")?,
                index: small(c.address_index, "address_index")?,
            },
            user: parsed(&c.user_id, "user_id")?,
            amount: amount(c.amount_piconero, "amount_piconero")?,
            sighting: Sighting {
                height: c
                    .height
                    .map(|h| unsigned(h, "deposit height"))
                    .transpose()?,
                confirmations: unsigned(c.confirmations, "confirmations")?,
                locked: flag(c.locked, "locked")?,
                unlock_time: unsigned(c.unlock_time, "unlock_time")?,
                double_spend_seen: flag(c.double_spend_seen, "double_spend_seen")?,
            },
            status: DepositStatus::parse(&c.state).ok_or(StoreError::Corrupt("deposit state"))?,
            first_seen: time(c.first_seen_ms, "first_seen_ms")?,
            credited_at: time_opt(c.credited_at_ms, "credited_at_ms")?,
        })
    }
}

/// What a scan saw of one deposit.
#[derive(Debug, Clone)]
pub struct SeenDeposit {
    /// Its key.
    pub key: DepositRef,
    /// Whose subaddress it paid.
    pub user: UserId,
    /// How much.
    pub amount: Piconero,
    /// What the wallet says now.
    pub sighting: Sighting,
}

impl Store {
    /// The deposit subaddress of `user`, if one was made.
    pub async fn deposit_address(
        &self,
        user: UserId,
    ) -> Result<Option<DepositAddressRow>, StoreError> {
        let row = sqlx::query_as::<_, DepositAddressColumns>(
            "SELECT user_id, account_index, address_index, address, created_at_ms \
             FROM deposit_addresses WHERE user_id = ?",
        )
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(DepositAddressRow::try_from).transpose()
    }

    /// The deposit subaddress of `account` with the highest index handed out, if any.
    pub async fn highest_deposit_address(
        &self,
        account: u32,
    ) -> Result<Option<DepositAddressRow>, StoreError> {
        let row = sqlx::query_as::<_, DepositAddressColumns>(
            "SELECT user_id, account_index, address_index, address, created_at_ms \
             FROM deposit_addresses WHERE account_index = ? \
             ORDER BY address_index DESC LIMIT 1",
        )
        .bind(i64::from(account))
        .fetch_optional(&self.pool)
        .await?;
        row.map(DepositAddressRow::try_from).transpose()
    }

    /// Whether `address` is one of the platform's deposit subaddresses.
    pub async fn is_deposit_address(&self, address: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT user_id FROM deposit_addresses WHERE address = ?")
            .bind(address.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records `row`; false if the user already has one (the caller reads it).
    pub async fn insert_deposit_address(
        &self,
        row: &DepositAddressRow,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO deposit_addresses \
             (user_id, account_index, address_index, address, created_at_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(row.user.to_string())
        .bind(i64::from(row.account))
        .bind(i64::from(row.index))
        .bind(row.address.clone())
        .bind(ms(row.created_at)?)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The owners of subaddresses `indices` of `account`; indices nobody owns are absent.
    pub async fn deposit_address_owners(
        &self,
        account: u32,
        indices: &[u32],
    ) -> Result<HashMap<u32, UserId>, StoreError> {
        let mut owners = HashMap::with_capacity(indices.len());
        // Bounded statements: a scan may see many subaddresses at once.
        for chunk in indices.chunks(super::MAX_IN_LIST) {
            let sql = format!(
                "SELECT user_id, address_index FROM deposit_addresses \
                 WHERE account_index = ? AND address_index IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(account));
            for index in chunk {
                query = query.bind(i64::from(*index));
            }
            for (user, index) in query.fetch_all(&self.pool).await? {
                owners.insert(small(index, "address_index")?, parsed(&user, "user_id")?);
            }
        }
        Ok(owners)
    }

    /// The height the last scan of `account` reached.
    pub async fn scanned_to(&self, account: u32) -> Result<Option<u64>, StoreError> {
        let height: Option<i64> =
            sqlx::query_scalar("SELECT scanned_to FROM wallet_scans WHERE account_index = ?")
                .bind(i64::from(account))
                .fetch_optional(&self.pool)
                .await?;
        height.map(|h| unsigned(h, "scanned_to")).transpose()
    }

    /// Records that a scan of `account` reached `height`.
    pub async fn set_scanned_to(
        &self,
        account: u32,
        height: u64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO wallet_scans (account_index, scanned_to, updated_at_ms) VALUES (?, ?, ?){}",
            self.engine
                .upsert("account_index", &["scanned_to", "updated_at_ms"])
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(account))
            .bind(i64_of(height, "scanned height")?)
            .bind(ms(now)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records, before anything changes in the wallet, that `account` owes a rescan of the
    /// chain (see `crate::restored_wallet`).
    pub async fn owe_rescan(&self, account: u32, now: Timestamp) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO wallet_rescans (account_index, owed_since_ms) VALUES (?, ?){}",
            self.engine.upsert("account_index", &["owed_since_ms"])
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(account))
            .bind(ms(now)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `account` owes a rescan that was never finished.
    pub async fn rescan_owed(&self, account: u32) -> Result<bool, StoreError> {
        let owed: Option<i64> =
            sqlx::query_scalar("SELECT owed_since_ms FROM wallet_rescans WHERE account_index = ?")
                .bind(i64::from(account))
                .fetch_optional(&self.pool)
                .await?;
        Ok(owed.is_some())
    }

    /// Records that `account`'s owed rescan is done (the wallet rescanned and saved).
    pub async fn rescan_done(&self, account: u32) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM wallet_rescans WHERE account_index = ?")
            .bind(i64::from(account))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deposits of `account` still pending, oldest first.
    pub async fn pending_deposits(&self, account: u32) -> Result<Vec<DepositRow>, StoreError> {
        let sql = format!(
            "SELECT {DEPOSIT_COLUMNS} FROM deposits \
             WHERE state = 'pending' AND account_index = ? \
             ORDER BY first_seen_ms, txid, address_index LIMIT ?"
        );
        let rows = sqlx::query_as::<_, DepositColumns>(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(account))
            .bind(i64::from(MAX_PENDING_PER_SCAN))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(DepositRow::try_from).collect()
    }

    /// Deposits of `account` the wallet has (mined or in the pool) and not credited yet: their
    /// number and total. The wallet's balance counts them already — `get_balance` counts
    /// incoming transfers waiting in the pool too — and users' balances not yet.
    pub async fn uncredited_deposits(&self, account: u32) -> Result<(u64, Piconero), StoreError> {
        sqlx::query_as::<_, CountAndSum>(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_piconero), 0) AS CHAR) AS total \
             FROM deposits WHERE state = 'pending' AND account_index = ?",
        )
        .bind(i64::from(account))
        .fetch_one(&self.pool)
        .await?
        .parts()
    }

    /// One deposit.
    pub async fn deposit(&self, key: &DepositRef) -> Result<Option<DepositRow>, StoreError> {
        let sql = format!(
            "SELECT {DEPOSIT_COLUMNS} FROM deposits \
             WHERE txid = ? AND account_index = ? AND address_index = ?"
        );
        let row = sqlx::query_as::<_, DepositColumns>(sqlx::AssertSqlSafe(sql))
            .bind(key.txid.clone())
            .bind(i64::from(key.account))
            .bind(i64::from(key.index))
            .fetch_optional(&self.pool)
            .await?;
        row.map(DepositRow::try_from).transpose()
    }

    /// `user`'s deposits, newest first, after `before` (the first-seen time and txid of the
    /// previous page's last row).
    pub async fn deposits_of(
        &self,
        user: UserId,
        before: Option<(Timestamp, String)>,
        limit: u32,
    ) -> Result<Vec<DepositRow>, StoreError> {
        let limit = i64::from(limit.min(MAX_DEPOSITS_PER_PAGE));
        let rows = match before {
            None => {
                let sql = format!(
                    "SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE user_id = ? \
                     ORDER BY first_seen_ms DESC, txid DESC LIMIT ?"
                );
                sqlx::query_as::<_, DepositColumns>(sqlx::AssertSqlSafe(sql))
                    .bind(user.to_string())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            Some((at, txid)) => {
                let sql = format!(
                    "SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE user_id = ? \
                     AND (first_seen_ms < ? OR (first_seen_ms = ? AND txid < ?)) \
                     ORDER BY first_seen_ms DESC, txid DESC LIMIT ?"
                );
                sqlx::query_as::<_, DepositColumns>(sqlx::AssertSqlSafe(sql))
                    .bind(user.to_string())
                    .bind(ms(at)?)
                    .bind(ms(at)?)
                    .bind(txid)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter().map(DepositRow::try_from).collect()
    }
}

/// What recording a sighting changed ([`record_sighting_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SightingChange {
    /// Nothing: the row says what the wallet says (or another scanner wrote it first).
    Unchanged,
    /// A deposit not seen before: now pending.
    New,
    /// A gone deposit seen again: pending again.
    Reappeared,
    /// A pending deposit's confirmations or block changed.
    Confirmations,
    /// Something the owner need not hear of changed: a pending deposit's lock or flags, or a
    /// credited deposit's confirmations (kept for display).
    Quiet,
}

/// Whether `row` already says what `seen` says, so that recording it would change nothing. A
/// credited row keeps only confirmations and lock up to date; a gone one always changes.
pub fn sighting_unchanged(row: &DepositRow, seen: &Sighting) -> bool {
    match row.status {
        DepositStatus::Pending => row.sighting == *seen,
        DepositStatus::Credited => {
            row.sighting.confirmations == seen.confirmations && row.sighting.locked == seen.locked
        }
        DepositStatus::Gone => false,
    }
}

/// Records what a scan saw of a deposit, in the caller's transaction: a new one is pending;
/// a pending or gone one takes the new sighting (a gone one that reappeared is pending
/// again); a credited one only updates its confirmations, for display. Never changes the
/// amount or the owner. The row is read locked, so that of two scanners recording the same
/// change one reports it and the other finds it [`SightingChange::Unchanged`]: the owner
/// hears of each change once.
pub async fn record_sighting_in(
    conn: &mut AnyConnection,
    seen: &SeenDeposit,
    now: Timestamp,
) -> Result<SightingChange, StoreError> {
    let engine = Engine::of(conn);
    let s = &seen.sighting;
    let height = s.height.map(|h| i64_of(h, "deposit height")).transpose()?;
    // Whole statements per engine: MariaDB's `INSERT IGNORE` and SQLite's `ON CONFLICT DO
    // NOTHING` both insert nothing, and report no row, for a deposit already recorded.
    let insert = if engine == Engine::MySql {
        "INSERT IGNORE INTO deposits (txid, account_index, address_index, user_id, \
         amount_piconero, height, confirmations, locked, unlock_time, \
         double_spend_seen, state, first_seen_ms, updated_at_ms, credited_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL)"
    } else {
        "INSERT INTO deposits (txid, account_index, address_index, user_id, \
         amount_piconero, height, confirmations, locked, unlock_time, \
         double_spend_seen, state, first_seen_ms, updated_at_ms, credited_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL) \
         ON CONFLICT DO NOTHING"
    };
    let inserted = sqlx::query(insert)
        .bind(seen.key.txid.clone())
        .bind(i64::from(seen.key.account))
        .bind(i64::from(seen.key.index))
        .bind(seen.user.to_string())
        .bind(i64_of(seen.amount.as_u64(), "deposit amount")?)
        .bind(height)
        .bind(i64_of(s.confirmations, "confirmations")?)
        .bind(i64::from(s.locked))
        .bind(i64_of(s.unlock_time, "unlock time")?)
        .bind(i64::from(s.double_spend_seen))
        .bind(ms(now)?)
        .bind(ms(now)?)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if inserted == 1 {
        return Ok(SightingChange::New);
    }
    // SQLite's write transaction already excludes other writers; MariaDB locks the row.
    let sql = format!(
        "SELECT {DEPOSIT_COLUMNS} FROM deposits \
         WHERE txid = ? AND account_index = ? AND address_index = ?{}",
        engine.lock_rows()
    );
    let row: DepositRow = sqlx::query_as::<_, DepositColumns>(sqlx::AssertSqlSafe(sql))
        .bind(seen.key.txid.clone())
        .bind(i64::from(seen.key.account))
        .bind(i64::from(seen.key.index))
        .fetch_one(&mut *conn)
        .await?
        .try_into()?;
    if sighting_unchanged(&row, s) {
        return Ok(SightingChange::Unchanged);
    }
    let change = match row.status {
        DepositStatus::Credited => {
            sqlx::query(
                "UPDATE deposits SET confirmations = ?, locked = ?, updated_at_ms = ? \
                 WHERE txid = ? AND account_index = ? AND address_index = ?",
            )
            .bind(i64_of(s.confirmations, "confirmations")?)
            .bind(i64::from(s.locked))
            .bind(ms(now)?)
            .bind(seen.key.txid.clone())
            .bind(i64::from(seen.key.account))
            .bind(i64::from(seen.key.index))
            .execute(&mut *conn)
            .await?;
            return Ok(SightingChange::Quiet);
        }
        DepositStatus::Gone => SightingChange::Reappeared,
        DepositStatus::Pending
            if row.sighting.confirmations != s.confirmations || row.sighting.height != s.height =>
        {
            SightingChange::Confirmations
        }
        DepositStatus::Pending => SightingChange::Quiet,
    };
    sqlx::query(
        "UPDATE deposits SET height = ?, confirmations = ?, locked = ?, unlock_time = ?, \
         double_spend_seen = ?, state = 'pending', updated_at_ms = ? \
         WHERE txid = ? AND account_index = ? AND address_index = ?",
    )
    .bind(height)
    .bind(i64_of(s.confirmations, "confirmations")?)
    .bind(i64::from(s.locked))
    .bind(i64_of(s.unlock_time, "unlock time")?)
    .bind(i64::from(s.double_spend_seen))
    .bind(ms(now)?)
    .bind(seen.key.txid.clone())
    .bind(i64::from(seen.key.account))
    .bind(i64::from(seen.key.index))
    .execute(&mut *conn)
    .await?;
    Ok(change)
}

/// Marks a pending deposit gone, in the caller's transaction; false if it was not pending.
pub async fn mark_deposit_gone_in(
    conn: &mut AnyConnection,
    key: &DepositRef,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE deposits SET state = 'gone', confirmations = 0, updated_at_ms = ? \
         WHERE txid = ? AND account_index = ? AND address_index = ? AND state = 'pending'",
    )
    .bind(ms(now)?)
    .bind(key.txid.clone())
    .bind(i64::from(key.account))
    .bind(i64::from(key.index))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Marks a pending deposit credited, in the ledger writer's transaction; false if it was not
/// pending (another scanner credited it, or it is gone).
pub async fn mark_deposit_credited_in(
    conn: &mut AnyConnection,
    key: &DepositRef,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let txid =
        pupero_wallet::Txid::from_hex(&key.txid).ok_or(StoreError::Corrupt("deposit txid"))?;
    let transfer =
        pupero_core::deposit::deposit_transfer_id(txid.as_bytes(), key.account, key.index);
    let done = sqlx::query(
        "UPDATE deposits SET state = 'credited', credited_at_ms = ?, updated_at_ms = ?, transfer_id = ? \
         WHERE txid = ? AND account_index = ? AND address_index = ? AND state = 'pending'",
    )
    .bind(ms(now)?)
    .bind(ms(now)?)
    .bind(transfer.to_string())
    .bind(key.txid.clone())
    .bind(i64::from(key.account))
    .bind(i64::from(key.index))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

impl Store {
    /// The transactions of `user`'s deposits credited by `transfers`, by transfer.
    pub async fn deposit_txids(
        &self,
        user: pupero_core::UserId,
        transfers: &[pupero_core::TransferId],
    ) -> Result<std::collections::HashMap<pupero_core::TransferId, String>, StoreError> {
        let mut found = std::collections::HashMap::new();
        for chunk in transfers.chunks(super::MAX_IN_LIST) {
            let sql = format!(
                "SELECT transfer_id, txid FROM deposits WHERE user_id = ? AND transfer_id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
                .bind(user.to_string());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for (transfer, txid) in query.fetch_all(&self.pool).await? {
                found.insert(parsed(&transfer, "deposit transfer id")?, txid);
            }
        }
        Ok(found)
    }
}
