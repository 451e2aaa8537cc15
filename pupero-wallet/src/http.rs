//! [`HttpWalletRpc`]: the [`WalletRpc`] port over `monero-wallet-rpc`'s JSON-RPC 2.0
//! (`POST /json_rpc`), through one actor task that owns the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pupero_core::{MoneroAddress, Network, Piconero};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::digest::{Challenge, DigestAuth, RpcLogin};
use crate::error::{Effect, from_transport};
use crate::wire::{
    self, AccountParams, BalanceResult, CreateAddressParams, CreateAddressResult, Destination,
    GetAddressIndexParams, GetAddressIndexResult, GetAddressParams, GetAddressResult,
    GetAddressesResult, GetTransferByTxidParams, GetTransferByTxidResult, GetTransfersParams,
    GetTransfersResult, HeightResult, IncomingTransfersParams, IncomingTransfersResult, NoParams,
    RefreshResult, RelayTxParams, RelayTxResult, Request, RescanParams, SweepAllParams,
    SweepAllResult, TransferParams, TransferResult, WireAddress,
};
use crate::{
    Balance, BuiltTransfer, Error, IncomingTransfer, MAX_DESTINATIONS, OutgoingStatus, OwnedOutput,
    Priority, Refreshed, Result, SentTransfer, Subaddress, SubaddressIndex, TxMetadata, Txid,
    WalletRpc,
};

/// The longest a connection to the wallet may take. It runs on this machine (or next to it), so
/// a slow connect means it is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a read may take: reads are answered from the wallet's memory in milliseconds,
/// but the wallet may be busy with its own background refresh.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest building, relaying or sweeping may take: the wallet fetches ring members from
/// its daemon, builds and signs the transaction (a sweep of many outputs takes seconds) and
/// hands it to the daemon.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest a refresh may take: after a long stop the wallet scans every block it missed.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest saving the wallet file may take (a large wallet writes megabytes).
pub const STORE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest response read. `monero-wallet-rpc` itself stops queueing a response at 25 MiB
/// (`--rpc-response-soft-limit`); a longer one is a misbehaving peer.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Calls waiting for the actor. The wallet serves one at a time; callers beyond this wait to
/// enqueue (back-pressure) rather than pile up without bound.
pub const MAX_QUEUED_CALLS: usize = 64;

/// The path of the JSON-RPC endpoint (also the digest `uri`).
const JSON_RPC_PATH: &str = "/json_rpc";

/// How long each kind of call may take once it is its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the connection ([`CONNECT_TIMEOUT`]).
    pub connect: Duration,
    /// Reads ([`CALL_TIMEOUT`]).
    pub read: Duration,
    /// `transfer`, building, `relay_tx`, sweeps ([`TRANSFER_TIMEOUT`]).
    pub transfer: Duration,
    /// `refresh` ([`REFRESH_TIMEOUT`]).
    pub refresh: Duration,
    /// `store` ([`STORE_TIMEOUT`]).
    pub store: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: CONNECT_TIMEOUT,
            read: CALL_TIMEOUT,
            transfer: TRANSFER_TIMEOUT,
            refresh: REFRESH_TIMEOUT,
            store: STORE_TIMEOUT,
        }
    }
}

/// Where the wallet RPC server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct WalletRpcConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:18083`.
    pub url: String,
    /// The network of the wallet's addresses. A regtest wallet uses mainnet addresses.
    pub network: Network,
    /// The `--rpc-login` of the server; `None` for a server started with
    /// `--disable-rpc-login`.
    pub login: Option<RpcLogin>,
    /// Per-call timeouts.
    pub timeouts: Timeouts,
}

impl WalletRpcConfig {
    /// The server at `url` with a wallet on `network`, no login, the default timeouts.
    pub fn new(url: impl Into<String>, network: Network) -> WalletRpcConfig {
        WalletRpcConfig {
            url: url.into(),
            network,
            login: None,
            timeouts: Timeouts::default(),
        }
    }

    /// The same, logging in as `username` with `password` (HTTP digest authentication).
    pub fn with_login(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> WalletRpcConfig {
        self.login = Some(RpcLogin::new(username, password));
        self
    }

    /// The same, with other timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> WalletRpcConfig {
        self.timeouts = timeouts;
        self
    }
}

