//! Unit tests of the ledger rules in [`LedgerBook`]: data-driven cases for every refusal,
//! idempotency, two-phase transfers, linked chains and [`LedgerBook::changes`], then property
//! tests that drive random operations through the book and an independent model side by side.

use std::collections::HashMap;

use proptest::prelude::*;
use uuid::Uuid;

use super::{
    Account, AccountCode, AccountError, AccountFlags, Balances, LedgerBook, LedgerId, NewAccount,
    NewTransfer, Outcome, PendingStatus, Transfer, TransferCode, TransferError, TransferKind,
    TransferOp, TransferResult, expiry_id,
};
use crate::clock::Timestamp;
use crate::ids::{AccountId, TransferId};
use crate::limits::{MAX_ACCOUNT_COUNTER, MAX_PENDING_TIMEOUT_SECS};
use crate::money::Piconero;

use TransferError as E;

const NONE: AccountFlags = AccountFlags::NONE;
const DMNEC: AccountFlags = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS;
const CMNED: AccountFlags = AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS;

/// An arbitrary "now" far from the epoch, so that timeouts never saturate.
const T0: Timestamp = Timestamp::from_unix_ms(1_700_000_000_000);

const CREATED: TransferResult = Ok(Outcome::Created);
const EXISTED: TransferResult = Ok(Outcome::AlreadyExisted);

/// The account every opening balance of [`book_with`] comes from.
const BANK: &str = "bank";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A stable account id for a readable name.
fn acc(name: &str) -> AccountId {
    AccountId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

/// A transfer id from a small number; 0 is the nil id.
fn tid(n: u128) -> TransferId {
    TransferId::from_u128(n)
}

fn pico(n: u64) -> Piconero {
    Piconero::new(n)
}

fn other_ledger() -> LedgerId {
    LedgerId::new(2).expect("2 is not zero")
}

fn new_account(name: &str, flags: AccountFlags) -> NewAccount {
    NewAccount {
        id: acc(name),
        ledger: LedgerId::XMR,
        code: AccountCode::Equity,
        flags,
    }
}

fn single(id: u128, debit: &str, credit: &str, amount: u64) -> NewTransfer {
    NewTransfer::xmr(
        tid(id),
        TransferOp::Single {
            debit: acc(debit),
            credit: acc(credit),
            amount: pico(amount),
        },
        TransferCode::Adjustment,
    )
}

fn pending(id: u128, debit: &str, credit: &str, amount: u64, timeout_secs: u32) -> NewTransfer {
    NewTransfer::xmr(
        tid(id),
        TransferOp::Pending {
            debit: acc(debit),
            credit: acc(credit),
            amount: pico(amount),
            timeout_secs,
        },
        TransferCode::TradeEscrow,
    )
}

fn post(id: u128, pending_id: u128, amount: Option<u64>) -> NewTransfer {
    NewTransfer::xmr(
        tid(id),
        TransferOp::Post {
            pending_id: tid(pending_id),
            amount: amount.map(pico),
        },
        TransferCode::TradeRelease,
    )
}

fn void(id: u128, pending_id: u128) -> NewTransfer {
    NewTransfer::xmr(
        tid(id),
        TransferOp::Void {
            pending_id: tid(pending_id),
        },
        TransferCode::TradeRefund,
    )
}

/// Ids of the opening transfers of [`book_with`], far from the small ids the tests use.
fn funding_id(index: usize) -> TransferId {
    TransferId::from_u128((1_u128 << 100) + u128::try_from(index).expect("small index"))
}

/// A book at [`T0`] holding [`BANK`] (no constraint) and the named accounts, each with an
/// opening balance from the bank: credited for ordinary accounts, debited for
/// `CREDITS_MUST_NOT_EXCEED_DEBITS` ones (what came in is what they can later pay out).
fn book_with(accounts: &[(&str, AccountFlags, u64)]) -> LedgerBook {
    let mut book = LedgerBook::new();
    let mut batch = vec![new_account(BANK, NONE)];
    batch.extend(
        accounts
            .iter()
            .map(|(name, flags, _)| new_account(name, *flags)),
    );
    let results = book.create_accounts(&batch, T0);
    assert!(
        results.iter().all(|r| *r == Ok(Outcome::Created)),
        "{results:?}"
    );
    let funding: Vec<NewTransfer> = accounts
        .iter()
        .filter(|(_, _, opening)| *opening > 0)
        .enumerate()
        .map(|(i, (name, flags, opening))| {
            let (debit, credit) = if flags.contains(CMNED) {
                (acc(name), acc(BANK))
            } else {
                (acc(BANK), acc(name))
            };
            NewTransfer::xmr(
                funding_id(i),
                TransferOp::Single {
                    debit,
                    credit,
                    amount: pico(*opening),
                },
                TransferCode::Deposit,
            )
        })
        .collect();
    let results = book.create_transfers(&funding, T0);
    assert!(results.iter().all(|r| *r == CREATED), "{results:?}");
    assert_balanced(&book);
    book
}

/// The usual cast: alice holds 100, bob nothing, carol is unconstrained, the hot wallet took
/// in 50, and `elsewhere` lives on another ledger.
fn standard_book() -> LedgerBook {
    let mut book = book_with(&[
        ("alice", DMNEC, 100),
        ("bob", DMNEC, 0),
        ("carol", NONE, 0),
        ("hot", CMNED, 50),
    ]);
    let results = book.create_accounts(
        &[NewAccount {
            id: acc("elsewhere"),
            ledger: other_ledger(),
            code: AccountCode::UserXmr,
            flags: DMNEC,
        }],
        T0,
    );
    assert_eq!(results, [Ok(Outcome::Created)]);
    book
}

/// A fresh book loaded with everything `book` holds, as a storage adapter would load it: the
/// accounts and transfers exist, nothing is new or dirty.
fn reload(book: &LedgerBook) -> LedgerBook {
    let mut fresh = LedgerBook::new();
    for account in book.accounts() {
        fresh.load_account(*account);
    }
    for transfer in book.changes().new_transfers {
        fresh.load_transfer(*transfer);
        if let Some(status) = book.pending_status(transfer.id) {
            fresh.load_pending_status(transfer.id, status);
        }
    }
    fresh
}

#[track_caller]
fn check(results: &[TransferResult], expected: &[TransferResult]) {
    assert_eq!(results, expected, "results differ from what was expected");
}

/// `[debits_pending, debits_posted, credits_pending, credits_posted]` of a named account.
#[track_caller]
fn bal(book: &LedgerBook, name: &str) -> [u64; 4] {
    let b = book
        .account(acc(name))
        .unwrap_or_else(|| panic!("no account {name}"))
        .balances();
    [
        b.debits_pending.as_u64(),
        b.debits_posted.as_u64(),
        b.credits_pending.as_u64(),
        b.credits_posted.as_u64(),
    ]
}

#[track_caller]
fn available(book: &LedgerBook, name: &str) -> Option<u64> {
    book.account(acc(name))
        .expect("account exists")
        .available()
        .map(Piconero::as_u64)
}

#[track_caller]
fn posted(book: &LedgerBook, name: &str) -> Option<u64> {
    book.account(acc(name))
        .expect("account exists")
        .posted()
        .map(Piconero::as_u64)
}

/// Σ debits = Σ credits per ledger, for pending and posted, and no account breaks its flags.
#[track_caller]
fn assert_balanced(book: &LedgerBook) {
    for (ledger, (debits, credits)) in book.totals() {
        assert_eq!(
            debits.debits_pending, credits.credits_pending,
            "pending unbalanced on {ledger:?}"
        );
        assert_eq!(
            debits.debits_posted, credits.credits_posted,
            "posted unbalanced on {ledger:?}"
        );
    }
    for account in book.accounts() {
        assert!(account.satisfies_flags(), "{account:?} breaks its flags");
    }
}

/// Every account, sorted by id.
fn all_accounts(book: &LedgerBook) -> Vec<Account> {
    let mut accounts: Vec<Account> = book.accounts().copied().collect();
    accounts.sort_by_key(Account::id);
    accounts
}

/// What `changes()` reports, by id, with the pending flags and absolute balances.
#[derive(Debug, PartialEq, Eq)]
struct ChangeIds {
    new_accounts: Vec<(AccountId, Balances)>,
    updated_accounts: Vec<(AccountId, Balances)>,
    new_transfers: Vec<TransferId>,
    pending: Vec<(TransferId, PendingStatus, bool)>,
}

fn change_ids(book: &LedgerBook) -> ChangeIds {
    let c = book.changes();
    ChangeIds {
        new_accounts: c
            .new_accounts
            .iter()
            .map(|a| (a.id(), a.balances()))
            .collect(),
        updated_accounts: c
            .updated_accounts
            .iter()
            .map(|a| (a.id(), a.balances()))
            .collect(),
        new_transfers: c.new_transfers.iter().map(|t| t.id).collect(),
        pending: c
            .pending
            .iter()
            .map(|(t, status, created)| (t.id, *status, *created))
            .collect(),
    }
}

/// Everything observable about a book for the transfer ids `ids`.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    accounts: Vec<Account>,
    transfers: Vec<Option<Transfer>>,
    pending: Vec<Option<PendingStatus>>,
    changes: ChangeIds,
    dirty: bool,
}

