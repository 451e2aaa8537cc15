//! The Matrix bridge over HTTP: the caller links their Matrix account (`/me/matrix`), and the
//! homeserver pushes its transactions to the application-service endpoint
//! (`/_matrix/app/v1/...`, outside the OpenAPI document: only the homeserver calls it, with
//! its `hs_token`). See `pupero_market::matrix`.

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_core::Timestamp;
use pupero_market::matrix::{MatrixLinkView, UNENCRYPTED_NOTE};

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::error::ApiError;

pub use pupero_api::{MatrixLink, MatrixLinkRequest, MatrixLinkStarted};

/// The largest transaction the homeserver may push: Synapse sends at most 100 events at once,
/// and a chat message is at most a few kilobytes.
pub const MAX_TRANSACTION_BYTES: usize = 1024 * 1024;

/// Longest time to receive a transaction's body.
const TRANSACTION_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The Matrix link resource.
pub struct MatrixApi;

/// `201 Created`.
#[derive(ApiResponse)]
pub enum StartLinkResponse {
    /// The link waits for its code.
    #[oai(status = 201)]
    Created(Json<MatrixLinkStarted>),
}

fn wire(view: MatrixLinkView) -> MatrixLink {
    MatrixLink {
        matrix_user_id: view.matrix_user_id,
        linked: view.linked,
        expires_at_ms: view.expires_at.map(Timestamp::as_unix_ms),
        bridge_user: view.bridge_user,
        notice: UNENCRYPTED_NOTE.to_owned(),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Matrix")]
impl MatrixApi {
    /// Starts linking the caller's Matrix account to the trade-chat bridge, replacing any
    /// account linked before. The answer holds a code: the bridge's Matrix user invites the
    /// account to a room, and the account sends the code there within 15 minutes. Only a
    /// linked account is invited to the rooms of new trades, and only its messages there
    /// become trade chat messages. Rooms are not end-to-end encrypted. Needs a logged-in
    /// session; `404 NOT_FOUND` when the server has no bridge.
    #[oai(
        path = "/me/matrix",
        method = "post",
        operation_id = "start_matrix_link"
    )]
    async fn start(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<MatrixLinkRequest>,
    ) -> Result<StartLinkResponse, ApiError> {
        let (code, view) = app
            .0
            .market
            .start_matrix_link(auth.0.user, &body.matrix_user_id)
            .await?;
        Ok(StartLinkResponse::Created(Json(MatrixLinkStarted {
            code,
            link: wire(view),
        })))
    }

    /// The caller's Matrix account: linked, or waiting for its code. `404 NOT_FOUND` when
    /// there is none (or its code lapsed), or when the server has no bridge.
    #[oai(path = "/me/matrix", method = "get", operation_id = "matrix_link")]
    async fn get(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<MatrixLink>, ApiError> {
        let view = app.0.market.matrix_link(auth.0.user).await?;
        view.map(|v| Json(wire(v)))
            .ok_or_else(|| ApiError::not_found("no Matrix account is linked"))
    }

    /// Unlinks the caller's Matrix account: it is invited to no new room, and nothing it
    /// sends is taken in any more.
    #[oai(path = "/me/matrix", method = "delete", operation_id = "unlink_matrix")]
    async fn unlink(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<NoContent, ApiError> {
        app.0.market.unlink_matrix(auth.0.user).await?;
        Ok(NoContent::Done)
    }
}

/// A Matrix error, as the homeserver reads it.
fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::json!({"errcode": errcode, "error": error}).to_string())
}

/// The answer to a request that does not carry the homeserver's token (`Authorization:
/// Bearer`, or the older `access_token` query parameter); `None` when it does.
fn refusal(app: &AppState, req: &Request) -> Option<Response> {
    let Some(bridge) = &app.market.matrix else {
        return Some(matrix_error(
            StatusCode::NOT_FOUND,
            "M_UNRECOGNIZED",
            "no Matrix bridge here",
        ));
    };
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let in_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("access_token="))
    });
    match header.or(in_query) {
        None => Some(matrix_error(
            StatusCode::UNAUTHORIZED,
            "M_UNAUTHORIZED",
            "the homeserver's token is required",
        )),
        Some(token) if bridge.client.is_homeserver(token) => None,
        Some(_) => Some(matrix_error(
            StatusCode::FORBIDDEN,
            "M_FORBIDDEN",
            "not the homeserver's token",
        )),
    }
}

/// `PUT /_matrix/app/v1/transactions/{txnId}`: events the homeserver pushes. Each event is
/// taken in once, whatever transaction brings it.
#[poem::handler]
pub(crate) async fn transactions(app: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    if let Some(refused) = refusal(&app, req) {
        return refused;
    }
    let bytes = match tokio::time::timeout(
        TRANSACTION_BODY_TIMEOUT,
        body.into_bytes_limit(MAX_TRANSACTION_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => {
            return matrix_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "transaction too large",
            );
        }
        _ => return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", "unreadable body"),
    };
    let Ok(transaction) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "not JSON");
    };
    let events = transaction["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match app.market.matrix_transaction(&events).await {
        Ok(()) => Response::builder()
            .content_type("application/json")
            .body("{}"),
        // The homeserver sends the transaction again later.
        Err(e) => {
            tracing::warn!(error = %e, "a Matrix transaction was not taken in");
            matrix_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "M_UNKNOWN",
                "try again later",
            )
        }
    }
}

/// `GET /_matrix/app/v1/users/{userId}` and `/rooms/{alias}`: the homeserver asks whether
/// the bridge has a user or room it does not know. The bridge makes its own, so: none.
#[poem::handler]
pub(crate) async fn query(app: Data<&Arc<AppState>>, req: &Request) -> Response {
    if let Some(refused) = refusal(&app, req) {
        return refused;
    }
    matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "no such user or room").into_response()
}
