//! The administrators' pages: users (role, disable, end their sessions), the audit log, stuck
//! withdrawals and their re-drive, and the reconciliation of the wallet with what users are
//! owed. The API decides who may use them; these pages only ask.

use askama::Template;
use poem::handler;
use poem::web::{Form, Path, Query};
use pupero_sdk::{ReconciliationStatus, Role};
use serde::Deserialize;
use uuid::Uuid;

use super::{Chrome, Failure, PageResult, api_message, redirect_with, render, urlencode};
use crate::format;
use crate::guard::Ctx;

/// Users per page.
const USERS_PER_PAGE: u32 = 50;

/// Audit entries per page.
const AUDIT_PER_PAGE: u32 = 100;

/// Stuck withdrawals shown.
const STUCK_SHOWN: u32 = 100;

fn parse_id(id: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(id).map_err(|_| Failure::NotFound)
}

/// A user as listed.
pub(crate) struct UserLine {
    id: Uuid,
    username: String,
    email: String,
    role: &'static str,
    disabled: bool,
    since: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Chrome,
    q: String,
    users: Vec<UserLine>,
    roles: &'static [Role],
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct UsersQuery {
    q: Option<String>,
    cursor: Option<String>,
}

/// Users, by username.
#[handler]
pub(crate) async fn users(ctx: Ctx, Query(query): Query<UsersQuery>) -> PageResult {
    let client = ctx.client()?;
    let q = query.q.unwrap_or_default();
    let search = Some(q.trim()).filter(|s| !s.is_empty());
    let page = client
        .admin_list_users(search, Some(USERS_PER_PAGE), query.cursor.as_deref())
        .await?;
    render(UsersPage {
        c: Chrome::new(&ctx, "admin-users-title"),
        users: page
            .items
            .into_iter()
            .map(|u| UserLine {
                id: u.id,
                username: u.username,
                email: u.email.unwrap_or_default(),
                role: u.role.as_str(),
                disabled: u.disabled,
                since: format::utc(u.created_at_ms),
            })
            .collect(),
        roles: Role::ALL,
        next: page
            .next_cursor
            .map(|c| format!("/admin/users?q={}&cursor={}", urlencode(&q), urlencode(&c))),
        q,
    })
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    role: String,
}

/// Changes a user's role.
#[handler]
pub(crate) async fn set_role(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let client = ctx.client()?;
    let role = Role::parse(&form.role).ok_or(Failure::NotFound)?;
    admin_step(
        &ctx,
        client.admin_set_role(parse_id(&id)?, role.as_str()).await,
    )
}

/// Disables a user: no login, no API key, open sessions end.
#[handler]
pub(crate) async fn disable(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client = ctx.client()?;
    admin_step(&ctx, client.admin_disable_user(parse_id(&id)?).await)
}

/// Enables a disabled user.
#[handler]
pub(crate) async fn enable(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client = ctx.client()?;
    admin_step(&ctx, client.admin_enable_user(parse_id(&id)?).await)
}

/// Ends every session of a user.
#[handler]
pub(crate) async fn logout_user(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client = ctx.client()?;
    admin_step(&ctx, client.admin_logout_user(parse_id(&id)?).await)
}

/// Back to the users, saying whether it was done.
fn admin_step(ctx: &Ctx, result: Result<(), pupero_sdk::Error>) -> PageResult {
    match result {
        Ok(()) => Ok(redirect_with(ctx, "/admin/users", "admin-done")),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(e) => {
            tracing::info!(error = %e, "administrator's request refused");
            Ok(redirect_with(ctx, "/admin/users", "admin-refused"))
        }
    }
}

/// An audit entry as shown.
pub(crate) struct AuditLine {
    when: String,
    iso: String,
    event: String,
    actor: String,
    subject: String,
    ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    c: Chrome,
    lines: Vec<AuditLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CursorQuery {
    cursor: Option<String>,
}

/// The audit log, newest first.
#[handler]
pub(crate) async fn audit(ctx: Ctx, Query(q): Query<CursorQuery>) -> PageResult {
    let client = ctx.client()?;
    let page = client
        .admin_audit_log(None, Some(AUDIT_PER_PAGE), q.cursor.as_deref())
        .await?;
    render(AuditPage {
        c: Chrome::new(&ctx, "admin-audit-title"),
        lines: page
            .items
            .into_iter()
            .map(|e| AuditLine {
                when: format::utc(e.at_ms),
                iso: format::iso(e.at_ms),
                event: e.event,
                actor: e.actor_id.unwrap_or_default(),
                subject: e.subject_id.unwrap_or_default(),
                ip: e.client_ip.unwrap_or_default(),
                detail: e.detail,
            })
            .collect(),
        next: page
            .next_cursor
            .map(|c| format!("/admin/audit?cursor={}", urlencode(&c))),
    })
}

/// A stuck withdrawal as shown.
pub(crate) struct StuckLine {
    id: Uuid,
    state: String,
    stuck: String,
    amount: String,
    txid: String,
    attempts: u64,
    since: String,
}

#[derive(Template)]
#[template(path = "admin_withdrawals.html")]
struct StuckPage {
    c: Chrome,
    lines: Vec<StuckLine>,
}

/// Withdrawals stuck between the ledger and the chain.
#[handler]
pub(crate) async fn stuck(ctx: Ctx) -> PageResult {
    let client = ctx.client()?;
    let items = client.admin_stuck_withdrawals(Some(STUCK_SHOWN)).await?;
    let t = ctx.t;
    render(StuckPage {
        c: Chrome::new(&ctx, "admin-withdrawals-title"),
        lines: items
            .into_iter()
            .map(|w| StuckLine {
                id: w.id,
                state: t.t(&format!("withdrawal-{}", w.state.as_str())),
                stuck: w.stuck.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                amount: format::xmr_unit(w.amount, t.locale),
                txid: w.txid.unwrap_or_default(),
                attempts: w.relay_attempts.unwrap_or(0),
                since: format::utc(w.updated_at_ms),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    confirm: Option<String>,
}

/// Asks the worker to drive a withdrawal again; the box must be ticked.
#[handler]
pub(crate) async fn redrive(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> PageResult {
    let client = ctx.client()?;
    let to = "/admin/withdrawals";
    if form.confirm.as_deref() != Some("yes") {
        return Ok(redirect_with(&ctx, to, "step-confirm-required"));
    }
    match client.admin_redrive_withdrawal(parse_id(&id)?).await {
        Ok(_) => Ok(redirect_with(&ctx, to, "admin-done")),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(_) => Ok(redirect_with(&ctx, to, "admin-refused")),
    }
}

#[derive(Template)]
#[template(path = "admin_reconciliation.html")]
struct ReconciliationPage {
    c: Chrome,
    ok: bool,
    error: Option<String>,
    figures: Vec<(String, String)>,
    checked: String,
}

/// The wallet against what users are owed.
#[handler]
pub(crate) async fn reconciliation(ctx: Ctx) -> PageResult {
    let client = ctx.client()?;
    let t = ctx.t;
    let l = t.locale;
    let (ok, error, figures, checked) = match client.admin_reconciliation().await {
        Ok(r) => {
            let signed = |text: String| format!("{} XMR", format::decimal(&text, l));
            let figures = vec![
                (
                    t.t("recon-difference"),
                    signed(r.difference.to_xmr_string()),
                ),
                (
                    t.t("recon-wallet-total"),
                    format::xmr_unit(r.wallet_total, l),
                ),
                (
                    t.t("recon-wallet-unlocked"),
                    format::xmr_unit(r.wallet_unlocked, l),
                ),
                (t.t("recon-owed"), format::xmr_unit(r.user_liabilities, l)),
                (t.t("recon-held"), format::xmr_unit(r.user_held, l)),
                (
                    t.t("recon-uncredited"),
                    format::xmr_unit(r.deposits_uncredited, l),
                ),
                (
                    t.t("recon-platform-fees"),
                    signed(r.platform_fees.to_xmr_string()),
                ),
                (
                    t.t("recon-network-fees"),
                    signed(r.network_fees.to_xmr_string()),
                ),
                (
                    t.t("recon-in-flight"),
                    format::xmr_unit(r.withdrawals_in_flight_amount, l),
                ),
            ];
            (
                r.status == ReconciliationStatus::Ok,
                None,
                figures,
                format::utc(r.checked_at_ms),
            )
        }
        Err(e) if e.is_transport() || e.is_unauthorized() || e.is_forbidden() => {
            return Err(e.into());
        }
        Err(e) => (false, Some(api_message(t, &e)), Vec::new(), String::new()),
    };
    render(ReconciliationPage {
        c: Chrome::new(&ctx, "admin-reconciliation-title"),
        ok,
        error,
        figures,
        checked,
    })
}

/// A market price as listed.
pub(crate) struct PriceLine {
    currency: String,
    price: String,
    observed: String,
    observed_iso: String,
    fresh: bool,
}

#[derive(Template)]
#[template(path = "admin_market.html")]
struct MarketAdminPage {
    c: Chrome,
    maker_fee: String,
    taker_fee: String,
    collected: String,
    pending: String,
    prices: Vec<PriceLine>,
    error: Option<String>,
    currency: String,
    price: String,
}

async fn market_admin_page(
    ctx: &Ctx,
    error: Option<String>,
    currency: String,
    price: String,
) -> PageResult {
    let client = ctx.client()?;
    let l = ctx.t.locale;
    let (fees, account, prices) =
        tokio::try_join!(client.fee_schedule(), client.fee_account(), client.prices())?;
    let decimal_xmr = |text: &str| format!("{} XMR", format::decimal(text, l));
    render(MarketAdminPage {
        c: Chrome::new(ctx, "admin-market-title"),
        maker_fee: format::percent_bps(fees.maker_bps(), l),
        taker_fee: format::percent_bps(fees.taker_bps(), l),
        collected: decimal_xmr(&account.collected),
        pending: decimal_xmr(&account.pending),
        prices: prices
            .items
            .into_iter()
            .map(|p| PriceLine {
                currency: p.currency.as_str().to_owned(),
                price: format::fiat(&p.price.to_string(), p.currency, l),
                observed: format::utc(p.observed_at_ms),
                observed_iso: format::iso(p.observed_at_ms),
                fresh: p.fresh,
            })
            .collect(),
        error,
        currency,
        price,
    })
}

/// Fees (the schedule and what the fee account holds) and market prices, with a form to set one.
#[handler]
pub(crate) async fn market(ctx: Ctx) -> PageResult {
    market_admin_page(&ctx, None, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub(crate) struct PriceForm {
    currency: String,
    price: String,
}

/// Sets a currency's market price, observed now.
#[handler]
pub(crate) async fn set_price(ctx: Ctx, Form(form): Form<PriceForm>) -> PageResult {
    let client = ctx.client()?;
    let currency = form.currency.trim().to_ascii_uppercase();
    // The site takes the language's decimal comma; the API takes a point.
    let price = form.price.trim().replace(',', ".");
    match client.admin_set_price(&currency, &price).await {
        Ok(()) => Ok(redirect_with(&ctx, "/admin/market", "admin-price-set")),
        Err(e) if e.is_validation() || e.is_not_found() => {
            let message = api_message(ctx.t, &e);
            market_admin_page(&ctx, Some(message), form.currency, form.price).await
        }
        Err(e) => Err(e.into()),
    }
}