fn snapshot(book: &LedgerBook, ids: &[u128]) -> Snapshot {
    Snapshot {
        accounts: all_accounts(book),
        transfers: ids
            .iter()
            .map(|id| book.transfer(tid(*id)).copied())
            .collect(),
        pending: ids.iter().map(|id| book.pending_status(tid(*id))).collect(),
        changes: change_ids(book),
        dirty: book.is_dirty(),
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

#[test]
fn create_accounts_is_idempotent_and_checks_fields() {
    let mut book = LedgerBook::new();
    let alice = new_account("alice", DMNEC);
    let cases: Vec<(NewAccount, Result<Outcome, AccountError>)> = vec![
        (alice, Ok(Outcome::Created)),
        (alice, Ok(Outcome::AlreadyExisted)),
        (
            NewAccount {
                flags: NONE,
                ..alice
            },
            Err(AccountError::ExistsWithDifferentFields),
        ),
        (
            NewAccount {
                code: AccountCode::UserXmr,
                ..alice
            },
            Err(AccountError::ExistsWithDifferentFields),
        ),
        (
            NewAccount {
                ledger: other_ledger(),
                ..alice
            },
            Err(AccountError::ExistsWithDifferentFields),
        ),
        (
            new_account("both", DMNEC.union(CMNED)),
            Err(AccountError::FlagsAreMutuallyExclusive),
        ),
        (
            NewAccount {
                id: AccountId::from_u128(0),
                ..alice
            },
            Err(AccountError::IdMustNotBeZero),
        ),
        (NewAccount::user_xmr(acc("bob")), Ok(Outcome::Created)),
    ];
    for (request, expected) in cases {
        assert_eq!(
            book.create_accounts(&[request], T0),
            [expected],
            "{request:?}"
        );
    }
    assert_eq!(book.accounts().count(), 2);
    assert!(book.account(acc("both")).is_none());
    let bob = book.account(acc("bob")).expect("created");
    assert_eq!(bob.flags(), DMNEC);
    assert_eq!(bob.code(), AccountCode::UserXmr);
    assert_eq!(bob.balances(), Balances::default());
    assert_eq!(bob.created_at(), T0);
}

#[test]
fn duplicate_accounts_in_one_batch() {
    let mut book = LedgerBook::new();
    let results = book.create_accounts(
        &[
            new_account("a", NONE),
            new_account("a", NONE),
            new_account("a", DMNEC),
        ],
        T0,
    );
    assert_eq!(
        results,
        [
            Ok(Outcome::Created),
            Ok(Outcome::AlreadyExisted),
            Err(AccountError::ExistsWithDifferentFields)
        ]
    );
    assert_eq!(change_ids(&book).new_accounts.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Single transfers and every refusal
// ---------------------------------------------------------------------------------------------

/// One data-driven case: a batch applied to [`standard_book`], the results it must give and
/// balances that must hold afterwards.
struct Case {
    name: &'static str,
    batch: Vec<NewTransfer>,
    expected: Vec<TransferResult>,
    balances: Vec<(&'static str, [u64; 4])>,
}

fn run_cases(cases: Vec<Case>) {
    for case in cases {
        let mut book = standard_book();
        let before = all_accounts(&book);
        let results = book.create_transfers(&case.batch, T0);
        assert_eq!(results, case.expected, "case {}", case.name);
        for (name, expected) in &case.balances {
            assert_eq!(bal(&book, name), *expected, "case {}: {name}", case.name);
        }
        if results.iter().all(Result::is_err) {
            assert_eq!(
                all_accounts(&book),
                before,
                "case {}: refused batch changed a balance",
                case.name
            );
            for t in &case.batch {
                assert!(
                    book.transfer(t.id).is_none(),
                    "case {}: refused transfer recorded",
                    case.name
                );
            }
        }
        assert_balanced(&book);
    }
}

#[test]
fn single_transfers() {
    run_cases(vec![
        Case {
            name: "moves money",
            batch: vec![single(1, "alice", "bob", 40)],
            expected: vec![CREATED],
            balances: vec![("alice", [0, 40, 0, 100]), ("bob", [0, 0, 0, 40])],
        },
        Case {
            name: "everything alice has",
            batch: vec![single(1, "alice", "bob", 100)],
            expected: vec![CREATED],
            balances: vec![("alice", [0, 100, 0, 100]), ("bob", [0, 0, 0, 100])],
        },
        Case {
            name: "one piconero too many",
            batch: vec![single(1, "alice", "bob", 101)],
            expected: vec![Err(E::ExceedsCredits)],
            balances: vec![("alice", [0, 0, 0, 100]), ("bob", [0, 0, 0, 0])],
        },
        Case {
            name: "bob has nothing",
            batch: vec![single(1, "bob", "alice", 1)],
            expected: vec![Err(E::ExceedsCredits)],
            balances: vec![("bob", [0, 0, 0, 0])],
        },
        Case {
            name: "money received in the same batch is spendable",
            batch: vec![
                single(1, "alice", "bob", 60),
                single(2, "bob", "carol", 60),
                single(3, "bob", "carol", 1),
            ],
            expected: vec![CREATED, CREATED, Err(E::ExceedsCredits)],
            balances: vec![("bob", [0, 60, 0, 60]), ("carol", [0, 0, 0, 60])],
        },
        Case {
            name: "pending debits count against the balance",
            batch: vec![
                pending(1, "alice", "bob", 70, 0),
                single(2, "alice", "carol", 31),
                single(3, "alice", "carol", 30),
                pending(4, "alice", "carol", 1, 0),
            ],
            expected: vec![
                CREATED,
                Err(E::ExceedsCredits),
                CREATED,
                Err(E::ExceedsCredits),
            ],
            balances: vec![("alice", [70, 30, 0, 100]), ("bob", [0, 0, 70, 0])],
        },
        Case {
            name: "pending credits are not spendable",
            batch: vec![
                pending(1, "alice", "bob", 70, 0),
                single(2, "bob", "carol", 1),
            ],
            expected: vec![CREATED, Err(E::ExceedsCredits)],
            balances: vec![("bob", [0, 0, 70, 0])],
        },
        Case {
            name: "unconstrained accounts may go negative",
            batch: vec![single(1, "carol", "bob", 1_000)],
            expected: vec![CREATED],
            balances: vec![("carol", [0, 1_000, 0, 0]), ("bob", [0, 0, 0, 1_000])],
        },
        Case {
            name: "hot wallet pays out what came in",
            batch: vec![single(1, "carol", "hot", 50)],
            expected: vec![CREATED],
            balances: vec![("hot", [0, 50, 0, 50])],
        },
        Case {
            name: "hot wallet cannot pay out more than came in",
            batch: vec![single(1, "carol", "hot", 51)],
            expected: vec![Err(E::ExceedsDebits)],
            balances: vec![("hot", [0, 50, 0, 0]), ("carol", [0, 0, 0, 0])],
        },
        Case {
            name: "pending credits count against the hot wallet",
            batch: vec![
                pending(1, "carol", "hot", 30, 0),
                single(2, "carol", "hot", 21),
                single(3, "carol", "hot", 20),
            ],
            expected: vec![CREATED, Err(E::ExceedsDebits), CREATED],
            balances: vec![("hot", [0, 50, 30, 20])],
        },
        Case {
            name: "debiting the hot wallet is always allowed",
            batch: vec![single(1, "hot", "carol", 1_000)],
            expected: vec![CREATED],
            balances: vec![("hot", [0, 1_050, 0, 0])],
        },
        Case {
            name: "debit checked before credit",
            batch: vec![single(1, "bob", "hot", 1_000)],
            expected: vec![Err(E::ExceedsCredits)],
            balances: vec![],
        },
        Case {
            name: "zero amount",
            batch: vec![
                single(1, "alice", "bob", 0),
                pending(2, "alice", "bob", 0, 0),
            ],
            expected: vec![Err(E::AmountMustNotBeZero), Err(E::AmountMustNotBeZero)],
            balances: vec![],
        },
        Case {
            name: "same account",
            batch: vec![
                single(1, "alice", "alice", 1),
                pending(2, "carol", "carol", 1, 0),
            ],
            expected: vec![
                Err(E::AccountsMustBeDifferent),
                Err(E::AccountsMustBeDifferent),
            ],
            balances: vec![],
        },
        Case {
            name: "missing accounts",
            batch: vec![
                single(1, "nobody", "bob", 1),
                single(2, "alice", "nobody", 1),
                single(3, "nobody", "no one", 1),
                pending(4, "nobody", "bob", 1, 0),
                pending(5, "alice", "nobody", 1, 0),
            ],
            expected: vec![
                Err(E::DebitAccountNotFound),
                Err(E::CreditAccountNotFound),
                Err(E::DebitAccountNotFound),
                Err(E::DebitAccountNotFound),
                Err(E::CreditAccountNotFound),
            ],
            balances: vec![],
        },
        Case {
            name: "ledger mismatch",
            batch: vec![
                single(1, "alice", "elsewhere", 1),
                single(2, "elsewhere", "alice", 1),
                NewTransfer {
                    ledger: other_ledger(),
                    ..single(3, "alice", "bob", 1)
                },
                NewTransfer {
                    ledger: other_ledger(),
                    ..pending(4, "alice", "bob", 1, 0)
                },
            ],
            expected: vec![
                Err(E::LedgerMismatch),
                Err(E::LedgerMismatch),
                Err(E::LedgerMismatch),
                Err(E::LedgerMismatch),
            ],
            balances: vec![],
        },
        Case {
            name: "nil ids",
            batch: vec![
                single(0, "alice", "bob", 1),
                pending(0, "alice", "bob", 1, 0),
                post(0, 1, None),
                void(0, 1),
                NewTransfer::xmr(
                    tid(5),
                    TransferOp::Single {
                        debit: AccountId::from_u128(0),
                        credit: acc("bob"),
                        amount: pico(1),
                    },
                    TransferCode::Adjustment,
                ),
                NewTransfer::xmr(
                    tid(6),
                    TransferOp::Single {
                        debit: acc("carol"),
                        credit: AccountId::from_u128(0),
                        amount: pico(1),
                    },
                    TransferCode::Adjustment,
                ),
                post(7, 0, None),
                void(8, 0),
            ],
            expected: vec![
                Err(E::IdMustNotBeZero),
                Err(E::IdMustNotBeZero),
                Err(E::IdMustNotBeZero),
                Err(E::IdMustNotBeZero),
                Err(E::DebitAccountNotFound),
                Err(E::CreditAccountNotFound),
                Err(E::PendingTransferNotFound),
                Err(E::PendingTransferNotFound),
            ],
            balances: vec![],
        },
        Case {
            name: "post or void of itself",
            batch: vec![post(1, 1, None), void(2, 2)],
            expected: vec![
                Err(E::PendingIdMustBeDifferent),
                Err(E::PendingIdMustBeDifferent),
            ],
            balances: vec![],
        },
        Case {
            name: "timeouts",
            batch: vec![
                pending(1, "alice", "bob", 1, MAX_PENDING_TIMEOUT_SECS + 1),
                pending(2, "alice", "bob", 1, u32::MAX),
                pending(3, "alice", "bob", 1, MAX_PENDING_TIMEOUT_SECS),
                pending(4, "alice", "bob", 1, 0),
            ],
            expected: vec![
                Err(E::TimeoutTooLong),
                Err(E::TimeoutTooLong),
                CREATED,
                CREATED,
            ],
            balances: vec![("alice", [2, 0, 0, 100])],
        },
    ]);
}

#[test]
fn counters_stop_at_max_account_counter() {
    let max = MAX_ACCOUNT_COUNTER;
    let cases: Vec<(Vec<NewTransfer>, Vec<TransferResult>)> = vec![
        (vec![single(1, "x", "y", max)], vec![CREATED]),
        (vec![single(1, "x", "y", max + 1)], vec![Err(E::Overflow)]),
        (vec![single(1, "x", "y", u64::MAX)], vec![Err(E::Overflow)]),
        (
            vec![single(1, "x", "y", max), single(2, "x", "y", 1)],
            vec![CREATED, Err(E::Overflow)],
        ),
        (
            vec![single(1, "x", "y", max), single(2, "z", "y", 1)],
            vec![CREATED, Err(E::Overflow)],
        ),
        (
            vec![single(1, "x", "y", max), single(2, "x", "z", 1)],
            vec![CREATED, Err(E::Overflow)],
        ),
        (
            vec![pending(1, "x", "y", max, 0), pending(2, "z", "y", 1, 0)],
            vec![CREATED, Err(E::Overflow)],
        ),
        (
            vec![pending(1, "x", "y", max + 1, 0)],
            vec![Err(E::Overflow)],
        ),
    ];
    for (batch, expected) in cases {
        let mut book = book_with(&[("x", NONE, 0), ("y", NONE, 0), ("z", NONE, 0)]);
        let before = all_accounts(&book);
        let results = book.create_transfers(&batch, T0);
        check(&results, &expected);
        if results.iter().all(Result::is_err) {
            assert_eq!(all_accounts(&book), before);
        }
        for account in book.accounts() {
            let b = account.balances();
            for counter in [
                b.debits_pending,
                b.debits_posted,
                b.credits_pending,
                b.credits_posted,
            ] {
                assert!(counter.as_u64() <= max);
            }
        }
        assert_balanced(&book);
    }
}

/// A hold the book accepted must be postable in full: that is what reserving means. Posting
/// adds the held amount to `debits_posted`, so the check when the hold is created has to cover
/// `debits_posted + debits_pending + amount` (TigerBeetle's `overflows_debits`), not each
/// counter alone.
#[test]
fn an_accepted_hold_can_always_be_posted() {
    let max = MAX_ACCOUNT_COUNTER;
    let mut book = book_with(&[("x", NONE, 0), ("y", NONE, 0)]);
    check(
        &book.create_transfers(&[single(1, "x", "y", max - 10)], T0),
        &[CREATED],
    );
    let hold = book.create_transfers(&[pending(2, "x", "y", 100, 0)], T0);
    if hold == [CREATED] {
        check(&book.create_transfers(&[post(3, 2, None)], T0), &[CREATED]);
    } else {
        check(&hold, &[Err(E::Overflow)]);
    }
    assert_balanced(&book);
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[test]
fn retried_single_transfer_is_a_no_op() {
    let mut book = standard_book();
    let t = single(1, "alice", "bob", 40).with_user_data(7);
    check(&book.create_transfers(&[t], T0), &[CREATED]);
    let after = all_accounts(&book);
    let recorded = *book.transfer(tid(1)).expect("recorded");
    // Later, even after the balance changed, the retry still succeeds without effect.
    check(
        &book.create_transfers(&[single(2, "alice", "carol", 60)], T0),
        &[CREATED],
    );
    let after_second = all_accounts(&book);
    assert_ne!(after, after_second);
    for _ in 0..3 {
        check(
            &book.create_transfers(&[t], T0.plus_secs(3_600)),
            &[EXISTED],
        );
    }
    assert_eq!(all_accounts(&book), after_second);
    assert_eq!(book.transfer(tid(1)), Some(&recorded));
    assert_eq!(
        recorded.timestamp, T0,
        "a retry keeps the original timestamp"
    );
    // Two opening transfers of the standard book, and the two above.
    assert_eq!(change_ids(&book).new_transfers.len(), 2 + 2);
}

#[test]
fn same_id_with_another_body_is_a_conflict() {
    let original = single(1, "alice", "bob", 40).with_user_data(7);
    let hold = pending(2, "alice", "bob", 10, 60).with_user_data(8);
    let variants: Vec<(&str, NewTransfer, TransferResult)> = vec![
        ("same", original, EXISTED),
        (
            "amount",
            single(1, "alice", "bob", 41).with_user_data(7),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "debit",
            single(1, "carol", "bob", 40).with_user_data(7),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "credit",
            single(1, "alice", "carol", 40).with_user_data(7),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "code",
            NewTransfer {
                code: TransferCode::Deposit,
                ..original
            },
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "user data",
            original.with_user_data(8),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "ledger",
            NewTransfer {
                ledger: other_ledger(),
                ..original
            },
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "kind",
            NewTransfer {
                op: TransferOp::Pending {
                    debit: acc("alice"),
                    credit: acc("bob"),
                    amount: pico(40),
                    timeout_secs: 0,
                },
                ..original
            },
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "post under a single's id",
            NewTransfer {
                op: TransferOp::Post {
                    pending_id: tid(2),
                    amount: None,
                },
                ..original
            },
            Err(E::ExistsWithDifferentFields),
        ),
        ("pending, same", hold, EXISTED),
        (
            "pending, timeout",
            pending(2, "alice", "bob", 10, 61).with_user_data(8),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "pending, amount",
            pending(2, "alice", "bob", 11, 60).with_user_data(8),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "pending, kind",
            NewTransfer {
                op: TransferOp::Single {
                    debit: acc("alice"),
                    credit: acc("bob"),
                    amount: pico(10),
                },
                ..hold
            },
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "pending, user data",
            hold.with_user_data(0),
            Err(E::ExistsWithDifferentFields),
        ),
    ];
    let mut book = standard_book();
    check(
        &book.create_transfers(&[original, hold], T0),
        &[CREATED, CREATED],
    );
    let accounts = all_accounts(&book);
    for (name, request, expected) in variants {
        let results = book.create_transfers(&[request], T0);
        assert_eq!(results, [expected], "variant {name}");
        assert_eq!(all_accounts(&book), accounts, "variant {name} moved money");
    }
    assert_eq!(book.transfer(tid(1)).map(|t| t.amount), Some(pico(40)));
}

#[test]
fn retried_post_and_void_are_no_ops() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 30, 0),
                pending(2, "alice", "bob", 30, 0),
                pending(3, "alice", "bob", 30, 0),
            ],
            T0,
        ),
        &[CREATED, CREATED, CREATED],
    );
    check(
        &book.create_transfers(&[post(11, 1, None), post(12, 2, Some(20)), void(13, 3)], T0),
        &[CREATED, CREATED, CREATED],
    );
    let accounts = all_accounts(&book);
    let cases: Vec<(&str, NewTransfer, TransferResult)> = vec![
        ("post all, again", post(11, 1, None), EXISTED),
        (
            "post all, again with its amount",
            post(11, 1, Some(30)),
            EXISTED,
        ),
        ("partial post, again", post(12, 2, Some(20)), EXISTED),
        ("void, again", void(13, 3), EXISTED),
        (
            "post all, other amount",
            post(11, 1, Some(29)),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "partial post, other amount",
            post(12, 2, Some(21)),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "post, other pending",
            post(11, 2, None),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "void under a post's id",
            void(11, 1),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "post under a void's id",
            post(13, 3, None),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "void, other pending",
            void(13, 1),
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "post, other code",
            NewTransfer {
                code: TransferCode::DisputeResolution,
                ..post(11, 1, None)
            },
            Err(E::ExistsWithDifferentFields),
        ),
        (
            "post, other user data",
            post(11, 1, None).with_user_data(1),
            Err(E::ExistsWithDifferentFields),
        ),
        // Not a retry of anything: the holds are resolved.
        (
            "a second post",
            post(21, 1, None),
            Err(E::PendingTransferAlreadyPosted),
        ),
        (
            "a void after a post",
            void(22, 2),
            Err(E::PendingTransferAlreadyPosted),
        ),
        (
            "a post after a void",
            post(23, 3, None),
            Err(E::PendingTransferAlreadyVoided),
        ),
    ];
    for (name, request, expected) in cases {
        // Retries long after the holds were resolved (and would have expired) still match.
        let results = book.create_transfers(&[request], T0.plus_secs(86_400));
        assert_eq!(results, [expected], "case {name}");
        assert_eq!(all_accounts(&book), accounts, "case {name} moved money");
    }
    assert_eq!(bal(&book, "alice"), [0, 50, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 0, 50]);
}

/// "Post all of it" is a different request from "post 40 of it" when the hold is 100. A client
/// that retries "post all" under the id of a partial post must not be told it succeeded: it
/// would believe 100 moved while 40 did (TigerBeetle answers `exists_with_different_amount`).
#[test]
fn retried_post_all_after_a_partial_post_is_a_conflict() {
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 100, 0)], T0),
        &[CREATED],
    );
    check(
        &book.create_transfers(&[post(2, 1, Some(40))], T0),
        &[CREATED],
    );
    check(
        &book.create_transfers(&[post(2, 1, None)], T0),
        &[Err(E::ExistsWithDifferentFields)],
    );
}

