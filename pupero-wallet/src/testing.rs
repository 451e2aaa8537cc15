//! Test support shared by Pupero's crates (feature `testing`): a private Monero regtest network.
//! Not for production code.
//!
//! [`Regtest::start`] runs `monerod --regtest --offline --fixed-difficulty 1` on free local
//! ports with its chain in a temporary directory; [`Regtest::wallet`] runs one
//! `monero-wallet-rpc` per wallet (the wallet RPC server has one wallet open at a time) with a
//! new, empty wallet. Blocks are mined on demand with the daemon's `generateblocks`, so time on
//! the chain only moves when a test mines. Every process is killed when its owner drops.
//!
//! ```no_run
//! # async fn example() {
//! use pupero_wallet::WalletRpc;
//! use pupero_wallet::testing::Regtest;
//!
//! let Some(net) = Regtest::start().await else { return }; // skipped: no monerod here
//! let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
//! net.fund(&user).await; // spendable coins
//! let deposit = platform.rpc().create_subaddress(0, "alice").await.unwrap();
//! # }
//! ```
//!
//! Regtest wallets use **mainnet** addresses ([`REGTEST_NETWORK`]), although the daemon calls
//! its network "fakechain".

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pupero_core::{MoneroAddress, Network};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Effect;
use crate::wire::{self, GenerateBlocksParams, GenerateBlocksResult, Request};
use crate::{Balance, HttpWalletRpc, RpcLogin, WalletRpc, WalletRpcConfig};

mod sim;

pub use sim::{
    FaultPlan, SIM_FEE_BASE, SIM_FEE_PER_OUTPUT, SIM_MAX_SUBADDRESSES, SimWallet, outside_address,
};

/// The network whose addresses regtest wallets use.
pub const REGTEST_NETWORK: Network = Network::Mainnet;

/// Blocks on top of a block reward before it can be spent (Monero's
/// `CRYPTONOTE_MINED_MONEY_UNLOCK_WINDOW`).
pub const COINBASE_UNLOCK_BLOCKS: u64 = 60;

/// Blocks after which an ordinary transfer can be spent (`CRYPTONOTE_DEFAULT_TX_SPENDABLE_AGE`).
pub const TRANSFER_UNLOCK_BLOCKS: u64 = 10;

/// Block rewards [`Regtest::fund`] mines to a wallet. A transaction needs 15 decoys for its
/// ring of 16, picked among spendable outputs of the chain; on a young regtest chain the funded
/// wallet's own rewards are most of them, so it gets comfortably more than 15 (and about
/// 700 XMR).
pub const FUNDING_BLOCKS: u64 = 20;

/// Where [`Regtest::mine`] sends its block rewards: a mainnet address whose wallet was deleted
/// right after it was made, so no test wallet ever receives them.
pub const BURN_ADDRESS: &str = "48e5vpZiM3QP6aPm6gZYm4Yp4L4kiGsTk98PHKAg5uTXf5kp8887ExeE1eUeKAUhGx4hzaiPR9N3f6cxdE9nHzxF8N4ESEi";

/// How long a process may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Tries to start a process on freshly picked ports: another test may take a port between the
/// moment it is found free and the moment the process binds it.
const START_ATTEMPTS: u32 = 3;

/// How long one `generateblocks` call may take (about 50 ms a block on a slow machine).
const MINE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long `create_wallet` may take (about 2.5 s: it derives and writes the keys).
const CREATE_WALLET_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a starting process is asked whether it is ready.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The last lines of a process's log shown when it fails.
const LOG_TAIL_LINES: usize = 30;

/// Whether a missing service must fail the run instead of skipping the test: under `CI` or
/// `PUPERO_REQUIRE_SERVICES=1`.
pub fn services_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Why the regtest network cannot run on this machine.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// A Monero program is not installed.
    #[error("{program} not found (set {variable} or put it on PATH; Debian's package is `monero`)")]
    MissingProgram {
        /// The program's name.
        program: &'static str,
        /// The environment variable that may name it.
        variable: &'static str,
    },
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
struct Process {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, program: &Path, args: &[String], log: PathBuf) -> Process {
        let output = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let errors = output.try_clone().expect("clone log file handle");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        Process { child, name, log }
    }

    /// `Some(reason)` when the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.name)),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[start..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private regtest network: one `monerod`, and the wallets made with [`Regtest::wallet`].
