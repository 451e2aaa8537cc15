//! Building the application: state, routes, middleware, the OpenAPI document.

use std::sync::Arc;

use poem::middleware::{NormalizePath, TrailingSlash};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{LicenseObject, OpenApiService, ServerObject};
use pupero_core::{Caller, Clock, Role, Scope, Scopes, SystemClock, Timestamp, UserId};
use uuid::Uuid;

use crate::api;
use crate::config::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::tokens::{TokenRejection, TokenSigner};
use pupero_market::Market;

/// What a request handler may need: the market, and what only HTTP needs (the server's
/// settings, access tokens, readiness, open streams and connections).
pub struct AppState {
    /// The validated settings, the market's among them.
    pub settings: Settings,
    /// The market's services.
    pub market: Arc<Market>,
    /// Access tokens.
    pub tokens: TokenSigner,
    /// The last readiness report, reused for a moment so that probes cost the wallet and
    /// the broker little.
    pub readiness: crate::api::health::ReadinessCache,
    /// Open event streams, per user and in total.
    pub stream_slots: Arc<pupero_market::events::StreamSlots>,
    /// Open client connections, per address and in total.
    pub connection_slots: Arc<crate::http_server::ConnectionSlots>,
    /// Market pages as served, while the order book under them has not changed.
    pub pages: crate::api::pages::PageCache<pupero_api::OfferPageView>,
    /// This server's metrics (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Who is calling, established by a security scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// The role the caller acts with: the user's role right now for a session, always
    /// [`Role::User`] for an API key (keys never carry staff powers).
    pub role: Role,
    /// How the caller proved it.
    pub credential: Credential,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a logged-in session: everything the user may do.
    Session(Uuid),
    /// An API key: only its scopes, and never account management or administration.
    ApiKey {
        /// The key's id.
        id: Uuid,
        /// What it may do.
        scopes: Scopes,
    },
}

impl Principal {
    /// The caller as the core's rules see it.
    pub fn caller(&self) -> Caller {
        match self.credential {
            Credential::Session(_) => Caller::session(self.user, self.role),
            Credential::ApiKey { scopes, .. } => Caller::api_key(self.user, scopes),
        }
    }

    /// Ok when the caller may act within `scope` ([`Caller::has_scope`] decides).
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        if self.caller().has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this API key lacks the {} scope",
                scope.as_str()
            )))
        }
    }

    /// The session, for what only a logged-in person may do (logout, password, 2FA, API keys).
    pub fn require_session(&self) -> Result<Uuid, ApiError> {
        match self.credential {
            Credential::Session(session) => Ok(session),
            Credential::ApiKey { .. } => Err(ApiError::forbidden(
                "this needs a logged-in session, not an API key",
            )),
        }
    }

    /// Ok when a logged-in session's user has at least `role`.
    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        self.require_session()?;
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "needs the {} role",
                role.as_str()
            )))
        }
    }
}

impl AppState {
    /// Opens the market (see [`Market::open`]) and prepares what HTTP needs.
    pub async fn open(settings: Settings) -> anyhow::Result<Arc<AppState>> {
        AppState::open_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`AppState::open`], with an injected clock.
    pub async fn open_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<AppState>> {
        let market = Market::open_with_clock(settings.market.clone(), clock).await?;
        Ok(AppState::serving(settings, market))
    }

    /// As [`AppState::open_with_clock`], with `rpc` as the platform's wallet (see
    /// [`Market::open_with_wallet`]).
    pub async fn open_with_wallet(
        settings: Settings,
        clock: Arc<dyn Clock>,
        rpc: Arc<dyn pupero_core::wallet::WalletRpc>,
        account: u32,
    ) -> anyhow::Result<Arc<AppState>> {
        let market = Market::open_with_wallet(settings.market.clone(), clock, rpc, account).await?;
        Ok(AppState::serving(settings, market))
    }

    /// The HTTP side around an open `market`.
    pub fn serving(settings: Settings, market: Arc<Market>) -> Arc<AppState> {
        let tokens = TokenSigner::new(
            settings.jwt_secret.expose().as_bytes(),
            settings.access_token_ttl_secs,
        );
        let stream_slots = pupero_market::events::StreamSlots::new(settings.max_event_streams);
        let connection_slots = crate::http_server::ConnectionSlots::new(
            &settings.connections,
            &settings.trusted_proxies,
        );
        Arc::new(AppState {
            settings,
            market,
            tokens,
            readiness: crate::api::health::ReadinessCache::default(),
            stream_slots,
            connection_slots,
            pages: crate::api::pages::PageCache::default(),
            metrics: Arc::default(),
        })
    }

