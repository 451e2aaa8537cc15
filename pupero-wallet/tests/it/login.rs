//! HTTP digest authentication (`monero-wallet-rpc --rpc-login`).

use std::time::{Duration, Instant};

use pupero_wallet::{HttpWalletRpc, Timeouts, WalletRpc, WalletRpcConfig};

use crate::regtest;

#[tokio::test]
async fn a_client_logs_in_and_a_wrong_password_is_refused() -> anyhow::Result<()> {
    let net = regtest!();
    // The harness created the wallet through a digest login already.
    let wallet = net
        .wallet_with_login("platform", "pupero", "s3cret pass")
        .await;
    let rpc = wallet.rpc();
    // The nonce is reused with a growing count, call after call.
    for _ in 0..5 {
        assert_eq!(&rpc.primary_address(0).await?, wallet.address());
    }
    let subaddress = rpc.create_subaddress(0, "alice").await?;
    assert_eq!(subaddress.index.index, 1);
    rpc.store().await?;

    // A wrong password or no login: refused at once, and nothing happened.
    let quick = Timeouts {
        read: Duration::from_secs(10),
        ..Timeouts::default()
    };
    for config in [
        wallet.config().with_login("pupero", "wrong"),
        wallet.config().with_login("intruder", "s3cret pass"),
        WalletRpcConfig::new(wallet.url(), wallet.config().network),
    ] {
        let client = HttpWalletRpc::with_config(config.with_timeouts(quick))?;
        let started = Instant::now();
        let error = client.primary_address(0).await.unwrap_err();
        assert!(
            error.is_unavailable() && error.is_definitely_not_sent(),
            "{error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{error:?}");
        let error = client.create_subaddress(0, "mallory").await.unwrap_err();
        assert!(error.is_definitely_not_sent(), "{error:?}");
    }
    // The refused calls made no subaddress.
    assert_eq!(rpc.create_subaddress(0, "bob").await?.index.index, 2);
    Ok(())
}
