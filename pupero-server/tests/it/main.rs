//! Integration tests: the real server on a random port with a fresh database (SQLite and
//! MariaDB), driven through the SDK.
#![allow(unreachable_pub)]

mod support;

mod account;
mod admin;
mod api_keys;
mod attacks;
mod auth;
mod bridge;
mod chat;
mod cli;
mod cluster;
mod connections;
mod deposits;
mod envelope;
mod events;
mod gateway;
mod health;
mod hidden_text;
mod hostile_params;
mod lease;
mod matrix;
mod metrics;
mod offers;
mod openapi;
mod prices;
mod profile;
mod prometheus;
mod ratelimit;
mod reconciliation;
mod recovery;
mod regtest;
mod restore;
mod roles;
mod run_script;
mod scenario;
mod security;
mod simulation;
mod smtp;
mod sweeps;
mod synapse;
mod totp;
mod trades;
mod withdrawals;
mod worker;
