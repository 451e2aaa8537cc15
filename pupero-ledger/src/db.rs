//! Connecting, migrating, and reading the ledger's rows.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pupero_core::ledger::{
    Account, AccountCode, AccountFlags, Balances, LedgerId, PendingStatus, Transfer, TransferCode,
    TransferKind,
};
use pupero_core::{AccountId, Piconero, Timestamp, TransferId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

use crate::dialect::Engine;
use crate::error::{Error, corrupt};

/// Most connections the read pool opens. Reads (balances, history) are short; a handful of
/// connections serves many requests, and SQLite in WAL mode lets them all read at once.
const MAX_READ_CONNECTIONS: u32 = 8;

/// How long a caller waits for a pooled connection before the request fails.
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long SQLite waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Pages SQLite lets its write-ahead log grow to before the committing connection copies it
/// into the database file itself (its automatic checkpoint; SQLite's default is 1,000). The
/// writer's checkpointer ([`crate::writer`]) does that copy beside the writer, so a commit
/// rarely pays for it: this is the backstop, for a process whose checkpointer falls behind.
const SQLITE_WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// How long MariaDB waits for a row lock before failing the statement (the writer retries).
const MYSQL_LOCK_WAIT_TIMEOUT_SECS: u32 = 10;

/// The name of this crate's own migrations table, so other crates' schemas can live in the
/// same database with their own.
const MIGRATIONS_TABLE: &str = "_pupero_ledger_migrations";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");

impl Engine {
    /// The engine a URL names, and the URL as the driver wants it.
    pub fn from_url(url: &str) -> Result<(Engine, String), Error> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            // Create the file when missing; an in-memory database cannot be shared by pools.
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            Ok((Engine::Sqlite, url))
        } else if let Some(rest) = url.strip_prefix("mariadb:") {
            Ok((Engine::MySql, format!("mysql:{rest}")))
        } else if url.starts_with("mysql:") {
            Ok((Engine::MySql, url.to_owned()))
        } else {
            Err(Error::UnsupportedUrl)
        }
    }
}

/// What opening a database does with its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Migrations {
    /// Applies the migrations it lacks (the one-command default).
    #[default]
    Apply,
    /// Only checks that none is lacking, and refuses the database if one is
    /// ([`Error::NotMigrated`]): for processes started after a separate `pupero migrate` step,
    /// as on a Galera cluster, where sqlx's migration lock holds on one node only.
    Check,
}

/// Applies the ledger's migrations to the database at `url`, and nothing else: the separate
/// migration step, before processes open it with [`Migrations::Check`].
pub async fn migrate(url: &str) -> Result<(), Error> {
    let (engine, url) = Engine::from_url(url)?;
    let pool = pool_options(engine, 1, Commits::Durable)
        .connect(&url)
        .await?;
    migrate_with(
        engine,
        &pool,
        &SQLITE_MIGRATIONS,
        &MYSQL_MIGRATIONS,
        MIGRATIONS_TABLE,
        Migrations::Apply,
    )
    .await?;
    pool.close().await;
    Ok(())
}

/// The two pools of one ledger: one connection for the writer, several for readers.
pub(crate) struct Pools {
    pub(crate) engine: Engine,
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    /// On SQLite, the database file, whose write-ahead log the writer's syncer syncs.
    pub(crate) file: Option<PathBuf>,
}

/// How a connection's commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commits {
    /// Each commit is durable when it returns (SQLite's `synchronous = FULL`).
    Durable,
    /// Commits return once written, consistent through any crash; the ledger writer's syncer
    /// ([`crate::syncer`]) makes them durable before anyone is answered (SQLite's
    /// `synchronous = NORMAL`, on the writer's connection only).
    SyncedByWriter,
}

pub(crate) async fn connect(url: &str, migrations: Migrations) -> Result<Pools, Error> {
    let (engine, url) = Engine::from_url(url)?;
    let writer = pool_options(engine, 1, Commits::SyncedByWriter)
        .connect(&url)
        .await?;
    migrate_with(
        engine,
        &writer,
        &SQLITE_MIGRATIONS,
        &MYSQL_MIGRATIONS,
        MIGRATIONS_TABLE,
        migrations,
    )
    .await?;
    let reader = pool_options(engine, MAX_READ_CONNECTIONS, Commits::Durable)
        .connect(&url)
        .await?;
    let file = match engine {
        Engine::Sqlite => Some(PathBuf::from(
            sqlx::query_scalar::<_, String>(
                "SELECT file FROM pragma_database_list WHERE name = 'main'",
            )
            .fetch_one(&writer)
            .await?,
        )),
        Engine::MySql => None,
    };
    Ok(Pools {
        engine,
        writer,
        reader,
        file,
    })
}

