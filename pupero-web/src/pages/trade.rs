//! The trade page (what happened, what it costs, what the user may do now, the chat), the
//! confirmation page of each step, feedback, and the list of the user's trades.
//!
//! The buttons shown are exactly the steps the API lists in `actions`: the state machine decides,
//! the page only shows. Releasing has its own page whose form cannot be sent by pressing Enter:
//! its first submit button is disabled, which makes implicit submission do nothing, and the only
//! working one is the explicit "Release" button.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use poem::handler;
use poem::web::{Form, Path, Query};
use pupero_sdk::{Outcome, Rating, Resolution, TradeAction, TradeSide, TradeState, TradeView};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    Chrome, Failure, PageResult, api_message, idempotency_key, redirect, redirect_with, render,
    second_factor,
};
use crate::format;
use crate::guard::Ctx;
use crate::i18n::Tr;

/// Chat messages shown on the trade page: the API's page limit.
const CHAT_MESSAGES: u32 = 100;

/// Trades per page of "my trades".
const TRADES_PER_PAGE: u32 = 50;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse_id(id: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(id).map_err(|_| Failure::NotFound)
}

/// What the trade page and the step pages show of a trade, formatted.
pub(crate) struct TradeFacts {
    id: Uuid,
    state: String,
    state_code: &'static str,
    headline: String,
    amount: String,
    fiat: String,
    price: String,
    seller_fee: String,
    buyer_fee: String,
    escrowed: String,
    buyer_receives: String,
    method: String,
    details: String,
    terms: String,
    seller: String,
    buyer: String,
}

impl TradeFacts {
    fn new(trade: &TradeView, t: Tr) -> TradeFacts {
        let l = t.locale;
        let amount = format::xmr_unit(trade.amount, l);
        let fiat = format::fiat(&trade.fiat_amount, trade.currency, l);
        let key = match trade.your_side {
            Some(TradeSide::Buyer) => "trade-headline-buyer",
            Some(TradeSide::Seller) => "trade-headline-seller",
            None => "trade-headline-other",
        };
        TradeFacts {
            id: trade.id,
            state: state_label(t, trade.state),
            state_code: trade.state.as_str(),
            headline: t.a(
                key,
                &[
                    ("amount", &amount),
                    ("fiat", &fiat),
                    ("seller", &trade.seller.username),
                    ("buyer", &trade.buyer.username),
                ],
            ),
            amount,
            fiat,
            price: format::fiat(&trade.price.to_string(), trade.currency, l),
            seller_fee: format::xmr_unit(trade.seller_fee, l),
            buyer_fee: format::xmr_unit(trade.buyer_fee, l),
            escrowed: format::xmr_unit(trade.escrowed, l),
            buyer_receives: format::xmr_unit(trade.buyer_receives, l),
            method: trade.payment_method.clone(),
            details: trade.payment_details.clone(),
            terms: trade.terms.clone(),
            seller: trade.seller.username.clone(),
            buyer: trade.buyer.username.clone(),
        }
    }
}

fn state_label(t: Tr, state: TradeState) -> String {
    t.t(&format!("state-{}", state.as_str()))
}

/// One step of the timeline.
pub(crate) struct Step {
    label: String,
    when: Option<(String, String)>,
    current: bool,
}

fn timeline(trade: &TradeView, t: Tr) -> Vec<Step> {
    let at = |ms: Option<u64>| ms.map(|ms| (format::iso(ms), format::utc(ms)));
    let mut steps = vec![Step {
        label: t.t("timeline-opened"),
        when: at(Some(trade.opened_at_ms)),
        current: trade.state == TradeState::Escrowed,
    }];
    if trade.paid_at_ms.is_some() || trade.state == TradeState::Escrowed {
        steps.push(Step {
            label: t.t("timeline-paid"),
            when: at(trade.paid_at_ms),
            current: trade.state == TradeState::Paid,
        });
    }
    let end = match trade.state {
        TradeState::Escrowed | TradeState::Paid => TradeState::Released,
        other => other,
    };
    steps.push(Step {
        label: state_label(t, end),
        when: at(trade.closed_at_ms),
        current: trade.state == end,
    });
    steps
}

/// The message of the role × state box.
fn instructions(trade: &TradeView, t: Tr, facts: &TradeFacts) -> String {
    let role = match trade.your_side {
        Some(TradeSide::Buyer) => "buyer",
        Some(TradeSide::Seller) => "seller",
        None => "other",
    };
    let key = match trade.state {
        TradeState::Escrowed | TradeState::Paid => {
            format!("box-{}-{role}", trade.state.as_str())
        }
        other => format!("box-{}", other.as_str()),
    };
    t.a(
        &key,
        &[
            ("fiat", &facts.fiat),
            ("amount", &facts.amount),
            ("escrowed", &facts.escrowed),
            ("method", &facts.method),
        ],
    )
}