#[derive(Debug)]
pub struct Regtest {
    daemon: Process,
    daemon_rpc: String,
    daemon_address: String,
    wallet_rpc_program: PathBuf,
    http: reqwest::Client,
    next_id: std::sync::atomic::AtomicU64,
    // Dropped after `daemon` (fields drop in order): the daemon is stopped before its chain is
    // deleted.
    dir: tempfile::TempDir,
}

/// A wallet of the regtest network, served by its own `monero-wallet-rpc`.
#[derive(Debug)]
pub struct TestWallet {
    rpc: HttpWalletRpc,
    address: MoneroAddress,
    url: String,
    login: Option<RpcLogin>,
    name: String,
    /// `None` while killed ([`TestWallet::kill`]).
    process: Option<Process>,
    /// How to start it again on the same port, opening its wallet file.
    restart: Restart,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Restart {
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    http: reqwest::Client,
}

impl TestWallet {
    /// The client of its wallet RPC server.
    pub fn rpc(&self) -> &HttpWalletRpc {
        &self.rpc
    }

    /// Its primary address (account 0).
    pub fn address(&self) -> &MoneroAddress {
        &self.address
    }

    /// The base URL of its wallet RPC server, to configure another client with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The wallet's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration of its client ([`Self::rpc`]), to make another one.
    pub fn config(&self) -> WalletRpcConfig {
        WalletRpcConfig {
            login: self.login.clone(),
            ..WalletRpcConfig::new(&self.url, REGTEST_NETWORK)
        }
    }

    /// Kills its `monero-wallet-rpc` (SIGKILL: whatever the wallet did not save is lost); it
    /// stays down until [`TestWallet::start`].
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts its `monero-wallet-rpc` again after [`TestWallet::kill`], on the same port,
    /// opening the wallet file as it was last saved.
    ///
    /// # Panics
    /// When it is running, or does not come up.
    pub async fn start(&mut self) {
        assert!(self.process.is_none(), "the wallet RPC server is running");
        let mut process = Process::spawn(
            "monero-wallet-rpc",
            &self.restart.program,
            &self.restart.args,
            self.restart.log.clone(),
        );
        let endpoint = format!("{}/json_rpc", self.url);
        let http = self.restart.http.clone();
        if let Err(why) = wait_until_ready(&mut process, || wallet_answers(&http, &endpoint)).await
        {
            panic!(
                "monero-wallet-rpc did not restart: {why}\n{}",
                process.log_tail()
            );
        }
        self.process = Some(process);
    }

    /// Its mnemonic seed (25 words), to restore it with [`Regtest::restore_wallet`].
    ///
    /// # Panics
    /// When the wallet does not answer.
    pub async fn seed(&self) -> String {
        let result: QueryKeyResult = self
            .rpc
            .call(
                "query_key",
                QueryKeyParams {
                    key_type: "mnemonic",
                },
                CREATE_WALLET_TIMEOUT,
                Effect::Read,
            )
            .await
            .expect("query_key mnemonic");
        result.key
    }

