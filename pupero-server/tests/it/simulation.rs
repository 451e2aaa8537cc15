//! A deterministic simulation of the withdrawal worker: two server processes on one SQLite
//! database share one `SimWallet` whose calls fail as a seeded fault plan says, while a seeded
//! RNG picks every step (requests, retries, worker passes, mining, restarts, lease expiry).
//! After the run the faults stop and the worker drives everything to rest; then the money
//! must add up to the piconero.
//!
//! `PUPERO_SIM_SEEDS=N` runs seeds `0..N` (default [`DEFAULT_SEEDS`]); `PUPERO_SIM_SEED=K`
//! runs seed `K` alone, to reproduce a failure, and `PUPERO_SIM_TRACE=1` prints its steps and
//! the server's log: `PUPERO_SIM_SEED=K PUPERO_SIM_TRACE=1 cargo nextest run -p pupero-server
//! --test it simulation --no-capture`. `PUPERO_SIM_MARIADB=1` runs on MariaDB.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use pupero_core::ledger::NewAccount;
use pupero_core::wallet::{
    Balance, BuiltTransfer, IncomingTransfer, OutgoingStatus, OwnedOutput, Priority, Refreshed,
    Result as WalletResult, SentTransfer, Subaddress, SubaddressIndex, TxMetadata, Txid,
};
use pupero_core::{
    AccountId, Clock as _, ManualClock, MoneroAddress, Network, Piconero, Role, Timestamp, UserId,
    Username, WalletRpc, WithdrawalState,
};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_market::events::StoredEvent;
use pupero_market::trades::IdempotencyKey;
use pupero_market::withdrawals::DriveError;
use pupero_server::config::DEFAULT_WORKER_LEASE_SECS as WITHDRAWAL_LEASE_SECS;
use pupero_server::config::MoneroNetwork;
use pupero_server::{AppState, Settings};
use pupero_wallet::testing::{FaultPlan, SimWallet, TRANSFER_UNLOCK_BLOCKS, outside_address};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Seeds per run unless `PUPERO_SIM_SEEDS` says otherwise: about 15 s per hundred in a debug
/// build on two busy cores (most of it opening two `AppState`s per seed).
const DEFAULT_SEEDS: u64 = 200;

/// Seeds simulated at the same time (on MariaDB half as many, for its connection limit).
const CONCURRENT_SEEDS: usize = 8;

/// Random steps per seed, at most.
const MAX_STEPS: u32 = 120;

/// Worker rounds after the faults stop before a run counts as stuck.
const MAX_SETTLE_ROUNDS: u32 = 30;

/// Addresses the withdrawals pay (shared, so one transaction may pay one twice).
const DESTINATIONS: u32 = 6;

/// The network of the simulation: regtest's, which uses mainnet addresses.
const NETWORK: Network = Network::Mainnet;

fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).expect("amount")
}

