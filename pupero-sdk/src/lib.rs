//! Typed async client for the Pupero HTTP API.
//!
//! This crate will own the client that bots and Pupero's own integration tests use:
//! login with 2FA, automatic token refresh, API-key mode, pagination helpers and an opaque
//! error with the server's stable `code()`. Nothing is implemented yet.
#![deny(missing_docs)]
