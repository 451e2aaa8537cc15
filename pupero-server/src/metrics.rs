//! `/metrics`: what an operator watches, in the Prometheus text format, from a registry of this
//! server's own (so that servers in one process, as in the tests, never share figures).
//!
//! HTTP requests are counted per route pattern (never the raw URL: its ids would make every
//! request a new series), method and status class, with their latency; the platform's moving
//! parts (trades and withdrawals per state, the age of the oldest waiting withdrawal, the
//! outbox and mail backlogs, the withdrawal worker's lease) are read from the database when
//! scraped; the ledger writer's counters and whether it stopped come from this process. Exact money comparisons
//! stay in the application: a float sample is exact only to about 9,007 XMR.
//!
//! The endpoint answers only with `PUPERO_METRICS_TOKEN` set, to `Authorization: Bearer` with
//! that token; without it, 404.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use poem::PathPattern;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::app::AppState;

/// The event stream lasts as long as its client: its duration says nothing of latency.
const UNTIMED_ROUTES: [&str; 1] = ["/api/v1/events/stream"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// A Prometheus sample: a float, for graphs only.
type Sample = f64; // float-ok: a gauge's value

/// `amount` in XMR as a float sample: exact to about 9,007 XMR, which is all a graph needs
/// (exact comparisons stay in the application).
fn xmr(amount: pupero_core::Piconero) -> Sample {
    #[allow(
        clippy::cast_precision_loss,
        clippy::as_conversions,
        clippy::float_arithmetic
    )]
    let value = amount.as_u64() as f64 / 1e12; // float-ok: a gauge
    value
}

/// As [`xmr`], with its sign.
fn signed_xmr(amount: pupero_core::SignedPiconero) -> Sample {
    let magnitude = xmr(amount.magnitude());
    if amount.is_negative() {
        #[allow(clippy::float_arithmetic)]
        let negative = -magnitude; // float-ok: a gauge
        negative
    } else {
        magnitude
    }
}

/// The login route, whose outcomes are counted on their own.
const LOGIN_ROUTE: &str = "/api/v1/auth/login";

/// The wallet's side: its RPC calls, and what this process's wallet jobs saw. The job
/// figures are series only in a process that runs the wallet jobs (an alert on them must not
/// fire for a process that never scans).
struct WalletMetrics {
    calls: Family<CallLabels, Counter>,
    call_seconds: Family<CallLabels, Counter<f64, AtomicU64>>,
    /// What was added to `calls` and `call_seconds` so far.
    added: std::sync::Mutex<std::collections::HashMap<(String, String), pupero_wallet::CallCount>>,
    scan_lag: Family<AccountLabels, Gauge>,
    scan_age: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    reconciliation_ok: Family<AccountLabels, Gauge>,
    surplus: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    reconciliation_age: Family<AccountLabels, Gauge<f64, AtomicU64>>,
}

impl WalletMetrics {
    fn register(registry: &mut Registry) -> WalletMetrics {
        let metrics = WalletMetrics {
            calls: Family::default(),
            call_seconds: Family::default(),
            added: std::sync::Mutex::default(),
            scan_lag: Family::default(),
            scan_age: Family::default(),
            reconciliation_ok: Family::default(),
            surplus: Family::default(),
            reconciliation_age: Family::default(),
        };
        registry.register(
            "wallet_rpc_calls",
            "Calls to the wallet RPC server by method and outcome (ok, or the error's kind)",
            metrics.calls.clone(),
        );
        registry.register(
            "wallet_rpc_seconds",
            "Time spent in wallet RPC calls (waiting for their turn included), by method and outcome",
            metrics.call_seconds.clone(),
        );
        registry.register(
            "deposit_scan_lag_blocks",
            "Blocks the wallet has that no finished deposit scan of this process has looked at",
            metrics.scan_lag.clone(),
        );
        registry.register(
            "deposit_scan_age_seconds",
            "Time since this process's last good deposit scan (or since it started, before one)",
            metrics.scan_age.clone(),
        );
        registry.register(
            "reconciliation_ok",
            "1 when the last reconciliation of this process found the wallet covering what is owed, else 0",
            metrics.reconciliation_ok.clone(),
        );
        registry.register(
            "reconciliation_surplus_xmr",
            "The wallet's total less what is owed, at the last reconciliation (below 0: a deficit)",
            metrics.surplus.clone(),
        );
        registry.register(
            "reconciliation_age_seconds",
            "Time since the last reconciliation of this process",
            metrics.reconciliation_age.clone(),
        );
        metrics
    }