/// A moderator's decision as the parties read it: where the escrow went, to the piconero.
fn decision(trade: &TradeView, t: Tr, facts: &TradeFacts) -> Option<String> {
    let outcome = trade.resolution?;
    Some(match outcome {
        Outcome::ToBuyer => t.a(
            "resolution-to-buyer",
            &[("amount", &facts.buyer_receives), ("buyer", &facts.buyer)],
        ),
        Outcome::ToSeller => t.a(
            "resolution-to-seller",
            &[("amount", &facts.escrowed), ("seller", &facts.seller)],
        ),
        Outcome::Split => {
            let to_buyer = trade
                .resolution_to_buyer
                .map_or_else(|| "—".to_owned(), |a| format::xmr_unit(a, t.locale));
            t.a(
                "resolution-split",
                &[
                    ("amount", &to_buyer),
                    ("buyer", &facts.buyer),
                    ("seller", &facts.seller),
                ],
            )
        }
    })
}

/// A chat message as shown.
pub(crate) struct Line {
    who: String,
    staff: bool,
    mine: bool,
    body: String,
    iso: String,
    when: String,
}

#[derive(Template)]
#[template(path = "trade.html")]
struct TradePage {
    c: Chrome,
    f: TradeFacts,
    steps: Vec<Step>,
    instructions: String,
    countdown: Option<(u64, String, String, String)>,
    decision: Option<String>,
    note: String,
    can_pay: bool,
    can_release: bool,
    can_cancel: bool,
    can_dispute: bool,
    can_resolve: bool,
    can_rate: bool,
    chat: Vec<Line>,
    updated: String,
}

/// The trade page.
#[handler]
pub(crate) async fn show_trade(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client = ctx.client()?;
    let id = parse_id(&id)?;
    let (trade, messages) = tokio::try_join!(
        client.trade(id),
        client.trade_messages(id, Some(CHAT_MESSAGES), None)
    )?;
    let t = ctx.t;
    let facts = TradeFacts::new(&trade, t);
    let now = now_ms();
    let countdown = (trade.state == TradeState::Escrowed).then(|| {
        let left_secs = trade.payment_deadline_ms.saturating_sub(now) / 1000;
        (
            left_secs,
            format::duration(left_secs),
            format::iso(trade.payment_deadline_ms),
            format::utc(trade.payment_deadline_ms),
        )
    });
    let me = ctx.session.data().username.clone().unwrap_or_default();
    let chat = messages
        .items
        .into_iter()
        .map(|m| Line {
            mine: m.sender == me,
            staff: m.sender_role == pupero_sdk::SenderRole::Moderator,
            who: if m.sender == me {
                t.t("chat-you")
            } else if m.sender_role == pupero_sdk::SenderRole::Moderator {
                t.a("chat-moderator", &[("name", &m.sender)])
            } else {
                m.sender
            },
            body: m.body,
            iso: format::iso(m.created_at_ms),
            when: format::utc(m.created_at_ms),
        })
        .collect();
    let has = |a: TradeAction| trade.actions.contains(&a);
    let mut c = Chrome::new(&ctx, "trade-title");
    c.title = facts.headline.clone();
    render(TradePage {
        c,
        instructions: instructions(&trade, t, &facts),
        steps: timeline(&trade, t),
        countdown,
        decision: decision(&trade, t, &facts),
        note: trade.resolution_note.clone().unwrap_or_default(),
        can_pay: has(TradeAction::MarkPaid),
        can_release: has(TradeAction::Release),
        can_cancel: has(TradeAction::Cancel),
        can_dispute: has(TradeAction::Dispute),
        can_resolve: has(TradeAction::Resolve),
        can_rate: trade.your_side.is_some()
            && matches!(trade.state, TradeState::Released | TradeState::Resolved),
        chat,
        updated: format::utc(now),
        f: facts,
    })
}

#[derive(Deserialize)]
pub(crate) struct MessageForm {
    body: String,
}

/// Posts in the trade's chat.
#[handler]
pub(crate) async fn post_message(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    let client = ctx.client()?;
    let id = parse_id(&id)?;
    let to = format!("/trades/{id}#chat");
    match client.post_trade_message(id, &form.body).await {
        Ok(_) => Ok(redirect(&to)),
        Err(e) if e.is_validation() => Ok(redirect_with(&ctx, &to, "chat-refused")),
        Err(e) => Err(e.into()),
    }
}

