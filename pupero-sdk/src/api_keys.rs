//! API keys: managing them with a logged-in client, and calling the API with one.

use std::fmt;
use std::sync::Arc;

use pupero_api::Scope;
use serde::Serialize;
use uuid::Uuid;

use crate::{Client, Error, SecondFactor};

pub use pupero_api::ApiKeyInfo;
/// The wire type `CreatedApiKey`, by the name this SDK gave it first.
pub type NewApiKey = pupero_api::CreatedApiKey;

/// An API key held by a client. Its `Debug` shows only the prefix, so logging a client never
/// leaks the key.
#[derive(Clone)]
pub(crate) struct KeyHeader(Arc<str>);

impl KeyHeader {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.get(..PREFIX_CHARS).unwrap_or("");
        write!(f, "KeyHeader({shown}…)")
    }
}

/// Characters of a key that `Debug` shows: as many as the server's lists show.
const PREFIX_CHARS: usize = 11;

#[derive(Serialize)]
struct CreateApiKeyRequest<'a> {
    name: &'a str,
    scopes: Vec<&'static str>,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

impl Client {
    /// A client that authenticates every call with the API key `key` (sent as `X-API-Key`)
    /// instead of a login. It may do only what the key's scopes allow; managing keys, logging
    /// out and other account changes need a login.
    pub fn with_api_key(
        base_url: impl Into<String>,
        key: impl Into<String>,
    ) -> Result<Client, Error> {
        let mut client = Client::new(base_url)?;
        client.api_key = Some(KeyHeader(key.into().into()));
        Ok(client)
    }

    /// Creates an API key with `scopes` (needs a login, the password, and the second factor
    /// when 2FA is on). The result holds the key itself, which the server shows only this once.
    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        password: &str,
        second_factor: Option<SecondFactor<'_>>,
    ) -> Result<NewApiKey, Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let body = CreateApiKeyRequest {
            name,
            scopes: scopes.iter().map(|s| s.as_str()).collect(),
            password,
            totp_code,
            recovery_code,
        };
        self.send(reqwest::Method::POST, "/api/v1/api-keys", Some(&body), true)
            .await
    }

    /// The caller's API keys, newest first, without their secrets (needs a login).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, Error> {
        let list: pupero_api::ApiKeyList = self
            .send(reqwest::Method::GET, "/api/v1/api-keys", None::<&()>, true)
            .await?;
        Ok(list.items)
    }

    /// Revokes one of the caller's API keys; it stops working at once (needs a login).
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(reqwest::Method::DELETE, &format!("/api/v1/api-keys/{id}"))
            .await
    }
}
