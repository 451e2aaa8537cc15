//! Pupero's Monero side: the [`WalletRpc`] port, what a custodial exchange asks of its hot
//! wallet, and [`HttpWalletRpc`], its adapter over `monero-wallet-rpc`.
//!
//! The exchange gives each user a deposit [`Subaddress`], scans [`incoming_transfers`] for
//! deposits (crediting each [`DepositKey`] once, after enough confirmations), pays withdrawals
//! with [`transfer`] and watches the wallet's [`Balance`]. Amounts are [`Piconero`]s, read from
//! the wallet's JSON integers as `u64` and never as floating point; addresses are
//! [`MoneroAddress`]es of the configured [`Network`].
//!
//! With the `testing` feature, [`testing`] runs a private regtest network (`monerod` and
//! `monero-wallet-rpc`) for the tests of every crate.
//!
//! [`incoming_transfers`]: WalletRpc::incoming_transfers
//! [`transfer`]: WalletRpc::transfer
//! [`Piconero`]: pupero_core::Piconero
//! [`MoneroAddress`]: pupero_core::MoneroAddress
//! [`Network`]: pupero_core::Network
#![deny(missing_docs)]

mod error;
mod http;
mod types;
mod wire;

#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use pupero_core::{MoneroAddress, Piconero};

pub use error::{Error, Result, codes};
pub use http::{
    CALL_TIMEOUT, CONNECT_TIMEOUT, HttpWalletRpc, MAX_RESPONSE_BYTES, REFRESH_TIMEOUT,
    TRANSFER_TIMEOUT,
};
pub use types::{
    Balance, DepositKey, IncomingTransfer, Priority, Refreshed, SentTransfer, Subaddress,
    SubaddressIndex, Txid,
};

/// The hot wallet, as the exchange uses it. Every call names the wallet `account` it works in
/// (Pupero uses account 0).
#[async_trait]
pub trait WalletRpc: Send + Sync {
    /// The primary address of `account`. Also a check at start-up that the wallet is on the
    /// configured network: an address of another network is [`Error::InvalidResponse`].
    async fn primary_address(&self, account: u32) -> Result<MoneroAddress>;

    /// A new subaddress in `account`, labelled `label` in the wallet. Every call makes a new
    /// one, even with a label used before: the caller stores the returned index (one deposit
    /// subaddress per user) rather than asking again.
    async fn create_subaddress(&self, account: u32, label: &str) -> Result<Subaddress>;

    /// Money received by `account`: transfers mined in blocks at or above `min_height`, then
    /// every transfer waiting in the pool (whatever `min_height`), one entry per transaction
    /// and subaddress (see [`DepositKey`]). Confirmations grow as blocks are mined, so a
    /// scanner asks from the height of its oldest deposit still waiting for confirmations and
    /// credits each key once. Call [`refresh`](WalletRpc::refresh) first to see the newest
    /// blocks. Transfers the wallet sent to itself (its own subaddresses included) are not
    /// listed.
    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>>;

    /// Sends `amount` to `destination` from `account`, paying the network fee on top, and
    /// returns the relayed transaction. A refusal ([`Error::InsufficientFunds`],
    /// [`Error::InvalidAddress`]) sent nothing. After a transport error or a timeout the
    /// outcome is unknown (the wallet may have relayed the transaction): look for it before
    /// sending again.
    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> Result<SentTransfer>;

    /// The balance of `account`.
    async fn balance(&self, account: u32) -> Result<Balance>;

    /// The wallet's height: how many blocks it has scanned, i.e. one more than the height of
    /// the newest block it knows.
    async fn height(&self) -> Result<u64>;

    /// Scans the daemon's new blocks and pool now, rather than at the wallet's next automatic
    /// refresh.
    async fn refresh(&self) -> Result<Refreshed>;
}