/// Which confirmation page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Paid,
    Release,
    Cancel,
    Dispute,
    Resolve,
}

#[derive(Template)]
#[template(path = "step.html")]
struct StepPage {
    c: Chrome,
    f: TradeFacts,
    kind: StepKind,
    action: &'static str,
    check: String,
    button: String,
    totp: bool,
    key: String,
    error: Option<String>,
}

async fn step_page(ctx: &Ctx, id: Uuid, kind: StepKind, error: Option<String>) -> PageResult {
    let client = ctx.client()?;
    let trade = client.trade(id).await?;
    let t = ctx.t;
    let facts = TradeFacts::new(&trade, t);
    let (title, action, check, button) = match kind {
        StepKind::Paid => (
            "paid-title",
            "paid",
            t.a(
                "paid-check",
                &[("fiat", &facts.fiat), ("seller", &facts.seller)],
            ),
            t.t("paid-submit"),
        ),
        StepKind::Release => (
            "release-title",
            "release",
            t.a("release-check", &[("fiat", &facts.fiat)]),
            t.a(
                "release-submit",
                &[("amount", &facts.amount), ("buyer", &facts.buyer)],
            ),
        ),
        StepKind::Cancel => (
            "cancel-title",
            "cancel",
            String::new(),
            t.t("cancel-submit"),
        ),
        StepKind::Dispute => (
            "dispute-title",
            "dispute",
            String::new(),
            t.t("dispute-submit"),
        ),
        StepKind::Resolve => (
            "resolve-title",
            "resolve",
            String::new(),
            t.t("resolve-submit"),
        ),
    };
    let totp = matches!(kind, StepKind::Release | StepKind::Resolve)
        && client.totp_status().await?.enabled;
    render(StepPage {
        c: Chrome::new(ctx, title),
        f: facts,
        kind,
        action,
        check,
        button,
        totp,
        key: idempotency_key(),
        error,
    })
}

/// "I have paid": its confirmation page.
#[handler]
pub(crate) async fn paid_page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    step_page(&ctx, parse_id(&id)?, StepKind::Paid, None).await
}

/// Releasing: its confirmation page.
#[handler]
pub(crate) async fn release_page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    step_page(&ctx, parse_id(&id)?, StepKind::Release, None).await
}

/// Cancelling: its confirmation page.
#[handler]
pub(crate) async fn cancel_page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    step_page(&ctx, parse_id(&id)?, StepKind::Cancel, None).await
}

/// Resolving a dispute (moderators): its page, with the outcome and the note.
#[handler]
pub(crate) async fn resolve_page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    step_page(&ctx, parse_id(&id)?, StepKind::Resolve, None).await
}

/// A dispute: its page, with the reason.
#[handler]
pub(crate) async fn dispute_page(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    step_page(&ctx, parse_id(&id)?, StepKind::Dispute, None).await
}

/// What a step's form sends.
#[derive(Deserialize)]
pub(crate) struct StepForm {
    key: String,
    confirm: Option<String>,
    code: Option<String>,
    reason: Option<String>,
    outcome: Option<String>,
    to_buyer: Option<String>,
}

async fn take_step(ctx: &Ctx, id: &str, kind: StepKind, form: StepForm) -> PageResult {
    let client = ctx.client()?;
    let id = parse_id(id)?;
    let key = Some(form.key.as_str());
    let confirmed = form.confirm.as_deref() == Some("yes");
    let result = match kind {
        StepKind::Paid | StepKind::Release if !confirmed => {
            return step_page(ctx, id, kind, Some(ctx.t.t("step-confirm-required"))).await;
        }
        StepKind::Paid => client.mark_trade_paid(id, key).await,
        StepKind::Release => {
            let code: String = form
                .code
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            client.release_trade(id, second_factor(&code), key).await
        }
        StepKind::Resolve => {
            let code = form.code.unwrap_or_default();
            let note = form.reason.unwrap_or_default();
            let resolution = match form.outcome.as_deref() {
                Some("to_buyer") => Resolution::ToBuyer,
                Some("to_seller") => Resolution::ToSeller,
                Some("split") => match form.to_buyer.as_deref().and_then(format::parse_xmr) {
                    Some(amount) => Resolution::Split(amount.to_xmr_string()),
                    None => {
                        let message = ctx.t.t("market-bad-amount");
                        return step_page(ctx, id, kind, Some(message)).await;
                    }
                },
                _ => {
                    let message = ctx.t.t("resolve-choose");
                    return step_page(ctx, id, kind, Some(message)).await;
                }
            };
            let code = code.trim();
            client
                .resolve_trade(id, &resolution, note.trim(), second_factor(code), key)
                .await
        }
        StepKind::Cancel => client.cancel_trade(id, key).await,
        StepKind::Dispute => {
            let reason = form.reason.unwrap_or_default();
            client.dispute_trade(id, reason.trim(), key).await
        }
    };
    match result {
        Ok(trade) => Ok(redirect(&format!("/trades/{}", trade.id))),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(e) => step_page(ctx, id, kind, Some(api_message(ctx.t, &e))).await,
    }
}

