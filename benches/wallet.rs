//! The Monero side against a private regtest network (a real `monerod` and one
//! `monero-wallet-rpc` per wallet):
//! - deposits credited per second by the scanner: [`DEPOSITS`] users each get a deposit to
//!   their subaddress (a sender pays [`MAX_DESTINATIONS`] of them per transaction), the chain
//!   mines past the confirmations, and `Market::scan_deposits` runs until all are credited;
//! - the network fee per withdrawal when the worker pays [`WITHDRAWALS`] withdrawals in one
//!   transaction, and when it pays them one transaction each;
//! - how long after the block that brings a deposit its last confirmation the deposit is
//!   credited, through the real background jobs (`spawn_wallet_jobs`, with the default height
//!   watch and scan interval), over [`LATENCY_ROUNDS`] deposits.
//!
//! `cargo bench -p pupero-benches --bench wallet`. SQLite, then MariaDB for the deposits when
//! it is reachable (`PUPERO_TEST_MARIADB_URL`, as the tests). Skipped, with a message, when
//! `monerod` or `monero-wallet-rpc` is missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pupero_core::ledger::NewAccount;
use pupero_core::{
    AccountId, DepositPolicy, DepositStatus, MoneroAddress, Piconero, Role, UserId, Username,
};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_market::settings::{MoneroNetwork, WalletSettings};
use pupero_market::store::{DepositRef, DepositRow};
use pupero_market::trades::IdempotencyKey;
use pupero_market::{Market, MarketSettings};
use pupero_wallet::testing::{REGTEST_NETWORK, Regtest, TRANSFER_UNLOCK_BLOCKS, TestWallet};
use pupero_wallet::{MAX_DESTINATIONS, Priority, WalletRpc};

/// Users who each make one deposit.
const DEPOSITS: usize = 150;
/// What each deposit pays.
const DEPOSIT_XMR: &str = "0.01";
/// Confirmations before a deposit is credited (the server's default).
const CONFIRMATIONS: u64 = 10;
/// Withdrawals in each fee measurement: as many as one transaction pays.
const WITHDRAWALS: usize = pupero_core::limits::MAX_WITHDRAWALS_PER_TX;
/// What each withdrawal pays.
const WITHDRAWAL_XMR: &str = "0.1";
/// Scans or worker passes before a phase gives up.
const MAX_ROUNDS: usize = 120;
/// The pause between scans while the wallet catches up with the daemon's pool.
const POLL: Duration = Duration::from_millis(250);
/// The scanner's own loop never runs: the benchmark scans when it chooses.
const NEVER_SECS: u64 = 24 * 60 * 60;
/// Deposits whose credit latency is measured.
const LATENCY_ROUNDS: usize = 5;
/// How often the latency measurement looks at the deposit's row: far finer than the latency.
const LATENCY_POLL: Duration = Duration::from_millis(10);
/// How long the background jobs may take to record or credit a deposit before the
/// measurement gives up.
const LATENCY_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let net = match Regtest::try_start().await {
        Ok(net) => net,
        Err(why) => {
            println!("wallet benchmark skipped: Monero regtest unavailable: {why}");
            return Ok(());
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "cores: {cores}; {DEPOSITS} deposits of {DEPOSIT_XMR} XMR, {MAX_DESTINATIONS} per transaction, credited after {CONFIRMATIONS} confirmations; {WITHDRAWALS} withdrawals of {WITHDRAWAL_XMR} XMR"
    );
    for backend in [Backend::Sqlite, Backend::MariaDb] {
        let Some(db) = TestDatabase::create(backend).await else {
            println!("{backend:?}: not reachable, skipped");
            continue;
        };
        println!("== deposits, {backend:?}");
        deposits(&net, &db, backend).await?;
        db.cleanup().await;
    }
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        anyhow::bail!("SQLite always works");
    };
    println!("== deposit credit latency through the background jobs, Sqlite");
    credit_latency(&net, &db).await?;
    db.cleanup().await;
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        anyhow::bail!("SQLite always works");
    };
    println!("== withdrawal fees, Sqlite");
    fees(&net, &db).await?;
    db.cleanup().await;
    Ok(())
}

