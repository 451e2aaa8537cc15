//! Ledger throughput against the raw insert rate of the same database.
//!
//! For each engine (SQLite, then MariaDB when reachable) this opens a fresh ledger, creates an
//! operator account and [`USER_ACCOUNTS`] user accounts funded by it, then measures:
//!
//! - **ledger single**: [`CONCURRENT_CLIENTS`] tasks each calling `SqlLedger::transfer` in a
//!   loop; the writer groups whatever is queued into one commit;
//! - **ledger batch N**: sequential `create_transfers` calls of N transfers each;
//! - **raw single / raw batch N**: plain row inserts into a table of a comparable row, in the
//!   same database file or server with the same durability settings (SQLite in WAL mode with
//!   `synchronous=FULL`; MariaDB as configured), one row per transaction or N per transaction.
//!
//! The ratio ledger / raw at the same batch size is what the ledger's bookkeeping costs over
//! the database's own write path. One more raw scenario, **raw batch N +history idx**, inserts
//! into a table with the indexes of `ledger_transfers` (a sequence key, a unique id, and the two
//! per-account history indexes), to separate what the schema costs from what the ledger's code
//! costs. Latencies are per call: per transfer (row) for the single scenarios, per batch for
//! the batch scenarios. Every scenario stops after [`SCENARIO_TIME`] or
//! [`MAX_OPS_PER_SCENARIO`] transfers (rows), whichever comes first.
//!
//! Run with `cargo bench -p pupero-benches --bench ledger`. MariaDB is reached at
//! `PUPERO_BENCH_MARIADB_URL` (default `mysql://root@127.0.0.1:3306`) in a fresh database that
//! is dropped at the end; when it is unreachable its part is skipped, unless `CI` or
//! `PUPERO_REQUIRE_SERVICES=1` is set.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, LedgerStore, NewAccount, NewTransfer, Outcome,
    TransferCode, TransferOp, TransferResult,
};
use pupero_core::limits::MAX_TRANSFERS_PER_BATCH;
use pupero_core::{AccountId, Piconero, TransferId};
use pupero_ledger::{LedgerOptions, SqlLedger};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

/// User accounts the transfers move money between: enough that a batch of 1,000 random
/// transfers touches most of them, as a busy platform's batch would.
const USER_ACCOUNTS: usize = 1_000;

/// What the operator gives every user up front.
const FUNDING_PER_USER: Piconero = Piconero::ONE_XMR;

/// Largest benchmark transfer. Far below the funding, so no user ever runs dry (a user would
/// have to lose a billion transfers in a row).
const MAX_TRANSFER_PICONERO: u64 = 1_000;

/// Transfers per funding call during setup.
const FUNDING_BATCH: usize = 500;

/// Concurrent callers of the single-transfer scenarios (ledger tasks, raw MariaDB clients).
const CONCURRENT_CLIENTS: u32 = 64;

/// Batch sizes measured for the ledger and for raw inserts.
const BATCH_SIZES: [usize; 2] = [100, MAX_TRANSFERS_PER_BATCH];

/// How long one scenario runs at most, so the whole run stays well under two minutes.
const SCENARIO_TIME: Duration = Duration::from_secs(3);

/// Most transfers (or rows) one scenario performs; bounds the database's growth on fast disks.
const MAX_OPS_PER_SCENARIO: u64 = 300_000;

/// Rows per raw multi-row `INSERT`, the same as the ledger's writer uses.
const MAX_ROWS_PER_INSERT: usize = 500;

/// The batch size of the diagnostic insert into a table indexed like `ledger_transfers`.
const INDEXED_BATCH: usize = MAX_TRANSFERS_PER_BATCH;

/// How long to wait for MariaDB before declaring it unreachable.
const MARIADB_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const DEFAULT_MARIADB_URL: &str = "mysql://root@127.0.0.1:3306";

/// One engine to measure.
struct Target {
    name: &'static str,
    ledger_url: String,
    raw_url: String,
    /// Run on every raw connection: the durability settings the ledger's connections use.
    raw_session: &'static [&'static str],
    /// Raw single-row inserts: concurrent clients on a server, one writer on SQLite (more
    /// would only queue on its single write lock).
    raw_single_clients: u32,
    begin_write: &'static str,
    /// Creates [`RAW_TABLE`] and [`INDEXED_TABLE`].
    create_raw_tables: &'static [&'static str],
}

/// The plain table: a primary key on a time-ordered id, so inserts append.
const RAW_TABLE: &str = "bench_raw_rows";

