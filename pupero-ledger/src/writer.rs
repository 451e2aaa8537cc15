//! The single writer task and its group commit.
//!
//! Every write of a [`crate::SqlLedger`] becomes a [`Command`] on a bounded channel. The writer
//! takes the first command, then whatever else is already queued (up to
//! [`MAX_TRANSFERS_PER_GROUP_COMMIT`]), and applies them all in one database transaction: load
//! the touched rows with locks, let the core's [`LedgerBook`] decide, run the attachments, write
//! their batches and the ledger's changes, commit. One sync then pays for the whole group. On
//! SQLite, the [`Syncer`] makes each commit durable before its answers go out, while the writer
//! goes on with the next group, and [`checkpoint`] copies the write-ahead log into the database
//! beside it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use pupero_core::Clock;
use pupero_core::ledger::{
    AccountResult, LedgerBook, NewAccount, NewTransfer, Outcome, TransferKind, TransferResult,
    expiry_id,
};
use pupero_core::limits::MAX_TRANSFERS_PER_GROUP_COMMIT;
use pupero_core::{AccountId, Timestamp, TransferId};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Connection, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::attach::{Attachment, AttachmentError, Batches, Expect, Statement};
use crate::db::{self, ACCOUNT_COLUMNS, TRANSFER_COLUMNS};
use crate::dialect::{Engine, placeholders};
use crate::error::Error;
use crate::feed::AccountFeed;
use crate::syncer::{Syncer, wal_sync};

/// Commands queued for the writer before callers wait. Enough to fill several groups; beyond it
/// callers are slowed down instead of growing memory without bound.
const MAX_QUEUED_COMMANDS: usize = 4_096;

/// Times a group commit is retried after a deadlock, lock timeout or busy database.
const MAX_COMMIT_ATTEMPTS: u32 = 8;

/// First pause before retrying a group commit; doubled on each attempt.
const RETRY_BACKOFF: Duration = Duration::from_millis(5);

/// Commands with attachments one group commit takes at most. Each runs its caller's statements
/// inside the group's transaction, which holds its locks until the commit: the bound keeps that
/// time short, while still letting one fsync pay for a crowd of concurrent trade steps.
const MAX_ATTACHMENTS_PER_GROUP: usize = 32;

/// Statements of one text sent to SQLite in one call at most ([`run_script`]); a power of two.
const MAX_STATEMENTS_PER_CALL: usize = 16;

/// Least time between two checkpoints of SQLite's write-ahead log by [`checkpoint`].
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Ids per `IN (...)` list, well below every engine's limit on bound parameters.
const MAX_IDS_PER_QUERY: usize = 512;

/// Rows per multi-row `INSERT`; 512 rows × 11 columns stays far below the parameter limits.
const MAX_ROWS_PER_INSERT: usize = 512;

/// Splits `items` into chunks whose lengths are powers of two (at most `max`, itself a power
/// of two). Statements are prepared and cached per SQL text; with arbitrary lengths every group
/// size would be a new statement, and evicting old ones from the driver's cache stalls MariaDB
/// connections. Powers of two keep the set of texts to a dozen per statement kind.
fn pow2_chunks<T>(mut items: &[T], max: usize) -> Vec<&[T]> {
    debug_assert!(max.is_power_of_two());
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let len = if items.len() >= max {
            max
        } else {
            1 << items.len().ilog2()
        };
        let (head, tail) = items.split_at(len);
        chunks.push(head);
        items = tail;
    }
    chunks
}

/// `items` in chunks of at most `max` (a power of two), each padded to a power of two by
/// repeating its last item (see [`pow2_chunks`] for why): for `IN` lists, which a repeated id
/// does not change, and for upserts, where a repeated row writes again what it just wrote.
fn padded_chunks<T>(items: &[T], max: usize) -> Vec<Vec<&T>> {
    debug_assert!(max.is_power_of_two());
    items
        .chunks(max)
        .map(|chunk| {
            let mut chunk: Vec<&T> = chunk.iter().collect();
            let target = chunk.len().next_power_of_two();
            if let Some(last) = chunk.last().copied() {
                chunk.resize(target, last);
            }
            chunk
        })
        .collect()
}