/// The server's state on `db` with `platform` as its wallet.
async fn open(db: &TestDatabase, platform: &TestWallet) -> anyhow::Result<Arc<Market>> {
    let mut settings = MarketSettings::for_database(db.url.clone());
    settings.monero_network = MoneroNetwork::Regtest;
    settings.wallet = Some(WalletSettings {
        scan_interval_secs: NEVER_SECS,
        watch_interval_ms: 0,
        ..WalletSettings::at(platform.url())
    });
    settings.deposits = DepositPolicy::new(CONFIRMATIONS)?;
    Ok(Market::open(settings).await?)
}

/// A user straight in the database (nobody logs in, so no password is hashed).
async fn user(state: &Market, name: &str) -> anyhow::Result<UserId> {
    let id = UserId::new_v7();
    state
        .ledger
        .create_account(NewAccount::user_xmr(AccountId::user_xmr(id)))
        .await?;
    state
        .store
        .create_user(
            id,
            &Username::parse(name)?,
            None,
            "no password",
            Role::User,
            state.now(),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name}: {e:?}"))?;
    Ok(id)
}

async fn deposits(net: &Regtest, db: &TestDatabase, backend: Backend) -> anyhow::Result<()> {
    let tag = format!("{backend:?}").to_lowercase();
    let platform = net.wallet(&format!("platform-{tag}")).await;
    let sender = net.wallet(&format!("sender-{tag}")).await;
    net.fund(&sender).await;
    let state = open(db, &platform).await?;

    let started = Instant::now();
    let mut addresses = Vec::with_capacity(DEPOSITS);
    for n in 0..DEPOSITS {
        let id = user(&state, &format!("depositor{n}")).await?;
        let row = state
            .deposit_address(id)
            .await
            .map_err(|e| anyhow::anyhow!("deposit address: {}", e.code()))?;
        addresses.push(MoneroAddress::parse(&row.address, REGTEST_NETWORK)?);
    }
    let made = started.elapsed();
    println!(
        "subaddresses made (create_address + store each): {DEPOSITS} in {:.2} s, {:.1}/s", // float-ok
        made.as_secs_f64(),
        per_sec(DEPOSITS, made)
    );

    // One sender transaction pays up to MAX_DESTINATIONS subaddresses.
    sender.sync_to(net.height().await).await;
    let amount = Piconero::from_xmr_str(DEPOSIT_XMR)?;
    let mut transactions = 0;
    for chunk in addresses.chunks(MAX_DESTINATIONS) {
        let destinations: Vec<(MoneroAddress, Piconero)> =
            chunk.iter().map(|a| (a.clone(), amount)).collect();
        let built = sender
            .rpc()
            .build_transfer(0, &destinations, Priority::Default)
            .await?;
        sender.rpc().relay(&built.tx_metadata).await?;
        transactions += 1;
    }
    println!("sent: {DEPOSITS} deposits in {transactions} transactions");

    // The scanner records them from the pool (the wallet sees the pool a little after the
    // daemon), as its loop would before they are mined.
    let mut seen = 0;
    for _ in 0..MAX_ROUNDS {
        seen = state.scan_deposits().await?.seen;
        if seen == DEPOSITS {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    anyhow::ensure!(seen == DEPOSITS, "the pool shows {seen} of {DEPOSITS}");

    let height = net.mine(CONFIRMATIONS).await;
    // The wallet's own catching up is not the scanner's work: it is done first.
    let refresh_started = Instant::now();
    platform.sync_to(height).await;
    let refresh = refresh_started.elapsed();

    let started = Instant::now();
    let mut credited = 0;
    let mut scans = 0;
    while credited < DEPOSITS && scans < MAX_ROUNDS {
        credited += state.scan_deposits().await?.credited;
        scans += 1;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        credited == DEPOSITS,
        "credited {credited} of {DEPOSITS} in {scans} scans"
    );
    println!(
        "credited: {DEPOSITS} deposits in {scans} scan(s), {:.3} s: {:.1} deposits/s (the wallet's refresh of {CONFIRMATIONS} blocks before it: {:.3} s)", // float-ok
        elapsed.as_secs_f64(),
        per_sec(DEPOSITS, elapsed),
        refresh.as_secs_f64()
    );
    let started = Instant::now();
    let idle = state.scan_deposits().await?;
    println!(
        "a scan with nothing new ({} deposits in its window): {:.3} s", // float-ok
        idle.seen,
        started.elapsed().as_secs_f64()
    );
    state.ledger.check_invariants().await?;
    Ok(())
}

/// The deposit `key` as stored, once `done` holds for it, within [`LATENCY_TIMEOUT`].
async fn wait_for_deposit(
    state: &Market,
    key: &DepositRef,
    done: impl Fn(&DepositRow) -> bool,
) -> anyhow::Result<DepositRow> {
    let deadline = Instant::now() + LATENCY_TIMEOUT;
    loop {
        if let Some(row) = state.store.deposit(key).await?
            && done(&row)
        {
            return Ok(row);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "deposit {} never got there",
            key.txid
        );
        tokio::time::sleep(LATENCY_POLL).await;
    }
}

async fn credit_latency(net: &Regtest, db: &TestDatabase) -> anyhow::Result<()> {
    let platform = net.wallet("platform-latency").await;
    let sender = net.wallet("sender-latency").await;
    net.fund(&sender).await;
    let mut settings = MarketSettings::for_database(db.url.clone());
    settings.monero_network = MoneroNetwork::Regtest;
    // The defaults: the height watched every second, a full scan every 20 s.
    settings.wallet = Some(WalletSettings::at(platform.url()));
    settings.deposits = DepositPolicy::new(CONFIRMATIONS)?;
    let watch_ms = settings.wallet.as_ref().map_or(0, |w| w.watch_interval_ms);
    let state = Market::open(settings).await?;
    let jobs = pupero_market::jobs::spawn_wallet_jobs(state.clone());
    let id = user(&state, "latency").await?;
    let row = state
        .deposit_address(id)
        .await
        .map_err(|e| anyhow::anyhow!("deposit address: {}", e.code()))?;
    let address = MoneroAddress::parse(&row.address, REGTEST_NETWORK)?;
    let amount = Piconero::from_xmr_str(DEPOSIT_XMR)?;
    let mut latencies = Vec::with_capacity(LATENCY_ROUNDS);
    for _ in 0..LATENCY_ROUNDS {
        sender.sync_to(net.height().await).await;
        let sent = sender
            .rpc()
            .transfer(0, &address, amount, Priority::Default)
            .await?;
        let key = DepositRef {
            txid: sent.txid.to_string(),
            account: row.account,
            index: row.index,
        };
        // One block short: the jobs record it (the watch sees the new height).
        net.mine(CONFIRMATIONS - 1).await;
        wait_for_deposit(&state, &key, |d| {
            d.sighting.confirmations == CONFIRMATIONS - 1
        })
        .await?;
        // The confirming block; the clock starts once it is on the chain.
        net.mine(1).await;
        let started = Instant::now();
        wait_for_deposit(&state, &key, |d| d.status == DepositStatus::Credited).await?;
        latencies.push(started.elapsed());
    }
    pupero_market::jobs::stop_jobs(&state, jobs).await;
    latencies.sort_unstable();
    let ms = |d: &Duration| d.as_millis();
    println!(
        "credited after the confirming block ({LATENCY_ROUNDS} deposits, height watched every {watch_ms} ms): min {} ms, median {} ms, max {} ms",
        latencies.first().map_or(0, ms),
        latencies.get(LATENCY_ROUNDS / 2).map_or(0, ms),
        latencies.last().map_or(0, ms),
    );
    state.ledger.check_invariants().await?;
    Ok(())
}

async fn fees(net: &Regtest, db: &TestDatabase) -> anyhow::Result<()> {
    let platform = net.wallet("platform-fees").await;
    // Two fundings: enough unlocked outputs for every transaction without waiting for change.
    net.fund(&platform).await;
    net.fund(&platform).await;
    let receiver = net.wallet("receiver").await;
    let state = open(db, &platform).await?;
    let mut users = Vec::with_capacity(2 * WITHDRAWALS);
    for n in 0..2 * WITHDRAWALS {
        let name = format!("withdrawer{n}");
        users.push(user(&state, &name).await?);
        pupero_market::operator::credit_dev(&state, &name, "1").await?;
    }
    let to = receiver.address().to_string();

    // Batched: all requested, then one worker pass.
    let mut batched = Vec::with_capacity(WITHDRAWALS);
    for user in &users[..WITHDRAWALS] {
        batched.push(request(&state, *user, &to).await?);
    }
    drive(net, &platform, &state).await?;
    let (batched_fee, batched_txs) = fees_of(&state, &batched).await?;

    // Unbatched: one request, one pass, one transaction each.
    let mut single = Vec::with_capacity(WITHDRAWALS);
    for user in &users[WITHDRAWALS..] {
        let id = request(&state, *user, &to).await?;
        drive(net, &platform, &state).await?;
        single.push(id);
    }
    let (single_fee, single_txs) = fees_of(&state, &single).await?;

    let count = u64::try_from(WITHDRAWALS)?;
    let batched_each = Piconero::new(batched_fee.as_u64() / count);
    let single_each = Piconero::new(single_fee.as_u64() / count);
    println!(
        "batched:   {WITHDRAWALS} withdrawals in {batched_txs} transaction(s), fee {} XMR, {} XMR per withdrawal",
        batched_fee.to_xmr_string(),
        batched_each.to_xmr_string()
    );
    println!(
        "unbatched: {WITHDRAWALS} withdrawals in {single_txs} transaction(s), fee {} XMR, {} XMR per withdrawal",
        single_fee.to_xmr_string(),
        single_each.to_xmr_string()
    );
    println!(
        "alone, a withdrawal pays {:.1}× the fee it pays in a full batch", // float-ok
        ratio(single_fee, batched_fee)
    );
    state.ledger.check_invariants().await?;
    Ok(())
}

async fn request(state: &Market, user: UserId, to: &str) -> anyhow::Result<uuid::Uuid> {
    let key = IdempotencyKey::parse(&uuid::Uuid::new_v4().to_string())
        .map_err(|e| anyhow::anyhow!("{}", e.code()))?;
    let (row, _) = state
        .request_withdrawal(
            &pupero_core::Caller::api_key(
                user,
                pupero_core::Scopes::of(&[pupero_core::Scope::Withdraw]),
            ),
            &key,
            to,
            WITHDRAWAL_XMR,
            None,
            Default::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("withdrawal request: {}", e.code()))?;
    Ok(row.id)
}

/// Worker passes until one signs a transaction; when the wallet waits for change to unlock,
/// the chain moves on.
async fn drive(net: &Regtest, platform: &TestWallet, state: &Market) -> anyhow::Result<()> {
    for _ in 0..MAX_ROUNDS {
        let report = state.drive_withdrawals().await?;
        if report.signed > 0 {
            return Ok(());
        }
        let height = net.mine(TRANSFER_UNLOCK_BLOCKS).await;
        platform.sync_to(height).await;
    }
    anyhow::bail!("the worker signed nothing")
}

/// The fees of the transactions paying `withdrawals` (each counted once), and how many.
async fn fees_of(state: &Market, withdrawals: &[uuid::Uuid]) -> anyhow::Result<(Piconero, usize)> {
    let mut txs = std::collections::BTreeMap::new();
    for id in withdrawals {
        let row = state
            .store
            .withdrawal(*id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("withdrawal {id} missing"))?;
        anyhow::ensure!(
            row.state.as_str() == "broadcast",
            "{id} is {}",
            row.state.as_str()
        );
        let tx = row
            .tx
            .ok_or_else(|| anyhow::anyhow!("withdrawal {id} has no transaction"))?;
        let tx = state
            .store
            .withdrawal_tx(tx)
            .await?
            .ok_or_else(|| anyhow::anyhow!("transaction of {id} missing"))?;
        txs.insert(tx.id, tx.fee);
    }
    let total = txs
        .values()
        .try_fold(Piconero::ZERO, |sum, fee| sum.checked_add(*fee))?;
    Ok((total, txs.len()))
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn per_sec(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64() // float-ok: reporting only
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn ratio(a: Piconero, b: Piconero) -> f64 {
    a.as_u64() as f64 / b.as_u64() as f64 // float-ok: reporting only
}
