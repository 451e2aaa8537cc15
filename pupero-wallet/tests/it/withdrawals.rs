//! Withdrawals as the worker makes them: build without relaying, relay, store, follow.

use pupero_core::Piconero;
use pupero_core::wallet::OutgoingState;
use pupero_wallet::{Priority, WalletRpc};

use crate::regtest;

#[tokio::test]
async fn a_built_transfer_pays_two_destinations_once_relayed() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    let funded = net.fund(&platform).await;
    let deposit = user.rpc().create_subaddress(0, "deposit").await?;
    let to_primary = Piconero::from_xmr_str("1.5")?;
    let to_subaddress = Piconero::from_xmr_str("0.25")?;
    let destinations = [
        (user.address().clone(), to_primary),
        (deposit.address.clone(), to_subaddress),
    ];

    let built = platform
        .rpc()
        .build_transfer(0, &destinations, Priority::Default)
        .await?;
    assert_eq!(built.amounts, [to_primary, to_subaddress]);
    assert!(!built.fee.is_zero() && built.fee < Piconero::from_xmr_str("0.1")?);
    assert!(
        built.tx_key.len() >= 64 && built.weight.is_some(),
        "{built:?}"
    );
    // Built is not sent: the wallet neither spent anything nor knows an outgoing transfer.
    assert_eq!(platform.rpc().balance(0).await?, funded);
    assert_eq!(platform.rpc().outgoing_transfer(built.txid).await?, None);

    let txid = platform.rpc().relay(&built.tx_metadata).await?;
    assert_eq!(txid, built.txid);
    platform.rpc().store().await?;
    let pending = platform.rpc().outgoing_transfer(txid).await?.unwrap();
    assert_eq!(pending.state, OutgoingState::Pool);
    assert_eq!(pending.amount, built.total()?);
    assert_eq!(pending.fee, built.fee);
    let after = platform.rpc().balance(0).await?;
    assert_eq!(
        after.total,
        funded
            .total
            .checked_sub(built.total()?)?
            .checked_sub(built.fee)?
    );

    // Both destinations receive their amount from the one transaction.
    user.rpc().refresh().await?;
    let seen = user.rpc().incoming_transfers(0, 0).await?;
    let received: Vec<_> = seen
        .iter()
        .map(|t| (t.txid, t.subaddress.index, t.amount))
        .collect();
    assert_eq!(received.len(), 2, "{seen:#?}");
    assert!(received.contains(&(txid, 0, to_primary)));
    assert!(received.contains(&(txid, deposit.index.index, to_subaddress)));

    // Mined: confirmed at its block, confirmations growing.
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    let mined = platform.rpc().outgoing_transfer(txid).await?.unwrap();
    assert_eq!(
        mined.state,
        OutgoingState::Confirmed {
            height: height - 1,
            confirmations: 1
        }
    );
    assert_eq!((mined.amount, mined.fee), (pending.amount, pending.fee));
    let height = net.mine(2).await;
    platform.sync_to(height).await;
    let later = platform.rpc().outgoing_transfer(txid).await?.unwrap();
    assert!(matches!(
        later.state,
        OutgoingState::Confirmed {
            confirmations: 3,
            ..
        }
    ));
    Ok(())
}

#[tokio::test]
async fn relaying_the_same_metadata_twice_pays_once() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    let funded = net.fund(&platform).await;
    let amount = Piconero::from_xmr_str("2.5")?;
    let built = platform
        .rpc()
        .build_transfer(0, &[(user.address().clone(), amount)], Priority::Default)
        .await?;

    // A worker that lost the first answer relays again: the same transaction.
    let first = platform.rpc().relay(&built.tx_metadata).await?;
    let second = platform.rpc().relay(&built.tx_metadata).await?;
    assert_eq!((first, second), (built.txid, built.txid));
    let spent = amount.checked_add(built.fee)?;
    assert_eq!(
        platform.rpc().balance(0).await?.total,
        funded.total.checked_sub(spent)?
    );

    let height = net.mine(1).await;
    platform.sync_to(height).await;
    user.sync_to(height).await;
    let status = platform.rpc().outgoing_transfer(built.txid).await?.unwrap();
    assert!(
        matches!(status.state, OutgoingState::Confirmed { .. }),
        "{status:?}"
    );
    let seen = user.rpc().incoming_transfers(0, 0).await?;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!((seen[0].txid, seen[0].amount), (built.txid, amount));
    assert_eq!(user.rpc().balance(0).await?.total, amount);
    assert_eq!(
        platform.rpc().balance(0).await?.total,
        funded.total.checked_sub(spent)?
    );

    // Relayed once more after it was mined: the daemon accepts it as known and nothing is
    // paid again, but the wallet records a pending copy, later finds it missing from the pool
    // and marks the inputs unspent: its balance is then wrong. Hence the worker's rule: relay
    // again only a transaction `outgoing_transfer` does not know.
    assert_eq!(platform.rpc().relay(&built.tx_metadata).await?, built.txid);
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    user.sync_to(height).await;
    let status = platform.rpc().outgoing_transfer(built.txid).await?.unwrap();
    assert!(
        matches!(status.state, OutgoingState::Confirmed { .. }),
        "{status:?}"
    );
    assert_eq!(user.rpc().incoming_transfers(0, 0).await?.len(), 1);
    assert_eq!(user.rpc().balance(0).await?.total, amount);
    Ok(())
}