pub(crate) enum Command {
    Accounts(
        Vec<NewAccount>,
        oneshot::Sender<Result<Vec<AccountResult>, Error>>,
    ),
    Transfers(
        Vec<NewTransfer>,
        oneshot::Sender<Result<Vec<TransferResult>, Error>>,
    ),
    Expire(Vec<TransferId>, oneshot::Sender<Result<u32, Error>>),
    /// A plan, as its maker linked it, with the caller's statements: all of it or none of it.
    /// In a group, its refusal or abort leaves the others as if it had never been asked.
    Attached(
        Vec<NewTransfer>,
        Box<dyn Attachment>,
        oneshot::Sender<Result<Vec<TransferResult>, Error>>,
    ),
}

enum Reply {
    Accounts(Vec<AccountResult>),
    Transfers(Vec<TransferResult>),
    Expire(u32),
}

impl Command {
    /// What the command adds to a group: its rows, at least one (an attachment's plan may be
    /// empty, and its statements still take time).
    fn weight(&self) -> usize {
        let rows = match self {
            Command::Accounts(a, _) => a.len(),
            Command::Transfers(t, _) => t.len(),
            Command::Expire(p, _) => p.len(),
            Command::Attached(t, _, _) => t.len(),
        };
        rows.max(1)
    }

    fn send(self, result: Result<Reply, Error>) {
        // A caller that went away no longer needs the answer; the commit stands regardless.
        match (self, result) {
            (Command::Accounts(_, tx), Ok(Reply::Accounts(r))) => drop(tx.send(Ok(r))),
            (Command::Transfers(_, tx), Ok(Reply::Transfers(r))) => drop(tx.send(Ok(r))),
            (Command::Expire(_, tx), Ok(Reply::Expire(r))) => drop(tx.send(Ok(r))),
            (Command::Accounts(_, tx), Err(e)) => drop(tx.send(Err(e))),
            (Command::Transfers(_, tx), Err(e)) => drop(tx.send(Err(e))),
            (Command::Expire(_, tx), Err(e)) => drop(tx.send(Err(e))),
            (Command::Attached(_, _, tx), Ok(Reply::Transfers(r))) => drop(tx.send(Ok(r))),
            (Command::Attached(_, _, tx), Err(e)) => drop(tx.send(Err(e))),
            (_, Ok(_)) => unreachable!("a reply always matches its command"),
        }
    }
}

/// Starts the writer on `pool` (its one connection) and, on SQLite (the database `file`), its
/// checkpointer on `reader` and its [`Syncer`].
pub(crate) fn spawn(
    pool: AnyPool,
    reader: AnyPool,
    engine: Engine,
    file: Option<&Path>,
    clock: Arc<dyn Clock>,
    feed: Arc<AccountFeed>,
    stats: Arc<WriterStats>,
) -> mpsc::Sender<Command> {
    let (tx, rx) = mpsc::channel(MAX_QUEUED_COMMANDS);
    let (commits, committed) = mpsc::channel(1);
    if engine == Engine::Sqlite {
        tokio::spawn(checkpoint(reader, committed));
    }
    let syncer = file.map(|file| Syncer::start(wal_sync(file)));
    let answers = Answers { syncer, stats };
    tokio::spawn(run(rx, pool, engine, clock, feed, commits, answers));
    tx
}

/// Where the writer's answers go: to their callers, through the [`Syncer`] when the engine's
/// commits are made durable by it.
struct Answers {
    syncer: Option<Syncer>,
    stats: Arc<WriterStats>,
}

