//! The wallet worker as its own process (`pupero worker`), against a private regtest network:
//! killed (SIGKILL) right after signing and right after relaying, with RabbitMQ restarted and
//! the wallet RPC server down for a while, it pays each withdrawal exactly once and the
//! ledger stays exact; killed the same way while sweeping, it books each sweep's fee once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use pupero_core::sweep::SweepState;
use pupero_core::{Piconero, WithdrawalState};
use pupero_ledger::testing::{Backend, services_required};
use pupero_server::config::{QueueKind, RabbitSettings, Secret};
use pupero_wallet::WalletRpc;
use pupero_wallet::testing::{Regtest, TestWallet};

use crate::regtest::{NEVER_SECS, all_received, received, request, sum, use_platform, xmr};
use crate::support::{TestApp, manual_clock, spawn_app_with};
use crate::sweeps::{credit, mine_until_spendable, network_fees, send_many};

/// The shortest lease, so that a killed worker's successor takes over quickly.
const LEASE_SECS: &str = "10";

/// How long a step may take: a lease to run out, a pass, a broker restart.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn rabbitmq_url() -> String {
    std::env::var("PUPERO_TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The API in this process, without wallet jobs: a `pupero worker` process runs them.
async fn api_without_worker(
    backend: Backend,
    platform: &TestWallet,
    rabbit: Option<RabbitSettings>,
) -> Option<TestApp> {
    let url = platform.url().to_owned();
    spawn_app_with(
        backend,
        move |settings| {
            use_platform(settings, &url);
            settings.market.wallet_worker = false;
            settings.market.rabbitmq = rabbit;
        },
        manual_clock(),
    )
    .await
}

/// What withdrawals of these amounts cost their owner: the amounts and their fee shares.
fn paid_with_fees(withdrawals: &[(&pupero_sdk::Withdrawal, &str)]) -> Piconero {
    let paid: Vec<Piconero> = withdrawals
        .iter()
        .map(|(w, amount)| {
            xmr(amount)
                .checked_add(xmr(w
                    .fee
                    .map(|v| v.to_xmr_string())
                    .as_deref()
                    .expect("fee")))
                .expect("no overflow")
        })
        .collect();
    sum(&paid)
}

/// A `pupero worker` process; SIGKILLed when dropped.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn spawn(
        app: &TestApp,
        platform: &TestWallet,
        rabbit: Option<&RabbitSettings>,
        failpoint: Option<&str>,
        logs: &Path,
        name: &str,
    ) -> Worker {
        Worker::spawn_with(app, platform, rabbit, failpoint, logs, name, &[])
    }

    /// As [`Worker::spawn`], with more `PUPERO_*` settings.
    fn spawn_with(
        app: &TestApp,
        platform: &TestWallet,
        rabbit: Option<&RabbitSettings>,
        failpoint: Option<&str>,
        logs: &Path,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Worker {
        Worker::spawn_command(
            "worker", app, platform, rabbit, failpoint, logs, name, settings,
        )
    }

    /// `pupero serve` with its wallet jobs, on a port of its choosing.
    fn spawn_serve(app: &TestApp, platform: &TestWallet, logs: &Path, name: &str) -> Worker {
        let settings = [("PUPERO_LISTEN", "127.0.0.1:0")];
        Worker::spawn_command("serve", app, platform, None, None, logs, name, &settings)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_command(
        subcommand: &str,
        app: &TestApp,
        platform: &TestWallet,
        rabbit: Option<&RabbitSettings>,
        failpoint: Option<&str>,
        logs: &Path,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Worker {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("worker log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pupero"));
        command
            .arg(subcommand)
            .env_clear()
            .env("PUPERO_MODE", "dev")
            .env("PUPERO_LOG", "info")
            .env(
                "PUPERO_DATABASE_URL",
                &app.state.settings.market.database_url,
            )
            .env("PUPERO_MONERO_NETWORK", "regtest")
            .env("PUPERO_WALLET_RPC_URL", platform.url())
            .env("PUPERO_DEPOSIT_SCAN_SECS", NEVER_SECS.to_string())
            .env("PUPERO_DEPOSIT_WATCH_MS", "0")
            .env("PUPERO_WORKER_LEASE_SECS", LEASE_SECS)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out);
        if let Some(rabbit) = rabbit {
            command
                .env("PUPERO_RABBITMQ_URL", rabbit.url.expose())
                .env("PUPERO_RABBITMQ_QUEUE", &rabbit.queue);
        }
        if let Some(point) = failpoint {
            command.env("PUPERO_FAILPOINT", point);
        }
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command.spawn().expect("start pupero worker");
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the worker stopped at its failpoint.
    async fn wait_for_failpoint(&mut self) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !self.log().contains("failpoint reached") {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the worker exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no failpoint reached:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL, and reaped.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, as a service manager stops it, and waits until it exited by itself.
    async fn terminate(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM: {status}");
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "stopped with {status}:\n{}", self.log());
                return self.log();
            }
            assert!(
                Instant::now() < deadline,
                "did not stop on SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until this process holds the wallet worker lease.
    async fn wait_for_lease(&self, app: &TestApp) -> uuid::Uuid {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let holder = app.state.market.worker_lease().await.expect("lease");
            if let Some(holder) = holder
                && self.log().contains(&holder.holder.to_string())
            {
                return holder.holder;
            }
            assert!(
                Instant::now() < deadline,
                "never took the lease ({holder:?}):\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How often a log says it waits for the lease.
fn waits_logged(log: &str) -> usize {
    log.matches("waiting for the wallet worker lease").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_takes_over_at_once_after_a_clean_stop_and_within_the_lease_after_a_kill()
 {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let receiver = net.wallet("receiver").await;
    let platform = net.wallet("platform").await;
    net.fund(&platform).await;
    let Some(app) = api_without_worker(Backend::MariaDb, &platform, None).await else {
        return;
    };
    let (alice, _) = app.user("alice").await;
    pupero_market::operator::credit_dev(&app.state.market, "alice", "5")
        .await
        .expect("credit");
    let to = receiver.address().to_string();

    // `pupero serve` runs the wallet jobs and holds the lease; SIGTERM stops it cleanly and
    // it gives the lease back.
    let serve = Worker::spawn_serve(&app, &platform, logs.path(), "serve");
    serve.wait_for_lease(&app).await;
    let log = serve.terminate().await;
    assert!(log.contains("gave back the wallet worker lease"), "{log}");
    assert_eq!(app.state.market.worker_lease().await.unwrap(), None);

    // A withdrawal requested while no worker runs goes out as soon as one starts: nothing to
    // wait for.
    let first = alice
        .request_withdrawal(&request(&to, "0.5"), "first")
        .await
        .expect("withdrawal");
    let started = Instant::now();
    let worker = Worker::spawn(&app, &platform, None, None, logs.path(), "after-sigterm");
    let first = wait_for_state(&alice, first.id, "broadcast", &worker).await;
    eprintln!(
        "after a clean stop: broadcast {:.1} s after the worker started",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(waits_logged(&worker.log()), 0, "{}", worker.log());
    let holder = worker.wait_for_lease(&app).await;

    // SIGKILLed, it gives nothing back: its successor waits for the lease to run out, says
    // so once, and takes over then.
    worker.kill();
    let second = alice
        .request_withdrawal(&request(&to, "0.25"), "second")
        .await
        .expect("withdrawal");
    let started = Instant::now();
    let successor = Worker::spawn(&app, &platform, None, None, logs.path(), "after-sigkill");
    let second = wait_for_state(&alice, second.id, "broadcast", &successor).await;
    let waited = started.elapsed();
    eprintln!(
        "after SIGKILL: broadcast {:.1} s after the successor started (lease {LEASE_SECS} s)",
        waited.as_secs_f64()
    );
    let log = successor.log();
    assert_eq!(waits_logged(&log), 1, "{log}");
    assert!(
        log.contains(&holder.to_string()),
        "names the dead holder: {log}"
    );
    assert!(log.contains("took the wallet worker lease"), "{log}");

    net.mine(1).await;
    wait_for_state(&alice, first.id, "confirmed", &successor).await;
    wait_for_state(&alice, second.id, "confirmed", &successor).await;
    for (w, amount) in [(&first, "0.5"), (&second, "0.25")] {
        let txid = w.txid.as_deref().expect("txid");
        assert_eq!(received(&receiver, txid).await, vec![xmr(amount)]);
    }
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    drop(successor);
    app.stop().await;
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for_state(
    client: &pupero_sdk::Client,
    id: uuid::Uuid,
    state: &str,
    worker: &Worker,
) -> pupero_sdk::Withdrawal {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let w = client.withdrawal(id).await.expect("withdrawal");
        if w.state.as_str() == state {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "withdrawal {id} is {} and never became {state}; worker log:\n{}",
            w.state,
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The txids of the transactions in state `signed`.
async fn signed_txids(app: &TestApp) -> Vec<String> {
    app.state
        .market
        .store
        .withdrawal_txs_in(WithdrawalState::Signed, 100)
        .await
        .expect("signed txs")
        .into_iter()
        .map(|tx| tx.txid)
        .collect()
}

/// Runs a worker until it stops at `failpoint`, SIGKILLs it, and returns the one signed
/// transaction it left and whether the wallet knows it (was relayed).
async fn kill_at(
    app: &TestApp,
    platform: &TestWallet,
    failpoint: &str,
    logs: &Path,
) -> (String, bool) {
    let mut worker = Worker::spawn(app, platform, None, Some(failpoint), logs, failpoint);
    worker.wait_for_failpoint().await;
    worker.kill();
    let signed = signed_txids(app).await;
    assert_eq!(signed.len(), 1, "{signed:?}");
    let txid = pupero_wallet::Txid::from_hex(&signed[0]).expect("txid");
    let known = platform
        .rpc()
        .outgoing_transfer(txid)
        .await
        .expect("wallet")
        .is_some();
    (signed[0].clone(), known)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_signing_or_relaying_pays_once() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let receiver = net.wallet("receiver").await;
    let platform = net.wallet("platform").await;
    net.fund(&platform).await;
    let app = api_without_worker(Backend::MariaDb, &platform, None).await;
    let Some(app) = app else {
        return;
    };
    let (alice, _) = app.user("alice").await;
    pupero_market::operator::credit_dev(&app.state.market, "alice", "5")
        .await
        .expect("credit");
    let to = receiver.address().to_string();

    // Killed between signing and relaying: the signed transaction is recorded, not sent.
    let first = alice
        .request_withdrawal(&request(&to, "1"), "first")
        .await
        .expect("withdrawal");
    let (signed, relayed) = kill_at(&app, &platform, "withdrawal.after_sign", logs.path()).await;
    assert!(!relayed, "nothing was relayed");
    assert_eq!(
        alice.withdrawal(first.id).await.unwrap().state,
        pupero_sdk::WithdrawalState::Signed,
        "the user sees it signed"
    );
    // The next worker relays that very transaction.
    let worker = Worker::spawn(&app, &platform, None, None, logs.path(), "restart-1");
    let first = wait_for_state(&alice, first.id, "broadcast", &worker).await;
    assert_eq!(first.txid.as_deref(), Some(signed.as_str()));
    drop(worker);

    // Killed right after relaying, before saving the wallet or settling the ledger.
    let second = alice
        .request_withdrawal(&request(&to, "0.5"), "second")
        .await
        .expect("withdrawal");
    let (signed, relayed) = kill_at(&app, &platform, "withdrawal.after_relay", logs.path()).await;
    assert!(relayed, "it was relayed");
    // The next worker finds it sent and settles it without relaying anything.
    let worker = Worker::spawn(&app, &platform, None, None, logs.path(), "restart-2");
    let second = wait_for_state(&alice, second.id, "broadcast", &worker).await;
    assert_eq!(second.txid.as_deref(), Some(signed.as_str()));
    net.mine(1).await;
    wait_for_state(&alice, first.id, "confirmed", &worker).await;
    wait_for_state(&alice, second.id, "confirmed", &worker).await;
    drop(worker);

    // On chain: exactly one payment each; in the ledger: amounts and real fees, exactly.
    for (w, amount) in [(&first, "1"), (&second, "0.5")] {
        let txid = w.txid.as_deref().expect("txid");
        assert_eq!(received(&receiver, txid).await, vec![xmr(amount)]);
    }
    assert_eq!(all_received(&receiver).await.len(), 2);
    let paid = paid_with_fees(&[(&first, "1"), (&second, "0.5")]);
    let balance = alice.balance().await.unwrap();
    assert_eq!(balance.available, xmr("5").checked_sub(paid).unwrap());
    assert_eq!(balance.held, Piconero::ZERO);
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    app.stop().await;
}

/// The sweeper's settings of a worker process: a pass every 10 s, of outputs below 1 XMR once
/// there are two.
const SWEEP_EVERY_10_SECS: [(&str, &str); 3] = [
    ("PUPERO_SWEEP_INTERVAL_SECS", "10"),
    ("PUPERO_SWEEP_BELOW", "1"),
    ("PUPERO_SWEEP_MIN_OUTPUTS", "2"),
];

/// Waits until every sweep of `txids` is broadcast (its fee booked).
async fn wait_for_sweeps_broadcast(app: &TestApp, txids: &[String], worker: &Worker) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let mut all = true;
        for txid in txids {
            let row = app
                .state
                .market
                .store
                .sweep(txid)
                .await
                .expect("sweep")
                .expect("row");
            all &= row.state == SweepState::Broadcast;
        }
        if all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sweeps {txids:?} never broadcast; worker log:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The signed sweeps: their txids and total fee.
async fn signed_sweeps(app: &TestApp) -> (Vec<String>, Piconero) {
    let rows = app
        .state
        .market
        .store
        .sweeps_in(SweepState::Signed, 100)
        .await
        .expect("sweeps");
    let fee = rows
        .iter()
        .try_fold(Piconero::ZERO, |sum, row| sum.checked_add(row.fee))
        .expect("fees");
    (rows.into_iter().map(|row| row.txid).collect(), fee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_sweeping_books_the_fee_once() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    // An empty platform wallet: deposits, and the operator's float that pays for sweeps.
    let platform = net.wallet("platform").await;
    let sender = net.wallet("sender").await;
    net.fund(&sender).await;
    let Some(app) = api_without_worker(Backend::MariaDb, &platform, None).await else {
        return;
    };
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let (client, _) = app.user(name).await;
        let address = client.deposit_address().await.expect("address").address;
        users.push((client, address));
    }
    let own = platform.address().to_string();
    let first = [xmr("0.1"), xmr("0.2"), xmr("0.3")];
    let mut payments: Vec<(&str, Piconero)> = users
        .iter()
        .map(|(_, address)| address.as_str())
        .zip(first)
        .collect();
    payments.push((own.as_str(), xmr("0.05")));
    send_many(&net, &sender, &payments).await;
    mine_until_spendable(&net, &platform).await;
    credit(&app, 3).await;

    // Killed between recording the sweep and relaying it: nothing on the network, nothing
    // booked; the next worker relays that very transaction and books its fee.
    let mut worker = Worker::spawn_with(
        &app,
        &platform,
        None,
        Some("sweep.after_sign"),
        logs.path(),
        "sweep-after-sign",
        &SWEEP_EVERY_10_SECS,
    );
    worker.wait_for_failpoint().await;
    worker.kill();
    let (signed, first_fee) = signed_sweeps(&app).await;
    assert!(!signed.is_empty());
    for txid in &signed {
        let txid = pupero_wallet::Txid::from_hex(txid).expect("txid");
        let known = platform
            .rpc()
            .outgoing_transfer(txid)
            .await
            .expect("wallet");
        assert_eq!(known, None, "nothing was relayed");
    }
    assert_eq!(network_fees(&app).await, Piconero::ZERO);
    let worker = Worker::spawn_with(
        &app,
        &platform,
        None,
        None,
        logs.path(),
        "sweep-restart-1",
        &SWEEP_EVERY_10_SECS,
    );
    wait_for_sweeps_broadcast(&app, &signed, &worker).await;
    drop(worker);
    assert_eq!(network_fees(&app).await, first_fee);
    for txid in &signed {
        let row = app.state.market.store.sweep(txid).await.unwrap().unwrap();
        assert_eq!(row.relay_attempts, 1, "relayed once, by the second worker");
    }

    // Killed right after relaying, before saving the wallet or booking the fee: the next
    // worker finds the sweep sent and books it, without relaying it again.
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    let second = [xmr("0.15"), xmr("0.25")];
    let payments: Vec<(&str, Piconero)> = users
        .iter()
        .map(|(_, address)| address.as_str())
        .zip(second)
        .collect();
    send_many(&net, &sender, &payments).await;
    mine_until_spendable(&net, &platform).await;
    credit(&app, 2).await;
    let mut worker = Worker::spawn_with(
        &app,
        &platform,
        None,
        Some("sweep.after_relay"),
        logs.path(),
        "sweep-after-relay",
        &SWEEP_EVERY_10_SECS,
    );
    worker.wait_for_failpoint().await;
    worker.kill();
    let (signed, second_fee) = signed_sweeps(&app).await;
    assert!(!signed.is_empty());
    let txid = pupero_wallet::Txid::from_hex(&signed[0]).expect("txid");
    let relayed = platform
        .rpc()
        .outgoing_transfer(txid)
        .await
        .expect("wallet");
    assert!(relayed.is_some(), "it was relayed");
    assert_eq!(network_fees(&app).await, first_fee, "not booked yet");
    let worker = Worker::spawn_with(
        &app,
        &platform,
        None,
        None,
        logs.path(),
        "sweep-restart-2",
        &SWEEP_EVERY_10_SECS,
    );
    wait_for_sweeps_broadcast(&app, &signed, &worker).await;
    drop(worker);
    let booked = first_fee.checked_add(second_fee).unwrap();
    assert_eq!(network_fees(&app).await, booked);
    let row = app
        .state
        .market
        .store
        .sweep(&signed[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.relay_attempts, 1, "relayed by the killed worker only");

    // More passes book nothing twice; users never paid.
    for _ in 0..2 {
        app.state.market.sweep().await.expect("sweep pass");
    }
    assert_eq!(network_fees(&app).await, booked);
    for (n, (client, _)) in users.iter().enumerate() {
        let mut expected = first[n];
        if let Some(more) = second.get(n) {
            expected = expected.checked_add(*more).unwrap();
        }
        assert_eq!(client.balance().await.unwrap().available, expected);
    }
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    app.stop().await;
}

/// Runs `rabbitmqctl` on the local broker.
fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {args:?}: {status}");
}

/// The type RabbitMQ gives `queue` (`classic`, `quorum`).
fn queue_type(queue: &str) -> String {
    let output = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "--quiet",
            "--no-table-headers",
            "name",
            "type",
        ])
        .output()
        .expect("rabbitmqctl");
    assert!(output.status.success(), "rabbitmqctl list_queues");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some(queue)).then(|| fields.next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default()
}

/// Whether RabbitMQ answers; panics when it must and does not.
async fn rabbitmq_available() -> bool {
    match Connection::connect(&rabbitmq_url(), ConnectionProperties::default()).await {
        Ok(connection) => {
            let _ = connection.close(200, "bye".into()).await;
            true
        }
        Err(e) if services_required() => panic!("RabbitMQ is required: {e}"),
        Err(e) => {
            eprintln!("skipped: RabbitMQ unavailable ({e})");
            false
        }
    }
}

/// Messages waiting in `queue` (declared passively: it must exist).
async fn messages_in(queue: &str) -> u32 {
    let connection = Connection::connect(&rabbitmq_url(), ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue exists");
    let _ = connection.close(200, "bye".into()).await;
    declared.message_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_go_through_rabbitmq_and_survive_its_restart_and_a_wallet_outage() {
    if !rabbitmq_available().await {
        return;
    }
    let Some(net) = Regtest::start().await else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let receiver = net.wallet("receiver").await;
    let mut platform = net.wallet("platform").await;
    net.fund(&platform).await;
    let rabbit = RabbitSettings {
        url: Secret::new(rabbitmq_url()),
        queue: format!("pupero.test.{}", uuid::Uuid::new_v4().simple()),
        kind: QueueKind::Classic,
    };
    let Some(app) = api_without_worker(Backend::Sqlite, &platform, Some(rabbit.clone())).await
    else {
        return;
    };
    let (alice, _) = app.user("alice").await;
    pupero_market::operator::credit_dev(&app.state.market, "alice", "5")
        .await
        .expect("credit");
    let to = receiver.address().to_string();
    let worker = Worker::spawn(&app, &platform, Some(&rabbit), None, logs.path(), "worker");

    // Through the broker: the API publishes, the worker consumes and pays.
    let first = alice
        .request_withdrawal(&request(&to, "0.25"), "first")
        .await
        .expect("withdrawal");
    let first = wait_for_state(&alice, first.id, "broadcast", &worker).await;
    assert!(
        app.state
            .market
            .store
            .unpublished(10)
            .await
            .unwrap()
            .is_empty(),
        "the outbox was published"
    );

    // A message nobody can read goes to the dead-letter queue, and nothing else happens.
    {
        let connection = Connection::connect(rabbit.url.expose(), ConnectionProperties::default())
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .basic_publish(
                "".into(),
                rabbit.queue.as_str().into(),
                BasicPublishOptions::default(),
                b"not json",
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        let _ = connection.close(200, "bye".into()).await;
    }
    let dead = format!("{}.dead", rabbit.queue);
    let deadline = Instant::now() + STEP_TIMEOUT;
    while messages_in(&dead).await == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing dead-lettered:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The broker restarts while a withdrawal is requested: it waits in the outbox, then goes.
    rabbitmqctl(&["stop_app"]);
    let second = alice
        .request_withdrawal(&request(&to, "0.5"), "second")
        .await
        .expect("requested while the broker is down");
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl(&["start_app"]);
    let second = wait_for_state(&alice, second.id, "broadcast", &worker).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !app
        .state
        .market
        .store
        .unpublished(10)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the outbox was never published after the restart"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The wallet RPC server is down (killed: it loses what it did not save) for a while.
    platform.kill();
    let third = alice
        .request_withdrawal(&request(&to, "0.125"), "third")
        .await
        .expect("requested while the wallet is down");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        alice.withdrawal(third.id).await.unwrap().state,
        pupero_sdk::WithdrawalState::Requested
    );
    platform.start().await;
    let third = wait_for_state(&alice, third.id, "broadcast", &worker).await;

    // Exactly one payment each, and the ledger exact.
    net.mine(1).await;
    for (w, amount) in [(&first, "0.25"), (&second, "0.5"), (&third, "0.125")] {
        let txid = w.txid.as_deref().expect("txid");
        assert_eq!(received(&receiver, txid).await, vec![xmr(amount)], "{txid}");
    }
    assert_eq!(all_received(&receiver).await.len(), 3);
    let paid = paid_with_fees(&[(&first, "0.25"), (&second, "0.5"), (&third, "0.125")]);
    assert_eq!(
        alice.balance().await.unwrap().available,
        xmr("5").checked_sub(paid).unwrap()
    );
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    drop(worker);
    app.stop().await;
    delete_queues(&[&rabbit.queue, &dead]).await;
}

async fn delete_queues(queues: &[&str]) {
    let connection = Connection::connect(&rabbitmq_url(), ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for queue in queues {
        channel
            .queue_delete(
                (*queue).into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await
            .expect("delete the test queue");
    }
    let _ = connection.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rabbitmq_queue_confirms_acknowledges_dead_letters_and_redeclares() {
    a_queue_confirms_acknowledges_dead_letters_and_redeclares(QueueKind::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_queue_confirms_acknowledges_dead_letters_and_redeclares() {
    a_queue_confirms_acknowledges_dead_letters_and_redeclares(QueueKind::Quorum).await;
}

async fn a_queue_confirms_acknowledges_dead_letters_and_redeclares(kind: QueueKind) {
    use pupero_market::queue::{RabbitQueue, Settle, WorkMessage, WorkQueue};
    if !rabbitmq_available().await {
        return;
    }
    let name = format!("pupero.test.{}", uuid::Uuid::new_v4().simple());
    let queue = RabbitQueue::new(RabbitSettings {
        url: Secret::new(rabbitmq_url()),
        queue: name.clone(),
        kind,
    });
    let message = |n: i64| WorkMessage {
        outbox_id: n,
        topic: "withdrawal".to_owned(),
        withdrawal_id: uuid::Uuid::now_v7(),
    };
    let wait = Duration::from_secs(10);

    // Confirmed, received, acknowledged: gone from the queue.
    queue.publish(&message(1)).await.expect("publish");
    let expected = match kind {
        QueueKind::Classic => "classic",
        QueueKind::Quorum => "quorum",
    };
    assert_eq!(queue_type(&name), expected);
    let got = queue
        .receive(wait)
        .await
        .expect("receive")
        .expect("a message");
    assert_eq!(got.message.as_ref().map(|m| m.outbox_id), Some(1));
    assert!(!got.redelivered);
    queue.settle(got, Settle::Ack).await.expect("ack");

    // Dead-lettered: kept in `<queue>.dead`, never delivered again.
    queue.publish(&message(2)).await.expect("publish");
    let got = queue
        .receive(wait)
        .await
        .expect("receive")
        .expect("a message");
    queue.settle(got, Settle::DeadLetter).await.expect("reject");
    let dead = queue.dead_letter_queue();
    let deadline = Instant::now() + STEP_TIMEOUT;
    while messages_in(&dead).await == 0 {
        assert!(Instant::now() < deadline, "nothing dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        queue
            .receive(Duration::from_millis(500))
            .await
            .expect("receive")
            .is_none()
    );

    // An operator deletes the queue: publishing declares it again (at most one refusal). Not
    // for a quorum queue: declared again under the same name at once, it takes messages while
    // the broker still removes the old one, and delivers none of them, to old consumers or new
    // (seen with Debian's RabbitMQ in about half the runs); docs/clusters.md says to stop the
    // workers before deleting one. The outbox keeps the work either way.
    if kind == QueueKind::Quorum {
        delete_queues(&[&name, &dead]).await;
        return;
    }
    delete_queues(&[&name]).await;
    let mut published = false;
    for _ in 0..3 {
        if queue.publish(&message(3)).await.is_ok() {
            published = true;
            break;
        }
    }
    assert!(
        published,
        "publishing never recovered after the queue was deleted"
    );
    let deadline = Instant::now() + STEP_TIMEOUT;
    let got = loop {
        match queue.receive(wait).await {
            Ok(Some(got)) => break got,
            Ok(None) => {}
            // The deleted queue cancelled the consumer; the next call consumes anew.
            Err(e) => eprintln!("receive: {e}"),
        }
        assert!(Instant::now() < deadline, "the consumer never recovered");
    };
    assert_eq!(got.message.as_ref().map(|m| m.outbox_id), Some(3));
    queue.settle(got, Settle::Ack).await.expect("ack");
    delete_queues(&[&name, &dead]).await;
}
