//! Integration tests of the SQL ledger. Every test body runs against SQLite and MariaDB.
#![allow(unreachable_pub)]

mod support;

mod attached;
mod concurrency;
mod migrations;
mod props;
mod totals;
mod transfers;
