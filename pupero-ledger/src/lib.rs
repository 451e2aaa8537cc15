//! Pupero's double-entry ledger on SQL.
//!
//! [`SqlLedger`] implements the core's [`LedgerStore`](pupero_core::ledger::LedgerStore) port on
//! SQLite (the embedded default, in WAL mode) and on MariaDB/MySQL, chosen by the database URL.
//! The rules are the core's [`LedgerBook`](pupero_core::ledger::LedgerBook); this crate only
//! loads the rows a batch touches, lets the book decide, and writes the changes back in one
//! database transaction.
//!
//! All writes of one process go through a single writer task that commits concurrent requests
//! together (group commit): one transaction, one sync, for as many batches as arrived while the
//! previous commit was in flight; on SQLite the sync runs beside the next group, and nobody is
//! answered before the commit is durable. Rows are also locked (`FOR UPDATE` on MariaDB, an immediate
//! write transaction on SQLite), so several processes may share one database safely, and the
//! schema repeats the balance constraints as `CHECK`s and forbids changing a transfer.
#![deny(missing_docs)]

mod attach;
mod db;
pub mod dialect;
mod error;
mod feed;
mod store;
mod syncer;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

pub use writer::WriterCounts;

pub use attach::{Attachment, AttachmentError, Batch, Batches, Expect, Statement, Value};
pub use db::{Migrations, migrate, migrate_with, open_pool};
pub use dialect::Engine;
pub use error::{Error, is_unavailable};
pub use feed::{AccountFeed, FeedRead, MAX_FEED_ENTRIES};
pub use store::{AccountTotals, LedgerOptions, SqlLedger};
