//! Pupero's web frontend: server-rendered pages for people, over the API.
//!
//! The web tier holds no database, wallet or data key: every page calls the API through
//! `pupero-sdk` with the signed-in user's tokens, which stay on the server ([`session`]), so
//! a bug here can do only what that user's token allows, and every authorization decision stays
//! in the API. Every action is a plain form answered by a redirect and works with JavaScript
//! off; one small same-origin module (`static/app.js`) adds countdowns, copy buttons and local
//! times. `guard` is the one place for cookies, the language, cross-site checks and security
//! headers; `pages` the handlers and their templates (askama, `templates/`); [`i18n`] and
//! [`mod@format`] the languages (Fluent, `locales/`) and numbers; [`qr`] the PNG QR codes.

pub mod assets;
mod csp;
pub mod format;
mod guard;
pub mod i18n;
pub mod live;
mod pages;
pub mod qr;
pub mod reputation;
pub mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use poem::{Endpoint, EndpointExt, Response, Route, get, post};

use crate::session::{MemorySessions, SessionStore};

/// How the site runs.
#[derive(Clone)]
pub struct WebConfig {
    /// Session cookies without `Secure` (and without the `__Host-` prefix), so that a browser
    /// keeps them over plain HTTP on localhost. For development only, never in production.
    pub insecure_dev_cookies: bool,
    /// Key of the CSRF tokens (`HMAC-SHA256(key, session id)`).
    pub csrf_key: [u8; 32],
    /// Origins besides the request's own host that may post forms (`https://pupero.example`,
    /// an onion address...).
    pub origins: Vec<String>,
}

impl WebConfig {
    /// Production settings with a random CSRF key: sessions do not outlive the process anyway.
    pub fn new() -> WebConfig {
        let mut csrf_key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut csrf_key);
        WebConfig {
            insecure_dev_cookies: false,
            csrf_key,
            origins: Vec::new(),
        }
    }
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig::new()
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("insecure_dev_cookies", &self.insecure_dev_cookies)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

/// What every request of the site shares.
pub struct Web {
    /// The settings.
    pub config: WebConfig,
    /// The API client with no session: public calls, and the pool every session shares.
    pub api: pupero_sdk::Client,
    /// The sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The users' live event streams.
    pub live: live::Hub,
    /// Makers' reputation shown on offer cards.
    pub reputations: reputation::Reputations,
    /// Content-Security-Policy violations browsers reported (`POST /csp-report`).
    csp_reports: AtomicU64,
}

impl Web {
    /// How many Content-Security-Policy violations browsers reported since the site started: a
    /// page that breaks the policy (an inline script or style, something from elsewhere) makes
    /// it grow; the browser tests expect it to stay at zero.
    pub fn csp_reports(&self) -> u64 {
        self.csp_reports.load(Ordering::Relaxed)
    }

    fn count_csp_reports(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.csp_reports.fetch_add(n, Ordering::Relaxed);
    }
}

/// The site, calling the API at `api_base_url`, with sessions in memory.
pub fn app(
    config: WebConfig,
    api_base_url: &str,
) -> Result<impl Endpoint<Output = Response> + use<>, pupero_sdk::Error> {
    let api = pupero_sdk::Client::new(api_base_url)?;
    Ok(app_with(config, api, Arc::new(MemorySessions::default())))
}

/// The site over a given API client and session store.
pub fn app_with(
    config: WebConfig,
    api: pupero_sdk::Client,
    sessions: Arc<dyn SessionStore>,
) -> impl Endpoint<Output = Response> {
    site(config, api, sessions).1
}

