//! The parts of settings that guard the account: API keys (made with scopes and shown once,
//! listed, revoked), turning 2FA off, and deleting the account.

use askama::Template;
use poem::http::header;
use poem::web::{Form, Path};
use poem::{Response, handler};
use pupero_sdk::Scope;
use serde::Deserialize;

use super::{
    Chrome, Failure, PageResult, api_message, redirect, redirect_with, render, second_factor,
};
use crate::format;
use crate::guard::Ctx;
use crate::session::NewKey;

/// Longest label of an API key the form takes: the API's own bound.
const KEY_NAME_MAX_CHARS: usize = 64;

/// One key as listed.
struct KeyLine {
    id: String,
    name: String,
    prefix: String,
    scopes: String,
    iso: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ApiKeysPage {
    c: Chrome,
    keys: Vec<KeyLine>,
    totp_enabled: bool,
    error: Option<String>,
    name: String,
}

async fn api_keys_page(ctx: &Ctx, error: Option<String>, name: String) -> PageResult {
    let client = ctx.client()?;
    let (keys, totp) = tokio::try_join!(client.list_api_keys(), client.totp_status())?;
    let t = ctx.t;
    let keys = keys
        .into_iter()
        .map(|k| KeyLine {
            id: k.id.to_string(),
            scopes: k
                .scopes
                .iter()
                .map(|s| t.t(&format!("scope-{}", s.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
            iso: format::iso(k.created_at_ms),
            created: format::utc(k.created_at_ms),
            last_used: k
                .last_used_at_ms
                .map_or_else(|| t.t("api-keys-never-used"), format::utc),
            revoked: k.revoked,
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    render(ApiKeysPage {
        c: Chrome::new(ctx, "api-keys-title"),
        keys,
        totp_enabled: totp.enabled,
        error,
        name,
    })
}

/// The user's API keys and the form to make one.
#[handler]
pub(crate) async fn api_keys(ctx: Ctx) -> PageResult {
    api_keys_page(&ctx, None, String::new()).await
}

#[derive(Deserialize)]
pub(crate) struct NewKeyForm {
    name: String,
    scope_read: Option<String>,
    scope_trade: Option<String>,
    scope_withdraw: Option<String>,
    password: String,
    #[serde(default)]
    code: String,
}

/// Makes a key; it is shown on the next page, once.
#[handler]
pub(crate) async fn create_api_key(ctx: Ctx, Form(form): Form<NewKeyForm>) -> PageResult {
    let client = ctx.client()?;
    let name = form.name.trim();
    let scopes: Vec<Scope> = [
        (&form.scope_read, Scope::Read),
        (&form.scope_trade, Scope::Trade),
        (&form.scope_withdraw, Scope::Withdraw),
    ]
    .into_iter()
    .filter(|(ticked, _)| ticked.is_some())
    .map(|(_, scope)| scope)
    .collect();
    if name.is_empty() || name.chars().count() > KEY_NAME_MAX_CHARS || scopes.is_empty() {
        let error = Some(ctx.t.t("api-keys-bad-form"));
        return api_keys_page(&ctx, error, form.name).await;
    }
    let code: String = form.code.split_whitespace().collect();
    match client
        .create_api_key(name, &scopes, &form.password, second_factor(&code))
        .await
    {
        Ok(created) => {
            ctx.session.data().new_api_key = Some(NewKey {
                name: created.name,
                key: created.key,
            });
            Ok(redirect("/settings/api-keys/new"))
        }
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) if e.is_unauthorized() && e.code() != Some("INVALID_CREDENTIALS") => Err(e.into()),
        Err(e) => api_keys_page(&ctx, Some(api_message(ctx.t, &e)), form.name).await,
    }
}

#[derive(Template)]
#[template(path = "api_key_created.html")]
struct ApiKeyCreatedPage {
    c: Chrome,
    name: String,
    key: String,
}

/// The key just made, this once.
#[handler]
pub(crate) fn api_key_created(ctx: Ctx) -> PageResult {
    ctx.client()?;
    let key = ctx.session.data().new_api_key.take();
    match key {
        Some(NewKey { name, key }) => render(ApiKeyCreatedPage {
            c: Chrome::new(&ctx, "api-key-created-title"),
            name,
            key,
        }),
        None => Ok(redirect("/settings/api-keys")),
    }
}

/// Revokes a key.
#[handler]
pub(crate) async fn revoke_api_key(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| Failure::NotFound)?;
    ctx.client()?.revoke_api_key(id).await?;
    Ok(redirect_with(&ctx, "/settings/api-keys", "api-key-revoked"))
}

#[derive(Template)]
#[template(path = "totp_disable.html")]
struct TotpDisablePage {
    c: Chrome,
    error: Option<String>,
}

/// The form that turns 2FA off.
#[handler]
pub(crate) async fn totp_disable_page(ctx: Ctx) -> PageResult {
    if !ctx.client()?.totp_status().await?.enabled {
        return Ok(redirect("/settings"));
    }
    render(TotpDisablePage {
        c: Chrome::new(&ctx, "totp-disable-title"),
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct PasswordAndCode {
    password: String,
    code: String,
}

/// Turns 2FA off with the password and a code (or a recovery code).
#[handler]
pub(crate) async fn totp_disable(ctx: Ctx, Form(form): Form<PasswordAndCode>) -> PageResult {
    let client = ctx.client()?;
    let code: String = form.code.split_whitespace().collect();
    let Some(factor) = second_factor(&code) else {
        return render(TotpDisablePage {
            c: Chrome::new(&ctx, "totp-disable-title"),
            error: Some(ctx.t.t("api-totp-required")),
        });
    };
    match client.totp_disable(&form.password, factor).await {
        Ok(()) => Ok(redirect_with(&ctx, "/settings", "totp-disabled")),
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) if e.is_unauthorized() && e.code() != Some("INVALID_CREDENTIALS") => Err(e.into()),
        Err(e) => render(TotpDisablePage {
            c: Chrome::new(&ctx, "totp-disable-title"),
            error: Some(api_message(ctx.t, &e)),
        }),
    }
}

#[derive(Template)]
#[template(path = "delete_account.html")]
struct DeleteAccountPage {
    c: Chrome,
    type_username: String,
    totp_enabled: bool,
    error: Option<String>,
}

async fn delete_account_page(ctx: &Ctx, error: Option<String>) -> PageResult {
    let client = ctx.client()?;
    let (me, totp) = tokio::try_join!(client.me(), client.totp_status())?;
    render(DeleteAccountPage {
        c: Chrome::new(ctx, "delete-title"),
        type_username: ctx.t.a(
            "delete-type-username",
            &[("username", me.username.as_str())],
        ),
        totp_enabled: totp.enabled,
        error,
    })
}

/// The confirmation page of deleting the account: what it does, then password, code and the
/// username typed out.
#[handler]
pub(crate) async fn delete_account_form(ctx: Ctx) -> PageResult {
    delete_account_page(&ctx, None).await
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    confirm_username: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// Deletes the account and ends the session.
#[handler]
pub(crate) async fn delete_account(ctx: Ctx, Form(form): Form<DeleteForm>) -> PageResult {
    let client = ctx.client()?;
    let username = ctx.session.data().username.clone().unwrap_or_default();
    if username.is_empty() || form.confirm_username.trim() != username {
        return delete_account_page(&ctx, Some(ctx.t.t("delete-wrong-username"))).await;
    }
    let code: String = form.code.split_whitespace().collect();
    match client
        .delete_account(&form.password, second_factor(&code))
        .await
    {
        Ok(()) => Ok(signed_out(&ctx)),
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) if e.is_unauthorized() && e.code() != Some("INVALID_CREDENTIALS") => Err(e.into()),
        Err(e) => delete_account_page(&ctx, Some(api_message(ctx.t, &e))).await,
    }
}

/// The session ended after the account went: a fresh one says so on the market.
fn signed_out(ctx: &Ctx) -> Response {
    ctx.web.sessions.remove(&ctx.sid);
    let mut response = redirect("/account-deleted");
    if let Ok(value) = crate::guard::session_cookie(&ctx.web.config, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "account_deleted.html")]
struct AccountDeletedPage {
    c: Chrome,
}

/// Said once the account is gone.
#[handler]
pub(crate) fn account_deleted(ctx: Ctx) -> PageResult {
    render(AccountDeletedPage {
        c: Chrome::new(&ctx, "deleted-title"),
    })
}