    /// Refreshes the wallet until it has scanned `height` blocks.
    ///
    /// # Panics
    /// When the wallet fails, or does not get there within a minute.
    pub async fn sync_to(&self, height: u64) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.rpc.refresh().await.expect("refresh");
            let at = self.rpc.height().await.expect("wallet height");
            if at >= height {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "wallet {} stuck at height {at}, expected {height}",
                self.name
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// The program `name`, from `variable` or the `PATH`.
fn find_program(name: &'static str, variable: &'static str) -> Result<PathBuf, Unavailable> {
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or(Unavailable::MissingProgram {
            program: name,
            variable,
        })
}

/// A local TCP port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

/// One JSON-RPC call to `url`.
async fn json_rpc<P: Serialize, R: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    id: u64,
    method: &str,
    params: P,
    timeout: Duration,
) -> crate::Result<R> {
    let transport = |e: reqwest::Error| crate::Error::Unavailable(format!("{method}: {e}"));
    let response = http
        .post(url)
        .json(&Request::new(id, method, params))
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?
        .error_for_status()
        .map_err(transport)?;
    let body = response.bytes().await.map_err(transport)?;
    wire::decode(method, &body, Effect::Read)
}

/// Polls `ready` until it answers, the process exits, or [`START_TIMEOUT`] passes.
async fn wait_until_ready<F, Fut>(process: &mut Process, mut ready: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(why) = process.exited() {
            return Err(why);
        }
        if ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not answer within {} s",
                process.name,
                START_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[derive(Serialize)]
struct Empty {}

#[derive(serde::Deserialize)]
struct DaemonInfo {
    status: String,
}

/// Whether the daemon at `url` answers `get_info` with status OK.
async fn daemon_answers(http: &reqwest::Client, url: &str) -> bool {
    json_rpc::<_, DaemonInfo>(http, url, 0, "get_info", Empty {}, POLL_TIMEOUT)
        .await
        .is_ok_and(|info| info.status == "OK")
}

/// Whether the wallet RPC server at `url` answers `get_version`, or asks for a login.
async fn wallet_answers(http: &reqwest::Client, url: &str) -> bool {
    let response = http
        .post(url)
        .json(&Request::new(0, "get_version", Empty {}))
        .timeout(POLL_TIMEOUT)
        .send()
        .await;
    response
        .is_ok_and(|r| r.status().is_success() || r.status() == reqwest::StatusCode::UNAUTHORIZED)
}

#[derive(Serialize)]
struct CreateWalletParams<'a> {
    filename: &'a str,
    password: &'a str,
    language: &'a str,
}

/// `restore_deterministic_wallet`.
#[derive(Serialize)]
struct RestoreWalletParams<'a> {
    filename: &'a str,
    password: &'a str,
    seed: &'a str,
    restore_height: u64,
    language: &'a str,
}

/// `query_key`.
#[derive(Serialize)]
struct QueryKeyParams {
    key_type: &'static str,
}

/// What `query_key` answers.
#[derive(Deserialize)]
struct QueryKeyResult {
    key: String,
}

/// How [`Regtest::start_wallet`] makes its wallet.
enum Creation<'a> {
    /// A new wallet with a new seed.
    New,
    /// The wallet of `seed`, scanning from `height`.
    Restore { seed: &'a str, height: u64 },
}

impl Regtest {
    /// A new regtest network, or `None` when the Monero programs are not installed and the run
    /// does not require them (the skip is printed).
    ///
    /// # Panics
    /// When the programs are required (CI or `PUPERO_REQUIRE_SERVICES=1`) but missing, or
    /// the daemon does not start.
    pub async fn start() -> Option<Regtest> {
        match Regtest::try_start().await {
            Ok(net) => Some(net),
            Err(why) => {
                assert!(
                    !services_required(),
                    "monerod is required (CI or PUPERO_REQUIRE_SERVICES=1) but unavailable: {why}"
                );
                eprintln!("SKIPPED: Monero regtest unavailable: {why}");
                None
            }
        }
    }

    /// A new regtest network, or why the Monero programs cannot run here.
    ///
    /// # Panics
    /// When the programs are installed but the daemon does not start.
    pub async fn try_start() -> Result<Regtest, Unavailable> {
        let monerod = find_program("monerod", "PUPERO_MONEROD")?;
        let wallet_rpc_program = find_program("monero-wallet-rpc", "PUPERO_MONERO_WALLET_RPC")?;
        let dir = tempfile::Builder::new()
            .prefix("pupero-regtest-")
            .tempdir()
            .expect("temp dir");
        let http = http_client();
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let rpc_port = free_port();
            let data_dir = dir.path().join(format!("monerod-{attempt}"));
            let args = [
                "--regtest",
                "--offline",
                "--fixed-difficulty",
                "1",
                "--non-interactive",
                "--no-igd",
                "--no-zmq",
                "--disable-dns-checkpoints",
                "--check-updates",
                "disabled",
                "--log-level",
                "0",
                "--max-concurrency",
                "1",
                // Generating a TLS certificate takes seconds; everything here is local.
                "--rpc-ssl",
                "disabled",
                "--rpc-bind-ip",
                "127.0.0.1",
                "--p2p-bind-ip",
                "127.0.0.1",
            ]
            .map(String::from)
            .into_iter()
            .chain([
                "--data-dir".to_owned(),
                data_dir.display().to_string(),
                "--log-file".to_owned(),
                data_dir.join("monerod.log").display().to_string(),
                "--rpc-bind-port".to_owned(),
                rpc_port.to_string(),
                "--p2p-bind-port".to_owned(),
                free_port().to_string(),
            ])
            .collect::<Vec<_>>();
            std::fs::create_dir_all(&data_dir).expect("daemon data dir");
            let log = dir.path().join(format!("monerod-{attempt}.out"));
            let mut daemon = Process::spawn("monerod", &monerod, &args, log);
            let daemon_rpc = format!("http://127.0.0.1:{rpc_port}/json_rpc");
            let ready = wait_until_ready(&mut daemon, || daemon_answers(&http, &daemon_rpc)).await;
            match ready {
                Ok(()) => {
                    return Ok(Regtest {
                        daemon,
                        daemon_rpc,
                        daemon_address: format!("127.0.0.1:{rpc_port}"),
                        wallet_rpc_program,
                        http,
                        next_id: std::sync::atomic::AtomicU64::new(1),
                        dir,
                    });
                }
                Err(why) => failures.push(format!("{why}\n{}", daemon.log_tail())),
            }
        }
        panic!("monerod did not start:\n{}", failures.join("\n---\n"));
    }

