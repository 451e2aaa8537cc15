//! The restore drill, on each engine and a private regtest network: a platform with users,
//! deposits, a trade and a withdrawal is backed up (the database through `VACUUM INTO` or
//! `mariadb-dump`, the hot wallet as its seed), destroyed, and restored on fresh ports. The
//! restored wallet, like any wallet restored from its seed, misses the deposits to subaddresses beyond its look-ahead until the server
//! makes them again and rescans; then everything is as it was, nothing is credited twice, and
//! a new deposit and a new withdrawal move money exactly once. A wallet that is not the
//! platform's runs nothing.

use std::time::{Duration, Instant};

use pupero_core::{MoneroAddress, Piconero};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_market::deposits::ScanError;
use pupero_market::withdrawals::DriveError;
use pupero_sdk::ReconciliationStatus;
use pupero_wallet::testing::{REGTEST_NETWORK, Regtest, TestWallet};
use pupero_wallet::{Priority, WalletRpc};

use crate::regtest::{CONFIRMATIONS, request, use_platform, xmr};
use crate::support::{TestApp, manual_clock, sell_offer, spawn_app_on};

/// Subaddresses made for nobody before the users': theirs are then beyond the look-ahead (200)
/// of a wallet restored from its seed.
const BEYOND_LOOKAHEAD: u32 = 250;

/// How long a step on the chain may take (mining, the wallets seeing it).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The restored server's `/metrics` token.
const METRICS_TOKEN: &str = "restore-drill-metrics-token";

/// Blocks after which a received output can be spent.
const UNLOCK_BLOCKS: u64 = 10;

async fn app_on(db: TestDatabase, platform: &TestWallet) -> TestApp {
    let url = platform.url().to_owned();
    spawn_app_on(
        db,
        move |settings| use_platform(settings, &url),
        manual_clock(),
    )
    .await
}

/// As [`app_on`], over a restored backup: its clock is past the worker lease the backed-up
/// process held (a hot backup keeps it), as it would be by the time a restored server starts.
async fn restored_app_on(db: TestDatabase, platform: &TestWallet) -> TestApp {
    let url = platform.url().to_owned();
    let clock = manual_clock();
    clock.advance_secs(pupero_market::settings::DEFAULT_WORKER_LEASE_SECS + 1);
    spawn_app_on(
        db,
        move |settings| {
            use_platform(settings, &url);
            settings.metrics_token =
                Some(pupero_server::config::Secret::new(METRICS_TOKEN.to_owned()));
        },
        clock,
    )
    .await
}

/// Sends `amount` from `sender` to `address` and mines it deep enough to be credited.
async fn deposit(net: &Regtest, sender: &TestWallet, address: &str, amount: &str) -> String {
    sender.sync_to(net.height().await).await;
    let destination = MoneroAddress::parse(address, REGTEST_NETWORK).expect("regtest address");
    let sent = sender
        .rpc()
        .transfer(0, &destination, xmr(amount), Priority::Default)
        .await
        .expect("transfer");
    net.wait_until_pool_minable().await;
    net.mine(CONFIRMATIONS).await;
    sent.txid.to_string()
}

