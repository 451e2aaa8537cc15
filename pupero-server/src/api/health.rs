//! `/healthz` and `/readyz`.
//!
//! `/healthz` is liveness only: the process answers. `/readyz` is readiness: the database
//! answers, and so do the wallet RPC and RabbitMQ when they are configured; a 503 names what
//! is down. The market checks ([`Market::readiness`]), each dependency within its own time
//! limit ([`DEPENDENCY_TIMEOUT`]); a report is reused here for [`READINESS_CACHE`], so that
//! probes cost the wallet (which answers one call at a time) and the broker little. Waiting
//! for another process's wallet worker lease is not a fault: a standby is ready, and the
//! report names the holder.
//!
//! [`DEPENDENCY_TIMEOUT`]: pupero_market::readiness::DEPENDENCY_TIMEOUT

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api as wire;
use pupero_market::Market;
use pupero_market::readiness::{Dependency, Readiness as MarketReadiness};

use super::Tag;
use crate::app::AppState;

pub use pupero_api::{Health, ReadinessReport, WorkerLease};

/// How long a readiness report is reused: probes every second or more often cost one check.
pub const READINESS_CACHE: Duration = Duration::from_secs(1);

/// The health resource.
pub struct HealthApi;

/// Readiness: 200 when every dependency answers, 503 naming the ones that do not.
#[derive(ApiResponse)]
pub enum Readiness {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<ReadinessReport>),
    /// Not ready.
    #[oai(status = 503)]
    NotReady(Json<ReadinessReport>),
}

/// The last readiness report and when it was made.
#[derive(Debug, Default)]
pub struct ReadinessCache(tokio::sync::Mutex<Option<(tokio::time::Instant, ReadinessReport)>>);

impl ReadinessCache {
    /// The market's readiness ([`Market::readiness`]), checked at most once per
    /// [`READINESS_CACHE`].
    pub async fn report(&self, market: &Market) -> ReadinessReport {
        // Held while checking: concurrent probes wait for one check rather than each making
        // their own.
        let mut cached = self.0.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < READINESS_CACHE
        {
            return report.clone();
        }
        let report = readiness_report(market.readiness().await);
        *cached = Some((tokio::time::Instant::now(), report.clone()));
        report
    }
}

/// The market's readiness as the API shows it.
fn readiness_report(readiness: MarketReadiness) -> ReadinessReport {
    let down: Vec<wire::Dependency> = readiness
        .down
        .iter()
        .map(|d| match d {
            Dependency::Database => wire::Dependency::Database,
            Dependency::Wallet => wire::Dependency::Wallet,
            Dependency::Queue => wire::Dependency::Queue,
        })
        .collect();
    let status = if down.is_empty() {
        "ok".to_owned()
    } else {
        let names: Vec<&str> = down.iter().map(|d| d.as_str()).collect();
        format!("not ready: {} down", names.join(", "))
    };
    ReadinessReport {
        status,
        down,
        worker_lease: readiness.worker_lease.map(|l| WorkerLease {
            holder: l.holder.to_string(),
            until_ms: l.until.as_unix_ms(),
            this_process: l.this_process,
        }),
    }
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Whether the process is up (liveness only: it checks nothing else).
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".to_owned(),
        })
    }

    /// Whether the process can serve: the database answers, and so do the wallet RPC and
    /// RabbitMQ when they are configured. A 503 names what is down in `down`. Checked at most
    /// once a second, each dependency within 2 s.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, app: Data<&Arc<AppState>>) -> Readiness {
        let report = app.0.readiness.report(&app.0.market).await;
        if report.down.is_empty() {
            Readiness::Ready(Json(report))
        } else {
            Readiness::NotReady(Json(report))
        }
    }
}