    /// The daemon's RPC address (`127.0.0.1:port`), as `--daemon-address` takes it.
    pub fn daemon_address(&self) -> &str {
        &self.daemon_address
    }

    /// A new, empty wallet named `name`, served by its own `monero-wallet-rpc` started with
    /// `--disable-rpc-login`.
    ///
    /// # Panics
    /// When the wallet RPC server does not start or cannot create the wallet.
    pub async fn wallet(&self, name: &str) -> TestWallet {
        self.start_wallet(name, None, Creation::New).await
    }

    /// The wallet of `seed` (a [`TestWallet::seed`]) restored as `name`, scanning the chain
    /// from `height`, served by its own `monero-wallet-rpc` as [`Regtest::wallet`]'s are. Like
    /// any wallet restored from its seed, it has made no subaddress yet.
    ///
    /// # Panics
    /// When the wallet RPC server does not start or cannot restore the wallet.
    pub async fn restore_wallet(&self, name: &str, seed: &str, height: u64) -> TestWallet {
        self.start_wallet(name, None, Creation::Restore { seed, height })
            .await
    }

    /// A new, empty wallet named `name`, served by its own `monero-wallet-rpc` started with
    /// `--rpc-login username:password` (HTTP digest authentication); its client logs in.
    ///
    /// # Panics
    /// When the wallet RPC server does not start or cannot create the wallet.
    pub async fn wallet_with_login(
        &self,
        name: &str,
        username: &str,
        password: &str,
    ) -> TestWallet {
        let login = RpcLogin::new(username, password);
        self.start_wallet(name, Some(login), Creation::New).await
    }

