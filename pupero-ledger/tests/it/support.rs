//! Opening a fresh ledger on each engine, and the `ledger_test!` macro.

use std::sync::Arc;
use std::time::Duration;

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::{AccountId, ManualClock, Piconero, Timestamp, TransferId};
use pupero_ledger::{LedgerOptions, SqlLedger};
use sqlx::Executor;

/// Where the tests find MariaDB (a server URL without a database). `scripts/test.sh` sets
/// `PUPERO_TEST_MARIADB_URL` to an account that may only touch `pupero_*` databases.
const DEFAULT_MARIADB_URL: &str = "mysql://root@127.0.0.1:3306";

/// Prefix of the throw-away databases the tests create; `scripts/test.sh` drops leftovers.
pub const TEST_DB_PREFIX: &str = "pupero_t_";

/// The instant every test's clock starts at: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_unix_ms(1_767_225_600_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MariaDb,
}

pub struct TestLedger {
    pub ledger: SqlLedger,
    pub clock: Arc<ManualClock>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Cleanup(Option<String>);

fn services_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn mariadb_server_url() -> String {
    std::env::var("PUPERO_TEST_MARIADB_URL").unwrap_or_else(|_| DEFAULT_MARIADB_URL.to_owned())
}

/// A fresh, empty database URL on `backend`, or `None` when MariaDB is not running and the run
/// does not require it.
pub async fn fresh_database(
    backend: Backend,
) -> Option<(String, Option<tempfile::TempDir>, Cleanup)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
            Some((url, Some(dir), Cleanup(None)))
        }
        Backend::MariaDb => {
            sqlx::any::install_default_drivers();
            let server = mariadb_server_url();
            let connect = sqlx::AnyPool::connect(&server);
            let admin = match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(pool)) => pool,
                other => {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "timed out".to_owned(),
                        Ok(Ok(_)) => unreachable!(),
                    };
                    assert!(
                        !services_required(),
                        "MariaDB is required (CI or PUPERO_REQUIRE_SERVICES=1) but unreachable at {server}: {why}"
                    );
                    eprintln!("SKIPPED: MariaDB unreachable at {server}: {why}");
                    return None;
                }
            };
            let name = format!(
                "{TEST_DB_PREFIX}{}",
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            );
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create test database");
            admin.close().await;
            Some((format!("{server}/{name}"), None, Cleanup(Some(name))))
        }
    }
}

impl Cleanup {
    pub async fn run(self) {
        if let Some(name) = self.0
            && let Ok(admin) = sqlx::AnyPool::connect(&mariadb_server_url()).await
        {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .await;
        }
    }
}

pub async fn open(backend: Backend) -> Option<(TestLedger, Cleanup)> {
    let (url, dir, cleanup) = fresh_database(backend).await?;
    let clock = Arc::new(ManualClock::new(START));
    let ledger = SqlLedger::open(LedgerOptions::new(url.clone()).with_clock(clock.clone()))
        .await
        .expect("open ledger");
    Some((
        TestLedger {
            ledger,
            clock,
            url,
            _dir: dir,
        },
        cleanup,
    ))
}

impl TestLedger {
    /// Opens the same database again, as a second process would.
    pub async fn reopen(&self) -> SqlLedger {
        SqlLedger::open(LedgerOptions::new(self.url.clone()).with_clock(self.clock.clone()))
            .await
            .expect("reopen ledger")
    }

    /// A new operator account that may go negative (the source of test money).
    pub async fn operator(&self) -> AccountId {
        let id = AccountId::new_v7();
        let account = NewAccount {
            id,
            ledger: LedgerId::XMR,
            code: AccountCode::Equity,
            flags: AccountFlags::NONE,
        };
        self.ledger
            .create_account(account)
            .await
            .expect("create operator");
        id
    }

    /// A new user account holding `xmr` XMR, funded by `operator`.
    pub async fn user(&self, operator: AccountId, piconero: u64) -> AccountId {
        let id = AccountId::new_v7();
        self.ledger
            .create_account(NewAccount::user_xmr(id))
            .await
            .expect("create user");
        if piconero > 0 {
            self.ledger
                .transfer(single(operator, id, piconero))
                .await
                .expect("fund user");
        }
        id
    }

    pub async fn available(&self, id: AccountId) -> u64 {
        let account = self
            .ledger
            .account(id)
            .await
            .expect("lookup")
            .expect("account exists");
        account.available().expect("never negative").as_u64()
    }
}

pub fn single(debit: AccountId, credit: AccountId, piconero: u64) -> NewTransfer {
    single_with_id(TransferId::new_v7(), debit, credit, piconero)
}

pub fn single_with_id(
    id: TransferId,
    debit: AccountId,
    credit: AccountId,
    piconero: u64,
) -> NewTransfer {
    NewTransfer::xmr(
        id,
        TransferOp::Single {
            debit,
            credit,
            amount: Piconero::new(piconero),
        },
        TransferCode::Adjustment,
    )
}

pub fn pending(
    id: TransferId,
    debit: AccountId,
    credit: AccountId,
    piconero: u64,
    timeout_secs: u32,
) -> NewTransfer {
    NewTransfer::xmr(
        id,
        TransferOp::Pending {
            debit,
            credit,
            amount: Piconero::new(piconero),
            timeout_secs,
        },
        TransferCode::TradeEscrow,
    )
}

/// Runs the body once per engine, each with a fresh database: `ledger_test!(name, |t| { ... })`.
macro_rules! ledger_test {
    ($name:ident, |$t:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($t: $crate::support::TestLedger) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (t, cleanup) = $crate::support::open($crate::support::Backend::Sqlite).await.expect("sqlite always works");
                body(t).await;
                cleanup.run().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                let Some((t, cleanup)) = $crate::support::open($crate::support::Backend::MariaDb).await else { return };
                body(t).await;
                cleanup.run().await;
            }
        }
    };
}
pub(crate) use ledger_test;
