//! Security events for the audit log that admins read.

use pupero_core::UserId;

/// Longest detail text kept per event.
pub const MAX_AUDIT_DETAIL_BYTES: usize = 512;

/// What happened. The names are stable: admins filter and alert on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// An account was created.
    Registered,
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed (wrong password, unknown user, missing or wrong 2FA code).
    LoginFailed,
    /// A session ended by logout.
    LoggedOut,
    /// A used refresh token was presented again; its session was revoked.
    RefreshTokenReused,
    /// 2FA was turned on.
    TotpEnabled,
    /// 2FA was turned off.
    TotpDisabled,
    /// A one-time recovery code was used instead of a 2FA code.
    RecoveryCodeUsed,
    /// The password changed; other sessions ended.
    PasswordChanged,
    /// An admin changed a role.
    RoleChanged,
    /// An admin disabled an account.
    UserDisabled,
    /// An admin enabled an account.
    UserEnabled,
    /// An admin ended all sessions of an account.
    SessionsRevoked,
    /// An account was deleted.
    AccountDeleted,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An API key was used (first use per process and key, to keep the log readable).
    ApiKeyUsed,
    /// A request was refused by a rate limit or lockout.
    RateLimited,
    /// An admin set the market price of a currency.
    PriceSet,
    /// A moderator resolved a trade's dispute.
    DisputeResolved,
    /// XMR was credited from the development faucet (dev mode only).
    DevCredit,
    /// An admin re-drove a stuck withdrawal.
    WithdrawalRedriven,
    /// A wrong password was given to confirm a sensitive action of a logged-in user.
    PasswordCheckFailed,
    /// A wrong, used or expired 2FA code (or recovery code) was given, anywhere.
    SecondFactorFailed,
    /// The e-mail address changed.
    EmailChanged,
    /// Someone tried an e-mail address that belongs to another account.
    EmailTaken,
    /// A password-reset link was asked for (the detail says whether one was sent).
    PasswordResetRequested,
    /// A password was set without the old one: by a reset link, or by the operator.
    PasswordReset,
    /// An e-mail address was verified by the link sent to it.
    EmailVerified,
}

impl AuditEvent {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Registered => "registered",
            AuditEvent::LoginSucceeded => "login_succeeded",
            AuditEvent::LoginFailed => "login_failed",
            AuditEvent::LoggedOut => "logged_out",
            AuditEvent::RefreshTokenReused => "refresh_token_reused",
            AuditEvent::TotpEnabled => "totp_enabled",
            AuditEvent::TotpDisabled => "totp_disabled",
            AuditEvent::RecoveryCodeUsed => "recovery_code_used",
            AuditEvent::PasswordChanged => "password_changed",
            AuditEvent::RoleChanged => "role_changed",
            AuditEvent::UserDisabled => "user_disabled",
            AuditEvent::UserEnabled => "user_enabled",
            AuditEvent::SessionsRevoked => "sessions_revoked",
            AuditEvent::AccountDeleted => "account_deleted",
            AuditEvent::ApiKeyCreated => "api_key_created",
            AuditEvent::ApiKeyRevoked => "api_key_revoked",
            AuditEvent::ApiKeyUsed => "api_key_used",
            AuditEvent::RateLimited => "rate_limited",
            AuditEvent::PriceSet => "price_set",
            AuditEvent::DisputeResolved => "dispute_resolved",
            AuditEvent::DevCredit => "dev_credit",
            AuditEvent::WithdrawalRedriven => "withdrawal_redriven",
            AuditEvent::PasswordCheckFailed => "password_check_failed",
            AuditEvent::SecondFactorFailed => "second_factor_failed",
            AuditEvent::EmailChanged => "email_changed",
            AuditEvent::EmailTaken => "email_taken",
            AuditEvent::PasswordResetRequested => "password_reset_requested",
            AuditEvent::PasswordReset => "password_reset",
            AuditEvent::EmailVerified => "email_verified",
        }
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// What happened.
    pub event: AuditEvent,
    /// Who did it, when known.
    pub actor: Option<UserId>,
    /// Whom it concerns, when known.
    pub subject: Option<UserId>,
    /// The client's address.
    pub client_ip: Option<String>,
    /// Free text (never a secret), cut to [`MAX_AUDIT_DETAIL_BYTES`].
    pub detail: String,
}

impl AuditEntry {
    /// An entry about `user`, acting on themself.
    pub fn of(event: AuditEvent, user: Option<UserId>) -> AuditEntry {
        AuditEntry {
            event,
            actor: user,
            subject: user,
            client_ip: None,
            detail: String::new(),
        }
    }

    /// The same entry about `subject`, someone other than the actor.
    pub fn about(mut self, subject: UserId) -> AuditEntry {
        self.subject = Some(subject);
        self
    }

    /// The same entry with the client's address.
    pub fn from_ip(mut self, ip: Option<String>) -> AuditEntry {
        self.client_ip = ip;
        self
    }

    /// The same entry with a detail text.
    pub fn detail(mut self, detail: impl Into<String>) -> AuditEntry {
        self.detail = detail.into();
        self
    }
}

/// Keys remembered by [`FirstUse`]. Keys in use are few per user but users are many, and a
/// process runs for months: unbounded, the set would only grow. When full it starts over, so a
/// key's use is logged once more, never missed.
pub const MAX_REMEMBERED_KEYS: usize = 10_000;

/// Which API keys this process has seen used, so that [`AuditEvent::ApiKeyUsed`] is written on
/// a key's first use rather than on every request.
#[derive(Debug, Default)]
pub struct FirstUse {
    seen: std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>,
}

impl FirstUse {
    /// True the first time `key` is seen (since start, or since the set last filled up).
    pub fn first(&self, key: uuid::Uuid) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_REMEMBERED_KEYS && !seen.contains(&key) {
            seen.clear();
        }
        seen.insert(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_is_reported_once_and_memory_stays_bounded() {
        let first_use = FirstUse::default();
        let key = uuid::Uuid::new_v4();
        assert!(first_use.first(key));
        assert!(!first_use.first(key));
        for _ in 0..MAX_REMEMBERED_KEYS {
            first_use.first(uuid::Uuid::new_v4());
        }
        assert!(first_use.seen.lock().unwrap().len() <= MAX_REMEMBERED_KEYS);
        assert!(first_use.first(key), "forgotten once the set filled up");
    }
}