/// The same row with the indexes of `ledger_transfers`.
const INDEXED_TABLE: &str = "bench_raw_indexed";

const SQLITE_RAW_SESSION: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 5000",
];

const SQLITE_RAW_TABLES: &[&str] = &[
    "CREATE TABLE bench_raw_rows (
        id                VARCHAR(36) NOT NULL PRIMARY KEY,
        debit_account_id  VARCHAR(36) NOT NULL,
        credit_account_id VARCHAR(36) NOT NULL,
        amount            BIGINT      NOT NULL,
        ledger            BIGINT      NOT NULL,
        code              BIGINT      NOT NULL,
        created_at_ms     BIGINT      NOT NULL
    )",
    "CREATE TABLE bench_raw_indexed (
        seq               INTEGER     PRIMARY KEY AUTOINCREMENT,
        id                VARCHAR(36) NOT NULL UNIQUE,
        debit_account_id  VARCHAR(36) NOT NULL,
        credit_account_id VARCHAR(36) NOT NULL,
        amount            BIGINT      NOT NULL,
        ledger            BIGINT      NOT NULL,
        code              BIGINT      NOT NULL,
        created_at_ms     BIGINT      NOT NULL
    )",
    "CREATE INDEX bench_raw_indexed_debit ON bench_raw_indexed (debit_account_id, seq)",
    "CREATE INDEX bench_raw_indexed_credit ON bench_raw_indexed (credit_account_id, seq)",
];

const MYSQL_RAW_TABLES: &[&str] = &[
    "CREATE TABLE bench_raw_rows (
        id                VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        debit_account_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        credit_account_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        amount            BIGINT      NOT NULL,
        ledger            BIGINT      NOT NULL,
        code              BIGINT      NOT NULL,
        created_at_ms     BIGINT      NOT NULL
    ) ENGINE = InnoDB",
    "CREATE TABLE bench_raw_indexed (
        seq               BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id                VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
        debit_account_id  VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        credit_account_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        amount            BIGINT      NOT NULL,
        ledger            BIGINT      NOT NULL,
        code              BIGINT      NOT NULL,
        created_at_ms     BIGINT      NOT NULL,
        INDEX bench_raw_indexed_debit (debit_account_id, seq),
        INDEX bench_raw_indexed_credit (credit_account_id, seq)
    ) ENGINE = InnoDB",
];

const RAW_COLUMNS: &str = "id, debit_account_id, credit_account_id, amount, ledger, code, \
     created_at_ms";

/// What was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    LedgerSingle,
    LedgerBatch(usize),
    RawSingle { clients: u32 },
    RawBatch(usize),
    RawBatchIndexed(usize),
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::LedgerSingle => format!("ledger single ({CONCURRENT_CLIENTS} tasks)"),
            Scenario::LedgerBatch(n) => format!("ledger batch {n}"),
            Scenario::RawSingle { clients: 1 } => "raw single (sequential)".to_owned(),
            Scenario::RawSingle { clients } => format!("raw single ({clients} clients)"),
            Scenario::RawBatch(n) => format!("raw batch {n}"),
            Scenario::RawBatchIndexed(n) => format!("raw batch {n} +history idx"),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Scenario::LedgerSingle | Scenario::LedgerBatch(_) => "transfers/s",
            Scenario::RawSingle { .. } | Scenario::RawBatch(_) | Scenario::RawBatchIndexed(_) => {
                "rows/s"
            }
        }
    }

    /// The raw scenario a ledger scenario is compared with.
    fn is_raw_counterpart_of(self, ledger: Scenario) -> bool {
        match (ledger, self) {
            (Scenario::LedgerSingle, Scenario::RawSingle { .. }) => true,
            (Scenario::LedgerBatch(a), Scenario::RawBatch(b)) => a == b,
            _ => false,
        }
    }
}

/// What one scenario did: operations (transfers or rows), wall time, and the latency of every
/// call (per transfer or row for single scenarios, per batch for batches).
struct Run {
    count: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Measurement {
    engine: &'static str,
    scenario: Scenario,
    count: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Measurement {
    /// Operations per second, for reporting only.
    #[allow(
        clippy::float_arithmetic,
        clippy::as_conversions,
        clippy::cast_precision_loss
    )]
    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64() // float-ok
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    sqlx::any::install_default_drivers();
    let started = Instant::now();
    let mut measurements = Vec::new();

    let dir = tempfile::tempdir().context("creating the SQLite directory")?;
    measurements.extend(run_engine(&sqlite_target(dir.path())).await?);
    if let Some(m) = run_mariadb().await? {
        measurements.extend(m);
    }