#[test]
fn duplicates_inside_one_batch() {
    let mut book = standard_book();
    let t = single(1, "alice", "bob", 10);
    let results = book.create_transfers(
        &[
            t,
            t,
            single(1, "alice", "bob", 11),
            pending(2, "alice", "bob", 5, 0),
            pending(2, "alice", "bob", 5, 0),
            post(3, 2, None),
            post(3, 2, None),
            post(3, 2, Some(5)),
            post(3, 2, Some(4)),
            void(3, 2),
        ],
        T0,
    );
    check(
        &results,
        &[
            CREATED,
            EXISTED,
            Err(E::ExistsWithDifferentFields),
            CREATED,
            EXISTED,
            CREATED,
            EXISTED,
            EXISTED,
            Err(E::ExistsWithDifferentFields),
            Err(E::ExistsWithDifferentFields),
        ],
    );
    assert_eq!(bal(&book, "alice"), [0, 15, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 0, 15]);
    let new = change_ids(&book).new_transfers;
    assert_eq!(&new[new.len() - 3..], [tid(1), tid(2), tid(3)]);
    assert_balanced(&book);
}

// ---------------------------------------------------------------------------------------------
// Two-phase transfers
// ---------------------------------------------------------------------------------------------

#[test]
fn pending_reserves_without_moving() {
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 30, 60)], T0),
        &[CREATED],
    );
    assert_eq!(available(&book, "alice"), Some(70));
    assert_eq!(posted(&book, "alice"), Some(100));
    assert_eq!(available(&book, "bob"), Some(0));
    assert_eq!(posted(&book, "bob"), Some(0));
    assert_eq!(bal(&book, "alice"), [30, 0, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 30, 0]);
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Pending));
    let t = book.transfer(tid(1)).expect("recorded");
    assert_eq!(t.kind, TransferKind::Pending);
    assert_eq!(t.amount, pico(30));
    assert_eq!(t.timeout_secs, 60);
    assert_eq!(t.pending_id, None);
    assert_eq!(t.expires_at(), Some(T0.plus_secs(60)));
    assert_eq!(t.timestamp, T0);
    assert_balanced(&book);
}

