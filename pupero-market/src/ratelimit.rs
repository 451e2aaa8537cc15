//! Rate limits and lockouts on the requests that guess secrets or create accounts: login, the
//! second factor, registration, account recovery; and flood limits on chat messages and
//! recovery mails.
//!
//! Two layers, both on the injected clock:
//! - **Per client address** (per user for a second factor), in memory: GCRA limiters from
//!   `governor`. They stop one machine from spraying guesses over many accounts, from burning
//!   the Argon2 pool, and from mass-registering. They belong to one process and start empty
//!   after a restart, which is good enough for a flood limit.
//! - **Per account**, in the database (`login_throttle`): a progressive lockout. After
//!   [`LockoutPolicy::lock_after_failures`] failures in a row the identifier is locked for
//!   [`LockoutPolicy::first_lock_secs`], twice as long after each further failure, at most
//!   [`LockoutPolicy::max_lock_secs`]; a success forgets the failures. It survives restarts and
//!   holds across processes, because an attacker can spread guesses over both. The key is the
//!   account ([`ThrottleKey::account`]) whichever identifier named it and wherever its password
//!   was checked (login, or a logged-in step-up); a login naming no account is keyed by the
//!   identifier as typed, lower-cased, and throttled exactly like a known one, so the lockout
//!   says nothing about who has an account. Second-factor codes have their own counter per
//!   account ([`ThrottleKey::second_factor`]): a right password must not reset it.
//!
//! A refusal is 429 `RATE_LIMITED` with `Retry-After` in seconds and the same message whichever
//! limit refused. A locked identifier is refused before its password is checked, so even the
//! right password gets 429: the lock is no oracle.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use pupero_core::{Clock, Timestamp, UserId};

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::Error;
use crate::security::token_hash;
use crate::store::{Store, ThrottleState, ThrottleWrite};

/// Logins per client address at once. Generous, because offices and carrier-grade NAT put many
/// people behind one address, and the per-account lockout is what protects a single password;
/// this limit is against one machine trying many accounts and against exhausting Argon2.
pub const DEFAULT_LOGIN_BURST: u32 = 20;
/// Then one more login per address every 3 s: 20 a minute, far above what a person types.
pub const DEFAULT_LOGIN_REPLENISH_SECS: u64 = 3;

/// Registrations per client address at once: a household or a small office signing up.
pub const DEFAULT_REGISTER_BURST: u32 = 10;
/// Then one more registration per address every 6 minutes (10 an hour): nobody needs more
/// accounts than that, and a spammer needs many more.
pub const DEFAULT_REGISTER_REPLENISH_SECS: u64 = 6 * 60;

/// Second-factor codes per user at once: a few typos.
pub const DEFAULT_SECOND_FACTOR_BURST: u32 = 5;
/// Then one more code per user a minute. A 6-digit code with a ±1 step window has 3 right
/// answers in 10^6, so guessing at this rate alone would take months; with the lockout
/// ([`ThrottleKey::second_factor`]) it takes far longer.
pub const DEFAULT_SECOND_FACTOR_REPLENISH_SECS: u64 = 60;

/// Chat messages per user at once: a burst of short replies while sorting out a payment.
pub const DEFAULT_CHAT_BURST: u32 = 20;
/// Then one more message per user every 3 s (20 a minute): faster than anyone types, slow
/// enough that a script cannot flood a counterparty or a moderator.
pub const DEFAULT_CHAT_REPLENISH_SECS: u64 = 3;

/// E-mail changes per account, and per client address, at once: a typo or two.
pub const DEFAULT_EMAIL_CHANGE_BURST: u32 = 5;
/// Then one more every 10 minutes. An answer to an e-mail change says whether the address
/// belongs to another account; at this rate nobody can sweep a list of addresses.
pub const DEFAULT_EMAIL_CHANGE_REPLENISH_SECS: u64 = 10 * 60;

