//! The pages: one handler per route, each rendering a template of `templates/` or answering a
//! form with a redirect (303). Handlers call the API through the session's SDK client and turn
//! its refusals into messages on the page; [`Failure`] is what they give up with, and
//! [`from_error`] the one place that turns it into a page.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod info;
pub(crate) mod market;
pub(crate) mod recovery;
pub(crate) mod settings;
pub(crate) mod trade;
pub(crate) mod wallet;

use std::fmt;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

use crate::assets;
use crate::guard::Ctx;
use crate::i18n::Tr;
use pupero_sdk::ErrorCode;

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The page needs a signed-in user.
    SignIn,
    /// Nothing here.
    NotFound,
    /// The API refused or failed.
    Api(pupero_sdk::Error),
    /// A template did not render.
    Render(askama::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::SignIn => f.write_str("sign in first"),
            Failure::NotFound => f.write_str("not found"),
            Failure::Api(e) => write!(f, "API: {e}"),
            Failure::Render(e) => write!(f, "template: {e}"),
        }
    }
}

impl std::error::Error for Failure {}

impl poem::error::ResponseError for Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::SignIn => StatusCode::SEE_OTHER,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Api(e) => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY),
            Failure::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<pupero_sdk::Error> for Failure {
    fn from(e: pupero_sdk::Error) -> Failure {
        Failure::Api(e)
    }
}

/// A handler's outcome.
pub(crate) type PageResult = Result<Response, Failure>;

/// What every page shows around its content: header, navigation, language switch, footer.
pub(crate) struct Chrome {
    /// The translator.
    pub(crate) t: Tr,
    /// The CSRF token for the page's forms.
    pub(crate) csrf: String,
    /// The signed-in user.
    pub(crate) user: Option<String>,
    /// Whether the signed-in user moderates (the disputes link).
    pub(crate) moderator: bool,
    /// Whether the signed-in user administers (the admin links).
    pub(crate) admin: bool,
    /// The stylesheet's path.
    pub(crate) css: &'static str,
    /// The script's path.
    pub(crate) js: &'static str,
    /// The current path, URL-encoded, for the language switch to come back to.
    pub(crate) here: String,
    /// A message from the previous step.
    pub(crate) flash: Option<String>,
    /// The page's title.
    pub(crate) title: String,
}

impl Chrome {
    /// The chrome of a page titled by message `title`, showing the message left for it.
    pub(crate) fn new(ctx: &Ctx, title: &str) -> Chrome {
        Chrome::build(ctx, title, true)
    }

    /// The chrome of an error page. It leaves the message for the next page: a request the
    /// browser makes on its own (an icon, a prefetch) must not swallow what a form's redirect
    /// left for the page it goes to.
    pub(crate) fn for_error(ctx: &Ctx) -> Chrome {
        Chrome::build(ctx, "error-title", false)
    }

    fn build(ctx: &Ctx, title: &str, take_flash: bool) -> Chrome {
        let (user, moderator, admin, flash) = {
            let mut data = ctx.session.data();
            let signed_in = ctx.session.client.is_logged_in();
            let staff = matches!(
                data.role,
                Some(pupero_sdk::Role::Moderator | pupero_sdk::Role::Admin)
            );
            (
                data.username.clone().filter(|_| signed_in),
                staff && signed_in,
                data.role == Some(pupero_sdk::Role::Admin) && signed_in,
                if take_flash { data.flash.take() } else { None },
            )
        };
        Chrome {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            user,
            moderator,
            admin,
            css: &assets::APP_CSS.path,
            js: &assets::APP_JS.path,
            here: urlencode(&ctx.path),
            flash: flash.map(|key| ctx.t.t(key)),
            title: ctx.t.t(title),
        }
    }
}

/// The page of a template. Rendered here, not by askama_web's responder, so that a failure
/// reaches the one error path ([`from_error`]) in the request's language.
pub(crate) fn render(template: impl Template) -> PageResult {
    let html = template.render().map_err(Failure::Render)?;
    Ok(poem::web::Html(html).into_response())
}

/// `303 See Other` to `to`: the answer to every form.
pub(crate) fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .finish()
}

/// As [`redirect`], with a message shown on the next page.
pub(crate) fn redirect_with(ctx: &Ctx, to: &str, flash: &'static str) -> Response {
    ctx.session.data().flash = Some(flash);
    redirect(to)
}

/// A local path to return to; anything else (another host, `//host`, `/\host`) is the market.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n']) =>
        {
            n.to_owned()
        }
        _ => "/market".to_owned(),
    }
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A fresh idempotency key for a money form: one per rendering, so that a double click or a
/// refresh of the answer never acts twice.
pub(crate) fn idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Length of an authenticator app's code.
pub(crate) const TOTP_DIGITS: usize = 6;

/// The second factor typed: six digits are the app's code, anything else a recovery code,
/// nothing none.
pub(crate) fn second_factor(code: &str) -> Option<pupero_sdk::SecondFactor<'_>> {
    match code.len() {
        0 => None,
        TOTP_DIGITS if code.bytes().all(|b| b.is_ascii_digit()) => {
            Some(pupero_sdk::SecondFactor::Code(code))
        }
        _ => Some(pupero_sdk::SecondFactor::RecoveryCode(code)),
    }
}

