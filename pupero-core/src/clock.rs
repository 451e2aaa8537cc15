//! Time as an input: a [`Clock`] port and a millisecond [`Timestamp`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp `ms` milliseconds after the epoch.
    pub const fn from_unix_ms(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Parses unix milliseconds as a client sends them back in a cursor: plain digits, at most
    /// [`MAX_STORED_INTEGER`](crate::limits::MAX_STORED_INTEGER), the latest time a store
    /// keeps.
    pub fn parse_unix_ms(s: &str) -> crate::Result<Timestamp> {
        crate::limits::parse_stored_integer(s)
            .map(Timestamp)
            .ok_or(crate::Error::InvalidId("invalid timestamp"))
    }

    /// Milliseconds since the epoch.
    pub const fn as_unix_ms(self) -> u64 {
        self.0
    }

    /// This instant plus `secs` seconds, saturating at the far future.
    pub const fn plus_secs(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// This instant plus `ms` milliseconds, saturating at the far future.
    pub const fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Whole seconds from `earlier` to this instant; zero if `earlier` is later.
    pub const fn secs_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0) / 1000
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}ms)", self.0)
    }
}

/// Storage edge: timestamps are stored as signed `BIGINT` milliseconds.
impl TryFrom<Timestamp> for i64 {
    type Error = crate::Error;
    fn try_from(t: Timestamp) -> crate::Result<i64> {
        i64::try_from(t.0).map_err(|_| crate::Error::InvalidId("timestamp out of range"))
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = crate::Error;
    fn try_from(v: i64) -> crate::Result<Timestamp> {
        u64::try_from(v)
            .map(Timestamp)
            .map_err(|_| crate::Error::InvalidId("negative timestamp"))
    }
}

/// Where "now" comes from. Inject it, so that expiry and timeouts are deterministic in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to; for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(AtomicU64::new(start.0))
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.0
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_timestamps_can_be_stored() {
        let latest = Timestamp::parse_unix_ms("9223372036854775807").unwrap();
        assert!(i64::try_from(latest).is_ok());
        for bad in [
            "9223372036854775808",
            "18446744073709551615",
            "-1",
            "",
            "1e3",
        ] {
            assert!(
                Timestamp::parse_unix_ms(bad)
                    .unwrap_err()
                    .is_invalid_input(),
                "{bad:?}"
            );
        }
        assert_eq!(
            Timestamp::parse_unix_ms("1700000000000"),
            Ok(Timestamp::from_unix_ms(1_700_000_000_000))
        );
    }

    #[test]
    fn seconds_since_are_whole_and_never_negative() {
        let t = Timestamp::from_unix_ms(10_000);
        assert_eq!(t.plus_ms(1_999).secs_since(t), 1);
        assert_eq!(t.plus_secs(60).secs_since(t), 60);
        assert_eq!(t.secs_since(t.plus_secs(5)), 0);
    }
}