/// Account-recovery requests per client address at once (asking for a password-reset link,
/// using one, verifying an address): a person asks for a link or two and opens it.
pub const DEFAULT_RECOVERY_BURST: u32 = 10;
/// Then one more every 6 minutes (10 an hour): a script probing for accounts, or flooding
/// mailboxes from one machine, needs far more.
pub const DEFAULT_RECOVERY_REPLENISH_SECS: u64 = 6 * 60;

/// Recovery mails (reset and verification links asked for) per account at once: a mail that
/// did not arrive is asked for again once or twice.
pub const DEFAULT_RECOVERY_MAIL_BURST: u32 = 3;
/// Then one more every 15 minutes: more would flood the owner's mailbox, however many
/// addresses the requests come from.
pub const DEFAULT_RECOVERY_MAIL_REPLENISH_SECS: u64 = 15 * 60;

/// Failures in a row before the first lock: room for typos and a forgotten caps lock.
pub const DEFAULT_LOCK_AFTER_FAILURES: u32 = 5;
/// The first lock. Short, so that a person who mistyped is barely slowed down.
pub const DEFAULT_FIRST_LOCK_SECS: u64 = 60;
/// The longest lock. Longer locks would mostly help someone who locks others out on purpose;
/// at one guess an hour, an online guess at a policy-compliant password is hopeless anyway.
pub const DEFAULT_MAX_LOCK_SECS: u64 = 60 * 60;
/// Failures older than this, with none since, are forgotten: a typo last month does not count
/// towards a lock today. Also how long rows of unused identifiers stay in the table.
pub const DEFAULT_FORGET_FAILURES_AFTER_SECS: u64 = 24 * 60 * 60;

/// Longest refill interval accepted: `governor` counts in nanoseconds (at most 584 years).
const MAX_REPLENISH_SECS: u64 = 365 * 24 * 60 * 60;

/// Each in-memory limiter sweeps out idle keys once per this many checks. A key whose bucket
/// has filled up again is indistinguishable from a fresh one, so dropping it loses nothing; the
/// sweep keeps the map to the keys active within one refill of their burst (plus at most this
/// many new ones), so a flood from many addresses cannot grow memory without bound. Sweeping
/// every N checks costs O(1) per check on average, needs no background task, and happens only
/// where keys are added.
const RETAIN_EVERY_CHECKS: u64 = 1024;

/// Rows of long-quiet identifiers are deleted once per this many lockout attempts, for the
/// same reason: a guesser trying random logins adds a row per login.
const PRUNE_EVERY_ATTEMPTS: u64 = 1024;

/// A refusal is audited at most once per this interval per reason and address: a flood of
/// refused requests must not become a flood of database writes.
const AUDIT_REFUSALS_EVERY_SECS: u64 = 60;

/// Bits of an IPv6 address that name one client: a host usually holds a whole /64, and could
/// otherwise take a fresh key for every request.
const IPV6_CLIENT_PREFIX_BITS: u32 = 64;

/// A token bucket: `burst` requests at once, then one more every `replenish_every_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    /// Requests allowed at once by a fresh key.
    pub burst: NonZeroU32,
    /// One more request is allowed after each such interval.
    pub replenish_every_secs: NonZeroU64,
}

impl RateQuota {
    /// A quota from plain numbers; zeros become one (a limit of nothing is not a limit).
    pub fn new(burst: u32, replenish_every_secs: u64) -> RateQuota {
        RateQuota {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            replenish_every_secs: NonZeroU64::new(replenish_every_secs).unwrap_or(NonZeroU64::MIN),
        }
    }

    fn to_governor(self) -> Quota {
        let period = Duration::from_secs(self.replenish_every_secs.get().min(MAX_REPLENISH_SECS));
        // `with_period` refuses only a zero period, which `NonZeroU64` rules out.
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }
}

/// The progressive lockout of a login identifier (or of a user's second factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures in a row that cause the first lock.
    pub lock_after_failures: NonZeroU32,
    /// Length of the first lock; each further failure doubles it.
    pub first_lock_secs: u64,
    /// The longest lock.
    pub max_lock_secs: u64,
    /// Failures are forgotten after this long without another.
    pub forget_after_secs: u64,
}

