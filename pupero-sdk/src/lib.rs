#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod admin;
mod api_keys;
mod chat;
mod error;
mod events;
mod matrix;
mod offers;
mod prices;
mod recovery;
mod totp;
mod trades;
mod types;
mod wallet;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use admin::{
    AdminUser, AdminUserPage, AuditLogEntry, AuditLogPage, FeedbackCounts, ProfileStats,
    PublicProfile, Reconciliation,
};
pub use api_keys::{ApiKeyInfo, NewApiKey};
pub use chat::{ChatMessage, ChatPage, Feedback, FeedbackPage, PublicFeedback};
pub use error::{Error, ErrorCode};
pub use events::{EventPage, EventStream, UserEvent};
pub use matrix::{MatrixLink, MatrixLinkStarted};
pub use offers::{OfferPage, OfferRequest, OfferSearch, OfferView, PaymentMethodInfo};
pub use prices::{MarketPrice, MarketPriceList};
/// The wire types and error codes this SDK shares with the server.
pub use pupero_api as wire;
pub use pupero_api::{
    Dependency, DepositState, Direction, EntryCause, EntryStatus, EventKind, OfferStatus, Outcome,
    PriceSort, Rating, ReconciliationStatus, Role, Scope, SenderRole, Side, Stuck, Text,
    TradeAction, TradeSide, TradeState, TransferCode, Visibility, WithdrawalState,
};
pub use pupero_core::{
    CurrencyCode, EmailAddress, FeeSchedule, MarginPercent, Party, PaymentMethod, Piconero, Price,
    TradeFees, Username,
};
pub use totp::{RecoveryCodes, SecondFactor, TotpSetup, TotpStatus};
pub use trades::{FeeAccount, OpenTradeRequest, Resolution, TradePage, TradeParty, TradeView};
pub use types::*;
pub use wallet::{
    AdminWithdrawal, Deposit, DepositAddress, DepositPage, Withdrawal, WithdrawalFeeEstimate,
    WithdrawalPage, WithdrawalRequest,
};

/// Refresh the access token when less than this is left of its life.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Time limit of one HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an unused connection is kept for the next request: less than the server keeps an
/// idle one (75 s by default), so that a request is never sent on a connection the server is
/// closing at that moment.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Most history entries [`Client::ledger_history_all`] collects, so a bot cannot exhaust its
/// memory by accident.
pub const MAX_COLLECTED_ENTRIES: usize = 100_000;

#[derive(Debug, Clone)]
struct Session {
    access_token: String,
    refresh_token: String,
    refresh_at: Instant,
}

