//! API keys for bots: created with scopes, shown once, listed without secrets, revoked.
//!
//! Only a logged-in session manages keys: a key can neither mint nor see other keys, so a
//! leaked key never grants more than its own scopes.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
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

/// The API keys resource.
pub struct ApiKeysApi;

/// A key to create.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Text,
    /// What the key may do: one or more scopes (a repeated one counts once).
    #[oai(validator(min_items = 1))]
    pub scopes: Vec<wire::Scope>,
    /// The current password: a key acts for the account until revoked, so making one is as
    /// sensitive as changing the password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// The current 2FA code, when 2FA is on.
    pub totp_code: Option<Text>,
    /// A one-time recovery code instead of the 2FA code.
    pub recovery_code: Option<Text>,
}

/// A new key, with its secret. The only time the key is shown: store it now.
#[derive(Debug, Object)]
pub struct CreatedApiKey {
    /// The key's id, for revoking it.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters, as shown in lists.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<wire::Scope>,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// The key, sent as `X-API-Key`. Only its hash is stored: it cannot be shown again.
    pub key: String,
}

/// `201 Created`.
#[derive(ApiResponse)]
pub enum CreateApiKeyResponse {
    /// The key exists.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

/// A key as listed: never its secret.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<wire::Scope>,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// Last use, unix milliseconds, to the minute; absent if never used.
    pub last_used_at_ms: Option<u64>,
    /// Whether it was revoked (it no longer works).
    pub revoked: bool,
    /// When it was revoked, unix milliseconds.
    pub revoked_at_ms: Option<u64>,
}

/// The caller's keys, newest first: every key in use and the most recently revoked ones (at
/// most 50 in all).
#[derive(Debug, Object)]
pub struct ApiKeyList {
    /// The keys.
    pub items: Vec<ApiKeyInfo>,
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
