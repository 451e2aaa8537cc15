//! Integration tests: the real server on a random port with a fresh database (SQLite and
//! MariaDB), driven through the SDK.
#![allow(unreachable_pub)]

mod support;

mod account;
mod attacks;
mod auth;
mod envelope;
mod openapi;
mod totp;
