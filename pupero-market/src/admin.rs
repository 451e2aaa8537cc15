//! Running the platform: users, their roles and sessions, the audit log, stuck withdrawals.
//!
//! Every method here is an admin's act or read. The caller is checked as an admin where the
//! request arrives (a logged-in session with the admin role, never an API key); the methods
//! take the acting admin's id and address for the audit log, and each act is audited once it
//! took effect.

use pupero_core::withdrawal::Stuck;
use pupero_core::{Role, UserId, Username};
use uuid::Uuid;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::store::{AuditRow, UserRow, WithdrawalRow, WithdrawalTxRow};

/// Largest page of users or audit entries.
pub const MAX_ADMIN_PAGE: u32 = 200;
/// Page size of users or audit entries when the caller does not say.
pub const DEFAULT_ADMIN_PAGE: u32 = 50;

/// Largest list of stuck withdrawals.
pub const MAX_STUCK_PAGE: u32 = 200;
/// List size of stuck withdrawals when the caller does not say.
pub const DEFAULT_STUCK_PAGE: u32 = 50;

/// The admin acting, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The admin's user id.
    pub user: UserId,
    /// The client's address.
    pub client_ip: Option<String>,
}

impl Admin {
    fn entry(&self, event: AuditEvent, subject: UserId) -> AuditEntry {
        AuditEntry::of(event, Some(self.user))
            .about(subject)
            .from_ip(self.client_ip.clone())
    }
}

/// A page of users, ordered by username.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users.
    pub users: Vec<UserRow>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditRow>,
    /// The cursor of the next (older) page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A withdrawal as an operator looks at it: its transaction once built, and how it is stuck.
#[derive(Debug, Clone)]
pub struct OperatorWithdrawal {
    /// The withdrawal.
    pub withdrawal: WithdrawalRow,
    /// Its transaction, once built.
    pub tx: Option<WithdrawalTxRow>,
    /// How it is stuck now, if it is.
    pub stuck: Option<Stuck>,
}

/// `asked`, or `default` when absent; 400 `VALIDATION` outside `1..=max`.
pub(crate) fn page_size(asked: Option<u32>, default: u32, max: u32) -> Result<u32, Error> {
    let size = asked.unwrap_or(default);
    if (1..=max).contains(&size) {
        Ok(size)
    } else {
        Err(Error::validation(format!(
            "limit must be between 1 and {max}"
        )))
    }
}

/// Whether `rows` fill a page of `limit`: only then may another page follow.
pub(crate) fn is_full<T>(rows: &[T], limit: u32) -> bool {
    rows.len() == usize::try_from(limit).unwrap_or(usize::MAX)
}

fn no_such_user() -> Error {
    Error::not_found("no such user")
}

