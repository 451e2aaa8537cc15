//! The wallet: the balance explained and the statement, deposits (subaddress, PNG QR code,
//! confirmations), withdrawals (form with the fee, review page with the step-up, status).

use askama::Template;
use poem::handler;
use poem::web::{Form, Path, Query};
use pupero_sdk::{Direction, EntryStatus, WithdrawalRequest, WithdrawalState};
use serde::Deserialize;
use uuid::Uuid;

use super::{Chrome, Failure, PageResult, api_message, idempotency_key, redirect, render};
use crate::format;
use crate::guard::Ctx;

/// Statement lines on the wallet page.
const HISTORY_LINES: u32 = 50;

/// Deposits on the deposit page.
const DEPOSITS_SHOWN: u32 = 20;

/// Withdrawals on the withdraw page.
const WITHDRAWALS_SHOWN: u32 = 20;

/// Length of an authenticator app's code.
const TOTP_DIGITS: usize = 6;

/// One line of the statement.
pub(crate) struct StatementLine {
    when: String,
    iso: String,
    what: String,
    amount: String,
    status: String,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    c: Chrome,
    available: String,
    held: String,
    incoming: String,
    lines: Vec<StatementLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CursorQuery {
    cursor: Option<String>,
}

/// The balance, explained, and the statement.
#[handler]
pub(crate) async fn show_wallet(ctx: Ctx, Query(q): Query<CursorQuery>) -> PageResult {
    let client = ctx.client()?;
    let (balance, history) = tokio::try_join!(
        client.balance(),
        client.ledger_history(Some(HISTORY_LINES), q.cursor.as_deref())
    )?;
    let t = ctx.t;
    let l = t.locale;
    let lines = history
        .items
        .iter()
        .map(|e| {
            let sign = match e.direction {
                Direction::Credit => "+",
                Direction::Debit => "−",
            };
            StatementLine {
                when: format::utc(e.timestamp_ms),
                iso: format::iso(e.timestamp_ms),
                // A hold that ended says how (released, returned...), else why money moved.
                what: t.t(&format!(
                    "code-{}",
                    e.outcome_code.unwrap_or(e.code).as_str().replace('_', "-")
                )),
                amount: format!("{sign}{}", format::xmr_unit(e.amount, l)),
                status: match e.status {
                    EntryStatus::Completed => String::new(),
                    other => t.t(&format!("entry-{}", other.as_str())),
                },
                link: e.trade_id.map(|id| format!("/trades/{id}")).or_else(|| {
                    e.withdrawal_id
                        .map(|id| format!("/wallet/withdrawals/{id}"))
                }),
            }
        })
        .collect();
    render(WalletPage {
        c: Chrome::new(&ctx, "wallet-title"),
        available: format::xmr_unit(balance.available, l),
        held: format::xmr_unit(balance.held, l),
        incoming: format::xmr_unit(balance.incoming, l),
        lines,
        next: history
            .next_cursor
            .map(|c| format!("/wallet?cursor={}", super::urlencode(&c))),
    })
}

/// A deposit as shown.
pub(crate) struct DepositLine {
    amount: String,
    state: String,
    confirmations: u64,
    required: u64,
    progress: String,
    txid: String,
}

#[derive(Template)]
#[template(path = "deposit.html")]
struct DepositPage {
    c: Chrome,
    address: String,
    groups: Vec<String>,
    uri: String,
    qr: Option<String>,
    required: String,
    deposits: Vec<DepositLine>,
}

/// Where to send XMR, and what arrived.
#[handler]
pub(crate) async fn show_deposit(ctx: Ctx) -> PageResult {
    let client = ctx.client()?;
    let (address, deposits) = tokio::try_join!(
        client.deposit_address(),
        client.deposits(Some(DEPOSITS_SHOWN), None)
    )?;
    let t = ctx.t;
    let groups = address
        .address
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    render(DepositPage {
        c: Chrome::new(&ctx, "deposit-title"),
        qr: crate::qr::data_url(&address.uri),
        groups,
        required: t.n("deposit-required", address.confirmations_required),
        deposits: deposits
            .items
            .into_iter()
            .map(|d| DepositLine {
                amount: format::xmr_unit(d.amount, t.locale),
                state: t.t(&format!("deposit-{}", d.state.as_str())),
                progress: t.a(
                    "deposit-progress",
                    &[
                        (
                            "n",
                            &d.confirmations.min(d.confirmations_required).to_string(),
                        ),
                        ("required", &d.confirmations_required.to_string()),
                    ],
                ),
                confirmations: d.confirmations.min(d.confirmations_required),
                required: d.confirmations_required,
                txid: d.txid,
            })
            .collect(),
        address: address.address,
        uri: address.uri,
    })
}

/// A withdrawal as listed.
pub(crate) struct WithdrawalLine {
    id: Uuid,
    amount: String,
    state: String,
    when: String,
}

#[derive(Template)]
#[template(path = "withdraw.html")]
struct WithdrawPage {
    c: Chrome,
    available: String,
    fee: String,
    reserve: String,
    max: Option<String>,
    address: String,
    amount: String,
    error: Option<String>,
    withdrawals: Vec<WithdrawalLine>,
}

#[derive(Deserialize, Default)]
pub(crate) struct WithdrawQuery {
    address: Option<String>,
    amount: Option<String>,
}

async fn withdraw_page(ctx: &Ctx, q: WithdrawQuery, error: Option<String>) -> PageResult {
    let client = ctx.client()?;
    let (balance, estimate, withdrawals) = tokio::join!(
        client.balance(),
        client.withdrawal_fee_estimate(None),
        client.withdrawals(Some(WITHDRAWALS_SHOWN), None)
    );
    let (balance, withdrawals) = (balance?, withdrawals?);
    // Without the wallet the fee is not known; the form still shows, the review will say.
    let estimate = estimate
        .inspect_err(|e| tracing::info!(error = %e, "no fee estimate"))
        .ok();
    let t = ctx.t;
    let l = t.locale;
    let unknown = || t.t("withdraw-fee-unknown");
    render(WithdrawPage {
        c: Chrome::new(ctx, "withdraw-title"),
        available: format::xmr_unit(balance.available, l),
        fee: estimate
            .as_ref()
            .and_then(|e| e.fee)
            .map_or_else(unknown, |f| format::xmr_unit(f, l)),
        reserve: estimate
            .as_ref()
            .map_or_else(unknown, |e| format::xmr_unit(e.fee_reserve, l)),
        max: estimate
            .as_ref()
            .and_then(|e| e.max_amount)
            .map(|m| m.to_xmr_string()),
        address: q.address.unwrap_or_default(),
        amount: q.amount.unwrap_or_default(),
        error,
        withdrawals: withdrawals
            .items
            .into_iter()
            .map(|w| WithdrawalLine {
                id: w.id,
                amount: format::xmr_unit(w.amount, l),
                state: t.t(&format!("withdrawal-{}", w.state.as_str())),
                when: format::utc(w.requested_at_ms),
            })
            .collect(),
    })
}

/// The withdrawal form; its "Max" link comes back here with the amount filled in.
#[handler]
pub(crate) async fn withdraw(ctx: Ctx, Query(q): Query<WithdrawQuery>) -> PageResult {
    withdraw_page(&ctx, q, None).await
}

#[derive(Template)]
#[template(path = "withdraw_review.html")]
struct WithdrawReviewPage {
    c: Chrome,
    address: String,
    address_start: String,
    address_middle: String,
    address_end: String,
    amount: String,
    amount_exact: String,
    reserve: String,
    total: String,
    totp: bool,
    key: String,
    error: Option<String>,
}

async fn review_page(
    ctx: &Ctx,
    address: String,
    amount_text: &str,
    error: Option<String>,
) -> PageResult {
    let client = ctx.client()?;
    let t = ctx.t;
    let Some(amount) = format::parse_xmr(amount_text) else {
        let q = WithdrawQuery {
            address: Some(address),
            amount: Some(amount_text.to_owned()),
        };
        return withdraw_page(ctx, q, Some(t.t("market-bad-amount"))).await;
    };
    let exact = amount.to_xmr_string();
    let (estimate, totp) = tokio::try_join!(
        client.withdrawal_fee_estimate(Some(&exact)),
        client.totp_status()
    )?;
    if estimate.covered == Some(false) {
        let q = WithdrawQuery {
            address: Some(address),
            amount: Some(amount_text.to_owned()),
        };
        return withdraw_page(ctx, q, Some(t.t("api-insufficient-funds"))).await;
    }
    let l = t.locale;
    // The ends of an address are what people compare; they are set apart.
    let chars: Vec<char> = address.chars().collect();
    let split = |from: usize, to: usize| {
        chars[from.min(chars.len())..to.min(chars.len())]
            .iter()
            .collect::<String>()
    };
    let n = chars.len();
    render(WithdrawReviewPage {
        c: Chrome::new(ctx, "withdraw-review-title"),
        address_start: split(0, 6),
        address_middle: split(6, n.saturating_sub(6)),
        address_end: split(n.saturating_sub(6).max(6), n),
        address,
        amount: format::xmr_unit(amount, l),
        amount_exact: exact,
        reserve: format::xmr_unit(estimate.fee_reserve, l),
        total: estimate
            .total
            .map_or_else(|| "—".to_owned(), |total| format::xmr_unit(total, l)),
        totp: totp.enabled,
        key: idempotency_key(),
        error,
    })
}

/// The review page: the full address, the amount, what is held, and the step-up.
#[handler]
pub(crate) async fn withdraw_review(ctx: Ctx, Query(q): Query<WithdrawQuery>) -> PageResult {
    let address = q.address.unwrap_or_default().trim().to_owned();
    let amount = q.amount.unwrap_or_default();
    review_page(&ctx, address, &amount, None).await
}

#[derive(Deserialize)]
pub(crate) struct WithdrawForm {
    address: String,
    amount: String,
    key: String,
    password: Option<String>,
    code: Option<String>,
}

/// Asks for the withdrawal, then shows it.
#[handler]
pub(crate) async fn withdraw_confirm(ctx: Ctx, Form(form): Form<WithdrawForm>) -> PageResult {
    let client = ctx.client()?;
    let mut request = WithdrawalRequest::new(form.address.clone(), form.amount.clone());
    if let Some(password) = form.password.filter(|p| !p.is_empty()) {
        request = request.with_password(password);
    }
    let code: String = form
        .code
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        request = request.with_totp_code(code);
    } else if !code.is_empty() {
        request.recovery_code = Some(code.into());
    }
    match client.request_withdrawal(&request, &form.key).await {
        Ok(w) => Ok(redirect(&format!("/wallet/withdrawals/{}", w.id))),
        Err(e) if e.is_transport() || e.is_server_error() => Err(e.into()),
        Err(e) => {
            let message = api_message(ctx.t, &e);
            review_page(&ctx, form.address, &form.amount, Some(message)).await
        }
    }
}

