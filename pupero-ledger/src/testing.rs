//! Test support shared by Pupero's crates (feature `testing`): a fresh, empty database on each
//! engine. Not for production code.

use std::time::Duration;

use sqlx::Executor;

/// Where the tests find MariaDB: a server URL without a database. `scripts/test.sh` sets
/// `PUPERO_TEST_MARIADB_URL` to an account that may only touch `pupero_*` databases.
const DEFAULT_MARIADB_URL: &str = "mysql://root@127.0.0.1:3306";

/// Prefix of the throw-away databases tests create; `scripts/test.sh` drops leftovers.
pub const TEST_DB_PREFIX: &str = "pupero_t_";

/// The engines every storage test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in a temporary directory.
    Sqlite,
    /// The MariaDB server of `PUPERO_TEST_MARIADB_URL`.
    MariaDb,
}

/// A fresh database, removed when dropped (SQLite) or by [`TestDatabase::cleanup`] (MariaDB).
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    mariadb_name: Option<String>,
}

/// Whether a missing service must fail the run instead of skipping the test: under `CI` or
/// `PUPERO_REQUIRE_SERVICES=1`.
pub fn services_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn mariadb_server_url() -> String {
    std::env::var("PUPERO_TEST_MARIADB_URL").unwrap_or_else(|_| DEFAULT_MARIADB_URL.to_owned())
}

impl TestDatabase {
    /// A fresh, empty database on `backend`, or `None` when MariaDB is not running and the
    /// run does not require it (the skip is printed).
    ///
    /// # Panics
    /// When MariaDB is required but unreachable, or a database cannot be created.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("pupero.db").display());
                Some(TestDatabase {
                    url,
                    dir: Some(dir),
                    mariadb_name: None,
                })
            }
            Backend::MariaDb => {
                sqlx::any::install_default_drivers();
                let server = mariadb_server_url();
                let admin = match tokio::time::timeout(
                    Duration::from_secs(5),
                    sqlx::AnyPool::connect(&server),
                )
                .await
                {
                    Ok(Ok(pool)) => pool,
                    other => {
                        let why = match other {
                            Ok(Err(e)) => e.to_string(),
                            _ => "timed out".to_owned(),
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
                Some(TestDatabase {
                    url: format!("{server}/{name}"),
                    dir: None,
                    mariadb_name: Some(name),
                })
            }
        }
    }

    /// The SQLite database in file `file` of `dir` (a restored backup, say), removed with `dir`
    /// when dropped.
    pub fn sqlite_in(dir: tempfile::TempDir, file: &str) -> TestDatabase {
        TestDatabase {
            url: format!("sqlite://{}", dir.path().join(file).display()),
            dir: Some(dir),
            mariadb_name: None,
        }
    }

    /// Drops a MariaDB test database (SQLite's directory goes when `self` drops).
    pub async fn cleanup(self) {
        if let Some(name) = &self.mariadb_name
            && let Ok(admin) = sqlx::AnyPool::connect(&mariadb_server_url()).await
        {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .await;
        }
        drop(self.dir);
    }
}
