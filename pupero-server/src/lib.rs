//! Pupero's HTTP server.
//!
//! The API is poem + poem-openapi, one `#[OpenApi]` struct per resource under `/api/v1`
//! ([`api`]), served together with `/healthz`, `/readyz`, the OpenAPI document
//! (`/api/openapi.json`, `/api/openapi.yaml`) and Swagger UI (`/docs`). [`config`] loads and
//! validates settings; [`app`] builds the application from them and [`http_server`] serves it,
//! holding every connection to its bounds; [`store`] keeps users and sessions; [`security`]
//! hashes passwords and signs tokens. Errors leave as one envelope ([`error`]). The `pupero`
//! binary is a thin shell around [`serve`].

pub mod admin_cli;
pub mod api;
pub mod app;
pub mod audit;
pub mod chat;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod deposits;
pub mod error;
pub mod events;
pub mod feedback;
pub mod http_server;
pub mod mail;
pub mod middleware;
pub mod oracle;
pub mod queue;
pub mod ratelimit;
pub mod reconciliation;
pub mod recovery;
pub mod security;
pub mod store;
pub mod sweeps;
pub mod trades;
pub mod two_factor;
pub mod withdrawals;

use std::sync::Arc;

pub use app::{AppState, build};
pub use config::Settings;

/// Binds `settings.listen` and serves until `shutdown` resolves. Returns the bound address
/// through `on_bound` first (port 0 picks a free port). Connections are served by
/// [`http_server`], within the bounds of `settings.connections`.
pub async fn serve(
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(std::net::SocketAddr) + Send,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.settings.listen).await?;
    let bound = listener.local_addr()?;
    on_bound(bound);
    tracing::info!(address = %bound, "listening");
    let workers = spawn_workers(state.clone());
    // Event streams never finish by themselves; closing the bus ends them, so that graceful
    // shutdown (which waits for open responses) can finish.
    let events = state.events.clone();
    let shutdown = async move {
        shutdown.await;
        events.close();
    };
    let result = http_server::serve_connections(
        listener,
        build(state.clone()),
        state.settings.connections,
        state.connection_slots.clone(),
        shutdown,
        SHUTDOWN_GRACE,
    )
    .await;
    workers.abort();
    result
}

/// How long graceful shutdown waits for open requests before it drops them: every request is
/// bounded, and event streams end at once, so this is only a backstop.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

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
pub fn spawn_workers(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let wallet_jobs = state.settings.wallet_worker;
        // One task: aborting it stops every job.
        tokio::join!(
            expire_trades_and_prune_events(state.clone()),
            mail::run_mailer(state.clone()),
            withdrawals::run_outbox_publisher(state.clone()),
            async {
                if wallet_jobs {
                    tokio::join!(
                        scan_deposits(state.clone()),
                        withdrawals::run_worker(state.clone()),
                        sweeps::run_sweeper(state.clone())
                    );
                }
            }
        );
    })
}

/// Starts the wallet jobs alone, for `pupero worker`: scanning deposits, publishing the
/// outbox, the withdrawal worker, and the sweeper with the reconciliation check.
pub fn spawn_wallet_jobs(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::join!(
            scan_deposits(state.clone()),
            withdrawals::run_outbox_publisher(state.clone()),
            withdrawals::run_worker(state.clone()),
            sweeps::run_sweeper(state)
        );
    })
}

async fn expire_trades_and_prune_events(state: Arc<AppState>) {
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

/// Scans the wallet for deposits at the configured interval, when there is a wallet.
async fn scan_deposits(state: Arc<AppState>) {
    let Some(wallet) = &state.settings.wallet else {
        return;
    };
    let period = std::time::Duration::from_secs(wallet.scan_interval_secs);
    // The first scan one period after start: the wallet may still be loading.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.scan_deposits().await {
            Ok(report) if report.credited > 0 || report.gone > 0 => tracing::info!(
                credited = report.credited,
                gone = report.gone,
                height = report.height,
                "deposit scan"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deposit scan failed"),
        }
    }
}

/// Prunes old events batch by batch until none is left or the sweep's bound is reached.
async fn prune_sweep(state: &AppState) {
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
