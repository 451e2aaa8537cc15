//! Trades: open one on an offer, then mark paid, release, cancel, dispute; moderators resolve
//! disputes; admins see the fee account.
//!
//! Only the two parties see a trade (anyone else gets 404, as if it did not exist); a
//! moderator sees it once disputed. Every step takes an optional `Idempotency-Key`: the same
//! key with the same request returns the trade again without doing anything twice.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api::{self as wire, Outcome, TradeSide};
use pupero_core::{Caller, OfferId, Resolution, Role, Scope, TradeAction, TradeId, TradeState};
use uuid::Uuid;

use super::{Auth, SessionAuth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use pupero_market::store::{MAX_TRADES_PER_PAGE, TradeCursor, TradeRow};
use pupero_market::trades::{AcceptedPrice, Actor, IdempotencyKey, Step};
use pupero_market::two_factor::SecondFactorProof;

pub use pupero_api::{
    DisputeRequest, FeeAccountView, OpenTradeRequest, ReleaseRequest, ResolveRequest, TradePage,
    TradeParty, TradeView,
};

/// Trades per page when the client does not say.
const DEFAULT_TRADES_PER_PAGE: u32 = 20;

/// The trades resource.
pub struct TradesApi;

/// `201 Created`, or `200 OK` for a replayed `Idempotency-Key`.
#[derive(ApiResponse)]
pub enum Opened {
    /// The new trade, its escrow held.
    #[oai(status = 201)]
    Created(Json<TradeView>),
    /// The trade this key opened before.
    #[oai(status = 200)]
    Replayed(Json<TradeView>),
}

fn view(row: &TradeRow, viewer: &Caller, now: pupero_core::Timestamp) -> TradeView {
    let t = &row.trade;
    let ms = |ts: pupero_core::Timestamp| ts.as_unix_ms();
    let actions: Vec<wire::TradeAction> = t
        .available_actions(viewer, now)
        .into_iter()
        .filter_map(|name| {
            let action = wire::TradeAction::parse(name);
            debug_assert!(action.is_some(), "no wire name for the action {name}");
            action
        })
        .collect();
    let viewer = viewer.user();
    TradeView {
        id: *t.id().as_uuid(),
        offer_id: *t.offer().as_uuid(),
        state: t.state().into(),
        your_side: t.side_of(viewer).ok().map(TradeSide::from),
        maker_side: t.maker_side().into(),
        seller: TradeParty {
            id: *t.seller().as_uuid(),
            username: row.seller_name.clone(),
        },
        buyer: TradeParty {
            id: *t.buyer().as_uuid(),
            username: row.buyer_name.clone(),
        },
        amount: t.amount(),
        seller_fee: t.seller_fee(),
        buyer_fee: t.buyer_fee(),
        escrowed: t.seller_debit().unwrap_or_default(),
        buyer_receives: t.to_buyer().unwrap_or_default(),
        price: t.price(),
        currency: t.currency(),
        fiat_amount: t.fiat_amount().display_in(t.currency()),
        payment_method: row.payment_method.code().to_owned(),
        payment_details: row.payment_details.clone(),
        terms: row.terms.clone(),
        payment_window_minutes: t.window().minutes(),
        opened_at_ms: ms(t.opened_at()),
        payment_deadline_ms: ms(t.payment_deadline()),
        paid_at_ms: t.paid_at().map(ms),
        closed_at_ms: t.closed_at().map(ms),
        disputed_by: row.dispute.as_ref().map(|(by, _)| *by.as_uuid()),
        dispute_reason: row.dispute.as_ref().map(|(_, why)| why.clone()),
        resolution: t.resolution().as_ref().map(Outcome::from),
        resolution_to_buyer: match t.resolution() {
            Some(Resolution::Split { to_buyer }) => Some(to_buyer),
            _ => None,
        },
        resolution_note: row.resolved_by.as_ref().map(|(_, note)| note.clone()),
        version: t.version(),
        actions,
    }
}

fn key(header: Option<String>) -> Result<Option<IdempotencyKey>, ApiError> {
    Ok(header.as_deref().map(IdempotencyKey::parse).transpose()?)
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_TRADES_PER_PAGE),
        Some(n) if (1..=MAX_TRADES_PER_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation(format!(
            "limit must be between 1 and {MAX_TRADES_PER_PAGE}"
        ))),
    }
}

fn parse_cursor(c: Option<String>) -> Result<Option<TradeCursor>, ApiError> {
    c.map(|c| TradeCursor::parse(&c).ok_or_else(|| ApiError::validation("invalid cursor")))
        .transpose()
}

