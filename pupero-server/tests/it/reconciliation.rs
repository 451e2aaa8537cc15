//! Reconciliation: against a private regtest network, the wallet's coins equal users' balances
//! to the piconero after deposits, and a faucet credit without coins shows as a deficit.

use pupero_core::{Piconero, Role, SignedPiconero};
use pupero_ledger::testing::Backend;
use pupero_market::sweeps::SweepSkip;
use pupero_wallet::WalletRpc;
use pupero_wallet::testing::Regtest;

use crate::support::{TestApp, app_test};
use crate::sweeps::{app_on, credit, mine_until_spendable, network_fees, send_many, xmr};

async fn admin_of(app: &TestApp, name: &str) -> pupero_sdk::Client {
    app.user_with_role(name, Role::Admin).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_reconcile_exactly_and_a_credit_without_coins_is_a_deficit() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let platform = net.wallet(&format!("platform{n}")).await;
        let Some(app) = app_on(backend, &platform, 2).await else {
            continue;
        };
        let sender = net.wallet(&format!("sender{n}")).await;
        net.fund(&sender).await;
        let admin = admin_of(&app, &format!("root{n}")).await;
        let (alice, _) = app.user(&format!("alice{n}")).await;
        let (bob, _) = app.user(&format!("bob{n}")).await;
        let alices = alice.deposit_address().await.unwrap().address;
        let bobs = bob.deposit_address().await.unwrap().address;

        // Nothing yet: nothing owed, nothing held.
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok);
        assert_eq!(r.difference, SignedPiconero::ZERO);
        assert_eq!(
            r.user_accounts, 3,
            "every user has an account from registration"
        );
        assert_eq!(r.user_liabilities, Piconero::ZERO);

        // Deposits credited: the wallet holds exactly what users own.
        send_many(
            &net,
            &sender,
            &[(&alices, xmr("1.5")), (&bobs, xmr("0.000000000123"))],
        )
        .await;
        mine_until_spendable(&net, &platform).await;
        credit(&app, 2).await;
        let owed = xmr("1.500000000123");
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok, "{r:?}");
        assert_eq!(r.user_liabilities, owed);
        assert_eq!(r.wallet_total, owed);
        assert_eq!(r.wallet_unlocked, owed);
        assert_eq!(r.hot_wallet, SignedPiconero::positive(owed));
        assert_eq!(r.difference, SignedPiconero::ZERO);
        assert_eq!(
            (r.deposits_uncredited, r.deposits_uncredited_count),
            (Piconero::ZERO, 0)
        );
        assert_eq!(r.withdrawals_in_flight, 0);

        // A deposit waiting in the pool: the wallet's total counts it already (the wallet
        // RPC's balance includes incoming transfers in the pool), so it is owed as
        // uncredited too. Still exact, not a surplus.
        send_many(&net, &sender, &[(&alices, xmr("0.25"))]).await;
        let mut in_pool = false;
        for _ in 0..60 {
            app.state.market.scan_deposits().await.expect("scan");
            let page = alice.deposits(None, None).await.expect("deposits");
            if page
                .items
                .iter()
                .any(|d| d.state == pupero_sdk::DepositState::Pending && d.height.is_none())
            {
                in_pool = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        assert!(in_pool, "the wallet never saw the deposit in the pool");
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(
            (r.deposits_uncredited, r.deposits_uncredited_count),
            (xmr("0.25"), 1),
            "{r:?}"
        );
        assert_eq!(
            r.wallet_total,
            owed.checked_add(xmr("0.25")).unwrap(),
            "{r:?}"
        );
        assert_eq!(r.difference, SignedPiconero::ZERO, "{r:?}");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok);

        // Mined but short of its confirmations: in the wallet, owed, not yet in a balance.
        // Still exact.
        let height = net.mine(1).await;
        platform.sync_to(height).await;
        app.state.market.scan_deposits().await.expect("scan");
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(
            (r.deposits_uncredited, r.deposits_uncredited_count),
            (xmr("0.25"), 1),
            "{r:?}"
        );
        assert_eq!(r.user_liabilities, owed);
        assert_eq!(r.difference, SignedPiconero::ZERO);
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok);
        mine_until_spendable(&net, &platform).await;
        credit(&app, 1).await;
        let owed = owed.checked_add(xmr("0.25")).unwrap();

        // Two small outputs, but the platform owns nothing in its wallet: the sweep's fee
        // would be users' money, so nothing is swept or booked.
        let outputs = platform.rpc().unspent_outputs(0).await.unwrap().len();
        let report = app.state.market.sweep().await.expect("sweep");
        assert_eq!(report.small_outputs, 2, "{report:?}");
        assert_eq!(report.skipped, Some(SweepSkip::FeeNotCovered));
        assert_eq!((report.signed, report.broadcast), (0, 0));
        assert_eq!(network_fees(&app).await, Piconero::ZERO);
        assert_eq!(
            platform.rpc().unspent_outputs(0).await.unwrap().len(),
            outputs
        );

        // A faucet credit brings no coins: the ledger owes more than the wallet holds.
        pupero_market::operator::credit_dev(&app.state.market, &format!("alice{n}"), "5")
            .await
            .expect("credit");
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Deficit, "{r:?}");
        assert!(r.is_deficit());
        assert_eq!(r.difference, SignedPiconero::negative(xmr("5")));
        assert_eq!(r.user_liabilities, owed.checked_add(xmr("5")).unwrap());
        assert_eq!(r.wallet_total, owed);
        // The worker's own check sees it too (and logs a warning).
        let checked = app
            .state
            .market
            .check_reconciliation()
            .await
            .expect("checked");
        assert_eq!(checked.surplus, SignedPiconero::negative(xmr("5")));

        // Held money is still owed: a withdrawal request moves nothing out of the total.
        let w = alice
            .request_withdrawal(
                &pupero_sdk::WithdrawalRequest {
                    address: pupero_sdk::Text::from(sender.address().to_string()),
                    amount: pupero_sdk::Text::from("1".to_owned()),
                    password: Some(pupero_sdk::Text::from(crate::support::PASSWORD.to_owned())),
                    totp_code: None,
                    recovery_code: None,
                },
                "w1",
            )
            .await
            .expect("withdrawal");
        assert_eq!(w.state, pupero_sdk::WithdrawalState::Requested);
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.user_liabilities, owed.checked_add(xmr("5")).unwrap());
        assert_eq!(r.withdrawals_in_flight, 1);
        assert_eq!(r.withdrawals_in_flight_amount, xmr("1"));
        assert!(r.user_held > xmr("1"), "the amount and its fee reserve");
        assert_eq!(r.difference, SignedPiconero::negative(xmr("5")));
        app.stop().await;
    }
}

app_test!(reconciliation_needs_a_wallet, |app| {
    let admin = admin_of(app, "root").await;
    let e = admin.admin_reconciliation().await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(503), Some("WALLET_UNAVAILABLE"))
    );
    let (user, _) = app.user("mallory").await;
    let e = user.admin_reconciliation().await.unwrap_err();
    assert_eq!(e.status(), Some(403));
});
