//! What every request passes through, in one place: the session cookie, the language, the
//! cross-site checks on every unsafe method (`Sec-Fetch-Site`, `Origin`, and the CSRF token of
//! the form), the security headers on every response, and error pages in place of bare errors.
//! One request skips the session and the cross-site checks: a browser's `POST /csp-report`.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response};
use sha2::Sha256;

use crate::Web;
use crate::i18n::{LANG_COOKIE, Locale, Tr};
use crate::pages::{self, Failure};
use crate::session::{SessionId, WebSession};

/// The CSRF token's field in every form.
pub(crate) const CSRF_FIELD: &str = "_csrf";

/// Largest form body read: the longest form (an offer's terms, 2000 characters, escaped up to
/// three bytes each) fits several times over.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// `Content-Security-Policy` of every response: nothing inline, nothing from elsewhere, and
/// whatever a page tries against it reported to [`crate::csp`]'s endpoint.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; \
report-uri /csp-report";

/// Who asks, in what language, with which session: every page handler's first argument.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// The session's id.
    pub(crate) sid: SessionId,
    /// The session.
    pub(crate) session: Arc<WebSession>,
    /// The page's language.
    pub(crate) t: Tr,
    /// The token to put in this page's forms.
    pub(crate) csrf: String,
    /// The path and query asked for (where the language switch returns to).
    pub(crate) path: String,
    /// The application.
    pub(crate) web: Arc<Web>,
    /// The browser's address, passed to the API for its rate limits and audit log.
    pub(crate) peer: Option<std::net::IpAddr>,
}

impl<'a> FromRequest<'a> for Ctx {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Ctx> {
        req.extensions()
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| Failure::NotFound.into())
    }
}

impl Ctx {
    /// The signed-in user's client, or a redirect to the login page.
    pub(crate) fn client(&self) -> Result<pupero_sdk::Client, Failure> {
        if self.session.is_signed_in() {
            Ok(self.forwarding(&self.session.client))
        } else {
            Err(Failure::SignIn)
        }
    }

    /// A client without a session, for public calls.
    pub(crate) fn public(&self) -> pupero_sdk::Client {
        self.forwarding(&self.web.api)
    }

    /// A client with a session of its own, for logging in.
    pub(crate) fn fresh(&self) -> pupero_sdk::Client {
        self.forwarding(&self.web.api.new_session())
    }

    /// `client` telling the API whom it acts for (believed only where the API trusts the site).
    fn forwarding(&self, client: &pupero_sdk::Client) -> pupero_sdk::Client {
        match self.peer {
            Some(address) => client.forwarding_for(address),
            None => client.clone(),
        }
    }

    /// The `Set-Cookie` value that makes `id` this browser's session.
    pub(crate) fn session_cookie(&self, id: &SessionId) -> String {
        session_cookie(&self.web.config, Some(id))
    }
}

fn cookie_name(config: &crate::WebConfig) -> &'static str {
    if config.insecure_dev_cookies {
        "pupero_sid"
    } else {
        // `__Host-`: only set by this host over HTTPS, path `/`, no Domain.
        "__Host-pupero_sid"
    }
}

