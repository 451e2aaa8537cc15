//! Running the platform's wallet: withdrawals stuck between the ledger and the chain, and
//! their re-drive. Admins only, from a logged-in session.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api as wire;
use pupero_core::Role;
use uuid::Uuid;

use super::admin::acting_admin;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use pupero_market::admin::OperatorWithdrawal;

pub use pupero_api::{AdminWithdrawal, StuckWithdrawals};

/// The admin wallet resource.
pub struct AdminWalletApi;

/// A re-drive's answer.
#[derive(Debug, ApiResponse)]
pub enum Redriven {
    /// The worker was asked; the withdrawal as it stood.
    #[oai(status = 202)]
    Accepted(Json<AdminWithdrawal>),
}

fn admin_withdrawal(o: OperatorWithdrawal) -> AdminWithdrawal {
    let OperatorWithdrawal {
        withdrawal: w,
        tx,
        stuck,
    } = o;
    AdminWithdrawal {
        id: w.id,
        user_id: *w.user.as_uuid(),
        state: w.state.into(),
        stuck: stuck.map(wire::Stuck::from),
        amount: w.receives(),
        address: w.destination,
        fee: w.fee,
        txid: tx.as_ref().map(|t| t.txid.clone()),
        relay_attempts: tx.as_ref().map(|t| t.relay_attempts),
        failure: w.failure,
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
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        /// Withdrawals listed, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<StuckWithdrawals>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let stuck = app.0.market.admin_stuck_withdrawals(limit.0).await?;
        Ok(Json(StuckWithdrawals {
            items: stuck.into_iter().map(admin_withdrawal).collect(),
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
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Redriven, ApiError> {
        let admin = acting_admin(req, &auth.0)?;
        let redriven = app.0.market.admin_redrive_withdrawal(&admin, id.0).await?;
        Ok(Redriven::Accepted(Json(admin_withdrawal(redriven))))
    }
}
