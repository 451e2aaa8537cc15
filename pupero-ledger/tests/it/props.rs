//! Property test: the SQL ledger behaves exactly like the core's in-memory `LedgerBook`
//! (which the core's own tests hold against a simple model), on every engine.

use std::sync::Arc;

use proptest::prelude::*;
use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerBook, LedgerId, LedgerStore, NewAccount, NewTransfer,
    TransferCode, TransferOp,
};
use pupero_core::{AccountId, Clock, ManualClock, Piconero, TransferId};
use pupero_ledger::{LedgerOptions, SqlLedger};

use crate::support::{Backend, START, TestDatabase};

const USERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Single {
        from: usize,
        to: usize,
        amount: u64,
    },
    Pending {
        from: usize,
        to: usize,
        amount: u64,
        timeout_secs: u32,
    },
    Post {
        hold: usize,
        amount: Option<u64>,
    },
    Void {
        hold: usize,
    },
    /// Resubmits an earlier transfer, sometimes with another amount (a conflict).
    Retry {
        which: usize,
        tweak: bool,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Batch(Vec<(Op, bool)>),
    Advance(u64),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    // Index USERS is the operator account, which may go negative.
    let account = 0..=USERS;
    prop_oneof![
        4 => (account.clone(), account.clone(), 1..2_000_u64).prop_map(|(from, to, amount)| Op::Single { from, to, amount }),
        3 => (account.clone(), account, 1..2_000_u64, prop_oneof![Just(0_u32), 1..120_u32])
            .prop_map(|(from, to, amount, timeout_secs)| Op::Pending { from, to, amount, timeout_secs }),
        2 => (any::<usize>(), proptest::option::of(1..2_500_u64)).prop_map(|(hold, amount)| Op::Post { hold, amount }),
        1 => any::<usize>().prop_map(|hold| Op::Void { hold }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(which, tweak)| Op::Retry { which, tweak }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let batch = proptest::collection::vec((op(), proptest::bool::weighted(0.25)), 1..6)
        .prop_map(Step::Batch);
    let step =
        prop_oneof![6 => batch, 1 => (1..90_u64).prop_map(Step::Advance), 1 => Just(Step::Expire)];
    proptest::collection::vec(step, 1..14)
}

struct Run {
    accounts: Vec<AccountId>,
    submitted: Vec<NewTransfer>,
    holds: Vec<TransferId>,
}

impl Run {
    fn next_transfer(&mut self, op: &Op, linked: bool) -> NewTransfer {
        let id = TransferId::new_v7();
        let t = match *op {
            Op::Single { from, to, amount } => NewTransfer::xmr(
                id,
                TransferOp::Single {
                    debit: self.accounts[from],
                    credit: self.accounts[to],
                    amount: Piconero::new(amount),
                },
                TransferCode::Adjustment,
            ),
            Op::Pending {
                from,
                to,
                amount,
                timeout_secs,
            } => {
                self.holds.push(id);
                NewTransfer::xmr(
                    id,
                    TransferOp::Pending {
                        debit: self.accounts[from],
                        credit: self.accounts[to],
                        amount: Piconero::new(amount),
                        timeout_secs,
                    },
                    TransferCode::TradeEscrow,
                )
            }
            Op::Post { hold, amount } => NewTransfer::xmr(
                id,
                TransferOp::Post {
                    pending_id: self.hold(hold),
                    amount: amount.map(Piconero::new),
                },
                TransferCode::TradeRelease,
            ),
            Op::Void { hold } => NewTransfer::xmr(
                id,
                TransferOp::Void {
                    pending_id: self.hold(hold),
                },
                TransferCode::TradeRefund,
            ),
            Op::Retry { which, tweak } => {
                match self.submitted.get(which % self.submitted.len().max(1)) {
                    Some(earlier) if tweak => NewTransfer {
                        user_data: earlier.user_data + 1,
                        ..*earlier
                    },
                    Some(earlier) => *earlier,
                    None => NewTransfer::xmr(
                        id,
                        TransferOp::Void {
                            pending_id: TransferId::new_v7(),
                        },
                        TransferCode::TradeRefund,
                    ),
                }
            }
        };
        let t = NewTransfer { linked, ..t };
        self.submitted.push(t);
        t
    }

    fn hold(&self, i: usize) -> TransferId {
        self.holds
            .get(i % self.holds.len().max(1))
            .copied()
            .unwrap_or_else(TransferId::new_v7)
    }
}

async fn check_against_book(backend: Backend, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let Some(db) = TestDatabase::create(backend).await else {
        return Ok(());
    };
    let url = db.url.clone();
    let clock = Arc::new(ManualClock::new(START));
    let ledger = SqlLedger::open(LedgerOptions::new(url).with_clock(clock.clone()))
        .await
        .expect("open");
    let mut book = LedgerBook::new();

    let mut accounts: Vec<AccountId> = (0..=USERS).map(|_| AccountId::new_v7()).collect();
    accounts.sort();
    let new_accounts: Vec<NewAccount> = accounts
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if i < USERS {
                NewAccount::user_xmr(*id)
            } else {
                NewAccount {
                    id: *id,
                    ledger: LedgerId::XMR,
                    code: AccountCode::Equity,
                    flags: AccountFlags::NONE,
                }
            }
        })
        .collect();
    prop_assert_eq!(
        ledger
            .create_accounts(&new_accounts)
            .await
            .expect("accounts"),
        book.create_accounts(&new_accounts, clock.now())
    );
    let mut run = Run {
        accounts: accounts.clone(),
        submitted: Vec::new(),
        holds: Vec::new(),
    };
    // Give every user something to spend.
    let funding: Vec<(Op, bool)> = (0..USERS)
        .map(|u| {
            (
                Op::Single {
                    from: USERS,
                    to: u,
                    amount: 3_000,
                },
                false,
            )
        })
        .collect();

    for step in std::iter::once(Step::Batch(funding)).chain(steps) {
        match step {
            Step::Batch(ops) => {
                let batch: Vec<NewTransfer> = ops
                    .iter()
                    .map(|(op, linked)| run.next_transfer(op, *linked))
                    .collect();
                let stored = ledger.create_transfers(&batch).await.expect("store");
                let expected = book.create_transfers(&batch, clock.now());
                prop_assert_eq!(stored, expected, "batch {:?}", batch);
            }
            Step::Advance(secs) => clock.advance_secs(secs),
            Step::Expire => {
                let now = clock.now();
                let due = book.expired_pending(now);
                let expected = due
                    .iter()
                    .filter(|id| book.expire(**id, now).is_ok())
                    .count();
                let stored = ledger.expire_pending().await.expect("expire");
                prop_assert_eq!(usize::try_from(stored).unwrap(), expected);
            }
        }
        let mut stored = ledger.lookup_accounts(&accounts).await.expect("lookup");
        stored.sort_by_key(|a| a.id());
        for account in &stored {
            prop_assert_eq!(Some(account), book.account(account.id()));
        }
    }
    ledger.check_invariants().await.expect("invariants hold");
    drop(ledger);
    db.cleanup().await;
    Ok(())
}

fn run_cases(backend: Backend, cases: u32) {
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in steps())| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(check_against_book(backend, steps))?;
    });
}

#[test]
fn sqlite_matches_the_book() {
    run_cases(Backend::Sqlite, 48);
}

#[test]
fn mariadb_matches_the_book() {
    run_cases(Backend::MariaDb, 16);
}
