//! Pupero's Monero side.
//!
//! This crate will own the typed JSON-RPC client for `monero-wallet-rpc` and the `monerod`
//! calls Pupero needs, implementing the `WalletRpc` port of `pupero-core`: digest
//! authentication, per-call timeouts, and one actor owning the connection because
//! wallet-rpc is single-threaded. Nothing is implemented yet.