/// Scans until `client`'s deposit `txid` is credited.
async fn credited(app: &TestApp, client: &pupero_sdk::Client, txid: &str) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        app.state.market.scan_deposits().await.expect("scan");
        let page = client.deposits(None, None).await.expect("deposits");
        if page
            .items
            .iter()
            .any(|d| d.txid == txid && d.state.as_str() == "credited")
        {
            return;
        }
        assert!(Instant::now() < deadline, "deposit {txid} never credited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Drives the worker, mining as it goes, until withdrawal `id` of `client` is confirmed; its
/// txid.
async fn paid(net: &Regtest, app: &TestApp, client: &pupero_sdk::Client, id: uuid::Uuid) -> String {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Err(e) = app.state.market.drive_withdrawals().await {
            eprintln!("worker pass: {e}");
        }
        let w = client.withdrawal(id).await.expect("withdrawal");
        match w.state.as_str() {
            "confirmed" => return w.txid.expect("a confirmed withdrawal has its txid"),
            "broadcast" => {
                net.wait_until_pool_minable().await;
                net.mine(1).await;
            }
            _ => {}
        }
        assert!(Instant::now() < deadline, "withdrawal {id} never confirmed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a user sees of their money: balance, statement, deposits and withdrawals.
/// (Deposits without their confirmations, which grow with the chain.)
async fn books(client: &pupero_sdk::Client) -> serde_json::Value {
    let deposits: Vec<_> = client
        .deposits(Some(100), None)
        .await
        .expect("deposits")
        .items
        .into_iter()
        .map(|d| (d.txid, d.amount, d.state, d.height, d.credited_at_ms))
        .collect();
    serde_json::json!({
        "balance": client.balance().await.expect("balance"),
        "history": client.ledger_history_all().await.expect("history"),
        "deposits": deposits,
        "withdrawals": client.withdrawals(Some(100), None).await.expect("withdrawals").items,
    })
}

/// Every payment `receiver` got in `txid`.
async fn received_in(receiver: &TestWallet, txid: &str) -> Vec<Piconero> {
    crate::regtest::received(receiver, txid).await
}

/// A backup of the database behind `url`: `pupero backup` on SQLite, `mariadb-dump
/// --single-transaction` on MariaDB (as `docs/operations.md` says), both while serving.
async fn back_up(url: &str, dir: &std::path::Path) -> std::path::PathBuf {
    if url.starts_with("sqlite") {
        let to = dir.join("pupero.db");
        pupero_market::backup(url, &to).await.expect("backup");
        return to;
    }
    let to = dir.join("pupero.sql");
    let dump = mariadb("mariadb-dump", url, &["--single-transaction", "--routines"])
        .stdout(std::fs::File::create(&to).expect("dump file"))
        .status()
        .expect("mariadb-dump");
    assert!(dump.success(), "mariadb-dump: {dump}");
    to
}

/// A fresh database on `backend` holding `backup`.
async fn restore(backend: Backend, backup: &std::path::Path) -> TestDatabase {
    if backend == Backend::Sqlite {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(backup, dir.path().join("pupero.db")).expect("copy the backup");
        return TestDatabase::sqlite_in(dir, "pupero.db");
    }
    let db = TestDatabase::create(backend).await.expect("mariadb");
    let load = mariadb("mariadb", &db.url, &[])
        .stdin(std::fs::File::open(backup).expect("dump file"))
        .status()
        .expect("mariadb");
    assert!(load.success(), "mariadb < dump: {load}");
    db
}

/// `program` (a MariaDB client) pointed at the database of `url`, then `args`.
fn mariadb(program: &str, url: &str, args: &[&str]) -> std::process::Command {
    let url = reqwest::Url::parse(url).expect("database url");
    let mut command = std::process::Command::new(program);
    command
        .arg(format!("--host={}", url.host_str().unwrap_or("127.0.0.1")))
        .arg(format!("--port={}", url.port().unwrap_or(3306)))
        .arg(format!("--user={}", url.username()));
    if let Some(password) = url.password() {
        command.arg(format!("--password={password}"));
    }
    command.args(args).arg(url.path().trim_start_matches('/'));
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    drill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_dump() {
    drill(Backend::MariaDb).await;
}

/// Builds a platform on `backend`, backs it up, loses it, restores it; see the module's
/// documentation.
async fn drill(backend: Backend) {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let miner = net.wallet("miner").await;
    net.fund(&miner).await;
    let mut platform = net.wallet("platform").await;
    let seed = platform.seed().await;
    for _ in 0..BEYOND_LOOKAHEAD {
        platform
            .rpc()
            .create_subaddress(0, "nobody")
            .await
            .expect("subaddress");
    }
    platform.rpc().store().await.expect("store");

    // The platform at work: two deposits, a trade, a withdrawal.
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let app = app_on(db, &platform).await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (admin, _) = app.user_with_role("admin", pupero_core::Role::Admin).await;
    let alice_address = alice.deposit_address().await.expect("address").address;
    let bob_address = bob.deposit_address().await.expect("address").address;
    let to_alice = deposit(&net, &miner, &alice_address, "3").await;
    credited(&app, &alice, &to_alice).await;
    let to_bob = deposit(&net, &miner, &bob_address, "2").await;
    credited(&app, &bob, &to_bob).await;

    let offer = alice.create_offer(&sell_offer()).await.expect("offer");
    let trade = bob
        .open_trade(
            &pupero_sdk::OpenTradeRequest {
                offer_id: offer.id,
                amount: "1".parse().unwrap(),
                price: "150".parse().unwrap(),
            },
            Some("drill-trade"),
        )
        .await
        .expect("trade");
    bob.mark_trade_paid(trade.id, None).await.expect("paid");
    alice
        .release_trade(trade.id, None, None)
        .await
        .expect("released");

    net.mine(UNLOCK_BLOCKS).await;
    let to_miner = miner.address().to_string();
    let w = bob
        .request_withdrawal(&request(&to_miner, "0.5"), "drill-withdrawal")
        .await
        .expect("withdrawal");
    let txid = paid(&net, &app, &bob, w.id).await;
    assert_eq!(received_in(&miner, &txid).await, vec![xmr("0.5")]);

    let before = admin.admin_reconciliation().await.expect("reconciliation");
    assert_eq!(before.status, ReconciliationStatus::Ok);
    let (alice_books, bob_books) = (books(&alice).await, books(&bob).await);

    // Back up, and lose everything.
    let backups = tempfile::tempdir().expect("temp dir");
    let backup = back_up(&app.state.settings.market.database_url, backups.path()).await;
    app.stop().await;
    platform.kill();
    drop(platform);

    // The wallet from its seed alone does not see the users' deposits.
    let restored = net.restore_wallet("platform-restored", &seed, 0).await;
    restored.sync_to(net.height().await).await;
    let seen = restored.rpc().balance(0).await.expect("balance").total;
    assert!(
        seen < before.wallet_total,
        "a restored wallet sees nothing beyond its look-ahead ({seen})"
    );

    // A wallet that is not the platform's runs nothing, whatever it has made.
    let stranger = net.wallet("stranger").await;
    let wrong = restored_app_on(restore(backend, &backup).await, &stranger).await;
    let e = wrong.state.market.scan_deposits().await.unwrap_err();
    assert!(matches!(e, ScanError::WrongWallet { .. }), "{e}");
    let e = wrong.state.market.drive_withdrawals().await.unwrap_err();
    assert!(matches!(e, DriveError::WrongWallet { .. }), "{e}");
    // A stored address is still shown; no new one is made.
    let (carol, _) = wrong.user("carol").await;
    let e = carol.deposit_address().await.unwrap_err();
    assert_eq!(e.code(), Some("WALLET_UNAVAILABLE"));
    wrong.stop().await;

    // Restored on fresh ports: the server brings the wallet back before anything else.
    let app = restored_app_on(restore(backend, &backup).await, &restored).await;
    app.state.market.scan_deposits().await.expect("scan");
    let count = restored.rpc().subaddress_count(0).await.expect("count");
    assert!(count > BEYOND_LOOKAHEAD + 2, "{count} subaddresses");
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("invariants");
    let alice = app.client_of_user("alice").await;
    let bob = app.client_of_user("bob").await;
    let admin = app.client_of_user("admin").await;
    let after = admin.admin_reconciliation().await.expect("reconciliation");
    assert_eq!(after.status, ReconciliationStatus::Ok);
    assert_eq!(after.wallet_total, before.wallet_total);
    assert_eq!(after.user_liabilities, before.user_liabilities);
    // A rescan credits nothing twice.
    app.state.market.scan_deposits().await.expect("scan");
    assert_eq!(books(&alice).await, alice_books);
    assert_eq!(books(&bob).await, bob_books);

    // New money moves once: a deposit to the subaddress beyond the look-ahead, a withdrawal.
    let again = deposit(&net, &miner, &alice_address, "0.7").await;
    credited(&app, &alice, &again).await;
    app.state.market.scan_deposits().await.expect("scan");
    let credits = alice
        .deposits(Some(100), None)
        .await
        .expect("deposits")
        .items
        .into_iter()
        .filter(|d| d.txid == again)
        .count();
    assert_eq!(credits, 1);
    net.mine(UNLOCK_BLOCKS).await;
    let w = alice
        .request_withdrawal(&request(&to_miner, "0.3"), "after-restore")
        .await
        .expect("withdrawal");
    let txid = paid(&net, &app, &alice, w.id).await;
    assert_eq!(received_in(&miner, &txid).await, vec![xmr("0.3")]);
    let last = admin.admin_reconciliation().await.expect("reconciliation");
    assert_eq!(last.status, ReconciliationStatus::Ok);

    // What an operator watches says the same: the worker's last reconciliation was ok, the
    // scanner is not behind, and the wallet's calls are counted.
    let scraped = crate::support::scrape(&app.base_url, METRICS_TOKEN).await;
    for sample in [
        r#"pupero_reconciliation_ok{account="0"} 1"#,
        r#"pupero_deposit_scan_lag_blocks{account="0"} 0"#,
        r#"pupero_wallet_rpc_calls_total{method="get_balance",outcome="ok"}"#,
        r#"pupero_wallet_rpc_calls_total{method="rescan_blockchain",outcome="ok"} 1"#,
    ] {
        assert!(scraped.contains(sample), "{sample} missing:\n{scraped}");
    }
    for name in crate::prometheus::WALLET_JOB_METRICS {
        assert!(
            scraped.contains(&format!("\n{name}{{")),
            "{name} missing:\n{scraped}"
        );
    }
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("invariants");

    // A process that stopped between making the subaddresses and the end of the rescan left
    // the rescan owed: the next one rescans, though the wallet has every subaddress now.
    let market = &app.state.market;
    assert!(!market.store.rescan_owed(0).await.expect("owed"));
    market.store.owe_rescan(0, market.now()).await.expect("owe");
    let app = restored_app_on(app.stop_keeping_db().await, &restored).await;
    app.state
        .market
        .wallet_matches_records()
        .await
        .expect("brought back");
    assert!(!app.state.market.store.rescan_owed(0).await.expect("owed"));
    let scraped = crate::support::scrape(&app.base_url, METRICS_TOKEN).await;
    let rescanned = r#"pupero_wallet_rpc_calls_total{method="rescan_blockchain",outcome="ok"} 1"#;
    assert!(scraped.contains(rescanned), "{scraped}");
    app.stop().await;
}