/// Opens a pool on `url` set up like the ledger's own (WAL and `synchronous=FULL` on SQLite,
/// `READ COMMITTED` and strict mode on MariaDB), for other crates' tables in the same database.
pub async fn open_pool(url: &str, max_connections: u32) -> Result<(Engine, AnyPool), Error> {
    let (engine, url) = Engine::from_url(url)?;
    let pool = pool_options(engine, max_connections, Commits::Durable)
        .connect(&url)
        .await?;
    Ok((engine, pool))
}

/// Applies the migration set of `engine` (one of two embedded sets), tracked in `table`, so
/// several crates keep their own schema histories in one database; or, with
/// [`Migrations::Check`], only checks that every migration of the set is applied.
pub async fn migrate_with(
    engine: Engine,
    pool: &AnyPool,
    sqlite: &Migrator,
    mysql: &Migrator,
    table: &'static str,
    mode: Migrations,
) -> Result<(), Error> {
    let mut migrator = Migrator {
        migrations: match engine {
            Engine::Sqlite => sqlite.migrations.clone(),
            Engine::MySql => mysql.migrations.clone(),
        },
        ..Migrator::DEFAULT
    };
    if mode == Migrations::Check {
        // A database never migrated has no history table: every migration is lacking.
        let applied: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT version FROM {table} WHERE success = 1"
        )))
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        return match migrator
            .iter()
            .map(|m| m.version)
            .find(|version| !applied.contains(version))
        {
            Some(version) => Err(Error::NotMigrated(version)),
            None => Ok(()),
        };
    }
    migrator.dangerous_set_table_name(table);
    migrator.run(pool).await?;
    Ok(())
}

fn pool_options(engine: Engine, max: u32, commits: Commits) -> AnyPoolOptions {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
        // A connection to a SQLite file cannot go stale; pinging it before each use costs a
        // trip to its worker thread. A network connection to MariaDB can, so it is checked.
        .test_before_acquire(engine == Engine::MySql)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                for statement in session_setup(engine, commits) {
                    conn.execute(sqlx::AssertSqlSafe(statement)).await?;
                }
                Ok(())
            })
        })
}

fn session_setup(engine: Engine, commits: Commits) -> Vec<String> {
    match engine {
        Engine::Sqlite => vec![
            "PRAGMA journal_mode = WAL".to_owned(),
            // Money: a commit is on disk before it is acknowledged, by SQLite or by the syncer.
            match commits {
                Commits::Durable => "PRAGMA synchronous = FULL",
                Commits::SyncedByWriter => "PRAGMA synchronous = NORMAL",
            }
            .to_owned(),
            "PRAGMA foreign_keys = ON".to_owned(),
            format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
            format!("PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}"),
            // Statement journals (a multi-row statement's undo, kept until it ends) and sorts in
            // memory: in a file, every group commit wrote as many pages to it as to the log.
            "PRAGMA temp_store = MEMORY".to_owned(),
        ],
        Engine::MySql => vec![
            // Locking reads see the latest committed rows; plain reads need no gap locks.
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".to_owned(),
            format!("SET SESSION innodb_lock_wait_timeout = {MYSQL_LOCK_WAIT_TIMEOUT_SECS}"),
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY'"
                .to_owned(),
        ],
    }
}

pub(crate) const ACCOUNT_COLUMNS: &str = "id, ledger, code, flags, debits_pending, debits_posted, \
     credits_pending, credits_posted, created_at_ms";

pub(crate) const TRANSFER_COLUMNS: &str = "id, debit_account_id, credit_account_id, amount, \
     pending_id, timeout_secs, ledger, code, kind, user_data, created_at_ms";

pub(crate) fn amount_to_sql(p: Piconero) -> Result<i64, Error> {
    i64::try_from(p).map_err(Error::Refused)
}

pub(crate) fn time_to_sql(t: Timestamp) -> Result<i64, Error> {
    i64::try_from(t).map_err(Error::Refused)
}

pub(crate) fn user_data_to_sql(v: u128) -> String {
    format!("{v:032x}")
}

fn get_i64(row: &AnyRow, column: &str) -> Result<i64, Error> {
    row.try_get::<i64, _>(column).map_err(Error::Database)
}