/// One call for the actor: a serialized JSON-RPC request and where to send the answer.
struct Job {
    method: &'static str,
    body: Vec<u8>,
    timeout: Duration,
    effect: Effect,
    reply: oneshot::Sender<Result<Vec<u8>>>,
}

/// A client of one `monero-wallet-rpc` process, which has one wallet open.
///
/// A task (the actor) owns the HTTP connection and serves calls from a bounded queue one at a
/// time, in order, as the wallet itself does: each call's timeout then covers that call only,
/// and two calls never race inside the wallet. Callers get their answers over a oneshot
/// channel. Dropping the client stops the actor once the queued calls are done; a call whose
/// caller gave up before its turn is skipped.
///
/// With a login, requests carry an HTTP digest `Authorization` (MD5, `qop=auth`): the first
/// request is challenged (401) and sent again once; the nonce is then reused with a growing
/// count. In production the server binds to `127.0.0.1` (its default); digest authentication
/// guards it against other local users, not the network (there is no TLS).
pub struct HttpWalletRpc {
    jobs: mpsc::Sender<Job>,
    endpoint: String,
    network: Network,
    timeouts: Timeouts,
    next_id: AtomicU64,
    stats: std::sync::Arc<CallStats>,
}

impl std::fmt::Debug for HttpWalletRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWalletRpc")
            .field("endpoint", &self.endpoint)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl HttpWalletRpc {
    /// A client of the wallet RPC server at `base_url` (e.g. `http://127.0.0.1:18083`),
    /// started with `--disable-rpc-login`, whose wallet is on `network` (a regtest wallet uses
    /// mainnet addresses), with the default timeouts. See [`HttpWalletRpc::with_config`] for a
    /// login or other timeouts.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the HTTP client cannot be built.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the actor is spawned on it).
    pub fn new(base_url: &str, network: Network) -> Result<HttpWalletRpc> {
        HttpWalletRpc::with_config(WalletRpcConfig::new(base_url, network))
    }

    /// A client of the server `config` describes (URL, network, optional login, timeouts),
    /// and its actor task.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the HTTP client cannot be built.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the actor is spawned on it).
    pub fn with_config(config: WalletRpcConfig) -> Result<HttpWalletRpc> {
        // One process-wide TLS provider (ring); `install_default` fails harmlessly if one exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Without a login, a new connection per request: a request on a kept-alive connection
        // the wallet has closed fails after it was written, which would make its outcome
        // unknown, while a failed connect certainly sent nothing. With a login the connection
        // is kept: the wallet's digest nonces belong to the connection they were issued on
        // (a stale one costs one more challenge, answered by the retry).
        let idle_connections = usize::from(config.login.is_some());
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            // The wallet is local: a proxy from the environment must not carry its calls.
            .no_proxy()
            .pool_max_idle_per_host(idle_connections)
            .user_agent(concat!("pupero-wallet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unavailable(format!("HTTP client: {e}")))?;
        let endpoint = format!("{}{JSON_RPC_PATH}", config.url.trim_end_matches('/'));
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_CALLS);
        let actor = Actor {
            http,
            endpoint: endpoint.clone(),
            auth: config.login.map(DigestAuth::new),
        };
        tokio::spawn(actor.run(queue));
        Ok(HttpWalletRpc {
            jobs,
            endpoint,
            network: config.network,
            timeouts: config.timeouts,
            next_id: AtomicU64::new(1),
            stats: std::sync::Arc::new(CallStats::default()),
        })
    }

    /// What its calls took and how they ended, from its start (shared: it grows as calls
    /// finish).
    pub fn stats(&self) -> std::sync::Arc<CallStats> {
        self.stats.clone()
    }

    /// The network the wallet's addresses belong to.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The JSON-RPC endpoint called.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `method` with `params` through the actor; once it is this call's turn it may take
    /// at most `timeout`.
    pub(crate) async fn call<P: Serialize + Sync, R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: P,
        timeout: Duration,
        effect: Effect,
    ) -> Result<R> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&Request::new(id, method, params))
            .map_err(|e| Error::Unavailable(format!("{method}: request not serializable: {e}")))?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            method,
            body,
            timeout,
            effect,
            reply,
        };
        let stopped = || Error::Unavailable(format!("{method}: the wallet client stopped"));
        let started = Instant::now();
        let outcome = async {
            self.jobs.send(job).await.map_err(|_| stopped())?;
            let body = answer.await.map_err(|_| stopped())??;
            wire::decode(method, &body, effect)
        }
        .await;
        self.stats.record(
            method,
            outcome.as_ref().err().map(Error::kind),
            started.elapsed(),
        );
        outcome
    }

    /// `transfer` building one transaction for `destinations` without relaying it, with its
    /// key and metadata when it is to be `kept`. Refuses what no transaction can pay.
    fn transfer_params<'a>(
        &self,
        account: u32,
        destinations: &'a [(MoneroAddress, Piconero)],
        priority: Priority,
        kept: bool,
    ) -> Result<TransferParams<'a>> {
        if destinations.is_empty() || destinations.len() > MAX_DESTINATIONS {
            return Err(Error::InvalidAddress(format!(
                "{} destinations; a transaction pays 1 to {MAX_DESTINATIONS}",
                destinations.len()
            )));
        }
        for (destination, _) in destinations {
            self.check_network(destination)?;
        }
        Ok(TransferParams {
            destinations: destinations
                .iter()
                .map(|(address, amount)| Destination {
                    amount: amount.as_u64(),
                    address: address.as_str(),
                })
                .collect(),
            account_index: account,
            priority: priority.as_u32(),
            get_tx_key: kept,
            do_not_relay: true,
            get_tx_metadata: kept,
        })
    }

    /// Refuses destinations of another network before the wallet is asked.
    fn check_network(&self, destination: &MoneroAddress) -> Result<()> {
        if destination.network() == self.network {
            return Ok(());
        }
        Err(Error::InvalidAddress(format!(
            "{destination} is a {} address; the wallet is on {}",
            destination.network(),
            self.network
        )))
    }
}