impl LockoutPolicy {
    /// How long `failures` failures in a row lock the key: 0 below the threshold, then
    /// `first_lock_secs`, doubled per further failure, at most `max_lock_secs`.
    pub fn lock_secs(&self, failures: u32) -> u64 {
        let Some(doublings) = failures.checked_sub(self.lock_after_failures.get()) else {
            return 0;
        };
        let factor = 1_u64.checked_shl(doublings).unwrap_or(u64::MAX);
        self.first_lock_secs
            .saturating_mul(factor)
            .min(self.max_lock_secs)
    }

    /// The decision for one attempt at a key in `state` at `now`: refused with the seconds to
    /// wait while locked (and nothing written, so hammering a lock does not lengthen it), else
    /// allowed and counted as a failure in advance. Counting before the secret is checked
    /// means concurrent guesses cannot slip past the threshold together; a success then
    /// forgets the count.
    pub fn attempt(
        &self,
        state: ThrottleState,
        now: Timestamp,
    ) -> (ThrottleWrite, Result<(), u64>) {
        if let Some(until) = state.locked_until
            && until > now
        {
            let wait_ms = until.as_unix_ms().saturating_sub(now.as_unix_ms());
            return (ThrottleWrite::Keep, Err(wait_ms.div_ceil(1000).max(1)));
        }
        let quiet_ms = now
            .as_unix_ms()
            .saturating_sub(state.updated_at.as_unix_ms());
        let failures = if quiet_ms >= self.forget_after_secs.saturating_mul(1000) {
            1
        } else {
            state.failures.saturating_add(1)
        };
        let lock = self.lock_secs(failures);
        let next = ThrottleState {
            failures,
            locked_until: (lock > 0).then(|| now.plus_secs(lock)),
            updated_at: now,
        };
        (ThrottleWrite::Put(next), Ok(()))
    }
}

/// Every rate limit and the lockout, as configured (`Settings::rate_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Logins per client address.
    pub login_per_address: RateQuota,
    /// Registrations per client address.
    pub register_per_address: RateQuota,
    /// Second-factor attempts per user.
    pub second_factor_per_user: RateQuota,
    /// Chat messages per user, over all their trades.
    pub chat_per_user: RateQuota,
    /// E-mail changes per account and per client address.
    pub email_change: RateQuota,
    /// Account-recovery requests per client address.
    pub recovery_per_address: RateQuota,
    /// Recovery mails asked for, per account.
    pub recovery_mail_per_account: RateQuota,
    /// The progressive lockout per login identifier.
    pub lockout: LockoutPolicy,
}

impl Default for RateLimitSettings {
    fn default() -> RateLimitSettings {
        RateLimitSettings {
            login_per_address: RateQuota::new(DEFAULT_LOGIN_BURST, DEFAULT_LOGIN_REPLENISH_SECS),
            register_per_address: RateQuota::new(
                DEFAULT_REGISTER_BURST,
                DEFAULT_REGISTER_REPLENISH_SECS,
            ),
            second_factor_per_user: RateQuota::new(
                DEFAULT_SECOND_FACTOR_BURST,
                DEFAULT_SECOND_FACTOR_REPLENISH_SECS,
            ),
            chat_per_user: RateQuota::new(DEFAULT_CHAT_BURST, DEFAULT_CHAT_REPLENISH_SECS),
            email_change: RateQuota::new(
                DEFAULT_EMAIL_CHANGE_BURST,
                DEFAULT_EMAIL_CHANGE_REPLENISH_SECS,
            ),
            recovery_per_address: RateQuota::new(
                DEFAULT_RECOVERY_BURST,
                DEFAULT_RECOVERY_REPLENISH_SECS,
            ),
            recovery_mail_per_account: RateQuota::new(
                DEFAULT_RECOVERY_MAIL_BURST,
                DEFAULT_RECOVERY_MAIL_REPLENISH_SECS,
            ),
            lockout: LockoutPolicy {
                lock_after_failures: NonZeroU32::new(DEFAULT_LOCK_AFTER_FAILURES)
                    .unwrap_or(NonZeroU32::MIN),
                first_lock_secs: DEFAULT_FIRST_LOCK_SECS,
                max_lock_secs: DEFAULT_MAX_LOCK_SECS,
                forget_after_secs: DEFAULT_FORGET_FAILURES_AFTER_SECS,
            },
        }
    }
}

