//! What the tests against a private regtest network share: settings that point a server at a
//! platform wallet, amounts, withdrawal requests, and what a receiving wallet got.

use pupero_core::{DepositPolicy, Piconero};
use pupero_sdk::WithdrawalRequest;
use pupero_server::Settings;
use pupero_server::config::{MoneroNetwork, WalletSettings};
use pupero_wallet::WalletRpc;
use pupero_wallet::testing::TestWallet;

/// Confirmations the tests require: few, so that they mine little.
pub const CONFIRMATIONS: u64 = 3;

/// The background loops' period when the tests run every pass themselves.
pub const NEVER_SECS: u64 = 24 * 60 * 60;

/// Points `settings` at `platform`'s wallet on regtest, requiring [`CONFIRMATIONS`], with the
/// deposit scanner's own loop (its full scans and its height watch) out of the way.
pub fn use_platform(settings: &mut Settings, platform_url: &str) {
    settings.market.monero_network = MoneroNetwork::Regtest;
    settings.market.wallet = Some(WalletSettings {
        scan_interval_secs: NEVER_SECS,
        watch_interval_ms: 0,
        ..WalletSettings::at(platform_url)
    });
    settings.market.deposits = DepositPolicy::new(CONFIRMATIONS).expect("valid");
}

pub fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).expect("amount")
}

/// The sum of `amounts`.
pub fn sum(amounts: &[Piconero]) -> Piconero {
    amounts
        .iter()
        .try_fold(Piconero::ZERO, |total, a| total.checked_add(*a))
        .expect("no overflow")
}

pub fn request(address: &str, amount: &str) -> WithdrawalRequest {
    WithdrawalRequest {
        address: pupero_sdk::Text::from(address.to_owned()),
        amount: pupero_sdk::Text::from(amount.to_owned()),
        password: Some(pupero_sdk::Text::from(crate::support::PASSWORD.to_owned())),
        totp_code: None,
        recovery_code: None,
    }
}

/// Every payment `receiver` got (txid, amount), pool included, after refreshing.
pub async fn all_received(receiver: &TestWallet) -> Vec<(String, Piconero)> {
    receiver.rpc().refresh().await.expect("refresh");
    receiver
        .rpc()
        .incoming_transfers(0, 0)
        .await
        .expect("incoming")
        .into_iter()
        .map(|t| (t.txid.to_string(), t.amount))
        .collect()
}

/// What `receiver` got in transaction `txid`.
pub async fn received(receiver: &TestWallet, txid: &str) -> Vec<Piconero> {
    all_received(receiver)
        .await
        .into_iter()
        .filter(|(t, _)| t == txid)
        .map(|(_, amount)| amount)
        .collect()
}
