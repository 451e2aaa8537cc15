//! The caller's wallet: the deposit subaddress and the deposits seen on it.

use super::text::Text;
use std::sync::Arc;

use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::limits::MIN_WITHDRAWAL;
use pupero_core::withdrawal::WithdrawalAmount;
use pupero_core::{DepositStatus, Scope, Timestamp};
use qrcode::QrCode;
use qrcode::render::svg;

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use poem_openapi::ApiResponse;
use pupero_market::Error as MarketError;
use pupero_market::store::{
    DepositRow, MAX_DEPOSITS_PER_PAGE, MAX_WITHDRAWALS_PER_PAGE, WithdrawalRow, WithdrawalTxRow,
};
use pupero_market::trades::IdempotencyKey;
use uuid::Uuid;

/// Deposits per page when the client does not say.
const DEFAULT_DEPOSITS_PER_PAGE: u32 = 20;

/// The smallest side of the deposit QR code, in pixels.
const QR_MIN_PIXELS: u32 = 200;

/// The wallet resource.
pub struct WalletApi {
    pub(crate) state: Arc<AppState>,
}

/// Where the caller sends XMR to fund their balance.
#[derive(Debug, Object)]
pub struct DepositAddress {
    /// The caller's own subaddress of the platform wallet; it does not change.
    pub address: String,
    /// `monero:<address>`, for wallets that open payment links.
    pub uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
    /// Confirmations after which a deposit is credited.
    pub confirmations_required: u64,
}

/// Money seen arriving on the caller's subaddress.
#[derive(Debug, Object)]
pub struct DepositView {
    /// The transaction.
    pub txid: String,
    /// XMR received, decimal.
    pub amount: String,
    /// `pending` (waiting for confirmations), `credited`, or `gone` (the transaction left the
    /// chain before it was credited; it is pending again if it comes back).
    pub state: String,
    /// The block holding it; absent while it waits in the pool.
    pub height: Option<u64>,
    /// Blocks on top of and including its own, when last scanned.
    pub confirmations: u64,
    /// Confirmations after which it is credited.
    pub confirmations_required: u64,
    /// When it was first seen, unix ms.
    pub first_seen_ms: u64,
    /// When it was credited, unix ms.
    pub credited_at_ms: Option<u64>,
}

