//! The wallet worker's lease: one process at a time builds and relays wallet transactions
//! (building reserves nothing in the wallet, so two builders could spend the same outputs).
//!
//! The lease is a row (`worker_leases`, [`WITHDRAWAL_LEASE`]) naming its holder and until
//! when it runs, `PUPERO_WORKER_LEASE_SECS` (default 30) after the holder's last renewal:
//! - the holder renews it at the start of each pass, before each wallet call that may spend
//!   (`Market::ensure_leader`: a worker that lost it stops there), and every third of the
//!   lease in between ([`run_lease_heartbeat`]), so that a slow wallet call does not outlive
//!   it;
//! - a clean stop gives it back ([`Market::release_worker_lease`], from
//!   [`crate::jobs::stop_jobs`]): the next worker takes over at once;
//! - after a crash it runs out at most one lease after the holder died, and a standby tries
//!   again at that moment ([`Market::lease_wait`]), so a crashed worker is taken over
//!   within `PUPERO_WORKER_LEASE_SECS` (plus [`TAKEOVER_MARGIN`]).
//!
//! A standby says so once per holder in its log, and `/readyz` names the holder: waiting is
//! healthy.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pupero_core::Timestamp;
use uuid::Uuid;

use crate::Market;
use crate::store::StoreError;
use crate::withdrawals::{DriveError, WITHDRAWAL_LEASE};

/// How long after a lease runs out a standby tries to take it: the row compares with the
/// standby's own clock, so a little later than its `until`.
pub const TAKEOVER_MARGIN: Duration = Duration::from_millis(250);

/// Who holds the worker lease, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holding process (its `worker_id`).
    pub holder: Uuid,
    /// When the lease runs out unless renewed.
    pub until: Timestamp,
}

/// What this process knows of the worker lease.
#[derive(Debug, Default)]
pub struct LeaseState {
    inner: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// Until when this process holds the lease, per its last take or renewal.
    held_until: Option<Timestamp>,
    /// Whom this process last found holding it while it waited (logged once per holder).
    waiting_for: Option<LeaseHolder>,
}

impl LeaseState {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // Every change is one assignment: the state is whole even after a panic elsewhere.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this process believes it holds the lease (its last take or renewal worked).
    pub fn believed_held(&self) -> bool {
        self.known().held_until.is_some()
    }

    /// Whom this process is waiting for, if it is.
    pub fn waiting_for(&self) -> Option<LeaseHolder> {
        self.known().waiting_for
    }
}

/// How often the holder renews its lease: a third of it, so that a missed renewal or two
/// (a slow database) still leaves it held.
pub fn renew_interval(lease_secs: u64) -> Duration {
    Duration::from_millis(lease_secs.saturating_mul(1000) / 3)
}

impl Market {
    /// Takes or renews the worker lease for `PUPERO_WORKER_LEASE_SECS` from now; false when
    /// another process holds it. The one place the lease is taken: a standby's log line and
    /// `/readyz` learn here whom it waits for.
    pub async fn take_worker_lease(&self) -> Result<bool, StoreError> {
        let now = self.now();
        let until = now.plus_secs(self.settings.worker_lease_secs);
        let taken = self
            .store
            .take_lease(WITHDRAWAL_LEASE, self.worker_id, until, now)
            .await?;
        if taken {
            let previous = {
                let mut known = self.lease.known();
                known.held_until = Some(until);
                known.waiting_for.take()
            };
            if let Some(was) = previous {
                tracing::info!(worker = %self.worker_id, previous = %was.holder,
                    "took the wallet worker lease");
            }
            return Ok(true);
        }
        let holder = self.store.lease(WITHDRAWAL_LEASE).await?;
        let (lost, newly_waiting) = {
            let mut known = self.lease.known();
            let lost = known.held_until.take().is_some();
            let previous = known.waiting_for.map(|h| h.holder);
            known.waiting_for = holder.map(|(holder, until)| LeaseHolder { holder, until });
            let newly = known
                .waiting_for
                .filter(|h| previous != Some(h.holder))
                .map(|h| (h.holder, h.until));
            (lost, newly)
        };
        if lost {
            tracing::warn!(worker = %self.worker_id,
                "lost the wallet worker lease; touching the wallet no more until it is taken back");
        }
        if let Some((holder, until)) = newly_waiting {
            // Once per holder: a standby polls far more often than anything changes.
            tracing::info!(
                worker = %self.worker_id,
                %holder,
                until_ms = until.as_unix_ms(),
                in_secs = until.secs_since(now),
                "waiting for the wallet worker lease, held by another process"
            );
        }
        Ok(false)
    }

    /// Renews the lease before a wallet call that may spend, or stops the pass: a worker that
    /// lost its lease must not touch the wallet, since another may be building from the same
    /// outputs.
    pub(crate) async fn ensure_leader(&self) -> Result<(), DriveError> {
        if self.take_worker_lease().await? {
            Ok(())
        } else {
            Err(DriveError::LeaseLost)
        }
    }

    /// How long the worker loop may wait before its next pass: `default` for the holder (or
    /// when nothing is known), and for a standby until just after the holder's lease runs
    /// out, so that it takes over then rather than at its next tick.
    pub fn lease_wait(&self, default: Duration) -> Duration {
        match self.lease.waiting_for() {
            Some(holder) => {
                let left_ms = holder
                    .until
                    .as_unix_ms()
                    .saturating_sub(self.now().as_unix_ms());
                default.min(Duration::from_millis(left_ms).saturating_add(TAKEOVER_MARGIN))
            }
            None => default,
        }
    }

    /// Who holds the worker lease now, as stored (`None` before anyone took it or after it
    /// was given back); for `/readyz`.
    pub async fn worker_lease(&self) -> Result<Option<LeaseHolder>, StoreError> {
        let now = self.now();
        Ok(self
            .store
            .lease(WITHDRAWAL_LEASE)
            .await?
            .map(|(holder, until)| LeaseHolder { holder, until })
            .filter(|h| h.until > now))
    }

    /// Gives the worker lease back if this process holds it, so that another process takes
    /// over at once. Call only once no pass can start any more ([`crate::jobs::stop_jobs`]).
    pub async fn release_worker_lease(&self) {
        self.lease.known().held_until = None;
        match self
            .store
            .release_lease(WITHDRAWAL_LEASE, self.worker_id)
            .await
        {
            Ok(true) => {
                tracing::info!(worker = %self.worker_id, "gave back the wallet worker lease")
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e,
                "giving back the wallet worker lease failed; it runs out by itself"),
        }
    }
}

/// Renews the worker lease every [`renew_interval`] while this process holds it, whatever its
/// passes are doing: a wallet call may take minutes (a transfer is bounded by two), and the
/// lease must not run out under it.
pub async fn run_lease_heartbeat(state: Arc<Market>) {
    if state.wallet.is_none() {
        return;
    }
    let every = renew_interval(state.settings.worker_lease_secs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !state.lease.believed_held() {
            continue;
        }
        if let Err(e) = state.take_worker_lease().await {
            tracing::warn!(error = %e, "renewing the wallet worker lease failed; trying again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_renewed_three_times_per_lease() {
        assert_eq!(renew_interval(30), Duration::from_secs(10));
        assert_eq!(renew_interval(6), Duration::from_secs(2));
    }
}