fn page(
    rows: Vec<TradeRow>,
    limit: u32,
    viewer: &Caller,
    now: pupero_core::Timestamp,
) -> TradePage {
    let full = rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = rows.last().filter(|_| full).map(|r| {
        TradeCursor {
            opened_at: r.trade.opened_at(),
            id: r.trade.id(),
        }
        .encode()
    });
    TradePage {
        items: rows.iter().map(|r| view(r, viewer, now)).collect(),
        next_cursor,
    }
}

impl TradesApi {
    /// Asks for a step on trade `id`; who may take it and what second factor it needs is the
    /// trade's to decide (`Trade::authorize`, applied by `Market::step_trade`).
    async fn step(
        &self,
        app: &Data<&Arc<AppState>>,
        caller: &Caller,
        id: Uuid,
        step: Step,
        proof: SecondFactorProof<'_>,
        idempotency_key: Option<String>,
    ) -> Result<Json<TradeView>, ApiError> {
        let key = key(idempotency_key)?;
        let row = app
            .0
            .market
            .step_trade(
                TradeId::from_uuid(id),
                Actor::Caller(caller, proof),
                step,
                key,
            )
            .await?;
        Ok(Json(view(&row, caller, app.0.now())))
    }
}

#[OpenApi(tag = "Tag::Trades")]
impl TradesApi {
    /// Opens a trade on an offer: the seller's XMR (and fee) goes into escrow at once, at the
    /// offer's current price, provided it is no worse for the taker than the `price` they
    /// accepted. The taker needs the `trade` scope.
    #[oai(path = "/api/v1/trades", method = "post", operation_id = "open_trade")]
    async fn open(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<OpenTradeRequest>,
        /// Makes retries safe: the same key and request return the same trade.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Opened, ApiError> {
        let principal = auth.principal();
        let caller = principal.caller();
        let key = key(idempotency_key.0)?;
        let amount = body.amount;
        let accepted = body.price;
        principal.require_scope(Scope::Trade)?;
        let (row, created) = app
            .0
            .market
            .open_trade(
                &caller,
                OfferId::from_uuid(body.offer_id),
                amount,
                AcceptedPrice(accepted),
                key,
            )
            .await?;
        let view = view(&row, &caller, app.0.now());
        Ok(if created {
            Opened::Created(Json(view))
        } else {
            Opened::Replayed(Json(view))
        })
    }

    /// The caller's trades, newest first, optionally in one state.
    #[oai(path = "/api/v1/trades", method = "get", operation_id = "list_trades")]
    async fn list(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// Only trades in this state.
        state: Query<Option<wire::TradeState>>,
        /// Trades per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<TradePage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let state = state.0.map(TradeState::from);
        let limit = page_limit(limit.0)?;
        let rows = app
            .0
            .market
            .trades_of(principal.user, state, parse_cursor(cursor.0)?, limit)
            .await?;
        Ok(Json(page(rows, limit, &principal.caller(), app.0.now())))
    }