/// A page of deposits, newest first.
#[derive(Debug, Object)]
pub struct DepositPage {
    /// The deposits.
    pub items: Vec<DepositView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A withdrawal request.
#[derive(Debug, Object)]
pub struct WithdrawalRequest {
    /// Where to send the XMR: an address of the platform's network, not one of the
    /// platform's own (its deposit addresses, its primary address or an integrated address
    /// built on it).
    pub address: Text,
    /// XMR the address receives, decimal; the network fee is charged on top (at most the fee
    /// reserve held with it, `max_fee`, the rest returned once the transaction is sent). Or
    /// `all`: the whole available balance less the network fee, leaving exactly zero.
    pub amount: Text,
    /// The account's password: needed from a logged-in session when 2FA is off, so that a
    /// stolen access token alone sends nothing away.
    pub password: Option<Text>,
    /// The authenticator app's current code, when 2FA is on.
    pub totp_code: Option<Text>,
    /// Or one unused recovery code.
    pub recovery_code: Option<Text>,
}

/// A withdrawal as its owner sees it.
#[derive(Debug, Object)]
pub struct WithdrawalView {
    /// Withdrawal id.
    pub id: Uuid,
    /// `requested`, `signed`, `broadcast`, `confirmed` or `failed` (refunded).
    pub state: String,
    /// The destination.
    pub address: String,
    /// XMR it receives. For a withdrawal of everything, until its transaction is built, the
    /// least it receives (what it holds besides the fee reserve).
    pub amount: String,
    /// The network fee reserve held with it: the most fee it is charged.
    pub max_fee: String,
    /// Whether it sends everything that was available (`"amount": "all"`): then it also sends
    /// what its fee leaves of the reserve.
    pub send_all: bool,
    /// Its share of the real network fee, once the transaction is built.
    pub fee: Option<String>,
    /// The transaction, once built.
    pub txid: Option<String>,
    /// Its secret key, a proof of payment (`check_tx_key`), once built.
    pub tx_key: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

/// A page of withdrawals, newest first.
#[derive(Debug, Object)]
pub struct WithdrawalPage {
    /// The withdrawals.
    pub items: Vec<WithdrawalView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// What a withdrawal costs now, before asking for one.
#[derive(Debug, Object)]
pub struct WithdrawalFeeEstimate {
    /// The network fee the wallet would pay now for a withdrawal to one address, decimal
    /// XMR; absent when the wallet cannot say (it has no unlocked coins at the moment). A
    /// withdrawal sent with others in one transaction pays a share of its fee, usually less.
    pub fee: Option<String>,
    /// Held with a withdrawal on top of its amount: twice the fee, at most 0.01 XMR (and that
    /// without an estimate). A withdrawal is never charged more; what it is not charged comes
    /// back once it is sent.
    pub fee_reserve: String,
    /// The smallest amount a withdrawal sends.
    pub min_amount: String,
    /// The caller's available balance.
    pub available: String,
    /// The largest amount a withdrawal can ask now: the available balance less the fee
    /// reserve; absent when that is below the smallest amount.
    pub max_amount: Option<String>,
    /// About what a withdrawal of everything (`"amount": "all"`) sends now: the available
    /// balance less the fee; absent when the balance does not cover the smallest amount and
    /// the fee.
    pub all_amount: Option<String>,
    /// With `amount`: what a withdrawal of it holds now, the amount and the fee reserve (the
    /// whole available balance for `all`).
    pub total: Option<String>,
    /// With `amount`: whether the available balance covers `total`.
    pub covered: Option<bool>,
}

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

impl WalletApi {
    async fn withdrawal_view(&self, row: &WithdrawalRow) -> Result<WithdrawalView, ApiError> {
        let tx = match row.tx {
            Some(id) => self.state.market.store.withdrawal_tx(id).await?,
            None => None,
        };
        Ok(withdrawal_view(row, tx))
    }
}

/// A withdrawal as its owner sees it, with its transaction once built.
fn withdrawal_view(row: &WithdrawalRow, tx: Option<WithdrawalTxRow>) -> WithdrawalView {
    WithdrawalView {
        id: row.id,
        state: row.state.as_str().to_owned(),
        address: row.destination.clone(),
        amount: row.receives().to_xmr_string(),
        max_fee: row.max_fee.to_xmr_string(),
        send_all: row.send_all,
        fee: row.fee.map(|f| f.to_xmr_string()),
        txid: tx.as_ref().map(|t| t.txid.clone()),
        tx_key: tx.map(|t| t.tx_key),
        failure: row.failure.clone(),
        requested_at_ms: row.requested_at.as_unix_ms(),
        updated_at_ms: row.updated_at.as_unix_ms(),
    }
}

fn view(row: &DepositRow, required: u64) -> DepositView {
    DepositView {
        txid: row.key.txid.clone(),
        amount: row.amount.to_xmr_string(),
        state: row.status.as_str().to_owned(),
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

/// A cursor is `<first_seen_ms>.<txid>` of the previous page's last deposit.
fn parse_cursor(cursor: Option<String>) -> Result<Option<(Timestamp, String)>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || ApiError::validation("invalid cursor");
    let (at, txid) = cursor.split_once('.').ok_or_else(invalid)?;
    let at = Timestamp::parse_unix_ms(at).map_err(|_| invalid())?;
    if pupero_wallet::Txid::from_hex(txid).is_none() {
        return Err(invalid());
    }
    Ok(Some((at, txid.to_ascii_lowercase())))
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
    async fn deposit_address(&self, auth: Auth) -> Result<Json<DepositAddress>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let row = self.state.market.deposit_address(principal.user).await?;
        let uri = format!("monero:{}", row.address);
        Ok(Json(DepositAddress {
            qr_svg: qr_svg(&uri)?,
            uri,
            address: row.address,
            confirmations_required: self.state.settings.market.deposits.confirmations(),
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
        auth: Auth,
        body: Json<WithdrawalRequest>,
        /// Required: makes retries safe.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<WithdrawalCreated, ApiError> {
        let caller = auth.principal().caller();
        let key = idempotency_key
            .0
            .as_deref()
            .ok_or_else(|| MarketError::validation("a withdrawal needs an Idempotency-Key header"))
            .and_then(IdempotencyKey::parse)?;
        let (row, created) = self
            .state
            .market
            .request_withdrawal(
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
        let view = self.withdrawal_view(&row).await?;
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
        auth: Auth,
        /// XMR the address would receive, decimal, or `all`.
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
        let state = &self.state;
        let quote = state.market.withdrawal_fee_quote().await?;
        let available = state.market.available_balance(principal.user).await?;
        let total = asked.map(|asked| match asked {
            WithdrawalAmount::Exactly(amount) => amount.checked_add(quote.reserve()).ok(),
            WithdrawalAmount::Everything => Some(available),
        });
        let covered = total.map(|t| {
            t.is_some_and(|t| t <= available)
                && asked.is_some_and(|a| quote.holds(a, available).is_ok())
        });
        Ok(Json(WithdrawalFeeEstimate {
            fee: quote.estimate().map(|f| f.to_xmr_string()),
            fee_reserve: quote.reserve().to_xmr_string(),
            min_amount: MIN_WITHDRAWAL.to_xmr_string(),
            available: available.to_xmr_string(),
            max_amount: quote.max_amount(available).map(|a| a.to_xmr_string()),
            all_amount: quote
                .everything_sends_about(available)
                .map(|a| a.to_xmr_string()),
            total: total.flatten().map(|t| t.to_xmr_string()),
            covered,
        }))
    }

    /// One of the caller's withdrawals.
    #[oai(
        path = "/api/v1/wallet/withdrawals/:id",
        method = "get",
        operation_id = "get_withdrawal"
    )]
    async fn withdrawal(
        &self,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Json<WithdrawalView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let row = self
            .state
            .market
            .store
            .withdrawal(id.0)
            .await?
            .filter(|w| w.user == principal.user)
            .ok_or_else(|| ApiError::not_found("no such withdrawal"))?;
        Ok(Json(self.withdrawal_view(&row).await?))
    }

    /// The caller's withdrawals, newest first.
    #[oai(
        path = "/api/v1/wallet/withdrawals",
        method = "get",
        operation_id = "list_withdrawals"
    )]
    async fn withdrawals(
        &self,
        auth: Auth,
        /// Withdrawals per page, 1–100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<WithdrawalPage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let limit = match limit.0 {
            None => DEFAULT_DEPOSITS_PER_PAGE,
            Some(n) if (1..=MAX_WITHDRAWALS_PER_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "limit must be between 1 and {MAX_WITHDRAWALS_PER_PAGE}"
                )));
            }
        };
        let before = match cursor.0 {
            None => None,
            Some(c) => {
                let invalid = || ApiError::validation("invalid cursor");
                let (at, id) = c.split_once('.').ok_or_else(invalid)?;
                Some((
                    Timestamp::parse_unix_ms(at).map_err(|_| invalid())?,
                    id.parse::<Uuid>().map_err(|_| invalid())?,
                ))
            }
        };
        let rows = self
            .state
            .market
            .store
            .withdrawals_of(principal.user, before, limit)
            .await?;
        let full = rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = rows
            .last()
            .filter(|_| full)
            .map(|r| format!("{}.{}", r.requested_at.as_unix_ms(), r.id));
        let tx_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.tx).collect();
        let txs = self.state.market.store.withdrawal_txs(&tx_ids).await?;
        let items = rows
            .iter()
            .map(|row| {
                // A transaction pays up to 15 withdrawals of different users; each row gets a copy.
                let tx = row.tx.and_then(|id| txs.get(&id).cloned());
                withdrawal_view(row, tx)
            })
            .collect();
        Ok(Json(WithdrawalPage { items, next_cursor }))
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
        auth: Auth,
        /// Deposits per page, 1–100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<DepositPage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let limit = match limit.0 {
            None => DEFAULT_DEPOSITS_PER_PAGE,
            Some(n) if (1..=MAX_DEPOSITS_PER_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "limit must be between 1 and {MAX_DEPOSITS_PER_PAGE}"
                )));
            }
        };
        let rows = self
            .state
            .market
            .store
            .deposits_of(principal.user, parse_cursor(cursor.0)?, limit)
            .await?;
        let required = self.state.settings.market.deposits.confirmations();
        let full = rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = rows
            .last()
            .filter(|_| full)
            .map(|r| format!("{}.{}", r.first_seen.as_unix_ms(), r.key.txid));
        Ok(Json(DepositPage {
            items: rows.iter().map(|r| view(r, required)).collect(),
            next_cursor,
        }))
    }
}
