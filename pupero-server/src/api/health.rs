//! `/healthz` and `/readyz`.

use std::sync::Arc;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Tag;
use crate::app::AppState;

/// The health resource.
pub struct HealthApi {
    pub(crate) state: Arc<AppState>,
}

/// A health report.
#[derive(Debug, Object)]
pub struct Health {
    /// `ok`, or what is wrong.
    pub status: String,
}

/// Readiness: 200 when the database answers, 503 otherwise.
#[derive(ApiResponse)]
pub enum Readiness {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// Not ready.
    #[oai(status = 503)]
    NotReady(Json<Health>),
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Whether the process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".to_owned(),
        })
    }

    /// Whether the process can serve: the database is reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self) -> Readiness {
        match self.state.store.ping().await {
            Ok(()) => Readiness::Ready(Json(Health {
                status: "ok".to_owned(),
            })),
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "not ready");
                Readiness::NotReady(Json(Health {
                    status: "database unavailable".to_owned(),
                }))
            }
        }
    }
}
