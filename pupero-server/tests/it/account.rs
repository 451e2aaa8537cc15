//! Balance and ledger history of the caller.

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::{AccountId, Piconero, TransferId, UserId};

use crate::support::{TestApp, app_test};

async fn deposit(app: &TestApp, user: uuid::Uuid, xmr: &str) {
    let wallet = AccountId::from_u128(1);
    let account = NewAccount {
        id: wallet,
        ledger: LedgerId::XMR,
        code: AccountCode::HotWallet,
        flags: AccountFlags::NONE,
    };
    app.state
        .market
        .ledger
        .create_account(account)
        .await
        .unwrap();
    let transfer = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Single {
            debit: wallet,
            credit: AccountId::user_xmr(UserId::from_uuid(user)),
            amount: Piconero::from_xmr_str(xmr).unwrap(),
        },
        TransferCode::Deposit,
    );
    app.state.market.ledger.transfer(transfer).await.unwrap();
}

app_test!(new_user_has_an_empty_balance, |app| {
    let (client, _) = app.user("frank").await;
    let balance = client.balance().await.unwrap();
    assert_eq!(balance.available, Piconero::ZERO);
    assert_eq!(balance.held, Piconero::ZERO);
    assert!(
        client
            .ledger_history(None, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
});

app_test!(balance_and_history_follow_the_ledger, |app| {
    let (client, user) = app.user("grace").await;
    for _ in 0..7 {
        deposit(app, user, "0.25").await;
    }
    let balance = client.balance().await.unwrap();
    assert_eq!(balance.available, Piconero::from_xmr_str("1.75").unwrap());
    let page = client.ledger_history(Some(3), None).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.next_cursor.is_some());
    let all = client.ledger_history_all().await.unwrap();
    assert_eq!(all.len(), 7);
    assert!(
        all.iter()
            .all(|e| e.direction == pupero_sdk::Direction::Credit
                && e.code == pupero_sdk::TransferCode::Deposit)
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].timestamp_ms >= w[1].timestamp_ms),
        "newest first"
    );

    // Another user sees none of it.
    let (other, _) = app.user("heidi").await;
    assert!(other.ledger_history_all().await.unwrap().is_empty());
    assert_eq!(other.balance().await.unwrap().available, Piconero::ZERO);
});

app_test!(history_validates_its_parameters, |app| {
    let (client, _) = app.user("ivan").await;
    for (limit, cursor) in [(Some(0), None), (Some(201), None), (None, Some("nope"))] {
        let error = client.ledger_history(limit, cursor).await.unwrap_err();
        assert_eq!(error.code(), Some("VALIDATION"), "{limit:?} {cursor:?}");
    }
});
