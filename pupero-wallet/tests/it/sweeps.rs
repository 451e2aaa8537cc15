//! Consolidating small outputs into one, as the sweeper does.

use pupero_core::Piconero;
use pupero_core::wallet::OutgoingState;
use pupero_wallet::testing::COINBASE_UNLOCK_BLOCKS;
use pupero_wallet::{Priority, WalletRpc};

use crate::regtest;

#[tokio::test]
async fn sweep_below_consolidates_small_outputs_into_the_primary_address() -> anyhow::Result<()> {
    let net = regtest!();
    let platform = net.wallet("platform").await;
    let funded = net.fund(&platform).await;
    // The newest reward is spendable for the wallet a block before the daemon serves it as a
    // ring member; a sweep takes every output, so let the chain move past that boundary.
    let height = net.mine(2).await;
    platform.sync_to(height).await;
    // Block rewards of about 35 XMR each; the threshold takes all of them.
    let below = Piconero::from_xmr_str("100")?;
    let outputs = platform.rpc().unspent_outputs(0).await?;
    let small = outputs
        .iter()
        .filter(|o| o.unlocked && o.amount < below)
        .count();
    assert!(small >= 10, "{outputs:?}");

    // Built only: nothing changes.
    let built = platform
        .rpc()
        .sweep_below(0, below, platform.address(), Priority::Default, true)
        .await?;
    assert!(!built.is_empty());
    assert_eq!(platform.rpc().balance(0).await?, funded);
    assert_eq!(
        platform.rpc().unspent_outputs(0).await?.len(),
        outputs.len()
    );

    // Relayed as the sweeper does, from the built metadata: the wallet pays only the fees,
    // and holds one output per transaction.
    let mut fees = Piconero::ZERO;
    for tx in &built {
        assert_eq!(platform.rpc().relay(&tx.tx_metadata).await?, tx.txid);
        let status = platform.rpc().outgoing_transfer(tx.txid).await?.unwrap();
        assert_eq!(status.state, OutgoingState::Pool);
        assert_eq!((status.amount, status.fee), (tx.total()?, tx.fee));
        fees = fees.checked_add(tx.fee)?;
    }
    platform.rpc().store().await?;
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    let consolidated = platform.rpc().balance(0).await?;
    assert_eq!(consolidated.total, funded.total.checked_sub(fees)?);
    let after = platform.rpc().unspent_outputs(0).await?;
    assert_eq!(
        after.len(),
        outputs.len() - small + built.len(),
        "{after:?}"
    );
    assert!(after.iter().all(|o| o.subaddress.index == 0));

    // Nothing unlocked below the threshold: nothing to do.
    let nothing = platform
        .rpc()
        .sweep_below(0, below, platform.address(), Priority::Default, false)
        .await?;
    assert!(nothing.is_empty(), "{nothing:?}");

    // New small outputs, swept and relayed in one call.
    net.mine_to(platform.address(), 5).await;
    let height = net.mine(COINBASE_UNLOCK_BLOCKS + 2).await;
    platform.sync_to(height).await;
    let before = platform.rpc().balance(0).await?;
    let swept = platform
        .rpc()
        .sweep_below(0, below, platform.address(), Priority::Default, false)
        .await?;
    assert_eq!(swept.len(), 1, "{swept:?}");
    let status = platform
        .rpc()
        .outgoing_transfer(swept[0].txid)
        .await?
        .unwrap();
    assert_eq!(status.state, OutgoingState::Pool);
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    assert_eq!(
        platform.rpc().balance(0).await?.total,
        before.total.checked_sub(swept[0].fee)?
    );
    let small_left = platform
        .rpc()
        .unspent_outputs(0)
        .await?
        .iter()
        .filter(|o| o.amount < below)
        .count();
    assert_eq!(small_left, 0);
    Ok(())
}