/// What the lockout counts failures of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// A login identifier (username or e-mail address, as typed), lower-cased. Stored as its
    /// SHA-256, never as text: people type passwords into the login field.
    pub fn login(login: &str) -> ThrottleKey {
        ThrottleKey(format!("login:{}", token_hash(&login.to_lowercase())))
    }

    /// The password of `user`'s account, whichever identifier a login used (username or
    /// e-mail address) and wherever the password was checked (login or a step-up of a
    /// logged-in session): one counter per account.
    pub fn account(user: UserId) -> ThrottleKey {
        ThrottleKey(format!("account:{user}"))
    }

    /// The second factor of `user`: wrong codes lock it like wrong passwords lock a login.
    pub fn second_factor(user: UserId) -> ThrottleKey {
        ThrottleKey(format!("2fa:{user}"))
    }

    /// The stored key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client address as a limiter key: an IPv4 address, or the /64 network of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The key of `ip`. An IPv4-mapped IPv6 address is its IPv4 address; callers without an IP
    /// address (none over TCP) share one key.
    pub fn of(ip: Option<IpAddr>) -> AddressKey {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V6(v6)) => {
                let mask = u128::MAX << (128 - IPV6_CLIENT_PREFIX_BITS);
                AddressKey(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)))
            }
            Some(v4) => AddressKey(v4),
            None => AddressKey(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }
}

/// The injected clock, as `governor` reads time: nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
struct InjectedClock(Arc<dyn Clock>);

impl governor::clock::Clock for InjectedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.now().as_unix_ms().saturating_mul(1_000_000))
    }
}

/// One keyed GCRA limiter that keeps its key space bounded.
struct KeyedLimiter<K: Hash + Eq + Clone> {
    gcra: RateLimiter<K, DashMapStateStore<K>, InjectedClock, NoOpMiddleware<Nanos>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    fn new(quota: RateQuota, clock: InjectedClock) -> KeyedLimiter<K> {
        KeyedLimiter {
            gcra: RateLimiter::dashmap_with_clock(quota.to_governor(), clock),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s bucket, or says how many seconds until it may.
    fn check(&self, key: &K) -> Result<(), u64> {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if n % RETAIN_EVERY_CHECKS == RETAIN_EVERY_CHECKS - 1 {
            self.gcra.retain_recent();
            self.gcra.shrink_to_fit();
        }
        self.gcra.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.gcra.clock().now());
            let secs = wait.as_millis().div_ceil(1000).max(1);
            u64::try_from(secs).unwrap_or(u64::MAX)
        })
    }

    /// Keys currently remembered.
    fn tracked(&self) -> usize {
        self.gcra.len()
    }
}

/// Matrix links a user may start at once, then one per [`MATRIX_LINK_REPLENISH_SECS`].
pub const MATRIX_LINK_BURST: u32 = 5;

/// Seconds before a user may start one more Matrix link.
pub const MATRIX_LINK_REPLENISH_SECS: u64 = 10 * 60;