/// A step of a withdrawal's timeline.
pub(crate) struct WithdrawalStep {
    label: String,
    done: bool,
    current: bool,
}

#[derive(Template)]
#[template(path = "withdrawal.html")]
struct WithdrawalPage {
    c: Chrome,
    state: String,
    address: String,
    amount: String,
    fee: String,
    /// The fee is the one paid, no longer an estimate.
    fee_paid: bool,
    txid: Option<String>,
    failure: Option<String>,
    steps: Vec<WithdrawalStep>,
    updated: String,
}

/// One withdrawal and where it is.
#[handler]
pub(crate) async fn show_withdrawal(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client = ctx.client()?;
    let id = Uuid::parse_str(&id).map_err(|_| Failure::NotFound)?;
    let w = client.withdrawal(id).await?;
    let t = ctx.t;
    let l = t.locale;
    let order = [
        WithdrawalState::Requested,
        WithdrawalState::Signed,
        WithdrawalState::Broadcast,
        WithdrawalState::Confirmed,
    ];
    let reached = order.iter().position(|s| *s == w.state);
    let steps = order
        .iter()
        .enumerate()
        .map(|(i, s)| WithdrawalStep {
            label: t.t(&format!("withdrawal-{}", s.as_str())),
            done: reached.is_some_and(|r| i <= r),
            current: reached == Some(i),
        })
        .collect();
    render(WithdrawalPage {
        c: Chrome::new(&ctx, "withdrawal-title"),
        state: t.t(&format!("withdrawal-{}", w.state.as_str())),
        address: w.address,
        amount: format::xmr_unit(w.amount, l),
        fee_paid: w.fee.is_some(),
        fee: w.fee.map_or_else(
            || {
                t.a(
                    "withdrawal-fee-at-most",
                    &[("reserve", &format::xmr_unit(w.max_fee, l))],
                )
            },
            |f| format::xmr_unit(f, l),
        ),
        txid: w.txid,
        failure: w.failure,
        steps,
        updated: format::utc(w.updated_at_ms),
    })
}