    print_table(&measurements);
    print_goals(&measurements);
    println!("whole run: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn sqlite_target(dir: &Path) -> Target {
    let path = dir.join("bench.db");
    let url = format!("sqlite://{}", path.display());
    Target {
        name: "sqlite",
        raw_url: format!("{url}?mode=rwc"),
        ledger_url: url,
        raw_session: SQLITE_RAW_SESSION,
        raw_single_clients: 1,
        begin_write: "BEGIN IMMEDIATE",
        create_raw_tables: SQLITE_RAW_TABLES,
    }
}

fn services_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Runs the MariaDB part in a fresh database, dropped afterwards even when the run fails.
async fn run_mariadb() -> Result<Option<Vec<Measurement>>> {
    let base = std::env::var("PUPERO_BENCH_MARIADB_URL")
        .unwrap_or_else(|_| DEFAULT_MARIADB_URL.to_owned());
    let base = base.trim_end_matches('/').to_owned();
    let admin = match AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(MARIADB_CONNECT_TIMEOUT)
        .connect(&base)
        .await
    {
        Ok(pool) => pool,
        Err(error) if services_required() => {
            return Err(error).context("MariaDB is unreachable and services are required");
        }
        Err(error) => {
            println!(
                "MariaDB is unreachable ({error}); skipping its part \
                 (set PUPERO_REQUIRE_SERVICES=1 to fail instead)"
            );
            return Ok(None);
        }
    };
    let database = format!("pupero_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .await
        .context("creating the benchmark database")?;
    let url = format!("{base}/{database}");
    let target = Target {
        name: "mariadb",
        ledger_url: url.clone(),
        raw_url: url,
        raw_session: &[],
        raw_single_clients: CONCURRENT_CLIENTS,
        begin_write: "BEGIN",
        create_raw_tables: MYSQL_RAW_TABLES,
    };
    let result = run_engine(&target).await;
    let dropped = admin
        .execute(AssertSqlSafe(format!("DROP DATABASE {database}")))
        .await;
    admin.close().await;
    let measurements = result?;
    dropped.context("dropping the benchmark database")?;
    Ok(Some(measurements))
}

async fn run_engine(target: &Target) -> Result<Vec<Measurement>> {
    println!("== {} ==", target.name);
    let mut measurements = Vec::new();
    let mut record = |scenario: Scenario, mut run: Run| {
        run.latencies.sort_unstable();
        let m = Measurement {
            engine: target.name,
            scenario,
            count: run.count,
            elapsed: run.elapsed,
            p50: percentile(&run.latencies, 50),
            p99: percentile(&run.latencies, 99),
        };
        println!(
            "{:<8} {:<28} {:>7} in {:>5.2} s = {:>9} {:<12} p50 {:>8.1?} p99 {:>8.1?}",
            m.engine,
            scenario.label(),
            m.count,
            m.elapsed.as_secs_f64(),
            thousands(m.rate()),
            scenario.unit(),
            m.p50,
            m.p99
        );
        measurements.push(m);
    };

    let ledger = SqlLedger::open(LedgerOptions::new(&target.ledger_url))
        .await
        .with_context(|| format!("opening the {} ledger", target.name))?;
    let setup_started = Instant::now();
    let users = setup(&ledger).await?;
    println!(
        "{:<8} setup: 1 operator + {} users created and funded in {:.2} s",
        target.name,
        users.len(),
        setup_started.elapsed().as_secs_f64()
    );

    record(
        Scenario::LedgerSingle,
        ledger_single(&ledger, &users).await?,
    );
    for batch in BATCH_SIZES {
        record(
            Scenario::LedgerBatch(batch),
            ledger_batches(&ledger, &users, batch).await?,
        );
    }
    ledger
        .check_invariants()
        .await
        .with_context(|| format!("{} ledger invariants", target.name))?;
    println!(
        "{:<8} check_invariants: passed (Σ debits = Σ credits, no account breaks its flags)",
        target.name
    );
    drop(ledger);

    let raw = raw_pool(target).await?;
    for statement in target.create_raw_tables {
        raw.execute(*statement)
            .await
            .context("creating the raw tables")?;
    }
    println!(
        "{:<8} durability: {}",
        target.name,
        durability(target, &raw).await?
    );
    let user_ids: Vec<String> = users.iter().map(ToString::to_string).collect();
    let user_ids: Arc<[String]> = user_ids.into();
    let clients = target.raw_single_clients;
    record(
        Scenario::RawSingle { clients },
        raw_single(&raw, &user_ids, clients).await?,
    );
    for batch in BATCH_SIZES {
        record(
            Scenario::RawBatch(batch),
            raw_batches(&raw, target.begin_write, RAW_TABLE, &user_ids, batch).await?,
        );
    }
    record(
        Scenario::RawBatchIndexed(INDEXED_BATCH),
        raw_batches(
            &raw,
            target.begin_write,
            INDEXED_TABLE,
            &user_ids,
            INDEXED_BATCH,
        )
        .await?,
    );
    raw.close().await;
    Ok(measurements)
}

/// Creates the operator and the users, and funds every user from the operator.
async fn setup(ledger: &SqlLedger) -> Result<Arc<[AccountId]>> {
    // Equity is credit-normal with no balance limit: it can pay out opening balances.
    let operator = NewAccount {
        id: AccountId::new_v7(),
        ledger: LedgerId::XMR,
        code: AccountCode::Equity,
        flags: AccountFlags::NONE,
    };
    ledger.create_account(operator).await?;
    let users: Vec<AccountId> = (0..USER_ACCOUNTS).map(|_| AccountId::new_v7()).collect();
    let new_users: Vec<NewAccount> = users.iter().copied().map(NewAccount::user_xmr).collect();
    let results = ledger.create_accounts(&new_users).await?;
    ensure!(
        results.iter().all(|r| *r == Ok(Outcome::Created)),
        "creating users: {results:?}"
    );
    for chunk in users.chunks(FUNDING_BATCH) {
        let fundings: Vec<NewTransfer> = chunk
            .iter()
            .map(|user| {
                NewTransfer::xmr(
                    TransferId::new_v7(),
                    TransferOp::Single {
                        debit: operator.id,
                        credit: *user,
                        amount: FUNDING_PER_USER,
                    },
                    TransferCode::Adjustment,
                )
            })
            .collect();
        check_created(&ledger.create_transfers(&fundings).await?)?;
    }
    Ok(users.into())
}

fn random_transfer(rng: &mut StdRng, users: &[AccountId]) -> NewTransfer {
    let (debit, credit) = random_pair(rng, users);
    NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Single {
            debit: *debit,
            credit: *credit,
            amount: Piconero::new(rng.random_range(1..=MAX_TRANSFER_PICONERO)),
        },
        TransferCode::Adjustment,
    )
}

/// Two different random elements of `items`.
fn random_pair<'a, T>(rng: &mut StdRng, items: &'a [T]) -> (&'a T, &'a T) {
    let a = rng.random_range(0..items.len());
    let mut b = rng.random_range(0..items.len() - 1);
    if b >= a {
        b += 1;
    }
    (&items[a], &items[b])
}

