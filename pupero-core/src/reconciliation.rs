//! Reconciliation: does the wallet hold what the platform owes?
//!
//! What the platform owes is every user's balance in the ledger (money held in escrow or for
//! a withdrawal included: it is still theirs until it moves) plus the deposits already mined
//! into the wallet but not yet credited. The wallet's total balance must cover it (a
//! transaction of the wallet's own waiting in the pool counts there already: its change, and
//! what a sweep pays back to the wallet). Whatever it holds beyond that is the platform's own
//! (earned fees, coins the operator added), and pays the platform's network fees.

use crate::money::SignedPiconero;
use crate::{Piconero, Result};

/// Whether the wallet covers what the platform owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconciliationStatus {
    /// The wallet holds at least what is owed.
    Ok,
    /// The wallet holds less than what is owed.
    Deficit,
}

impl ReconciliationStatus {
    /// The stable name: `ok` or `deficit`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReconciliationStatus::Ok => "ok",
            ReconciliationStatus::Deficit => "deficit",
        }
    }
}

/// The numbers reconciliation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holdings {
    /// The wallet's total balance (locked included).
    pub wallet_total: Piconero,
    /// Σ of users' balances in the ledger, held and escrowed money included.
    pub user_balances: Piconero,
    /// Deposits mined into the wallet and not yet credited.
    pub deposits_uncredited: Piconero,
}

impl Holdings {
    /// What the platform owes its users.
    ///
    /// # Errors
    /// [`crate::Error::AmountOverflow`] beyond `u64` (more than all XMR in existence).
    pub fn owed(&self) -> Result<Piconero> {
        self.user_balances.checked_add(self.deposits_uncredited)
    }

    /// The wallet's total less what is owed: the platform's own money, or below zero a
    /// deficit.
    ///
    /// # Errors
    /// As [`Holdings::owed`].
    pub fn surplus(&self) -> Result<SignedPiconero> {
        Ok(SignedPiconero::difference(self.wallet_total, self.owed()?))
    }

    /// `ok` when the wallet covers what is owed, else `deficit`.
    ///
    /// # Errors
    /// As [`Holdings::owed`].
    pub fn status(&self) -> Result<ReconciliationStatus> {
        Ok(if self.surplus()?.is_negative() {
            ReconciliationStatus::Deficit
        } else {
            ReconciliationStatus::Ok
        })
    }

    /// Whether the platform's own money in the wallet pays `fee`, so that spending it leaves
    /// users' money whole.
    ///
    /// # Errors
    /// As [`Holdings::owed`].
    pub fn covers(&self, fee: Piconero) -> Result<bool> {
        Ok(self
            .surplus()?
            .non_negative()
            .is_some_and(|surplus| surplus >= fee))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holdings(wallet: u64, users: u64, deposits: u64) -> Holdings {
        Holdings {
            wallet_total: Piconero::new(wallet),
            user_balances: Piconero::new(users),
            deposits_uncredited: Piconero::new(deposits),
        }
    }

    fn check(wallet: u64, users: u64, deposits: u64, surplus: &str, status: &str) {
        let h = holdings(wallet, users, deposits);
        assert_eq!(h.surplus().unwrap().to_xmr_string(), surplus, "{h:?}");
        assert_eq!(h.status().unwrap().as_str(), status, "{h:?}");
    }

    #[test]
    fn the_wallet_must_cover_balances_and_uncredited_deposits() {
        let xmr = 1_000_000_000_000;
        check(0, 0, 0, "0", "ok");
        check(10 * xmr, 10 * xmr, 0, "0", "ok");
        check(10 * xmr + 1, 10 * xmr, 0, "0.000000000001", "ok");
        check(10 * xmr, 10 * xmr, 1, "-0.000000000001", "deficit");
        check(10 * xmr, 15 * xmr, 0, "-5", "deficit");
        check(12 * xmr, 10 * xmr, xmr, "1", "ok");
        assert!(holdings(1, u64::MAX, 1).surplus().is_err());
    }

    #[test]
    fn only_the_platforms_own_money_pays_its_fees() {
        let fee = Piconero::new(100);
        assert!(holdings(1_100, 1_000, 0).covers(fee).unwrap());
        assert!(holdings(1_100, 900, 100).covers(fee).unwrap());
        assert!(!holdings(1_099, 1_000, 0).covers(fee).unwrap());
        assert!(!holdings(900, 1_000, 0).covers(Piconero::ZERO).unwrap());
        assert!(holdings(1_000, 1_000, 0).covers(Piconero::ZERO).unwrap());
    }
}
