//! Deposits against a private regtest network: a real `monerod` and `monero-wallet-rpc` for the
//! platform and another for the sender. One network per test serves a server on each engine
//! (each server makes its own subaddresses in the shared platform wallet).

use std::time::Duration;

use pupero_core::{MoneroAddress, Piconero};
use pupero_ledger::testing::Backend;
use pupero_wallet::testing::{REGTEST_NETWORK, Regtest, TestWallet};
use pupero_wallet::{Priority, WalletRpc};

use crate::regtest::{CONFIRMATIONS, use_platform, xmr};
use crate::support::{TestApp, manual_clock, spawn_app_with};

async fn app_on(backend: Backend, platform: &TestWallet) -> Option<TestApp> {
    let url = platform.url().to_owned();
    spawn_app_with(
        backend,
        move |settings| {
            use_platform(settings, &url);
        },
        manual_clock(),
    )
    .await
}

/// Sends `amount` from `sender` to `address`, once the sender has seen the newest blocks.
async fn send(net: &Regtest, sender: &TestWallet, address: &str, amount: Piconero) -> String {
    sender.sync_to(net.height().await).await;
    let destination = MoneroAddress::parse(address, REGTEST_NETWORK).expect("regtest address");
    let sent = sender
        .rpc()
        .transfer(0, &destination, amount, Priority::Default)
        .await
        .expect("transfer");
    sent.txid.to_string()
}

/// Scans until `check` holds for the caller's deposit `txid` (the wallet sees the pool a little
/// after the daemon).
async fn scan_until(
    app: &TestApp,
    client: &pupero_sdk::Client,
    txid: &str,
    check: impl Fn(&pupero_sdk::Deposit) -> bool,
) -> pupero_sdk::Deposit {
    for _ in 0..60 {
        app.state.market.scan_deposits().await.expect("scan");
        let page = client.deposits(None, None).await.expect("deposits");
        if let Some(d) = page.items.iter().find(|d| d.txid == txid)
            && check(d)
        {
            return d.clone();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("deposit {txid} never reached the expected state");
}

/// `user`'s deposit and balance events, in order.
async fn deposit_events(app: &TestApp, user: uuid::Uuid) -> Vec<(String, serde_json::Value)> {
    app.user_events(user)
        .await
        .into_iter()
        .filter(|(kind, _)| kind.starts_with("deposit_") || kind == "balance_changed")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_is_credited_once_after_the_confirmations() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let platform = net.wallet("platform").await;

    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let Some(app) = app_on(backend, &platform).await else {
            continue;
        };
        // A freshly funded sender per server: a young regtest chain has few outputs to
        // take ring members from, and a wallet that already spent some waits for more.
        let sender = net.wallet(&format!("sender{n}")).await;
        net.fund(&sender).await;
        let (alice, alice_id) = app.user(&format!("alice{n}")).await;
        let address = alice.deposit_address().await.expect("deposit address");
        assert_eq!(address.confirmations_required, CONFIRMATIONS);
        assert_eq!(address.uri, format!("monero:{}", address.address));
        assert!(address.qr_svg.starts_with("<?xml"), "an SVG QR code");
        // Made once: the same address ever after.
        let again = alice.deposit_address().await.expect("deposit address");
        assert_eq!(again.address, address.address);
        let (bob, _) = app.user(&format!("bob{n}")).await;
        let bobs = bob.deposit_address().await.expect("deposit address");
        assert_ne!(bobs.address, address.address);

        let amount = xmr("1.5");
        let txid = send(&net, &sender, &address.address, amount).await;
        let pool = scan_until(&app, &alice, &txid, |_| true).await;
        assert_eq!(pool.state, pupero_sdk::DepositState::Pending);
        assert_eq!(pool.amount, "1.5".parse::<pupero_sdk::Piconero>().unwrap());
        assert_eq!(pool.height, None);
        assert_eq!(pool.confirmations, 0);
        assert_eq!(alice.balance().await.unwrap().available, Piconero::ZERO);

        net.mine(1).await;
        let one = scan_until(&app, &alice, &txid, |d| d.confirmations == 1).await;
        assert_eq!(one.state, pupero_sdk::DepositState::Pending);
        assert!(one.height.is_some());
        assert_eq!(alice.balance().await.unwrap().available, Piconero::ZERO);

        net.mine(CONFIRMATIONS - 1).await;
        let credited = scan_until(&app, &alice, &txid, |d| {
            d.state == pupero_sdk::DepositState::Credited
        })
        .await;
        assert_eq!(credited.confirmations, CONFIRMATIONS);
        assert!(credited.credited_at_ms.is_some());
        assert_eq!(alice.balance().await.unwrap().available, xmr("1.5"));

        // Scanned again and again, and with more blocks: still credited once.
        for _ in 0..3 {
            app.state.market.scan_deposits().await.expect("scan");
        }
        net.mine(2).await;
        scan_until(&app, &alice, &txid, |d| {
            d.confirmations == CONFIRMATIONS + 2
        })
        .await;
        assert_eq!(alice.balance().await.unwrap().available, xmr("1.5"));
        let history = alice.ledger_history_all().await.expect("history");
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0].code, pupero_sdk::TransferCode::Deposit);
        assert_eq!(history[0].cause, pupero_sdk::EntryCause::Deposit);
        assert_eq!(history[0].status, pupero_sdk::EntryStatus::Completed);
        assert_eq!(
            history[0].txid.as_deref(),
            Some(txid.as_str()),
            "the statement names it"
        );
        // Alice heard of each change once, in order — seen in the pool, each new confirmation
        // count, credited (then her balance) — and of nothing when nothing changed.
        let events = deposit_events(&app, alice_id).await;
        let steps: Vec<(&str, u64)> = events
            .iter()
            .map(|(kind, p)| (kind.as_str(), p["confirmations"].as_u64().unwrap_or(0)))
            .collect();
        assert_eq!(
            steps,
            [
                ("deposit_seen", 0),
                ("deposit_confirmations", 1),
                ("deposit_confirmations", CONFIRMATIONS),
                ("deposit_credited", CONFIRMATIONS),
                ("balance_changed", 0),
            ],
            "{events:?}"
        );
        for (kind, payload) in &events[..4] {
            assert_eq!(payload["txid"], txid.as_str(), "{kind}");
            assert_eq!(payload["amount"], "1.5", "{kind}");
            assert_eq!(payload["required"], CONFIRMATIONS, "{kind}");
        }
        assert!(events[0].1["height"].is_null(), "in the pool");
        assert_eq!(events[1].1["height"], serde_json::json!(one.height));
        // Bob saw nothing.
        assert!(bob.deposits(None, None).await.unwrap().items.is_empty());
        assert_eq!(bob.balance().await.unwrap().available, Piconero::ZERO);
        app.state
            .market
            .ledger
            .check_invariants()
            .await
            .expect("ledger invariants");
        app.stop().await;
    }
}