#[test]
fn post_in_full() {
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 30, 60).with_user_data(5)], T0),
        &[CREATED],
    );
    let later = T0.plus_secs(59);
    check(
        &book.create_transfers(&[post(2, 1, None).with_user_data(6)], later),
        &[CREATED],
    );
    assert_eq!(bal(&book, "alice"), [0, 30, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 0, 30]);
    assert_eq!(available(&book, "bob"), Some(30));
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Posted));
    let p = book.transfer(tid(2)).expect("recorded");
    assert_eq!(p.kind, TransferKind::Post);
    assert_eq!(p.amount, pico(30));
    assert_eq!(p.pending_id, Some(tid(1)));
    assert_eq!(p.debit_account_id, acc("alice"));
    assert_eq!(p.credit_account_id, acc("bob"));
    assert_eq!(p.code, TransferCode::TradeRelease);
    assert_eq!(p.user_data, 6);
    assert_eq!(p.timeout_secs, 0);
    assert_eq!(p.timestamp, later);
    assert_eq!(p.expires_at(), None);
    assert_balanced(&book);
}

#[test]
fn post_in_part_releases_the_rest() {
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 30, 0)], T0),
        &[CREATED],
    );
    check(
        &book.create_transfers(&[post(2, 1, Some(12))], T0),
        &[CREATED],
    );
    assert_eq!(bal(&book, "alice"), [0, 12, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 0, 12]);
    assert_eq!(available(&book, "alice"), Some(88));
    assert_eq!(book.transfer(tid(2)).map(|t| t.amount), Some(pico(12)));
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Posted));
    // Posted once: the rest cannot be posted later.
    check(
        &book.create_transfers(&[post(3, 1, Some(18))], T0),
        &[Err(E::PendingTransferAlreadyPosted)],
    );
    assert_balanced(&book);
}

#[test]
fn post_refusals() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 30, 0),
                single(9, "alice", "bob", 1),
            ],
            T0,
        ),
        &[CREATED, CREATED],
    );
    let accounts = all_accounts(&book);
    let cases: Vec<(&str, NewTransfer, TransferError)> = vec![
        (
            "more than pending",
            post(2, 1, Some(31)),
            E::ExceedsPendingTransferAmount,
        ),
        ("zero", post(2, 1, Some(0)), E::AmountMustNotBeZero),
        (
            "unknown pending",
            post(2, 77, None),
            E::PendingTransferNotFound,
        ),
        ("void of unknown", void(2, 77), E::PendingTransferNotFound),
        (
            "post of a single transfer",
            post(2, 9, None),
            E::PendingTransferNotPending,
        ),
        (
            "void of a single transfer",
            void(2, 9),
            E::PendingTransferNotPending,
        ),
        (
            "post on another ledger",
            NewTransfer {
                ledger: other_ledger(),
                ..post(2, 1, None)
            },
            E::LedgerMismatch,
        ),
        (
            "void on another ledger",
            NewTransfer {
                ledger: other_ledger(),
                ..void(2, 1)
            },
            E::LedgerMismatch,
        ),
    ];
    for (name, request, expected) in cases {
        assert_eq!(
            book.create_transfers(&[request], T0),
            [Err(expected)],
            "case {name}"
        );
        assert_eq!(all_accounts(&book), accounts, "case {name} moved money");
        assert!(book.transfer(tid(2)).is_none(), "case {name} recorded");
    }
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Pending));
    // The hold is still intact, and a post of a post is refused too.
    check(
        &book.create_transfers(&[post(2, 1, Some(30)), post(3, 2, None)], T0),
        &[CREATED, Err(E::PendingTransferNotPending)],
    );
}

#[test]
fn void_returns_the_reservation() {
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 30, 60)], T0),
        &[CREATED],
    );
    check(&book.create_transfers(&[void(2, 1)], T0), &[CREATED]);
    assert_eq!(bal(&book, "alice"), [0, 0, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 0, 0]);
    assert_eq!(available(&book, "alice"), Some(100));
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Voided));
    let v = book.transfer(tid(2)).expect("recorded");
    assert_eq!(v.kind, TransferKind::Void);
    assert_eq!(v.amount, pico(30), "a void records the amount released");
    assert_eq!(v.pending_id, Some(tid(1)));
    check(
        &book.create_transfers(&[post(3, 1, None)], T0),
        &[Err(E::PendingTransferAlreadyVoided)],
    );
    check(
        &book.create_transfers(&[void(4, 1)], T0),
        &[Err(E::PendingTransferAlreadyVoided)],
    );
    assert_balanced(&book);
}

#[test]
fn double_post() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 30, 0),
                post(2, 1, None),
                post(3, 1, None),
                void(4, 1),
            ],
            T0,
        ),
        &[
            CREATED,
            CREATED,
            Err(E::PendingTransferAlreadyPosted),
            Err(E::PendingTransferAlreadyPosted),
        ],
    );
    assert_eq!(bal(&book, "alice"), [0, 30, 0, 100]);
}

#[test]
fn post_and_void_at_or_after_expiry_are_refused() {
    for (secs, post_result) in [
        (59, CREATED),
        (60, Err(E::PendingTransferExpired)),
        (61, Err(E::PendingTransferExpired)),
    ] {
        for resolve in [post(2, 1, None), post(2, 1, Some(1)), void(2, 1)] {
            let mut book = standard_book();
            check(
                &book.create_transfers(&[pending(1, "alice", "bob", 30, 60)], T0),
                &[CREATED],
            );
            let results = book.create_transfers(&[resolve], T0.plus_secs(secs));
            assert_eq!(results, [post_result], "{resolve:?} at +{secs}s");
            let status = if post_result.is_ok() {
                if matches!(resolve.op, TransferOp::Void { .. }) {
                    PendingStatus::Voided
                } else {
                    PendingStatus::Posted
                }
            } else {
                PendingStatus::Pending
            };
            assert_eq!(book.pending_status(tid(1)), Some(status));
        }
    }
    // A hold without timeout never expires.
    let mut book = standard_book();
    check(
        &book.create_transfers(&[pending(1, "alice", "bob", 30, 0)], T0),
        &[CREATED],
    );
    let far = T0.plus_secs(u64::from(MAX_PENDING_TIMEOUT_SECS) * 10);
    assert_eq!(book.expired_pending(far), Vec::<TransferId>::new());
    check(&book.create_transfers(&[post(2, 1, None)], far), &[CREATED]);
}

#[test]
fn expire_returns_the_reservation() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 30, 60),
                pending(2, "alice", "bob", 20, 0),
            ],
            T0,
        ),
        &[CREATED, CREATED],
    );
    let before_expiry = all_accounts(&book);

    // Before the timeout: refused, nothing changes.
    for secs in [0, 1, 59] {
        let now = T0.plus_secs(secs);
        assert_eq!(book.expired_pending(now), Vec::<TransferId>::new());
        assert_eq!(book.expire(tid(1), now), Err(E::PendingTransferNotPending));
    }
    // Never, without a timeout; unknown and non-pending transfers are refused.
    let late = T0.plus_secs(3_600);
    assert_eq!(book.expire(tid(2), late), Err(E::PendingTransferNotPending));
    assert_eq!(book.expire(tid(99), late), Err(E::PendingTransferNotFound));
    assert_eq!(all_accounts(&book), before_expiry);
    assert!(book.transfer(expiry_id(tid(1))).is_none());

    let at = T0.plus_secs(60);
    assert_eq!(book.expired_pending(at), vec![tid(1)]);
    assert_eq!(book.expire(tid(1), at), CREATED);
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Expired));
    assert_eq!(bal(&book, "alice"), [20, 0, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 0, 20, 0]);
    assert_eq!(available(&book, "alice"), Some(80));
    let expiry = *book.transfer(expiry_id(tid(1))).expect("recorded");
    assert_eq!(expiry.kind, TransferKind::Expiry);
    assert_eq!(expiry.pending_id, Some(tid(1)));
    assert_eq!(expiry.amount, pico(30));
    assert_eq!(expiry.code, TransferCode::TradeEscrow);
    assert_eq!(expiry.timestamp, at);
    assert_eq!(book.expired_pending(late), Vec::<TransferId>::new());

    // Expiring twice is a no-op; posting or voiding it now is refused.
    let after = all_accounts(&book);
    assert_eq!(book.expire(tid(1), late), EXISTED);
    assert_eq!(book.expire(tid(1), at), EXISTED);
    check(
        &book.create_transfers(&[post(3, 1, None), void(4, 1)], late),
        &[
            Err(E::PendingTransferExpired),
            Err(E::PendingTransferExpired),
        ],
    );
    assert_eq!(all_accounts(&book), after);
    assert_balanced(&book);
}

#[test]
fn expire_after_post_or_void_is_refused() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 10, 5),
                pending(2, "alice", "bob", 10, 5),
                post(3, 1, None),
                void(4, 2),
                single(5, "alice", "bob", 1),
            ],
            T0,
        ),
        &[CREATED; 5],
    );
    let late = T0.plus_secs(10);
    assert_eq!(book.expired_pending(late), Vec::<TransferId>::new());
    assert_eq!(
        book.expire(tid(1), late),
        Err(E::PendingTransferAlreadyPosted)
    );
    assert_eq!(
        book.expire(tid(2), late),
        Err(E::PendingTransferAlreadyVoided)
    );
    assert_eq!(book.expire(tid(5), late), Err(E::PendingTransferNotPending));
    assert_eq!(bal(&book, "alice"), [0, 11, 0, 100]);
}

#[test]
fn expired_pending_lists_oldest_first() {
    let mut book = standard_book();
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 1, 30),
                pending(2, "alice", "bob", 1, 10),
                pending(3, "alice", "bob", 1, 20),
                pending(4, "alice", "bob", 1, 0),
            ],
            T0,
        ),
        &[CREATED; 4],
    );
    check(
        &book.create_transfers(&[pending(5, "alice", "bob", 1, 5)], T0.plus_secs(1)),
        &[CREATED],
    );
    assert_eq!(
        book.expired_pending(T0.plus_secs(5)),
        Vec::<TransferId>::new()
    );
    assert_eq!(book.expired_pending(T0.plus_secs(6)), vec![tid(5)]);
    assert_eq!(
        book.expired_pending(T0.plus_secs(25)),
        vec![tid(5), tid(2), tid(3)]
    );
    check(
        &book.create_transfers(&[void(6, 2)], T0.plus_secs(9)),
        &[CREATED],
    );
    let due = book.expired_pending(T0.plus_secs(30));
    assert_eq!(due, vec![tid(5), tid(3), tid(1)]);
    for id in due {
        assert_eq!(book.expire(id, T0.plus_secs(30)), CREATED);
    }
    assert_eq!(bal(&book, "alice"), [1, 0, 0, 100]);
    assert_eq!(
        book.expired_pending(T0.plus_secs(1_000)),
        Vec::<TransferId>::new()
    );
    assert_balanced(&book);
}