/// A client of one Pupero server. Cheap to clone; clones share the session.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For event streams: no overall time limit, but a read limit that notices a dead one.
    stream_http: reqwest::Client,
    base: String,
    session: Arc<Mutex<Option<Session>>>,
    /// Held while the session's tokens are refreshed: the server rotates the refresh token and
    /// treats a second use of the old one as theft (the session ends), so concurrent calls of
    /// one session must not refresh with the same token.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// Set by [`Client::forwarding_for`]: sent as `X-Forwarded-For`.
    forwarded_for: Option<std::net::IpAddr>,
    /// Set by [`Client::with_api_key`]: sent instead of the session's access token.
    api_key: Option<api_keys::KeyHeader>,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `https://pupero.example`).
    pub fn new(base_url: impl Into<String>) -> Result<Client, Error> {
        // One process-wide TLS provider (ring); `install_default` fails harmlessly if one exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .user_agent(concat!("pupero-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::transport)?;
        let stream_http = reqwest::Client::builder()
            .connect_timeout(events::CONNECT_TIMEOUT)
            .read_timeout(events::STREAM_READ_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .user_agent(concat!("pupero-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::transport)?;
        Ok(Client {
            http,
            stream_http,
            base: base_url.into().trim_end_matches('/').to_owned(),
            session: Arc::default(),
            refreshing: Arc::default(),
            forwarded_for: None,
            api_key: None,
        })
    }

    /// A client of the same server with a session of its own, sharing this client's
    /// connection pools: a process acting for many users (a web frontend) keeps one pool
    /// instead of one per user. Starts logged out, without this client's API key.
    pub fn new_session(&self) -> Client {
        Client {
            http: self.http.clone(),
            stream_http: self.stream_http.clone(),
            base: self.base.clone(),
            session: Arc::default(),
            refreshing: Arc::default(),
            forwarded_for: None,
            api_key: None,
        }
    }

    /// This client (the same session and pools) telling the server, in `X-Forwarded-For`, that
    /// it acts for a client at `address`: a website or another proxy in front of the API, so
    /// that rate limits and the audit log see the person rather than the proxy. The server
    /// believes it only from an address in its `trusted_proxies`.
    pub fn forwarding_for(&self, address: std::net::IpAddr) -> Client {
        Client {
            forwarded_for: Some(address),
            ..self.clone()
        }
    }

    /// Whether the client holds a session's tokens (it logged in and has not logged out).
    pub fn is_logged_in(&self) -> bool {
        self.lock().is_some()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether the process is up (`GET /healthz`).
    pub async fn healthz(&self) -> Result<Health, Error> {
        self.send(reqwest::Method::GET, "/healthz", None::<&()>, false)
            .await
    }

    /// Whether the server can serve (`GET /readyz`).
    pub async fn readyz(&self) -> Result<pupero_api::ReadinessReport, Error> {
        self.send(reqwest::Method::GET, "/readyz", None::<&()>, false)
            .await
    }

    /// Creates an account.
    pub async fn register(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
    ) -> Result<Registered, Error> {
        let body = RegisterRequest {
            username,
            email,
            password,
        };
        self.send(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            Some(&body),
            false,
        )
        .await
    }

    /// Logs in and keeps the session's tokens for the calls that follow.
    pub async fn login(&self, login: &str, password: &str) -> Result<Tokens, Error> {
        self.start_session(&LoginRequest { login, password }).await
    }

    /// Sends a login request and keeps the tokens it returns.
    async fn start_session<B: Serialize>(&self, body: &B) -> Result<Tokens, Error> {
        let tokens: Tokens = self
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                Some(body),
                false,
            )
            .await?;
        self.keep(&tokens);
        Ok(tokens)
    }

    /// Exchanges the session's refresh token for new tokens now.
    pub async fn refresh(&self) -> Result<Tokens, Error> {
        let refresh_token = self
            .current()
            .map(|s| s.refresh_token)
            .ok_or_else(Error::not_logged_in)?;
        self.refresh_with(&refresh_token).await
    }

    /// Exchanges a given refresh token (e.g. one saved from an earlier run) for new tokens.
    pub async fn refresh_with(&self, refresh_token: &str) -> Result<Tokens, Error> {
        // Sent directly, not through `request`, which itself refreshes.
        let response = self
            .http
            .post(format!("{}/api/v1/auth/refresh", self.base))
            .json(&RefreshRequest { refresh_token })
            .send()
            .await
            .map_err(Error::transport)?;
        if !response.status().is_success() {
            return Err(Error::from_response(response).await);
        }
        let tokens: Tokens = response.json().await.map_err(Error::transport)?;
        self.keep(&tokens);
        Ok(tokens)
    }

    /// Ends the session on the server and forgets its tokens.
    pub async fn logout(&self) -> Result<(), Error> {
        let result = self
            .send_empty(reqwest::Method::POST, "/api/v1/auth/logout")
            .await;
        *self.lock() = None;
        result
    }

    /// Logs out everywhere: ends every session of the account (this one too) and revokes
    /// every API key.
    pub async fn logout_everywhere(&self) -> Result<(), Error> {
        let result = self
            .send_empty(reqwest::Method::POST, "/api/v1/auth/logout-all")
            .await;
        *self.lock() = None;
        result
    }

    /// Uses `access_token` for the calls that follow (no refresh token: no automatic refresh).
    pub fn set_access_token(&self, access_token: impl Into<String>) {
        *self.lock() = Some(Session {
            access_token: access_token.into(),
            refresh_token: String::new(),
            refresh_at: Instant::now() + Duration::from_secs(365 * 24 * 3600),
        });
    }

    /// The caller's profile.
    pub async fn me(&self) -> Result<Me, Error> {
        self.send(reqwest::Method::GET, "/api/v1/me", None::<&()>, true)
            .await
    }

    /// The caller's XMR balance.
    pub async fn balance(&self) -> Result<Balance, Error> {
        self.send(reqwest::Method::GET, "/api/v1/balance", None::<&()>, true)
            .await
    }

    /// One page of the caller's ledger history, newest first.
    pub async fn ledger_history(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<LedgerPage, Error> {
        let mut path = String::from("/api/v1/ledger/history");
        let mut sep = '?';
        if let Some(limit) = limit {
            path.push_str(&format!("{sep}limit={limit}"));
            sep = '&';
        }
        if let Some(cursor) = cursor {
            path.push_str(&format!("{sep}cursor={}", urlencode(cursor)));
        }
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// The caller's whole ledger history, newest first, following cursors page by page (at most
    /// [`MAX_COLLECTED_ENTRIES`]).
    pub async fn ledger_history_all(&self) -> Result<Vec<LedgerEntry>, Error> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.ledger_history(Some(200), cursor.as_deref()).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(next) if all.len() < MAX_COLLECTED_ENTRIES => cursor = Some(next),
                _ => return Ok(all),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn current(&self) -> Option<Session> {
        self.lock().clone()
    }

    fn keep(&self, tokens: &Tokens) {
        let life = Duration::from_secs(tokens.expires_in).saturating_sub(REFRESH_MARGIN);
        *self.lock() = Some(Session {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            refresh_at: Instant::now() + life,
        });
    }

    /// The access token to send, refreshed first when it is about to expire.
    async fn access_token(&self) -> Result<String, Error> {
        let session = self.current().ok_or_else(Error::not_logged_in)?;
        if Instant::now() >= session.refresh_at && !session.refresh_token.is_empty() {
            return self.refresh_once(&session.access_token).await;
        }
        Ok(session.access_token)
    }

    /// Refreshes the session's tokens unless another call of this session did since `stale`
    /// was the access token: one refresh at a time, each with the newest refresh token.
    async fn refresh_once(&self, stale: &str) -> Result<String, Error> {
        let _one_at_a_time = self.refreshing.lock().await;
        let session = self.current().ok_or_else(Error::not_logged_in)?;
        if session.access_token != stale {
            return Ok(session.access_token);
        }
        Ok(self
            .refresh_with(&session.refresh_token)
            .await?
            .access_token)
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        authenticated: bool,
    ) -> Result<T, Error> {
        let response = self.request(method, path, body, authenticated).await?;
        let bytes = response.bytes().await.map_err(Error::transport)?;
        serde_json::from_slice(&bytes).map_err(Error::decode)
    }

    async fn send_empty(&self, method: reqwest::Method, path: &str) -> Result<(), Error> {
        self.request(method, path, None::<&()>, true)
            .await
            .map(drop)
    }

    /// As `send`, with an `Idempotency-Key` header when `key` is given.
    async fn send_keyed<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        key: Option<&str>,
    ) -> Result<T, Error> {
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        let response = self
            .request_with(method, path, body, true, &headers)
            .await?;
        let bytes = response.bytes().await.map_err(Error::transport)?;
        serde_json::from_slice(&bytes).map_err(Error::decode)
    }

    async fn request<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        authenticated: bool,
    ) -> Result<reqwest::Response, Error> {
        self.request_with(method, path, body, authenticated, &[])
            .await
    }

    async fn request_with<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        authenticated: bool,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, Error> {
        self.request_via(&self.http, method, path, body, authenticated, headers)
            .await
    }

    /// As `request_with`, on the given HTTP client.
    async fn request_via<B: Serialize>(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        authenticated: bool,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, Error> {
        let mut retried = false;
        loop {
            let mut request = http.request(method.clone(), format!("{}{path}", self.base));
            let mut sent_token = None;
            if authenticated {
                request = match &self.api_key {
                    Some(key) => request.header("X-API-Key", key.expose()),
                    None => {
                        let token = self.access_token().await?;
                        let request = request.bearer_auth(&token);
                        sent_token = Some(token);
                        request
                    }
                };
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(address) = self.forwarded_for {
                request = request.header("X-Forwarded-For", address.to_string());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(Error::transport)?;
            if response.status().is_success() {
                return Ok(response);
            }
            let error = Error::from_response(response).await;
            // The access token expired in flight: refresh once (unless another call of the
            // session just did) and try again.
            if authenticated
                && !retried
                && error.code() == Some("TOKEN_EXPIRED")
                && let Some(sent) = sent_token
                && self.current().is_some_and(|s| !s.refresh_token.is_empty())
            {
                self.refresh_once(&sent).await?;
                retried = true;
                continue;
            }
            return Err(error);
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_shares_the_server_but_not_the_tokens() {
        let first = Client::new("http://127.0.0.1:9/").unwrap();
        first.set_access_token("first's token");
        let second = first.new_session();
        assert_eq!(second.base_url(), "http://127.0.0.1:9");
        assert!(first.is_logged_in());
        assert!(!second.is_logged_in());
        second.set_access_token("second's token");
        assert_eq!(first.current().unwrap().access_token, "first's token");
        assert_eq!(second.current().unwrap().access_token, "second's token");
    }

    #[test]
    fn forwarding_keeps_the_session() {
        let client = Client::new("http://127.0.0.1:9").unwrap();
        let forwarding = client.forwarding_for("203.0.113.7".parse().unwrap());
        client.set_access_token("shared");
        assert_eq!(forwarding.current().unwrap().access_token, "shared");
        assert_eq!(
            forwarding.forwarded_for,
            Some("203.0.113.7".parse().unwrap())
        );
        assert!(client.forwarded_for.is_none());
        assert!(forwarding.new_session().forwarded_for.is_none());
    }

    #[test]
    fn a_new_session_drops_the_api_key() {
        let bot = Client::with_api_key("http://127.0.0.1:9", "pk_x").unwrap();
        assert!(bot.new_session().api_key.is_none());
    }
}