fn check_created(results: &[TransferResult]) -> Result<()> {
    if let Some(failed) = results.iter().find(|r| **r != Ok(Outcome::Created)) {
        anyhow::bail!("a benchmark transfer was not created: {failed:?}");
    }
    Ok(())
}

/// Whether a scenario started at `started` should stop before operation number `index`.
fn done(started: Instant, index: u64) -> bool {
    index >= MAX_OPS_PER_SCENARIO || started.elapsed() >= SCENARIO_TIME
}

/// The `pct`-th percentile of `sorted` (nearest rank below), zero when empty.
fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    let index = sorted.len().saturating_sub(1) * pct / 100;
    sorted.get(index).copied().unwrap_or_default()
}

/// Runs `clients` tasks until the scenario is done and gathers what they did.
async fn concurrently<F, Fut>(clients: u32, task: F) -> Result<Run>
where
    F: Fn(u32, Instant, Arc<AtomicU64>) -> Fut,
    Fut: Future<Output = Result<Vec<Duration>>> + Send + 'static,
{
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        tasks.spawn(task(client, started, issued.clone()));
    }
    let mut latencies = Vec::new();
    while let Some(task_latencies) = tasks.join_next().await {
        latencies.extend(task_latencies??);
    }
    Ok(Run {
        count: u64::try_from(latencies.len())?,
        elapsed: started.elapsed(),
        latencies,
    })
}