/// Calls per method and outcome (`ok` or the error's [`Error::kind`]), with the seconds they
/// took in all, waiting for their turn included: what an operator graphs as the wallet's
/// latency and errors. Few keys: a method is one of the client's, an outcome one of eight.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: std::sync::Mutex<std::collections::BTreeMap<(&'static str, &'static str), CallCount>>,
}

/// Calls of one method with one outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CallCount {
    /// How many.
    pub calls: u64,
    /// Their time in all.
    pub total: Duration,
}

impl CallStats {
    fn record(&self, method: &'static str, error: Option<&'static str>, took: Duration) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let count = calls.entry((method, error.unwrap_or("ok"))).or_default();
        count.calls = count.calls.saturating_add(1);
        count.total = count.total.saturating_add(took);
    }

    /// Every `(method, outcome)` seen, with its count.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, CallCount)> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.iter().map(|((m, o), c)| (*m, *o, *c)).collect()
    }
}

/// The task that owns the HTTP client (and the digest nonce) and sends one request at a time.
struct Actor {
    http: reqwest::Client,
    endpoint: String,
    auth: Option<DigestAuth>,
}

impl Actor {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(job) = queue.recv().await {
            if job.reply.is_closed() {
                // The caller gave up before its turn: nothing was sent, nobody waits.
                continue;
            }
            let started = Instant::now();
            let outcome = match tokio::time::timeout(job.timeout, self.exchange(&job)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Timeout(format!(
                    "{}: no answer within {} s",
                    job.method,
                    job.timeout.as_secs()
                ))),
            };
            tracing::debug!(
                method = job.method,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                ok = outcome.is_ok(),
                "wallet rpc"
            );
            // The caller may have gone meanwhile; the answer is then dropped.
            let _ = job.reply.send(outcome);
        }
    }

    /// One call: the request, and once more with a fresh digest answer if it was challenged.
    async fn exchange(&mut self, job: &Job) -> Result<Vec<u8>> {
        let response = self.send(job).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return read_body(job, response).await;
        }
        let Some(auth) = self.auth.as_mut() else {
            return Err(Error::Unavailable(format!(
                "{}: the wallet RPC server asks for a login and none is configured",
                job.method
            )));
        };
        // The server refused before handling the request: nothing happened. Answer the new
        // challenge (the first one, or a nonce it forgot) once.
        let challenge = challenge_of(&response);
        let Some(challenge) = challenge else {
            return Err(Error::Unavailable(format!(
                "{}: HTTP 401 without an MD5 digest challenge",
                job.method
            )));
        };
        auth.challenged(challenge);
        let response = self.send(job).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            if let Some(auth) = self.auth.as_mut() {
                auth.forget();
            }
            return Err(Error::Unavailable(format!(
                "{}: the wallet RPC server refused the login (HTTP 401)",
                job.method
            )));
        }
        read_body(job, response).await
    }

    async fn send(&mut self, job: &Job) -> Result<reqwest::Response> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(job.body.clone());
        if let Some(header) = self
            .auth
            .as_mut()
            .and_then(|auth| auth.authorization("POST", JSON_RPC_PATH))
        {
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        request
            .send()
            .await
            .map_err(|e| from_transport(job.method, &e, job.effect))
    }
}

