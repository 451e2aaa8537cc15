//! API keys for bots: created with scopes, shown once, listed without secrets, revoked.
//!
//! Only a logged-in session manages keys: a key can neither mint nor see other keys, so a
//! leaked key never grants more than its own scopes.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api as wire;
use pupero_core::{Scope, Scopes, Timestamp};
use uuid::Uuid;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_addr;
use crate::error::ApiError;
use pupero_market::api_keys::{ApiKeyName, ApiKeyRequest};
use pupero_market::store::ApiKeyRow;
use pupero_market::two_factor::SecondFactorProof;

pub use pupero_api::{ApiKeyInfo, ApiKeyList, CreateApiKeyRequest, CreatedApiKey};

/// The API keys resource.
pub struct ApiKeysApi;

/// `201 Created`.
#[derive(ApiResponse)]
pub enum CreateApiKeyResponse {
    /// The key exists.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

fn scope_names(scopes: Scopes) -> Vec<wire::Scope> {
    scopes.iter().map(wire::Scope::from).collect()
}

fn info(row: ApiKeyRow) -> ApiKeyInfo {
    ApiKeyInfo {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        scopes: scope_names(row.scopes),
        created_at_ms: row.created_at.as_unix_ms(),
        last_used_at_ms: row.last_used_at.map(Timestamp::as_unix_ms),
        revoked: row.revoked_at.is_some(),
        revoked_at_ms: row.revoked_at.map(Timestamp::as_unix_ms),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::ApiKeys")]
impl ApiKeysApi {
    /// Creates an API key with the given scopes. The response is the only time the key is
    /// shown. Needs a logged-in session: a key cannot create keys. At most 20 keys in use.
    #[oai(path = "/api-keys", method = "post", operation_id = "create_api_key")]
    async fn create(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        body: Json<CreateApiKeyRequest>,
    ) -> Result<CreateApiKeyResponse, ApiError> {
        let name = ApiKeyName::parse(&body.name)?;
        let scopes: Vec<Scope> = body.scopes.iter().copied().map(Scope::from).collect();
        let scopes = Scopes::of(&scopes);
        let request = ApiKeyRequest {
            name: &name,
            scopes,
            password: &body.password,
            proof: SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
        };
        let created = app
            .0
            .market
            .create_api_key(auth.0.user, request, client_addr(req))
            .await?;
        Ok(CreateApiKeyResponse::Created(Json(CreatedApiKey {
            id: created.id,
            name: created.name,
            prefix: created.prefix,
            scopes: scope_names(created.scopes),
            created_at_ms: created.created_at.as_unix_ms(),
            key: created.key,
        })))
    }

    /// The caller's API keys, newest first, without their secrets: every key in use and the
    /// most recently revoked ones, at most 50. Needs a logged-in session.
    #[oai(path = "/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<ApiKeyList>, ApiError> {
        let rows = app.0.market.api_keys(auth.0.user).await?;
        Ok(Json(ApiKeyList {
            items: rows.into_iter().map(info).collect(),
        }))
    }

    /// Revokes one of the caller's API keys; it stops working at once. Revoking a revoked key
    /// is not an error. Needs a logged-in session.
    #[oai(
        path = "/api-keys/:id",
        method = "delete",
        operation_id = "revoke_api_key"
    )]
    async fn revoke(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        /// The key's id.
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        app.0
            .market
            .revoke_api_key(auth.0.user, id.0, client_addr(req))
            .await?;
        Ok(NoContent::Done)
    }
}
