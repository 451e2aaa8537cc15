//! Pupero's HTTP server.
//!
//! This crate will own the poem + poem-openapi API (auth, offers, trades, wallet, admin under
//! `/api/v1`), configuration, and the composition of the adapters behind the core's ports.
//! For now it hosts the `pupero demo` command: the escrow flow of a trade, run on the ledger.

pub mod demo;
