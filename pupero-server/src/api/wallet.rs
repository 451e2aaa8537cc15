//! The caller's wallet: the deposit subaddress and the deposits seen on it.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use pupero_core::withdrawal::WithdrawalAmount;
use pupero_core::{DepositStatus, Scope, Timestamp};
use qrcode::QrCode;
use qrcode::render::svg;

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use poem_openapi::ApiResponse;
use pupero_market::store::DepositRow;
use pupero_market::trades::IdempotencyKey;
use pupero_market::wallet::{FeeEstimate, OwnWithdrawal};
use uuid::Uuid;

pub use pupero_api::{
    DepositAddress, DepositPage, DepositView, WithdrawalFeeEstimate, WithdrawalPage,
    WithdrawalRequest, WithdrawalView,
};

/// The smallest side of the deposit QR code, in pixels.
const QR_MIN_PIXELS: u32 = 200;

/// The wallet resource.
pub struct WalletApi;

/// A withdrawal request's answer.
#[derive(Debug, ApiResponse)]
pub enum WithdrawalCreated {
    /// A new withdrawal, held and queued.
    #[oai(status = 201)]
    Created(Json<WithdrawalView>),
    /// The same request again under the same key: the withdrawal it made.
    #[oai(status = 200)]
    Replayed(Json<WithdrawalView>),
}

/// A withdrawal as its owner sees it, with its transaction once built.
fn withdrawal_view(own: OwnWithdrawal) -> WithdrawalView {
    let OwnWithdrawal {
        withdrawal: row,
        tx,
    } = own;
    WithdrawalView {
        id: row.id,
        state: row.state.into(),
        amount: row.receives(),
        address: row.destination,
        max_fee: row.max_fee,
        send_all: row.send_all,
        fee: row.fee,
        txid: tx.as_ref().map(|t| t.txid.clone()),
        tx_key: tx.map(|t| t.tx_key),
        failure: row.failure,
        requested_at_ms: row.requested_at.as_unix_ms(),
        updated_at_ms: row.updated_at.as_unix_ms(),
    }
}

fn fee_estimate_view(e: FeeEstimate) -> WithdrawalFeeEstimate {
    WithdrawalFeeEstimate {
        fee: e.fee,
        fee_reserve: e.fee_reserve,
        min_amount: e.min_amount,
        available: e.available,
        max_amount: e.max_amount,
        all_amount: e.all_amount,
        total: e.total,
        covered: e.covered,
    }
}

fn view(row: &DepositRow, required: u64) -> DepositView {
    DepositView {
        txid: row.key.txid.clone(),
        amount: row.amount,
        state: row.status.into(),
        height: row.sighting.height,
        confirmations: if row.status == DepositStatus::Gone {
            0
        } else {
            row.sighting.confirmations
        },
        confirmations_required: required,
        first_seen_ms: row.first_seen.as_unix_ms(),
        credited_at_ms: row.credited_at.map(Timestamp::as_unix_ms),
    }
}

fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS)
        .build())
}

