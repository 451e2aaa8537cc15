//! Running the platform: users, roles, sessions, the audit log, reconciliation. Admins only,
//! and only from a logged-in session (never an API key).

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use pupero_core::{Role, UserId};
use uuid::Uuid;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::{AppState, Principal};
use crate::client::client_ip;
use crate::error::ApiError;
use pupero_market::admin::Admin;
use pupero_market::reconciliation::Reconciliation;
use pupero_market::store::{AuditRow, UserRow};

pub use pupero_api::{
    AdminUser, AdminUserPage, AuditLogEntry, AuditLogPage, ReconciliationView, RoleChange,
};

/// The admin resource.
pub struct AdminApi;

/// The reconciliation as the API shows it.
fn reconciliation_view(r: Reconciliation) -> ReconciliationView {
    ReconciliationView {
        status: r.status.into(),
        difference: r.surplus,
        user_liabilities: r.user_balances,
        user_held: r.user_held,
        user_accounts: r.user_accounts,
        deposits_uncredited: r.deposits_uncredited,
        deposits_uncredited_count: r.deposits_uncredited_count,
        wallet_total: r.wallet_total,
        wallet_unlocked: r.wallet_unlocked,
        hot_wallet: r.hot_wallet,
        platform_fees: r.platform_fees,
        network_fees: r.network_fees,
        withdrawals_in_flight: r.withdrawals_in_flight,
        withdrawals_in_flight_amount: r.withdrawals_in_flight_amount,
        checked_at_ms: r.at.as_unix_ms(),
    }
}

/// The admin acting on `req`, once their role is checked.
pub(crate) fn acting_admin(req: &Request, principal: &Principal) -> Result<Admin, ApiError> {
    principal.require_role(Role::Admin)?;
    Ok(Admin {
        user: principal.user,
        client_ip: client_ip(req),
    })
}

fn admin_user(u: UserRow) -> AdminUser {
    AdminUser {
        id: *u.id.as_uuid(),
        username: u.username,
        email: u.email,
        role: u.role.into(),
        disabled: u.disabled,
        created_at_ms: u.created_at.as_unix_ms(),
    }
}

fn audit_log_entry(r: AuditRow) -> AuditLogEntry {
    AuditLogEntry {
        seq: r.seq,
        at_ms: r.at.as_unix_ms(),
        actor_id: r.actor,
        subject_id: r.subject,
        event: r.event,
        client_ip: r.client_ip,
        detail: r.detail,
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "Tag::Admin")]
impl AdminApi {
    /// Lists users by username, optionally those starting with `q`.
    #[oai(path = "/users", method = "get", operation_id = "admin_list_users")]
    async fn list_users(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        /// Username prefix to search for.
        q: Query<Option<String>>,
        /// Users per page, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<AdminUserPage>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let page = app
            .0
            .market
            .admin_list_users(q.0.as_deref(), cursor.0.as_deref(), limit.0)
            .await?;
        Ok(Json(AdminUserPage {
            items: page.users.into_iter().map(admin_user).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// One user.
    #[oai(path = "/users/:id", method = "get", operation_id = "admin_get_user")]
    async fn get_user(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Json<AdminUser>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let user = app.0.market.admin_user(UserId::from_uuid(id.0)).await?;
        Ok(Json(admin_user(user)))
    }

    /// Changes a user's role. Admins cannot change their own (so the last admin cannot lock
    /// everyone out by accident, and nobody promotes themself).
    #[oai(
        path = "/users/:id/role",
        method = "put",
        operation_id = "admin_set_role"
    )]
    async fn set_role(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<RoleChange>,
    ) -> Result<NoContent, ApiError> {
        let admin = acting_admin(req, &auth.0)?;
        let role = Role::from(body.role);
        app.0
            .market
            .set_user_role(&admin, UserId::from_uuid(id.0), role)
            .await?;
        Ok(NoContent::Done)
    }

    /// Disables an account: every session ends at once and logins are refused.
    #[oai(
        path = "/users/:id/disable",
        method = "post",
        operation_id = "admin_disable_user"
    )]
    async fn disable(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        let admin = acting_admin(req, &auth.0)?;
        app.0
            .market
            .disable_user(&admin, UserId::from_uuid(id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Enables a disabled account.
    #[oai(
        path = "/users/:id/enable",
        method = "post",
        operation_id = "admin_enable_user"
    )]
    async fn enable(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        let admin = acting_admin(req, &auth.0)?;
        app.0
            .market
            .enable_user(&admin, UserId::from_uuid(id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Ends every session of a user (they must log in again) and revokes all their API keys.
    #[oai(
        path = "/users/:id/logout",
        method = "post",
        operation_id = "admin_logout_user"
    )]
    async fn logout_user(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        let admin = acting_admin(req, &auth.0)?;
        app.0
            .market
            .logout_user(&admin, UserId::from_uuid(id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Reconciliation: users' balances in the ledger against the platform wallet's balance,
    /// with the surplus or deficit. 503 `WALLET_UNAVAILABLE` without a wallet.
    #[oai(
        path = "/reconciliation",
        method = "get",
        operation_id = "admin_reconciliation"
    )]
    async fn reconciliation(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<ReconciliationView>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let reconciliation = app.0.market.reconciliation().await?;
        Ok(Json(reconciliation_view(reconciliation)))
    }

    /// The audit log, newest first, optionally about one user.
    #[oai(path = "/audit", method = "get", operation_id = "admin_audit_log")]
    async fn audit_log(
        &self,
        app: Data<&Arc<AppState>>,
        auth: SessionAuth,
        /// Only entries about this user.
        user_id: Query<Option<Uuid>>,
        /// Entries per page, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<AuditLogPage>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let page = app
            .0
            .market
            .audit_log(
                user_id.0.map(UserId::from_uuid),
                cursor.0.as_deref(),
                limit.0,
            )
            .await?;
        Ok(Json(AuditLogPage {
            items: page.entries.into_iter().map(audit_log_entry).collect(),
            next_cursor: page.next_cursor,
        }))
    }
}
