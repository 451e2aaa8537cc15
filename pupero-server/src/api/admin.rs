//! Running the platform: users, roles, sessions, the audit log, reconciliation. Admins only,
//! and only from a logged-in session (never an API key).

use super::text::Text;
use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use pupero_core::{Role, UserId};
use uuid::Uuid;

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_ip;
use crate::error::{ApiError, codes};
use pupero_market::audit::{AuditEntry, AuditEvent};
use pupero_market::deposits::{wallet_error, wallet_unavailable};
use pupero_market::reconciliation::Reconciliation;
use pupero_market::store::UserRow;
use pupero_market::withdrawals::DriveError;

/// Largest page of users or audit entries.
const MAX_ADMIN_PAGE: u32 = 200;
/// Page size when the caller does not say.
const DEFAULT_ADMIN_PAGE: u32 = 50;

/// The admin resource.
pub struct AdminApi {
    pub(crate) state: Arc<AppState>,
}

/// A user as admins see it.
#[derive(Debug, Object)]
pub struct AdminUser {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// E-mail address, if any.
    pub email: Option<String>,
    /// `user`, `moderator` or `admin`.
    pub role: String,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
}

/// A page of users, ordered by username.
#[derive(Debug, Object)]
pub struct AdminUserPage {
    /// The users.
    pub items: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A role change.
#[derive(Debug, Object)]
pub struct RoleChange {
    /// `user`, `moderator` or `admin`.
    pub role: Text,
}

/// One audit log entry.
#[derive(Debug, Object)]
pub struct AuditLogEntry {
    /// Position in the log.
    pub seq: u64,
    /// Unix milliseconds.
    pub at_ms: u64,
    /// Who acted.
    pub actor_id: Option<String>,
    /// Whom it concerns.
    pub subject_id: Option<String>,
    /// Stable event name, e.g. `login_failed`.
    pub event: String,
    /// The client's address.
    pub client_ip: Option<String>,
    /// Details.
    pub detail: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Object)]
pub struct AuditLogPage {
    /// The entries.
    pub items: Vec<AuditLogEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The platform's wallet against what the ledger says it owes. Amounts are decimal XMR,
/// exact to the piconero; signed ones (`difference`, `hot_wallet`, `platform_fees`,
/// `network_fees`) start with `-` when below zero.
#[derive(Debug, Object)]
pub struct ReconciliationView {
    /// `ok` when the wallet's total balance covers what is owed, `deficit` when not.
    pub status: String,
    /// The wallet's total balance less what is owed (`user_liabilities` +
    /// `deposits_uncredited`): the platform's own money, or below zero the deficit.
    pub difference: String,
    /// Σ of every user's balance in the ledger, money held in trade escrow or for withdrawals
    /// included.
    pub user_liabilities: String,
    /// Of `user_liabilities`, what pending transfers hold (escrow, withdrawal holds).
    pub user_held: String,
    /// User accounts summed.
    pub user_accounts: u64,
    /// Deposits in the wallet (mined or in the pool) and not credited yet: in the wallet's
    /// balance, owed, not yet in users' balances.
    pub deposits_uncredited: String,
    /// How many.
    pub deposits_uncredited_count: u64,
    /// The wallet's total balance, locked outputs included.
    pub wallet_total: String,
    /// What the wallet can spend now.
    pub wallet_unlocked: String,
    /// The ledger's hot wallet account: deposits in; withdrawals, their fees and the
    /// platform's network fees out.
    pub hot_wallet: String,
    /// Trade fees the platform earned (its own money in the wallet).
    pub platform_fees: String,
    /// Network fees the platform paid itself (sweeps).
    pub network_fees: String,
    /// Withdrawals held and not broadcast yet (`requested` or `signed`): their money is still
    /// in the wallet and in `user_liabilities`.
    pub withdrawals_in_flight: u64,
    /// Their total amount.
    pub withdrawals_in_flight_amount: String,
    /// When it was read, unix milliseconds.
    pub checked_at_ms: u64,
}

impl From<Reconciliation> for ReconciliationView {
    fn from(r: Reconciliation) -> ReconciliationView {
        ReconciliationView {
            status: r.status.as_str().to_owned(),
            difference: r.surplus.to_xmr_string(),
            user_liabilities: r.user_balances.to_xmr_string(),
            user_held: r.user_held.to_xmr_string(),
            user_accounts: r.user_accounts,
            deposits_uncredited: r.deposits_uncredited.to_xmr_string(),
            deposits_uncredited_count: r.deposits_uncredited_count,
            wallet_total: r.wallet_total.to_xmr_string(),
            wallet_unlocked: r.wallet_unlocked.to_xmr_string(),
            hot_wallet: r.hot_wallet.to_xmr_string(),
            platform_fees: r.platform_fees.to_xmr_string(),
            network_fees: r.network_fees.to_xmr_string(),
            withdrawals_in_flight: r.withdrawals_in_flight,
            withdrawals_in_flight_amount: r.withdrawals_in_flight_amount.to_xmr_string(),
            checked_at_ms: r.at.as_unix_ms(),
        }
    }
}

fn drive_error(error: DriveError) -> ApiError {
    match error {
        DriveError::NoWallet => wallet_unavailable("this server has no wallet configured").into(),
        DriveError::Wallet(e) => wallet_error(&e).into(),
        DriveError::Store(e) => e.into(),
        DriveError::Ledger(e) => e.into(),
        DriveError::Queue(e) => ApiError::internal(&e),
        e @ DriveError::LeaseLost => ApiError::internal(&e),
    }
}

fn admin_user(u: UserRow) -> AdminUser {
    AdminUser {
        id: *u.id.as_uuid(),
        username: u.username,
        email: u.email,
        role: u.role.as_str().to_owned(),
        disabled: u.disabled,
        created_at_ms: u.created_at.as_unix_ms(),
    }
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_ADMIN_PAGE);
    if (1..=MAX_ADMIN_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::validation(format!(
            "limit must be between 1 and {MAX_ADMIN_PAGE}"
        )))
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "Tag::Admin")]
impl AdminApi {
    /// Lists users by username, optionally those starting with `q`.
    #[oai(path = "/users", method = "get", operation_id = "admin_list_users")]
    async fn list_users(
        &self,
        auth: SessionAuth,
        /// Username prefix to search for.
        q: Query<Option<String>>,
        /// Users per page, 1–200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<AdminUserPage>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let limit = page_limit(limit.0)?;
        // A cursor is the last username key of the previous page, and nothing else.
        if let Some(c) = cursor.0.as_deref()
            && !pupero_core::Username::parse(c).is_ok_and(|u| u.key() == c)
        {
            return Err(ApiError::validation("invalid cursor"));
        }
        let users = self
            .state
            .market
            .store
            .list_users(q.0.as_deref(), cursor.0.as_deref(), limit)
            .await?;
        let next_cursor = (users.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| users.last().map(|u| u.username.to_ascii_lowercase()))
            .flatten();
        Ok(Json(AdminUserPage {
            items: users.into_iter().map(admin_user).collect(),
            next_cursor,
        }))
    }

