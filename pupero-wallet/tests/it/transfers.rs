//! Paying out of a funded wallet.

use pupero_core::Piconero;
use pupero_wallet::{Priority, WalletRpc};

use crate::regtest;

#[tokio::test]
async fn a_funded_wallet_pays_and_the_receiver_sees_it() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    let funded = net.fund(&platform).await;
    assert_eq!(funded.unlocked, funded.total);

    let amount = Piconero::from_xmr_str("12.345678901234")?;
    let sent = platform
        .rpc()
        .transfer(0, user.address(), amount, Priority::Normal)
        .await?;
    assert_eq!(sent.amount, amount);
    assert!(
        !sent.fee.is_zero() && sent.fee < Piconero::from_xmr_str("0.1")?,
        "{sent:?}"
    );
    assert!(sent.tx_key.len() >= 64, "{sent:?}");

    // The sender owes amount and fee at once; its change is locked for a while.
    let after = platform.rpc().balance(0).await?;
    assert_eq!(
        after.total,
        funded.total.checked_sub(amount)?.checked_sub(sent.fee)?
    );
    assert!(after.unlocked < after.total);

    // The receiver sees it in the pool, then mined.
    user.rpc().refresh().await?;
    let seen = user.rpc().incoming_transfers(0, 0).await?;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        (seen[0].txid, seen[0].amount, seen[0].height),
        (sent.txid, amount, None)
    );
    assert_eq!(seen[0].subaddress.index, 0);
    let height = net.mine(1).await;
    user.sync_to(height).await;
    let seen = user.rpc().incoming_transfers(0, 0).await?;
    assert_eq!(
        (seen[0].txid, seen[0].height, seen[0].confirmations),
        (sent.txid, Some(height - 1), 1)
    );
    assert_eq!(user.rpc().balance(0).await?.total, amount);

    // More than the wallet holds, and more than it can spend now: both typed refusals.
    platform.sync_to(height).await;
    let balance = platform.rpc().balance(0).await?;
    assert!(balance.unlocked < balance.total);
    for too_much in [
        balance.total.checked_add(Piconero::new(1))?,
        balance.unlocked.checked_add(Piconero::new(1))?,
        Piconero::MAX,
    ] {
        let error = platform
            .rpc()
            .transfer(0, user.address(), too_much, Priority::Default)
            .await
            .unwrap_err();
        assert!(error.is_insufficient_funds(), "{too_much}: {error:?}");
    }
    // Nothing was sent.
    assert_eq!(platform.rpc().balance(0).await?, balance);
    Ok(())
}
