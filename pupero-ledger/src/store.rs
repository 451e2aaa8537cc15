//! [`SqlLedger`]: the ledger store on SQLite or MariaDB.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pupero_core::ledger::{
    Account, AccountCode, AccountResult, HistoryCursor, HistoryPage, HistoryQuery, LedgerId,
    LedgerStore, Movement, MovementPage, NewAccount, NewTransfer, Outcome, Transfer, TransferError,
    TransferKind, TransferResult,
};
use pupero_core::limits::{
    MAX_ACCOUNTS_PER_BATCH, MAX_EXPIRIES_PER_SWEEP, MAX_TRANSFERS_PER_BATCH,
};
use pupero_core::{AccountId, Clock, Piconero, SignedPiconero, SystemClock, TransferId};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, ACCOUNT_COLUMNS, TRANSFER_COLUMNS};
use crate::dialect::{Engine, placeholders};
use crate::error::Error;
use crate::feed::AccountFeed;
use crate::writer::{self, Command};

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// `sqlite:///path/to/file.db`, `mysql://user:pass@host/db` or `mariadb://…`.
    pub url: String,
    /// Where "now" comes from (transfer timestamps, pending expiry).
    pub clock: Arc<dyn Clock>,
    /// Whether opening applies the schema's migrations or only checks them.
    pub migrations: crate::Migrations,
}

impl LedgerOptions {
    /// Options for `url` with the system clock.
    pub fn new(url: impl Into<String>) -> LedgerOptions {
        LedgerOptions {
            url: url.into(),
            clock: Arc::new(SystemClock),
            migrations: crate::Migrations::Apply,
        }
    }

    /// The same options with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> LedgerOptions {
        self.clock = clock;
        self
    }

    /// These options, applying or only checking the schema's migrations.
    pub fn with_migrations(mut self, migrations: crate::Migrations) -> LedgerOptions {
        self.migrations = migrations;
        self
    }
}

/// The ledger, stored in SQL. Cheap to clone: clones share the pools and the writer task.
#[derive(Clone, Debug)]
pub struct SqlLedger {
    engine: Engine,
    reader: AnyPool,
    commands: mpsc::Sender<Command>,
    clock: Arc<dyn Clock>,
    feed: Arc<AccountFeed>,
    stats: Arc<crate::writer::WriterStats>,
}

impl SqlLedger {
    /// A page of `account`'s transfers, newest first; only those that start a movement
    /// (singles and holds, not the posts, voids and expiries of holds) when `starts_only`.
    async fn history_page(
        &self,
        account: AccountId,
        query: HistoryQuery,
        starts_only: bool,
    ) -> Result<HistoryPage, Error> {
        // Each side has its own (account, seq) index; the union of two short index scans beats
        // one scan of the whole table filtered by `debit = ? OR credit = ?`.
        let before = match query.before() {
            Some(cursor) => i64::try_from(cursor.seq())
                .map_err(|_| crate::error::corrupt("cursor out of range"))?,
            None => i64::MAX,
        };
        let fetch = i64::from(query.limit()) + 1;
        let starts = if starts_only {
            " AND pending_id IS NULL"
        } else {
            ""
        };
        let side = |column: &str| {
            format!(
                "SELECT * FROM (SELECT seq, {TRANSFER_COLUMNS} FROM ledger_transfers \
                 WHERE {column} = ? AND seq < ?{starts} ORDER BY seq DESC LIMIT ?) AS {column}_side"
            )
        };
        let sql = format!(
            "{} UNION ALL {} ORDER BY seq DESC LIMIT ?",
            side("debit_account_id"),
            side("credit_account_id")
        );
        let id = account.to_string();
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(id.clone())
            .bind(before)
            .bind(fetch)
            .bind(id)
            .bind(before)
            .bind(fetch)
            .bind(fetch)
            .fetch_all(&self.reader)
            .await?;
        let limit = usize::try_from(query.limit()).unwrap_or(usize::MAX);
        let mut transfers = Vec::with_capacity(rows.len().min(limit));
        let mut last_seq = None;
        for row in rows.iter().take(limit) {
            transfers.push(db::transfer_from_row(row)?);
            last_seq = Some(row.try_get::<i64, _>("seq")?);
        }
        let next = match (rows.len() > limit, last_seq) {
            (true, Some(seq)) => Some(HistoryCursor::from_seq(
                u64::try_from(seq).map_err(|_| crate::error::corrupt("negative seq"))?,
            )),
            _ => None,
        };
        Ok(HistoryPage { transfers, next })
    }
    /// Connects, applies pending migrations and starts the writer task. Must be called inside
    /// a Tokio runtime.
    pub async fn open(options: LedgerOptions) -> Result<SqlLedger, Error> {
        let pools = db::connect(&options.url, options.migrations).await?;
        let feed = Arc::new(AccountFeed::default());
        let stats = Arc::new(crate::writer::WriterStats::default());
        let commands = writer::spawn(
            pools.writer.clone(),
            pools.reader.clone(),
            pools.engine,
            pools.file.as_deref(),
            options.clock.clone(),
            feed.clone(),
            stats.clone(),
        );
        Ok(SqlLedger {
            engine: pools.engine,
            reader: pools.reader,
            commands,
            clock: options.clock,
            feed,
            stats,
        })
    }