/// `pop_blocks` and `flush_txpool` on the daemon: the chain forgets its newest blocks and the
/// transactions they held, as in a reorganisation that dropped them.
async fn reorganise_away(net: &Regtest, blocks: u64) {
    let http = reqwest::Client::new();
    let base = format!("http://{}", net.daemon_address());
    let popped: serde_json::Value = http
        .post(format!("{base}/pop_blocks"))
        .json(&serde_json::json!({ "nblocks": blocks }))
        .send()
        .await
        .expect("pop_blocks")
        .json()
        .await
        .expect("pop_blocks answer");
    assert_eq!(popped["status"], "OK", "{popped}");
    let flushed: serde_json::Value = http
        .post(format!("{base}/json_rpc"))
        .json(&serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "flush_txpool" }))
        .send()
        .await
        .expect("flush_txpool")
        .json()
        .await
        .expect("flush_txpool answer");
    assert_eq!(flushed["result"]["status"], "OK", "{flushed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_reorganised_away_is_never_credited() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let platform = net.wallet("platform").await;

    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let Some(app) = app_on(backend, &platform).await else {
            continue;
        };
        // A freshly funded sender per server: a young regtest chain has few outputs to
        // take ring members from, and a wallet that already spent some waits for more.
        let sender = net.wallet(&format!("sender{n}")).await;
        net.fund(&sender).await;
        let (carol, carol_id) = app.user(&format!("carol{n}")).await;
        let address = carol.deposit_address().await.expect("deposit address");
        let txid = send(&net, &sender, &address.address, xmr("2")).await;
        net.mine(1).await;
        scan_until(&app, &carol, &txid, |d| d.confirmations == 1).await;

        reorganise_away(&net, 1).await;
        // The other branch grows past where the deposit would have been credited.
        net.mine(CONFIRMATIONS + 2).await;
        let gone = scan_until(&app, &carol, &txid, |d| {
            d.state == pupero_sdk::DepositState::Gone
        })
        .await;
        assert_eq!(gone.confirmations, 0);
        for _ in 0..2 {
            app.state.market.scan_deposits().await.expect("scan");
        }
        let page = carol.deposits(None, None).await.expect("deposits");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].state, pupero_sdk::DepositState::Gone);
        assert_eq!(carol.balance().await.unwrap().available, Piconero::ZERO);
        assert!(carol.ledger_history_all().await.unwrap().is_empty());
        // Seen (already mined), then gone, once each.
        let events = deposit_events(&app, carol_id).await;
        let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds, ["deposit_seen", "deposit_gone"], "{events:?}");
        assert_eq!(events[0].1["confirmations"], 1);
        assert_eq!(events[1].1["confirmations"], 0);
        assert_eq!(events[1].1["txid"], txid.as_str());
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_wallet_deposits_answer_503() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |_| {}, manual_clock()).await else {
        panic!("sqlite always works");
    };
    let (dave, _) = app.user("dave").await;
    let error = dave.deposit_address().await.expect_err("no wallet");
    assert_eq!(error.code(), Some("WALLET_UNAVAILABLE"));
    assert_eq!(error.status(), Some(503));
    assert!(dave.deposits(None, None).await.unwrap().items.is_empty());
    app.stop().await;
}