#[tokio::test]
async fn a_transfer_built_twice_from_the_same_outputs_relays_once() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    net.fund(&platform).await;
    // The newest reward is spendable for the wallet a block before the daemon serves it as a
    // ring member; a sweep takes every output, so let the chain move past that boundary.
    let height = net.mine(2).await;
    platform.sync_to(height).await;
    // Building reserves nothing: a sweep of everything and a payment share their inputs.
    let everything = Piconero::from_xmr_str("100000")?;
    let sweep = platform
        .rpc()
        .sweep_below(0, everything, platform.address(), Priority::Default, true)
        .await?;
    assert!(!sweep.is_empty());
    let payment = platform
        .rpc()
        .build_transfer(
            0,
            &[(user.address().clone(), Piconero::ONE_XMR)],
            Priority::Default,
        )
        .await?;
    platform.rpc().relay(&payment.tx_metadata).await?;
    let error = platform
        .rpc()
        .relay(&sweep[0].tx_metadata)
        .await
        .unwrap_err();
    // The daemon refused a double spend, but the wallet cannot say so: unknown outcome.
    assert!(error.is_unknown_outcome(), "{error:?}");
    assert_eq!(platform.rpc().outgoing_transfer(sweep[0].txid).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_fee_estimate_sends_nothing_and_costs_what_the_transfer_costs() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    let smallest = Piconero::from_xmr_str("0.0001")?;
    let to_self = [(platform.address().clone(), smallest)];
    // An empty wallet builds nothing, so it estimates nothing.
    let error = platform
        .rpc()
        .estimate_fee(0, &to_self, Priority::Default)
        .await
        .unwrap_err();
    assert!(error.is_insufficient_funds(), "{error:?}");

    let funded = net.fund(&platform).await;
    let fee = platform
        .rpc()
        .estimate_fee(0, &to_self, Priority::Default)
        .await?;
    assert!(
        !fee.is_zero() && fee < Piconero::from_xmr_str("0.01")?,
        "{fee}"
    );
    assert_eq!(platform.rpc().balance(0).await?, funded);
    // The same transaction to someone else costs the same: the fee is the inputs' and outputs'.
    let built = platform
        .rpc()
        .build_transfer(0, &[(user.address().clone(), smallest)], Priority::Default)
        .await?;
    assert_eq!(built.fee, fee);
    Ok(())
}

#[tokio::test]
async fn the_wallet_tells_its_own_addresses() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    let at = |index| Some(pupero_wallet::SubaddressIndex { account: 0, index });
    let rpc = platform.rpc();
    assert_eq!(rpc.address_index(platform.address()).await?, at(0));
    let made = rpc.create_subaddress(0, "never handed out").await?;
    assert_eq!(
        rpc.address_index(&made.address).await?,
        at(made.index.index)
    );
    // An integrated address pays the primary address it is built on.
    let integrated = pupero_wallet::testing::integrated_address(platform.address(), [9; 8]);
    assert_eq!(rpc.address_index(&integrated).await?, at(0));
    // Someone else's, plain or integrated.
    assert_eq!(rpc.address_index(user.address()).await?, None);
    let theirs = pupero_wallet::testing::integrated_address(user.address(), [9; 8]);
    assert_eq!(rpc.address_index(&theirs).await?, None);
    Ok(())
}