/// Concurrent tasks, each sending one transfer at a time.
async fn ledger_single(ledger: &SqlLedger, users: &Arc<[AccountId]>) -> Result<Run> {
    concurrently(CONCURRENT_CLIENTS, |client, started, issued| {
        let (ledger, users) = (ledger.clone(), users.clone());
        async move {
            let mut rng = StdRng::seed_from_u64(u64::from(client));
            let mut latencies = Vec::new();
            while !done(started, issued.fetch_add(1, Ordering::Relaxed)) {
                let call = Instant::now();
                let outcome = ledger.transfer(random_transfer(&mut rng, &users)).await?;
                latencies.push(call.elapsed());
                ensure!(outcome == Outcome::Created, "transfer {outcome:?}");
            }
            Ok(latencies)
        }
    })
    .await
}

/// Sequential `create_transfers` calls of `batch` transfers each.
async fn ledger_batches(ledger: &SqlLedger, users: &[AccountId], batch: usize) -> Result<Run> {
    let mut rng = StdRng::seed_from_u64(u64::try_from(batch)?);
    let per_batch = u64::try_from(batch)?;
    let started = Instant::now();
    let mut count = 0;
    let mut latencies = Vec::new();
    while !done(started, count) {
        let transfers: Vec<NewTransfer> = (0..batch)
            .map(|_| random_transfer(&mut rng, users))
            .collect();
        let call = Instant::now();
        let results = ledger.create_transfers(&transfers).await?;
        latencies.push(call.elapsed());
        check_created(&results)?;
        count += per_batch;
    }
    Ok(Run {
        count,
        elapsed: started.elapsed(),
        latencies,
    })
}

async fn raw_pool(target: &Target) -> Result<AnyPool> {
    let session = target.raw_session;
    AnyPoolOptions::new()
        .max_connections(target.raw_single_clients)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                for statement in session {
                    conn.execute(*statement).await?;
                }
                Ok(())
            })
        })
        .connect(&target.raw_url)
        .await
        .with_context(|| format!("connecting raw to {}", target.name))
}

/// The durability settings the raw connections run with, as the database reports them.
async fn durability(target: &Target, pool: &AnyPool) -> Result<String> {
    if target.raw_session.is_empty() {
        let row = pool
            .fetch_one(
                "SELECT CAST(@@innodb_flush_log_at_trx_commit AS CHAR) AS flush, \
                 CAST(@@sync_binlog AS CHAR) AS sync_binlog, CAST(@@log_bin AS CHAR) AS log_bin",
            )
            .await?;
        Ok(format!(
            "innodb_flush_log_at_trx_commit={}, sync_binlog={}, log_bin={} (server-wide, \
             shared by the ledger's connections)",
            row.try_get::<String, _>("flush")?,
            row.try_get::<String, _>("sync_binlog")?,
            row.try_get::<String, _>("log_bin")?
        ))
    } else {
        let mut conn = pool.acquire().await?;
        let journal: String = conn.fetch_one("PRAGMA journal_mode").await?.try_get(0)?;
        let synchronous: i64 = conn.fetch_one("PRAGMA synchronous").await?.try_get(0)?;
        Ok(format!(
            "journal_mode={journal}, synchronous={synchronous} (2 = FULL), as the ledger sets"
        ))
    }
}

/// One raw row shaped like a transfer.
struct RawRow {
    id: String,
    debit: String,
    credit: String,
    amount: i64,
}

fn random_row(rng: &mut StdRng, users: &[String]) -> RawRow {
    let (debit, credit) = random_pair(rng, users);
    RawRow {
        id: TransferId::new_v7().to_string(),
        debit: debit.clone(),
        credit: credit.clone(),
        amount: rng.random_range(1..=1_000),
    }
}

fn now_ms() -> Result<i64> {
    Ok(i64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis(),
    )?)
}

fn bind_row<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    row: RawRow,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(row.id)
        .bind(row.debit)
        .bind(row.credit)
        .bind(row.amount)
        .bind(i64::from(LedgerId::XMR.as_u32()))
        .bind(i64::from(TransferCode::Adjustment.as_u16()))
        .bind(now)
}

/// One row per (autocommit) transaction, from `clients` concurrent clients.
async fn raw_single(pool: &AnyPool, users: &Arc<[String]>, clients: u32) -> Result<Run> {
    concurrently(clients, |client, started, issued| {
        let (pool, users) = (pool.clone(), users.clone());
        async move {
            let mut rng = StdRng::seed_from_u64(u64::from(client));
            let sql =
                format!("INSERT INTO {RAW_TABLE} ({RAW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)");
            let mut latencies = Vec::new();
            while !done(started, issued.fetch_add(1, Ordering::Relaxed)) {
                let row = random_row(&mut rng, &users);
                let now = now_ms()?;
                let call = Instant::now();
                bind_row(sqlx::query(AssertSqlSafe(sql.clone())), row, now)
                    .execute(&pool)
                    .await?;
                latencies.push(call.elapsed());
            }
            Ok(latencies)
        }
    })
    .await
}

