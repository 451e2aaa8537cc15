//! The sweeper against a private regtest network: small deposits on users' subaddresses are
//! consolidated into one output of the platform's primary address, the fee is booked once to
//! the platform's network fees, and users' balances do not move.

use pupero_core::sweep::{SweepPolicy, SweepState};
use pupero_core::{AccountId, MoneroAddress, Piconero, Role, SignedPiconero};
use pupero_ledger::testing::Backend;
use pupero_market::store::SweepRow;
use pupero_market::sweeps::SweepSkip;
use pupero_server::config::SweepSettings;
use pupero_wallet::testing::{REGTEST_NETWORK, Regtest, TRANSFER_UNLOCK_BLOCKS, TestWallet};
use pupero_wallet::{Priority, WalletRpc};

pub(crate) use crate::regtest::xmr;
use crate::regtest::{sum, use_platform};
use crate::support::{TestApp, manual_clock, spawn_app_with};

/// Outputs below this are swept.
const BELOW: &str = "1";

/// A server on `platform`'s wallet that sweeps outputs below 1 XMR once there are
/// `min_outputs` of them (only when a test asks it to).
pub(crate) async fn app_on(
    backend: Backend,
    platform: &TestWallet,
    min_outputs: u32,
) -> Option<TestApp> {
    let url = platform.url().to_owned();
    spawn_app_with(
        backend,
        move |settings| {
            use_platform(settings, &url);
            // The tests run every pass themselves: a background withdrawal pass (which checks
            // and books sweeps too) would move a sweep between a test's step and its check.
            settings.market.wallet_worker = false;
            settings.market.sweep = SweepSettings {
                interval_secs: 0,
                policy: SweepPolicy::new(xmr(BELOW), min_outputs).expect("valid"),
            };
        },
        manual_clock(),
    )
    .await
}

/// Pays every `(address, amount)` in one transaction from `sender`.
pub(crate) async fn send_many(net: &Regtest, sender: &TestWallet, payments: &[(&str, Piconero)]) {
    sender.sync_to(net.height().await).await;
    let destinations: Vec<(MoneroAddress, Piconero)> = payments
        .iter()
        .map(|(address, amount)| {
            (
                MoneroAddress::parse(address, REGTEST_NETWORK).expect("regtest address"),
                *amount,
            )
        })
        .collect();
    let built = sender
        .rpc()
        .build_transfer(0, &destinations, Priority::Default)
        .await
        .expect("build");
    sender.rpc().relay(&built.tx_metadata).await.expect("relay");
}

/// Mines until the deposits are spendable by the platform (and deep enough to credit), and
/// lets the platform's wallet see it.
pub(crate) async fn mine_until_spendable(net: &Regtest, platform: &TestWallet) {
    // The daemon serves an output as a ring member a block after the wallet may spend it.
    let height = net.mine(TRANSFER_UNLOCK_BLOCKS + 2).await;
    platform.sync_to(height).await;
}

