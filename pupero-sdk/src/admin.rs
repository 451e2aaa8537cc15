//! Profile management and administration.

use serde::Serialize;
use uuid::Uuid;

use crate::{Client, Error, SecondFactor};

pub use pupero_api::{
    AdminUser, AdminUserPage, AuditLogEntry, AuditLogPage, ProfileStats, PublicProfile,
};
/// The wire type `ReconciliationView`, by the name this SDK gave it first.
pub type Reconciliation = pupero_api::ReconciliationView;
/// The wire type `FeedbackCountsView`, by the name this SDK gave it first.
pub type FeedbackCounts = pupero_api::FeedbackCountsView;

#[derive(Serialize)]
struct EmailChange<'a> {
    email: Option<&'a str>,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

#[derive(Serialize)]
struct PasswordChange<'a> {
    current_password: &'a str,
    new_password: &'a str,
}

#[derive(Serialize)]
struct AccountDeletion<'a> {
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
    forfeit_remainder: bool,
}

#[derive(Serialize)]
struct RoleChange<'a> {
    role: &'a str,
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", crate::urlencode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    /// Sets or removes the caller's e-mail address, with the password (and the second factor
    /// when 2FA is on).
    pub async fn set_email(
        &self,
        email: Option<&str>,
        password: &str,
        second_factor: Option<SecondFactor<'_>>,
    ) -> Result<(), Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let body = EmailChange {
            email,
            password,
            totp_code,
            recovery_code,
        };
        self.no_content(reqwest::Method::PUT, "/api/v1/me/email", Some(&body))
            .await
    }

    /// Changes the caller's password; the server ends every other session.
    pub async fn change_password(
        &self,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), Error> {
        let body = PasswordChange {
            current_password,
            new_password,
        };
        self.no_content(reqwest::Method::POST, "/api/v1/me/password", Some(&body))
            .await
    }

    /// The caller's live sessions, the most recently started first.
    pub async fn my_sessions(&self) -> Result<Vec<pupero_api::SessionView>, Error> {
        self.send(
            reqwest::Method::GET,
            "/api/v1/me/sessions",
            None::<&()>,
            true,
        )
        .await
    }

    /// Ends one of the caller's sessions (the current one too: that logs out on the server,
    /// and this client's tokens stop working).
    pub async fn end_session(&self, id: uuid::Uuid) -> Result<(), Error> {
        self.no_content(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/sessions/{id}"),
            None::<&()>,
        )
        .await
    }

    /// Deletes the caller's account (refused while it holds money), with the password (and
    /// the second factor when 2FA is on).
    pub async fn delete_account(
        &self,
        password: &str,
        second_factor: Option<SecondFactor<'_>>,
    ) -> Result<(), Error> {
        self.close_account(password, second_factor, false).await
    }

    /// Deletes the caller's account as [`Client::delete_account`] does; with
    /// `forfeit_remainder`, a balance too small to withdraw (at most 0.0101 XMR, nothing held
    /// or incoming) is given up to the platform rather than blocking it.
    pub async fn close_account(
        &self,
        password: &str,
        second_factor: Option<SecondFactor<'_>>,
        forfeit_remainder: bool,
    ) -> Result<(), Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let body = AccountDeletion {
            password,
            totp_code,
            recovery_code,
            forfeit_remainder,
        };
        self.no_content(reqwest::Method::POST, "/api/v1/me/delete", Some(&body))
            .await?;
        *self.lock() = None;
        Ok(())
    }

    /// A user's public profile.
    pub async fn public_profile(&self, username: &str) -> Result<PublicProfile, Error> {
        let path = format!("/api/v1/users/{}", crate::urlencode(username));
        self.send(reqwest::Method::GET, &path, None::<&()>, false)
            .await
    }

    /// Admin: users by username, optionally starting with `q`.
    pub async fn admin_list_users(
        &self,
        q: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<AdminUserPage, Error> {
        let path = format!(
            "/api/v1/admin/users{}",
            query(&[
                ("q", q.map(str::to_owned)),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor.map(str::to_owned))
            ])
        );
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// Admin: one user.
    pub async fn admin_get_user(&self, id: Uuid) -> Result<AdminUser, Error> {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/admin/users/{id}"),
            None::<&()>,
            true,
        )
        .await
    }

    /// Admin: sets a user's role (`user`, `moderator`, `admin`).
    pub async fn admin_set_role(&self, id: Uuid, role: &str) -> Result<(), Error> {
        self.no_content(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/users/{id}/role"),
            Some(&RoleChange { role }),
        )
        .await
    }

    /// Admin: disables a user and ends their sessions.
    pub async fn admin_disable_user(&self, id: Uuid) -> Result<(), Error> {
        self.no_content(
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/disable"),
            None::<&()>,
        )
        .await
    }

    /// Admin: enables a user.
    pub async fn admin_enable_user(&self, id: Uuid) -> Result<(), Error> {
        self.no_content(
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/enable"),
            None::<&()>,
        )
        .await
    }

    /// Admin: ends every session of a user.
    pub async fn admin_logout_user(&self, id: Uuid) -> Result<(), Error> {
        self.no_content(
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/logout"),
            None::<&()>,
        )
        .await
    }

    /// Admin: the audit log, newest first.
    pub async fn admin_audit_log(
        &self,
        user_id: Option<Uuid>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<AuditLogPage, Error> {
        let path = format!(
            "/api/v1/admin/audit{}",
            query(&[
                ("user_id", user_id.map(|u| u.to_string())),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor.map(str::to_owned)),
            ])
        );
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// Admin: reconciliation of the platform wallet against users' balances. 503
    /// `WALLET_UNAVAILABLE` without a wallet.
    pub async fn admin_reconciliation(&self) -> Result<Reconciliation, Error> {
        self.send(
            reqwest::Method::GET,
            "/api/v1/admin/reconciliation",
            None::<&()>,
            true,
        )
        .await
    }

    pub(crate) async fn no_content<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), Error> {
        self.request(method, path, body, true).await.map(drop)
    }
}