/// The limiters of one process and the lockout shared through the database.
pub struct RateLimits {
    lockout: LockoutPolicy,
    login: KeyedLimiter<AddressKey>,
    register: KeyedLimiter<AddressKey>,
    second_factor: KeyedLimiter<UserId>,
    chat: KeyedLimiter<UserId>,
    email_change_account: KeyedLimiter<UserId>,
    email_change_address: KeyedLimiter<AddressKey>,
    recovery_address: KeyedLimiter<AddressKey>,
    recovery_mail: KeyedLimiter<UserId>,
    matrix_link: KeyedLimiter<UserId>,
    refusal_audits: KeyedLimiter<(&'static str, AddressKey)>,
    store: Store,
    clock: Arc<dyn Clock>,
    attempts: AtomicU64,
}

impl RateLimits {
    /// Fresh limiters with `settings`, the lockout in `store`, time from `clock`.
    pub fn new(settings: &RateLimitSettings, store: Store, clock: Arc<dyn Clock>) -> RateLimits {
        let gclock = InjectedClock(clock.clone());
        RateLimits {
            lockout: settings.lockout,
            login: KeyedLimiter::new(settings.login_per_address, gclock.clone()),
            register: KeyedLimiter::new(settings.register_per_address, gclock.clone()),
            second_factor: KeyedLimiter::new(settings.second_factor_per_user, gclock.clone()),
            chat: KeyedLimiter::new(settings.chat_per_user, gclock.clone()),
            email_change_account: KeyedLimiter::new(settings.email_change, gclock.clone()),
            email_change_address: KeyedLimiter::new(settings.email_change, gclock.clone()),
            recovery_address: KeyedLimiter::new(settings.recovery_per_address, gclock.clone()),
            recovery_mail: KeyedLimiter::new(settings.recovery_mail_per_account, gclock.clone()),
            matrix_link: KeyedLimiter::new(
                RateQuota::new(MATRIX_LINK_BURST, MATRIX_LINK_REPLENISH_SECS),
                gclock.clone(),
            ),
            refusal_audits: KeyedLimiter::new(RateQuota::new(1, AUDIT_REFUSALS_EVERY_SECS), gclock),
            store,
            clock,
            attempts: AtomicU64::new(0),
        }
    }

    /// One login attempt from `ip`; 429 past the per-address limit.
    pub fn check_login_ip(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.login
            .check(&AddressKey::of(ip))
            .map_err(Error::rate_limited)
    }

    /// One registration from `ip`; 429 past the per-address limit.
    pub fn check_register_ip(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.register
            .check(&AddressKey::of(ip))
            .map_err(Error::rate_limited)
    }

    /// One second-factor attempt of `user`, from any address; 429 past the per-user limit.
    /// Pair it with the lockout: [`RateLimits::begin_attempt`] with
    /// [`ThrottleKey::second_factor`], and [`RateLimits::attempt_succeeded`] on a right code.
    pub fn check_second_factor(&self, user: UserId) -> Result<(), Error> {
        self.second_factor.check(&user).map_err(Error::rate_limited)
    }

    /// One e-mail change by `user` from `ip`; 429 past the per-account or per-address limit.
    pub fn check_email_change(&self, user: UserId, ip: Option<IpAddr>) -> Result<(), Error> {
        self.email_change_account
            .check(&user)
            .and_then(|()| self.email_change_address.check(&AddressKey::of(ip)))
            .map_err(Error::rate_limited)
    }

    /// One account-recovery request from `ip` (a reset link asked for or used, an address
    /// verified); 429 past the per-address limit. The answer depends on the address alone,
    /// never on the account named.
    pub fn check_recovery_ip(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.recovery_address
            .check(&AddressKey::of(ip))
            .map_err(Error::rate_limited)
    }

    /// One recovery mail for `user`; `Err` with the seconds to wait past the per-account
    /// limit. A password-reset request does not answer with it (that would say the account
    /// exists): it sends nothing.
    pub fn check_recovery_mail(&self, user: UserId) -> Result<(), u64> {
        self.recovery_mail.check(&user)
    }

    /// One chat message of `user`, on any trade; 429 past the per-user limit.
    pub fn check_chat(&self, user: UserId) -> Result<(), Error> {
        self.chat.check(&user).map_err(Error::rate_limited)
    }

    /// Takes one Matrix link started by `user`: each invites a Matrix account to a room, so
    /// they are few.
    pub fn check_matrix_link(&self, user: UserId) -> Result<(), Error> {
        self.matrix_link.check(&user).map_err(Error::rate_limited)
    }

