//! The market's background jobs: expiring unpaid trades, pruning old events, sending mail,
//! publishing the withdrawal outbox, and — in the process that holds the worker lease — the
//! wallet jobs (deposit scans, the withdrawal worker, the sweeper with reconciliation).

use std::sync::Arc;

use crate::{Market, events, lease, mail, sweeps, withdrawals};

/// How long stopping waits for a wallet pass in flight to end before it drops it.
pub const STOP_PASS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Stops the background jobs started by [`spawn_workers`] or [`spawn_wallet_jobs`], then
/// gives the wallet worker lease back, so that another process takes over at once rather
/// than when the lease runs out. Waits up to [`STOP_PASS_WAIT`] for a wallet pass in flight to
/// end; one still running then is dropped with the jobs, and the lease is left to run out
/// (whoever takes it next resumes from the rows, as after a crash).
pub async fn stop_jobs(state: &Market, jobs: tokio::task::JoinHandle<()>) {
    let between_passes = tokio::time::timeout(STOP_PASS_WAIT, state.worker_pass.lock()).await;
    jobs.abort();
    // Aborted (or finished): nothing renews or takes the lease after this.
    let _ = jobs.await;
    match between_passes {
        Ok(_no_pass) => state.release_worker_lease().await,
        Err(_) => {
            tracing::warn!("a wallet pass was still running; the worker lease is left to run out")
        }
    }
}

/// How often the background job looks for trades whose payment window is over.
pub const TRADE_EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How often the background job prunes events past their retention.
pub const EVENT_PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Prune batches one sweep runs at most; a backlog is worked off over the following sweeps.
const MAX_PRUNE_BATCHES_PER_SWEEP: u32 = 20;

/// Starts the background jobs of a serving process: expiring unpaid trades and pruning old
/// events (both at the state's injected clock), sending queued mails, publishing the
/// withdrawal outbox and — unless
/// `wallet_worker` is off because a `pupero worker` process runs them — the wallet jobs
/// ([`spawn_wallet_jobs`]). Several processes may run them: each trade step is a
/// compare-and-set, pruning deletes only what is past retention, a deposit is credited once
/// whoever scans it, and one worker at a time holds the withdrawal lease (which the sweeper
/// and the reconciliation check share).
pub fn spawn_workers(state: Arc<Market>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let wallet_jobs = state.settings.wallet_worker;
        // One task: aborting it stops every job.
        tokio::join!(
            expire_trades_and_prune_events(state.clone()),
            mail::run_mailer(state.clone()),
            crate::matrix::run_matrix_bridge(state.clone()),
            withdrawals::run_outbox_publisher(state.clone()),
            async {
                if wallet_jobs {
                    tokio::join!(
                        scan_deposits(state.clone()),
                        withdrawals::run_worker(state.clone()),
                        lease::run_lease_heartbeat(state.clone()),
                        sweeps::run_sweeper(state.clone())
                    );
                }
            }
        );
    })
}

/// Starts the wallet jobs alone, for `pupero worker`: scanning deposits, publishing the
/// outbox, the withdrawal worker with its lease's heartbeat, and the sweeper with the
/// reconciliation check. Stop them with [`stop_jobs`].
pub fn spawn_wallet_jobs(state: Arc<Market>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::join!(
            scan_deposits(state.clone()),
            withdrawals::run_outbox_publisher(state.clone()),
            withdrawals::run_worker(state.clone()),
            lease::run_lease_heartbeat(state.clone()),
            sweeps::run_sweeper(state)
        );
    })
}

async fn expire_trades_and_prune_events(state: Arc<Market>) {
    let mut expiry = tokio::time::interval(TRADE_EXPIRY_INTERVAL);
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(EVENT_PRUNE_INTERVAL);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = expiry.tick() => match state.expire_due_trades().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired unpaid trades"),
                Err(e) => tracing::warn!(code = e.code(), "trade expiry sweep failed"),
            },
            _ = prune.tick() => prune_sweep(&state).await,
        }
    }
}

/// Scans the wallet for deposits, when there is a wallet: as soon as the wallet's height
/// moves (looked at every `PUPERO_DEPOSIT_WATCH_MS`), so that a deposit is credited about a
/// second after the block that confirms it, and in full every `PUPERO_DEPOSIT_SCAN_SECS`
/// whatever happens (the backstop, and what shows deposits waiting in the pool).
async fn scan_deposits(state: Arc<Market>) {
    let Some(wallet) = &state.settings.wallet else {
        return;
    };
    let period = std::time::Duration::from_secs(wallet.scan_interval_secs);
    // The first full scan one period after start: the wallet may still be loading (the
    // watch scans sooner, once the wallet answers).
    let mut full = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    full.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch = (wallet.watch_interval_ms > 0).then(|| {
        let mut tick =
            tokio::time::interval(std::time::Duration::from_millis(wallet.watch_interval_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    let mut last_height = None;
    loop {
        let watched = async {
            match watch.as_mut() {
                Some(tick) => {
                    tick.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let due = tokio::select! {
            _ = full.tick() => true,
            () = watched => height_moved(&state, &last_height).await,
        };
        if !due {
            continue;
        }
        match state.scan_deposits().await {
            Ok(report) => {
                last_height = Some(report.height);
                // A scan just happened: the backstop counts from here.
                full.reset();
                if report.credited > 0 || report.gone > 0 {
                    tracing::info!(
                        credited = report.credited,
                        gone = report.gone,
                        height = report.height,
                        "deposit scan"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "deposit scan failed"),
        }
    }
}

/// Whether the wallet, refreshed, is at another height than the last scan saw (or says money
/// came). `get_height` alone would not do: the wallet's height moves only when it refreshes,
/// by itself every 20 s or so. A refresh that finds nothing new asks the daemon for blocks
/// after the wallet's top and for the pool's hashes: a few milliseconds of a local wallet.
async fn height_moved(state: &Market, last: &Option<u64>) -> bool {
    let Some(wallet) = &state.wallet else {
        return false;
    };
    let refreshed = match wallet.rpc.refresh().await {
        Ok(refreshed) => refreshed,
        Err(e) => {
            tracing::debug!(error = %e, "watching the wallet's height failed");
            return false;
        }
    };
    match wallet.rpc.height().await {
        Ok(height) => {
            state.wallet_health.wallet_at(height);
            *last != Some(height) || refreshed.received_money
        }
        Err(e) => {
            tracing::debug!(error = %e, "watching the wallet's height failed");
            false
        }
    }
}

/// Prunes old events batch by batch until none is left or the sweep's bound is reached.
async fn prune_sweep(state: &Market) {
    let mut pruned = 0_u64;
    for _ in 0..MAX_PRUNE_BATCHES_PER_SWEEP {
        match state.prune_events().await {
            Ok(n) => {
                pruned = pruned.saturating_add(n);
                if n < u64::from(events::MAX_PRUNED_PER_BATCH) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(code = e.code(), "event pruning failed");
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "pruned events past retention");
    }
}

/// The delay after the `attempts`-th failed attempt at an outbox's row: `first` seconds,
/// doubling after each further failure, at most `max`.
pub(crate) fn backoff_secs(first: u64, max: u64, attempts: u32) -> u64 {
    let factor = 1_u64
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u64::MAX);
    first.saturating_mul(factor).min(max)
}
