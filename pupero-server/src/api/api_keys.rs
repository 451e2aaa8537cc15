//! API keys for bots: created with scopes, shown once, listed without secrets, revoked.
//!
//! Only a logged-in session manages keys: a key can neither mint nor see other keys, so a
//! leaked key never grants more than its own scopes.

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use pupero_core::{Scopes, Timestamp};
use uuid::Uuid;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_ip;
use crate::error::{ApiError, codes};
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::security::{api_key_prefix, new_api_key, token_hash};
use pupero_market::store::{
    ApiKeyRow, CreateApiKeyRefusal, MAX_ACTIVE_API_KEYS_PER_USER, NewApiKey,
};
use pupero_market::two_factor::SecondFactorProof;

/// Longest key name, in characters (the column holds 64).
pub const MAX_API_KEY_NAME_CHARS: usize = 64;

/// The API keys resource.
pub struct ApiKeysApi {
    pub(crate) state: Arc<AppState>,
}

/// A key to create.
#[derive(Debug, Object)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by, 1–64 characters.
    pub name: Text,
    /// What the key may do: one or more of `read`, `trade`, `withdraw`.
    pub scopes: Vec<Text>,
    /// The current password: a key acts for the account until revoked, so making one is as
    /// sensitive as changing the password.
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
    pub scopes: Vec<String>,
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
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
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

fn scope_names(scopes: Scopes) -> Vec<String> {
    scopes.iter().map(|s| s.as_str().to_owned()).collect()
}

/// A valid key name: trimmed, 1–64 characters, one line with nothing that
/// [`pupero_core::text::check`] refuses.
fn parse_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_API_KEY_NAME_CHARS {
        return Err(ApiError::validation(format!(
            "name must be 1–{MAX_API_KEY_NAME_CHARS} characters"
        )));
    }
    pupero_core::text::check(name, pupero_core::text::Lines::One)
        .map_err(|e| ApiError::validation(format!("name: {e}")))?;
    Ok(name)
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
        req: &Request,
        auth: SessionAuth,
        body: Json<CreateApiKeyRequest>,
    ) -> Result<CreateApiKeyResponse, ApiError> {
        let principal = auth.0;
        let name = parse_name(&body.name)?;
        let scopes =
            Scopes::parse(&body.scopes).map_err(|e| ApiError::validation(e.to_string()))?;
        let state = &self.state;
        state
            .market
            .verify_password(principal.user, &body.password)
            .await?;
        state
            .market
            .verify_second_factor(
                principal.user,
                SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref()),
            )
            .await?;
        let key = new_api_key();
        let id = Uuid::now_v7();
        let now = state.now();
        let new = NewApiKey {
            id,
            user: principal.user,
            name,
            prefix: api_key_prefix(&key),
            key_hash: &token_hash(&key),
            scopes,
        };
        if let Err(CreateApiKeyRefusal::TooMany) =
            state.market.store.create_api_key(&new, now).await?
        {
            return Err(ApiError::conflict(
                codes::API_KEY_LIMIT,
                format!("at most {MAX_ACTIVE_API_KEYS_PER_USER} API keys in use; revoke one first"),
            ));
        }
        state.market.events.notify([principal.user]);
        tracing::info!(user_id = %principal.user, api_key_id = %id, "API key created");
        let names = scope_names(scopes);
        state
            .market
            .audit(
                AuditEntry::of(AuditEvent::ApiKeyCreated, Some(principal.user))
                    .from_ip(client_ip(req))
                    .detail(format!("key {id}, scopes {}", names.join(","))),
            )
            .await;
        Ok(CreateApiKeyResponse::Created(Json(CreatedApiKey {
            id,
            name: name.to_owned(),
            prefix: api_key_prefix(&key).to_owned(),
            scopes: names,
            created_at_ms: now.as_unix_ms(),
            key,
        })))
    }

    /// The caller's API keys, newest first, without their secrets: every key in use and the
    /// most recently revoked ones, at most 50. Needs a logged-in session.
    #[oai(path = "/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list(&self, auth: SessionAuth) -> Result<Json<ApiKeyList>, ApiError> {
        let principal = auth.0;
        let rows = self
            .state
            .market
            .store
            .list_api_keys(principal.user)
            .await?;
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
        req: &Request,
        auth: SessionAuth,
        /// The key's id.
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        let principal = auth.0;
        let state = &self.state;
        if state
            .market
            .store
            .revoke_api_key(id.0, principal.user, state.now())
            .await?
        {
            tracing::info!(user_id = %principal.user, api_key_id = %id.0, "API key revoked");
            state
                .market
                .audit(
                    AuditEntry::of(AuditEvent::ApiKeyRevoked, Some(principal.user))
                        .from_ip(client_ip(req))
                        .detail(format!("key {}", id.0)),
                )
                .await;
            return Ok(NoContent::Done);
        }
        // Someone else's key is as absent as one that never existed.
        if state
            .market
            .store
            .api_key_exists(id.0, principal.user)
            .await?
        {
            Ok(NoContent::Done)
        } else {
            Err(ApiError::not_found("no such API key"))
        }
    }
}
