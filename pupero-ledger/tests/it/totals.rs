//! Totals per account code, as reconciliation reads them.

use pupero_core::ledger::{AccountCode, TransferOp};
use pupero_core::{Piconero, SignedPiconero, TransferId};

use crate::support::{ledger_test, pending, single};

const XMR: u64 = 1_000_000_000_000;

ledger_test!(totals_sum_balances_per_code_held_money_included, |t| {
    let empty = t.ledger.totals(AccountCode::UserXmr).await.unwrap();
    assert_eq!(empty.accounts, 0);
    assert_eq!(empty.net_credits, SignedPiconero::ZERO);
    assert_eq!(empty.debits_pending, Piconero::ZERO);

    let op = t.operator().await;
    let alice = t.user(op, 10 * XMR).await;
    let bob = t.user(op, 2 * XMR + 1).await;
    let carol = t.user(op, 0).await;
    t.ledger.transfer(single(alice, carol, XMR)).await.unwrap();
    // A hold between users: still the sender's until posted, counted once.
    let hold = TransferId::new_v7();
    t.ledger
        .transfer(pending(hold, alice, bob, 3 * XMR, 0))
        .await
        .unwrap();

    let users = t.ledger.totals(AccountCode::UserXmr).await.unwrap();
    assert_eq!(users.accounts, 3);
    assert_eq!(
        users.net_credits,
        SignedPiconero::positive(Piconero::new(12 * XMR + 1))
    );
    assert_eq!(users.debits_pending, Piconero::new(3 * XMR));
    assert_eq!(users.credits_pending, Piconero::new(3 * XMR));

    // Posting moves it between users: the sum stays.
    t.ledger
        .transfer(pupero_core::ledger::NewTransfer::xmr(
            TransferId::new_v7(),
            TransferOp::Post {
                pending_id: hold,
                amount: None,
            },
            pupero_core::ledger::TransferCode::TradeRelease,
        ))
        .await
        .unwrap();
    let users = t.ledger.totals(AccountCode::UserXmr).await.unwrap();
    assert_eq!(
        users.net_credits,
        SignedPiconero::positive(Piconero::new(12 * XMR + 1))
    );
    assert_eq!(users.debits_pending, Piconero::ZERO);

    // The operator's equity paid it all: a debit balance, below zero as a credit sum.
    let equity = t.ledger.totals(AccountCode::Equity).await.unwrap();
    assert_eq!(equity.accounts, 1);
    assert_eq!(
        equity.net_credits,
        SignedPiconero::negative(Piconero::new(12 * XMR + 1))
    );
});