    /// Starts an attempt at the secret behind `key`: 429 while the key is locked (check
    /// nothing then), otherwise the attempt is counted as a failure until
    /// [`RateLimits::attempt_succeeded`] says otherwise. Call it before checking the secret.
    pub async fn begin_attempt(&self, key: &ThrottleKey) -> Result<(), Error> {
        let now = self.clock.now();
        if self.attempts.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY_ATTEMPTS
            == PRUNE_EVERY_ATTEMPTS - 1
        {
            self.prune(now).await;
        }
        let policy = self.lockout;
        self.store
            .throttle_update(key.as_str(), now, |state| policy.attempt(state, now))
            .await?
            .map_err(Error::rate_limited)
    }

    /// The secret behind `key` was right: its failures are forgotten.
    pub async fn attempt_succeeded(&self, key: &ThrottleKey) -> Result<(), Error> {
        self.store.throttle_reset(key.as_str()).await?;
        Ok(())
    }

    /// Whether a refusal for `reason` from `ip` should be audited now: the first in each
    /// interval of `AUDIT_REFUSALS_EVERY_SECS` per reason and address.
    pub fn should_audit_refusal(&self, reason: &'static str, ip: Option<IpAddr>) -> bool {
        self.refusal_audits
            .check(&(reason, AddressKey::of(ip)))
            .is_ok()
    }

    /// Keys the in-memory limiters remember (login, registration, second factor).
    pub fn tracked_keys(&self) -> (usize, usize, usize) {
        (
            self.login.tracked(),
            self.register.tracked(),
            self.second_factor.tracked(),
        )
    }

    async fn prune(&self, now: Timestamp) {
        let quiet_since = Timestamp::from_unix_ms(
            now.as_unix_ms()
                .saturating_sub(self.lockout.forget_after_secs.saturating_mul(1000)),
        );
        match self.store.throttle_prune(quiet_since, now).await {
            Ok(deleted) => tracing::debug!(deleted, "pruned login throttle"),
            // The table only grows a little until the next try; logins go on.
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "pruning login throttle failed")
            }
        }
    }
}

/// Audits a refusal by a limit (`reason` says which) and passes it on. At most one entry per
/// reason and address a minute is written, so that a flood stays a flood of cheap refusals.
pub async fn audit_refusal(
    state: &Market,
    client: Option<IpAddr>,
    reason: &'static str,
    refusal: Error,
) -> Error {
    // A storage failure while checking is not a refusal; it was logged where it happened.
    if !refusal.is_rate_limited() {
        return refusal;
    }
    tracing::info!(reason, "rate limited");
    if state.limits.should_audit_refusal(reason, client) {
        state
            .audit(
                AuditEntry::of(AuditEvent::RateLimited, None)
                    .from_ip(client.map(|ip| ip.to_string()))
                    .detail(reason),
            )
            .await;
    }
    refusal
}

#[cfg(test)]
mod tests {
    use pupero_core::ManualClock;

    use super::*;

    fn policy() -> LockoutPolicy {
        RateLimitSettings::default().lockout
    }

    #[test]
    fn lock_starts_at_the_threshold_and_doubles_up_to_the_cap() {
        let p = policy();
        let expected: [(u32, u64); 11] = [
            (0, 0),
            (1, 0),
            (4, 0),
            (5, 60),
            (6, 120),
            (7, 240),
            (8, 480),
            (9, 960),
            (10, 1920),
            (11, 3600),
            (12, 3600),
        ];
        for (failures, secs) in expected {
            assert_eq!(p.lock_secs(failures), secs, "{failures} failures");
        }
        // No overflow however long the guessing goes on.
        assert_eq!(p.lock_secs(63), 3600);
        assert_eq!(p.lock_secs(64), 3600);
        assert_eq!(p.lock_secs(u32::MAX), 3600);
        let uncapped = LockoutPolicy {
            max_lock_secs: u64::MAX,
            ..p
        };
        assert_eq!(uncapped.lock_secs(u32::MAX), u64::MAX);
    }

