//! Deposits: XMR a user sends to their own subaddress of the platform's wallet.
//!
//! A scanner reads what the wallet received and records each transfer under its key (the
//! transaction and the subaddress it paid). A deposit is *pending* until it is buried under
//! enough blocks ([`DepositPolicy`]), then *credited* to its owner exactly once, through a
//! ledger transfer whose id is derived from the key ([`deposit_transfer_id`]). A pending deposit
//! that a later scan no longer sees (a reorganisation dropped its block, or the pool dropped
//! it) is *gone*; it becomes pending again if it reappears. A credited deposit never changes.
//!
//! Everything here is decided from what the scanner read; nothing does I/O.

use crate::TransferId;
use crate::limits::{MAX_DEPOSIT_CONFIRMATIONS, REORG_MARGIN_BLOCKS};

/// Where a deposit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepositStatus {
    /// Seen in the pool or in a block, waiting for confirmations.
    Pending,
    /// Credited to its owner's balance. Final.
    Credited,
    /// No longer seen by the wallet (reorganised away or dropped from the pool). Never
    /// credited; pending again if it reappears.
    Gone,
}

impl DepositStatus {
    /// The stable name, stored and shown by the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            DepositStatus::Pending => "pending",
            DepositStatus::Credited => "credited",
            DepositStatus::Gone => "gone",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<DepositStatus> {
        match s {
            "pending" => Some(DepositStatus::Pending),
            "credited" => Some(DepositStatus::Credited),
            "gone" => Some(DepositStatus::Gone),
            _ => None,
        }
    }
}

/// What the wallet said about one incoming transfer in one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// The block holding it; `None` in the pool.
    pub height: Option<u64>,
    /// Blocks on top of and including its own; 0 in the pool.
    pub confirmations: u64,
    /// Whether the wallet cannot spend it yet.
    pub locked: bool,
    /// The sender's unlock time: 0 for none.
    pub unlock_time: u64,
    /// Whether the daemon saw a competing spend of its inputs.
    pub double_spend_seen: bool,
}

/// The number of confirmations after which a deposit is credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepositPolicy {
    confirmations: u64,
}

/// A refused confirmation threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deposit confirmations must be between 1 and {MAX_DEPOSIT_CONFIRMATIONS}")]
pub struct InvalidConfirmations;

impl DepositPolicy {
    /// A policy crediting after `confirmations` blocks (at least 1: money in the pool is a
    /// promise, not a payment).
    pub fn new(confirmations: u64) -> Result<DepositPolicy, InvalidConfirmations> {
        if (1..=MAX_DEPOSIT_CONFIRMATIONS).contains(&confirmations) {
            Ok(DepositPolicy { confirmations })
        } else {
            Err(InvalidConfirmations)
        }
    }

    /// The threshold.
    pub const fn confirmations(self) -> u64 {
        self.confirmations
    }

    /// Whether a deposit seen as `sighting` may be credited now: mined, deep enough, with no
    /// competing spend, and not time-locked by its sender beyond what the wallet can spend.
    pub fn ready(self, sighting: &Sighting) -> bool {
        sighting.height.is_some()
            && sighting.confirmations >= self.confirmations
            && !sighting.double_spend_seen
            && (sighting.unlock_time == 0 || !sighting.locked)
    }
}

/// The height a scan reads from: [`REORG_MARGIN_BLOCKS`] below both the height the last scan
/// reached and the oldest deposit still pending, so a reorganisation up to that depth is seen
/// and a pending deposit is read again until it is credited or gone.
pub fn scan_from(scanned_to: Option<u64>, oldest_pending: Option<u64>) -> u64 {
    let lowest = match (scanned_to, oldest_pending) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 0,
    };
    lowest.saturating_sub(REORG_MARGIN_BLOCKS)
}

/// Whether a pending deposit last seen at `height` should have been listed by a scan reading
/// from `from`: if so and it was not, it is gone. One in the pool (`None`) is always listed
/// while it is there.
pub fn expected_in_scan(height: Option<u64>, from: u64) -> bool {
    height.is_none_or(|h| h >= from)
}