/// Settles the dispute.
#[handler]
pub(crate) async fn post_resolve(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> PageResult {
    take_step(&ctx, &id, StepKind::Resolve, form).await
}

/// Marks the trade paid.
#[handler]
pub(crate) async fn post_paid(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> PageResult {
    take_step(&ctx, &id, StepKind::Paid, form).await
}

/// Releases the escrow to the buyer.
#[handler]
pub(crate) async fn post_release(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> PageResult {
    take_step(&ctx, &id, StepKind::Release, form).await
}

/// Cancels the trade.
#[handler]
pub(crate) async fn post_cancel(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> PageResult {
    take_step(&ctx, &id, StepKind::Cancel, form).await
}

/// Opens a dispute.
#[handler]
pub(crate) async fn post_dispute(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> PageResult {
    take_step(&ctx, &id, StepKind::Dispute, form).await
}

#[derive(Deserialize)]
pub(crate) struct FeedbackForm {
    rating: String,
    comment: Option<String>,
}

/// Rates the other party of a finished trade.
#[handler]
pub(crate) async fn post_feedback(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<FeedbackForm>,
) -> PageResult {
    let client = ctx.client()?;
    let id = parse_id(&id)?;
    let to = format!("/trades/{id}");
    let Some(rating) = Rating::parse(&form.rating) else {
        return Ok(redirect_with(&ctx, &to, "api-validation"));
    };
    let comment = form.comment.unwrap_or_default();
    match client.leave_feedback(id, rating, comment.trim()).await {
        Ok(_) => Ok(redirect_with(&ctx, &to, "feedback-thanks")),
        Err(e) if e.is_conflict() || e.is_validation() => {
            Ok(redirect_with(&ctx, &to, "feedback-refused"))
        }
        Err(e) => Err(e.into()),
    }
}

/// A line of "my trades".
pub(crate) struct TradeRow {
    id: Uuid,
    headline: String,
    state: String,
    when: String,
    iso: String,
}

#[derive(Template)]
#[template(path = "trades.html")]
struct TradesPage {
    c: Chrome,
    rows: Vec<TradeRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CursorQuery {
    cursor: Option<String>,
}

/// The user's trades, newest first.
#[handler]
pub(crate) async fn my_trades(ctx: Ctx, Query(q): Query<CursorQuery>) -> PageResult {
    let client = ctx.client()?;
    let page = client
        .trades(None, Some(TRADES_PER_PAGE), q.cursor.as_deref())
        .await?;
    let t = ctx.t;
    render(TradesPage {
        c: Chrome::new(&ctx, "trades-title"),
        rows: page
            .items
            .iter()
            .map(|trade| TradeRow {
                id: trade.id,
                headline: TradeFacts::new(trade, t).headline,
                state: state_label(t, trade.state),
                when: format::utc(trade.opened_at_ms),
                iso: format::iso(trade.opened_at_ms),
            })
            .collect(),
        next: page
            .next_cursor
            .map(|c| format!("/trades?cursor={}", super::urlencode(&c))),
    })
}

#[derive(Template)]
#[template(path = "disputes.html")]
struct DisputesPage {
    c: Chrome,
    rows: Vec<TradeRow>,
    next: Option<String>,
}

/// The disputes awaiting a moderator, oldest first.
#[handler]
pub(crate) async fn disputes(ctx: Ctx, Query(q): Query<CursorQuery>) -> PageResult {
    let client = ctx.client()?;
    let page = client
        .disputes(Some(TRADES_PER_PAGE), q.cursor.as_deref())
        .await?;
    let t = ctx.t;
    render(DisputesPage {
        c: Chrome::new(&ctx, "disputes-title"),
        rows: page
            .items
            .iter()
            .map(|trade| TradeRow {
                id: trade.id,
                headline: TradeFacts::new(trade, t).headline,
                state: trade.dispute_reason.clone().unwrap_or_default(),
                when: format::utc(trade.opened_at_ms),
                iso: format::iso(trade.opened_at_ms),
            })
            .collect(),
        next: page
            .next_cursor
            .map(|c| format!("/mod/disputes?cursor={}", super::urlencode(&c))),
    })
}
