//! The API resources, one `#[OpenApi]` struct each, combined into one service.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::app::{AppState, Principal};
use crate::error::ApiError;

pub mod account;
pub mod auth;
pub mod health;
pub mod totp;

/// Every resource of the API.
pub type Apis = (
    health::HealthApi,
    auth::AuthApi,
    account::AccountApi,
    totp::TotpApi,
);

/// The resources, each holding the shared state.
pub fn apis(state: &Arc<AppState>) -> Apis {
    (
        health::HealthApi {
            state: state.clone(),
        },
        auth::AuthApi {
            state: state.clone(),
        },
        account::AccountApi {
            state: state.clone(),
        },
        totp::TotpApi {
            state: state.clone(),
        },
    )
}

/// Tags of the OpenAPI document, one per resource.
#[derive(poem_openapi::Tags)]
pub enum Tag {
    /// Liveness and readiness.
    Health,
    /// Registration, login, tokens, two-factor authentication.
    Auth,
    /// The caller's own account, balance and ledger history.
    Account,
}

/// A user's access token: `Authorization: Bearer <JWT>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<Arc<AppState>>()
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    state
        .authenticate(&bearer.token)
        .await
        .map_err(ApiError::into_poem)
}