    fn update(&self, market: &pupero_market::Market, age: impl Fn(u64) -> f64) {
        let Some(wallet) = &market.wallet else {
            return;
        };
        if let Some(stats) = &wallet.calls {
            let mut added = self.added.lock().unwrap_or_else(|p| p.into_inner());
            for (method, outcome, count) in stats.snapshot() {
                let labels = CallLabels {
                    method: method.to_owned(),
                    outcome: outcome.to_owned(),
                };
                let before = added
                    .entry((labels.method.clone(), labels.outcome.clone()))
                    .or_default();
                self.calls
                    .get_or_create(&labels)
                    .inc_by(count.calls.saturating_sub(before.calls));
                self.call_seconds
                    .get_or_create(&labels)
                    .inc_by(count.total.saturating_sub(before.total).as_secs_f64());
                *before = count;
            }
        }
        if !market.settings.wallet_worker {
            return;
        }
        let account = AccountLabels {
            account: wallet.account.to_string(),
        };
        let scans = market.wallet_health.scans();
        self.scan_lag
            .get_or_create(&account)
            .set(i64::try_from(scans.lag_blocks).unwrap_or(i64::MAX));
        self.scan_age
            .get_or_create(&account)
            .set(age(scans.since.as_unix_ms()));
        if let Some(r) = market.wallet_health.last_reconciliation() {
            let ok = r.status == pupero_core::reconciliation::ReconciliationStatus::Ok;
            self.reconciliation_ok
                .get_or_create(&account)
                .set(i64::from(ok));
            self.surplus
                .get_or_create(&account)
                .set(signed_xmr(r.surplus));
            self.reconciliation_age
                .get_or_create(&account)
                .set(age(r.at.as_unix_ms()));
        }
    }
}

