//! The caller's wallet: the deposit subaddress and the deposits seen on it.

use std::sync::Arc;

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::{DepositStatus, Scope, Timestamp};
use qrcode::QrCode;
use qrcode::render::svg;

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{DepositRow, MAX_DEPOSITS_PER_PAGE};

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
    let at: u64 = at.parse().map_err(|_| invalid())?;
    if pupero_wallet::Txid::from_hex(txid).is_none() {
        return Err(invalid());
    }
    Ok(Some((
        Timestamp::from_unix_ms(at),
        txid.to_ascii_lowercase(),
    )))
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
        let row = self.state.deposit_address(principal.user).await?;
        let uri = format!("monero:{}", row.address);
        Ok(Json(DepositAddress {
            qr_svg: qr_svg(&uri)?,
            uri,
            address: row.address,
            confirmations_required: self.state.settings.deposits.confirmations(),
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
            .store
            .deposits_of(principal.user, parse_cursor(cursor.0)?, limit)
            .await?;
        let required = self.state.settings.deposits.confirmations();
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