    /// The accounts this process's writer changed, in commit order.
    pub fn feed(&self) -> &Arc<AccountFeed> {
        &self.feed
    }

    /// The database engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The clock the ledger stamps transfers with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Creates one account; `Ok` also when it already existed with the same fields.
    pub async fn create_account(&self, account: NewAccount) -> Result<Outcome, Error> {
        let mut results =
            LedgerStore::create_accounts(self, std::slice::from_ref(&account)).await?;
        results.remove(0).map_err(|e| Error::Refused(e.into()))
    }

    /// Creates one transfer; `Ok` also when it already existed with the same fields (a retry).
    pub async fn transfer(&self, transfer: NewTransfer) -> Result<Outcome, Error> {
        let mut results =
            LedgerStore::create_transfers(self, std::slice::from_ref(&transfer)).await?;
        results.remove(0).map_err(|e| Error::Refused(e.into()))
    }

    /// Creates the plain transfers `chain` as one linked chain: all of it or none of it. For a
    /// caller that builds transfers by hand; a plan that already says which of its transfers
    /// are linked (the core's) goes through [`SqlLedger::transfer_attached`] as it is. On
    /// refusal the error is the transfer that failed, not its innocent siblings.
    ///
    /// # Panics
    /// If a transfer of `chain` is already marked `linked`: the chain is this call's to make,
    /// and a link decided elsewhere is never overwritten.
    pub async fn transfer_linked(&self, chain: Vec<NewTransfer>) -> Result<Vec<Outcome>, Error> {
        assert!(
            chain.iter().all(|t| !t.linked),
            "transfer_linked links plain transfers; a linked plan goes as it is"
        );
        let last = chain.len().saturating_sub(1);
        let chain: Vec<NewTransfer> = chain
            .into_iter()
            .enumerate()
            .map(|(i, t)| NewTransfer {
                linked: i < last,
                ..t
            })
            .collect();
        let results = LedgerStore::create_transfers(self, &chain).await?;
        first_refusal(results)
    }

    /// Creates the transfers of `plan` and runs `attachment` in the same database transaction:
    /// both commit, or neither does.
    ///
    /// The plan is applied as it is given: which of its transfers are linked is its maker's
    /// decision (the core's plans link each step's transfers), never changed here. Whatever
    /// its chains, the plan commits whole or not at all: any refusal undoes all of it. The plan
    /// may be empty (the attachment then commits alone, still serialised with every other
    /// write of this process). If the ledger refuses a transfer the attachment does not run and
    /// the error is [`Error::Refused`] (the transfer that failed, not its innocent siblings);
    /// if the attachment aborts, the error is [`Error::Aborted`] and the plan is not applied.
    /// The command joins the writer's group commit like any other: its statements run in the
    /// group's transaction, after the commands queued before it, and a refusal or an abort
    /// leaves the rest of the group as if it had never been asked (an abort rolls the
    /// transaction back and the group is applied again without it).
    ///
    /// # Panics
    /// If the plan's last transfer is marked `linked`: a chain left open is a plan built wrong.
    pub async fn transfer_attached(
        &self,
        plan: Vec<NewTransfer>,
        attachment: impl crate::Attachment,
    ) -> Result<Vec<Outcome>, Error> {
        if plan.len() > MAX_TRANSFERS_PER_BATCH {
            return Err(Error::BatchTooLarge(plan.len()));
        }
        assert!(
            plan.last().is_none_or(|t| !t.linked),
            "a plan closes its last linked chain"
        );
        let attachment: Box<dyn crate::Attachment> = Box::new(attachment);
        let results = self
            .send(|tx| Command::Attached(plan, attachment, tx))
            .await?;
        first_refusal(results)
    }