    #[test]
    fn attempts_count_lock_and_wait_without_lengthening_the_lock() {
        let p = policy();
        let start = Timestamp::from_unix_ms(1_000_000_000);
        let mut state = ThrottleState::FRESH;
        for n in 1..=5 {
            let (write, answer) = p.attempt(state, start);
            assert_eq!(answer, Ok(()), "attempt {n} is allowed");
            let ThrottleWrite::Put(next) = write else {
                panic!("attempt {n} is counted")
            };
            assert_eq!(next.failures, n);
            state = next;
        }
        assert_eq!(state.locked_until, Some(start.plus_secs(60)));
        // Locked: refused with the time left, rounded up, and nothing changes.
        let later = start.plus_ms(30_500);
        assert_eq!(p.attempt(state, later), (ThrottleWrite::Keep, Err(30)));
        assert_eq!(
            p.attempt(state, start.plus_ms(59_999)),
            (ThrottleWrite::Keep, Err(1))
        );
        // Over: the next attempt is allowed and, counted as the sixth failure, locks for 2 min.
        let after = start.plus_secs(60);
        let (write, answer) = p.attempt(state, after);
        assert_eq!(answer, Ok(()));
        assert_eq!(
            write,
            ThrottleWrite::Put(ThrottleState {
                failures: 6,
                locked_until: Some(after.plus_secs(120)),
                updated_at: after,
            })
        );
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = policy();
        let then = Timestamp::from_unix_ms(1_000_000_000);
        let state = ThrottleState {
            failures: 9,
            locked_until: Some(then.plus_secs(960)),
            updated_at: then,
        };
        let (write, answer) = p.attempt(state, then.plus_secs(DEFAULT_FORGET_FAILURES_AFTER_SECS));
        assert_eq!(answer, Ok(()));
        let ThrottleWrite::Put(next) = write else {
            panic!("counted")
        };
        assert_eq!((next.failures, next.locked_until), (1, None));
    }

    #[test]
    fn addresses_are_keyed_per_ipv4_host_and_ipv6_network() {
        let key = |s: &str| AddressKey::of(Some(s.parse().unwrap()));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(AddressKey::of(None), AddressKey::of(None));
    }

    #[test]
    fn login_keys_ignore_case_and_hide_the_text() {
        assert_eq!(ThrottleKey::login("Alice"), ThrottleKey::login("aLICE"));
        assert_ne!(ThrottleKey::login("alice"), ThrottleKey::login("bob"));
        let key = ThrottleKey::login("hunter2-typed-as-a-login");
        assert!(!key.as_str().contains("hunter2"));
        assert!(key.as_str().len() <= crate::store::MAX_THROTTLE_KEY_LEN);
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_refills_with_the_clock() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_000_000_000)));
        let limiter: KeyedLimiter<u32> =
            KeyedLimiter::new(RateQuota::new(3, 60), InjectedClock(clock.clone()));
        for _ in 0..3 {
            assert_eq!(limiter.check(&1), Ok(()));
        }
        assert_eq!(limiter.check(&1), Err(60));
        assert_eq!(limiter.check(&2), Ok(()), "another key has its own bucket");
        clock.advance_secs(59);
        assert_eq!(limiter.check(&1), Err(1));
        clock.advance_secs(1);
        assert_eq!(limiter.check(&1), Ok(()));
        assert_eq!(limiter.check(&1), Err(60));
    }

    #[test]
    fn idle_keys_are_swept_out() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_000_000_000)));
        let limiter: KeyedLimiter<u64> =
            KeyedLimiter::new(RateQuota::new(2, 1), InjectedClock(clock.clone()));
        for key in 0..RETAIN_EVERY_CHECKS - 1 {
            assert_eq!(limiter.check(&key), Ok(()));
        }
        assert_eq!(
            limiter.tracked(),
            usize::try_from(RETAIN_EVERY_CHECKS - 1).unwrap()
        );
        // Every bucket is full again: the next check sweeps them all out but its own.
        clock.advance_secs(10);
        assert_eq!(limiter.check(&u64::MAX), Ok(()));
        assert_eq!(limiter.tracked(), 1);
    }
}