    /// One trade (its parties; moderators once disputed).
    #[oai(
        path = "/api/v1/trades/:id",
        method = "get",
        operation_id = "get_trade"
    )]
    async fn get(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Json<TradeView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let caller = principal.caller();
        let row = app
            .0
            .market
            .visible_trade(TradeId::from_uuid(id.0), &caller)
            .await?;
        Ok(Json(view(&row, &caller, app.0.now())))
    }

    /// The buyer says the fiat payment is sent.
    #[oai(
        path = "/api/v1/trades/:id/paid",
        method = "post",
        operation_id = "mark_trade_paid"
    )]
    async fn mark_paid(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        /// Makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Json<TradeView>, ApiError> {
        let caller = auth.principal().caller();
        let step = Step {
            action: TradeAction::MarkPaid { by: caller.user() },
            reason: None,
        };
        self.step(
            &app,
            &caller,
            id.0,
            step,
            SecondFactorProof::default(),
            idempotency_key.0,
        )
        .await
    }

    /// The seller confirms the payment arrived: the escrow goes to the buyer, the fees to the
    /// platform. Needs the seller's 2FA code (or a recovery code) when 2FA is on.
    #[oai(
        path = "/api/v1/trades/:id/release",
        method = "post",
        operation_id = "release_trade"
    )]
    async fn release(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<ReleaseRequest>,
        /// Makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Json<TradeView>, ApiError> {
        let caller = auth.principal().caller();
        let step = Step {
            action: TradeAction::Release { by: caller.user() },
            reason: None,
        };
        let proof =
            SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref());
        self.step(&app, &caller, id.0, step, proof, idempotency_key.0)
            .await
    }

    /// Calls the trade off: the buyer any time before paying, the seller once the payment
    /// window passed unpaid. The escrow returns to the seller.
    #[oai(
        path = "/api/v1/trades/:id/cancel",
        method = "post",
        operation_id = "cancel_trade"
    )]
    async fn cancel(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        /// Makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Json<TradeView>, ApiError> {
        let caller = auth.principal().caller();
        let step = Step {
            action: TradeAction::Cancel { by: caller.user() },
            reason: None,
        };
        self.step(
            &app,
            &caller,
            id.0,
            step,
            SecondFactorProof::default(),
            idempotency_key.0,
        )
        .await
    }

    /// Raises a dispute: either party, once paid or once the payment window passed. The
    /// escrow stays until a moderator decides.
    #[oai(
        path = "/api/v1/trades/:id/dispute",
        method = "post",
        operation_id = "dispute_trade"
    )]
    async fn dispute(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<DisputeRequest>,
        /// Makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Json<TradeView>, ApiError> {
        let reason = pupero_market::trades::parse_reason(body.reason.as_deref().unwrap_or(""))?;
        let caller = auth.principal().caller();
        let step = Step {
            action: TradeAction::Dispute { by: caller.user() },
            reason: Some(reason),
        };
        self.step(
            &app,
            &caller,
            id.0,
            step,
            SecondFactorProof::default(),
            idempotency_key.0,
        )
        .await
    }

    /// Settles a dispute (moderators, logged in): `to_buyer`, `to_seller` or a `split`, with a
    /// note for the parties, and the moderator's 2FA code when 2FA is on. Every outcome moves
    /// the escrow through the ledger; the decision and the note go to the audit log.
    #[oai(
        path = "/api/v1/trades/:id/resolve",
        method = "post",
        operation_id = "resolve_trade"
    )]
    async fn resolve(
        &self,
        app: Data<&Arc<AppState>>,
        req: &poem::Request,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<ResolveRequest>,
        /// Makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Json<TradeView>, ApiError> {
        let principal = auth.0;
        principal.require_role(Role::Moderator)?;
        let caller = principal.caller();
        let outcome = match (body.outcome, &body.to_buyer) {
            (Outcome::ToBuyer, None) => Resolution::ToBuyer,
            (Outcome::ToSeller, None) => Resolution::ToSeller,
            (Outcome::Split, Some(amount)) => Resolution::Split { to_buyer: *amount },
            (Outcome::Split, None) => {
                return Err(ApiError::validation("a split needs to_buyer"));
            }
            (Outcome::ToBuyer | Outcome::ToSeller, Some(_)) => {
                return Err(ApiError::validation("to_buyer is only for a split"));
            }
        };
        let note = pupero_market::trades::parse_note(&body.note)?;
        let proof =
            SecondFactorProof::new(body.totp_code.as_deref(), body.recovery_code.as_deref());
        let key = key(idempotency_key.0)?;
        let row = app
            .0
            .market
            .resolve_dispute(
                TradeId::from_uuid(id.0),
                &caller,
                outcome,
                note,
                proof,
                key,
                crate::client::client_ip(req),
            )
            .await?;
        Ok(Json(view(&row, &caller, app.0.now())))
    }

    /// The dispute queue (moderators, logged in): disputed trades, newest first.
    #[oai(
        path = "/api/v1/moderation/disputes",
        method = "get",
        operation_id = "list_disputes"
    )]
    async fn disputes(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        /// Trades per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<TradePage>, ApiError> {
        let principal = auth.0;
        principal.require_role(Role::Moderator)?;
        let limit = page_limit(limit.0)?;
        let rows = app
            .0
            .market
            .disputed_trades(parse_cursor(cursor.0)?, limit)
            .await?;
        Ok(Json(page(rows, limit, &principal.caller(), app.0.now())))
    }

    /// The platform's fee account (admins, logged in).
    #[oai(
        path = "/api/v1/admin/fees",
        method = "get",
        operation_id = "admin_fee_account",
        tag = "Tag::Admin"
    )]
    async fn fees(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<FeeAccountView>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let fees = app.0.market.fee_account().await?;
        Ok(Json(FeeAccountView {
            account_id: *fees.account.as_uuid(),
            collected: fees.collected.to_xmr_string(),
            pending: fees.pending.to_xmr_string(),
        }))
    }
}
