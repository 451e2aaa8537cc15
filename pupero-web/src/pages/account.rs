//! Registering, logging in (password, then the second factor), logging out, the language
//! switch, settings (password, 2FA), notifications and public profiles.

use std::sync::Arc;

use askama::Template;
use poem::http::header;
use poem::web::{Form, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::{
    Chrome, Failure, PageResult, TOTP_DIGITS, api_message, redirect, redirect_with, render,
    safe_next,
};
use crate::format;
use crate::guard::Ctx;
use crate::i18n::{LANG_COOKIE, Locale};
use crate::session::{PendingLogin, SessionId, WebSession};

/// How long the language cookie lasts: a year, renewed by every switch.
const LANG_COOKIE_MAX_AGE_SECS: u64 = 365 * 24 * 3600;

/// Notifications per page.
const NOTIFICATIONS_PER_PAGE: u32 = 50;

/// Feedback entries on a profile.
const FEEDBACK_PER_PROFILE: u32 = 20;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    error: Option<String>,
    login: String,
    next: String,
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[handler]
pub(crate) fn login_page(ctx: Ctx, Query(q): Query<NextQuery>) -> PageResult {
    render(LoginPage {
        c: Chrome::new(&ctx, "login-title"),
        error: None,
        login: String::new(),
        next: safe_next(q.next.as_deref()),
    })
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

/// The password: signs in, or keeps it on the server while the second factor is asked.
#[handler]
pub(crate) async fn login(ctx: Ctx, Form(form): Form<LoginForm>) -> PageResult {
    let next = safe_next(form.next.as_deref());
    let client = ctx.fresh();
    match client.login(form.login.trim(), &form.password).await {
        Ok(_) => signed_in(&ctx, client, &next).await,
        Err(e) if e.is_totp_required() => {
            ctx.session.data().pending_login = Some(PendingLogin::new(
                form.login.trim().to_owned(),
                form.password,
                next,
            ));
            Ok(redirect("/login/2fa"))
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(LoginPage {
            c: Chrome::new(&ctx, "login-title"),
            error: Some(api_message(ctx.t, &e)),
            login: form.login,
            next,
        }),
    }
}

/// A new session for the signed-in `client` (a new id: the visitor's old one may be known to
/// someone else), and the way to `next`.
async fn signed_in(ctx: &Ctx, client: pupero_sdk::Client, next: &str) -> PageResult {
    let me = client.me().await?;
    let session = Arc::new(WebSession::new(client));
    {
        let mut data = session.data();
        data.username = Some(me.username);
        data.role = Some(me.role);
    }
    let id = SessionId::random();
    ctx.web.sessions.insert(id.clone(), session);
    ctx.web.sessions.remove(&ctx.sid);
    let mut response = redirect(next);
    if let Ok(value) = ctx.session_cookie(&id).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage {
    c: Chrome,
    error: Option<String>,
}

/// The second stage of a login: the code.
#[handler]
pub(crate) fn second_factor_page(ctx: Ctx) -> PageResult {
    let waiting = ctx
        .session
        .data()
        .pending_login
        .as_ref()
        .is_some_and(PendingLogin::is_fresh);
    if !waiting {
        return Ok(redirect("/login"));
    }
    render(SecondFactorPage {
        c: Chrome::new(&ctx, "login-2fa-title"),
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

/// Finishes a login with a 2FA code or a recovery code.
#[handler]
pub(crate) async fn second_factor(ctx: Ctx, Form(form): Form<CodeForm>) -> PageResult {
    let pending = ctx.session.data().pending_login.take();
    let Some(pending) = pending.filter(PendingLogin::is_fresh) else {
        return Ok(redirect_with(&ctx, "/login", "login-expired"));
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let client = ctx.fresh();
    let result = if code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        client
            .login_with_totp(&pending.login, &pending.password, &code)
            .await
    } else {
        client
            .login_with_recovery_code(&pending.login, &pending.password, &code)
            .await
    };
    match result {
        Ok(_) => signed_in(&ctx, client, &pending.next).await,
        Err(e) if e.is_invalid_totp() => {
            // The password stays for another try, within its time.
            ctx.session.data().pending_login = Some(pending);
            render(SecondFactorPage {
                c: Chrome::new(&ctx, "login-2fa-title"),
                error: Some(api_message(ctx.t, &e)),
            })
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(LoginPage {
            c: Chrome::new(&ctx, "login-title"),
            error: Some(api_message(ctx.t, &e)),
            login: pending.login,
            next: pending.next,
        }),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    c: Chrome,
    error: Option<String>,
    username: String,
    email: String,
}

/// The registration form.
#[handler]
pub(crate) fn register_page(ctx: Ctx) -> PageResult {
    render(RegisterPage {
        c: Chrome::new(&ctx, "register-title"),
        error: None,
        username: String::new(),
        email: String::new(),
    })
}

#[derive(Deserialize)]
pub(crate) struct RegisterForm {
    username: String,
    email: Option<String>,
    password: String,
}

/// Creates the account and signs in.
#[handler]
pub(crate) async fn register(ctx: Ctx, Form(form): Form<RegisterForm>) -> PageResult {
    let username = form.username.trim();
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let client = ctx.fresh();
    let outcome = match client.register(username, email, &form.password).await {
        Ok(_) => client.login(username, &form.password).await.map(drop),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            ctx.session.data().flash = None;
            let response = signed_in(&ctx, client, "/market").await?;
            Ok(response)
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(RegisterPage {
            c: Chrome::new(&ctx, "register-title"),
            error: Some(api_message(ctx.t, &e)),
            username: form.username,
            email: form.email.unwrap_or_default(),
        }),
    }
}

/// Ends the session here and at the API.
#[handler]
pub(crate) async fn logout(ctx: Ctx) -> Response {
    if let Ok(client) = ctx.client()
        && let Err(e) = client.logout().await
    {
        tracing::info!(error = %e, "logout at the API failed; the session ends here anyway");
    }
    ctx.web.sessions.remove(&ctx.sid);
    let mut response = redirect("/market");
    if let Ok(value) = crate::guard::session_cookie(&ctx.web.config, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The language switch: a cookie, then back where the visitor was.
#[handler]
pub(crate) fn language(
    Path(tag): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, Failure> {
    let locale = Locale::from_tag(&tag).ok_or(Failure::NotFound)?;
    let mut response = redirect(&safe_next(q.next.as_deref()));
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age={LANG_COOKIE_MAX_AGE_SECS}; SameSite=Lax",
        locale.tag()
    );
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    username: String,
    email: String,
    totp_enabled: bool,
    recovery_left: u64,
    sessions: Vec<SessionRow>,
    error: Option<String>,
}

/// A line of the settings' list of sessions.
struct SessionRow {
    id: uuid::Uuid,
    started: String,
    started_iso: String,
    last_active: String,
    last_active_iso: String,
    from: String,
    current: bool,
}

async fn settings_page(ctx: &Ctx, error: Option<String>) -> PageResult {
    let client = ctx.client()?;
    let (me, totp, sessions) =
        tokio::try_join!(client.me(), client.totp_status(), client.my_sessions())?;
    let unknown = ctx.t.t("sessions-from-unknown");
    render(SettingsPage {
        c: Chrome::new(ctx, "settings-title"),
        username: me.username,
        email: me.email.unwrap_or_else(|| "—".to_owned()),
        totp_enabled: totp.enabled,
        recovery_left: u64::from(totp.recovery_codes_left),
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id,
                started: format::utc(s.created_at_ms),
                started_iso: format::iso(s.created_at_ms),
                last_active: format::utc(s.last_active_at_ms),
                last_active_iso: format::iso(s.last_active_at_ms),
                from: s.client_ip.unwrap_or_else(|| unknown.clone()),
                current: s.current,
            })
            .collect(),
        error,
    })
}

/// Ends another session of the account (a forgotten computer, a lost phone).
#[handler]
pub(crate) async fn end_session(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| Failure::NotFound)?;
    let client = ctx.client()?;
    match client.end_session(id).await {
        Ok(()) => Ok(redirect_with(&ctx, "/settings", "sessions-ended")),
        // Ended meanwhile, or never one of this account's: the list shows what is left.
        Err(e) if e.is_not_found() => Ok(redirect("/settings")),
        Err(e) => Err(e.into()),
    }
}

/// Logs out everywhere: every session of the account, this one included, and every API key.
#[handler]
pub(crate) async fn logout_everywhere(ctx: Ctx) -> PageResult {
    ctx.client()?.logout_everywhere().await?;
    ctx.web.sessions.remove(&ctx.sid);
    let mut response = redirect("/login");
    if let Ok(value) = crate::guard::session_cookie(&ctx.web.config, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Account settings.
#[handler]
pub(crate) async fn show_settings(ctx: Ctx) -> PageResult {
    settings_page(&ctx, None).await
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    current: String,
    new: String,
}

/// Changes the password.
#[handler]
pub(crate) async fn change_password(ctx: Ctx, Form(form): Form<PasswordForm>) -> PageResult {
    let client = ctx.client()?;
    match client.change_password(&form.current, &form.new).await {
        Ok(()) => Ok(redirect_with(
            &ctx,
            "/settings",
            "settings-password-changed",
        )),
        // A session the API no longer takes goes to the login page; any other refusal (a
        // wrong current password, a weak new one) is said on the form.
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) if e.is_unauthorized() && e.code() != Some("INVALID_CREDENTIALS") => Err(e.into()),
        Err(e) => settings_page(&ctx, Some(api_message(ctx.t, &e))).await,
    }
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct TotpSetupPage {
    c: Chrome,
    qr: Option<String>,
    secret: String,
    uri: String,
    error: Option<String>,
}

async fn totp_setup_page(ctx: &Ctx, error: Option<String>) -> PageResult {
    let client = ctx.client()?;
    if client.totp_status().await?.enabled {
        return Ok(redirect("/settings"));
    }
    let setup = client.totp_setup().await?;
    render(TotpSetupPage {
        c: Chrome::new(ctx, "totp-title"),
        qr: crate::qr::data_url(&setup.otpauth_uri),
        secret: setup.secret,
        uri: setup.otpauth_uri,
        error,
    })
}

/// Starts turning 2FA on: the secret as a QR code and as text.
#[handler]
pub(crate) async fn totp_setup(ctx: Ctx) -> PageResult {
    totp_setup_page(&ctx, None).await
}

#[derive(Deserialize)]
pub(crate) struct TotpConfirmForm {
    password: String,
    code: String,
}

/// Turns 2FA on; the recovery codes are shown on the next page, once.
#[handler]
pub(crate) async fn totp_confirm(ctx: Ctx, Form(form): Form<TotpConfirmForm>) -> PageResult {
    let client = ctx.client()?;
    match client.totp_confirm(&form.password, form.code.trim()).await {
        Ok(codes) => {
            ctx.session.data().recovery_codes = Some(codes.recovery_codes);
            Ok(redirect("/settings/2fa/codes"))
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        // A new secret with the message: the code was for the one shown before.
        Err(e) => totp_setup_page(&ctx, Some(api_message(ctx.t, &e))).await,
    }
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    c: Chrome,
    codes: Vec<String>,
}

/// The recovery codes, right after 2FA was turned on; never again.
#[handler]
pub(crate) fn recovery_codes(ctx: Ctx) -> PageResult {
    ctx.client()?;
    let codes = ctx.session.data().recovery_codes.take();
    match codes {
        Some(codes) => render(RecoveryCodesPage {
            c: Chrome::new(&ctx, "codes-title"),
            codes,
        }),
        None => Ok(redirect("/settings")),
    }
}

struct Notification {
    iso: String,
    when: String,
    text: String,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    c: Chrome,
    items: Vec<Notification>,
    next: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct AfterQuery {
    after: Option<u64>,
}

/// The user's events, oldest first from `after`.
#[handler]
pub(crate) async fn notifications(ctx: Ctx, Query(q): Query<AfterQuery>) -> PageResult {
    let client = ctx.client()?;
    let page = client
        .events(q.after.unwrap_or(0), Some(NOTIFICATIONS_PER_PAGE))
        .await?;
    let items = page
        .items
        .iter()
        .map(|e| Notification {
            iso: format::iso(e.created_at_ms),
            when: format::utc(e.created_at_ms),
            text: ctx
                .t
                .t(&format!("event-{}", e.kind.as_str().replace('_', "-"))),
            link: e.trade_id.map(|id| format!("/trades/{id}")),
        })
        .collect();
    render(NotificationsPage {
        c: Chrome::new(&ctx, "notifications-title"),
        items,
        next: page.has_more.then_some(page.next),
    })
}

struct FeedbackLine {
    rating: String,
    author: String,
    comment: String,
    iso: String,
    when: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    c: Chrome,
    username: String,
    since: String,
    since_iso: String,
    trades: u64,
    volume: String,
    score: String,
    feedback_counts: String,
    feedback: Vec<FeedbackLine>,
}

/// A user's public profile.
#[handler]
pub(crate) async fn show_profile(ctx: Ctx, Path(username): Path<String>) -> PageResult {
    let api = ctx.public();
    let (profile, feedback) = tokio::try_join!(
        api.public_profile(&username),
        api.user_feedback(&username, Some(FEEDBACK_PER_PROFILE), None)
    )?;
    let t = ctx.t;
    let counts = &profile.stats.feedback;
    let mut c = Chrome::new(&ctx, "profile-title");
    c.title = profile.username.clone();
    render(ProfilePage {
        c,
        since: format::utc(profile.created_at_ms),
        since_iso: format::iso(profile.created_at_ms),
        trades: profile.stats.completed_trades,
        volume: format::xmr_unit(profile.stats.volume, t.locale),
        score: profile
            .stats
            .score_percent
            .map_or_else(|| "—".to_owned(), |s| format!("{s} %")),
        feedback_counts: t.a(
            "profile-feedback-counts",
            &[
                ("positive", &counts.positive.to_string()),
                ("neutral", &counts.neutral.to_string()),
                ("negative", &counts.negative.to_string()),
            ],
        ),
        feedback: feedback
            .items
            .into_iter()
            .map(|f| FeedbackLine {
                rating: t.t(&format!("rating-{}", f.rating.as_str())),
                author: f.author,
                comment: f.comment,
                iso: format::iso(f.created_at_ms),
                when: format::utc(f.created_at_ms),
            })
            .collect(),
        username: profile.username,
    })
}
