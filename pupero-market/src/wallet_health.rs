//! What this process's wallet jobs last saw: the deposit scanner's progress and the last
//! reconciliation, for `/metrics` and alerts. Process-local by design: the process that scans
//! or holds the worker lease is the one that knows, and each process is scraped on its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pupero_core::Timestamp;

use crate::reconciliation::Reconciliation;

/// See the module's documentation.
#[derive(Debug)]
pub struct WalletHealth {
    /// When this process started watching: the age of "no good scan yet".
    started_ms: u64,
    /// When the last scan that finished well ended, unix ms (0: none yet).
    last_scan_ms: AtomicU64,
    /// The wallet height that scan reached.
    scanned_height: AtomicU64,
    /// The newest wallet height seen (scans and the height watch).
    wallet_height: AtomicU64,
    /// The last reconciliation this process ran.
    reconciliation: Mutex<Option<Reconciliation>>,
}

/// The deposit scanner's progress, as [`WalletHealth::scans`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Blocks the wallet has that no finished scan has looked at.
    pub lag_blocks: u64,
    /// When the last good scan ended, or when watching began if none did.
    pub since: Timestamp,
}

impl WalletHealth {
    /// Nothing seen yet, watching from `now`.
    pub fn new(now: Timestamp) -> WalletHealth {
        WalletHealth {
            started_ms: now.as_unix_ms(),
            last_scan_ms: AtomicU64::new(0),
            scanned_height: AtomicU64::new(0),
            wallet_height: AtomicU64::new(0),
            reconciliation: Mutex::new(None),
        }
    }

    /// A scan reached `height` at `now`.
    pub(crate) fn scanned(&self, height: u64, now: Timestamp) {
        self.scanned_height.fetch_max(height, Ordering::Relaxed);
        self.wallet_height.fetch_max(height, Ordering::Relaxed);
        self.last_scan_ms
            .fetch_max(now.as_unix_ms(), Ordering::Relaxed);
    }

    /// The wallet said it is at `height`.
    pub(crate) fn wallet_at(&self, height: u64) {
        self.wallet_height.fetch_max(height, Ordering::Relaxed);
    }

    /// A reconciliation ran.
    pub(crate) fn reconciled(&self, result: Reconciliation) {
        *self
            .reconciliation
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(result);
    }

    /// The scanner's progress.
    pub fn scans(&self) -> ScanProgress {
        let last = self.last_scan_ms.load(Ordering::Relaxed);
        let since = if last == 0 { self.started_ms } else { last };
        ScanProgress {
            lag_blocks: self
                .wallet_height
                .load(Ordering::Relaxed)
                .saturating_sub(self.scanned_height.load(Ordering::Relaxed)),
            since: Timestamp::from_unix_ms(since),
        }
    }

    /// The last reconciliation this process ran, if any.
    pub fn last_reconciliation(&self) -> Option<Reconciliation> {
        *self
            .reconciliation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_what_the_wallet_has_past_the_last_good_scan() {
        let start = Timestamp::from_unix_ms(1_000);
        let health = WalletHealth::new(start);
        assert_eq!(
            health.scans(),
            ScanProgress {
                lag_blocks: 0,
                since: start
            }
        );
        health.wallet_at(100);
        assert_eq!(health.scans().lag_blocks, 100);
        health.scanned(97, Timestamp::from_unix_ms(5_000));
        health.wallet_at(99);
        assert_eq!(
            health.scans(),
            ScanProgress {
                lag_blocks: 3,
                since: Timestamp::from_unix_ms(5_000)
            }
        );
    }
}
