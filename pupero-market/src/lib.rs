//! Pupero's market as a library: the application services over the core's rules, the ledger
//! and the wallet, with their storage, and no HTTP.
//!
//! [`Market`] is opened once from [`MarketSettings`]; its methods are the services —
//! accounts and sessions, 2FA ([`two_factor`]), API keys, offers and the
//! market search ([`offers`]), trades ([`trades`]), chat and feedback, events ([`events`]),
//! prices ([`oracle`]), deposits ([`deposits`]), withdrawals with their worker and outbox
//! ([`withdrawals`], [`queue`], [`lease`]), sweeps and reconciliation, mail and account
//! recovery. They take parsed domain types and return [`Error`], whose [`ErrorKind`] has a
//! stable code; [`jobs`] runs the background work. The HTTP server (`pupero-server`) and
//! embedding services call the same methods.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod book;
pub mod chat;
pub mod crypto;
pub mod deposits;
pub mod error;
pub mod events;
pub mod feedback;
pub mod jobs;
pub mod lease;
pub mod mail;
mod market;
pub mod matrix;
pub mod memo;
pub mod offers;
pub mod operator;
pub mod oracle;
pub mod queue;
pub mod ratelimit;
pub mod readiness;
pub mod reconciliation;
pub mod recovery;
pub mod restored_wallet;
pub mod security;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod sweeps;
pub mod trades;
pub mod two_factor;
pub mod wallet;
pub mod wallet_health;
pub mod withdrawals;

pub use error::{Error, ErrorKind};
pub use market::{BackupError, KeyHolder, Market, OpenError, backup, migrate};
pub use settings::MarketSettings;
