//! Pupero's HTTP server.
//!
//! The API is poem + poem-openapi, one `#[OpenApi]` struct per resource under `/api/v1`
//! ([`api`]), served together with `/healthz`, `/readyz`, the OpenAPI document
//! (`/api/openapi.json`, `/api/openapi.yaml`) and Swagger UI (`/docs`). [`config`] loads and
//! validates settings; [`app`] builds the application from them; [`store`] keeps users and
//! sessions; [`security`] hashes passwords and signs tokens. Errors leave as one envelope
//! ([`error`]). The `pupero` binary is a thin shell around [`serve`].

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
pub mod middleware;
pub mod oracle;
pub mod ratelimit;
pub mod security;
pub mod store;
pub mod trades;
pub mod two_factor;

use std::sync::Arc;

use poem::listener::{Acceptor, Listener, TcpListener};

pub use app::{AppState, build};
pub use config::Settings;

/// Binds `settings.listen` and serves until `shutdown` resolves. Returns the bound address
/// through `on_bound` first (port 0 picks a free port).
pub async fn serve(
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(std::net::SocketAddr) + Send,
) -> std::io::Result<()> {
    let acceptor = TcpListener::bind(state.settings.listen)
        .into_acceptor()
        .await?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("listener has no address"))?;
    on_bound(bound);
    tracing::info!(address = %bound, "listening");
    let workers = spawn_workers(state.clone());
    let result = poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(build(state), shutdown, None)
        .await;
    workers.abort();
    result
}

/// How often the background job looks for trades whose payment window is over.
pub const TRADE_EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the background jobs of a serving process: expiring unpaid trades (at the state's
/// injected clock) and, with a wallet, scanning for deposits. Several processes may run them:
/// each step is a compare-and-set.
pub fn spawn_workers(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // One task: aborting it stops every job.
        tokio::join!(expire_trades(state.clone()), scan_deposits(state));
    })
}

async fn expire_trades(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(TRADE_EXPIRY_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.expire_due_trades().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired unpaid trades"),
            Err(e) => tracing::warn!(code = e.code(), "trade expiry sweep failed"),
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
