//! Reconciliation: the wallet's coins against what the ledger says the platform owes.
//!
//! [`Market::reconciliation`] reads, in this order: the wallet's balance, the deposits mined
//! and not yet credited, the sum of users' balances, and the rest (the platform's accounts,
//! withdrawals in flight). The reads are not one snapshot, so the order is chosen to err
//! toward a deficit, never toward a false `ok`: a deposit credited between the two database
//! reads is counted twice (as uncredited, then in a balance), never missed; a deposit mined
//! after the balance was read is counted by neither. Withdrawals leave the wallet when relayed
//! and users' balances a moment later, in the same worker pass, so the worker's own check
//! ([`Market::check_reconciliation`]) runs under the worker's exclusion, between passes.

use pupero_core::ledger::AccountCode;
use pupero_core::reconciliation::{Holdings, ReconciliationStatus};
use pupero_core::{AccountId, Piconero, SignedPiconero, Timestamp};

use crate::Market;
use crate::deposits::{PlatformWallet, wallet_error, wallet_unavailable};
use crate::error::Error;
use crate::store::StoreError;
use crate::withdrawals::DriveError;

/// The wallet against the ledger, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciliation {
    /// User accounts in the ledger.
    pub user_accounts: u64,
    /// Σ of users' balances: what the platform owes them, money held in escrow or for
    /// withdrawals included.
    pub user_balances: Piconero,
    /// Of which held by pending transfers (trade escrow, withdrawal holds).
    pub user_held: Piconero,
    /// Deposits in the wallet (mined, or in the pool, which the wallet's balance counts too)
    /// and not yet credited: owed too, and already in the wallet's balance.
    pub deposits_uncredited: Piconero,
    /// How many.
    pub deposits_uncredited_count: u64,
    /// Withdrawals held and not yet broadcast (`requested`, `signed`): still in the wallet
    /// and in users' balances.
    pub withdrawals_in_flight: u64,
    /// Their total amount.
    pub withdrawals_in_flight_amount: Piconero,
    /// The wallet's total balance (locked outputs and its own change in flight included).
    pub wallet_total: Piconero,
    /// What the wallet can spend now.
    pub wallet_unlocked: Piconero,
    /// The ledger's hot wallet account (debit-normal: deposits in; withdrawals, their fees
    /// and the platform's network fees out).
    pub hot_wallet: SignedPiconero,
    /// Trade fees the platform earned: its own money in the wallet.
    pub platform_fees: SignedPiconero,
    /// Network fees the platform paid itself (sweeps).
    pub network_fees: SignedPiconero,
    /// The wallet's total less what is owed (users' balances and uncredited deposits).
    pub surplus: SignedPiconero,
    /// `ok`, or `deficit` when the surplus is below zero.
    pub status: ReconciliationStatus,
    /// When it was read.
    pub at: Timestamp,
}

impl Reconciliation {
    /// The numbers the core compares.
    pub fn holdings(&self) -> Holdings {
        Holdings {
            wallet_total: self.wallet_total,
            user_balances: self.user_balances,
            deposits_uncredited: self.deposits_uncredited,
        }
    }
}

fn debit_balance(account: Option<pupero_core::ledger::Account>) -> SignedPiconero {
    account.map_or(SignedPiconero::ZERO, |a| {
        let b = a.balances();
        SignedPiconero::difference(b.debits_posted, b.credits_posted)
    })
}

fn credit_balance(account: Option<pupero_core::ledger::Account>) -> SignedPiconero {
    account.map_or(SignedPiconero::ZERO, |a| {
        let b = a.balances();
        SignedPiconero::difference(b.credits_posted, b.debits_posted)
    })
}

/// A failed reconciliation as its reader sees it: 503 `WALLET_UNAVAILABLE` without a wallet
/// or while it fails, else an internal error.
fn reconciliation_error(error: DriveError) -> Error {
    match error {
        DriveError::NoWallet => wallet_unavailable("this server has no wallet configured"),
        DriveError::Wallet(e) => wallet_error(&e),
        DriveError::Store(e) => e.into(),
        DriveError::Ledger(e) => e.into(),
        other => Error::internal(&other),
    }
}