/// The MD5 digest challenge of a 401 response.
fn challenge_of(response: &reqwest::Response) -> Option<Challenge> {
    let headers = response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok());
    Challenge::pick(headers)
}

/// The body of a successful HTTP response, at most [`MAX_RESPONSE_BYTES`].
async fn read_body(job: &Job, mut response: reqwest::Response) -> Result<Vec<u8>> {
    let method = job.method;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::InvalidResponse(format!("{method}: HTTP {status}")));
    }
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| from_transport(method, &e, job.effect))?;
        let Some(chunk) = chunk else { break };
        if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
            return Err(Error::InvalidResponse(format!(
                "{method}: response larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[async_trait]
impl WalletRpc for HttpWalletRpc {
    async fn primary_address(&self, account: u32) -> Result<MoneroAddress> {
        let params = GetAddressParams {
            account_index: account,
            address_index: [0],
        };
        let result: GetAddressResult = self
            .call("get_address", params, self.timeouts.read, Effect::Read)
            .await?;
        result.into_address(self.network)
    }

    async fn create_subaddress(&self, account: u32, label: &str) -> Result<Subaddress> {
        let params = CreateAddressParams {
            account_index: account,
            label,
        };
        let result: CreateAddressResult = self
            .call("create_address", params, self.timeouts.read, Effect::Write)
            .await?;
        result.into_subaddress(account, self.network)
    }

    async fn subaddress_count(&self, account: u32) -> Result<u32> {
        let params = AccountParams {
            account_index: account,
        };
        let result: GetAddressesResult<serde::de::IgnoredAny> = self
            .call("get_address", params, self.timeouts.read, Effect::Read)
            .await?;
        u32::try_from(result.addresses.len())
            .map_err(|_| Error::InvalidResponse("get_address: too many subaddresses".to_owned()))
    }

    async fn subaddress(&self, account: u32, index: u32) -> Result<MoneroAddress> {
        let params = GetAddressParams {
            account_index: account,
            address_index: [index],
        };
        let result: GetAddressesResult<WireAddress> = self
            .call("get_address", params, self.timeouts.read, Effect::Read)
            .await?;
        result.into_only(index, self.network)
    }

    async fn rescan(&self) -> Result<()> {
        let _: serde::de::IgnoredAny = self
            .call(
                "rescan_blockchain",
                RescanParams { hard: false },
                self.timeouts.refresh,
                Effect::Write,
            )
            .await?;
        Ok(())
    }

    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>> {
        let params = GetTransfersParams::incoming(account, min_height);
        let result: GetTransfersResult = self
            .call("get_transfers", params, self.timeouts.read, Effect::Read)
            .await?;
        result.into_incoming(account, min_height)
    }

    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> Result<SentTransfer> {
        self.check_network(destination)?;
        let params = TransferParams {
            destinations: vec![Destination {
                amount: amount.as_u64(),
                address: destination.as_str(),
            }],
            account_index: account,
            priority: priority.as_u32(),
            get_tx_key: true,
            do_not_relay: false,
            get_tx_metadata: false,
        };
        let result: TransferResult = self
            .call(
                "transfer",
                params,
                self.timeouts.transfer,
                Effect::Broadcast,
            )
            .await?;
        let sent = result.into_sent(amount)?;
        tracing::info!(txid = %sent.txid, amount = %sent.amount, fee = %sent.fee, "wallet sent a transfer");
        Ok(sent)
    }

    async fn build_transfer(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<BuiltTransfer> {
        let params = self.transfer_params(account, destinations, priority, true)?;
        // Nothing is broadcast: a lost answer leaves an unrelayed transaction, which has no
        // effect.
        let result: TransferResult = self
            .call("transfer", params, self.timeouts.transfer, Effect::Write)
            .await?;
        let amounts: Vec<Piconero> = destinations.iter().map(|(_, amount)| *amount).collect();
        let built = result.into_built(&amounts)?;
        tracing::info!(txid = %built.txid, fee = %built.fee, destinations = amounts.len(), "wallet built a transfer");
        Ok(built)
    }

    async fn estimate_fee(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<Piconero> {
        let params = self.transfer_params(account, destinations, priority, false)?;
        // Built without its metadata, never relayed: the transaction is lost as it is made.
        let result: TransferResult = self
            .call("transfer", params, self.timeouts.transfer, Effect::Write)
            .await?;
        let amounts: Vec<Piconero> = destinations.iter().map(|(_, amount)| *amount).collect();
        result.into_fee(&amounts)
    }

    async fn address_index(&self, address: &MoneroAddress) -> Result<Option<SubaddressIndex>> {
        self.check_network(address)?;
        let params = GetAddressIndexParams {
            address: address.as_str(),
        };
        let outcome: Result<GetAddressIndexResult> = self
            .call(
                "get_address_index",
                params,
                self.timeouts.read,
                Effect::Read,
            )
            .await;
        match outcome {
            Ok(result) => Ok(Some(result.into_index())),
            Err(error) if wire::is_not_owned(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn relay(&self, tx_metadata: &TxMetadata) -> Result<Txid> {
        let params = RelayTxParams {
            hex: tx_metadata.as_str(),
        };
        let result: RelayTxResult = self
            .call(
                "relay_tx",
                params,
                self.timeouts.transfer,
                Effect::Broadcast,
            )
            .await?;
        let txid = result.into_txid()?;
        tracing::info!(%txid, "wallet relayed a transaction");
        Ok(txid)
    }

    async fn outgoing_transfer(&self, txid: Txid) -> Result<Option<OutgoingStatus>> {
        let params = GetTransferByTxidParams {
            txid: txid.to_string(),
        };
        let outcome: Result<GetTransferByTxidResult> = self
            .call(
                "get_transfer_by_txid",
                params,
                self.timeouts.read,
                Effect::Read,
            )
            .await;
        match outcome {
            Ok(result) => result.into_outgoing(txid),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn sweep_below(
        &self,
        account: u32,
        below: Piconero,
        destination: &MoneroAddress,
        priority: Priority,
        do_not_relay: bool,
    ) -> Result<Vec<BuiltTransfer>> {
        self.check_network(destination)?;
        if below.is_zero() {
            // The wallet reads 0 as "no limit": it would sweep everything.
            return Ok(Vec::new());
        }
        let params = SweepAllParams {
            address: destination.as_str(),
            account_index: account,
            subaddr_indices_all: true,
            priority: priority.as_u32(),
            below_amount: below.as_u64(),
            get_tx_keys: true,
            do_not_relay,
            get_tx_metadata: true,
        };
        let effect = if do_not_relay {
            Effect::Write
        } else {
            Effect::Broadcast
        };
        let outcome: Result<SweepAllResult> = self
            .call("sweep_all", params, self.timeouts.transfer, effect)
            .await;
        let swept = match outcome {
            Ok(result) => result.into_built()?,
            Err(error) if wire::found_nothing_to_sweep(&error) => Vec::new(),
            Err(error) => return Err(error),
        };
        for tx in &swept {
            tracing::info!(txid = %tx.txid, fee = %tx.fee, relayed = !do_not_relay, "wallet swept outputs");
        }
        Ok(swept)
    }

    async fn unspent_outputs(&self, account: u32) -> Result<Vec<OwnedOutput>> {
        let params = IncomingTransfersParams::available(account);
        let result: IncomingTransfersResult = self
            .call(
                "incoming_transfers",
                params,
                self.timeouts.read,
                Effect::Read,
            )
            .await?;
        result.into_outputs(account)
    }

    async fn store(&self) -> Result<()> {
        let _: serde::de::IgnoredAny = self
            .call("store", NoParams {}, self.timeouts.store, Effect::Write)
            .await?;
        Ok(())
    }

    async fn balance(&self, account: u32) -> Result<Balance> {
        let params = AccountParams {
            account_index: account,
        };
        let result: BalanceResult = self
            .call("get_balance", params, self.timeouts.read, Effect::Read)
            .await?;
        result.into_balance()
    }

    async fn height(&self) -> Result<u64> {
        let result: HeightResult = self
            .call("get_height", NoParams {}, self.timeouts.read, Effect::Read)
            .await?;
        Ok(result.height)
    }

    async fn refresh(&self) -> Result<Refreshed> {
        let result: RefreshResult = self
            .call("refresh", NoParams {}, self.timeouts.refresh, Effect::Write)
            .await?;
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// How a fake wallet treats each request.
    #[derive(Debug, Clone, Copy)]
    enum Behaviour {
        /// Reads the request and never answers.
        Silent,
        /// Reads the request and closes the connection.
        Hangs,
        /// Answers `get_height` after a pause.
        AnswersAfter(Duration),
    }

    /// Reads one HTTP request (headers and body) from `stream`.
    async fn read_request(stream: &mut TcpStream) -> Option<String> {
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.ok()?;
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    return Some(text);
                }
            }
        }
    }

    /// A fake wallet RPC server; returns its URL and the most connections it served at once.
    async fn fake_wallet(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (active_task, most_task) = (active.clone(), most.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (active, most) = (active_task.clone(), most_task.clone());
                tokio::spawn(async move {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let request = read_request(&mut stream).await;
                    match behaviour {
                        Behaviour::Silent => tokio::time::sleep(Duration::from_secs(60)).await,
                        Behaviour::Hangs => {}
                        Behaviour::AnswersAfter(pause) => {
                            tokio::time::sleep(pause).await;
                            assert!(request.unwrap().contains("get_height"));
                            let body = r#"{"jsonrpc":"2.0","id":"0","result":{"height":7}}"#;
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            stream.write_all(response.as_bytes()).await.unwrap();
                        }
                    }
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (url, most)
    }

    fn client(url: &str) -> HttpWalletRpc {
        let timeouts = Timeouts {
            read: Duration::from_millis(300),
            store: Duration::from_millis(300),
            ..Timeouts::default()
        };
        let config = WalletRpcConfig::new(url, Network::Mainnet).with_timeouts(timeouts);
        HttpWalletRpc::with_config(config).unwrap()
    }

    #[tokio::test]
    async fn a_refused_connection_sent_nothing() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let wallet = client(&format!("http://127.0.0.1:{port}"));
        let error = wallet.store().await.unwrap_err();
        assert!(
            error.is_unavailable() && error.is_definitely_not_sent(),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn no_answer_in_time_is_an_unknown_outcome() {
        let (url, _) = fake_wallet(Behaviour::Silent).await;
        let wallet = client(&url);
        let started = Instant::now();
        for error in [
            wallet.height().await.unwrap_err(),
            wallet.store().await.unwrap_err(),
        ] {
            assert!(
                error.is_timeout() && error.is_unknown_outcome(),
                "{error:?}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_connection_lost_after_sending_is_unknown_for_a_change_only() {
        let (url, _) = fake_wallet(Behaviour::Hangs).await;
        let wallet = client(&url);
        let error = wallet.store().await.unwrap_err();
        assert!(
            error.is_timeout() && error.is_unknown_outcome(),
            "{error:?}"
        );
        let error = wallet.height().await.unwrap_err();
        assert!(error.is_unavailable(), "a read changed nothing: {error:?}");
    }

    #[tokio::test]
    async fn calls_reach_the_wallet_one_at_a_time() {
        let (url, most) = fake_wallet(Behaviour::AnswersAfter(Duration::from_millis(50))).await;
        let wallet = client(&url);
        let (a, b, c) = tokio::join!(wallet.height(), wallet.height(), wallet.height());
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (7, 7, 7));
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dropping_the_client_stops_its_actor() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let wallet = client("http://127.0.0.1:9");
        assert_eq!(metrics.num_alive_tasks(), before + 1);
        drop(wallet);
        tokio::task::yield_now().await;
        assert_eq!(metrics.num_alive_tasks(), before);
    }
}
