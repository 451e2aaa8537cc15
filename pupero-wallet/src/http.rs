//! [`HttpWalletRpc`]: the [`WalletRpc`] port over `monero-wallet-rpc`'s JSON-RPC 2.0
//! (`POST /json_rpc`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pupero_core::{MoneroAddress, Network, Piconero};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::WalletRpc;
use crate::error::{Error, Result};
use crate::types::{Balance, IncomingTransfer, Priority, Refreshed, SentTransfer, Subaddress};
use crate::wire::{
    self, AccountParams, BalanceResult, CreateAddressParams, CreateAddressResult, Destination,
    GetAddressParams, GetAddressResult, GetTransfersParams, GetTransfersResult, HeightResult,
    NoParams, RefreshResult, Request, TransferParams, TransferResult,
};

/// The longest a connection to the wallet may take. It runs on this machine (or next to it), so
/// a slow connect means it is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest an ordinary call may take: reads are answered from the wallet's memory in
/// milliseconds, but the wallet may be busy with its own background refresh.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest a transfer may take: the wallet fetches ring members from its daemon, builds and
/// signs the transaction and relays it, seconds on a remote daemon.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest a refresh may take: after a long stop the wallet scans every block it missed.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest response read. `monero-wallet-rpc` itself stops queueing a response at 25 MiB
/// (`--rpc-response-soft-limit`); a longer one is a misbehaving peer.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// A client of one `monero-wallet-rpc` process, which has one wallet open.
///
/// The wallet RPC server is started with `--disable-rpc-login` and bound to `127.0.0.1`
/// (its default): nothing but this machine can reach it, so it needs no HTTP digest
/// authentication and no TLS. Calls from one client are sent one at a time, in order, because
/// the wallet serves them one at a time anyway and a queue here keeps each call's timeout about
/// that call.
pub struct HttpWalletRpc {
    http: reqwest::Client,
    endpoint: String,
    network: Network,
    next_id: AtomicU64,
    one_at_a_time: tokio::sync::Mutex<()>,
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
    /// A client of the wallet RPC server at `base_url` (e.g. `http://127.0.0.1:18083`), whose
    /// wallet is on `network`. A regtest wallet uses mainnet addresses: pass
    /// [`Network::Mainnet`] for it.
    pub fn new(base_url: &str, network: Network) -> Result<HttpWalletRpc> {
        // One process-wide TLS provider (ring); `install_default` fails harmlessly if one exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The wallet is local: a proxy from the environment must not carry its calls.
            .no_proxy()
            .user_agent(concat!("pupero-wallet/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpWalletRpc {
            http,
            endpoint: format!("{}/json_rpc", base_url.trim_end_matches('/')),
            network,
            next_id: AtomicU64::new(1),
            one_at_a_time: tokio::sync::Mutex::new(()),
        })
    }

    /// The network the wallet's addresses belong to.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The JSON-RPC endpoint called.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `method` with `params`; the request may take at most `timeout` once it is this
    /// call's turn. Waiting for the turn is bounded by the calls ahead, each by its timeout.
    pub(crate) async fn call<P: Serialize + Sync, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
        timeout: Duration,
    ) -> Result<R> {
        let _turn = self.one_at_a_time.lock().await;
        let started = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(&self.endpoint)
            .json(&Request::new(id, method, params))
            .timeout(timeout)
            .send()
            .await?;
        let body = read_body(method, response).await?;
        tracing::debug!(
            method,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "wallet rpc"
        );
        wire::decode(method, &body)
    }
}

/// The body of a successful HTTP response, at most [`MAX_RESPONSE_BYTES`].
async fn read_body(method: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
    let status = response.status();
    if !status.is_success() {
        return Err(Error::InvalidResponse(format!(
            "{method}: HTTP {status}{}",
            if status == reqwest::StatusCode::UNAUTHORIZED {
                " (the wallet RPC server asks for a login; start it with --disable-rpc-login)"
            } else {
                ""
            }
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
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
        let result: GetAddressResult = self.call("get_address", params, CALL_TIMEOUT).await?;
        result.into_address(self.network)
    }

    async fn create_subaddress(&self, account: u32, label: &str) -> Result<Subaddress> {
        let params = CreateAddressParams {
            account_index: account,
            label,
        };
        let result: CreateAddressResult = self.call("create_address", params, CALL_TIMEOUT).await?;
        result.into_subaddress(account, self.network)
    }

    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>> {
        let params = GetTransfersParams::incoming(account, min_height);
        let result: GetTransfersResult = self.call("get_transfers", params, CALL_TIMEOUT).await?;
        result.into_incoming(account, min_height)
    }

    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> Result<SentTransfer> {
        if destination.network() != self.network {
            return Err(Error::InvalidAddress(format!(
                "{destination} is a {} address; the wallet is on {}",
                destination.network(),
                self.network
            )));
        }
        let params = TransferParams {
            destinations: [Destination {
                amount: amount.as_u64(),
                address: destination.as_str(),
            }],
            account_index: account,
            priority: priority.as_u32(),
            get_tx_key: true,
        };
        let result: TransferResult = self.call("transfer", params, TRANSFER_TIMEOUT).await?;
        let sent = result.into_sent(amount)?;
        tracing::info!(txid = %sent.txid, amount = %sent.amount, fee = %sent.fee, "wallet sent a transfer");
        Ok(sent)
    }

    async fn balance(&self, account: u32) -> Result<Balance> {
        let params = AccountParams {
            account_index: account,
        };
        let result: BalanceResult = self.call("get_balance", params, CALL_TIMEOUT).await?;
        result.into_balance()
    }

    async fn height(&self) -> Result<u64> {
        let result: HeightResult = self.call("get_height", NoParams {}, CALL_TIMEOUT).await?;
        Ok(result.height)
    }

    async fn refresh(&self) -> Result<Refreshed> {
        let result: RefreshResult = self.call("refresh", NoParams {}, REFRESH_TIMEOUT).await?;
        Ok(result.into())
    }
}
