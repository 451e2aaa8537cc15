//! A database is migrated by a step of its own, and processes may only check it.

use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_ledger::{Error, LedgerOptions, Migrations, SqlLedger};

async fn only_a_migrated_database_opens_when_checked(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let checked =
        || SqlLedger::open(LedgerOptions::new(db.url.clone()).with_migrations(Migrations::Check));
    match checked().await {
        Err(Error::NotMigrated(_)) => {}
        other => panic!("an empty database is refused, not {other:?}"),
    }
    pupero_ledger::migrate(&db.url).await.expect("migrated");
    pupero_ledger::migrate(&db.url)
        .await
        .expect("migrating again changes nothing");
    checked().await.expect("a migrated database opens");
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite() {
    only_a_migrated_database_opens_when_checked(Backend::Sqlite).await;
}

#[tokio::test]
async fn mariadb() {
    only_a_migrated_database_opens_when_checked(Backend::MariaDb).await;
}
