//! Pupero's Monero side: [`HttpWalletRpc`], the adapter of the [`WalletRpc`] port (defined in
//! `pupero_core::wallet`, re-exported here with its types) over `monero-wallet-rpc`.
//!
//! The exchange gives each user a deposit [`Subaddress`], scans [`incoming_transfers`] for
//! deposits (crediting each [`DepositKey`] once, after enough confirmations), pays
//! withdrawals with [`build_transfer`], [`relay`] and [`store`], consolidates small outputs
//! with [`sweep_below`] and watches the wallet's [`Balance`]. Amounts are [`Piconero`]s, read
//! from the wallet's JSON integers as `u64` and never as floating point; addresses are
//! [`MoneroAddress`]es of the configured [`Network`].
//!
//! Errors are [`Error`] (`pupero_core::wallet::WalletError`): after a call that can broadcast,
//! an error that is not [`Error::is_definitely_not_sent`] leaves the outcome unknown.
//!
//! With the `testing` feature, `testing` runs a private regtest network (`monerod` and
//! `monero-wallet-rpc`) for the tests of every crate, and offers `testing::SimWallet`, a
//! deterministic in-memory wallet with fault injection for simulations.
//!
//! [`incoming_transfers`]: WalletRpc::incoming_transfers
//! [`build_transfer`]: WalletRpc::build_transfer
//! [`relay`]: WalletRpc::relay
//! [`store`]: WalletRpc::store
//! [`sweep_below`]: WalletRpc::sweep_below
//! [`Piconero`]: pupero_core::Piconero
//! [`MoneroAddress`]: pupero_core::MoneroAddress
//! [`Network`]: pupero_core::Network
#![deny(missing_docs)]

mod digest;
mod error;
mod http;
mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use digest::RpcLogin;
pub use error::codes;
pub use http::{
    CALL_TIMEOUT, CONNECT_TIMEOUT, CallCount, CallStats, HttpWalletRpc, MAX_QUEUED_CALLS,
    MAX_RESPONSE_BYTES, REFRESH_TIMEOUT, STORE_TIMEOUT, TRANSFER_TIMEOUT, Timeouts,
    WalletRpcConfig,
};
pub use pupero_core::wallet::{
    Balance, BuiltTransfer, DepositKey, IncomingTransfer, MAX_DESTINATIONS, OutgoingState,
    OutgoingStatus, OwnedOutput, Priority, Refreshed, Result, SentTransfer, Subaddress,
    SubaddressIndex, TxMetadata, Txid, WalletError as Error, WalletRpc,
};
