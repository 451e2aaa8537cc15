//! The caller's own account: profile, balance, ledger history.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use pupero_api as wire;
use pupero_core::ledger::{Cause, HistoryCursor, HistoryQuery, Movement, TransferKind};
use pupero_core::limits::DEFAULT_HISTORY_PAGE_SIZE;
use pupero_core::{AccountId, Scope};

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;

pub use pupero_api::{Balance, LedgerEntry, LedgerPage, Me};

/// The account resource.
pub struct AccountApi;

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