/// Sequential transactions of `batch` rows each, written with multi-row `INSERT`s.
async fn raw_batches(
    pool: &AnyPool,
    begin_write: &'static str,
    table: &str,
    users: &[String],
    batch: usize,
) -> Result<Run> {
    let mut rng = StdRng::seed_from_u64(u64::try_from(batch)?);
    let per_batch = u64::try_from(batch)?;
    let started = Instant::now();
    let mut count = 0;
    let mut latencies = Vec::new();
    while !done(started, count) {
        let now = now_ms()?;
        let rows: Vec<RawRow> = (0..batch).map(|_| random_row(&mut rng, users)).collect();
        let call = Instant::now();
        let mut tx = pool.begin_with(begin_write).await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<RawRow> = rows.by_ref().take(MAX_ROWS_PER_INSERT).collect();
            let values = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO {table} ({RAW_COLUMNS}) VALUES {values}");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                query = bind_row(query, row, now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        latencies.push(call.elapsed());
        count += per_batch;
    }
    Ok(Run {
        count,
        elapsed: started.elapsed(),
        latencies,
    })
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{value:.0}");
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `ledger`'s rate as a multiple of `raw`'s.
#[allow(clippy::float_arithmetic)]
fn ratio(ledger: &Measurement, raw: &Measurement) -> f64 {
    ledger.rate() / raw.rate() // float-ok
}

/// `ledger`'s rate as a multiple of its raw counterpart's, if that was measured.
fn ratio_to_raw(ledger: &Measurement, all: &[Measurement]) -> Option<(f64, Scenario)> {
    all.iter()
        .find(|m| m.engine == ledger.engine && m.scenario.is_raw_counterpart_of(ledger.scenario))
        .map(|raw| (ratio(ledger, raw), raw.scenario))
}

fn print_table(measurements: &[Measurement]) {
    println!();
    println!(
        "{:<8} {:<28} {:>10} {:<12} {:>9} {:>9}  ledger / raw",
        "engine", "scenario", "rate", "unit", "p50", "p99"
    );
    println!("{}", "-".repeat(118));
    for m in measurements {
        let ratio = match ratio_to_raw(m, measurements) {
            Some((ratio, raw)) => format!("{ratio:.2}x {}", raw.label()),
            None => String::new(),
        };
        println!(
            "{:<8} {:<28} {:>10} {:<12} {:>9} {:>9}  {}",
            m.engine,
            m.scenario.label(),
            thousands(m.rate()),
            m.scenario.unit(),
            format!("{:.1?}", m.p50),
            format!("{:.1?}", m.p99),
            ratio
        );
    }
    println!();
}

/// The targets: SQLite batches at ≥ 0.5× the raw batch rate; MariaDB ≥ 10,000/s.
fn print_goals(measurements: &[Measurement]) {
    const SQLITE_MIN_RATIO: f64 = 0.5;
    const MARIADB_MIN_RATE: f64 = 10_000.0;
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for m in measurements {
        match (m.engine, m.scenario) {
            ("sqlite", Scenario::LedgerBatch(n)) => {
                if let Some((ratio, _)) = ratio_to_raw(m, measurements) {
                    println!(
                        "goal sqlite batch {n}: {ratio:.2}x raw batch {n} (target >= {SQLITE_MIN_RATIO}x): {}",
                        verdict(ratio >= SQLITE_MIN_RATIO)
                    );
                }
            }
            ("mariadb", Scenario::LedgerSingle | Scenario::LedgerBatch(_)) => {
                let rate = m.rate();
                println!(
                    "goal mariadb {}: {} transfers/s (target >= 10,000): {}",
                    m.scenario.label(),
                    thousands(rate),
                    verdict(rate >= MARIADB_MIN_RATE)
                );
            }
            _ => {}
        }
    }
    for raw in measurements {
        let Scenario::RawBatchIndexed(n) = raw.scenario else {
            continue;
        };
        let ledger = measurements
            .iter()
            .find(|m| m.engine == raw.engine && m.scenario == Scenario::LedgerBatch(n));
        if let Some(ledger) = ledger {
            println!(
                "diagnostic {}: ledger batch {n} = {:.2}x raw batch {n} into a table with the ledger's indexes",
                raw.engine,
                ratio(ledger, raw)
            );
        }
    }
}