impl Market {
    /// The wallet against the ledger now (see the module's documentation); 503
    /// `WALLET_UNAVAILABLE` when no wallet is configured or it does not answer.
    pub async fn reconciliation(&self) -> Result<Reconciliation, Error> {
        let wallet = self
            .wallet
            .as_ref()
            .ok_or(DriveError::NoWallet)
            .map_err(reconciliation_error)?;
        self.reconcile_with(wallet, false)
            .await
            .map_err(reconciliation_error)
    }

    /// As [`Market::reconciliation`]; with `scan`, a deposit scan runs right after the
    /// wallet's balance is read, so that every deposit the balance counts is in the database.
    pub(crate) async fn reconcile_with(
        &self,
        wallet: &PlatformWallet,
        scan: bool,
    ) -> Result<Reconciliation, DriveError> {
        let balance = wallet.rpc.balance(wallet.account).await?;
        if scan {
            self.scan_deposits().await?;
        }
        let (deposits_uncredited_count, deposits_uncredited) =
            self.store.uncredited_deposits(wallet.account).await?;
        let users = self.ledger.totals(AccountCode::UserXmr).await?;
        let user_balances = users
            .net_credits
            .non_negative()
            .ok_or(StoreError::Corrupt("users' balances add up below zero"))?;
        let (withdrawals_in_flight, withdrawals_in_flight_amount) =
            self.store.withdrawals_in_flight().await?;
        let hot_wallet = debit_balance(self.ledger.account(AccountId::hot_wallet()).await?);
        let network_fees = debit_balance(self.ledger.account(AccountId::network_fees()).await?);
        let platform_fees = credit_balance(self.ledger.account(AccountId::platform_fees()).await?);
        let holdings = Holdings {
            wallet_total: balance.total,
            user_balances,
            deposits_uncredited,
        };
        let beyond = |_| StoreError::Corrupt("what is owed is beyond u64");
        Ok(Reconciliation {
            user_accounts: users.accounts,
            user_balances,
            user_held: users.debits_pending,
            deposits_uncredited,
            deposits_uncredited_count,
            withdrawals_in_flight,
            withdrawals_in_flight_amount,
            wallet_total: balance.total,
            wallet_unlocked: balance.unlocked,
            hot_wallet,
            platform_fees,
            network_fees,
            surplus: holdings.surplus().map_err(beyond)?,
            status: holdings.status().map_err(beyond)?,
            at: self.now(),
        })
    }

    /// The worker's periodic check: logs a warning when the wallet holds less than the
    /// platform owes. Runs only in the process holding the worker lease, between its passes,
    /// so no withdrawal is half-way between the wallet and the ledger. Never fails: a check
    /// that cannot run is logged.
    pub async fn check_reconciliation(&self) -> Option<Reconciliation> {
        let wallet = self.wallet.as_ref()?;
        let _between_passes = self.worker_pass.lock().await;
        match self.take_worker_lease().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation check: taking the lease failed");
                return None;
            }
        }
        let result = self.reconcile_with(wallet, false).await;
        if let Ok(r) = &result {
            self.wallet_health.reconciled(*r);
        }
        match result {
            Ok(r) if r.status == ReconciliationStatus::Deficit => {
                tracing::warn!(
                    deficit = %r.surplus,
                    wallet_total = %r.wallet_total,
                    user_balances = %r.user_balances,
                    deposits_uncredited = %r.deposits_uncredited,
                    "reconciliation: users' balances exceed the wallet's balance"
                );
                Some(r)
            }
            Ok(r) => {
                tracing::debug!(surplus = %r.surplus, wallet_total = %r.wallet_total,
                    user_balances = %r.user_balances, "reconciliation ok");
                Some(r)
            }
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation check failed");
                None
            }
        }
    }
}