/// One server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    trades: Family<StateLabels, Gauge>,
    withdrawals: Family<StateLabels, Gauge>,
    oldest_requested_withdrawal: Gauge<f64, AtomicU64>,
    outbox_unpublished: Gauge,
    outbox_oldest: Gauge<f64, AtomicU64>,
    mails_unsent: Gauge,
    matrix_unsent: Gauge,
    lease_held: Gauge,
    writer_stopped: Gauge,
    ledger_groups: Counter,
    ledger_commands: Counter,
    ledger_refused: Counter,
    ledger_failed: Counter,
    ledger_retries: Counter,
    ledger_busy: Counter<f64, AtomicU64>,
    users_held: Gauge<f64, AtomicU64>,
    logins: Family<OutcomeLabels, Counter>,
    rate_limited: Family<RouteLabels, Counter>,
    wallet: WalletMetrics,
    /// One scrape at a time sets the gauges and writes them out; the writer's counters as last
    /// added, so that each scrape adds what grew since.
    scrape: tokio::sync::Mutex<pupero_ledger::WriterCounts>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("pupero");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route pattern, method and status class",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern (event streams left out)",
            durations.clone(),
        );
        let trades = Family::<StateLabels, Gauge>::default();
        registry.register("trades", "Trades by state", trades.clone());
        let withdrawals = Family::<StateLabels, Gauge>::default();
        registry.register("withdrawals", "Withdrawals by state", withdrawals.clone());
        let oldest_requested_withdrawal = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "withdrawal_oldest_requested_age_seconds",
            "Age of the oldest withdrawal still waiting to be sent (0 when none waits)",
            oldest_requested_withdrawal.clone(),
        );
        let outbox_unpublished = Gauge::default();
        registry.register(
            "outbox_unpublished",
            "Queue messages not yet confirmed by the broker",
            outbox_unpublished.clone(),
        );
        let outbox_oldest = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest unconfirmed queue message (0 when none)",
            outbox_oldest.clone(),
        );
        let mails_unsent = Gauge::default();
        registry.register(
            "mails_unsent",
            "Mails waiting for the relay",
            mails_unsent.clone(),
        );
        let matrix_unsent = Gauge::default();
        registry.register(
            "matrix_outbox_pending",
            "Rows of the Matrix bridge's outbox not yet sent (0 without the bridge)",
            matrix_unsent.clone(),
        );
        let lease_held = Gauge::default();
        registry.register(
            "worker_lease_held",
            "1 while a withdrawal worker holds its lease, 0 when none does",
            lease_held.clone(),
        );
        let writer_stopped = Gauge::default();
        registry.register(
            "ledger_writer_stopped",
            "1 once this process's ledger writer has stopped (every write fails until a restart)",
            writer_stopped.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let ledger_groups = counter(
            &mut registry,
            "ledger_group_commits",
            "Transactions of this process's ledger writer",
        );
        let ledger_commands = counter(
            &mut registry,
            "ledger_commands",
            "Commands answered by this process's ledger writer",
        );
        let ledger_refused = counter(
            &mut registry,
            "ledger_refusals",
            "Commands refused by the ledger (funds, conflicts) or by their own rules",
        );
        let ledger_failed = counter(
            &mut registry,
            "ledger_failures",
            "Commands that failed with a storage error",
        );
        let ledger_retries = counter(
            &mut registry,
            "ledger_writer_retries",
            "Group commits tried again after a deadlock, lock timeout or busy database",
        );
        let ledger_busy = Counter::<f64, AtomicU64>::default();
        registry.register(
            "ledger_writer_busy_seconds",
            "Time this process's ledger writer spent applying groups: a rate near 1 means every write waits for it",
            ledger_busy.clone(),
        );
        let users_held = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "users_held_xmr",
            "XMR of users' balances held by pending transfers: trade escrow and withdrawal holds",
            users_held.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "logins",
            "Login attempts by outcome: ok, refused (credentials, second factor) or rate_limited",
            logins.clone(),
        );
        let rate_limited = Family::<RouteLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused with 429 by route pattern",
            rate_limited.clone(),
        );
        // Every outcome from the start, so that a rate over them is defined before the first.
        for outcome in ["ok", "refused", "rate_limited", "error"] {
            let _ = logins.get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            });
        }
        let _ = rate_limited.get_or_create(&RouteLabels {
            route: LOGIN_ROUTE.to_owned(),
        });
        let wallet = WalletMetrics::register(&mut registry);
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            requests,
            durations,
            trades,
            withdrawals,
            oldest_requested_withdrawal,
            outbox_unpublished,
            outbox_oldest,
            mails_unsent,
            matrix_unsent,
            lease_held,
            writer_stopped,
            ledger_groups,
            ledger_commands,
            ledger_refused,
            ledger_failed,
            ledger_retries,
            ledger_busy,
            users_held,
            logins,
            rate_limited,
            wallet,
            scrape: tokio::sync::Mutex::new(pupero_ledger::WriterCounts::default()),
        }
    }
}

