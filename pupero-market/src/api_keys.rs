//! API keys for bots: created with scopes under the password and the second factor, shown
//! once (only their hash is stored), listed without secrets, revoked.

use std::net::IpAddr;

use pupero_core::{Scopes, Timestamp, UserId};
use uuid::Uuid;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::security::{api_key_prefix, new_api_key, token_hash};
use crate::store::{ApiKeyRow, CreateApiKeyRefusal, MAX_ACTIVE_API_KEYS_PER_USER, NewApiKey};
use crate::two_factor::SecondFactorProof;

/// Longest key name, in characters (the column holds 64).
pub const MAX_API_KEY_NAME_CHARS: usize = 64;

/// A key's name: trimmed, 1–64 characters, one line with nothing that
/// [`pupero_core::text::check`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Parses a name as typed; 400 `VALIDATION` when it is empty, too long or not plain text.
    pub fn parse(name: &str) -> Result<ApiKeyName, Error> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_API_KEY_NAME_CHARS {
            return Err(Error::validation(format!(
                "name must be 1–{MAX_API_KEY_NAME_CHARS} characters"
            )));
        }
        pupero_core::text::check(name, pupero_core::text::Lines::One)
            .map_err(|e| Error::validation(format!("name: {e}")))?;
        Ok(ApiKeyName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key to create, parsed, with the step-up that allows it.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyRequest<'a> {
    /// Its label.
    pub name: &'a ApiKeyName,
    /// What it may do.
    pub scopes: Scopes,
    /// The current password: a key acts for the account until revoked.
    pub password: &'a str,
    /// The second factor, when 2FA is on.
    pub proof: SecondFactorProof<'a>,
}

/// A new key, with its secret: the only time it is shown.
#[derive(Debug)]
pub struct CreatedApiKey {
    /// The key's id.
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters, as shown in lists.
    pub prefix: String,
    /// What it may do.
    pub scopes: Scopes,
    /// When it was created.
    pub created_at: Timestamp,
    /// The key itself.
    pub key: String,
}

impl Market {
    /// Creates an API key for `user`, asked for from `client`: the password and the second
    /// factor first, as for a password change; 409 `API_KEY_LIMIT` with as many keys in use as
    /// allowed. Audited.
    pub async fn create_api_key(
        &self,
        user: UserId,
        request: ApiKeyRequest<'_>,
        client: Option<IpAddr>,
    ) -> Result<CreatedApiKey, Error> {
        self.verify_password(user, request.password).await?;
        self.verify_second_factor(user, request.proof).await?;
        let key = new_api_key();
        let id = Uuid::now_v7();
        let now = self.now();
        let name = request.name.as_str();
        let new = NewApiKey {
            id,
            user,
            name,
            prefix: api_key_prefix(&key),
            key_hash: &token_hash(&key),
            scopes: request.scopes,
        };
        if let Err(CreateApiKeyRefusal::TooMany) = self.store.create_api_key(&new, now).await? {
            return Err(Error::new(
                ErrorKind::ApiKeyLimit,
                format!("at most {MAX_ACTIVE_API_KEYS_PER_USER} API keys in use; revoke one first"),
            ));
        }
        self.events.notify([user]);
        tracing::info!(user_id = %user, api_key_id = %id, "API key created");
        let names: Vec<&str> = request.scopes.iter().map(|s| s.as_str()).collect();
        self.audit(
            AuditEntry::of(AuditEvent::ApiKeyCreated, Some(user))
                .from_ip(client.map(|ip| ip.to_string()))
                .detail(format!("key {id}, scopes {}", names.join(","))),
        )
        .await;
        Ok(CreatedApiKey {
            id,
            name: name.to_owned(),
            prefix: api_key_prefix(&key).to_owned(),
            scopes: request.scopes,
            created_at: now,
            key,
        })
    }

    /// The API keys of `user`, newest first, without their secrets: every key in use and the
    /// most recently revoked ones.
    pub async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRow>, Error> {
        Ok(self.store.list_api_keys(user).await?)
    }

    /// Revokes the API key `id` of `user`, asked for from `client`; it stops working at once.
    /// Revoking a revoked key is not an error; someone else's key is as absent as one that
    /// never existed (404).
    pub async fn revoke_api_key(
        &self,
        user: UserId,
        id: Uuid,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if self.store.revoke_api_key(id, user, self.now()).await? {
            tracing::info!(user_id = %user, api_key_id = %id, "API key revoked");
            self.audit(
                AuditEntry::of(AuditEvent::ApiKeyRevoked, Some(user))
                    .from_ip(client.map(|ip| ip.to_string()))
                    .detail(format!("key {id}")),
            )
            .await;
            return Ok(());
        }
        if self.store.api_key_exists(id, user).await? {
            Ok(())
        } else {
            Err(Error::not_found("no such API key"))
        }
    }
}
