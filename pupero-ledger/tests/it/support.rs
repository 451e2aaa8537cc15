//! Opening a fresh ledger on each engine, and the `ledger_test!` macro.

use std::sync::Arc;

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::{AccountId, ManualClock, Piconero, Timestamp, TransferId};
use pupero_ledger::{LedgerOptions, SqlLedger};

pub use pupero_ledger::testing::{Backend, TestDatabase};

/// The instant every test's clock starts at: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_unix_ms(1_767_225_600_000);

pub struct TestLedger {
    pub ledger: SqlLedger,
    pub clock: Arc<ManualClock>,
    pub url: String,
}

pub async fn open(backend: Backend) -> Option<(TestLedger, TestDatabase)> {
    let db = TestDatabase::create(backend).await?;
    let clock = Arc::new(ManualClock::new(START));
    let ledger = SqlLedger::open(LedgerOptions::new(db.url.clone()).with_clock(clock.clone()))
        .await
        .expect("open ledger");
    Some((
        TestLedger {
            ledger,
            clock,
            url: db.url.clone(),
        },
        db,
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
                cleanup.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                let Some((t, cleanup)) = $crate::support::open($crate::support::Backend::MariaDb).await else { return };
                body(t).await;
                cleanup.cleanup().await;
            }
        }
    };
}
pub(crate) use ledger_test;