    async fn start_wallet(
        &self,
        name: &str,
        login: Option<RpcLogin>,
        creation: Creation<'_>,
    ) -> TestWallet {
        let dir = tempfile::Builder::new()
            .prefix("pupero-wallet-")
            .tempdir_in(self.dir.path())
            .expect("wallet dir");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let common = [
                "--daemon-address",
                &self.daemon_address,
                "--trusted-daemon",
                // Generating a TLS certificate (for its server, and for the daemon connection
                // each time it opens) takes seconds; everything here is local.
                "--rpc-ssl",
                "disabled",
                "--daemon-ssl",
                "disabled",
                "--rpc-bind-ip",
                "127.0.0.1",
                "--no-dns",
                "--non-interactive",
                "--log-level",
                "0",
            ]
            .map(String::from)
            .into_iter()
            .chain(match &login {
                None => vec!["--disable-rpc-login".to_owned()],
                Some(login) => vec![
                    "--rpc-login".to_owned(),
                    format!("{}:{}", login.username(), login.password()),
                ],
            })
            .chain([
                "--rpc-bind-port".to_owned(),
                port.to_string(),
                // The default ring database is shared by every wallet of the user.
                "--shared-ringdb-dir".to_owned(),
                dir.path().join("ringdb").display().to_string(),
                "--log-file".to_owned(),
                dir.path().join("wallet-rpc.log").display().to_string(),
            ])
            .collect::<Vec<_>>();
            let args: Vec<String> = common
                .iter()
                .cloned()
                .chain(["--wallet-dir".to_owned(), dir.path().display().to_string()])
                .collect();
            let restart = Restart {
                program: self.wallet_rpc_program.clone(),
                args: common
                    .into_iter()
                    .chain([
                        "--wallet-file".to_owned(),
                        dir.path().join(name).display().to_string(),
                        "--password".to_owned(),
                        String::new(),
                    ])
                    .collect(),
                log: dir.path().join("wallet-rpc-restarted.out"),
                http: self.http.clone(),
            };
            let log = dir.path().join(format!("wallet-rpc-{attempt}.out"));
            let mut process =
                Process::spawn("monero-wallet-rpc", &self.wallet_rpc_program, &args, log);
            let url = format!("http://127.0.0.1:{port}");
            let endpoint = format!("{url}/json_rpc");
            let ready =
                wait_until_ready(&mut process, || wallet_answers(&self.http, &endpoint)).await;
            if let Err(why) = ready {
                failures.push(format!("{why}\n{}", process.log_tail()));
                continue;
            }
            let config = WalletRpcConfig {
                login: login.clone(),
                ..WalletRpcConfig::new(&url, REGTEST_NETWORK)
            };
            let rpc = HttpWalletRpc::with_config(config).expect("wallet client");
            let created: crate::Result<serde::de::IgnoredAny> = match creation {
                Creation::New => {
                    let params = CreateWalletParams {
                        filename: name,
                        password: "",
                        language: "English",
                    };
                    rpc.call(
                        "create_wallet",
                        params,
                        CREATE_WALLET_TIMEOUT,
                        Effect::Write,
                    )
                    .await
                }
                Creation::Restore { seed, height } => {
                    let params = RestoreWalletParams {
                        filename: name,
                        password: "",
                        seed,
                        restore_height: height,
                        language: "English",
                    };
                    rpc.call(
                        "restore_deterministic_wallet",
                        params,
                        CREATE_WALLET_TIMEOUT,
                        Effect::Write,
                    )
                    .await
                }
            };
            // The port was free when picked, but another test's wallet RPC server may have
            // taken it first, ours then failing to bind while theirs answered the probes: the
            // wallet must be in our directory, else it is the other server's (or its refusal).
            let ours = dir.path().join(format!("{name}.keys")).exists();
            match created {
                Ok(_) if ours => {}
                Err(e) if ours => panic!("create_wallet {name}: {e}\n{}", process.log_tail()),
                outcome => {
                    failures.push(format!(
                        "attempt {attempt}: port {port} answered for another wallet RPC server \
                         ({outcome:?})\n{}",
                        process.log_tail()
                    ));
                    continue;
                }
            }
            let address = rpc.primary_address(0).await.expect("wallet address");
            return TestWallet {
                rpc,
                address,
                url,
                login,
                name: name.to_owned(),
                process: Some(process),
                restart,
                _dir: dir,
            };
        }
        panic!(
            "monero-wallet-rpc did not start:\n{}",
            failures.join("\n---\n")
        );
    }

    async fn daemon_call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
        timeout: Duration,
    ) -> R {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match json_rpc(&self.http, &self.daemon_rpc, id, method, params, timeout).await {
            Ok(result) => result,
            Err(e) => panic!("monerod {method}: {e}\n{}", self.daemon.log_tail()),
        }
    }

    /// Mines `blocks` blocks whose rewards go to `address`, and returns the chain's height
    /// (its number of blocks, as [`WalletRpc::height`] counts). Every transaction relayed
    /// before is in the first block ([`Regtest::wait_until_pool_minable`]).
    ///
    /// # Panics
    /// When the daemon refuses (e.g. `blocks` is 0).
    pub async fn mine_to(&self, address: &MoneroAddress, blocks: u64) -> u64 {
        self.wait_until_pool_minable().await;
        let params = GenerateBlocksParams {
            amount_of_blocks: blocks,
            wallet_address: address.as_str(),
        };
        let result: GenerateBlocksResult = self
            .daemon_call("generateblocks", params, MINE_TIMEOUT)
            .await;
        result.height + 1
    }

    /// Mines `blocks` blocks whose rewards go to nobody's wallet ([`BURN_ADDRESS`]): time
    /// passes on the chain, confirming transfers, and no test wallet's balance changes.
    pub async fn mine(&self, blocks: u64) -> u64 {
        let burn = MoneroAddress::parse(BURN_ADDRESS, REGTEST_NETWORK).expect("burn address");
        self.mine_to(&burn, blocks).await
    }

    /// Waits until the daemon would mine every transaction in its pool.
    ///
    /// A transaction a wallet relays enters the daemon's pool as its own (`local`: the stem
    /// phase of Dandelion++), which a block template leaves out; the daemon makes it minable
    /// (fluffs it, with no peer to stem to) a moment later, on its network thread, after the
    /// relay has answered. A block mined in that moment leaves the transaction in the pool:
    /// on a busy machine, a test that relays, mines one block and expects the transaction
    /// mined would find it in the pool now and then (about one time in ten in a tight loop).
    ///
    /// # Panics
    /// When the daemon fails, or a transaction stays unminable for a minute.
    pub async fn wait_until_pool_minable(&self) {
        #[derive(serde::Deserialize)]
        struct Pool {
            #[serde(default)]
            transactions: Vec<PoolTx>,
        }
        #[derive(serde::Deserialize)]
        struct PoolTx {
            id_hash: String,
            relayed: bool,
            do_not_relay: bool,
        }
        let url = format!("http://{}/get_transaction_pool", self.daemon_address);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let pool: Pool = self
                .http
                .post(&url)
                .json(&Empty {})
                .timeout(POLL_TIMEOUT)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("monerod get_transaction_pool")
                .json()
                .await
                .expect("monerod get_transaction_pool answer");
            let waiting: Vec<&str> = pool
                .transactions
                .iter()
                .filter(|tx| !tx.relayed && !tx.do_not_relay)
                .map(|tx| tx.id_hash.as_str())
                .collect();
            if waiting.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon never made {waiting:?} minable\n{}",
                self.daemon.log_tail()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Empties the daemon's transaction pool, as if the network had dropped every unmined
    /// transaction.
    pub async fn flush_txpool(&self) {
        #[derive(serde::Deserialize)]
        struct Status {
            status: String,
        }
        let done: Status = self
            .daemon_call("flush_txpool", Empty {}, POLL_TIMEOUT)
            .await;
        assert_eq!(done.status, "OK", "flush_txpool");
    }

    /// The chain's height (its number of blocks).
    pub async fn height(&self) -> u64 {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let count: Count = self
            .daemon_call("get_block_count", Empty {}, POLL_TIMEOUT)
            .await;
        count.count
    }

    /// Gives `wallet` spendable coins: mines [`FUNDING_BLOCKS`] rewards to it, then
    /// [`COINBASE_UNLOCK_BLOCKS`] more to nobody so that they unlock, and waits until the wallet
    /// has seen them. Returns its balance.
    pub async fn fund(&self, wallet: &TestWallet) -> Balance {
        self.mine_to(wallet.address(), FUNDING_BLOCKS).await;
        let height = self.mine(COINBASE_UNLOCK_BLOCKS).await;
        wallet.sync_to(height).await;
        let balance = wallet.rpc().balance(0).await.expect("balance");
        assert!(
            !balance.unlocked.is_zero(),
            "funding {} left {balance:?}",
            wallet.name()
        );
        balance
    }
}