// ---------------------------------------------------------------------------------------------
// Linked chains
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_chain_leaves_the_book_as_it_was() {
    let ids = [1, 2, 3, 4, 10, 11, 12, 13, 14, 20];
    let chains: Vec<(&str, Vec<NewTransfer>, Vec<TransferResult>)> = vec![
        (
            "second fails",
            vec![
                single(10, "alice", "bob", 10).linked(),
                single(11, "bob", "carol", 1_000).linked(),
                single(12, "alice", "carol", 1),
            ],
            vec![
                Err(E::LinkedEventFailed),
                Err(E::ExceedsCredits),
                Err(E::LinkedEventFailed),
            ],
        ),
        (
            "first fails",
            vec![
                single(10, "alice", "bob", 1_000).linked(),
                single(11, "alice", "bob", 1),
            ],
            vec![Err(E::ExceedsCredits), Err(E::LinkedEventFailed)],
        ),
        (
            "last fails after holds, posts, voids and a new pending",
            vec![
                post(10, 1, Some(5)).linked(),
                void(11, 2).linked(),
                pending(12, "alice", "bob", 10, 30).linked(),
                post(13, 12, None).linked(),
                single(14, "carol", "hot", 51),
            ],
            vec![
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::ExceedsDebits),
            ],
        ),
        (
            "a duplicate of a chain member fails",
            vec![
                single(10, "alice", "bob", 10).linked(),
                single(10, "alice", "bob", 10).linked(),
                single(10, "alice", "bob", 11),
            ],
            vec![
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::ExistsWithDifferentFields),
            ],
        ),
        (
            "retry of an existing transfer in a failing chain",
            vec![
                single(20, "alice", "bob", 1).linked(),
                single(10, "alice", "bob", 10).linked(),
                post(11, 1, None).linked(),
                void(12, 1),
            ],
            vec![
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::PendingTransferAlreadyPosted),
            ],
        ),
    ];
    for (name, chain, expected) in chains {
        let mut book = standard_book();
        check(
            &book.create_transfers(
                &[
                    pending(1, "alice", "bob", 20, 60),
                    pending(2, "alice", "carol", 20, 60),
                    pending(3, "alice", "bob", 20, 60),
                    single(20, "alice", "bob", 1),
                ],
                T0,
            ),
            &[CREATED; 4],
        );
        let before = snapshot(&book, &ids);
        let results = book.create_transfers(&chain, T0.plus_secs(1));
        assert_eq!(results, expected, "chain {name}");
        assert_eq!(snapshot(&book, &ids), before, "chain {name} left a trace");
        assert_balanced(&book);
        // The book still works normally afterwards.
        check(
            &book.create_transfers(&[post(10, 1, None), void(11, 2)], T0.plus_secs(2)),
            &[CREATED, CREATED],
        );
        assert_eq!(bal(&book, "alice"), [20, 21, 0, 100], "chain {name}");
    }
}

/// An adapter loads the rows a batch touches into a fresh book and persists `changes()`. A
/// failed chain must leave nothing to persist: no account marked updated, no pending status
/// rewritten, and `is_dirty()` false when nothing else happened.
#[test]
fn failed_chain_leaves_no_changes_in_a_loaded_book() {
    let mut setup = standard_book();
    check(
        &setup.create_transfers(&[pending(1, "alice", "bob", 20, 60)], T0),
        &[CREATED],
    );
    let mut book = reload(&setup);
    assert!(!book.is_dirty());
    let before = snapshot(&book, &[1, 10, 11, 12]);
    assert_eq!(
        before.changes,
        ChangeIds {
            new_accounts: vec![],
            updated_accounts: vec![],
            new_transfers: vec![],
            pending: vec![],
        }
    );
    let results = book.create_transfers(
        &[
            single(10, "alice", "carol", 10).linked(),
            post(11, 1, None).linked(),
            single(12, "bob", "carol", 1_000),
        ],
        T0,
    );
    check(
        &results,
        &[
            Err(E::LinkedEventFailed),
            Err(E::LinkedEventFailed),
            Err(E::ExceedsCredits),
        ],
    );
    assert_eq!(all_accounts(&book), before.accounts);
    assert_eq!(book.pending_status(tid(1)), Some(PendingStatus::Pending));
    assert_eq!(
        change_ids(&book),
        before.changes,
        "changes() reports what a failed chain undid"
    );
    assert!(!book.is_dirty(), "a failed chain left the book dirty");
}

#[test]
fn independent_transfers_after_a_failed_chain_still_apply() {
    let mut book = standard_book();
    let results = book.create_transfers(
        &[
            single(1, "alice", "bob", 10),
            single(2, "alice", "bob", 10).linked(),
            single(3, "bob", "carol", 1_000),
            single(4, "alice", "carol", 5),
            single(5, "alice", "bob", 1).linked(),
            single(6, "bob", "carol", 1),
        ],
        T0,
    );
    check(
        &results,
        &[
            CREATED,
            Err(E::LinkedEventFailed),
            Err(E::ExceedsCredits),
            CREATED,
            CREATED,
            CREATED,
        ],
    );
    assert_eq!(bal(&book, "alice"), [0, 16, 0, 100]);
    assert_eq!(bal(&book, "bob"), [0, 1, 0, 11]);
    assert_eq!(bal(&book, "carol"), [0, 0, 0, 6]);
    assert!(book.transfer(tid(2)).is_none());
    assert!(book.transfer(tid(3)).is_none());
    assert_eq!(
        change_ids(&book).new_transfers[2..],
        [tid(1), tid(4), tid(5), tid(6)]
    );
    assert_balanced(&book);
}

#[test]
fn successful_chains_apply_in_order() {
    let mut book = standard_book();
    // Each member sees the ones before it: bob spends money he receives earlier in the chain,
    // and a hold made in the chain is posted in it.
    let results = book.create_transfers(
        &[
            single(1, "alice", "bob", 50).linked(),
            pending(2, "bob", "carol", 50, 10).linked(),
            post(3, 2, Some(20)).linked(),
            single(4, "bob", "hot", 30),
        ],
        T0,
    );
    check(&results, &[CREATED; 4]);
    assert_eq!(bal(&book, "bob"), [0, 50, 0, 50]);
    assert_eq!(bal(&book, "carol"), [0, 0, 0, 20]);
    assert_eq!(bal(&book, "hot"), [0, 50, 0, 30]);
    assert_eq!(book.pending_status(tid(2)), Some(PendingStatus::Posted));
    assert_balanced(&book);
}

#[test]
fn open_chain_at_the_end_applies_nothing_of_it() {
    // (transfers before the chain, the open chain, the chain's results)
    let cases: Vec<(Vec<NewTransfer>, Vec<NewTransfer>, Vec<TransferResult>)> = vec![
        (
            vec![],
            vec![single(2, "alice", "bob", 1).linked()],
            vec![Err(E::LinkedEventChainOpen)],
        ),
        (
            vec![single(1, "alice", "bob", 1)],
            vec![
                single(2, "alice", "bob", 1).linked(),
                pending(3, "alice", "bob", 1, 0).linked(),
                single(4, "alice", "bob", 1).linked(),
            ],
            vec![
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventFailed),
                Err(E::LinkedEventChainOpen),
            ],
        ),
        (
            // A closed chain, then an open one.
            vec![
                single(1, "alice", "bob", 1).linked(),
                single(5, "alice", "bob", 1),
            ],
            vec![
                single(2, "alice", "bob", 1).linked(),
                single(3, "alice", "bob", 1).linked(),
            ],
            vec![Err(E::LinkedEventFailed), Err(E::LinkedEventChainOpen)],
        ),
        (
            // Even a member that would fail on its own only reports the open chain.
            vec![],
            vec![
                single(2, "alice", "bob", 1_000).linked(),
                single(3, "alice", "bob", 1).linked(),
            ],
            vec![Err(E::LinkedEventFailed), Err(E::LinkedEventChainOpen)],
        ),
    ];
    let ids = [1, 2, 3, 4, 5];
    for (prefix, chain, chain_results) in cases {
        let mut expected_book = standard_book();
        let prefix_results = expected_book.create_transfers(&prefix, T0);
        assert!(prefix_results.iter().all(|r| *r == CREATED));

        let mut book = standard_book();
        let batch: Vec<NewTransfer> = prefix.iter().chain(&chain).copied().collect();
        let results = book.create_transfers(&batch, T0);
        check(&results[..prefix.len()], &prefix_results);
        check(&results[prefix.len()..], &chain_results);
        assert_eq!(snapshot(&book, &ids), snapshot(&expected_book, &ids));
    }
    assert_eq!(
        LedgerBook::new().create_transfers(&[], T0),
        Vec::<TransferResult>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// changes()
// ---------------------------------------------------------------------------------------------

#[test]
fn changes_of_a_fresh_book() {
    let book = book_with(&[("alice", DMNEC, 100), ("bob", NONE, 0)]);
    let c = change_ids(&book);
    assert_eq!(
        c.new_accounts.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [acc(BANK), acc("alice"), acc("bob")],
        "new accounts in creation order"
    );
    assert_eq!(
        c.new_accounts[1].1.credits_posted,
        pico(100),
        "new accounts carry their balances after the batch"
    );
    assert_eq!(
        c.updated_accounts,
        vec![],
        "new accounts are not also updated"
    );
    assert_eq!(c.new_transfers, [funding_id(0)]);
    assert_eq!(c.pending, vec![]);
    assert!(book.is_dirty());
}

#[test]
fn changes_of_a_loaded_book() {
    let mut setup = standard_book();
    check(
        &setup.create_transfers(
            &[
                pending(1, "alice", "bob", 10, 60),
                pending(2, "alice", "bob", 10, 60),
            ],
            T0,
        ),
        &[CREATED, CREATED],
    );
    let mut book = reload(&setup);
    assert!(!book.is_dirty());
    assert_eq!(change_ids(&book).new_transfers, vec![]);

    // Retries and refusals change nothing.
    check(
        &book.create_transfers(
            &[
                pending(1, "alice", "bob", 10, 60),
                single(3, "bob", "carol", 1),
            ],
            T0,
        ),
        &[EXISTED, Err(E::ExceedsCredits)],
    );
    assert_eq!(
        book.create_accounts(&[new_account("alice", DMNEC)], T0),
        [Ok(Outcome::AlreadyExisted)]
    );
    assert!(!book.is_dirty());

    let results = book.create_accounts(&[new_account("dave", DMNEC)], T0);
    assert_eq!(results, [Ok(Outcome::Created)]);
    let results = book.create_transfers(
        &[
            single(4, "alice", "dave", 5),
            post(5, 1, Some(4)),
            pending(6, "alice", "dave", 3, 0),
            single(7, "carol", "alice", 1),
            void(8, 6),
        ],
        T0,
    );
    check(&results, &[CREATED; 5]);
    let mut updated = vec![acc("alice"), acc("bob"), acc("carol")];
    updated.sort();
    let c = book.changes();
    assert_eq!(
        c.new_accounts.iter().map(|a| a.id()).collect::<Vec<_>>(),
        [acc("dave")]
    );
    assert_eq!(
        c.new_accounts[0].balances().credits_posted,
        pico(5),
        "a new account carries its balances after the batch"
    );
    assert_eq!(
        c.updated_accounts
            .iter()
            .map(|a| a.id())
            .collect::<Vec<_>>(),
        updated,
        "updated accounts by id, new ones left out"
    );
    for a in &c.updated_accounts {
        assert_eq!(Some(*a), book.account(a.id()), "absolute balances");
    }
    assert_eq!(
        c.new_transfers.iter().map(|t| t.id).collect::<Vec<_>>(),
        [tid(4), tid(5), tid(6), tid(7), tid(8)],
        "new transfers in the order applied"
    );
    let mut pending_changes: Vec<(TransferId, PendingStatus, bool)> = c
        .pending
        .iter()
        .map(|(t, s, created)| (t.id, *s, *created))
        .collect();
    pending_changes.sort_by_key(|(id, _, _)| *id);
    assert_eq!(
        pending_changes,
        [
            (tid(1), PendingStatus::Posted, false),
            (tid(6), PendingStatus::Voided, true),
        ],
        "a loaded hold is a status update, a hold made now is created now"
    );
    for (t, _, _) in &c.pending {
        assert_eq!(
            t.kind,
            TransferKind::Pending,
            "pending entries carry the hold"
        );
    }
    assert!(book.is_dirty());
}

#[test]
fn changes_record_new_holds_and_expiries() {
    let mut setup = standard_book();
    check(
        &setup.create_transfers(&[pending(1, "alice", "bob", 10, 5)], T0),
        &[CREATED],
    );
    let mut book = reload(&setup);
    let later = T0.plus_secs(5);
    check(
        &book.create_transfers(&[pending(2, "alice", "bob", 7, 0)], later),
        &[CREATED],
    );
    assert_eq!(
        change_ids(&book).pending,
        [(tid(2), PendingStatus::Pending, true)]
    );
    assert_eq!(book.expire(tid(1), later), CREATED);
    let c = change_ids(&book);
    assert_eq!(c.new_transfers, [tid(2), expiry_id(tid(1))]);
    let mut pending_changes = c.pending.clone();
    pending_changes.sort_by_key(|(id, _, _)| *id);
    assert_eq!(
        pending_changes,
        [
            (tid(1), PendingStatus::Expired, false),
            (tid(2), PendingStatus::Pending, true),
        ]
    );
    let mut updated: Vec<AccountId> = c.updated_accounts.iter().map(|(id, _)| *id).collect();
    updated.sort();
    let mut expected = vec![acc("alice"), acc("bob")];
    expected.sort();
    assert_eq!(updated, expected);
    assert_eq!(bal(&book, "alice"), [7, 0, 0, 100]);
}

// ---------------------------------------------------------------------------------------------
// Property tests: the book against an independent model
// ---------------------------------------------------------------------------------------------

/// The four counters of a model account, wide enough never to overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counters {
    dp: u128,
    dpo: u128,
    cp: u128,
    cpo: u128,
}