/// As [`app_with`], with the state the site shares, for reading what it counts
/// ([`Web::csp_reports`]).
pub fn site(
    config: WebConfig,
    api: pupero_sdk::Client,
    sessions: Arc<dyn SessionStore>,
) -> (Arc<Web>, impl Endpoint<Output = Response>) {
    use pages::{account, admin, info, market, recovery, settings, trade, wallet};
    let web = Arc::new(Web {
        config,
        api,
        sessions,
        live: live::Hub::default(),
        reputations: reputation::Reputations::default(),
        csp_reports: AtomicU64::new(0),
    });
    let routes = Route::new()
        .at("/", get(market::market))
        .at("/market", get(market::market))
        .at("/offers/mine", get(market::my_offers))
        .at(
            "/offers/new",
            get(market::new_offer).post(market::create_offer),
        )
        .at("/offers/:id", get(market::show_offer))
        .at(
            "/offers/:id/edit",
            get(market::edit_offer).post(market::update_offer),
        )
        .at("/offers/:id/review", get(market::review))
        .at("/offers/:id/open", post(market::open_trade))
        .at("/offers/:id/pause", post(market::pause_offer))
        .at("/offers/:id/resume", post(market::resume_offer))
        .at("/offers/:id/delete", post(market::delete_offer))
        .at("/trades", get(trade::my_trades))
        .at("/trades/:id", get(trade::show_trade))
        .at("/trades/:id/messages", post(trade::post_message))
        .at(
            "/trades/:id/paid",
            get(trade::paid_page).post(trade::post_paid),
        )
        .at(
            "/trades/:id/release",
            get(trade::release_page).post(trade::post_release),
        )
        .at(
            "/trades/:id/cancel",
            get(trade::cancel_page).post(trade::post_cancel),
        )
        .at(
            "/trades/:id/dispute",
            get(trade::dispute_page).post(trade::post_dispute),
        )
        .at("/trades/:id/feedback", post(trade::post_feedback))
        .at(
            "/trades/:id/resolve",
            get(trade::resolve_page).post(trade::post_resolve),
        )
        .at("/mod/disputes", get(trade::disputes))
        .at("/admin/users", get(admin::users))
        .at("/admin/users/:id/role", post(admin::set_role))
        .at("/admin/users/:id/disable", post(admin::disable))
        .at("/admin/users/:id/enable", post(admin::enable))
        .at("/admin/users/:id/logout", post(admin::logout_user))
        .at("/admin/audit", get(admin::audit))
        .at("/admin/withdrawals", get(admin::stuck))
        .at("/admin/withdrawals/:id/redrive", post(admin::redrive))
        .at("/admin/reconciliation", get(admin::reconciliation))
        .at("/admin/market", get(admin::market))
        .at("/admin/prices", post(admin::set_price))
        .at("/wallet", get(wallet::show_wallet))
        .at("/wallet/deposit", get(wallet::show_deposit))
        .at("/wallet/withdraw", get(wallet::withdraw))
        .at("/wallet/withdraw/review", get(wallet::withdraw_review))
        .at("/wallet/withdraw/confirm", post(wallet::withdraw_confirm))
        .at("/wallet/withdrawals/:id", get(wallet::show_withdrawal))
        .at("/login", get(account::login_page).post(account::login))
        .at(
            "/login/2fa",
            get(account::second_factor_page).post(account::second_factor),
        )
        .at(
            "/register",
            get(account::register_page).post(account::register),
        )
        .at("/logout", post(account::logout))
        .at("/lang/:tag", get(account::language))
        .at("/settings", get(account::show_settings))
        .at("/settings/password", post(account::change_password))
        .at("/settings/sessions/:id/end", post(account::end_session))
        .at("/settings/logout-all", post(account::logout_everywhere))
        .at(
            "/settings/2fa",
            get(account::totp_setup).post(account::totp_confirm),
        )
        .at("/settings/2fa/codes", get(account::recovery_codes))
        .at(
            "/settings/2fa/disable",
            get(settings::totp_disable_page).post(settings::totp_disable),
        )
        .at(
            "/settings/api-keys",
            get(settings::api_keys).post(settings::create_api_key),
        )
        .at("/settings/api-keys/new", get(settings::api_key_created))
        .at(
            "/settings/api-keys/:id/revoke",
            post(settings::revoke_api_key),
        )
        .at(
            "/settings/delete",
            get(settings::delete_account_form).post(settings::delete_account),
        )
        .at("/account-deleted", get(settings::account_deleted))
        .at(
            "/password-reset",
            get(recovery::request_page).post(recovery::request),
        )
        .at(
            "/reset",
            get(recovery::confirm_page).post(recovery::confirm),
        )
        .at(
            "/verify-email",
            get(recovery::verify_email_page).post(recovery::verify_email),
        )
        .at("/terms", get(info::terms))
        .at("/how-it-works", get(info::how_it_works))
        .at("/notifications", get(account::notifications))
        .at("/u/:username", get(account::show_profile))
        .at("/live", get(live::live))
        .at(csp::CSP_REPORT_PATH, post(csp::receive))
        .at("/static/:name", get(pages::static_file));
    let guarded = web.clone();
    let endpoint = routes.around(move |next, req| guard::guard(guarded.clone(), next, req));
    (web, endpoint)
}