/// The ledger transfer crediting the deposit of transaction `txid` (32 bytes) to subaddress
/// (`account`, `index`): one id per deposit key, so crediting twice is a no-op.
pub fn deposit_transfer_id(txid: &[u8; 32], account: u32, index: u32) -> TransferId {
    let mut name = Vec::with_capacity(40);
    name.extend_from_slice(txid);
    name.extend_from_slice(&account.to_be_bytes());
    name.extend_from_slice(&index.to_be_bytes());
    TransferId::derive(&crate::ids::namespace::DEPOSIT_TRANSFER, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(height: u64, confirmations: u64) -> Sighting {
        Sighting {
            height: Some(height),
            confirmations,
            locked: confirmations < 10,
            unlock_time: 0,
            double_spend_seen: false,
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            DepositStatus::Pending,
            DepositStatus::Credited,
            DepositStatus::Gone,
        ] {
            assert_eq!(DepositStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DepositStatus::parse("Credited"), None);
    }

    #[test]
    fn the_threshold_is_bounded() {
        assert_eq!(DepositPolicy::new(0), Err(InvalidConfirmations));
        assert_eq!(
            DepositPolicy::new(MAX_DEPOSIT_CONFIRMATIONS + 1),
            Err(InvalidConfirmations)
        );
        assert_eq!(DepositPolicy::new(10).unwrap().confirmations(), 10);
    }

    #[test]
    fn a_deposit_is_ready_at_the_threshold_and_not_before() {
        let policy = DepositPolicy::new(3).unwrap();
        assert!(!policy.ready(&mined(100, 2)));
        assert!(policy.ready(&mined(100, 3)));
        assert!(policy.ready(&mined(100, 30)));
    }

    #[test]
    fn pool_double_spent_and_time_locked_deposits_wait() {
        let policy = DepositPolicy::new(1).unwrap();
        let pool = Sighting {
            height: None,
            confirmations: 0,
            locked: true,
            unlock_time: 0,
            double_spend_seen: false,
        };
        assert!(!policy.ready(&pool));
        // Even a (nonsensical) pool entry claiming confirmations waits to be mined.
        assert!(!policy.ready(&Sighting {
            confirmations: 5,
            ..pool
        }));
        let contested = Sighting {
            double_spend_seen: true,
            ..mined(100, 20)
        };
        assert!(!policy.ready(&contested));
        let time_locked = Sighting {
            unlock_time: 5_000,
            locked: true,
            ..mined(100, 20)
        };
        assert!(!policy.ready(&time_locked));
        assert!(policy.ready(&Sighting {
            locked: false,
            ..time_locked
        }));
    }

    #[test]
    fn scans_start_below_the_lowest_of_cursor_and_pending() {
        assert_eq!(scan_from(None, None), 0);
        assert_eq!(scan_from(Some(5), None), 0);
        let m = REORG_MARGIN_BLOCKS;
        assert_eq!(scan_from(Some(1_000), None), 1_000 - m);
        assert_eq!(scan_from(Some(1_000), Some(900)), 900 - m);
        assert_eq!(scan_from(Some(800), Some(900)), 800 - m);
        assert_eq!(scan_from(None, Some(900)), 900 - m);
    }

    #[test]
    fn only_deposits_inside_the_window_can_be_missed() {
        assert!(expected_in_scan(None, 500));
        assert!(expected_in_scan(Some(500), 500));
        assert!(!expected_in_scan(Some(499), 500));
    }

    #[test]
    fn deposit_ids_differ_per_key() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(deposit_transfer_id(&a, 0, 1), deposit_transfer_id(&a, 0, 1));
        assert_ne!(deposit_transfer_id(&a, 0, 1), deposit_transfer_id(&a, 0, 2));
        assert_ne!(deposit_transfer_id(&a, 0, 1), deposit_transfer_id(&a, 1, 1));
        assert_ne!(deposit_transfer_id(&a, 0, 1), deposit_transfer_id(&b, 0, 1));
    }
}
