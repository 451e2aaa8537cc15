//! Running the platform's wallet: withdrawals stuck between the ledger and the chain, and
//! their re-drive. Admins only, from a logged-in session.

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use pupero_core::Role;
use pupero_core::withdrawal::Stuck;
use uuid::Uuid;

use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_ip;
use crate::error::ApiError;
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::store::{WithdrawalRow, WithdrawalTxRow};

/// Largest list of stuck withdrawals.
const MAX_STUCK_PAGE: u32 = 200;
/// List size when the caller does not say.
const DEFAULT_STUCK_PAGE: u32 = 50;

/// The admin wallet resource.
pub struct AdminWalletApi {
    pub(crate) state: Arc<AppState>,
}

/// A withdrawal as admins see it.
#[derive(Debug, Object)]
pub struct AdminWithdrawal {
    /// Withdrawal id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// `requested`, `signed`, `broadcast`, `confirmed` or `failed`.
    pub state: String,
    /// Why it is stuck: `not_built` (requested for 30 minutes), `not_relayed` (signed for 5
    /// minutes) or `not_mined` (broadcast for an hour); absent when it is not.
    pub stuck: Option<String>,
    /// The destination.
    pub address: String,
    /// XMR it receives.
    pub amount: String,
    /// Its share of the network fee, once built.
    pub fee: Option<String>,
    /// The transaction, once built.
    pub txid: Option<String>,
    /// Times the worker relayed the transaction.
    pub relay_attempts: Option<u64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

/// Stuck withdrawals, the longest unchanged first.
#[derive(Debug, Object)]
pub struct StuckWithdrawals {
    /// The withdrawals.
    pub items: Vec<AdminWithdrawal>,
}

/// A re-drive's answer.
#[derive(Debug, ApiResponse)]
pub enum Redriven {
    /// The worker was asked; the withdrawal as it stood.
    #[oai(status = 202)]
    Accepted(Json<AdminWithdrawal>),
}

fn admin_withdrawal(
    w: &WithdrawalRow,
    tx: Option<&WithdrawalTxRow>,
    stuck: Option<Stuck>,
) -> AdminWithdrawal {
    AdminWithdrawal {
        id: w.id,
        user_id: *w.user.as_uuid(),
        state: w.state.as_str().to_owned(),
        stuck: stuck.map(|s| s.as_str().to_owned()),
        address: w.destination.clone(),
        amount: w.receives().to_xmr_string(),
        fee: w.fee.map(|f| f.to_xmr_string()),
        txid: tx.map(|t| t.txid.clone()),
        relay_attempts: tx.map(|t| t.relay_attempts),
        failure: w.failure.clone(),
        requested_at_ms: w.requested_at.as_unix_ms(),
        updated_at_ms: w.updated_at.as_unix_ms(),
    }
}

#[OpenApi(prefix_path = "/api/v1/admin/withdrawals", tag = "Tag::Admin")]
impl AdminWalletApi {
    /// Withdrawals stuck between the ledger and the chain: requested for 30 minutes, signed
    /// for 5, or broadcast for an hour without being mined.
    #[oai(
        path = "/stuck",
        method = "get",
        operation_id = "admin_stuck_withdrawals"
    )]
    async fn stuck(
        &self,
        auth: SessionAuth,
        /// Withdrawals listed, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<StuckWithdrawals>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let limit = limit.0.unwrap_or(DEFAULT_STUCK_PAGE);
        if !(1..=MAX_STUCK_PAGE).contains(&limit) {
            return Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_STUCK_PAGE}"
            )));
        }
        let stuck = self
            .state
            .market
            .stuck_withdrawals(usize::try_from(limit).unwrap_or(usize::MAX))
            .await?;
        Ok(Json(StuckWithdrawals {
            items: stuck
                .iter()
                .map(|(w, tx, why)| admin_withdrawal(w, tx.as_ref(), Some(*why)))
                .collect(),
        }))
    }

    /// Re-drives a withdrawal: the worker relays its signed transaction again if it was
    /// broadcast and is not mined (the same transaction, so it cannot pay twice), and takes a
    /// requested or signed one on at once. 409 `WITHDRAWAL_FINAL` when confirmed or failed.
    #[oai(
        path = "/:id/redrive",
        method = "post",
        operation_id = "admin_redrive_withdrawal"
    )]
    async fn redrive(
        &self,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Redriven, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let w = self.state.market.request_redrive(id.0).await?;
        let tx = match w.tx {
            Some(tx) => self.state.market.store.withdrawal_tx(tx).await?,
            None => None,
        };
        let entry = AuditEntry::of(AuditEvent::WithdrawalRedriven, Some(auth.0.user)).about(w.user);
        self.state
            .market
            .audit(entry.from_ip(client_ip(req)).detail(format!(
                "withdrawal={} state={}",
                w.id,
                w.state.as_str()
            )))
            .await;
        Ok(Redriven::Accepted(Json(admin_withdrawal(
            &w,
            tx.as_ref(),
            self.state.market.stuck_of(&w),
        ))))
    }
}