impl Market {
    /// Users by username, optionally those starting with `prefix`, `limit` per page
    /// (default [`DEFAULT_ADMIN_PAGE`], at most [`MAX_ADMIN_PAGE`]) after `cursor`, the last
    /// username key of the previous page and nothing else.
    pub async fn admin_list_users(
        &self,
        prefix: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<UserPage, Error> {
        let limit = page_size(limit, DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE)?;
        if let Some(c) = cursor
            && !Username::parse(c).is_ok_and(|u| u.key() == c)
        {
            return Err(Error::validation("invalid cursor"));
        }
        let users = self.store.list_users(prefix, cursor, limit).await?;
        let next_cursor = is_full(&users, limit)
            .then(|| users.last().map(|u| u.username.to_ascii_lowercase()))
            .flatten();
        Ok(UserPage { users, next_cursor })
    }

    /// One user, as admins see them.
    pub async fn admin_user(&self, user: UserId) -> Result<UserRow, Error> {
        self.store.user_by_id(user).await?.ok_or_else(no_such_user)
    }

    /// Sets `target`'s role. Admins cannot change their own (so the last admin cannot lock
    /// everyone out by accident, and nobody promotes themself).
    pub async fn set_user_role(
        &self,
        admin: &Admin,
        target: UserId,
        role: Role,
    ) -> Result<(), Error> {
        if target == admin.user {
            return Err(Error::new(
                ErrorKind::SelfAction,
                "admins cannot change their own role",
            ));
        }
        if !self.store.set_role(target, role).await? {
            return Err(no_such_user());
        }
        self.audit(
            admin
                .entry(AuditEvent::RoleChanged, target)
                .detail(format!("role={}", role.as_str())),
        )
        .await;
        Ok(())
    }

    /// Disables `target`'s account: every session and API key ends at once and logins are
    /// refused. Admins cannot disable themselves.
    pub async fn disable_user(&self, admin: &Admin, target: UserId) -> Result<(), Error> {
        if target == admin.user {
            return Err(Error::new(
                ErrorKind::SelfAction,
                "admins cannot disable themselves",
            ));
        }
        if !self.store.set_disabled(target, true).await? {
            return Err(no_such_user());
        }
        self.store
            .end_access(target, None, "disabled", self.now())
            .await?;
        self.audit(admin.entry(AuditEvent::UserDisabled, target))
            .await;
        Ok(())
    }

    /// Enables `target`'s disabled account.
    pub async fn enable_user(&self, admin: &Admin, target: UserId) -> Result<(), Error> {
        if !self.store.set_disabled(target, false).await? {
            return Err(no_such_user());
        }
        self.audit(admin.entry(AuditEvent::UserEnabled, target))
            .await;
        Ok(())
    }

    /// Ends every session of `target` (they must log in again) and revokes all their API keys.
    pub async fn logout_user(&self, admin: &Admin, target: UserId) -> Result<(), Error> {
        if self.store.user_by_id(target).await?.is_none() {
            return Err(no_such_user());
        }
        let (sessions, keys) = self
            .store
            .end_access(target, None, "admin", self.now())
            .await?;
        self.audit(
            admin
                .entry(AuditEvent::SessionsRevoked, target)
                .detail(format!("sessions={sessions} api_keys={keys}")),
        )
        .await;
        Ok(())
    }

    /// The audit log, newest first, optionally about `subject`, `limit` per page (default
    /// [`DEFAULT_ADMIN_PAGE`], at most [`MAX_ADMIN_PAGE`]) before `cursor`, the last position
    /// of the previous page.
    pub async fn audit_log(
        &self,
        subject: Option<UserId>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AuditPage, Error> {
        let limit = page_size(limit, DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE)?;
        let before = cursor
            .map(|c| {
                pupero_core::limits::parse_stored_integer(c)
                    .ok_or_else(|| Error::validation("invalid cursor"))
            })
            .transpose()?;
        let entries = self.store.audit_page(subject, before, limit).await?;
        let next_cursor = is_full(&entries, limit)
            .then(|| entries.last().map(|r| r.seq.to_string()))
            .flatten();
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }

    /// Withdrawals stuck between the ledger and the chain ([`Stuck`]), the longest unchanged
    /// first, `limit` of them (default [`DEFAULT_STUCK_PAGE`], at most [`MAX_STUCK_PAGE`]).
    pub async fn admin_stuck_withdrawals(
        &self,
        limit: Option<u32>,
    ) -> Result<Vec<OperatorWithdrawal>, Error> {
        let limit = page_size(limit, DEFAULT_STUCK_PAGE, MAX_STUCK_PAGE)?;
        let stuck = self
            .stuck_withdrawals(usize::try_from(limit).unwrap_or(usize::MAX))
            .await?;
        Ok(stuck
            .into_iter()
            .map(|(withdrawal, tx, why)| OperatorWithdrawal {
                withdrawal,
                tx,
                stuck: Some(why),
            })
            .collect())
    }

    /// An admin's re-drive of withdrawal `id` ([`Market::request_redrive`]), audited: the
    /// withdrawal as it stood.
    pub async fn admin_redrive_withdrawal(
        &self,
        admin: &Admin,
        id: Uuid,
    ) -> Result<OperatorWithdrawal, Error> {
        let withdrawal = self.request_redrive(id).await?;
        let tx = match withdrawal.tx {
            Some(tx) => self.store.withdrawal_tx(tx).await?,
            None => None,
        };
        self.audit(
            admin
                .entry(AuditEvent::WithdrawalRedriven, withdrawal.user)
                .detail(format!(
                    "withdrawal={} state={}",
                    withdrawal.id,
                    withdrawal.state.as_str()
                )),
        )
        .await;
        let stuck = self.stuck_of(&withdrawal);
        Ok(OperatorWithdrawal {
            withdrawal,
            tx,
            stuck,
        })
    }
}