    /// One account, if it exists.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>, Error> {
        Ok(LedgerStore::lookup_accounts(self, &[id]).await?.pop())
    }

    /// The totals of every account of one `code` on the XMR ledger, read in one statement (a
    /// consistent snapshot: a transfer between two such accounts is counted on both sides or
    /// on neither). Reconciliation reads users' balances this way.
    pub async fn totals(&self, code: AccountCode) -> Result<AccountTotals, Error> {
        // Sums of balances, not of counters: counters grow with every transfer ever made and
        // could pass `i64::MAX` together, balances are bounded by the coins held. The sums
        // cross as text so that MariaDB's DECIMAL sums need no driver type.
        let row = sqlx::query(
            "SELECT COUNT(*) AS accounts, \
             CAST(COALESCE(SUM(credits_posted - debits_posted), 0) AS CHAR) AS net_credits, \
             CAST(COALESCE(SUM(debits_pending), 0) AS CHAR) AS debits_pending, \
             CAST(COALESCE(SUM(credits_pending), 0) AS CHAR) AS credits_pending \
             FROM ledger_accounts WHERE ledger = ? AND code = ?",
        )
        .bind(i64::from(LedgerId::XMR.as_u32()))
        .bind(i64::from(code.as_u16()))
        .fetch_one(&self.reader)
        .await?;
        let accounts: i64 = row.try_get("accounts")?;
        let net_credits = signed_sum(&row, "net_credits")?;
        let unsigned = |column: &'static str| {
            signed_sum(&row, column)?
                .non_negative()
                .ok_or_else(|| crate::error::corrupt(format!("negative {column}")))
        };
        Ok(AccountTotals {
            accounts: u64::try_from(accounts).map_err(|_| crate::error::corrupt("count"))?,
            net_credits,
            debits_pending: unsigned("debits_pending")?,
            credits_pending: unsigned("credits_pending")?,
        })
    }

    /// Checks the ledger's invariants over the whole database: per ledger Σ debits = Σ credits
    /// (pending and posted, separately), and no account breaks its flags.
    pub async fn check_invariants(&self) -> Result<(), Error> {
        check_invariants(&mut *self.reader.acquire().await?).await
    }

    /// What this process's writer did since it started.
    pub fn writer_counts(&self) -> crate::writer::WriterCounts {
        self.stats.read()
    }

    /// Whether this process's writer has stopped: every write fails until the process restarts.
    pub fn writer_stopped(&self) -> bool {
        self.commands.is_closed()
    }

    async fn send<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(command(tx))
            .await
            .map_err(|_| Error::WriterStopped)?;
        rx.await.map_err(|_| Error::WriterStopped)?
    }
}

#[async_trait]
impl LedgerStore for SqlLedger {
    type Error = Error;

    async fn create_accounts(&self, accounts: &[NewAccount]) -> Result<Vec<AccountResult>, Error> {
        if accounts.len() > MAX_ACCOUNTS_PER_BATCH {
            return Err(Error::BatchTooLarge(accounts.len()));
        }
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        self.send(|tx| Command::Accounts(accounts.to_vec(), tx))
            .await
    }

    async fn create_transfers(
        &self,
        transfers: &[NewTransfer],
    ) -> Result<Vec<TransferResult>, Error> {
        if transfers.len() > MAX_TRANSFERS_PER_BATCH {
            return Err(Error::BatchTooLarge(transfers.len()));
        }
        if transfers.is_empty() {
            return Ok(Vec::new());
        }
        let results = self
            .send(|tx| Command::Transfers(transfers.to_vec(), tx))
            .await?;
        debug_assert_eq!(results.len(), transfers.len());
        Ok(results)
    }

