//! Password reset: asking for a link (the API mails it to the account's verified address and
//! answers the same whether or not the account exists), then a new password with the link's
//! token and, when 2FA is on, a code.

use askama::Template;
use poem::handler;
use poem::web::{Form, Query};
use serde::Deserialize;

use super::{Chrome, PageResult, api_message, redirect_with, render, second_factor};
use crate::guard::Ctx;

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetRequestPage {
    c: Chrome,
    error: Option<String>,
}

/// The form asking for a reset link.
#[handler]
pub(crate) fn request_page(ctx: Ctx) -> PageResult {
    render(ResetRequestPage {
        c: Chrome::new(&ctx, "reset-title"),
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct RequestForm {
    login: String,
}

/// Asks the API for a link; the answer says the same whatever the account.
#[handler]
pub(crate) async fn request(ctx: Ctx, Form(form): Form<RequestForm>) -> PageResult {
    match ctx.public().request_password_reset(form.login.trim()).await {
        Ok(()) => Ok(redirect_with(&ctx, "/login", "reset-sent")),
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(ResetRequestPage {
            c: Chrome::new(&ctx, "reset-title"),
            error: Some(api_message(ctx.t, &e)),
        }),
    }
}

#[derive(Template)]
#[template(path = "password_reset_confirm.html")]
struct ResetConfirmPage {
    c: Chrome,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The page of the mailed link: a new password.
#[handler]
pub(crate) fn confirm_page(ctx: Ctx, Query(q): Query<TokenQuery>) -> PageResult {
    render(ResetConfirmPage {
        c: Chrome::new(&ctx, "reset-confirm-title"),
        token: q.token,
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    token: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// Sets the new password; every session and API key of the account ends, so to the login.
#[handler]
pub(crate) async fn confirm(ctx: Ctx, Form(form): Form<ConfirmForm>) -> PageResult {
    let code: String = form.code.split_whitespace().collect();
    let result = ctx
        .public()
        .confirm_password_reset(form.token.trim(), &form.password, second_factor(&code))
        .await;
    match result {
        Ok(()) => Ok(redirect_with(&ctx, "/login", "reset-done")),
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(ResetConfirmPage {
            c: Chrome::new(&ctx, "reset-confirm-title"),
            token: form.token,
            error: Some(api_message(ctx.t, &e)),
        }),
    }
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailPage {
    c: Chrome,
    token: String,
    error: Option<String>,
}

/// The page of the mailed verification link. Confirming is a button, not the visit itself, so
/// that a mail scanner opening links does not verify an address its owner never read.
#[handler]
pub(crate) fn verify_email_page(ctx: Ctx, Query(q): Query<TokenQuery>) -> PageResult {
    render(VerifyEmailPage {
        c: Chrome::new(&ctx, "verify-title"),
        token: q.token,
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    token: String,
}

/// Confirms the address the link was sent to.
#[handler]
pub(crate) async fn verify_email(ctx: Ctx, Form(form): Form<VerifyForm>) -> PageResult {
    match ctx.public().verify_email(form.token.trim()).await {
        Ok(()) => {
            let to = if ctx.session.is_signed_in() {
                "/settings"
            } else {
                "/login"
            };
            Ok(redirect_with(&ctx, to, "verify-done"))
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => render(VerifyEmailPage {
            c: Chrome::new(&ctx, "verify-title"),
            token: form.token,
            error: Some(api_message(ctx.t, &e)),
        }),
    }
}