/// The message of an API refusal, for the page that asked: the message of its code when the
/// site has one, else a general one. The API's English text is never shown as is.
pub(crate) fn api_message(t: Tr, error: &pupero_sdk::Error) -> String {
    match error.error_code() {
        Some(code) if API_CODES_WITH_MESSAGES.contains(&code) => t.t(&api_key(code)),
        _ if error.is_validation() => t.t("api-validation"),
        _ if error.is_transport() || error.is_server_error() => t.t("error-unavailable"),
        _ => t.t("api-refused"),
    }
}

/// The message of an API error code: `api-` and the code in lower case with dashes.
pub(crate) fn api_key(code: ErrorCode) -> String {
    format!(
        "api-{}",
        code.as_str().to_ascii_lowercase().replace('_', "-")
    )
}

/// The API's refusals the site explains in its own words, each with a message [`api_key`].
pub(crate) const API_CODES_WITH_MESSAGES: &[ErrorCode] = &[
    ErrorCode::InvalidCredentials,
    ErrorCode::AccountDisabled,
    ErrorCode::UsernameTaken,
    ErrorCode::EmailTaken,
    ErrorCode::RateLimited,
    ErrorCode::PasswordRequired,
    ErrorCode::TotpRequired,
    ErrorCode::InvalidTotp,
    ErrorCode::TotpAlreadyEnabled,
    ErrorCode::OfferLimit,
    ErrorCode::OfferUnavailable,
    ErrorCode::PriceUnavailable,
    ErrorCode::PriceChanged,
    ErrorCode::TradeLimit,
    ErrorCode::InsufficientFunds,
    ErrorCode::SelfTrade,
    ErrorCode::InvalidTransition,
    ErrorCode::TooEarly,
    ErrorCode::WrongParty,
    ErrorCode::TradeChanged,
    ErrorCode::InvalidAddress,
    ErrorCode::WalletUnavailable,
    ErrorCode::ChatClosed,
    ErrorCode::FeedbackExists,
    ErrorCode::FeedbackNotAllowed,
    ErrorCode::InvalidToken,
    ErrorCode::AccountHasFunds,
    ErrorCode::ApiKeyLimit,
    ErrorCode::TotpNotEnabled,
    ErrorCode::OfferState,
];

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    message: String,
}

/// The page for a refused or failed request.
pub(crate) fn error_page(ctx: &Ctx, status: StatusCode, message_key: &str) -> Response {
    let c = Chrome::for_error(ctx);
    let message = ctx.t.t(message_key);
    let page = ErrorPage { c, message };
    match page.render() {
        Ok(html) => (status, poem::web::Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response()
        }
    }
}

/// The page for an error a handler gave up with.
pub(crate) fn from_error(ctx: &Ctx, error: poem::Error) -> Response {
    let Some(failure) = error.downcast_ref::<Failure>() else {
        let status = error.status();
        let key = if status == StatusCode::NOT_FOUND {
            "error-not-found"
        } else if status.is_client_error() {
            "error-bad-request"
        } else {
            tracing::error!(%error, "request failed");
            "error-unavailable"
        };
        return error_page(ctx, status, key);
    };
    match failure {
        Failure::SignIn => redirect(&format!("/login?next={}", urlencode(&ctx.path))),
        Failure::NotFound => error_page(ctx, StatusCode::NOT_FOUND, "error-not-found"),
        Failure::Render(e) => {
            tracing::error!(error = %e, "template did not render");
            error_page(ctx, StatusCode::INTERNAL_SERVER_ERROR, "error-unavailable")
        }
        Failure::Api(e) if e.is_unauthorized() => {
            // The API no longer takes this session's tokens: sign in again.
            ctx.session.data().username = None;
            redirect(&format!("/login?next={}", urlencode(&ctx.path)))
        }
        Failure::Api(e) if e.is_not_found() => {
            error_page(ctx, StatusCode::NOT_FOUND, "error-not-found")
        }
        Failure::Api(e) if e.is_forbidden() => {
            error_page(ctx, StatusCode::FORBIDDEN, "error-forbidden")
        }
        Failure::Api(e) => {
            if e.is_transport() || e.is_server_error() {
                tracing::error!(error = %e, "API call failed");
            }
            let status = e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(|s| s.is_client_error())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let c = Chrome::for_error(ctx);
            let page = ErrorPage {
                c,
                message: api_message(ctx.t, e),
            };
            match page.render() {
                Ok(html) => (status, poem::web::Html(html)).into_response(),
                Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response(),
            }
        }
    }
}

/// `/static/app.<hash>.css` and `.js`: a year in every cache.
#[handler]
pub(crate) fn static_file(Path(name): Path<String>) -> Response {
    match assets::find(&format!("/static/{name}")) {
        Some(asset) => Response::builder()
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .body(asset.body),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