#[derive(Debug, Clone, Copy)]
struct ModelAccount {
    ledger: LedgerId,
    code: AccountCode,
    flags: AccountFlags,
    c: Counters,
}

#[derive(Debug, Clone, Copy)]
struct ModelTransfer {
    kind: TransferKind,
    debit: AccountId,
    credit: AccountId,
    amount: u128,
    pending_id: Option<TransferId>,
    timeout_secs: u32,
    ledger: LedgerId,
    code: TransferCode,
    user_data: u128,
    at: Timestamp,
}

impl ModelTransfer {
    fn expires_at(&self) -> Option<Timestamp> {
        (self.kind == TransferKind::Pending && self.timeout_secs > 0)
            .then(|| self.at.plus_secs(u64::from(self.timeout_secs)))
    }
}

/// The ledger rules written down a second time, as plainly as possible: a linked chain is
/// undone by restoring a copy of the whole model.
#[derive(Debug, Clone, Default)]
struct Model {
    accounts: HashMap<AccountId, ModelAccount>,
    transfers: HashMap<TransferId, ModelTransfer>,
    pending: HashMap<TransferId, PendingStatus>,
}

fn wide(p: Piconero) -> u128 {
    u128::from(p.as_u64())
}

impl Model {
    fn create_account(&mut self, a: &NewAccount) -> Result<Outcome, AccountError> {
        if a.id.is_nil() {
            return Err(AccountError::IdMustNotBeZero);
        }
        if a.flags.contains(DMNEC) && a.flags.contains(CMNED) {
            return Err(AccountError::FlagsAreMutuallyExclusive);
        }
        match self.accounts.get(&a.id) {
            Some(e) if e.ledger == a.ledger && e.code == a.code && e.flags == a.flags => {
                Ok(Outcome::AlreadyExisted)
            }
            Some(_) => Err(AccountError::ExistsWithDifferentFields),
            None => {
                self.accounts.insert(
                    a.id,
                    ModelAccount {
                        ledger: a.ledger,
                        code: a.code,
                        flags: a.flags,
                        c: Counters::default(),
                    },
                );
                Ok(Outcome::Created)
            }
        }
    }

    fn create_transfers(&mut self, batch: &[NewTransfer], now: Timestamp) -> Vec<TransferResult> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < batch.len() {
            let Some(end) = (start..batch.len()).find(|i| !batch[*i].linked) else {
                out.extend((start + 1..batch.len()).map(|_| Err(E::LinkedEventFailed)));
                out.push(Err(E::LinkedEventChainOpen));
                break;
            };
            let saved = self.clone();
            let mut chain = Vec::new();
            for (i, t) in batch.iter().enumerate().take(end + 1).skip(start) {
                match self.transfer(t, now) {
                    Ok(outcome) => chain.push(Ok(outcome)),
                    Err(error) => {
                        *self = saved;
                        chain = (start..=end)
                            .map(|k| Err(if k == i { error } else { E::LinkedEventFailed }))
                            .collect();
                        break;
                    }
                }
            }
            out.extend(chain);
            start = end + 1;
        }
        out
    }

    fn same(&self, e: &ModelTransfer, t: &NewTransfer) -> bool {
        if e.ledger != t.ledger || e.code != t.code || e.user_data != t.user_data {
            return false;
        }
        match t.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            } => {
                e.kind == TransferKind::Single
                    && (e.debit, e.credit, e.amount) == (debit, credit, wide(amount))
            }
            TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            } => {
                e.kind == TransferKind::Pending
                    && (e.debit, e.credit, e.amount, e.timeout_secs)
                        == (debit, credit, wide(amount), timeout_secs)
            }
            TransferOp::Post { pending_id, amount } => {
                // "All of it" means the hold's amount, as in TigerBeetle.
                let asked = match amount {
                    Some(a) => Some(wide(a)),
                    None => self.transfers.get(&pending_id).map(|p| p.amount),
                };
                e.kind == TransferKind::Post
                    && e.pending_id == Some(pending_id)
                    && Some(e.amount) == asked
            }
            TransferOp::Void { pending_id } => {
                e.kind == TransferKind::Void && e.pending_id == Some(pending_id)
            }
        }
    }

    fn transfer(&mut self, t: &NewTransfer, now: Timestamp) -> TransferResult {
        if t.id.is_nil() {
            return Err(E::IdMustNotBeZero);
        }
        if t.pending_id() == Some(t.id) {
            return Err(E::PendingIdMustBeDifferent);
        }
        if let Some(e) = self.transfers.get(&t.id) {
            return if self.same(e, t) {
                Ok(Outcome::AlreadyExisted)
            } else {
                Err(E::ExistsWithDifferentFields)
            };
        }
        match t.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            } => self.open(t, debit, credit, wide(amount), 0, now),
            TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            } => {
                if timeout_secs > MAX_PENDING_TIMEOUT_SECS {
                    return Err(E::TimeoutTooLong);
                }
                let outcome = self.open(t, debit, credit, wide(amount), timeout_secs, now)?;
                self.pending.insert(t.id, PendingStatus::Pending);
                Ok(outcome)
            }
            TransferOp::Post { pending_id, amount } => {
                let p = self.resolvable(pending_id, Some(now))?;
                if p.ledger != t.ledger {
                    return Err(E::LedgerMismatch);
                }
                let amount = amount.map_or(p.amount, wide);
                if amount == 0 {
                    return Err(E::AmountMustNotBeZero);
                }
                if amount > p.amount {
                    return Err(E::ExceedsPendingTransferAmount);
                }
                self.resolve(
                    t.id,
                    pending_id,
                    amount,
                    t.code,
                    t.user_data,
                    TransferKind::Post,
                    now,
                )
            }
            TransferOp::Void { pending_id } => {
                let p = self.resolvable(pending_id, Some(now))?;
                if p.ledger != t.ledger {
                    return Err(E::LedgerMismatch);
                }
                self.resolve(
                    t.id,
                    pending_id,
                    0,
                    t.code,
                    t.user_data,
                    TransferKind::Void,
                    now,
                )
            }
        }
    }

    fn open(
        &mut self,
        t: &NewTransfer,
        debit: AccountId,
        credit: AccountId,
        amount: u128,
        timeout_secs: u32,
        now: Timestamp,
    ) -> TransferResult {
        if amount == 0 {
            return Err(E::AmountMustNotBeZero);
        }
        if debit == credit {
            return Err(E::AccountsMustBeDifferent);
        }
        let d = *self.accounts.get(&debit).ok_or(E::DebitAccountNotFound)?;
        let c = *self.accounts.get(&credit).ok_or(E::CreditAccountNotFound)?;
        if d.ledger != t.ledger || c.ledger != t.ledger {
            return Err(E::LedgerMismatch);
        }
        let is_pending = matches!(t.op, TransferOp::Pending { .. });
        let (mut dc, mut cc) = (d.c, c.c);
        if is_pending {
            dc.dp += amount;
            cc.cp += amount;
        } else {
            dc.dpo += amount;
            cc.cpo += amount;
        }
        let max = u128::from(MAX_ACCOUNT_COUNTER);
        if dc.dp.max(dc.dpo) > max {
            return Err(E::Overflow);
        }
        if cc.cp.max(cc.cpo) > max {
            return Err(E::Overflow);
        }
        if d.flags.contains(DMNEC) && dc.dp + dc.dpo > dc.cpo {
            return Err(E::ExceedsCredits);
        }
        if c.flags.contains(CMNED) && cc.cp + cc.cpo > cc.dpo {
            return Err(E::ExceedsDebits);
        }
        self.set(debit, dc);
        self.set(credit, cc);
        self.transfers.insert(
            t.id,
            ModelTransfer {
                kind: if is_pending {
                    TransferKind::Pending
                } else {
                    TransferKind::Single
                },
                debit,
                credit,
                amount,
                pending_id: None,
                timeout_secs,
                ledger: t.ledger,
                code: t.code,
                user_data: t.user_data,
                at: now,
            },
        );
        Ok(Outcome::Created)
    }

    fn set(&mut self, id: AccountId, c: Counters) {
        self.accounts.get_mut(&id).expect("account exists").c = c;
    }

    fn resolvable(
        &self,
        pending_id: TransferId,
        now: Option<Timestamp>,
    ) -> Result<ModelTransfer, TransferError> {
        let p = *self
            .transfers
            .get(&pending_id)
            .ok_or(E::PendingTransferNotFound)?;
        if p.kind != TransferKind::Pending {
            return Err(E::PendingTransferNotPending);
        }
        match self.pending[&pending_id] {
            PendingStatus::Pending => {}
            PendingStatus::Posted => return Err(E::PendingTransferAlreadyPosted),
            PendingStatus::Voided => return Err(E::PendingTransferAlreadyVoided),
            PendingStatus::Expired => return Err(E::PendingTransferExpired),
        }
        if let (Some(now), Some(at)) = (now, p.expires_at())
            && at <= now
        {
            return Err(E::PendingTransferExpired);
        }
        Ok(p)
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &mut self,
        id: TransferId,
        pending_id: TransferId,
        posted: u128,
        code: TransferCode,
        user_data: u128,
        kind: TransferKind,
        now: Timestamp,
    ) -> TransferResult {
        let p = self.transfers[&pending_id];
        let mut dc = self.accounts[&p.debit].c;
        let mut cc = self.accounts[&p.credit].c;
        dc.dp -= p.amount;
        cc.cp -= p.amount;
        dc.dpo += posted;
        cc.cpo += posted;
        self.set(p.debit, dc);
        self.set(p.credit, cc);
        let status = match kind {
            TransferKind::Post => PendingStatus::Posted,
            TransferKind::Void => PendingStatus::Voided,
            _ => PendingStatus::Expired,
        };
        self.pending.insert(pending_id, status);
        self.transfers.insert(
            id,
            ModelTransfer {
                kind,
                debit: p.debit,
                credit: p.credit,
                amount: if kind == TransferKind::Post {
                    posted
                } else {
                    p.amount
                },
                pending_id: Some(pending_id),
                timeout_secs: 0,
                ledger: p.ledger,
                code,
                user_data,
                at: now,
            },
        );
        Ok(Outcome::Created)
    }

    fn expire(&mut self, pending_id: TransferId, now: Timestamp) -> TransferResult {
        let id = expiry_id(pending_id);
        if self.transfers.contains_key(&id) {
            return Ok(Outcome::AlreadyExisted);
        }
        let p = self.resolvable(pending_id, None)?;
        match p.expires_at() {
            Some(at) if at <= now => {}
            _ => return Err(E::PendingTransferNotPending),
        }
        self.resolve(id, pending_id, 0, p.code, 0, TransferKind::Expiry, now)
    }

    fn expired_pending(&self, now: Timestamp) -> Vec<TransferId> {
        let mut due: Vec<(Timestamp, TransferId)> = self
            .pending
            .iter()
            .filter(|(_, s)| **s == PendingStatus::Pending)
            .filter_map(|(id, _)| {
                let at = self.transfers[id].expires_at()?;
                (at <= now).then_some((at, *id))
            })
            .collect();
        due.sort();
        due.into_iter().map(|(_, id)| id).collect()
    }
}