    async fn lookup_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>, Error> {
        if ids.len() > MAX_ACCOUNTS_PER_BATCH {
            return Err(Error::BatchTooLarge(ids.len()));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.to_string());
        }
        query
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(db::account_from_row)
            .collect()
    }

    async fn lookup_transfers(&self, ids: &[TransferId]) -> Result<Vec<Transfer>, Error> {
        if ids.len() > MAX_TRANSFERS_PER_BATCH {
            return Err(Error::BatchTooLarge(ids.len()));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.to_string());
        }
        query
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(db::transfer_from_row)
            .collect()
    }

    async fn account_history(
        &self,
        account: AccountId,
        query: HistoryQuery,
    ) -> Result<HistoryPage, Error> {
        self.history_page(account, query, false).await
    }

    async fn account_movements(
        &self,
        account: AccountId,
        query: HistoryQuery,
    ) -> Result<MovementPage, Error> {
        let page = self.history_page(account, query, true).await?;
        let holds: Vec<String> = page
            .transfers
            .iter()
            .filter(|t| t.kind == TransferKind::Pending)
            .map(|t| t.id.to_string())
            .collect();
        let mut settlements: HashMap<TransferId, Transfer> = HashMap::new();
        if !holds.is_empty() {
            // A hold is settled at most once (the ledger refuses a second post or void), so
            // each id finds one transfer or none.
            let sql = format!(
                "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE pending_id IN ({})",
                placeholders(holds.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in &holds {
                q = q.bind(id.clone());
            }
            for row in q.fetch_all(&self.reader).await? {
                let settlement = db::transfer_from_row(&row)?;
                let hold = settlement
                    .pending_id
                    .ok_or_else(|| crate::error::corrupt("a settlement names no hold"))?;
                settlements.insert(hold, settlement);
            }
        }
        let movements = page
            .transfers
            .into_iter()
            .map(|transfer| Movement {
                settlement: settlements.remove(&transfer.id),
                transfer,
            })
            .collect();
        Ok(MovementPage {
            movements,
            next: page.next,
        })
    }

    async fn expire_pending(&self) -> Result<u32, Error> {
        let now = db::time_to_sql(self.clock.now())?;
        let rows = sqlx::query(
            "SELECT id FROM ledger_pending WHERE status = 1 AND expires_at_ms IS NOT NULL \
             AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
        )
        .bind(now)
        .bind(i64::from(MAX_EXPIRIES_PER_SWEEP))
        .fetch_all(&self.reader)
        .await?;
        let ids = rows
            .iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                id.parse::<TransferId>()
                    .map_err(|_| crate::error::corrupt("bad pending id"))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        self.send(|tx| Command::Expire(ids, tx)).await
    }
}

/// The totals of the accounts of one code ([`SqlLedger::totals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountTotals {
    /// How many accounts there are.
    pub accounts: u64,
    /// Σ (`credits_posted − debits_posted`): for credit-normal accounts (users') what they
    /// hold, money held by pending transfers included; below zero for debit-normal ones.
    pub net_credits: SignedPiconero,
    /// Σ `debits_pending`: what pending transfers hold out of them.
    pub debits_pending: Piconero,
    /// Σ `credits_pending`: what pending transfers will bring them.
    pub credits_pending: Piconero,
}

/// A decimal sum read as text, exactly.
fn signed_sum(row: &sqlx::any::AnyRow, column: &'static str) -> Result<SignedPiconero, Error> {
    let text: String = row.try_get(column)?;
    let bad = || crate::error::corrupt(format!("{column} is not a sum in range: {text:?}"));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let magnitude = Piconero::new(digits.parse::<u64>().map_err(|_| bad())?);
    Ok(if negative {
        SignedPiconero::negative(magnitude)
    } else {
        SignedPiconero::positive(magnitude)
    })
}

/// The outcomes of a plan, or the first refusal of a transfer that failed its chain (not of
/// its innocent siblings, which fail with `LinkedEventFailed`).
fn first_refusal(results: Vec<TransferResult>) -> Result<Vec<Outcome>, Error> {
    let failure = results
        .iter()
        .filter_map(|r| r.err())
        .find(|e| *e != TransferError::LinkedEventFailed)
        .or_else(|| results.iter().find_map(|r| r.err()));
    match failure {
        Some(error) => Err(Error::Refused(error.into())),
        None => Ok(results.into_iter().flatten().collect()),
    }
}

/// See [`SqlLedger::check_invariants`].
pub(crate) async fn check_invariants(conn: &mut sqlx::AnyConnection) -> Result<(), Error> {
    let unbalanced = sqlx::query(
        "SELECT ledger FROM ledger_accounts GROUP BY ledger \
         HAVING SUM(debits_pending) <> SUM(credits_pending) OR SUM(debits_posted) <> SUM(credits_posted)",
    )
    .fetch_all(&mut *conn)
    .await?;
    if let Some(row) = unbalanced.first() {
        let ledger: i64 = row.try_get("ledger")?;
        return Err(Error::InvariantViolated(format!(
            "ledger {ledger}: debits and credits differ"
        )));
    }
    let overdrawn = sqlx::query(
        "SELECT id FROM ledger_accounts WHERE \
         ((flags & 2) <> 0 AND debits_posted > credits_posted - debits_pending) OR \
         ((flags & 4) <> 0 AND credits_posted > debits_posted - credits_pending) LIMIT 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    if let Some(row) = overdrawn.first() {
        let id: String = row.try_get("id")?;
        return Err(Error::InvariantViolated(format!(
            "account {id} breaks its balance flags"
        )));
    }
    Ok(())
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}