/// The seeds of this run, from `PUPERO_SIM_SEED` or `PUPERO_SIM_SEEDS`.
fn seeds() -> Vec<u64> {
    let number = |name: &str| {
        std::env::var(name).ok().map(|v| {
            v.trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
        })
    };
    if let Some(seed) = number("PUPERO_SIM_SEED") {
        return vec![seed];
    }
    (0..number("PUPERO_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)).collect()
}

/// SQLite, or MariaDB with `PUPERO_SIM_MARIADB=1` (slower; its transactions and locks are
/// the production ones).
fn backend() -> Backend {
    if std::env::var("PUPERO_SIM_MARIADB").is_ok_and(|v| v == "1") {
        Backend::MariaDb
    } else {
        Backend::Sqlite
    }
}

/// Whether to print every step and the server's log (`PUPERO_SIM_TRACE=1`).
fn tracing_on() -> bool {
    std::env::var("PUPERO_SIM_TRACE").is_ok_and(|v| v == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_worker_simulation() {
    let seeds = seeds();
    if tracing_on() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
    }
    let started = std::time::Instant::now();
    let mut totals = Totals::default();
    // Seeds are independent (each has its own database, wallet and clock), so several run at
    // once, which hides the databases' fsyncs.
    let concurrent = if backend() == Backend::MariaDb {
        CONCURRENT_SEEDS / 2
    } else {
        CONCURRENT_SEEDS
    };
    let mut runs = futures_util::stream::iter(seeds.clone())
        .map(|seed| async move { (seed, tokio::spawn(simulate(seed)).await) })
        .buffer_unordered(concurrent);
    let mut failed = Vec::new();
    while let Some((seed, outcome)) = runs.next().await {
        match outcome {
            Ok(run) => totals.add(&run),
            Err(e) => failed.push((seed, e.to_string())),
        }
    }
    failed.sort_by_key(|(seed, _)| *seed);
    if let Some((seed, first)) = failed.first() {
        let failing: Vec<u64> = failed.iter().map(|(seed, _)| *seed).collect();
        panic!(
            "{} of {} simulation seeds failed: {failing:?}\nfirst, seed {seed}: {first}\n\
             reproduce: PUPERO_SIM_SEED={seed} PUPERO_SIM_TRACE=1 cargo nextest run -p pupero-server --test it simulation --no-capture",
            failed.len(),
            seeds.len()
        );
    }
    eprintln!(
        "{} seeds in {:.1} s: {totals:?}",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    if seeds.len() >= 50 {
        // The simulation must reach the interesting states, or it checks nothing.
        assert!(totals.confirmed > 0, "{totals:?}");
        assert!(totals.failed > 0, "{totals:?}");
        assert!(totals.batched_txs > 0, "{totals:?}");
        assert!(totals.restarts > 0, "{totals:?}");
        assert!(totals.stolen_leases > 0, "{totals:?}");
        assert!(totals.refused_requests > 0, "{totals:?}");
        assert!(totals.replays > 0, "{totals:?}");
        assert!(totals.withdrew_everything > 0, "{totals:?}");
    }
}

/// What the runs did, to show the simulation covers what it claims.
#[derive(Debug, Default)]
struct Totals {
    requested: usize,
    confirmed: usize,
    failed: usize,
    txs: usize,
    batched_txs: usize,
    restarts: u64,
    stolen_leases: u64,
    refused_requests: usize,
    replays: usize,
    withdrew_everything: usize,
    worker_errors: usize,
    lost_leases: usize,
}

impl Totals {
    fn add(&mut self, run: &Totals) {
        self.requested += run.requested;
        self.confirmed += run.confirmed;
        self.failed += run.failed;
        self.txs += run.txs;
        self.batched_txs += run.batched_txs;
        self.restarts += run.restarts;
        self.stolen_leases += run.stolen_leases;
        self.refused_requests += run.refused_requests;
        self.replays += run.replays;
        self.withdrew_everything += run.withdrew_everything;
        self.worker_errors += run.worker_errors;
        self.lost_leases += run.lost_leases;
    }
}

/// The wallet as process A sees it: the shared `SimWallet`, except that around a call, as
/// often as `chance` says, A stalls long enough for its lease to expire and process B runs a
/// whole worker pass. So B takes over in the middle of A's pass, at every point where A talks
/// to the wallet, as it would if a wallet call of A hung past the lease.
struct Stalling {
    inner: Arc<SimWallet>,
    other: Arc<AppState>,
    clock: Arc<ManualClock>,
    rng: std::sync::Mutex<StdRng>,
    /// Per mille of calls before (and, separately, after) which B runs.
    chance_per_mille: std::sync::atomic::AtomicU32,
    stolen: std::sync::atomic::AtomicU64,
}

impl Stalling {
    async fn maybe_stall(&self) {
        let per_mille = self
            .chance_per_mille
            .load(std::sync::atomic::Ordering::Relaxed);
        let stall = {
            let mut rng = self.rng.lock().expect("rng");
            rng.random_range(0..1000) < per_mille
        };
        if !stall {
            return;
        }
        self.clock.advance_secs(WITHDRAWAL_LEASE_SECS + 1);
        let outcome = self.other.market.drive_withdrawals().await;
        if tracing_on() {
            eprintln!("    (A stalls; B's pass: {outcome:?})");
        }
        if let Ok(report) = outcome
            && report.leader
        {
            self.stolen
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    async fn around<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.maybe_stall().await;
        let outcome = call.await;
        self.maybe_stall().await;
        outcome
    }
}

#[async_trait]
impl WalletRpc for Stalling {
    async fn primary_address(&self, account: u32) -> WalletResult<MoneroAddress> {
        self.around(self.inner.primary_address(account)).await
    }

    async fn create_subaddress(&self, account: u32, label: &str) -> WalletResult<Subaddress> {
        self.around(self.inner.create_subaddress(account, label))
            .await
    }

    async fn subaddress_count(&self, account: u32) -> WalletResult<u32> {
        self.around(self.inner.subaddress_count(account)).await
    }

    async fn subaddress(&self, account: u32, index: u32) -> WalletResult<MoneroAddress> {
        self.around(self.inner.subaddress(account, index)).await
    }

    async fn rescan(&self) -> WalletResult<()> {
        self.around(self.inner.rescan()).await
    }

    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> WalletResult<Vec<IncomingTransfer>> {
        self.around(self.inner.incoming_transfers(account, min_height))
            .await
    }

    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> WalletResult<SentTransfer> {
        self.around(self.inner.transfer(account, destination, amount, priority))
            .await
    }

    async fn build_transfer(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> WalletResult<BuiltTransfer> {
        self.around(self.inner.build_transfer(account, destinations, priority))
            .await
    }

    async fn estimate_fee(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> WalletResult<Piconero> {
        self.around(self.inner.estimate_fee(account, destinations, priority))
            .await
    }

    async fn address_index(
        &self,
        address: &MoneroAddress,
    ) -> WalletResult<Option<SubaddressIndex>> {
        self.around(self.inner.address_index(address)).await
    }

    async fn relay(&self, tx_metadata: &TxMetadata) -> WalletResult<Txid> {
        self.around(self.inner.relay(tx_metadata)).await
    }

    async fn outgoing_transfer(&self, txid: Txid) -> WalletResult<Option<OutgoingStatus>> {
        self.around(self.inner.outgoing_transfer(txid)).await
    }

    async fn sweep_below(
        &self,
        account: u32,
        below: Piconero,
        destination: &MoneroAddress,
        priority: Priority,
        do_not_relay: bool,
    ) -> WalletResult<Vec<BuiltTransfer>> {
        self.around(
            self.inner
                .sweep_below(account, below, destination, priority, do_not_relay),
        )
        .await
    }

    async fn unspent_outputs(&self, account: u32) -> WalletResult<Vec<OwnedOutput>> {
        self.around(self.inner.unspent_outputs(account)).await
    }

    async fn store(&self) -> WalletResult<()> {
        self.around(self.inner.store()).await
    }

    async fn balance(&self, account: u32) -> WalletResult<Balance> {
        self.around(self.inner.balance(account)).await
    }

    async fn height(&self) -> WalletResult<u64> {
        self.around(self.inner.height()).await
    }

    async fn refresh(&self) -> WalletResult<Refreshed> {
        self.around(self.inner.refresh()).await
    }
}

/// A simulated user.
struct SimUser {
    id: UserId,
    name: String,
    credited: Piconero,
}

/// A request the server accepted: what it must pay.
#[derive(Debug, Clone)]
struct Accepted {
    id: Uuid,
    user: usize,
    key: String,
    destination: u32,
    /// `None`: everything available.
    amount: Option<Piconero>,
}

impl Accepted {
    /// The request's amount as sent.
    fn asked(&self) -> String {
        self.amount
            .map_or_else(|| "all".to_owned(), |amount| amount.to_xmr_string())
    }
}

struct Sim {
    seed: u64,
    rng: StdRng,
    clock: Arc<ManualClock>,
    wallet: Arc<SimWallet>,
    stalling: Arc<Stalling>,
    /// Process A (its wallet stalls) and process B.
    a: Arc<AppState>,
    b: Arc<AppState>,
    users: Vec<SimUser>,
    accepted: Vec<Accepted>,
    /// Transactions paid to the wallet from outside (its funding).
    funding: BTreeSet<Txid>,
    totals: Totals,
    last_error: Option<String>,
    db: Option<TestDatabase>,
}

/// Runs seed `seed` and checks every invariant at its end.
async fn simulate(seed: u64) -> Totals {
    let mut sim = Sim::new(seed).await;
    let steps = sim.rng.random_range(20..=MAX_STEPS);
    for _ in 0..steps {
        sim.step().await;
    }
    sim.settle().await;
    sim.check().await;
    sim.totals.restarts = sim.wallet.restarts();
    sim.totals.stolen_leases = sim
        .stalling
        .stolen
        .load(std::sync::atomic::Ordering::Relaxed);
    if let Some(db) = sim.db.take() {
        db.cleanup().await;
    }
    std::mem::take(&mut sim.totals)
}

/// Sets of calls a fault plan may aim at: the relay and what surrounds it, where a lost
/// answer or a restart decides whether money moves.
const AIMS: [&[&str]; 5] = [
    &[],
    &["relay_tx"],
    &["relay_tx", "store"],
    &["relay_tx", "get_transfer_by_txid"],
    &["transfer", "relay_tx", "store"],
];

fn random_plan(rng: &mut StdRng) -> FaultPlan {
    let only = AIMS[rng.random_range(0..AIMS.len())];
    let mut pick = |choices: &[f64]| choices[rng.random_range(0..choices.len())];
    if only.is_empty() {
        FaultPlan {
            lose_response_after_success: pick(&[0.0, 0.05, 0.1, 0.25]),
            unavailable: pick(&[0.0, 0.05, 0.1]),
            timeout_before_effect: pick(&[0.0, 0.05, 0.1]),
            restart: pick(&[0.0, 0.02, 0.05, 0.1]),
            only,
        }
    } else {
        // Aimed at a few calls, faults can be frequent without stopping every pass.
        FaultPlan {
            lose_response_after_success: pick(&[0.0, 0.15, 0.3, 0.75]),
            unavailable: pick(&[0.0, 0.15, 0.3]),
            timeout_before_effect: pick(&[0.0, 0.15, 0.3]),
            restart: pick(&[0.0, 0.06, 0.15, 0.3]),
            only,
        }
    }
}

impl Sim {
    /// Prints a step when tracing.
    fn note(&self, what: std::fmt::Arguments<'_>) {
        if tracing_on() {
            eprintln!(
                "[seed {} t={}] {what}",
                self.seed,
                self.clock.now().as_unix_ms()
            );
        }
    }

    async fn new(seed: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let db = TestDatabase::create(backend())
            .await
            .expect("the simulation's database");
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_700_000_000_000)));
        let wallet = Arc::new(SimWallet::with_faults(
            NETWORK,
            rng.random(),
            FaultPlan::default(),
        ));
        // Several unlocked outputs, so that transactions need not wait for change to unlock.
        let mut funding = BTreeSet::new();
        for _ in 0..rng.random_range(2..=6) {
            funding.insert(wallet.fund(xmr("20")));
        }
        let mut settings = Settings::for_database(db.url.clone());
        settings.market.monero_network = MoneroNetwork::Regtest;
        let b = AppState::open_with_wallet(settings.clone(), clock.clone(), wallet.clone(), 0)
            .await
            .expect("open process B");
        let stalling = Arc::new(Stalling {
            inner: wallet.clone(),
            other: b.clone(),
            clock: clock.clone(),
            rng: std::sync::Mutex::new(StdRng::seed_from_u64(rng.random())),
            chance_per_mille: std::sync::atomic::AtomicU32::new(0),
            stolen: std::sync::atomic::AtomicU64::new(0),
        });
        let a = AppState::open_with_wallet(settings, clock.clone(), stalling.clone(), 0)
            .await
            .expect("open process A");
        let mut sim = Sim {
            seed,
            rng,
            clock,
            wallet,
            stalling,
            a,
            b,
            users: Vec::new(),
            accepted: Vec::new(),
            funding,
            totals: Totals::default(),
            last_error: None,
            db: Some(db),
        };
        for n in 0..sim.rng.random_range(2..=5) {
            let credited = Piconero::new(sim.rng.random_range(1..=6) * 1_000_000_000_000);
            sim.add_user(n, credited).await;
        }
        sim
    }

    /// A user created as the operator would (without hashing a password: nobody logs in)
    /// and credited `credited`.
    async fn add_user(&mut self, n: usize, credited: Piconero) {
        let id = UserId::from_uuid(Uuid::from_u128(
            (u128::from(self.seed) << 32) | u128::try_from(n).expect("small"),
        ));
        let name = format!("user{n}");
        self.a
            .market
            .ledger
            .create_account(NewAccount::user_xmr(AccountId::user_xmr(id)))
            .await
            .expect("account");
        self.a
            .market
            .store
            .create_user(
                id,
                &Username::parse(&name).expect("username"),
                None,
                "no password",
                Role::User,
                self.clock.now(),
            )
            .await
            .expect("store")
            .expect("a new user");
        pupero_market::operator::credit_dev(&self.a.market, &name, &credited.to_xmr_string())
            .await
            .expect("credit");
        self.users.push(SimUser { id, name, credited });
    }

    /// Either process: the one that serves a request is chosen at random.
    fn either(&mut self) -> Arc<AppState> {
        if self.rng.random_bool(0.5) {
            self.a.clone()
        } else {
            self.b.clone()
        }
    }

    async fn available(&self, user: usize) -> Piconero {
        self.a
            .market
            .ledger
            .account(AccountId::user_xmr(self.users[user].id))
            .await
            .expect("ledger")
            .expect("account")
            .available()
            .expect("never below zero")
    }

    async fn step(&mut self) {
        match self.rng.random_range(0..100) {
            0..26 => self.request_new().await,
            26..30 => self.request_everything().await,
            30..36 => self.request_again().await,
            36..39 => self.request_reusing_key().await,
            39..44 => self.request_too_much().await,
            44..64 => {
                self.note(format_args!("pass A"));
                let a = self.a.clone();
                self.pass(&a).await;
            }
            64..74 => {
                self.note(format_args!("pass B"));
                let b = self.b.clone();
                self.pass(&b).await;
            }
            74..82 => {
                let blocks = if self.rng.random_bool(0.2) {
                    TRANSFER_UNLOCK_BLOCKS
                } else {
                    self.rng.random_range(1..=3)
                };
                let height = self.wallet.mine(blocks);
                self.note(format_args!("mined {blocks}: height {height}"));
            }
            82..86 => {
                self.note(format_args!("wallet restart"));
                self.wallet.restart();
            }
            86..92 => {
                let plan = if self.rng.random_bool(0.3) {
                    FaultPlan::default()
                } else {
                    random_plan(&mut self.rng)
                };
                self.wallet.set_faults(plan);
                let stall = *[0, 0, 20, 50, 100]
                    .get(self.rng.random_range(0..5))
                    .expect("in range");
                self.stalling
                    .chance_per_mille
                    .store(stall, std::sync::atomic::Ordering::Relaxed);
                self.note(format_args!("faults {plan:?}, A stalls {stall}‰"));
            }
            92..98 => {
                let secs = if self.rng.random_bool(0.2) {
                    WITHDRAWAL_LEASE_SECS + 1
                } else {
                    self.rng.random_range(1..=60)
                };
                self.note(format_args!("clock +{secs} s"));
                self.clock.advance_secs(secs);
            }
            _ => {
                self.note(format_args!("fund the wallet"));
                self.funding.insert(self.wallet.fund(xmr("20")));
            }
        }
    }

    /// A new request, which the user's balance may or may not cover.
    async fn request_new(&mut self) {
        let user = self.rng.random_range(0..self.users.len());
        // From 0.1 XMR (the minimum) to 0.5 XMR, to the piconero.
        let amount = Piconero::new(self.rng.random_range(100_000_000_000..=500_000_000_000));
        self.request(user, Some(amount)).await;
    }

    /// A withdrawal of everything the user has.
    async fn request_everything(&mut self) {
        let user = self.rng.random_range(0..self.users.len());
        self.request(user, None).await;
    }

    /// A request of `amount` (`None`: everything) with a new key. Accepted, it holds the amount
    /// and its reserve (everything); refused for the balance, it holds nothing.
    async fn request(&mut self, user: usize, amount: Option<Piconero>) {
        let available = self.available(user).await;
        let destination = self.rng.random_range(0..DESTINATIONS);
        let key = format!("w{}", self.accepted.len() + self.totals.refused_requests);
        let asked = amount.map_or_else(|| "all".to_owned(), |a| a.to_xmr_string());
        let state = self.either();
        let outcome = state
            .market
            .request_withdrawal(
                &bot(self.users[user].id),
                &IdempotencyKey::parse(&key).expect("key"),
                outside_address(NETWORK, destination).as_str(),
                &asked,
                None,
                Default::default(),
            )
            .await;
        let seed = self.seed;
        let row = match outcome {
            Ok((row, new)) => {
                assert!(new, "seed {seed}: a new key makes a new withdrawal");
                row
            }
            Err(e) => {
                assert_eq!(
                    e.code(),
                    "INSUFFICIENT_FUNDS",
                    "seed {seed}: request: {e:?}"
                );
                // A pass of the other process while this one asked the wallet may have given
                // money back meanwhile, never taken any.
                let after = self.available(user).await;
                if e.code() == "INSUFFICIENT_FUNDS" {
                    let least = amount
                        .unwrap_or(pupero_core::limits::MIN_WITHDRAWAL)
                        .checked_add(pupero_core::limits::MAX_WITHDRAWAL_FEE)
                        .expect("small");
                    assert!(after < least, "seed {seed}: refused {asked} of {after}");
                }
                assert!(after >= available, "seed {seed}: a refusal took money");
                self.check_holds(user).await;
                self.totals.refused_requests += 1;
                return;
            }
        };
        self.note(format_args!(
            "user{user} requests {asked} to destination {destination}: {} (reserve {})",
            row.id,
            row.max_fee.to_xmr_string()
        ));
        let quote = pupero_core::withdrawal::FeeQuote::new(Some(
            pupero_wallet::testing::SIM_FEE_BASE
                .checked_add(
                    pupero_wallet::testing::SIM_FEE_PER_OUTPUT
                        .checked_mul(2)
                        .expect("small"),
                )
                .expect("small"),
        ));
        assert_eq!(row.send_all, amount.is_none(), "seed {seed}");
        let held = row.amount.checked_add(row.max_fee).expect("small");
        self.accepted.push(Accepted {
            id: row.id,
            user,
            key,
            destination,
            amount,
        });
        let after = self.available(user).await;
        match amount {
            Some(amount) => {
                assert_eq!(row.amount, amount, "seed {seed}");
                // The wallet's estimate, or without one the largest reserve.
                assert!(
                    [quote.reserve(), pupero_core::limits::MAX_WITHDRAWAL_FEE]
                        .contains(&row.max_fee),
                    "seed {seed}: reserve {:?}",
                    row.max_fee
                );
            }
            None => {
                // What the other process gave back meanwhile is held too.
                assert!(held >= available, "seed {seed}: everything is held");
                assert_eq!(after, Piconero::ZERO, "seed {seed}: nothing is left");
                self.totals.withdrew_everything += 1;
            }
        }
        // Money given back meanwhile shows as more than the balance less the holds.
        assert!(
            available
                .checked_sub(held)
                .map_or(true, |least| after >= least),
            "seed {seed}: the request holds no more than the amount and the fee reserve"
        );
        self.check_holds(user).await;
    }

    /// What `user` has held is exactly the amounts and fee reserves of their withdrawals not
    /// yet broadcast (settling and refunding move the rows with the holds).
    async fn check_holds(&self, user: usize) {
        let mut expected = Piconero::ZERO;
        for accepted in self.accepted.iter().filter(|a| a.user == user) {
            let row = self.row(accepted.id).await;
            if matches!(
                row.state,
                WithdrawalState::Requested | WithdrawalState::Signed
            ) {
                expected = expected
                    .checked_add(row.amount)
                    .and_then(|e| e.checked_add(row.max_fee))
                    .expect("small");
            }
        }
        let account = self
            .a
            .market
            .ledger
            .account(AccountId::user_xmr(self.users[user].id))
            .await
            .expect("ledger")
            .expect("account");
        assert_eq!(
            account.balances().debits_pending,
            expected,
            "seed {}: user{user}'s holds are their unsent withdrawals'",
            self.seed
        );
    }

    /// An accepted request again, with its key: the same withdrawal, nothing held again.
    async fn request_again(&mut self) {
        if self.accepted.is_empty() {
            return;
        }
        let earlier = self.accepted[self.rng.random_range(0..self.accepted.len())].clone();
        let before = self.available(earlier.user).await;
        let state = self.either();
        let seed = self.seed;
        let (row, new) = state
            .market
            .request_withdrawal(
                &bot(self.users[earlier.user].id),
                &IdempotencyKey::parse(&earlier.key).expect("key"),
                outside_address(NETWORK, earlier.destination).as_str(),
                &earlier.asked(),
                None,
                Default::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: replay: {e:?}"));
        assert!(!new, "seed {seed}: a replay");
        assert_eq!(row.id, earlier.id, "seed {seed}");
        let after = self.available(earlier.user).await;
        // The worker may refund or settle between the reads, never take more.
        assert!(after >= before, "seed {seed}: a replay held money again");
        self.totals.replays += 1;
    }

    /// A key used again for another request: refused, nothing held.
    async fn request_reusing_key(&mut self) {
        if self.accepted.is_empty() {
            return;
        }
        let earlier = self.accepted[self.rng.random_range(0..self.accepted.len())].clone();
        let amount = earlier
            .amount
            .unwrap_or(xmr("0.1"))
            .checked_add(Piconero::new(1))
            .expect("small");
        let before = self.available(earlier.user).await;
        let state = self.either();
        let e = state
            .market
            .request_withdrawal(
                &bot(self.users[earlier.user].id),
                &IdempotencyKey::parse(&earlier.key).expect("key"),
                outside_address(NETWORK, earlier.destination).as_str(),
                &amount.to_xmr_string(),
                None,
                Default::default(),
            )
            .await
            .expect_err("another request under a used key");
        assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED", "seed {}", self.seed);
        assert_eq!(self.available(earlier.user).await, before);
        self.totals.refused_requests += 1;
    }

    /// More than the user ever had: refused, nothing held.
    async fn request_too_much(&mut self) {
        let user = self.rng.random_range(0..self.users.len());
        let amount = self.users[user]
            .credited
            .checked_add(Piconero::new(self.rng.random_range(0..1_000_000_000_000)))
            .expect("small");
        let before = self.available(user).await;
        let key = format!("w{}", self.accepted.len() + self.totals.refused_requests);
        let state = self.either();
        let e = state
            .market
            .request_withdrawal(
                &bot(self.users[user].id),
                &IdempotencyKey::parse(&key).expect("key"),
                outside_address(NETWORK, 0).as_str(),
                &amount.to_xmr_string(),
                None,
                Default::default(),
            )
            .await
            .expect_err("more than the balance");
        assert_eq!(e.code(), "INSUFFICIENT_FUNDS", "seed {}", self.seed);
        // The other process may have given money back while this one asked the wallet.
        assert!(self.available(user).await >= before, "seed {}", self.seed);
        self.check_holds(user).await;
        self.totals.refused_requests += 1;
    }

    /// One worker pass of `state`. The wallet's failures stop a pass (the next goes on); a
    /// database or ledger failure is a bug.
    async fn pass(&mut self, state: &AppState) {
        let outcome = state.market.drive_withdrawals().await;
        self.note(format_args!("  -> {outcome:?}"));
        match outcome {
            Ok(_) => {}
            Err(DriveError::Wallet(e)) => {
                self.totals.worker_errors += 1;
                self.last_error = Some(e.to_string());
            }
            // B took the lease while A stalled in a wallet call: A stopped before its next.
            Err(DriveError::LeaseLost) => {
                self.totals.lost_leases += 1;
            }
            Err(e) => panic!("seed {}: worker pass: {e:?}", self.seed),
        }
    }

    /// Stops the faults and drives the worker until no withdrawal moves any more.
    async fn settle(&mut self) {
        self.wallet.set_faults(FaultPlan::default());
        self.stalling
            .chance_per_mille
            .store(0, std::sync::atomic::Ordering::Relaxed);
        for _ in 0..MAX_SETTLE_ROUNDS {
            if self.all_final().await {
                return;
            }
            // Whoever held the lease may have stopped: let it expire.
            self.clock.advance_secs(WITHDRAWAL_LEASE_SECS + 1);
            let state = self.either();
            self.note(format_args!("settling pass"));
            self.pass(&state).await;
            self.wallet.mine(TRANSFER_UNLOCK_BLOCKS);
        }
    }

    async fn all_final(&self) -> bool {
        for accepted in &self.accepted {
            let row = self.row(accepted.id).await;
            if !row.state.is_final() {
                return false;
            }
        }
        true
    }

    async fn row(&self, id: Uuid) -> pupero_market::store::WithdrawalRow {
        self.a
            .market
            .store
            .withdrawal(id)
            .await
            .expect("store")
            .expect("an accepted withdrawal exists")
    }

    /// The invariants, once everything is at rest.
    async fn check(&mut self) {
        let seed = self.seed;
        let mut rows = Vec::with_capacity(self.accepted.len());
        for accepted in &self.accepted {
            let row = self.row(accepted.id).await;
            assert!(
                row.state.is_final(),
                "seed {seed}: withdrawal {} left {} after the faults stopped (last worker error: {:?})",
                row.id,
                row.state.as_str(),
                self.last_error
            );
            if let Some(amount) = accepted.amount {
                assert_eq!(row.receives(), amount, "seed {seed}");
            }
            assert_eq!(row.send_all, accepted.amount.is_none(), "seed {seed}");
            assert_eq!(
                row.destination,
                outside_address(NETWORK, accepted.destination).as_str(),
                "seed {seed}"
            );
            rows.push(row);
        }
        self.totals.requested += rows.len();

        // The transactions: fee shares add up to the fee the wallet paid, and every
        // transaction the wallet sent is a recorded, paying one.
        let mut by_tx: BTreeMap<Uuid, Vec<&pupero_market::store::WithdrawalRow>> = BTreeMap::new();
        for row in &rows {
            if let Some(tx) = row.tx {
                by_tx.entry(tx).or_default().push(row);
            }
        }
        let mut txids: BTreeMap<Uuid, Txid> = BTreeMap::new();
        let mut paying: BTreeSet<Txid> = BTreeSet::new();
        for (tx, members) in &by_tx {
            let tx_row = self
                .a
                .market
                .store
                .withdrawal_tx(*tx)
                .await
                .expect("store")
                .expect("the transaction of a withdrawal exists");
            let txid = Txid::from_hex(&tx_row.txid).expect("txid");
            txids.insert(*tx, txid);
            for member in members {
                assert_eq!(member.state, tx_row.state, "seed {seed}: {tx_row:?}");
            }
            let shares = members.iter().try_fold(Piconero::ZERO, |sum, w| {
                sum.checked_add(w.fee.expect("a signed withdrawal has a fee share"))
            });
            assert_eq!(
                shares.expect("small"),
                tx_row.fee,
                "seed {seed}: the fee shares of {} add up to its fee",
                tx_row.txid
            );
            if tx_row.state == WithdrawalState::Failed {
                continue;
            }
            paying.insert(txid);
            let sent = self
                .wallet
                .outgoing_transfer(txid)
                .await
                .expect("no faults")
                .unwrap_or_else(|| panic!("seed {seed}: the wallet never sent {}", tx_row.txid));
            assert_eq!(
                sent.fee, tx_row.fee,
                "seed {seed}: the fee recorded is the real one"
            );
            self.totals.txs += 1;
            if members.len() > 1 {
                self.totals.batched_txs += 1;
            }
        }
        for txid in self.wallet.relayed() {
            if self.funding.contains(&txid) {
                continue;
            }
            assert!(
                paying.contains(&txid),
                "seed {seed}: the wallet sent {txid}, which pays no withdrawal that is not failed"
            );
        }

        // Every destination received exactly what the paid withdrawals to it asked, in their
        // transactions, and nothing for failed ones.
        for destination in 0..DESTINATIONS {
            let mut expected: BTreeMap<Txid, Piconero> = BTreeMap::new();
            for row in &rows {
                if row.state == WithdrawalState::Failed
                    || row.destination != outside_address(NETWORK, destination).as_str()
                {
                    continue;
                }
                let txid = txids[&row.tx.expect("a paid withdrawal has a transaction")];
                let sum = expected.entry(txid).or_insert(Piconero::ZERO);
                *sum = sum.checked_add(row.receives()).expect("small");
            }
            let received: BTreeMap<Txid, Piconero> = self
                .wallet
                .received_by(&outside_address(NETWORK, destination))
                .into_iter()
                .collect();
            assert_eq!(
                received, expected,
                "seed {seed}: destination {destination} received other than the paid withdrawals"
            );
        }

        // Each user paid exactly the amounts and fee shares of their paid withdrawals.
        for (n, user) in self.users.iter().enumerate() {
            let mut paid = Piconero::ZERO;
            for row in rows.iter().filter(|r| r.user == user.id) {
                match row.state {
                    WithdrawalState::Failed => self.totals.failed += 1,
                    WithdrawalState::Confirmed => {
                        self.totals.confirmed += 1;
                        paid = paid
                            .checked_add(row.receives())
                            .and_then(|p| p.checked_add(row.fee.expect("fee share")))
                            .expect("small");
                    }
                    other => panic!(
                        "seed {seed}: withdrawal {} is {} after mining",
                        row.id,
                        other.as_str()
                    ),
                }
            }
            let account = self
                .a
                .market
                .ledger
                .account(AccountId::user_xmr(user.id))
                .await
                .expect("ledger")
                .expect("account");
            let balances = account.balances();
            assert_eq!(
                balances.debits_pending,
                Piconero::ZERO,
                "seed {seed}: {} ({n}) still has money held",
                user.name
            );
            assert_eq!(
                account.available(),
                Some(user.credited.checked_sub(paid).expect("within the credit")),
                "seed {seed}: {} ({n}) balance = credited − paid withdrawals and fee shares",
                user.name
            );
        }
        // Each owner heard of each step of each withdrawal once, in order, with its
        // transaction and fee share.
        for row in &rows {
            let events = self
                .a
                .market
                .store
                .events_after(row.user, 0, 100_000)
                .await
                .expect("events");
            let steps: Vec<&StoredEvent> = events
                .iter()
                .filter(|e| e.kind.starts_with("withdrawal_"))
                .filter(|e| e.payload["withdrawal_id"] == row.id.to_string())
                .collect();
            let kinds: Vec<&str> = steps.iter().map(|e| e.kind.as_str()).collect();
            let expected: &[&str] = match (row.state, row.tx) {
                (WithdrawalState::Confirmed, _) => &[
                    "withdrawal_signed",
                    "withdrawal_broadcast",
                    "withdrawal_confirmed",
                ],
                (WithdrawalState::Failed, Some(_)) => &["withdrawal_signed", "withdrawal_failed"],
                (WithdrawalState::Failed, None) => &["withdrawal_failed"],
                (other, _) => panic!("seed {seed}: {} is {}", row.id, other.as_str()),
            };
            assert_eq!(kinds, expected, "seed {seed}: the events of {}", row.id);
            let txid = row.tx.map(|tx| txids[&tx].to_string());
            for step in steps {
                assert_eq!(
                    step.payload["amount"],
                    row.amount.to_xmr_string(),
                    "seed {seed}"
                );
                assert_eq!(
                    step.payload["txid"].as_str(),
                    txid.as_deref(),
                    "seed {seed}: {step:?}"
                );
                assert_eq!(
                    step.payload["fee"].as_str(),
                    row.fee.map(|fee| fee.to_xmr_string()).as_deref(),
                    "seed {seed}: {step:?}"
                );
            }
        }
        if let Err(e) = self.a.market.ledger.check_invariants().await {
            panic!("seed {seed}: ledger invariants: {e}");
        }
    }
}

/// A simulated user acts through an API key with the `withdraw` scope: a key shows no password.
fn bot(user: pupero_core::UserId) -> pupero_core::Caller {
    pupero_core::Caller::api_key(
        user,
        pupero_core::Scopes::of(&[pupero_core::Scope::Withdraw]),
    )
}
