//! A cluster on one MariaDB database, as [docs/clusters.md] describes it: two stateless API
//! processes (`pupero serve`, without the wallet jobs) behind a gateway whose upstream lists
//! name both for every role, and two wallet workers (`pupero worker`): one holds the lease,
//! the other stands by. Everything runs as child processes of the `pupero` binary over a
//! private regtest network, and clients reach it only through the gateway, with the SDK.
//!
//! Users funded by real deposits trade with each other concurrently and withdraw. Mid-run an
//! API process and the worker holding the lease are SIGKILLed. Clients do what a real client
//! does: a request that failed without an answer (no connection, the gateway's 502) is sent
//! again with the same `Idempotency-Key`. Then the standby takes the lease and pays every
//! withdrawal; each is paid once on chain, the ledger holds, reconciliation is ok and every
//! balance is what the test computes from deposits, trades and withdrawals.
//!
//! [docs/clusters.md]: ../../../docs/clusters.md

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use pupero_core::{Piconero, SignedPiconero};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_market::Market;
use pupero_sdk::{Client, OpenTradeRequest, TradeState, TradeView, Withdrawal, WithdrawalState};
use pupero_server::Settings;
use pupero_wallet::testing::{Regtest, TestWallet};
use pupero_wallet::{OutgoingState, SubaddressIndex, WalletRpc};

use crate::regtest::{CONFIRMATIONS, request, sum, xmr};
use crate::support::{PASSWORD, sell_offer};
use crate::sweeps::{mine_until_spendable, send_many};

/// The shortest lease, so that the standby takes over soon after the holder dies.
const LEASE_SECS: &str = "10";

/// The longest wait for anything the test waits for: a process to start, deposits to be
/// credited, a lease to run out and a worker pass (at most `WITHDRAWAL_INTERVAL`, 10 s) to
/// follow, a block to be seen.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiting test looks again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the test looks whether it is time to kill: trades take tens of milliseconds, and
/// the kill should land among them.
const KILL_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A client's pause before it sends a failed request again: the gateway has already moved on
/// to a live upstream, so one short pause is enough.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The traders, and what each deposits. Each sells to the next in the ring and buys from the
/// one before, so nobody has more than the two open trades a new account may.
const TRADERS: [(&str, &str); 4] = [
    ("alice", "1.5"),
    ("bob", "2"),
    ("carol", "2.5"),
    ("dave", "3"),
];

/// Trades each seller–buyer pair makes, one after the other (the pairs run concurrently).
const TRADES_PER_PAIR: usize = 8;

/// XMR per trade, the offers' minimum.
const TRADE_AMOUNT: &str = "0.1";

/// The offers' fixed price.
const PRICE: &str = "150";

/// Trades completed before the kill: the rest run through it.
const KILL_AFTER_TRADES: usize = 8;

/// Withdrawals (trader, XMR) requested and broadcast before the kill, still unconfirmed when
/// the active worker dies.
const BEFORE_KILL: [(usize, &str); 3] = [(0, "0.3"), (1, "0.2"), (2, "0.1")];

/// Withdrawals requested right after the kill, while no worker holds the lease.
const AFTER_KILL: [(usize, &str); 2] = [(3, "0.25"), (0, "0.15")];

/// The gateway's upstream lists, one per role.
const UPSTREAM_VARS: [&str; 4] = [
    "PUPERO_UPSTREAM_AUTH",
    "PUPERO_UPSTREAM_OFFERS",
    "PUPERO_UPSTREAM_LEDGER",
    "PUPERO_UPSTREAM_WALLET",
];