#[OpenApi(tag = "Tag::Wallet")]
impl WalletApi {
    /// The caller's deposit subaddress, made on first request. Send XMR here; it is credited
    /// after the required confirmations.
    #[oai(
        path = "/api/v1/wallet/deposit-address",
        method = "get",
        operation_id = "deposit_address"
    )]
    async fn deposit_address(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<DepositAddress>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let row = app.0.market.deposit_address(principal.user).await?;
        let uri = format!("monero:{}", row.address);
        Ok(Json(DepositAddress {
            qr_svg: qr_svg(&uri)?,
            uri,
            address: row.address,
            confirmations_required: app.0.settings.market.deposits.confirmations(),
        }))
    }

    /// Withdraws XMR to an address: the amount and a network fee reserve are held at once and
    /// the wallet worker sends it. Needs an `Idempotency-Key` (a retry with the same key and
    /// request returns the same withdrawal) and the 2FA code when 2FA is on.
    #[oai(
        path = "/api/v1/wallet/withdrawals",
        method = "post",
        operation_id = "request_withdrawal"
    )]
    async fn request_withdrawal(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<WithdrawalRequest>,
        /// Required: makes retries safe.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 100, pattern = "^[!-~]+$")
        )]
        idempotency_key: Header<String>,
    ) -> Result<WithdrawalCreated, ApiError> {
        let caller = auth.principal().caller();
        let key = IdempotencyKey::parse(&idempotency_key.0)?;
        let (withdrawal, created) = app
            .0
            .market
            .withdraw(
                &caller,
                &key,
                &body.address,
                &body.amount,
                body.password.as_deref(),
                pupero_market::two_factor::SecondFactorProof::new(
                    body.totp_code.as_deref(),
                    body.recovery_code.as_deref(),
                ),
            )
            .await?;
        let view = withdrawal_view(withdrawal);
        Ok(if created {
            WithdrawalCreated::Created(Json(view))
        } else {
            WithdrawalCreated::Replayed(Json(view))
        })
    }

    /// What a withdrawal costs now: the wallet's network fee estimate, the fee reserve held
    /// with a withdrawal, and what the caller's balance allows (the most an exact amount may
    /// be, about what `"amount": "all"` sends). With `amount`, what a withdrawal of it would
    /// hold.
    #[oai(
        path = "/api/v1/wallet/withdrawals/fee-estimate",
        method = "get",
        operation_id = "withdrawal_fee_estimate"
    )]
    async fn fee_estimate(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// XMR the address would receive, decimal, or `all`.
        #[oai(validator(max_length = 32, pattern = "^(all|[0-9]+(\\.[0-9]{1,12})?)$"))]
        amount: Query<Option<String>>,
    ) -> Result<Json<WithdrawalFeeEstimate>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let asked = amount
            .0
            .as_deref()
            .map(|a| {
                WithdrawalAmount::parse(a)
                    .map_err(|e| {
                        ApiError::validation(format!(
                            "amount: {e}; an amount of XMR or \"{}\"",
                            WithdrawalAmount::ALL
                        ))
                    })?
                    .check()
                    .map_err(|e| ApiError::validation(e.to_string()))
            })
            .transpose()?;
        let estimate = app
            .0
            .market
            .withdrawal_fee_estimate(principal.user, asked)
            .await?;
        Ok(Json(fee_estimate_view(estimate)))
    }

    /// One of the caller's withdrawals.
    #[oai(
        path = "/api/v1/wallet/withdrawals/:id",
        method = "get",
        operation_id = "get_withdrawal"
    )]
    async fn withdrawal(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Json<WithdrawalView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let withdrawal = app.0.market.own_withdrawal(principal.user, id.0).await?;
        Ok(Json(withdrawal_view(withdrawal)))
    }

    /// The caller's withdrawals, newest first.
    #[oai(
        path = "/api/v1/wallet/withdrawals",
        method = "get",
        operation_id = "list_withdrawals"
    )]
    async fn withdrawals(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// Withdrawals per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<WithdrawalPage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let page = app
            .0
            .market
            .own_withdrawals(principal.user, cursor.0.as_deref(), limit.0)
            .await?;
        Ok(Json(WithdrawalPage {
            items: page.withdrawals.into_iter().map(withdrawal_view).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// The caller's deposits, newest first: pending ones with their confirmations, credited
    /// ones, and ones that left the chain.
    #[oai(
        path = "/api/v1/wallet/deposits",
        method = "get",
        operation_id = "list_deposits"
    )]
    async fn deposits(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// Deposits per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<DepositPage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let page = app
            .0
            .market
            .own_deposits(principal.user, cursor.0.as_deref(), limit.0)
            .await?;
        let required = page.confirmations_required;
        Ok(Json(DepositPage {
            items: page.deposits.iter().map(|r| view(r, required)).collect(),
            next_cursor: page.next_cursor,
        }))
    }
}
