//! Integration tests of the wallet RPC client against a private regtest network (`monerod` and
//! `monero-wallet-rpc`), started afresh by every test.
#![allow(unreachable_pub)]

mod deposits;
mod login;
mod subaddresses;
mod sweeps;
mod transfers;
mod withdrawals;

/// A regtest network for one test, or the end of the test when the Monero programs are not
/// installed and the run does not require them.
macro_rules! regtest {
    () => {
        match pupero_wallet::testing::Regtest::start().await {
            Some(net) => net,
            None => return Ok(()),
        }
    };
}
pub(crate) use regtest;
