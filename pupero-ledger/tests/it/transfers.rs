//! Transfers, idempotency, two-phase holds, linked chains, expiry and history.

use pupero_core::ledger::{
    HistoryQuery, LedgerStore, NewTransfer, Outcome, PendingStatus, TransferCode, TransferError,
    TransferKind, TransferOp,
};
use pupero_core::{Piconero, TransferId};

use crate::support::{ledger_test, pending, single, single_with_id};

const XMR: u64 = 1_000_000_000_000;

fn refused(result: Result<Outcome, pupero_ledger::Error>) -> TransferError {
    match result {
        Err(pupero_ledger::Error::Refused(pupero_core::Error::Transfer(e))) => e,
        other => panic!("expected a refused transfer, got {other:?}"),
    }
}

ledger_test!(moves_money_and_keeps_balances, |t| {
    let op = t.operator().await;
    let alice = t.user(op, 10 * XMR).await;
    let bob = t.user(op, 0).await;
    t.ledger
        .transfer(single(alice, bob, 3 * XMR))
        .await
        .unwrap();
    assert_eq!(t.available(alice).await, 7 * XMR);
    assert_eq!(t.available(bob).await, 3 * XMR);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(refuses_overdraft_without_partial_write, |t| {
    let op = t.operator().await;
    let alice = t.user(op, XMR).await;
    let bob = t.user(op, 0).await;
    let error = refused(t.ledger.transfer(single(alice, bob, XMR + 1)).await);
    assert_eq!(error, TransferError::ExceedsCredits);
    assert_eq!(t.available(alice).await, XMR);
    assert_eq!(t.available(bob).await, 0);
    let history = t
        .ledger
        .account_history(bob, HistoryQuery::default())
        .await
        .unwrap();
    assert!(
        history.transfers.is_empty(),
        "a refused transfer leaves no row"
    );
});

ledger_test!(retry_is_idempotent_and_reuse_is_a_conflict, |t| {
    let op = t.operator().await;
    let alice = t.user(op, 10 * XMR).await;
    let bob = t.user(op, 0).await;
    let id = TransferId::new_v7();
    assert_eq!(
        t.ledger
            .transfer(single_with_id(id, alice, bob, XMR))
            .await
            .unwrap(),
        Outcome::Created
    );
    for _ in 0..3 {
        assert_eq!(
            t.ledger
                .transfer(single_with_id(id, alice, bob, XMR))
                .await
                .unwrap(),
            Outcome::AlreadyExisted
        );
    }
    assert_eq!(
        t.available(alice).await,
        9 * XMR,
        "a retry never moves money twice"
    );
    let error = refused(
        t.ledger
            .transfer(single_with_id(id, alice, bob, 2 * XMR))
            .await,
    );
    assert_eq!(error, TransferError::ExistsWithDifferentFields);
    assert!(
        t.ledger
            .transfer(single_with_id(id, alice, bob, 2 * XMR))
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(t.available(bob).await, XMR);
});

ledger_test!(retry_after_funds_are_gone_still_succeeds, |t| {
    let op = t.operator().await;
    let alice = t.user(op, XMR).await;
    let bob = t.user(op, 0).await;
    let id = TransferId::new_v7();
    t.ledger
        .transfer(single_with_id(id, alice, bob, XMR))
        .await
        .unwrap();
    // The first attempt succeeded but its answer was lost; the retry must not fail for lack of
    // funds the first attempt spent.
    assert_eq!(
        t.ledger
            .transfer(single_with_id(id, alice, bob, XMR))
            .await
            .unwrap(),
        Outcome::AlreadyExisted
    );
});

ledger_test!(pending_post_partial_and_void, |t| {
    let op = t.operator().await;
    let seller = t.user(op, 10 * XMR).await;
    let buyer = t.user(op, 0).await;

    let hold = TransferId::new_v7();
    t.ledger
        .transfer(pending(hold, seller, buyer, 4 * XMR, 3600))
        .await
        .unwrap();
    assert_eq!(
        t.available(seller).await,
        6 * XMR,
        "held money is not spendable"
    );
    assert_eq!(
        t.available(buyer).await,
        0,
        "incoming pending money is not spendable"
    );

    let post = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Post {
            pending_id: hold,
            amount: Some(Piconero::new(3 * XMR)),
        },
        TransferCode::TradeRelease,
    );
    t.ledger.transfer(post).await.unwrap();
    assert_eq!(
        t.available(seller).await,
        7 * XMR,
        "the unposted rest returns"
    );
    assert_eq!(t.available(buyer).await, 3 * XMR);
    let again = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Void { pending_id: hold },
        TransferCode::TradeRefund,
    );
    assert_eq!(
        refused(t.ledger.transfer(again).await),
        TransferError::PendingTransferAlreadyPosted
    );

    let hold2 = TransferId::new_v7();
    t.ledger
        .transfer(pending(hold2, seller, buyer, 7 * XMR, 0))
        .await
        .unwrap();
    assert_eq!(
        refused(t.ledger.transfer(single(seller, buyer, 1)).await),
        TransferError::ExceedsCredits
    );
    let void = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Void { pending_id: hold2 },
        TransferCode::TradeRefund,
    );
    t.ledger.transfer(void).await.unwrap();
    assert_eq!(t.available(seller).await, 7 * XMR);
    let seller_account = t.ledger.account(seller).await.unwrap().unwrap();
    assert_eq!(seller_account.balances().debits_pending, Piconero::ZERO);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(linked_chain_is_all_or_nothing, |t| {
    let op = t.operator().await;
    let seller = t.user(op, 10 * XMR).await;
    let buyer = t.user(op, 0).await;
    let fees = t.user(op, 0).await;
    let escrow = pending(TransferId::new_v7(), seller, buyer, 9 * XMR, 0);
    let fee = pending(TransferId::new_v7(), seller, fees, 2 * XMR, 0);
    let error = t
        .ledger
        .transfer_linked(vec![escrow, fee])
        .await
        .unwrap_err();
    assert!(error.is_insufficient_funds(), "{error:?}");
    assert_eq!(
        t.available(seller).await,
        10 * XMR,
        "the first transfer of the chain was rolled back"
    );
    let found = t
        .ledger
        .lookup_transfers(&[escrow.id, fee.id])
        .await
        .unwrap();
    assert!(found.is_empty());

    let fee = pending(TransferId::new_v7(), seller, fees, XMR, 0);
    t.ledger.transfer_linked(vec![escrow, fee]).await.unwrap();
    assert_eq!(t.available(seller).await, 0);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(batch_results_are_per_transfer, |t| {
    let op = t.operator().await;
    let alice = t.user(op, 2 * XMR).await;
    let bob = t.user(op, 0).await;
    let batch = [
        single(alice, bob, XMR),
        single(alice, bob, 5 * XMR),
        single(alice, bob, XMR),
        single(alice, bob, 1),
    ];
    let results = t.ledger.create_transfers(&batch).await.unwrap();
    assert_eq!(
        results,
        vec![
            Ok(Outcome::Created),
            Err(TransferError::ExceedsCredits),
            Ok(Outcome::Created),
            Err(TransferError::ExceedsCredits)
        ]
    );
    assert_eq!(t.available(bob).await, 2 * XMR);
});

ledger_test!(pending_expires_on_the_injected_clock, |t| {
    let op = t.operator().await;
    let seller = t.user(op, 5 * XMR).await;
    let buyer = t.user(op, 0).await;
    let hold = TransferId::new_v7();
    t.ledger
        .transfer(pending(hold, seller, buyer, 5 * XMR, 60))
        .await
        .unwrap();
    assert_eq!(t.ledger.expire_pending().await.unwrap(), 0, "not yet");
    t.clock.advance_secs(59);
    assert_eq!(t.ledger.expire_pending().await.unwrap(), 0, "not yet");
    t.clock.advance_secs(1);
    let post = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Post {
            pending_id: hold,
            amount: None,
        },
        TransferCode::TradeRelease,
    );
    assert_eq!(
        refused(t.ledger.transfer(post).await),
        TransferError::PendingTransferExpired
    );
    assert_eq!(t.ledger.expire_pending().await.unwrap(), 1);
    assert_eq!(
        t.ledger.expire_pending().await.unwrap(),
        0,
        "expiring is done once"
    );
    assert_eq!(t.available(seller).await, 5 * XMR);
    let history = t
        .ledger
        .account_history(seller, HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(
        history.transfers[0].kind,
        TransferKind::Expiry,
        "the expiry is recorded in history"
    );
    assert_eq!(history.transfers[0].pending_id, Some(hold));
    let _ = PendingStatus::Expired;
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(history_pages_newest_first, |t| {
    let op = t.operator().await;
    let alice = t.user(op, 100 * XMR).await;
    let bob = t.user(op, XMR).await;
    let mut ids = Vec::new();
    for i in 1..=24_u64 {
        // Alternate directions so alice's history has both debits and credits.
        let transfer = if i % 2 == 0 {
            single(alice, bob, i)
        } else {
            single(bob, alice, 1)
        };
        t.ledger.transfer(transfer).await.unwrap();
        ids.push(transfer.id);
    }
    let mut seen = Vec::new();
    let mut query = HistoryQuery::first(5);
    loop {
        let page = t.ledger.account_history(alice, query).await.unwrap();
        assert!(page.transfers.len() <= 5);
        seen.extend(page.transfers.iter().map(|tr| tr.id));
        match page.next {
            Some(cursor) => query = HistoryQuery::after(cursor, 5),
            None => break,
        }
    }
    // Newest first, then the funding transfer last.
    assert_eq!(seen.len(), ids.len() + 1);
    let newest_first: Vec<TransferId> = ids.iter().rev().copied().collect();
    assert_eq!(&seen[..ids.len()], &newest_first[..]);
});

ledger_test!(state_survives_reopen, |t| {
    let op = t.operator().await;
    let alice = t.user(op, 3 * XMR).await;
    let bob = t.user(op, 0).await;
    let id = TransferId::new_v7();
    t.ledger
        .transfer(single_with_id(id, alice, bob, XMR))
        .await
        .unwrap();
    let second = t.reopen().await;
    assert_eq!(
        second
            .transfer(single_with_id(id, alice, bob, XMR))
            .await
            .unwrap(),
        Outcome::AlreadyExisted
    );
    let account = second.account(alice).await.unwrap().unwrap();
    assert_eq!(account.available(), Some(Piconero::new(2 * XMR)));
});

ledger_test!(storage_rejects_tampering, |t| {
    // The schema itself refuses what the rules refuse, in case anything bypasses them.
    let op = t.operator().await;
    let alice = t.user(op, XMR).await;
    let pool = sqlx::AnyPool::connect(&t.url).await.unwrap();
    let overdraw =
        sqlx::query("UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = ?")
            .bind(alice.to_string())
            .execute(&pool)
            .await;
    assert!(
        overdraw.is_err(),
        "CHECK constraint must refuse a negative user balance"
    );
    let rewrite = sqlx::query("UPDATE ledger_transfers SET amount = amount + 1")
        .execute(&pool)
        .await;
    assert!(rewrite.is_err(), "transfers are immutable");
    let delete = sqlx::query("DELETE FROM ledger_transfers")
        .execute(&pool)
        .await;
    assert!(delete.is_err(), "transfers are immutable");
    assert_eq!(t.available(alice).await, XMR);
});