/// One step of a generated scenario.
#[derive(Debug, Clone)]
enum Step {
    Accounts(Vec<NewAccount>),
    Transfers(Vec<NewTransfer>),
    /// Resend transfers sent before (picked by index into the history), relinked at random and
    /// sometimes changed, so that exact retries and near-miss conflicts both happen.
    Retry(Vec<(usize, bool, Tweak)>),
    /// Move the clock; if `sweep`, expire what is due (otherwise holds past their deadline
    /// stay pending, so that posts and voids at or after it meet them); then try to expire a
    /// few ids anyway.
    Tick {
        secs: u64,
        sweep: bool,
        expire: Vec<TransferId>,
    },
}

/// How a retry differs from the transfer it resends.
#[derive(Debug, Clone, Copy)]
enum Tweak {
    Same,
    /// A post asks for all of its hold instead of its amount, or the other way round.
    ToggleAll,
    /// One piconero more.
    MoreAmount,
    /// Other user data.
    UserData,
    /// Another code.
    Code,
    /// A hold with another timeout.
    Timeout,
    /// Another pending transfer for a post or void, another credit account otherwise.
    Target,
}

impl Tweak {
    fn apply(self, t: NewTransfer, history: &[NewTransfer]) -> NewTransfer {
        let bump = |a: Piconero| Piconero::new(a.as_u64() + 1);
        match (self, t.op) {
            (Tweak::Same, _) => t,
            (Tweak::UserData, _) => t.with_user_data(t.user_data + 1),
            (Tweak::Code, _) => NewTransfer {
                code: if t.code == TransferCode::Deposit {
                    TransferCode::TradeEscrow
                } else {
                    TransferCode::Deposit
                },
                ..t
            },
            (
                Tweak::Timeout,
                TransferOp::Pending {
                    debit,
                    credit,
                    amount,
                    timeout_secs,
                },
            ) => NewTransfer {
                op: TransferOp::Pending {
                    debit,
                    credit,
                    amount,
                    timeout_secs: timeout_secs + 1,
                },
                ..t
            },
            (Tweak::Timeout, _) => t,
            (Tweak::Target, op) => {
                let next = |id: u128| id % 6 + 1;
                let op = match op {
                    TransferOp::Post { pending_id, amount } => TransferOp::Post {
                        pending_id: tid(next(pending_id.as_u128())),
                        amount,
                    },
                    TransferOp::Void { pending_id } => TransferOp::Void {
                        pending_id: tid(next(pending_id.as_u128())),
                    },
                    TransferOp::Single {
                        debit,
                        credit,
                        amount,
                    } => TransferOp::Single {
                        debit,
                        credit: AccountId::from_u128(next(credit.as_u128())),
                        amount,
                    },
                    TransferOp::Pending {
                        debit,
                        credit,
                        amount,
                        timeout_secs,
                    } => TransferOp::Pending {
                        debit,
                        credit: AccountId::from_u128(next(credit.as_u128())),
                        amount,
                        timeout_secs,
                    },
                };
                NewTransfer { op, ..t }
            }
            (Tweak::ToggleAll, TransferOp::Post { pending_id, amount }) => {
                let hold = history.iter().find_map(|h| match h.op {
                    TransferOp::Pending { amount, .. } if h.id == pending_id => Some(amount),
                    _ => None,
                });
                let amount = match amount {
                    Some(_) => None,
                    None => hold.or(Some(Piconero::new(1))),
                };
                NewTransfer {
                    op: TransferOp::Post { pending_id, amount },
                    ..t
                }
            }
            (Tweak::ToggleAll, _) => t,
            (Tweak::MoreAmount, op) => NewTransfer {
                op: match op {
                    TransferOp::Single {
                        debit,
                        credit,
                        amount,
                    } => TransferOp::Single {
                        debit,
                        credit,
                        amount: bump(amount),
                    },
                    TransferOp::Pending {
                        debit,
                        credit,
                        amount,
                        timeout_secs,
                    } => TransferOp::Pending {
                        debit,
                        credit,
                        amount: bump(amount),
                        timeout_secs,
                    },
                    TransferOp::Post { pending_id, amount } => TransferOp::Post {
                        pending_id,
                        amount: amount.map(bump),
                    },
                    TransferOp::Void { pending_id } => TransferOp::Void { pending_id },
                },
                ..t
            },
        }
    }
}

fn arb_tweak() -> impl Strategy<Value = Tweak> {
    prop_oneof![
        6 => Just(Tweak::Same),
        2 => Just(Tweak::ToggleAll),
        1 => Just(Tweak::MoreAmount),
        1 => Just(Tweak::UserData),
        1 => Just(Tweak::Code),
        1 => Just(Tweak::Timeout),
        1 => Just(Tweak::Target),
    ]
}

/// Accounts 1..=6 (0 is the nil id): few enough that transfers usually find both sides.
fn arb_account_id() -> impl Strategy<Value = AccountId> {
    prop_oneof![1 => Just(0_u128), 30 => 1_u128..=6].prop_map(AccountId::from_u128)
}

/// Transfer ids come from small pools, so that retries and conflicts happen: holds take ids
/// 1..=6, single transfers 7..=12, posts and voids 13..=20. Rarely the nil id, or an id of
/// another pool.
fn arb_transfer_id(pool: std::ops::RangeInclusive<u128>) -> impl Strategy<Value = TransferId> {
    prop_oneof![
        1 => Just(0_u128),
        2 => 1_u128..=20,
        30 => pool,
    ]
    .prop_map(TransferId::from_u128)
}

const HOLD_IDS: std::ops::RangeInclusive<u128> = 1..=6;
const SINGLE_IDS: std::ops::RangeInclusive<u128> = 7..=12;
const RESOLVE_IDS: std::ops::RangeInclusive<u128> = 13..=20;

fn arb_flags() -> impl Strategy<Value = AccountFlags> {
    prop_oneof![
        4 => Just(NONE),
        4 => Just(DMNEC),
        2 => Just(CMNED),
        1 => Just(DMNEC.union(CMNED)),
    ]
}

fn arb_ledger() -> impl Strategy<Value = LedgerId> {
    prop_oneof![20 => Just(LedgerId::XMR), 1 => Just(other_ledger())]
}

fn arb_new_account() -> impl Strategy<Value = NewAccount> {
    (
        arb_account_id(),
        arb_ledger(),
        prop_oneof![Just(AccountCode::UserXmr), Just(AccountCode::Equity)],
        arb_flags(),
    )
        .prop_map(|(id, ledger, code, flags)| NewAccount {
            id,
            ledger,
            code,
            flags,
        })
}

fn arb_amount() -> impl Strategy<Value = Piconero> {
    prop_oneof![1 => Just(0_u64), 20 => 1_u64..=60].prop_map(Piconero::new)
}

/// A transfer's id and what it does.
fn arb_op() -> impl Strategy<Value = (TransferId, TransferOp)> {
    let timeout = prop_oneof![
        3 => Just(0_u32),
        6 => 1_u32..=20,
        1 => Just(MAX_PENDING_TIMEOUT_SECS + 1),
    ];
    let post_amount = prop_oneof![
        2 => Just(None),
        3 => arb_amount().prop_map(Some),
    ];
    prop_oneof![
        4 => (arb_transfer_id(SINGLE_IDS), arb_account_id(), arb_account_id(), arb_amount())
            .prop_map(|(id, debit, credit, amount)| {
                (id, TransferOp::Single { debit, credit, amount })
            }),
        3 => (
            arb_transfer_id(HOLD_IDS),
            arb_account_id(),
            arb_account_id(),
            arb_amount(),
            timeout,
        )
            .prop_map(|(id, debit, credit, amount, timeout_secs)| {
                (
                    id,
                    TransferOp::Pending {
                        debit,
                        credit,
                        amount,
                        timeout_secs,
                    },
                )
            }),
        3 => (arb_transfer_id(RESOLVE_IDS), arb_transfer_id(HOLD_IDS), post_amount)
            .prop_map(|(id, pending_id, amount)| (id, TransferOp::Post { pending_id, amount })),
        2 => (arb_transfer_id(RESOLVE_IDS), arb_transfer_id(HOLD_IDS))
            .prop_map(|(id, pending_id)| (id, TransferOp::Void { pending_id })),
    ]
}

