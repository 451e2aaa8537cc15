//! No overdraft and no double spend under concurrency.

use std::sync::Arc;

use pupero_core::TransferId;
use pupero_core::ledger::Outcome;

use crate::support::{ledger_test, single, single_with_id};

/// Debits fired at once at one account.
const CONCURRENT_DEBITS: u64 = 300;
/// How many of them the account can pay for.
const FUNDED_DEBITS: u64 = 120;
const AMOUNT: u64 = 1_000_000_000;

ledger_test!(exactly_the_funded_debits_succeed, |t| {
    let op = t.operator().await;
    let payer = t.user(op, FUNDED_DEBITS * AMOUNT).await;
    let payee = t.user(op, 0).await;
    let ledger = Arc::new(t.ledger.clone());
    let tasks: Vec<_> = (0..CONCURRENT_DEBITS)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.transfer(single(payer, payee, AMOUNT)).await })
        })
        .collect();
    let mut ok = 0;
    let mut short = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Outcome::Created) => ok += 1,
            Err(e) if e.is_insufficient_funds() => short += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, FUNDED_DEBITS);
    assert_eq!(short, CONCURRENT_DEBITS - FUNDED_DEBITS);
    assert_eq!(t.available(payer).await, 0);
    assert_eq!(t.available(payee).await, FUNDED_DEBITS * AMOUNT);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(two_writers_on_one_database_never_overdraw, |t| {
    // Two ledgers on the same database are two writers, as two processes would be: only the
    // row locks and constraints stand between them and an overdraft.
    let op = t.operator().await;
    let payer = t.user(op, FUNDED_DEBITS * AMOUNT).await;
    let payee = t.user(op, 0).await;
    let writers = [t.ledger.clone(), t.reopen().await];
    let tasks: Vec<_> = (0..CONCURRENT_DEBITS)
        .map(|i| {
            let ledger = writers[usize::try_from(i % 2).unwrap()].clone();
            tokio::spawn(async move { ledger.transfer(single(payer, payee, AMOUNT)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_insufficient_funds(), "unexpected {e:?}"),
        }
    }
    assert_eq!(ok, FUNDED_DEBITS);
    assert_eq!(t.available(payer).await, 0);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(concurrent_retries_move_money_once, |t| {
    let op = t.operator().await;
    let payer = t.user(op, 10 * AMOUNT).await;
    let payee = t.user(op, 0).await;
    let id = TransferId::new_v7();
    let writers = [t.ledger.clone(), t.reopen().await];
    let tasks: Vec<_> = (0..64_usize)
        .map(|i| {
            let ledger = writers[i % 2].clone();
            tokio::spawn(async move {
                ledger
                    .transfer(single_with_id(id, payer, payee, AMOUNT))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Outcome::Created => created += 1,
            Outcome::AlreadyExisted => {}
        }
    }
    assert_eq!(created, 1, "exactly one request creates the transfer");
    assert_eq!(t.available(payee).await, AMOUNT);
    assert_eq!(t.available(payer).await, 9 * AMOUNT);
});
