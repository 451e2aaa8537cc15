//! The API resources, one `#[OpenApi]` struct each, combined into one service.

use std::sync::Arc;

use poem::Request;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use crate::app::{AppState, Principal};
use crate::error::ApiError;

pub mod account;
pub mod admin;
pub mod admin_wallet;
pub mod api_keys;
pub mod auth;
pub mod chat;
pub mod events;
pub mod health;
pub mod matrix;
pub mod offers;
pub mod pages;
pub mod prices;
pub mod profile;
pub mod text;
pub mod totp;
pub mod trades;
pub mod wallet;

/// Every resource of the API.
pub type Apis = (
    health::HealthApi,
    auth::AuthApi,
    account::AccountApi,
    profile::ProfileApi,
    admin::AdminApi,
    admin_wallet::AdminWalletApi,
    api_keys::ApiKeysApi,
    offers::OffersApi,
    totp::TotpApi,
    prices::PricesApi,
    trades::TradesApi,
    wallet::WalletApi,
    chat::ChatApi,
    events::EventsApi,
    matrix::MatrixApi,
);

/// The resources; each handler takes the shared state from the request.
pub fn apis() -> Apis {
    (
        health::HealthApi,
        auth::AuthApi,
        account::AccountApi,
        profile::ProfileApi,
        admin::AdminApi,
        admin_wallet::AdminWalletApi,
        api_keys::ApiKeysApi,
        offers::OffersApi,
        totp::TotpApi,
        prices::PricesApi,
        trades::TradesApi,
        wallet::WalletApi,
        chat::ChatApi,
        events::EventsApi,
        matrix::MatrixApi,
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
    /// Running the platform (admins).
    Admin,
    /// API keys for bots: created with scopes, shown once, listed, revoked.
    ApiKeys,
    /// The market's offers.
    Offers,
    /// Market prices of XMR per currency.
    Market,
    /// Trades: escrow, payment, release, cancellation, disputes; their chat and feedback.
    Trades,
    /// The caller's Monero: deposit subaddress, deposits, withdrawals.
    Wallet,
    /// The caller's events: a cursor listing and a live stream (Server-Sent Events).
    Events,
    /// Linking the caller's Matrix account to the trade-chat bridge.
    Matrix,
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

/// A bot's API key: `X-API-Key: pk_...`. It acts only within its scopes.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_api_key"
)]
pub struct ApiKeyAuth(pub Principal);

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    let state = req
        .data::<Arc<AppState>>()
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    state
        .authenticate_api_key(&key.key, crate::client::client_ip(req))
        .await
        .map_err(ApiError::into_poem)
}

/// Either credential: an access token or an API key. Endpoints that take it check the scope
/// they need with [`Principal::require_scope`].
///
/// Written out rather than derived: a derived enum tries each scheme and reports the *last*
/// failure, so an expired access token would come back as "API key missing" and clients would
/// not know to refresh. Here the header that is present decides; with both, the key wins, the
/// narrower of the two.
pub enum Auth {
    /// `Authorization: Bearer`.
    Bearer(BearerAuth),
    /// `X-API-Key`.
    ApiKey(ApiKeyAuth),
}

impl Auth {
    /// Who is calling.
    pub fn principal(&self) -> Principal {
        match self {
            Auth::Bearer(auth) => auth.0,
            Auth::ApiKey(auth) => auth.0,
        }
    }
}

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
        ApiKeyAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BearerAuth::security_schemes();
        schemes.extend(ApiKeyAuth::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut poem::RequestBody,
        param_opts: ExtractParamOptions<()>,
    ) -> poem::Result<Auth> {
        if req.headers().contains_key("x-api-key") {
            ApiKeyAuth::from_request(req, body, param_opts)
                .await
                .map(Auth::ApiKey)
        } else {
            BearerAuth::from_request(req, body, param_opts)
                .await
                .map(Auth::Bearer)
        }
    }
}

/// A logged-in session, for what a key may never do (managing keys, logging out). Only the
/// bearer scheme is advertised; a call with an API key is refused with 403 `FORBIDDEN`, not
/// 401, so that a bot learns it needs a person rather than another credential.
pub struct SessionAuth(pub Principal);

impl<'a> ApiExtractor<'a> for SessionAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        BearerAuth::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut poem::RequestBody,
        param_opts: ExtractParamOptions<()>,
    ) -> poem::Result<SessionAuth> {
        let principal = Auth::from_request(req, body, param_opts).await?.principal();
        principal.require_session().map_err(ApiError::into_poem)?;
        Ok(SessionAuth(principal))
    }
}