fn get_amount(row: &AnyRow, column: &str) -> Result<Piconero, Error> {
    Piconero::try_from(get_i64(row, column)?).map_err(|_| corrupt(format!("negative {column}")))
}

fn get_u16(row: &AnyRow, column: &str) -> Result<u16, Error> {
    u16::try_from(get_i64(row, column)?).map_err(|_| corrupt(format!("{column} out of range")))
}

fn get_time(row: &AnyRow, column: &str) -> Result<Timestamp, Error> {
    Timestamp::try_from(get_i64(row, column)?)
        .map_err(|_| corrupt(format!("{column} out of range")))
}

fn get_ledger(row: &AnyRow) -> Result<LedgerId, Error> {
    let v = u32::try_from(get_i64(row, "ledger")?).map_err(|_| corrupt("ledger out of range"))?;
    LedgerId::new(v).ok_or_else(|| corrupt("ledger zero"))
}

fn parse_id<T: FromStr>(s: &str) -> Result<T, Error> {
    s.parse().map_err(|_| corrupt(format!("bad id {s:?}")))
}

pub(crate) fn account_from_row(row: &AnyRow) -> Result<Account, Error> {
    let id: String = row.try_get("id")?;
    let code = AccountCode::try_from(get_u16(row, "code")?).map_err(corrupt)?;
    let flags = AccountFlags::from_bits(get_u16(row, "flags")?)
        .ok_or_else(|| corrupt("unknown account flags"))?;
    let balances = Balances {
        debits_pending: get_amount(row, "debits_pending")?,
        debits_posted: get_amount(row, "debits_posted")?,
        credits_pending: get_amount(row, "credits_pending")?,
        credits_posted: get_amount(row, "credits_posted")?,
    };
    Ok(Account::from_parts(
        parse_id::<AccountId>(&id)?,
        get_ledger(row)?,
        code,
        flags,
        balances,
        get_time(row, "created_at_ms")?,
    ))
}

pub(crate) fn transfer_from_row(row: &AnyRow) -> Result<Transfer, Error> {
    let id: String = row.try_get("id")?;
    let debit: String = row.try_get("debit_account_id")?;
    let credit: String = row.try_get("credit_account_id")?;
    let pending_id: Option<String> = row.try_get("pending_id")?;
    let user_data: String = row.try_get("user_data")?;
    Ok(Transfer {
        id: parse_id::<TransferId>(&id)?,
        debit_account_id: parse_id(&debit)?,
        credit_account_id: parse_id(&credit)?,
        amount: get_amount(row, "amount")?,
        pending_id: pending_id.as_deref().map(parse_id).transpose()?,
        timeout_secs: u32::try_from(get_i64(row, "timeout_secs")?)
            .map_err(|_| corrupt("timeout out of range"))?,
        ledger: get_ledger(row)?,
        code: TransferCode::try_from(get_u16(row, "code")?).map_err(corrupt)?,
        kind: TransferKind::from_u16(get_u16(row, "kind")?)
            .ok_or_else(|| corrupt("unknown transfer kind"))?,
        user_data: u128::from_str_radix(&user_data, 16).map_err(|_| corrupt("bad user_data"))?,
        timestamp: get_time(row, "created_at_ms")?,
    })
}

pub(crate) fn pending_from_row(row: &AnyRow) -> Result<(TransferId, PendingStatus), Error> {
    let id: String = row.try_get("id")?;
    let status = PendingStatus::from_u16(get_u16(row, "status")?)
        .ok_or_else(|| corrupt("unknown pending status"))?;
    Ok((parse_id(&id)?, status))
}

/// Whether a database error is worth retrying the whole group commit for: a deadlock, a lock
/// wait timeout, a busy SQLite file, or a duplicate key from a concurrent writer in another
/// process (the retry then finds the row and treats the request as already done).
pub(crate) fn is_retryable(error: &Error) -> bool {
    let Error::Database(sqlx::Error::Database(db)) = error else {
        return false;
    };
    if db.is_unique_violation() {
        return true;
    }
    let code = db.code().unwrap_or_default();
    // MySQL SQLSTATE 40001 = deadlock, HY000 + 1205 = lock wait timeout; SQLite 5/6 = BUSY/LOCKED
    // and their extended codes (5 + n * 256).
    matches!(code.as_ref(), "40001" | "5" | "6" | "261" | "517" | "262")
        || db.message().contains("Lock wait timeout")
}