/// How long one readiness probe or small daemon call may take.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

fn to_monero(network: Network) -> monero::Network {
    match network {
        Network::Mainnet => monero::Network::Mainnet,
        Network::Testnet => monero::Network::Testnet,
        Network::Stagenet => monero::Network::Stagenet,
    }
}

/// The integrated address of standard `address` with `payment_id`: anyone can make one from
/// a published address, and it pays that address.
///
/// # Panics
/// When `address` is not a standard address.
pub fn integrated_address(address: &MoneroAddress, payment_id: [u8; 8]) -> MoneroAddress {
    use std::str::FromStr as _;
    let standard = monero::Address::from_str(address.as_str()).expect("a valid address");
    assert_eq!(
        standard.addr_type,
        monero::AddressType::Standard,
        "{address} is not a standard address"
    );
    let integrated = monero::Address::integrated(
        to_monero(address.network()),
        standard.public_spend,
        standard.public_view,
        monero::util::address::PaymentId(payment_id),
    );
    MoneroAddress::parse(&integrated.to_string(), address.network()).expect("a valid address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burn_address_is_a_regtest_address() {
        let burn = MoneroAddress::parse(BURN_ADDRESS, REGTEST_NETWORK).unwrap();
        assert_eq!(burn.kind(), pupero_core::AddressKind::Standard);
    }

    #[test]
    fn a_missing_program_is_unavailable() {
        let missing = find_program("pupero-no-such-program", "PUPERO_NO_SUCH_PROGRAM");
        assert!(matches!(
            missing,
            Err(Unavailable::MissingProgram {
                program: "pupero-no-such-program",
                ..
            })
        ));
    }
}