impl Answers {
    /// Answers `commands` with `results`, once what they answer is durable (including what
    /// their transaction wrote, when it `wrote`).
    async fn send(&self, wrote: bool, commands: Vec<Command>, results: Vec<Result<Reply, Error>>) {
        debug_assert_eq!(commands.len(), results.len());
        for result in &results {
            log_failure(result);
            self.stats.answered(result);
        }
        let answer = move |synced: Result<(), Arc<std::io::Error>>| {
            for (command, result) in commands.into_iter().zip(results) {
                let result = match &synced {
                    Ok(()) => result,
                    Err(error) => Err(Error::Database(sqlx::Error::Io(std::io::Error::new(
                        error.kind(),
                        format!("the commit could not be made durable: {error}"),
                    )))),
                };
                command.send(result);
            }
        };
        match &self.syncer {
            // A group that wrote nothing waits too: its answers may rest on an earlier commit
            // (a retried transfer found already made), and answers keep the commits' order.
            Some(syncer) => syncer.deliver(wrote, Box::new(answer)).await,
            None => answer(Ok(())),
        }
    }
}

/// What the writer did since it started, for an operator's metrics: counters only ever grow.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    groups: AtomicU64,
    commands: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    busy_micros: AtomicU64,
}

/// A reading of the writer's counters ([`crate::SqlLedger::writer_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterCounts {
    /// Transactions committed (or rolled back with nothing to write).
    pub groups: u64,
    /// Commands answered.
    pub commands: u64,
    /// Commands refused by the ledger (funds, conflicts) or aborted by their attachment.
    pub refused: u64,
    /// Commands that failed with a storage error.
    pub failed: u64,
    /// Group commits tried again after a deadlock, lock timeout or busy database.
    pub retries: u64,
    /// Microseconds spent applying groups (from the first statement to the commit): the
    /// writer is saturated when this grows as fast as the clock.
    pub busy_micros: u64,
}

impl WriterStats {
    /// The counters now.
    pub(crate) fn read(&self) -> WriterCounts {
        WriterCounts {
            groups: self.groups.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            busy_micros: self.busy_micros.load(Ordering::Relaxed),
        }
    }