impl Metrics {
    fn record(&self, route: &str, method: &str, status: StatusCode, started: Instant) {
        let class = match status.as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: class.to_owned(),
            })
            .inc();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                })
                .inc();
        }
        if route == LOGIN_ROUTE && method == "POST" {
            let outcome = match status.as_u16() {
                200..=299 => "ok",
                429 => "rate_limited",
                400..=499 => "refused",
                _ => "error",
            };
            self.logins
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        if !UNTIMED_ROUTES.contains(&route) {
            self.durations
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                })
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// The metrics now, in the text format.
    async fn render(&self, state: &AppState) -> Result<String, crate::error::ApiError> {
        let mut added = self.scrape.lock().await;
        let counts = state.market.ledger.writer_counts();
        for (counter, now, before) in [
            (&self.ledger_groups, counts.groups, added.groups),
            (&self.ledger_commands, counts.commands, added.commands),
            (&self.ledger_refused, counts.refused, added.refused),
            (&self.ledger_failed, counts.failed, added.failed),
            (&self.ledger_retries, counts.retries, added.retries),
        ] {
            counter.inc_by(now.saturating_sub(before));
        }
        self.ledger_busy.inc_by(
            std::time::Duration::from_micros(counts.busy_micros.saturating_sub(added.busy_micros))
                .as_secs_f64(),
        );
        *added = counts;
        self.writer_stopped
            .set(i64::from(state.market.ledger.writer_stopped()));
        let gauges = state
            .market
            .store
            .gauges()
            .await
            .map_err(crate::error::ApiError::from)?;
        let now_ms = state.now().as_unix_ms();
        let age = |since: Option<i64>| {
            since.map_or(0.0, |ms| {
                #[allow(
                    clippy::cast_precision_loss,
                    clippy::as_conversions,
                    clippy::float_arithmetic
                )]
                let secs = now_ms.saturating_sub(ms.max(0).unsigned_abs()) as f64 / 1000.0; // float-ok: a gauge
                secs
            })
        };
        // Every state, zero when empty: an alert on a state with no series would never fire.
        let count = |counts: &[(String, u64)], state: &str| {
            counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| i64::try_from(*n).unwrap_or(i64::MAX))
        };
        for state in pupero_core::TradeState::ALL.map(|s| s.as_str()) {
            self.trades
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(count(&gauges.trades, state));
        }
        for state in pupero_core::WithdrawalState::ALL.map(|s| s.as_str()) {
            self.withdrawals
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(count(&gauges.withdrawals, state));
        }
        self.oldest_requested_withdrawal
            .set(age(gauges.oldest_requested_withdrawal_ms));
        self.outbox_unpublished
            .set(i64::try_from(gauges.outbox_unpublished).unwrap_or(i64::MAX));
        self.outbox_oldest.set(age(gauges.oldest_unpublished_ms));
        self.mails_unsent
            .set(i64::try_from(gauges.mails_unsent).unwrap_or(i64::MAX));
        self.matrix_unsent
            .set(i64::try_from(gauges.matrix_unsent).unwrap_or(i64::MAX));
        let users = state
            .market
            .ledger
            .totals(pupero_core::ledger::AccountCode::UserXmr)
            .await
            .map_err(crate::error::ApiError::from)?;
        self.users_held.set(xmr(users.debits_pending));
        self.wallet.update(&state.market, |ms| {
            age(Some(i64::try_from(ms).unwrap_or(i64::MAX)))
        });
        let held = gauges
            .lease_expires_ms
            .is_some_and(|until| until.max(0).unsigned_abs() > now_ms);
        self.lease_held.set(i64::from(held));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| crate::error::ApiError::internal(&e))?;
        Ok(text)
    }
}

/// Counts every request, and times it, by the route pattern that matched.
pub struct RecordRequests(pub Arc<Metrics>);

impl<E: Endpoint> Middleware<E> for RecordRequests {
    type Output = RecordRequestsEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RecordRequestsEndpoint(ep, self.0.clone())
    }
}

/// See [`RecordRequests`].
pub struct RecordRequestsEndpoint<E>(E, Arc<Metrics>);

impl<E: Endpoint> Endpoint for RecordRequestsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let method = req.method().as_str().to_owned();
        let response = match self.0.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let route = response
            .data::<PathPattern>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.0.to_string());
        self.1.record(&route, &method, response.status(), started);
        Ok(response)
    }
}

/// `GET /metrics`.
#[poem::handler]
pub(crate) async fn scrape(
    state: poem::web::Data<&Arc<AppState>>,
    req: &Request,
) -> Result<Response, crate::error::ApiError> {
    let Some(token) = &state.settings.metrics_token else {
        return Err(crate::error::ApiError::not_found("no such resource"));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = token.expose().as_bytes();
    let matches = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !matches {
        return Err(crate::error::ApiError::unauthorized(
            pupero_api::ErrorCode::Unauthorized,
            "a metrics token is required",
        ));
    }
    let text = state.metrics.render(&state).await?;
    Ok(Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
