//! The caller's own account: profile, balance, ledger history.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_api as wire;
use pupero_core::ledger::{Cause, HistoryCursor, HistoryQuery, Movement, TransferKind};
use pupero_core::limits::DEFAULT_HISTORY_PAGE_SIZE;
use pupero_core::{AccountId, Piconero, Scope};
use uuid::Uuid;

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;

/// The account resource.
pub struct AccountApi;

/// The caller's profile.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Me {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// E-mail address, if given.
    pub email: Option<String>,
    /// Whether `email` was verified by the link sent to it; only a verified address receives
    /// password-reset links.
    pub email_verified: bool,
    /// What the account may do beyond trading.
    pub role: wire::Role,
    /// Account creation, unix milliseconds.
    pub created_at_ms: u64,
}

/// The caller's XMR balance. Amounts are decimal XMR strings with up to 12 decimals.
#[derive(Debug, Object)]
pub struct Balance {
    /// What can be spent, traded or withdrawn now.
    pub available: Piconero,
    /// Held by open trades (escrow) and withdrawals in progress.
    pub held: Piconero,
    /// Arriving, not yet spendable (e.g. escrow in trades where the caller buys).
    pub incoming: Piconero,
}

/// One line of the caller's statement: money in or out, or held, and why. A hold (escrow of a
/// trade, a withdrawal's amount or fee reserve) and its outcome are one line with a status.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LedgerEntry {
    /// The transfer that started the movement.
    pub id: Uuid,
    /// Money in or out, from the caller's side.
    pub direction: wire::Direction,
    /// Decimal XMR that moved in the end: for a hold posted in part (a withdrawal's fee
    /// reserve) what was charged; zero for a hold returned or expired; while held, what is held.
    pub amount: Piconero,
    /// For a hold: what it held at first.
    pub held: Option<Piconero>,
    /// Where it stands: `held` while waiting for its outcome.
    pub status: wire::EntryStatus,
    /// Why money moved.
    pub code: wire::TransferCode,
    /// For a hold that ended: why (`trade_release`, `trade_refund`, `dispute_resolution`,
    /// `withdrawal`, `withdrawal_fee`, ...).
    pub outcome_code: Option<wire::TransferCode>,
    /// What it is about.
    pub cause: wire::EntryCause,
    /// The trade, when it is about a trade.
    pub trade_id: Option<Uuid>,
    /// The withdrawal, when it is about a withdrawal.
    pub withdrawal_id: Option<Uuid>,
    /// The deposit's transaction, when it is about a deposit.
    pub txid: Option<String>,
    /// When it started, unix milliseconds.
    pub timestamp_ms: u64,
    /// When it ended (a single transfer: when it happened); absent while held.
    pub settled_at_ms: Option<u64>,
}

/// A page of ledger history, newest first.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LedgerPage {
    /// The entries.
    pub items: Vec<LedgerEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Account")]
impl AccountApi {
    /// The caller's profile.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, app: Data<&Arc<AppState>>, auth: Auth) -> Result<Json<Me>, ApiError> {
        auth.principal().require_scope(Scope::Read)?;
        let user = app.0.market.profile(auth.principal().user).await?;
        Ok(Json(Me {
            id: *user.id.as_uuid(),
            username: user.username,
            email_verified: user.email.is_some() && user.email_verified,
            email: user.email,
            role: user.role.into(),
            created_at_ms: user.created_at.as_unix_ms(),
        }))
    }

    /// The caller's XMR balance.
    #[oai(path = "/balance", method = "get", operation_id = "balance")]
    async fn balance(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<Balance>, ApiError> {
        auth.principal().require_scope(Scope::Read)?;
        let balance = app.0.market.balance(auth.principal().user).await?;
        Ok(Json(Balance {
            available: balance.available,
            held: balance.held,
            incoming: balance.incoming,
        }))
    }

    /// The caller's statement, newest first, paginated by cursor: every movement of their
    /// balance with its cause, a hold and its outcome on one line.
    #[oai(
        path = "/ledger/history",
        method = "get",
        operation_id = "ledger_history"
    )]
    async fn history(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// Entries per page, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<LedgerPage>, ApiError> {
        auth.principal().require_scope(Scope::Read)?;
        let limit = limit.0.unwrap_or(DEFAULT_HISTORY_PAGE_SIZE);
        if !(1..=pupero_core::limits::MAX_HISTORY_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::validation("limit must be between 1 and 200"));
        }
        let query = match cursor.0.as_deref() {
            None => HistoryQuery::first(limit),
            Some(c) => {
                let cursor =
                    HistoryCursor::parse(c).map_err(|_| ApiError::validation("invalid cursor"))?;
                HistoryQuery::after(cursor, limit)
            }
        };
        let statement = app.0.market.statement(auth.principal().user, query).await?;
        Ok(Json(LedgerPage {
            items: statement
                .page
                .movements
                .iter()
                .map(|m| entry(statement.account, m, statement.txids.get(&m.transfer.id)))
                .collect(),
            next_cursor: statement.page.next.map(|c| c.to_string()),
        }))
    }
}

fn entry(account: AccountId, m: &Movement, txid: Option<&String>) -> LedgerEntry {
    let t = &m.transfer;
    let (cause, trade_id, withdrawal_id) = match t.cause() {
        Cause::Trade(trade) => (wire::EntryCause::Trade, Some(*trade.as_uuid()), None),
        Cause::Withdrawal(id) => (wire::EntryCause::Withdrawal, None, Some(id)),
        Cause::Deposit => (wire::EntryCause::Deposit, None, None),
        Cause::Other => (wire::EntryCause::Other, None, None),
    };
    LedgerEntry {
        id: *t.id.as_uuid(),
        direction: if t.credit_account_id == account {
            wire::Direction::Credit
        } else {
            wire::Direction::Debit
        },
        amount: m.amount(),
        held: (t.kind == TransferKind::Pending).then_some(t.amount),
        status: m.status().into(),
        code: t.code.into(),
        outcome_code: m.settlement.as_ref().map(|s| s.code.into()),
        cause,
        trade_id,
        withdrawal_id,
        txid: txid.cloned(),
        timestamp_ms: t.timestamp.as_unix_ms(),
        settled_at_ms: m.settled_at().map(|at| at.as_unix_ms()),
    }
}
