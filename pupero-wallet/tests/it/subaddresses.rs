//! Subaddresses, an empty wallet, and addresses of the wrong network.

use pupero_core::{AddressKind, MoneroAddress, Network, Piconero};
use pupero_wallet::testing::REGTEST_NETWORK;
use pupero_wallet::{Error, HttpWalletRpc, Priority, SubaddressIndex, WalletRpc};

use crate::regtest;

/// A testnet address (made by `monero-wallet-rpc --testnet`).
const TESTNET_ADDRESS: &str = "A2YtTWyDQcZSVK23n6tRNKFpXzNdBqsoSdiKema3qbem542XdwjBmpPMmnoMCFXauDNEwJ4qdy6GLELaqet7KKqN4Xyy3WZ";

#[tokio::test]
async fn every_call_makes_a_new_subaddress() -> anyhow::Result<()> {
    let net = regtest!();
    let wallet = net.wallet("platform").await;
    let rpc = wallet.rpc();

    let first = rpc.create_subaddress(0, "alice").await?;
    let again = rpc.create_subaddress(0, "alice").await?;
    let other = rpc.create_subaddress(0, "bob").await?;
    // The same label gives a new subaddress: the caller keeps the index it got.
    let indices = [first.index, again.index, other.index];
    assert_eq!(
        indices,
        [1, 2, 3].map(|index| SubaddressIndex { account: 0, index })
    );
    assert_ne!(first.address, again.address);
    for subaddress in [&first, &again, &other] {
        assert_eq!(subaddress.address.kind(), AddressKind::Subaddress);
        assert_eq!(subaddress.address.network(), REGTEST_NETWORK);
    }
    // The primary address is index 0, a standard mainnet address.
    let primary = rpc.primary_address(0).await?;
    assert_eq!(&primary, wallet.address());
    assert_eq!(primary.kind(), AddressKind::Standard);
    assert!(primary.as_str().starts_with('4'));
    assert!(first.address.as_str().starts_with('8'));

    // An account the wallet does not have.
    let error = rpc.create_subaddress(7, "nobody").await.unwrap_err();
    assert_eq!(
        error.rpc_code(),
        Some(pupero_wallet::codes::ACCOUNT_INDEX_OUT_OF_BOUNDS)
    );
    Ok(())
}

#[tokio::test]
async fn an_empty_wallet_has_nothing_to_send() -> anyhow::Result<()> {
    let net = regtest!();
    let wallet = net.wallet("empty").await;
    let rpc = wallet.rpc();
    let height = net.height().await;
    wallet.sync_to(height).await;

    assert_eq!(rpc.height().await?, height);
    let balance = rpc.balance(0).await?;
    assert_eq!(
        (balance.total, balance.unlocked),
        (Piconero::ZERO, Piconero::ZERO)
    );
    assert!(rpc.incoming_transfers(0, 0).await?.is_empty());

    let error = rpc
        .transfer(0, wallet.address(), Piconero::ONE_XMR, Priority::Default)
        .await
        .unwrap_err();
    assert!(error.is_insufficient_funds(), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn addresses_of_another_network_are_refused() -> anyhow::Result<()> {
    let net = regtest!();
    let wallet = net.wallet("platform").await;
    let testnet = MoneroAddress::parse(TESTNET_ADDRESS, Network::Testnet)?;

    // The client refuses before asking the wallet.
    let error = wallet
        .rpc()
        .transfer(0, &testnet, Piconero::ONE_XMR, Priority::Default)
        .await
        .unwrap_err();
    assert!(error.is_invalid_address(), "{error:?}");

    // A client configured for the wrong network: the wallet itself refuses the address...
    let misconfigured = HttpWalletRpc::new(wallet.url(), Network::Testnet)?;
    let error = misconfigured
        .transfer(0, &testnet, Piconero::ONE_XMR, Priority::Default)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidAddress(m) if m.contains("WRONG_ADDRESS")),
        "{error:?}"
    );
    // ...and the wallet's own addresses do not parse, which a start-up check catches.
    let error = misconfigured.primary_address(0).await.unwrap_err();
    assert!(matches!(error, Error::InvalidResponse(_)), "{error:?}");
    Ok(())
}