    fn answered(&self, result: &Result<Reply, Error>) {
        match result {
            Ok(Reply::Transfers(replies)) if replies.iter().any(Result::is_err) => {
                self.commands.fetch_add(1, Ordering::Relaxed);
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {
                self.commands.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => self.answered_error(error),
        }
    }

    fn answered_error(&self, error: &Error) {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let counter = if is_callers_refusal(error) {
            &self.refused
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies SQLite's write-ahead log into the database file after commits, on a connection of its
/// own, at most once per [`CHECKPOINT_INTERVAL`]. Left to SQLite, the copy (and its fsync of the
/// database file) would be made by the committing connection, the writer's, inside a commit
/// every thousand pages; a passive checkpoint runs beside the writer and never blocks it. Ends
/// with the writer.
async fn checkpoint(pool: AnyPool, mut committed: mpsc::Receiver<()>) {
    while committed.recv().await.is_some() {
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %error_chain(&error), "checkpoint of the write-ahead log failed");
        }
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
    }
}

/// The writer's connection, kept from one group to the next: taking it from the pool again
/// costs a ping on MariaDB. After a failed commit it goes back to the pool, which replaces it if
/// it is broken.
struct WriterConnection {
    pool: AnyPool,
    kept: Option<PoolConnection<Any>>,
    /// Whether a transaction committed since [`WriterConnection::take_committed`] last asked.
    committed: bool,
}

impl WriterConnection {
    fn take_committed(&mut self) -> bool {
        std::mem::take(&mut self.committed)
    }

    async fn get(&mut self) -> Result<&mut AnyConnection, Error> {
        let conn = match self.kept.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.kept.insert(conn))
    }

    fn give_back(&mut self) {
        self.kept = None;
    }
}

async fn run(
    mut rx: mpsc::Receiver<Command>,
    pool: AnyPool,
    engine: Engine,
    clock: Arc<dyn Clock>,
    feed: Arc<AccountFeed>,
    commits: mpsc::Sender<()>,
    answers: Answers,
) {
    let stats = answers.stats.clone();
    let mut conn = WriterConnection {
        pool,
        kept: None,
        committed: false,
    };
    // A command found while filling a full group waits here for the next turn.
    let mut carried: Option<Command> = None;
    loop {
        let first = match carried.take() {
            Some(command) => command,
            None => match rx.recv().await {
                Some(command) => command,
                None => break,
            },
        };
        let mut weight = first.weight();
        let mut attachments = usize::from(matches!(first, Command::Attached(..)));
        let mut group = vec![first];
        while weight < MAX_TRANSFERS_PER_GROUP_COMMIT {
            match rx.try_recv() {
                Ok(command @ Command::Attached(..)) if attachments >= MAX_ATTACHMENTS_PER_GROUP => {
                    carried = Some(command);
                    break;
                }
                Ok(command) => {
                    weight += command.weight();
                    attachments += usize::from(matches!(command, Command::Attached(..)));
                    group.push(command);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let committed =
            commit_with_retries(&mut conn, engine, clock.as_ref(), &feed, &stats, &group).await;
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats.busy_micros.fetch_add(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        // Tells the checkpointer there is something to copy; one signal waiting is enough.
        let _ = commits.try_send(());
        match committed {
            Ok(results) => answers.send(conn.take_committed(), group, results).await,
            Err(error) if group.len() == 1 => {
                answers
                    .send(conn.take_committed(), group, vec![Err(error)])
                    .await;
            }
            Err(error) => {
                // One command may have poisoned the group (a storage limit, a failing
                // attachment); give each its own transaction so the others still commit and the
                // culprit gets the error.
                tracing::warn!(error = %error_chain(&error), commands = group.len(), "group commit failed; committing alone");
                for command in group {
                    let result = commit_with_retries(
                        &mut conn,
                        engine,
                        clock.as_ref(),
                        &feed,
                        &stats,
                        std::slice::from_ref(&command),
                    )
                    .await
                    .and_then(|mut results| results.remove(0));
                    answers
                        .send(conn.take_committed(), vec![command], vec![result])
                        .await;
                }
            }
        }
    }
}

/// A refusal of the ledger or an attachment's abort: the caller's answer, not a failure.
fn is_callers_refusal(error: &Error) -> bool {
    matches!(error, Error::Aborted(_) | Error::Refused(_))
}

fn log_failure(result: &Result<Reply, Error>) {
    if let Err(error) = result
        && !is_callers_refusal(error)
    {
        tracing::error!(error = %error_chain(error), "ledger commit failed");
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn commit_with_retries(
    conn: &mut WriterConnection,
    engine: Engine,
    clock: &dyn Clock,
    feed: &AccountFeed,
    stats: &WriterStats,
    group: &[Command],
) -> Result<Vec<Result<Reply, Error>>, Error> {
    let mut attempt = 1;
    loop {
        let committed = commit_group(conn, engine, clock.now(), feed, group).await;
        if committed.is_err() {
            conn.give_back();
        }
        match committed {
            Ok(replies) => return Ok(replies),
            Err(error) if attempt < MAX_COMMIT_ATTEMPTS && db::is_retryable(&error) => {
                tracing::debug!(attempt, error = %error_chain(&error), "retrying group commit");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(RETRY_BACKOFF * 2_u32.pow(attempt - 1)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Applies `group` in one transaction and gives each command its result: its reply, or the
/// abort of its attachment. The outer error fails the whole group (nothing is written).
///
/// A command with an attachment commits whole or not at all. When its attachment aborts, the
/// transaction is rolled back, which takes back whatever those statements wrote, and the group
/// is applied again without it (its answer is the abort): the commands before it are decided
/// again on the same rows, those after it as if it had never come. Aborts are rare (a lost
/// compare-and-set, a replayed key), so this costs less than a savepoint around every
/// attachment, a round trip each on MariaDB.
async fn commit_group(
    conn: &mut WriterConnection,
    engine: Engine,
    now: Timestamp,
    feed: &AccountFeed,
    group: &[Command],
) -> Result<Vec<Result<Reply, Error>>, Error> {
    let mut aborted: Vec<Option<&'static str>> = vec![None; group.len()];
    // Each pass either finishes or takes one more command out, so there are at most as many
    // passes as commands, plus one.
    for _ in 0..=group.len() {
        if aborted.iter().all(Option::is_some) {
            return Ok(aborted
                .iter()
                .copied()
                .flatten()
                .map(|code| Err(Error::Aborted(code)))
                .collect());
        }
        match apply_group(conn, engine, now, feed, group, &aborted).await? {
            Pass::Done(results) => return Ok(results),
            Pass::Aborted(index, code) => {
                debug_assert!(aborted[index].is_none(), "a command aborts once");
                aborted[index] = Some(code);
            }
        }
    }
    unreachable!("every pass takes a command out or finishes")
}

/// How one pass over a group ended.
enum Pass {
    /// Committed (or rolled back with nothing to write): each command's result.
    Done(Vec<Result<Reply, Error>>),
    /// The attachment of command `index` aborted; nothing was written.
    Aborted(usize, &'static str),
}

/// One transaction over `group`, skipping the commands already `aborted`.
async fn apply_group(
    conn: &mut WriterConnection,
    engine: Engine,
    now: Timestamp,
    feed: &AccountFeed,
    group: &[Command],
    aborted: &[Option<&'static str>],
) -> Result<Pass, Error> {
    let mut tx = conn.get().await?.begin_with(engine.begin_write()).await?;
    let mut book = LedgerBook::new();
    load(&mut tx, engine, group, &mut book).await?;

    let mut attached_ran = false;
    let mut batches = Batches::default();
    let mut results = Vec::with_capacity(group.len());
    for (index, command) in group.iter().enumerate() {
        if let Some(code) = aborted[index] {
            results.push(Err(Error::Aborted(code)));
            continue;
        }
        let result = match command {
            Command::Accounts(accounts, _) => {
                Ok(Reply::Accounts(book.create_accounts(accounts, now)))
            }
            Command::Transfers(transfers, _) => {
                Ok(Reply::Transfers(book.create_transfers(transfers, now)))
            }
            Command::Expire(pending, _) => Ok(Reply::Expire(
                pending
                    .iter()
                    .filter(|id| book.expire(**id, now) == Ok(Outcome::Created))
                    .count()
                    .try_into()
                    .unwrap_or(u32::MAX),
            )),
            Command::Attached(transfers, attachment, _) => {
                // A refused plan is taken out of the book whole, and its attachment never runs.
                let before = book.clone();
                let replies = book.create_transfers(transfers, now);
                if replies.iter().all(Result::is_ok) {
                    batches.running(index);
                    match attachment.run(&mut tx, engine, &mut batches).await {
                        Ok(()) => attached_ran = true,
                        Err(AttachmentError::Abort(code)) => {
                            tx.rollback().await?;
                            return Ok(Pass::Aborted(index, code));
                        }
                        // The transaction is rolled back when dropped.
                        Err(AttachmentError::Database(e)) => return Err(Error::Database(e)),
                    }
                } else {
                    book = before;
                }
                Ok(Reply::Transfers(replies))
            }
        };
        results.push(result);
    }
    debug_assert_eq!(results.len(), group.len());

    if book.is_dirty() || attached_ran {
        debug_assert!(
            attached_ran || batches.is_empty(),
            "only attachments defer statements and start batches"
        );
        let mut script = batches.into_script(engine)?;
        script.extend(persist(engine, &book)?.into_iter().map(|s| (None, s)));
        let ran = run_script(&mut tx, engine, &script).await?;
        if let Some((index, code)) = ran {
            tx.rollback().await?;
            return Ok(Pass::Aborted(index, code));
        }
        tx.commit().await?;
        conn.committed = true;
        #[cfg(debug_assertions)]
        crate::store::check_invariants(conn.get().await?).await?;
        let changes = book.changes();
        feed.publish(
            changes
                .new_accounts
                .iter()
                .chain(&changes.updated_accounts)
                .copied(),
        );
    } else {
        tx.rollback().await?;
    }
    Ok(Pass::Done(results))
}

/// Loads every row the group can touch into `book`, locking accounts and pending statuses.
async fn load(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    group: &[Command],
    book: &mut LedgerBook,
) -> Result<(), Error> {
    let mut transfer_ids = BTreeSet::new();
    let mut resolved = BTreeSet::new();
    let mut account_ids = BTreeSet::new();
    for command in group {
        match command {
            Command::Accounts(accounts, _) => account_ids.extend(accounts.iter().map(|a| a.id)),
            Command::Transfers(transfers, _) | Command::Attached(transfers, _, _) => {
                for t in transfers {
                    transfer_ids.insert(t.id);
                    if let Some(pending) = t.pending_id() {
                        resolved.insert(pending);
                    }
                    account_ids.extend(t.accounts().into_iter().flatten());
                }
            }
            Command::Expire(pending, _) => {
                for id in pending {
                    resolved.insert(*id);
                    transfer_ids.insert(expiry_id(*id));
                }
            }
        }
    }
    transfer_ids.extend(resolved.iter().copied());

    let ids: Vec<String> = transfer_ids.iter().map(ToString::to_string).collect();
    for chunk in padded_chunks(&ids, MAX_IDS_PER_QUERY) {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.clone());
        }
        for row in query.fetch_all(&mut **tx).await? {
            book.load_transfer(db::transfer_from_row(&row)?);
        }
    }

    // Lock the statuses of the holds this group posts, voids or expires, before the accounts,
    // in the same order in every process.
    let holds: Vec<String> = resolved
        .iter()
        .filter_map(|id| book.transfer(*id))
        .filter(|t| t.kind == TransferKind::Pending)
        .map(|t| {
            account_ids.insert(t.debit_account_id);
            account_ids.insert(t.credit_account_id);
            t.id.to_string()
        })
        .collect();
    for chunk in padded_chunks(&holds, MAX_IDS_PER_QUERY) {
        let sql = format!(
            "SELECT id, status FROM ledger_pending WHERE id IN ({}) ORDER BY id{}",
            placeholders(chunk.len()),
            engine.lock_rows()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.clone());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let (id, status) = db::pending_from_row(&row)?;
            book.load_pending_status(id, status);
        }
    }

    let ids: Vec<String> = account_ids.iter().map(AccountId::to_string).collect();
    for chunk in padded_chunks(&ids, MAX_IDS_PER_QUERY) {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN ({}) ORDER BY id{}",
            placeholders(chunk.len()),
            engine.lock_rows()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.clone());
        }
        for row in query.fetch_all(&mut **tx).await? {
            book.load_account(db::account_from_row(&row)?);
        }
    }
    Ok(())
}

/// The statements that write what the book changed. Accounts get absolute balances: their rows
/// are locked.
fn persist(engine: Engine, book: &LedgerBook) -> Result<Vec<Statement>, Error> {
    let changes = book.changes();
    for account in changes.new_accounts.iter().chain(&changes.updated_accounts) {
        assert!(
            account.satisfies_flags(),
            "the book never lets an account break its flags"
        );
    }
    let mut statements = Vec::new();
    let balance_columns = [
        "debits_pending",
        "debits_posted",
        "credits_pending",
        "credits_posted",
    ];
    // New accounts are inserted (a repeated row would break the key); updated ones upserted,
    // in padded chunks: fewer texts, and fewer statements to run.
    let new_accounts: Vec<Vec<_>> = pow2_chunks(&changes.new_accounts, MAX_ROWS_PER_INSERT)
        .into_iter()
        .map(|chunk| chunk.iter().collect())
        .collect();
    let updated_accounts = padded_chunks(&changes.updated_accounts, MAX_ROWS_PER_INSERT);
    for (chunks, upsert) in [(new_accounts, false), (updated_accounts, true)] {
        for chunk in chunks {
            let row = format!("({})", placeholders(9));
            let rows = vec![row; chunk.len()].join(", ");
            let mut sql = format!("INSERT INTO ledger_accounts ({ACCOUNT_COLUMNS}) VALUES {rows}");
            if upsert {
                sql.push_str(&engine.upsert("id", &balance_columns));
            }
            let mut statement = Statement::new(sql);
            for a in chunk {
                let b = a.balances();
                statement = statement
                    .bind(a.id().to_string())
                    .bind(i64::from(a.ledger().as_u32()))
                    .bind(i64::from(a.code().as_u16()))
                    .bind(i64::from(a.flags().bits()))
                    .bind(db::amount_to_sql(b.debits_pending)?)
                    .bind(db::amount_to_sql(b.debits_posted)?)
                    .bind(db::amount_to_sql(b.credits_pending)?)
                    .bind(db::amount_to_sql(b.credits_posted)?)
                    .bind(db::time_to_sql(a.created_at())?);
            }
            statements.push(statement);
        }
    }

    for chunk in pow2_chunks(&changes.new_transfers, MAX_ROWS_PER_INSERT) {
        let row = format!("({})", placeholders(11));
        let rows = vec![row; chunk.len()].join(", ");
        let mut statement = Statement::new(format!(
            "INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES {rows}"
        ));
        for t in chunk {
            statement = statement
                .bind(t.id.to_string())
                .bind(t.debit_account_id.to_string())
                .bind(t.credit_account_id.to_string())
                .bind(db::amount_to_sql(t.amount)?)
                .bind(t.pending_id.map(|p| p.to_string()))
                .bind(i64::from(t.timeout_secs))
                .bind(i64::from(t.ledger.as_u32()))
                .bind(i64::from(t.code.as_u16()))
                .bind(i64::from(t.kind.as_u16()))
                .bind(db::user_data_to_sql(t.user_data))
                .bind(db::time_to_sql(t.timestamp)?);
        }
        statements.push(statement);
    }

    for chunk in padded_chunks(&changes.pending, MAX_ROWS_PER_INSERT) {
        let row = format!("({})", placeholders(3));
        let rows = vec![row; chunk.len()].join(", ");
        let mut sql =
            format!("INSERT INTO ledger_pending (id, status, expires_at_ms) VALUES {rows}");
        sql.push_str(&engine.upsert("id", &["status"]));
        let mut statement = Statement::new(sql);
        for (transfer, status, _) in chunk {
            let expires = transfer.expires_at().map(db::time_to_sql).transpose()?;
            statement = statement
                .bind(transfer.id.to_string())
                .bind(i64::from(status.as_u16()))
                .bind(expires);
        }
        statements.push(statement);
    }
    Ok(statements)
}

/// Runs the group's writes in order; the command to abort, and why, when a statement did not
/// do what it [`Expect`]ed (nothing after its run of statements ran).
///
/// On SQLite, consecutive statements of one text (a group's trade updates, say) go to the
/// database together, as one call of several statements: each call is a trip to the
/// connection's thread and back, which costs more than running a small statement. MariaDB takes
/// one statement per prepared call.
async fn run_script(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    script: &[(Option<usize>, Statement)],
) -> Result<Option<(usize, &'static str)>, Error> {
    let mut rest = script;
    while let Some((_, first)) = rest.first() {
        let len = match engine {
            Engine::Sqlite => {
                let same = rest
                    .iter()
                    .take(MAX_STATEMENTS_PER_CALL)
                    .take_while(|(_, statement)| statement.sql == first.sql)
                    .count();
                // Powers of two keep the texts prepared and cached few (see `pow2_chunks`).
                1 << same.ilog2()
            }
            Engine::MySql => 1,
        };
        let (run, tail) = rest.split_at(len);
        rest = tail;
        if let Some(abort) = run_statements(tx, run).await? {
            return Ok(Some(abort));
        }
    }
    Ok(None)
}

/// Runs `run`, statements of one text, in one call: the command to abort, and why, at the
/// first that did not do what it expected. The others of the run may have run by then; the
/// caller rolls the transaction back.
async fn run_statements(
    tx: &mut Transaction<'_, Any>,
    run: &[(Option<usize>, Statement)],
) -> Result<Option<(usize, &'static str)>, Error> {
    if let [(command, statement)] = run {
        let result = statement
            .query()
            .execute(&mut **tx)
            .await
            .map(|done| done.rows_affected());
        return judge(*command, statement.expect, result);
    }
    let mut sql = String::new();
    let mut values = Vec::new();
    for (_, statement) in run {
        sql.push_str(&statement.sql);
        sql.push_str(";\n");
        values.extend_from_slice(&statement.values);
    }
    let query = crate::attach::bind(sqlx::query(AssertSqlSafe(sql)), &values);
    // Several statements in one prepared query: SQLite's driver runs them in turn, binding the
    // values in order, and sqlx marks this deprecated (launchbadge/sqlx#3108) without a
    // replacement that binds values. Should it go, `MAX_STATEMENTS_PER_CALL = 1` restores one
    // call per statement.
    #[allow(deprecated)]
    let mut results = query.fetch_many(&mut **tx);
    for (command, statement) in run {
        // Each statement ends with its result (these statements return no rows), or fails.
        let result = loop {
            match results.try_next().await {
                Ok(Some(sqlx::Either::Left(done))) => break Ok(done.rows_affected()),
                Ok(Some(sqlx::Either::Right(_))) => {}
                Ok(None) => {
                    return Err(Error::Database(sqlx::Error::Protocol(
                        "a run of statements ended early".to_owned(),
                    )));
                }
                Err(error) => break Err(error),
            }
        };
        if let Some(abort) = judge(*command, statement.expect, result)? {
            return Ok(Some(abort));
        }
    }
    Ok(None)
}

/// Whether a statement's `result` meets what it expected: `Some` names the command to abort,
/// and why.
fn judge(
    command: Option<usize>,
    expect: Expect,
    result: Result<u64, sqlx::Error>,
) -> Result<Option<(usize, &'static str)>, Error> {
    let code = match (expect, result) {
        (Expect::OneRow(code), Ok(rows)) if rows != 1 => code,
        (_, Ok(_)) => return Ok(None),
        (Expect::Unique(code), Err(sqlx::Error::Database(e))) if e.is_unique_violation() => code,
        (_, Err(error)) => return Err(Error::Database(error)),
    };
    let command = command.ok_or_else(|| {
        Error::Database(sqlx::Error::Protocol(
            "a batch's statement expected what it cannot abort".to_owned(),
        ))
    })?;
    Ok(Some((command, code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        for n in 0..1_500_usize {
            let items: Vec<usize> = (0..n).collect();
            let chunks = pow2_chunks(&items, MAX_ROWS_PER_INSERT);
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= MAX_ROWS_PER_INSERT)
            );
            let flat: Vec<usize> = chunks.concat();
            assert_eq!(flat, items);
        }
    }

    #[test]
    fn padded_chunks_keep_their_items_and_repeat_only_the_last() {
        let ids: Vec<String> = (0..37).map(|i| i.to_string()).collect();
        let chunks = padded_chunks(&ids, MAX_IDS_PER_QUERY);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), 64);
        assert!(chunks[0][..37].iter().copied().eq(ids.iter()));
        assert!(chunks[0][37..].iter().all(|id| *id == &ids[36]));
        for n in 1..70_usize {
            let items: Vec<usize> = (0..n).collect();
            let chunks = padded_chunks(&items, 16);
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= 16)
            );
            let distinct: BTreeSet<usize> = chunks.iter().flatten().map(|i| **i).collect();
            assert_eq!(distinct.len(), n);
        }
    }
}
