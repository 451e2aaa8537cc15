//! Pupero's HTTP server: the glue between HTTP and the market (`pupero_market`).
//!
//! The API is poem + poem-openapi, one `#[OpenApi]` struct per resource under `/api/v1`
//! ([`api`]), served together with `/healthz`, `/readyz`, the OpenAPI document
//! (`/api/openapi.json`, `/api/openapi.yaml`) and Swagger UI (`/docs`). A handler
//! authenticates, parses at the edge, calls one service of the market and converts the
//! result; the market's errors become HTTP in one place ([`error`]). [`config`] loads and
//! validates settings; [`app`] opens the market and the HTTP state and [`http_server`] serves
//! it, holding every connection to its bounds; [`tokens`] signs access tokens. The `pupero`
//! binary is a thin shell around [`serve`].

pub mod api;
pub mod app;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod http_server;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod roles;
pub mod tokens;

use std::sync::Arc;

pub use app::{AppState, build};
pub use config::Settings;

/// How often (in tasks run) a runtime worker looks at the runtime's shared queue before its
/// own; tokio's default is 61. A task woken from outside the runtime (the ledger writer, when
/// SQLite's thread answers one of its statements) waits in that shared queue: while the
/// workers are busy serving requests, 61 other tasks could run first, and the writer, which
/// every write waits for, would wait behind them at each of the dozen statements of a group
/// commit.
const GLOBAL_QUEUE_INTERVAL: u32 = 4;

/// The runtime the server runs on: tokio's multi-threaded one, one worker per core, with the
/// shared queue looked at every `GLOBAL_QUEUE_INTERVAL` (4) tasks.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .build()
}

/// Binds `settings.listen` and serves until `shutdown` resolves. Returns the bound address
/// through `on_bound` first (port 0 picks a free port). Connections are served by
/// [`http_server`], within the bounds of `settings.connections`.
pub async fn serve(
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(std::net::SocketAddr) + Send,
) -> std::io::Result<()> {
    let workers = pupero_market::jobs::spawn_workers(state.market.clone());
    let result = serve_http(state.clone(), shutdown, on_bound).await;
    pupero_market::jobs::stop_jobs(&state.market, workers).await;
    result
}

/// As [`serve`], without starting the market's jobs: the caller runs the ones it wants.
pub async fn serve_http(
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(std::net::SocketAddr) + Send,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.settings.listen).await?;
    let bound = listener.local_addr()?;
    on_bound(bound);
    tracing::info!(address = %bound, "listening");
    // Event streams never finish by themselves; closing the bus ends them, so that graceful
    // shutdown (which waits for open responses) can finish.
    let events = state.market.events.clone();
    let shutdown = async move {
        shutdown.await;
        events.close();
    };
    http_server::serve_connections(
        listener,
        build(state.clone()),
        state.settings.connections,
        state.connection_slots.clone(),
        shutdown,
        SHUTDOWN_GRACE,
    )
    .await
}

/// How long graceful shutdown waits for open requests before it drops them: every request is
/// bounded, and event streams end at once, so this is only a backstop.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