    /// The current time, at the market's clock.
    pub fn now(&self) -> Timestamp {
        self.market.now()
    }

    /// The caller behind an access token, checked against its session and user on every call:
    /// a logout, a revoked session or a disabled account stop a token at once.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self
            .tokens
            .check(token)
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => {
                    ApiError::unauthorized(ErrorCode::TokenExpired, "access token expired")
                }
                TokenRejection::Invalid => {
                    ApiError::unauthorized(ErrorCode::Unauthorized, "invalid access token")
                }
            })?;
        let user = UserId::from_uuid(claims.sub);
        let caller = self.market.session_caller(claims.sid, user).await?;
        Ok(Principal {
            user,
            role: caller.role(),
            credential: Credential::Session(claims.sid),
        })
    }

    /// The caller behind an API key (see [`Market::authenticate_api_key`]).
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        client_ip: Option<String>,
    ) -> Result<Principal, ApiError> {
        let holder = self.market.authenticate_api_key(key, client_ip).await?;
        Ok(Principal {
            user: holder.caller.user(),
            role: holder.caller.role(),
            credential: Credential::ApiKey {
                id: holder.key,
                scopes: holder.scopes,
            },
        })
    }
}

/// The OpenAPI service of every resource. It needs no state: handlers take it from the
/// request, so the document can be made without a database.
pub fn openapi() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(), "Pupero API", env!("CARGO_PKG_VERSION"))
        .description(
            "Peer-to-peer Monero market with custodial escrow. Amounts are exact decimal XMR \
             strings (1 XMR = 10^12 piconero); prices are exact decimal strings. Errors are \
             `{\"code\", \"message\"}` with a stable `code`. Optional fields are absent, never \
             null.",
        )
        .server(
            ServerObject::new("http://127.0.0.1:8000")
                .description("A server started by `scripts/run.sh` (the default listen address)"),
        )
        .license(
            LicenseObject::new("AGPL-3.0-or-later")
                .url("https://www.gnu.org/licenses/agpl-3.0.html"),
        )
}

/// The OpenAPI document as YAML, as committed in `openapi/pupero.yaml`.
pub fn openapi_yaml() -> String {
    crate::openapi::yaml()
}

/// The whole HTTP application.
pub fn build(state: Arc<AppState>) -> impl Endpoint {
    let service = openapi();
    let document = crate::openapi::document();
    let spec_json = serde_json::to_string(&document).unwrap_or_default();
    let spec_yaml = serde_yaml::to_string(&document).unwrap_or_default();
    let spec_json = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(spec_json.clone())
    });
    let spec_yaml = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/yaml")
            .body(spec_yaml.clone())
    });
    let docs = service.swagger_ui();
    let body_limit = crate::middleware::BodyLimit {
        max_bytes: state.settings.max_body_bytes,
        timeout: std::time::Duration::from_secs(state.settings.connections.body_timeout_secs),
    };
    let api = Route::new()
        .nest("/", service)
        .nest("/docs", docs)
        .at("/api/openapi.json", spec_json)
        .at("/api/openapi.yaml", spec_yaml)
        .at("/metrics", poem::get(crate::metrics::scrape))
        .with(body_limit);
    // The homeserver's, with its own body bound (a transaction holds up to 100 events).
    let matrix = Route::new()
        .at(
            "/transactions/:txn",
            poem::put(crate::api::matrix::transactions),
        )
        .at("/users/:user", poem::get(crate::api::matrix::query))
        .at("/rooms/:alias", poem::get(crate::api::matrix::query));
    Route::new()
        .nest("/_matrix/app/v1", matrix)
        .nest("/", api)
        .with(crate::metrics::RecordRequests(state.metrics.clone()))
        .with(crate::roles::ServeRole(state.settings.role))
        .with(NormalizePath::new(TrailingSlash::Trim))
        .data(state)
        .with(crate::middleware::RequestId)
        .with(crate::middleware::SecurityHeaders)
}