fn arb_transfer() -> impl Strategy<Value = NewTransfer> {
    (
        arb_op(),
        arb_ledger(),
        prop_oneof![6 => Just(TransferCode::TradeEscrow), 1 => Just(TransferCode::Deposit)],
        prop_oneof![6 => Just(0_u128), 1 => Just(1_u128)],
        prop::bool::weighted(0.15),
    )
        .prop_map(|((id, op), ledger, code, user_data, linked)| NewTransfer {
            id,
            op,
            ledger,
            code,
            user_data,
            linked,
        })
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => prop::collection::vec(arb_new_account(), 1..4).prop_map(Step::Accounts),
        8 => prop::collection::vec(arb_transfer(), 1..8).prop_map(Step::Transfers),
        2 => prop::collection::vec((any::<usize>(), prop::bool::weighted(0.2), arb_tweak()), 1..5)
            .prop_map(Step::Retry),
        2 => (
            0_u64..=12,
            prop::bool::weighted(0.7),
            prop::collection::vec(arb_transfer_id(HOLD_IDS), 0..3),
        )
            .prop_map(|(secs, sweep, expire)| Step::Tick { secs, sweep, expire }),
    ]
}

/// Accounts 1..=6 exist from the start with random flags, mostly on the XMR ledger, so that
/// money flows from the first step.
fn arb_scenario() -> impl Strategy<Value = (Vec<NewAccount>, Vec<Step>)> {
    (
        prop::collection::vec((arb_flags(), arb_ledger()), 6),
        prop::collection::vec(arb_step(), 1..30),
    )
        .prop_map(|(opening, steps)| {
            let accounts = (1_u128..)
                .zip(opening)
                .map(|(n, (flags, ledger))| NewAccount {
                    id: AccountId::from_u128(n),
                    ledger,
                    code: AccountCode::Equity,
                    flags,
                })
                .collect();
            (accounts, steps)
        })
}

/// (a) Σ debits = Σ credits per ledger, (b) every account obeys its flags, (c) the book holds
/// what the model holds.
fn check_state(book: &LedgerBook, model: &Model, now: Timestamp) -> Result<(), TestCaseError> {
    for (ledger, (debits, credits)) in book.totals() {
        prop_assert_eq!(
            debits.debits_pending,
            credits.credits_pending,
            "pending on {:?}",
            ledger
        );
        prop_assert_eq!(
            debits.debits_posted,
            credits.credits_posted,
            "posted on {:?}",
            ledger
        );
    }
    prop_assert_eq!(book.accounts().count(), model.accounts.len());
    for account in book.accounts() {
        prop_assert!(account.satisfies_flags(), "{:?}", account);
        let m = model
            .accounts
            .get(&account.id())
            .ok_or_else(|| TestCaseError::fail(format!("unknown account {account:?}")))?;
        let b = account.balances();
        let got = Counters {
            dp: wide(b.debits_pending),
            dpo: wide(b.debits_posted),
            cp: wide(b.credits_pending),
            cpo: wide(b.credits_posted),
        };
        prop_assert_eq!(got, m.c, "balances of {:?}", account.id());
        prop_assert_eq!(account.ledger(), m.ledger);
        prop_assert_eq!(account.code(), m.code);
        prop_assert_eq!(account.flags(), m.flags);
    }
    for (id, m) in &model.transfers {
        let t = book
            .transfer(*id)
            .ok_or_else(|| TestCaseError::fail(format!("missing transfer {id:?}")))?;
        prop_assert_eq!(
            (
                t.kind,
                t.debit_account_id,
                t.credit_account_id,
                wide(t.amount)
            ),
            (m.kind, m.debit, m.credit, m.amount),
            "transfer {:?}",
            id
        );
        prop_assert_eq!(t.pending_id, m.pending_id);
    }
    prop_assert_eq!(book.changes().new_transfers.len(), model.transfers.len());
    for (id, status) in &model.pending {
        prop_assert_eq!(
            book.pending_status(*id),
            Some(*status),
            "status of {:?}",
            id
        );
    }
    prop_assert_eq!(book.expired_pending(now), model.expired_pending(now));
    Ok(())
}

/// (d) Replaying a batch: whatever succeeded is now an idempotent no-op, and only what failed
/// before may do something new (funds may have arrived later in the batch).
fn check_replay(
    book: &LedgerBook,
    batch: &[NewTransfer],
    results: &[TransferResult],
    now: Timestamp,
) -> Result<(), TestCaseError> {
    let mut again = book.clone();
    let replay = again.create_transfers(batch, now);
    let mut anything_new = false;
    for (i, (first, second)) in results.iter().zip(&replay).enumerate() {
        if first.is_ok() {
            prop_assert_eq!(*second, EXISTED, "replay of #{} {:?}", i, batch[i]);
        }
        anything_new |= *second == CREATED;
    }
    if !anything_new {
        prop_assert_eq!(all_accounts(&again), all_accounts(book));
    }

    // Only what succeeded, unlinked: nothing at all may change.
    let succeeded: Vec<NewTransfer> = batch
        .iter()
        .zip(results)
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| NewTransfer {
            linked: false,
            ..*t
        })
        .collect();
    let mut again = book.clone();
    let replay = again.create_transfers(&succeeded, now.plus_secs(1));
    prop_assert!(replay.iter().all(|r| *r == EXISTED), "{:?}", replay);
    prop_assert_eq!(all_accounts(&again), all_accounts(book));
    prop_assert_eq!(
        again.changes().new_transfers.len(),
        book.changes().new_transfers.len()
    );
    Ok(())
}

fn run_scenario(opening: &[NewAccount], steps: &[Step]) -> Result<(), TestCaseError> {
    let mut book = LedgerBook::new();
    let mut model = Model::default();
    let mut now = T0;
    // Transfers the book created, for retries to pick from.
    let mut history: Vec<NewTransfer> = Vec::new();
    let created = |batch: &[NewTransfer], results: &[TransferResult]| -> Vec<NewTransfer> {
        batch
            .iter()
            .zip(results)
            .filter(|(_, r)| **r == CREATED)
            .map(|(t, _)| *t)
            .collect()
    };

    let results = book.create_accounts(opening, now);
    let expected: Vec<_> = opening.iter().map(|a| model.create_account(a)).collect();
    prop_assert_eq!(results, expected);
    check_state(&book, &model, now)?;

    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Accounts(accounts) => {
                let results = book.create_accounts(accounts, now);
                let expected: Vec<_> = accounts.iter().map(|a| model.create_account(a)).collect();
                prop_assert_eq!(results, expected, "step {}: {:?}", n, step);
            }
            Step::Transfers(batch) => {
                let results = book.create_transfers(batch, now);
                let expected = model.create_transfers(batch, now);
                prop_assert_eq!(&results, &expected, "step {}: {:?}", n, batch);
                check_replay(&book, batch, &results, now)?;
                history.extend(created(batch, &results));
            }
            Step::Retry(picks) => {
                if history.is_empty() {
                    continue;
                }
                let batch: Vec<NewTransfer> = picks
                    .iter()
                    .map(|(i, linked, tweak)| NewTransfer {
                        linked: *linked,
                        ..tweak.apply(history[*i % history.len()], &history)
                    })
                    .collect();
                let results = book.create_transfers(&batch, now);
                let expected = model.create_transfers(&batch, now);
                prop_assert_eq!(&results, &expected, "step {} (retry): {:?}", n, batch);
                check_replay(&book, &batch, &results, now)?;
                history.extend(created(&batch, &results));
            }
            Step::Tick {
                secs,
                sweep,
                expire,
            } => {
                now = now.plus_secs(*secs);
                let due = book.expired_pending(now);
                prop_assert_eq!(&due, &model.expired_pending(now));
                let swept = if *sweep { due.as_slice() } else { &[] };
                for id in swept.iter().chain(expire) {
                    let got = book.expire(*id, now);
                    let expected = model.expire(*id, now);
                    prop_assert_eq!(got, expected, "step {}: expire {:?}", n, id);
                }
                if *sweep {
                    prop_assert_eq!(book.expired_pending(now), Vec::<TransferId>::new());
                }
            }
        }
        check_state(&book, &model, now)?;
    }
    Ok(())
}

proptest! {
    // Failures are not persisted to a regressions file: the minimal input is in the message.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn book_matches_the_model((opening, steps) in arb_scenario()) {
        run_scenario(&opening, &steps)?;
    }
}

/// The model itself must agree with the hand-written cases, or the property test proves
/// nothing: a spot check on a scenario with every kind of step.
#[test]
fn model_agrees_on_a_known_scenario() {
    let opening = [
        NewAccount {
            id: AccountId::from_u128(1),
            ledger: LedgerId::XMR,
            code: AccountCode::Equity,
            flags: NONE,
        },
        NewAccount {
            id: AccountId::from_u128(2),
            ledger: LedgerId::XMR,
            code: AccountCode::Equity,
            flags: DMNEC,
        },
    ];
    let op = |debit: u128, credit: u128, amount: u64| TransferOp::Single {
        debit: AccountId::from_u128(debit),
        credit: AccountId::from_u128(credit),
        amount: pico(amount),
    };
    let hold = TransferOp::Pending {
        debit: AccountId::from_u128(2),
        credit: AccountId::from_u128(1),
        amount: pico(30),
        timeout_secs: 5,
    };
    let steps = vec![
        Step::Transfers(vec![
            NewTransfer::xmr(tid(1), op(1, 2, 50), TransferCode::Deposit),
            NewTransfer::xmr(tid(2), hold, TransferCode::TradeEscrow),
            NewTransfer::xmr(tid(3), op(2, 1, 21), TransferCode::Adjustment),
        ]),
        Step::Retry(vec![(0, false, Tweak::Same), (0, false, Tweak::UserData)]),
        Step::Tick {
            secs: 5,
            sweep: true,
            expire: vec![tid(2), tid(9)],
        },
        Step::Transfers(vec![NewTransfer::xmr(
            tid(3),
            op(2, 1, 21),
            TransferCode::Adjustment,
        )]),
    ];
    run_scenario(&opening, &steps).expect("scenario holds");
}
