//! A hot wallet restored from its seed, brought back to what the platform handed out.
//!
//! A wallet restored from its seed counts its subaddresses again from 1 and watches only a
//! look-ahead past its count (200 by default): a deposit to a subaddress beyond it is
//! invisible, and the next subaddress it makes is one already given to a user. So before the
//! wallet credits, pays or hands out anything, [`Market::wallet_matches_records`] compares it
//! with the highest subaddress stored: the wallet must have made it, and at that index it must
//! be the stored address (else it is another wallet, and nothing runs against it). A wallet
//! short of it makes subaddresses up to it, then scans the chain again, which finds what was
//! paid to them; then it is saved.
//!
//! The check runs once per process, the first time the wallet is needed, and again after a
//! failure. The rescan owed is written to the database (`wallet_rescans`) before the wallet
//! changes, and deleted once it was rescanned and saved: a process stopped in between leaves
//! the subaddresses made, and the next one, finding the rescan owed, rescans.

use pupero_core::MoneroAddress;

use crate::Market;
use crate::deposits::{PlatformWallet, ScanError};

/// The wallet's label of the subaddresses made again.
const RESTORED_LABEL: &str = "restored";

impl Market {
    /// Whether the wallet has made every subaddress the platform handed out, each being what
    /// was stored: `Ok` once it is (see the module's documentation), after bringing a
    /// restored wallet back; [`ScanError::WrongWallet`] when it is another wallet.
    pub async fn wallet_matches_records(&self) -> Result<(), ScanError> {
        let wallet = self.wallet.as_ref().ok_or(ScanError::NoWallet)?;
        wallet
            .records_checked
            .get_or_try_init(|| self.bring_back(wallet))
            .await
            .map(|_| ())
    }

    async fn bring_back(&self, wallet: &PlatformWallet) -> Result<(), ScanError> {
        let account = wallet.account;
        let Some(highest) = self.store.highest_deposit_address(account).await? else {
            return Ok(());
        };
        let count = wallet.rpc.subaddress_count(account).await?;
        let owed = self.store.rescan_owed(account).await?;
        if count <= highest.index || owed {
            if count <= highest.index {
                tracing::warn!(
                    made = count,
                    handed_out = highest.index,
                    "the wallet has made fewer subaddresses than were handed out (restored from \
                     its seed?); making them again and rescanning the chain"
                );
            } else {
                tracing::warn!("a rescan of the chain owed since an earlier start; rescanning");
            }
            self.store.owe_rescan(account, self.now()).await?;
            // One per missing index: the wallet makes them in order (checked below).
            for _ in count..=highest.index {
                wallet
                    .rpc
                    .create_subaddress(account, RESTORED_LABEL)
                    .await?;
            }
            self.same_address(wallet, &highest.address, highest.index)
                .await?;
            wallet.rpc.rescan().await?;
            wallet.rpc.store().await?;
            self.store.rescan_done(account).await?;
            tracing::warn!(
                subaddresses = highest.index.saturating_add(1),
                "the wallet made the subaddresses handed out and rescanned the chain"
            );
        } else {
            self.same_address(wallet, &highest.address, highest.index)
                .await?;
        }
        Ok(())
    }

    async fn same_address(
        &self,
        wallet: &PlatformWallet,
        stored: &str,
        index: u32,
    ) -> Result<(), ScanError> {
        let found: MoneroAddress = wallet.rpc.subaddress(wallet.account, index).await?;
        if found.as_str() == stored {
            Ok(())
        } else {
            tracing::error!(index, %found, stored, "the wallet is not the one that made the \
                platform's deposit subaddresses; nothing runs against it");
            Err(ScanError::WrongWallet { index })
        }
    }
}