/// Scans until `expected` more deposits are credited.
pub(crate) async fn credit(app: &TestApp, expected: usize) {
    let mut credited = 0;
    for _ in 0..60 {
        credited += app
            .state
            .market
            .scan_deposits()
            .await
            .expect("scan")
            .credited;
        if credited >= expected {
            assert_eq!(credited, expected);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("credited {credited} deposits, expected {expected}");
}

/// The network fees the platform paid, per the ledger.
pub(crate) async fn network_fees(app: &TestApp) -> Piconero {
    let account = app
        .state
        .market
        .ledger
        .account(AccountId::network_fees())
        .await
        .expect("ledger")
        .expect("the network fee account exists");
    let b = account.balances();
    assert_eq!(b.credits_posted, Piconero::ZERO);
    b.debits_posted
}

async fn available(client: &pupero_sdk::Client) -> Piconero {
    client.balance().await.expect("balance").available
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_deposits_are_swept_and_the_fee_is_booked_once() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        // An empty platform wallet: it holds only what the test sends it.
        let platform = net.wallet(&format!("platform{n}")).await;
        let Some(app) = app_on(backend, &platform, 3).await else {
            continue;
        };
        let sender = net.wallet(&format!("sender{n}")).await;
        net.fund(&sender).await;
        let (admin, _) = app.user_with_role(&format!("root{n}"), Role::Admin).await;
        let mut users = Vec::new();
        for name in ["alice", "bob", "carol", "dave"] {
            let (client, _) = app.user(&format!("{name}{n}")).await;
            let address = client.deposit_address().await.expect("address").address;
            users.push((client, address));
        }

        // Four small deposits, and the operator's own float that pays the platform's fees,
        // in one transaction: five outputs in the platform's wallet.
        let amounts = [xmr("0.1"), xmr("0.2"), xmr("0.3"), xmr("0.4")];
        let float = xmr("0.05");
        let deposits = sum(&amounts);
        let own = platform.address().to_string();
        let mut payments: Vec<(&str, Piconero)> = users
            .iter()
            .map(|(_, address)| address.as_str())
            .zip(amounts)
            .collect();
        payments.push((own.as_str(), float));
        send_many(&net, &sender, &payments).await;
        mine_until_spendable(&net, &platform).await;
        credit(&app, 4).await;
        for ((client, _), amount) in users.iter().zip(amounts) {
            assert_eq!(available(client).await, amount);
        }
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok);
        assert_eq!(r.user_liabilities, deposits);
        assert_eq!(r.wallet_total, deposits.checked_add(float).unwrap());
        assert_eq!(r.difference, SignedPiconero::positive(float));
        assert_eq!(r.hot_wallet, SignedPiconero::positive(deposits));
        assert_eq!(r.network_fees, SignedPiconero::ZERO);
        let outputs_before = platform.rpc().unspent_outputs(0).await.unwrap();
        assert_eq!(outputs_before.len(), 5, "{outputs_before:?}");

        // One pass: built, recorded, relayed, booked.
        let report = app.state.market.sweep().await.expect("sweep");
        assert!(report.leader);
        assert_eq!(report.small_outputs, 5);
        assert!(report.signed >= 1, "{report:?}");
        assert_eq!(report.broadcast, report.signed);
        assert_eq!(report.skipped, None);
        let fee = report.fees_booked;
        assert!(!fee.is_zero() && fee < float, "{report:?}");
        assert_eq!(network_fees(&app).await, fee);
        // In the pool already, the wallet counts what it sweeps to itself: only the fee left.
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok, "{r:?}");
        assert_eq!(
            r.wallet_total,
            deposits
                .checked_add(float)
                .unwrap()
                .checked_sub(fee)
                .unwrap()
        );
        assert_eq!(
            r.difference,
            SignedPiconero::positive(float.checked_sub(fee).unwrap())
        );
        assert_eq!(r.network_fees, SignedPiconero::positive(fee));
        assert_eq!(
            r.hot_wallet,
            SignedPiconero::positive(deposits.checked_sub(fee).unwrap())
        );

        // Nothing left to sweep: another pass builds and books nothing.
        let again = app.state.market.sweep().await.expect("sweep");
        assert_eq!((again.signed, again.broadcast), (0, 0), "{again:?}");
        assert_eq!(again.skipped, Some(SweepSkip::FewOutputs));
        assert_eq!(network_fees(&app).await, fee);

        // Mined: fewer outputs, all at the primary address; the wallet lost exactly the fee.
        let height = net.mine(1).await;
        platform.sync_to(height).await;
        let outputs_after = platform.rpc().unspent_outputs(0).await.unwrap();
        assert_eq!(outputs_after.len(), report.signed, "{outputs_after:?}");
        assert!(outputs_after.len() < outputs_before.len());
        assert!(outputs_after.iter().all(|o| o.subaddress.index == 0));
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(
            r.wallet_total,
            deposits
                .checked_add(float)
                .unwrap()
                .checked_sub(fee)
                .unwrap()
        );
        assert_eq!(
            r.difference,
            SignedPiconero::positive(float.checked_sub(fee).unwrap())
        );
        let third = app.state.market.sweep().await.expect("sweep");
        assert_eq!(third.confirmed, report.signed, "{third:?}");
        assert_eq!((third.signed, third.broadcast), (0, 0));
        assert_eq!(network_fees(&app).await, fee);
        for ((client, _), amount) in users.iter().zip(amounts) {
            assert_eq!(available(client).await, amount, "users never pay a sweep");
        }

        // A crash right after the relay: the sweep is recorded and on the network, its fee not
        // booked. The next pass of the wallet worker (a withdrawal pass resumes sweeps too)
        // finds it in the wallet and books it, once.
        let second = [xmr("0.15"), xmr("0.25"), xmr("0.35")];
        let payments: Vec<(&str, Piconero)> = users
            .iter()
            .map(|(_, address)| address.as_str())
            .zip(second)
            .collect();
        send_many(&net, &sender, &payments).await;
        mine_until_spendable(&net, &platform).await;
        credit(&app, 3).await;
        let built = platform
            .rpc()
            .sweep_below(
                0,
                xmr(BELOW),
                platform.address(),
                Priority::Unimportant,
                true,
            )
            .await
            .expect("build a sweep");
        assert!(!built.is_empty());
        let rows: Vec<SweepRow> = built
            .iter()
            .map(|tx| SweepRow {
                txid: tx.txid.to_string(),
                account: 0,
                tx_key: tx.tx_key.clone(),
                tx_metadata: tx.tx_metadata.as_str().to_owned(),
                amount: tx.total().unwrap(),
                fee: tx.fee,
                state: SweepState::Signed,
                relay_attempts: 0,
                height: None,
                failure: None,
                created_at: app.state.now(),
            })
            .collect();
        app.state
            .market
            .store
            .record_signed_sweeps(&rows, app.state.now())
            .await
            .expect("record");
        for tx in &built {
            platform.rpc().relay(&tx.tx_metadata).await.expect("relay");
        }
        let crashed_fee = sum(&built.iter().map(|tx| tx.fee).collect::<Vec<_>>());
        assert_eq!(network_fees(&app).await, fee, "not booked yet");
        app.state
            .market
            .drive_withdrawals()
            .await
            .expect("worker pass");
        assert_eq!(
            network_fees(&app).await,
            fee.checked_add(crashed_fee).unwrap()
        );
        for row in &rows {
            let stored = app
                .state
                .market
                .store
                .sweep(&row.txid)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.state, SweepState::Broadcast);
            assert_eq!(stored.relay_attempts, 0, "found, never relayed again");
        }
        let after = app.state.market.sweep().await.expect("sweep");
        assert_eq!(
            (after.signed, after.broadcast, after.fees_booked),
            (0, 0, Piconero::ZERO),
            "{after:?}"
        );
        assert_eq!(
            network_fees(&app).await,
            fee.checked_add(crashed_fee).unwrap()
        );
        let r = admin.admin_reconciliation().await.expect("reconciliation");
        assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok, "{r:?}");
        assert_eq!(
            r.difference,
            SignedPiconero::positive(
                float
                    .checked_sub(fee)
                    .unwrap()
                    .checked_sub(crashed_fee)
                    .unwrap()
            )
        );
        for ((client, _), (a, b)) in users.iter().zip(amounts.iter().zip(second)) {
            assert_eq!(available(client).await, a.checked_add(b).unwrap());
        }
        app.state
            .market
            .ledger
            .check_invariants()
            .await
            .expect("ledger invariants");
        app.stop().await;
    }
}
