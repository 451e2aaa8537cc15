//! Deposits: what a deposit scanner sees of money paid to users' subaddresses.

use std::collections::HashSet;

use pupero_core::Piconero;
use pupero_wallet::testing::TRANSFER_UNLOCK_BLOCKS;
use pupero_wallet::{IncomingTransfer, Priority, SentTransfer, Subaddress, WalletRpc};

use crate::regtest;

/// The transfers of `transfers` that `sent` paid to `to`.
fn paid<'a>(
    transfers: &'a [IncomingTransfer],
    sent: &SentTransfer,
    to: &Subaddress,
) -> Vec<&'a IncomingTransfer> {
    transfers
        .iter()
        .filter(|t| t.txid == sent.txid && t.subaddress == to.index)
        .collect()
}

#[tokio::test]
async fn a_deposit_appears_in_the_pool_then_gains_confirmations() -> anyhow::Result<()> {
    let net = regtest!();
    let (platform, user) = tokio::join!(net.wallet("platform"), net.wallet("user"));
    net.fund(&user).await;
    let alice = platform.rpc().create_subaddress(0, "alice").await?;
    let bob = platform.rpc().create_subaddress(0, "bob").await?;

    let to_alice = Piconero::from_xmr_str("1.5")?;
    let to_bob = Piconero::from_xmr_str("0.000000000123")?;
    let sent_alice = user
        .rpc()
        .transfer(0, &alice.address, to_alice, Priority::Default)
        .await?;
    let sent_bob = user
        .rpc()
        .transfer(0, &bob.address, to_bob, Priority::Default)
        .await?;

    // In the pool: seen at once, no height, no confirmation.
    platform.rpc().refresh().await?;
    let seen = platform.rpc().incoming_transfers(0, 0).await?;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let pending = paid(&seen, &sent_alice, &alice);
    assert_eq!(pending.len(), 1);
    let pending = pending[0];
    assert_eq!(pending.amount, to_alice);
    assert_eq!(pending.output_amounts, [to_alice]);
    assert!(pending.in_pool() && pending.locked);
    assert_eq!(pending.confirmations, 0);
    assert!(!pending.double_spend_seen && !pending.coinbase);
    assert_eq!(paid(&seen, &sent_bob, &bob)[0].amount, to_bob);

    // Mined: a height, one confirmation, the same key.
    let height = net.mine(1).await;
    platform.sync_to(height).await;
    let seen = platform.rpc().incoming_transfers(0, 0).await?;
    assert_eq!(seen.len(), 2);
    let mined = paid(&seen, &sent_alice, &alice)[0];
    let block = height - 1;
    assert_eq!(mined.height, Some(block));
    assert_eq!(mined.confirmations, 1);
    assert_eq!(mined.key(), pending.key());
    assert_eq!(mined.amount, to_alice);
    assert!(mined.locked);
    let keys: HashSet<_> = seen.iter().map(IncomingTransfer::key).collect();
    assert_eq!(keys.len(), 2);

    // Confirmations grow with the blocks mined; the transfer unlocks at ten.
    for (blocks, confirmations) in [
        (1, 2),
        (TRANSFER_UNLOCK_BLOCKS - 3, TRANSFER_UNLOCK_BLOCKS - 1),
        (1, TRANSFER_UNLOCK_BLOCKS),
    ] {
        let height = net.mine(blocks).await;
        platform.sync_to(height).await;
        let seen = platform.rpc().incoming_transfers(0, block).await?;
        let mined = paid(&seen, &sent_alice, &alice)[0];
        assert_eq!(mined.confirmations, confirmations);
        assert_eq!(
            mined.locked,
            confirmations < TRANSFER_UNLOCK_BLOCKS,
            "{mined:?}"
        );
    }

    // `min_height` is inclusive: the block holding the deposit, not after it.
    assert_eq!(platform.rpc().incoming_transfers(0, block).await?.len(), 2);
    assert!(
        platform
            .rpc()
            .incoming_transfers(0, block + 1)
            .await?
            .is_empty()
    );

    let balance = platform.rpc().balance(0).await?;
    let total = to_alice.checked_add(to_bob)?;
    assert_eq!((balance.total, balance.unlocked), (total, total));
    Ok(())
}