/// The session cookie for `id`, or one that deletes it.
pub(crate) fn session_cookie(config: &crate::WebConfig, id: Option<&SessionId>) -> String {
    let secure = if config.insecure_dev_cookies {
        ""
    } else {
        "; Secure"
    };
    let name = cookie_name(config);
    match id {
        Some(id) => format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
            id.to_hex()
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// `HMAC-SHA256(key, session id)`, hex: the session's CSRF token.
pub(crate) fn csrf_token(key: &[u8; 32], sid: &SessionId) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(sid.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn csrf_matches(key: &[u8; 32], sid: &SessionId, given: &str) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(sid.as_bytes());
    let Some(bytes) = hex_bytes(given) else {
        return false;
    };
    // Constant time.
    mac.verify_slice(&bytes).is_ok()
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether an unsafe request comes from this site's own pages: not `Sec-Fetch-Site:
/// cross-site`/`same-site`, and an `Origin`, when it names one, of this host or a configured
/// origin. Under `Referrer-Policy: no-referrer` browsers send `Origin: null` with the site's
/// own form posts, so `null` says nothing; the CSRF token still has to match.
fn same_origin(req: &Request, config: &crate::WebConfig) -> bool {
    let fetch_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" || config.origins.iter().any(|o| o == origin) {
        return true;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// The value of `field` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], field: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == field)
        .map(|(_, value)| value.to_owned())
}

/// Runs `next` for a request with the session, language and checks of this module.
pub(crate) async fn guard<E: Endpoint>(
    web: Arc<Web>,
    next: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    if req.uri().path().starts_with("/static/") {
        return Ok(secure(next.call(req).await.into_response_or_error(), false));
    }
    // A browser's report of what the policy blocked: sent by the browser itself, with no form,
    // token or session to check, and no session to start. Exactly this path, for POST alone.
    if req.method() == Method::POST && req.uri().path() == crate::csp::CSP_REPORT_PATH {
        req.extensions_mut().insert(web.clone());
        return Ok(secure(next.call(req).await.into_response_or_error(), false));
    }
    let existing = cookie(&req, cookie_name(&web.config))
        .and_then(SessionId::parse)
        .and_then(|id| web.sessions.get(&id).map(|s| (id, s)));
    let (sid, session, is_new) = match existing {
        Some((id, session)) => (id, session, false),
        None => {
            let id = SessionId::random();
            let session = Arc::new(WebSession::new(web.api.new_session()));
            (id, session, true)
        }
    };
    session.touch();
    let locale = Locale::negotiate(
        cookie(&req, LANG_COOKIE),
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let ctx = Ctx {
        csrf: csrf_token(&web.config.csrf_key, &sid),
        sid: sid.clone(),
        session: session.clone(),
        t: Tr::new(locale),
        path,
        web: web.clone(),
        peer: req.remote_addr().as_socket_addr().map(|a| a.ip()),
    };
    let signed_in = session.is_signed_in();

    let refusal = if req.method() == Method::GET || req.method() == Method::HEAD {
        None
    } else if !same_origin(&req, &web.config) {
        Some("error-cross-site")
    } else {
        let body = req.take_body().into_bytes_limit(MAX_FORM_BYTES).await;
        match body {
            Ok(bytes) => {
                let valid = form_field(&bytes, CSRF_FIELD)
                    .is_some_and(|token| csrf_matches(&web.config.csrf_key, &sid, &token));
                req.set_body(bytes);
                (!valid).then_some("error-csrf")
            }
            Err(_) => Some("error-too-large"),
        }
    };

    let response = match refusal {
        Some(reason) => {
            tracing::info!(reason, "unsafe request refused");
            let status = if reason == "error-too-large" {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::FORBIDDEN
            };
            pages::error_page(&ctx, status, reason)
        }
        None => {
            req.extensions_mut().insert(ctx.clone());
            match next.call(req).await {
                Ok(response) => response.into_response(),
                Err(error) => pages::from_error(&ctx, error),
            }
        }
    };
    let mut response = secure(response, signed_in || session.is_signed_in());
    if is_new {
        web.sessions.insert(sid.clone(), session);
        let has_cookie = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| {
                v.as_bytes()
                    .starts_with(cookie_name(&web.config).as_bytes())
            });
        if !has_cookie
            && let Ok(value) = HeaderValue::from_str(&session_cookie(&web.config, Some(&sid)))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

trait OrError {
    fn into_response_or_error(self) -> Response;
}

impl<T: IntoResponse> OrError for poem::Result<T> {
    fn into_response_or_error(self) -> Response {
        match self {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Adds the security headers; `no-store` when the page belongs to a signed-in user.
fn secure(mut response: Response, signed_in: bool) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        let value = if signed_in {
            "no-store"
        } else {
            "private, no-cache"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let key = [7u8; 32];
        let sid = SessionId::random();
        let token = csrf_token(&key, &sid);
        assert!(csrf_matches(&key, &sid, &token));
        assert!(!csrf_matches(&key, &SessionId::random(), &token));
        assert!(!csrf_matches(&[8u8; 32], &sid, &token));
        assert!(!csrf_matches(&key, &sid, ""));
        assert!(!csrf_matches(&key, &sid, &token[..62]));
    }

    #[test]
    fn form_fields_are_found_by_exact_name() {
        let body = b"a=1&_csrf=abc&_csrfx=no";
        assert_eq!(form_field(body, "_csrf").as_deref(), Some("abc"));
        assert_eq!(form_field(body, "b"), None);
    }
}