    /// One user.
    #[oai(path = "/users/:id", method = "get", operation_id = "admin_get_user")]
    async fn get_user(
        &self,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Json<AdminUser>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let user = self
            .state
            .market
            .store
            .user_by_id(UserId::from_uuid(id.0))
            .await?
            .ok_or_else(|| ApiError::not_found("no such user"))?;
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
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<RoleChange>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let role = Role::parse(&body.role).map_err(|e| ApiError::validation(e.to_string()))?;
        let target = UserId::from_uuid(id.0);
        if target == auth.0.user {
            return Err(ApiError::forbidden_code(
                codes::SELF_ACTION,
                "admins cannot change their own role",
            ));
        }
        if !self.state.market.store.set_role(target, role).await? {
            return Err(ApiError::not_found("no such user"));
        }
        let entry = AuditEntry::of(AuditEvent::RoleChanged, Some(auth.0.user)).about(target);
        self.state
            .market
            .audit(
                entry
                    .from_ip(client_ip(req))
                    .detail(format!("role={}", role.as_str())),
            )
            .await;
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
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let target = UserId::from_uuid(id.0);
        if target == auth.0.user {
            return Err(ApiError::forbidden_code(
                codes::SELF_ACTION,
                "admins cannot disable themselves",
            ));
        }
        if !self.state.market.store.set_disabled(target, true).await? {
            return Err(ApiError::not_found("no such user"));
        }
        self.state
            .market
            .store
            .end_access(target, None, "disabled", self.state.now())
            .await?;
        let entry = AuditEntry::of(AuditEvent::UserDisabled, Some(auth.0.user)).about(target);
        self.state.market.audit(entry.from_ip(client_ip(req))).await;
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
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let target = UserId::from_uuid(id.0);
        if !self.state.market.store.set_disabled(target, false).await? {
            return Err(ApiError::not_found("no such user"));
        }
        let entry = AuditEntry::of(AuditEvent::UserEnabled, Some(auth.0.user)).about(target);
        self.state.market.audit(entry.from_ip(client_ip(req))).await;
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
        req: &Request,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let target = UserId::from_uuid(id.0);
        if self.state.market.store.user_by_id(target).await?.is_none() {
            return Err(ApiError::not_found("no such user"));
        }
        let (sessions, keys) = self
            .state
            .market
            .store
            .end_access(target, None, "admin", self.state.now())
            .await?;
        let entry = AuditEntry::of(AuditEvent::SessionsRevoked, Some(auth.0.user)).about(target);
        self.state
            .market
            .audit(
                entry
                    .from_ip(client_ip(req))
                    .detail(format!("sessions={sessions} api_keys={keys}")),
            )
            .await;
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
        auth: SessionAuth,
    ) -> Result<Json<ReconciliationView>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let reconciliation = self
            .state
            .market
            .reconciliation()
            .await
            .map_err(drive_error)?;
        Ok(Json(reconciliation.into()))
    }

    /// The audit log, newest first, optionally about one user.
    #[oai(path = "/audit", method = "get", operation_id = "admin_audit_log")]
    async fn audit_log(
        &self,
        auth: SessionAuth,
        /// Only entries about this user.
        user_id: Query<Option<Uuid>>,
        /// Entries per page, 1–200 (default 50).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<AuditLogPage>, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let limit = page_limit(limit.0)?;
        let before = cursor
            .0
            .as_deref()
            .map(|c| {
                pupero_core::limits::parse_stored_integer(c)
                    .ok_or_else(|| ApiError::validation("invalid cursor"))
            })
            .transpose()?;
        let rows = self
            .state
            .market
            .store
            .audit_page(user_id.0.map(UserId::from_uuid), before, limit)
            .await?;
        let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| rows.last().map(|r| r.seq.to_string()))
            .flatten();
        let items = rows
            .into_iter()
            .map(|r| AuditLogEntry {
                seq: r.seq,
                at_ms: r.at.as_unix_ms(),
                actor_id: r.actor,
                subject_id: r.subject,
                event: r.event,
                client_ip: r.client_ip,
                detail: r.detail,
            })
            .collect();
        Ok(Json(AuditLogPage { items, next_cursor }))
    }
}