/// A `pupero` child process writing to its own log; SIGKILLed when dropped.
pub(crate) struct Process {
    pub(crate) name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(args: &[&str], name: &str, logs: &Path, env: &[(&str, String)]) -> Process {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pupero"));
        command
            .args(args)
            .env_clear()
            .env("PUPERO_MODE", "dev")
            .env("PUPERO_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start pupero");
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address the process logged it listens on, once it did.
    pub(crate) async fn address(&mut self) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let log = self.log();
            let address = log
                .lines()
                .find(|l| l.contains("listening"))
                .and_then(|l| l.split("address=").nth(1))
                .and_then(|rest| rest.split_whitespace().next());
            if let Some(address) = address {
                return address.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{log}", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{} never listened:\n{log}",
                self.name
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// SIGKILL, and reaped.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings every process of one deployment on `database_url` (migrated already: every
/// process only checks the schema, as on a cluster) and `platform`'s wallet shares.
/// The workers' metrics token.
const METRICS_TOKEN: &str = "cluster-metrics-token";

pub(crate) fn deployment_env(
    database_url: &str,
    platform: &TestWallet,
) -> Vec<(&'static str, String)> {
    // One secret and one data key for every process, as one deployment has: a token one
    // process issued is good at the others.
    let random = || {
        let [a, b] = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
        format!("{}{}", a.simple(), b.simple())
    };
    let (jwt_secret, data_key) = (random(), random());
    vec![
        ("PUPERO_DATABASE_URL", database_url.to_owned()),
        ("PUPERO_MIGRATE", "check".to_owned()),
        ("PUPERO_JWT_SECRET", jwt_secret),
        ("PUPERO_DATA_KEY", data_key),
        ("PUPERO_MONERO_NETWORK", "regtest".to_owned()),
        ("PUPERO_WALLET_RPC_URL", platform.url().to_owned()),
        ("PUPERO_DEPOSIT_CONFIRMATIONS", CONFIRMATIONS.to_string()),
        ("PUPERO_DEPOSIT_SCAN_SECS", "5".to_owned()),
        ("PUPERO_WORKER_LEASE_SECS", LEASE_SECS.to_owned()),
        // Deposits of at least 1 XMR, nothing to consolidate: only withdrawals spend.
        ("PUPERO_SWEEP_INTERVAL_SECS", "0".to_owned()),
    ]
}

/// The processes of the cluster, and the gateway's URL.
struct Cluster {
    apis: Vec<Process>,
    workers: Vec<Process>,
    gateway: Process,
    url: String,
}

impl Cluster {
    /// Two API processes, two workers and the gateway, on `database_url` (migrated already:
    /// every process only checks the schema, as on a cluster) and `platform`'s wallet.
    async fn start(database_url: &str, platform: &TestWallet, logs: &Path) -> Cluster {
        let common = deployment_env(database_url, platform);
        let api_env: Vec<(&str, String)> = common
            .iter()
            .cloned()
            .chain([
                ("PUPERO_LISTEN", "127.0.0.1:0".to_owned()),
                ("PUPERO_WALLET_WORKER", "off".to_owned()),
                // The gateway, whose `X-Forwarded-For` names the client.
                ("PUPERO_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ])
            .collect();
        let mut apis: Vec<Process> = (0..2)
            .map(|n| Process::spawn(&["serve"], &format!("api-{n}"), logs, &api_env))
            .collect();
        // Workers answer their health and metrics on an address of their own.
        let worker_env: Vec<(&str, String)> = common
            .iter()
            .cloned()
            .chain([("PUPERO_METRICS_TOKEN", METRICS_TOKEN.to_owned())])
            .collect();
        let workers = (0..2)
            .map(|n| {
                Process::spawn(
                    &["worker", "--listen", "127.0.0.1:0"],
                    &format!("worker-{n}"),
                    logs,
                    &worker_env,
                )
            })
            .collect();
        let mut addresses = Vec::new();
        for api in &mut apis {
            addresses.push(api.address().await);
        }
        let list = addresses.join(",");
        let gateway_env: Vec<(&str, String)> = UPSTREAM_VARS
            .into_iter()
            .map(|name| (name, list.clone()))
            .chain([("PUPERO_LISTEN", "127.0.0.1:0".to_owned())])
            .collect();
        let mut gateway = Process::spawn(
            &["serve", "--role", "gateway"],
            "gateway",
            logs,
            &gateway_env,
        );
        let url = format!("http://{}", gateway.address().await);
        let cluster = Cluster {
            apis,
            workers,
            gateway,
            url,
        };
        for address in &addresses {
            cluster.wait_ready(&format!("http://{address}")).await;
        }
        cluster.wait_ready(&cluster.url).await;
        cluster
    }

    /// Waits until `url` (an API process or the gateway: both answer a `ReadinessReport`)
    /// is ready, read through the SDK.
    async fn wait_ready(&self, url: &str) {
        let client = pupero_sdk::Client::new(url.to_owned()).expect("client");
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let status = match client.readyz().await {
                Ok(report) if report.down.is_empty() => return,
                Ok(report) => report.status,
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "{url} never ready ({status}):\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Which worker holds the lease (its index in `workers`), waiting until one of
    /// `candidates` does.
    async fn lease_holder(&self, market: &Market, candidates: &[usize]) -> usize {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let holder = market.worker_lease().await.expect("lease");
            if let Some(holder) = &holder {
                // A worker logs its id when it starts.
                let id = holder.holder.to_string();
                if let Some(n) = candidates
                    .iter()
                    .copied()
                    .find(|n| self.workers[*n].log().contains(&id))
                {
                    return n;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no worker took the lease ({holder:?}):\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Every process's log, for a failure's message.
    fn logs(&self) -> String {
        self.apis
            .iter()
            .chain(&self.workers)
            .chain([&self.gateway])
            .map(|p| format!("--- {} ---\n{}", p.name, p.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether `error` says nothing of whether the request was applied: no answer at all, or the
/// gateway's 502 (its upstream died with the request). A client sends such a request again,
/// with the same idempotency key.
fn is_lost(error: &pupero_sdk::Error) -> bool {
    error.is_transport() || (error.status() == Some(502) && error.code() == Some("UNAVAILABLE"))
}

/// Failed requests sent again, counted for the report.
static RETRIES: AtomicUsize = AtomicUsize::new(0);

/// Runs `call` until it answers, again after each failure [`is_lost`] says may be retried
/// (`call` sends the same request, with the same idempotency key); any other error fails the
/// test.
async fn retried<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, pupero_sdk::Error>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        match call().await {
            Ok(value) => return value,
            Err(e) if is_lost(&e) && Instant::now() < deadline => {
                RETRIES.fetch_add(1, Ordering::Relaxed);
                eprintln!("{what}: {e}; sent again");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => panic!("{what}: {e} (code {:?})", e.code()),
        }
    }
}

/// A trader's client, through the gateway.
struct Trader {
    name: &'static str,
    client: Client,
    deposit: Piconero,
}

/// `pair`'s trades: its seller sells [`TRADE_AMOUNT`] to its buyer on `offer`,
/// [`TRADES_PER_PAIR`] times, each step with its own idempotency key; returns the trades as
/// released, and counts them in `done`.
async fn trade_pair(
    pair: usize,
    seller: &Trader,
    buyer: &Trader,
    offer: uuid::Uuid,
    done: &AtomicUsize,
) -> Vec<TradeView> {
    let open = OpenTradeRequest {
        offer_id: offer,
        amount: xmr(TRADE_AMOUNT),
        price: PRICE.parse().expect("price"),
    };
    let mut trades = Vec::new();
    for n in 0..TRADES_PER_PAIR {
        let keys = ["open", "paid", "release"].map(|step| format!("{step}-{pair}-{n}"));
        let trade = retried(&keys[0], || buyer.client.open_trade(&open, Some(&keys[0]))).await;
        retried(&keys[1], || {
            buyer.client.mark_trade_paid(trade.id, Some(&keys[1]))
        })
        .await;
        let released = retried(&keys[2], || {
            seller.client.release_trade(trade.id, None, Some(&keys[2]))
        })
        .await;
        assert_eq!(released.state, TradeState::Released);
        assert_eq!(released.id, trade.id);
        done.fetch_add(1, Ordering::SeqCst);
        trades.push(released);
    }
    trades
}

/// A withdrawal the test asked for: whose, to which of the receiver's subaddresses, and the
/// key it was asked with.
struct Asked {
    trader: usize,
    amount: &'static str,
    address: String,
    to: SubaddressIndex,
    key: String,
    withdrawal: Withdrawal,
}

/// Asks for `withdrawals` at once, each to a subaddress of its own of `receiver`.
async fn withdraw(
    traders: &[Trader],
    receiver: &TestWallet,
    withdrawals: &[(usize, &'static str)],
    wave: &str,
) -> Vec<Asked> {
    let mut requests = Vec::new();
    for (n, (trader, amount)) in withdrawals.iter().enumerate() {
        let key = format!("withdraw-{wave}-{n}");
        let to = receiver
            .rpc()
            .create_subaddress(0, &key)
            .await
            .expect("subaddress");
        requests.push((*trader, *amount, to, key));
    }
    join_all(
        requests
            .into_iter()
            .map(|(trader, amount, to, key)| async move {
                let body = request(to.address.as_str(), amount);
                let client = &traders[trader].client;
                let withdrawal = retried(&key, || client.request_withdrawal(&body, &key)).await;
                Asked {
                    trader,
                    amount,
                    address: to.address.to_string(),
                    to: to.index,
                    key,
                    withdrawal,
                }
            }),
    )
    .await
}

/// Waits until every withdrawal of `asked` is in `state`, and returns them as they are then.
async fn wait_for(
    traders: &[Trader],
    asked: &[Asked],
    state: WithdrawalState,
    cluster: &Cluster,
) -> Vec<Withdrawal> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let mut now = Vec::new();
        for a in asked {
            let client = &traders[a.trader].client;
            let id = a.withdrawal.id;
            now.push(retried("withdrawal", || client.withdrawal(id)).await);
        }
        if now.iter().all(|w| w.state == state) {
            return now;
        }
        let states: Vec<String> = now.iter().map(|w| w.state.to_string()).collect();
        assert!(
            Instant::now() < deadline,
            "withdrawals are {states:?}, never all {state}:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// What a test of `pupero` processes starts from: a regtest network with the platform's wallet,
/// a funded one that pays deposits and one that receives withdrawals; a fresh MariaDB database,
/// migrated by the test's own view of it (the processes only check), with an admin made as an
/// operator would; and a directory for the processes' logs.
pub(crate) struct Fixture {
    pub(crate) net: Regtest,
    pub(crate) db: TestDatabase,
    pub(crate) logs: tempfile::TempDir,
    pub(crate) platform: TestWallet,
    pub(crate) payer: TestWallet,
    pub(crate) receiver: TestWallet,
    pub(crate) market: std::sync::Arc<Market>,
}

impl Fixture {
    /// The fixture with admin `admin`; `None` when the services are missing and not required.
    pub(crate) async fn start(admin: &str) -> Option<Fixture> {
        let net = Regtest::start().await?;
        let db = TestDatabase::create(Backend::MariaDb).await?;
        let logs = tempfile::tempdir().expect("log dir");
        let (platform, payer, receiver) = tokio::join!(
            net.wallet("platform"),
            net.wallet("payer"),
            net.wallet("receiver")
        );
        net.fund(&payer).await;
        let market = Market::open(Settings::for_database(db.url.clone()).market)
            .await
            .expect("open the database");
        pupero_market::operator::create_user(
            &market,
            admin,
            None,
            PASSWORD,
            pupero_core::Role::Admin,
        )
        .await
        .expect("the admin");
        Some(Fixture {
            net,
            db,
            logs,
            platform,
            payer,
            receiver,
            market,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_and_the_active_worker_die_mid_run_and_nothing_is_lost() {
    let started = Instant::now();
    let Some(Fixture {
        net,
        db,
        logs,
        platform,
        payer: sender,
        receiver,
        market,
    }) = Fixture::start("root").await
    else {
        return;
    };
    let mut cluster = Cluster::start(&db.url, &platform, logs.path()).await;
    let holder = cluster.lease_holder(&market, &[0, 1]).await;
    let standby = 1 - holder;
    let admin = Client::new(&cluster.url).expect("client");
    admin.login("root", PASSWORD).await.expect("admin login");

    // Traders, funded by real deposits that a worker credits.
    let mut traders = Vec::new();
    for (name, deposit) in TRADERS {
        let client = Client::new(&cluster.url).expect("client");
        client
            .register(name, None, PASSWORD)
            .await
            .expect("register");
        client.login(name, PASSWORD).await.expect("login");
        traders.push(Trader {
            name,
            client,
            deposit: xmr(deposit),
        });
    }
    let mut addresses = Vec::new();
    for t in &traders {
        addresses.push(t.client.deposit_address().await.expect("address").address);
    }
    let payments: Vec<(&str, Piconero)> = addresses
        .iter()
        .map(String::as_str)
        .zip(traders.iter().map(|t| t.deposit))
        .collect();
    send_many(&net, &sender, &payments).await;
    mine_until_spendable(&net, &platform).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    for t in &traders {
        while t.client.balance().await.expect("balance").available != t.deposit {
            assert!(
                Instant::now() < deadline,
                "{}'s deposit never credited:\n{}",
                t.name,
                cluster.logs()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
    let mut offers = Vec::new();
    for t in &traders {
        offers.push(
            t.client
                .create_offer(&sell_offer())
                .await
                .expect("offer")
                .id,
        );
    }

    // Withdrawals the active worker broadcasts, and leaves unconfirmed when it dies.
    let mut asked = withdraw(&traders, &receiver, &BEFORE_KILL, "before").await;
    let before = wait_for(&traders, &asked, WithdrawalState::Broadcast, &cluster).await;
    eprintln!(
        "{:.1} s: set up, first withdrawals broadcast",
        started.elapsed().as_secs_f64()
    );

    // The pairs trade concurrently; after a quarter of the trades, one API process and the
    // active worker are SIGKILLed, and more withdrawals are asked for at once.
    let done = AtomicUsize::new(0);
    let pairs = (0..traders.len()).map(|pair| {
        let seller = &traders[pair];
        let buyer = &traders[(pair + 1) % traders.len()];
        trade_pair(pair, seller, buyer, offers[pair], &done)
    });
    let kill = async {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while done.load(Ordering::SeqCst) < KILL_AFTER_TRADES {
            assert!(Instant::now() < deadline, "the trades stalled");
            tokio::time::sleep(KILL_POLL_INTERVAL).await;
        }
        cluster.apis[0].kill();
        cluster.workers[holder].kill();
        eprintln!(
            "{:.1} s: killed an API process and the active worker after {} trades",
            started.elapsed().as_secs_f64(),
            done.load(Ordering::SeqCst)
        );
        withdraw(&traders, &receiver, &AFTER_KILL, "after").await
    };
    let (trades, after) = tokio::join!(join_all(pairs), kill);
    asked.extend(after);
    let trades: Vec<(usize, Vec<TradeView>)> = trades.into_iter().enumerate().collect();
    // Requests whose turn fell on the dead process went to the live one.
    let failovers = cluster.gateway.log().matches("trying the next").count();
    assert!(failovers > 0, "{}", cluster.gateway.log());
    eprintln!(
        "{:.1} s: {} trades done; the gateway failed over {failovers} times, clients sent {} \
         requests again",
        started.elapsed().as_secs_f64(),
        trades.iter().map(|(_, t)| t.len()).sum::<usize>(),
        RETRIES.load(Ordering::Relaxed)
    );

    // The standby takes the lease and pays the rest; the gateway stays ready on one API
    // process.
    assert_eq!(cluster.lease_holder(&market, &[standby]).await, standby);
    cluster.wait_ready(&cluster.url).await;
    let broadcast = wait_for(&traders, &asked, WithdrawalState::Broadcast, &cluster).await;
    for (was, is) in before.iter().zip(&broadcast) {
        assert_eq!(
            was.txid, is.txid,
            "a broadcast withdrawal keeps its transaction"
        );
    }
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    let paid = wait_for(&traders, &asked, WithdrawalState::Confirmed, &cluster).await;
    eprintln!(
        "{:.1} s: every withdrawal confirmed",
        started.elapsed().as_secs_f64()
    );

    // On chain: one payment per withdrawal, to its own subaddress, in its transaction.
    receiver.sync_to(height).await;
    let incoming = receiver
        .rpc()
        .incoming_transfers(0, 0)
        .await
        .expect("incoming");
    assert_eq!(incoming.len(), asked.len(), "{incoming:?}");
    let mut per_tx: BTreeMap<String, (Piconero, Piconero)> = BTreeMap::new();
    for (a, w) in asked.iter().zip(&paid) {
        let txid = w.txid.clone().expect("txid");
        let fee = w.fee.expect("fee");
        let got: Vec<_> = incoming.iter().filter(|t| t.subaddress == a.to).collect();
        assert_eq!(got.len(), 1, "{}: {got:?}", a.key);
        assert_eq!(
            (got[0].txid.to_string(), got[0].amount),
            (txid.clone(), xmr(a.amount))
        );
        let (amounts, fees) = per_tx.entry(txid).or_default();
        *amounts = amounts.checked_add(xmr(a.amount)).expect("sum");
        *fees = fees.checked_add(fee).expect("sum");
    }
    // The platform's wallet sent each transaction once, paying exactly those withdrawals,
    // and holds what was deposited less exactly what they cost.
    for (txid, (amounts, fees)) in &per_tx {
        let id = pupero_wallet::Txid::from_hex(txid).expect("txid");
        let sent = platform.rpc().outgoing_transfer(id).await.expect("wallet");
        let sent = sent.unwrap_or_else(|| panic!("the platform never sent {txid}"));
        assert!(
            matches!(sent.state, OutgoingState::Confirmed { .. }),
            "{sent:?}"
        );
        assert_eq!((sent.amount, sent.fee), (*amounts, *fees), "{txid}");
    }
    let deposited = sum(&traders.iter().map(|t| t.deposit).collect::<Vec<_>>());
    let withdrawn: Vec<Piconero> = per_tx
        .values()
        .map(|(amounts, fees)| amounts.checked_add(*fees).expect("sum"))
        .collect();
    eprintln!(
        "{} withdrawals paid by {} transactions",
        asked.len(),
        per_tx.len()
    );
    let wallet = platform.rpc().balance(0).await.expect("balance");
    assert_eq!(
        wallet.total,
        deposited.checked_sub(sum(&withdrawn)).expect("less")
    );

    // A retried step applies nothing twice: every step and withdrawal asked again with its
    // key gives back what it did the first time.
    for (pair, released) in &trades {
        let seller = &traders[*pair];
        let buyer = &traders[(pair + 1) % traders.len()];
        let open = OpenTradeRequest {
            offer_id: offers[*pair],
            amount: xmr(TRADE_AMOUNT),
            price: PRICE.parse().expect("price"),
        };
        for (n, trade) in released.iter().enumerate() {
            let again = buyer
                .client
                .open_trade(&open, Some(&format!("open-{pair}-{n}")))
                .await
                .expect("open again");
            assert_eq!((again.id, again.state), (trade.id, TradeState::Released));
            let again = seller
                .client
                .release_trade(trade.id, None, Some(&format!("release-{pair}-{n}")))
                .await
                .expect("release again");
            assert_eq!(again, *trade);
        }
    }
    for (a, w) in asked.iter().zip(&paid) {
        let again = traders[a.trader]
            .client
            .request_withdrawal(&request(&a.address, a.amount), &a.key)
            .await
            .expect("withdraw again");
        assert_eq!(again, *w, "{}", a.key);
    }

    // The ledger: balanced, and every balance exactly what deposits, trades and withdrawals
    // make it.
    market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    let mut expected: Vec<Piconero> = traders.iter().map(|t| t.deposit).collect();
    let mut trade_fees = Piconero::ZERO;
    for (pair, released) in &trades {
        let (seller, buyer) = (*pair, (pair + 1) % traders.len());
        for t in released {
            expected[seller] = expected[seller].checked_sub(t.escrowed).expect("covered");
            expected[buyer] = expected[buyer].checked_add(t.buyer_receives).expect("sum");
            trade_fees = trade_fees
                .checked_add(t.seller_fee)
                .and_then(|f| f.checked_add(t.buyer_fee))
                .expect("sum");
        }
    }
    for (a, w) in asked.iter().zip(&paid) {
        let cost = xmr(a.amount).checked_add(w.fee.expect("fee")).expect("sum");
        expected[a.trader] = expected[a.trader].checked_sub(cost).expect("covered");
    }
    for (t, expected) in traders.iter().zip(expected) {
        let balance = retried("balance", || t.client.balance()).await;
        assert_eq!(
            (balance.available, balance.held),
            (expected, Piconero::ZERO),
            "{}",
            t.name
        );
    }

    // Reconciliation: the wallet holds what users own plus the platform's trade fees.
    let r = retried("reconciliation", || admin.admin_reconciliation()).await;
    assert_eq!(r.status, pupero_sdk::ReconciliationStatus::Ok, "{r:?}");
    assert_eq!(r.difference, SignedPiconero::positive(trade_fees), "{r:?}");
    assert_eq!(
        r.platform_fees,
        SignedPiconero::positive(trade_fees),
        "{r:?}"
    );
    assert_eq!(
        (r.withdrawals_in_flight, r.deposits_uncredited_count),
        (0, 0),
        "{r:?}"
    );

    // What an operator scrapes from the worker now holding the lease says the same; a worker
    // serves nothing of the API.
    let worker = format!("http://{}", cluster.workers[standby].address().await);
    let http = reqwest::Client::new();
    let scraped = crate::support::scrape(&worker, METRICS_TOKEN).await;
    for sample in [
        r#"pupero_reconciliation_ok{account="0"} 1"#,
        "pupero_worker_lease_held 1",
        r#"pupero_withdrawals{state="confirmed"} "#,
    ] {
        assert!(scraped.contains(sample), "{sample} missing:\n{scraped}");
    }
    for name in crate::prometheus::WALLET_JOB_METRICS {
        assert!(
            scraped.contains(&format!("\n{name}{{")),
            "{name} missing:\n{scraped}"
        );
    }
    for (path, status) in [
        ("/readyz", 200),
        ("/api/v1/offers", 404),
        ("/api/v1/balance", 404),
    ] {
        let got = http
            .get(format!("{worker}{path}"))
            .send()
            .await
            .expect("worker");
        assert_eq!(got.status().as_u16(), status, "{path}");
    }
    eprintln!("{:.1} s: done", started.elapsed().as_secs_f64());

    drop(cluster);
    db.cleanup().await;
}
