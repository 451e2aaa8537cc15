//! Self-service account management and public profiles.

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::{AccountId, Piconero, TransferId, UserId};

use crate::support::{PASSWORD, app_test};

const NEW_PASSWORD: &str = "an even longer new passphrase";

app_test!(public_profiles_are_public, |app| {
    app.user("Erin").await;
    let anonymous = app.new_client();
    assert_eq!(
        anonymous.public_profile("erin").await.unwrap().username,
        "Erin"
    );
    assert!(
        anonymous
            .public_profile("nobody")
            .await
            .unwrap_err()
            .is_not_found()
    );
});

app_test!(password_change_ends_other_sessions, |app| {
    let (frank, _) = app.user("frank").await;
    let other = app.new_client();
    other.login("frank", PASSWORD).await.unwrap();
    assert_eq!(
        frank
            .change_password("wrong password!", NEW_PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Some("INVALID_CREDENTIALS")
    );
    assert!(
        frank
            .change_password(PASSWORD, "short")
            .await
            .unwrap_err()
            .is_validation()
    );
    frank.change_password(PASSWORD, NEW_PASSWORD).await.unwrap();
    frank
        .me()
        .await
        .expect("the session that changed it goes on");
    assert_eq!(
        other.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
    assert!(app.new_client().login("frank", PASSWORD).await.is_err());
    app.new_client().login("frank", NEW_PASSWORD).await.unwrap();
});

app_test!(email_changes_respect_uniqueness, |app| {
    let (gina, _) = app.user("gina").await;
    let (hank, _) = app.user("hank").await;
    gina.set_email(Some("gina@example.org"), crate::support::PASSWORD, None)
        .await
        .unwrap();
    assert_eq!(
        hank.set_email(Some("GINA@example.org"), crate::support::PASSWORD, None)
            .await
            .unwrap_err()
            .code(),
        Some("EMAIL_TAKEN")
    );
    assert!(
        hank.set_email(Some("nope"), crate::support::PASSWORD, None)
            .await
            .unwrap_err()
            .is_validation()
    );
    gina.set_email(None, crate::support::PASSWORD, None)
        .await
        .unwrap();
    hank.set_email(Some("gina@example.org"), crate::support::PASSWORD, None)
        .await
        .unwrap();
});

app_test!(
    deleting_an_account_needs_the_password_and_an_empty_balance,
    |app| {
        let (ivan, ivan_id) = app.user("ivan").await;
        // Give ivan money.
        let wallet = AccountId::from_u128(9);
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
        let user_account = AccountId::user_xmr(UserId::from_uuid(ivan_id));
        let deposit = NewTransfer::xmr(
            TransferId::new_v7(),
            TransferOp::Single {
                debit: wallet,
                credit: user_account,
                amount: Piconero::new(5),
            },
            TransferCode::Deposit,
        );
        app.state.market.ledger.transfer(deposit).await.unwrap();

        assert_eq!(
            ivan.delete_account("wrong password!", None)
                .await
                .unwrap_err()
                .code(),
            Some("INVALID_CREDENTIALS")
        );
        assert_eq!(
            ivan.delete_account(PASSWORD, None)
                .await
                .unwrap_err()
                .code(),
            Some("ACCOUNT_HAS_FUNDS")
        );
        // Send it back, then delete.
        let back = NewTransfer::xmr(
            TransferId::new_v7(),
            TransferOp::Single {
                debit: user_account,
                credit: wallet,
                amount: Piconero::new(5),
            },
            TransferCode::Adjustment,
        );
        app.state.market.ledger.transfer(back).await.unwrap();
        ivan.delete_account(PASSWORD, None).await.unwrap();
        assert!(app.new_client().login("ivan", PASSWORD).await.is_err());
        assert_eq!(
            app.new_client()
                .register("IVAN", None, PASSWORD)
                .await
                .unwrap_err()
                .code(),
            Some("USERNAME_TAKEN"),
            "the name stays reserved"
        );
        assert!(
            app.new_client()
                .public_profile("ivan")
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
);

// A remainder too small to withdraw need not keep an account open: its owner may give it up,
// once, to the platform's fee account; more than that must be withdrawn.
app_test!(a_remainder_too_small_to_withdraw_can_be_given_up, |app| {
    let (dust, dust_id) = app.user("dusty").await;
    app.fund(dust_id, "0.0073948").await;
    let e = dust.delete_account(PASSWORD, None).await.unwrap_err();
    assert_eq!(e.code(), Some("ACCOUNT_HAS_FUNDS"));
    let fees_before = app
        .state
        .market
        .ledger
        .account(AccountId::platform_fees())
        .await
        .unwrap()
        .unwrap()
        .posted()
        .unwrap();
    dust.close_account(PASSWORD, None, true).await.unwrap();
    let fees_after = app
        .state
        .market
        .ledger
        .account(AccountId::platform_fees())
        .await
        .unwrap()
        .unwrap()
        .posted()
        .unwrap();
    assert_eq!(
        fees_after.checked_sub(fees_before).unwrap(),
        Piconero::from_xmr_str("0.0073948").unwrap()
    );
    assert!(app.new_client().login("dusty", PASSWORD).await.is_err());

    let (rich, rich_id) = app.user("rich").await;
    app.fund(rich_id, "0.0102").await;
    let e = rich.close_account(PASSWORD, None, true).await.unwrap_err();
    assert_eq!(e.code(), Some("ACCOUNT_HAS_FUNDS"), "enough to withdraw");
    app.state.market.ledger.check_invariants().await.unwrap();
});
