//! The one error of the market's services: a kind with a stable machine code, and a message
//! for people.
//!
//! Refusals (a rule says no) and failures (storage, the wallet) share the type so that a
//! service returns one `Result`; callers branch on [`Error::kind`] or the `is_*` classifiers,
//! never on the message. A failure ([`ErrorKind::Internal`]) logs its cause chain where it is
//! made and carries none of it: whoever shows the error to a client shows nothing of ours.

use std::borrow::Cow;

/// What went wrong, each with a stable code ([`ErrorKind::code`]) that clients may branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request's shape or values are invalid.
    Validation,
    /// No or invalid credentials (an unknown or revoked API key).
    Unauthorized,
    /// Wrong username/e-mail or password at login.
    InvalidCredentials,
    /// The password of a logged-in user, asked again before a sensitive change, is wrong.
    /// Same code as [`ErrorKind::InvalidCredentials`]; the session itself is fine.
    WrongPassword,
    /// The refresh token is unknown, expired or of an ended session: log in again.
    InvalidRefreshToken,
    /// The session was revoked (logout, password change, refresh-token reuse, admin action).
    SessionRevoked,
    /// The account is disabled.
    AccountDisabled,
    /// Authenticated, but not allowed.
    Forbidden,
    /// No such resource (or not visible to the caller).
    NotFound,
    /// The username is taken.
    UsernameTaken,
    /// The e-mail address is taken.
    EmailTaken,
    /// The user has as many API keys in use as allowed.
    ApiKeyLimit,
    /// Too many attempts; [`Error::retry_after_secs`] says when to try again.
    RateLimited,
    /// An admin tried to change or disable their own account.
    SelfAction,
    /// The account still holds or awaits money.
    AccountHasFunds,
    /// Without 2FA, this needs the account's password too.
    PasswordRequired,
    /// 2FA is on: the authenticator app's code (or a recovery code) is needed too.
    TotpRequired,
    /// The 2FA code is wrong, expired or already used, or the recovery code is unknown or used.
    InvalidTotp,
    /// As [`ErrorKind::TotpRequired`], at login: nobody is authenticated yet.
    LoginTotpRequired,
    /// As [`ErrorKind::InvalidTotp`], at login: nobody is authenticated yet.
    LoginInvalidTotp,
    /// 2FA is already on.
    TotpAlreadyEnabled,
    /// 2FA is off (or its setup was not started).
    TotpNotEnabled,
    /// The offer changed since it was read.
    OfferChanged,
    /// The offer's state does not allow this.
    OfferState,
    /// The account has as many open offers as it may.
    OfferLimit,
    /// The offer is paused or deleted.
    OfferUnavailable,
    /// The offer follows the market price and there is no fresh one.
    PriceUnavailable,
    /// The offer's price moved against the taker since they accepted it.
    PriceChanged,
    /// The account has as many open trades as it may.
    TradeLimit,
    /// The available balance does not cover the amount and its fee.
    InsufficientFunds,
    /// A taker tried to trade with their own offer.
    SelfTrade,
    /// The trade's state does not allow this step.
    InvalidTransition,
    /// The step is allowed only once the payment window is over.
    TooEarly,
    /// The step belongs to the other party.
    WrongParty,
    /// The trade changed concurrently too many times.
    TradeChanged,
    /// The idempotency key was already used for a different request.
    IdempotencyKeyReused,
    /// The destination is not an address of the platform's network, or is one of its own.
    InvalidAddress,
    /// The platform's Monero wallet is not configured or not answering.
    WalletUnavailable,
    /// The withdrawal is confirmed or failed: nothing is left to re-drive.
    WithdrawalFinal,
    /// The trade's chat is closed.
    ChatClosed,
    /// The trade's chat holds as many messages as it may.
    ChatFull,
    /// Feedback is only for a completed trade.
    FeedbackNotAllowed,
    /// The caller already left feedback on this trade.
    FeedbackExists,
    /// A link from a mail (its token) is no longer good.
    InvalidToken,
    /// The account has no e-mail address.
    NoEmail,
    /// The account's e-mail address is already verified.
    EmailAlreadyVerified,
    /// Something failed on our side; the log has the cause.
    Internal,
    /// A dependency (the database) is unavailable.
    Unavailable,
}

impl ErrorKind {
    /// Every kind, for tables that must cover them all.
    pub const ALL: [ErrorKind; 48] = [
        ErrorKind::Validation,
        ErrorKind::Unauthorized,
        ErrorKind::InvalidCredentials,
        ErrorKind::WrongPassword,
        ErrorKind::InvalidRefreshToken,
        ErrorKind::SessionRevoked,
        ErrorKind::AccountDisabled,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::UsernameTaken,
        ErrorKind::EmailTaken,
        ErrorKind::ApiKeyLimit,
        ErrorKind::RateLimited,
        ErrorKind::SelfAction,
        ErrorKind::AccountHasFunds,
        ErrorKind::PasswordRequired,
        ErrorKind::TotpRequired,
        ErrorKind::InvalidTotp,
        ErrorKind::LoginTotpRequired,
        ErrorKind::LoginInvalidTotp,
        ErrorKind::TotpAlreadyEnabled,
        ErrorKind::TotpNotEnabled,
        ErrorKind::OfferChanged,
        ErrorKind::OfferState,
        ErrorKind::OfferLimit,
        ErrorKind::OfferUnavailable,
        ErrorKind::PriceUnavailable,
        ErrorKind::PriceChanged,
        ErrorKind::TradeLimit,
        ErrorKind::InsufficientFunds,
        ErrorKind::SelfTrade,
        ErrorKind::InvalidTransition,
        ErrorKind::TooEarly,
        ErrorKind::WrongParty,
        ErrorKind::TradeChanged,
        ErrorKind::IdempotencyKeyReused,
        ErrorKind::InvalidAddress,
        ErrorKind::WalletUnavailable,
        ErrorKind::WithdrawalFinal,
        ErrorKind::ChatClosed,
        ErrorKind::ChatFull,
        ErrorKind::FeedbackNotAllowed,
        ErrorKind::FeedbackExists,
        ErrorKind::InvalidToken,
        ErrorKind::NoEmail,
        ErrorKind::EmailAlreadyVerified,
        ErrorKind::Internal,
        ErrorKind::Unavailable,
    ];

    /// The stable machine code, e.g. `INSUFFICIENT_FUNDS`. Clients branch on it.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::Validation => "VALIDATION",
            ErrorKind::Unauthorized => "UNAUTHORIZED",
            ErrorKind::InvalidCredentials | ErrorKind::WrongPassword => "INVALID_CREDENTIALS",
            ErrorKind::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            ErrorKind::SessionRevoked => "SESSION_REVOKED",
            ErrorKind::AccountDisabled => "ACCOUNT_DISABLED",
            ErrorKind::Forbidden => "FORBIDDEN",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::UsernameTaken => "USERNAME_TAKEN",
            ErrorKind::EmailTaken => "EMAIL_TAKEN",
            ErrorKind::ApiKeyLimit => "API_KEY_LIMIT",
            ErrorKind::RateLimited => "RATE_LIMITED",
            ErrorKind::SelfAction => "SELF_ACTION",
            ErrorKind::AccountHasFunds => "ACCOUNT_HAS_FUNDS",
            ErrorKind::PasswordRequired => "PASSWORD_REQUIRED",
            ErrorKind::TotpRequired | ErrorKind::LoginTotpRequired => "TOTP_REQUIRED",
            ErrorKind::InvalidTotp | ErrorKind::LoginInvalidTotp => "INVALID_TOTP",
            ErrorKind::TotpAlreadyEnabled => "TOTP_ALREADY_ENABLED",
            ErrorKind::TotpNotEnabled => "TOTP_NOT_ENABLED",
            ErrorKind::OfferChanged => "OFFER_CHANGED",
            ErrorKind::OfferState => "OFFER_STATE",
            ErrorKind::OfferLimit => "OFFER_LIMIT",
            ErrorKind::OfferUnavailable => "OFFER_UNAVAILABLE",
            ErrorKind::PriceUnavailable => "PRICE_UNAVAILABLE",
            ErrorKind::PriceChanged => "PRICE_CHANGED",
            ErrorKind::TradeLimit => "TRADE_LIMIT",
            ErrorKind::InsufficientFunds => "INSUFFICIENT_FUNDS",
            ErrorKind::SelfTrade => "SELF_TRADE",
            ErrorKind::InvalidTransition => "INVALID_TRANSITION",
            ErrorKind::TooEarly => "TOO_EARLY",
            ErrorKind::WrongParty => "WRONG_PARTY",
            ErrorKind::TradeChanged => "TRADE_CHANGED",
            ErrorKind::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorKind::InvalidAddress => "INVALID_ADDRESS",
            ErrorKind::WalletUnavailable => "WALLET_UNAVAILABLE",
            ErrorKind::WithdrawalFinal => "WITHDRAWAL_FINAL",
            ErrorKind::ChatClosed => "CHAT_CLOSED",
            ErrorKind::ChatFull => "CHAT_FULL",
            ErrorKind::FeedbackNotAllowed => "FEEDBACK_NOT_ALLOWED",
            ErrorKind::FeedbackExists => "FEEDBACK_EXISTS",
            ErrorKind::InvalidToken => "INVALID_TOKEN",
            ErrorKind::NoEmail => "NO_EMAIL",
            ErrorKind::EmailAlreadyVerified => "EMAIL_ALREADY_VERIFIED",
            ErrorKind::Internal => "INTERNAL",
            ErrorKind::Unavailable => "UNAVAILABLE",
        }
    }
}

/// A service's refusal or failure.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    retry_after_secs: u64,
}

impl Error {
    /// An error of `kind`, explained by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        debug_assert!(kind != ErrorKind::RateLimited, "use Error::rate_limited");
        Error {
            kind,
            message: message.into(),
            retry_after_secs: 0,
        }
    }

    /// [`ErrorKind::Validation`].
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Validation, message)
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::Forbidden`].
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Forbidden, message)
    }

    /// [`ErrorKind::RateLimited`]: try again after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Error {
        Error {
            kind: ErrorKind::RateLimited,
            message: Cow::Borrowed("too many attempts; try again later"),
            retry_after_secs,
        }
    }

    /// [`ErrorKind::Internal`]; logs `cause` with its chain here. The error carries none of it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Error {
        tracing::error!(error = %chain(cause), "internal error");
        Error::new(ErrorKind::Internal, "internal error")
    }

    /// The database cannot serve now (see [`pupero_ledger::is_unavailable`]): logged, and
    /// answered as `UNAVAILABLE`, to be tried again.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Error {
        tracing::warn!(error = %chain(cause), "database unavailable");
        Error::new(
            ErrorKind::Unavailable,
            "the service is unavailable; try again shortly",
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine code of [`Error::kind`].
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The explanation for people. Not an interface: it may change.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For [`ErrorKind::RateLimited`], the seconds to wait before trying again; else 0.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs
    }

    /// Nothing of the kind exists (or the caller may not see it).
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The state no longer allows the step (a trade moved on, a withdrawal is final).
    pub fn is_invalid_transition(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::InvalidTransition | ErrorKind::WithdrawalFinal
        )
    }

    /// The money is not there.
    pub fn is_insufficient_funds(&self) -> bool {
        self.kind == ErrorKind::InsufficientFunds
    }

    /// Too many attempts for now.
    pub fn is_rate_limited(&self) -> bool {
        self.kind == ErrorKind::RateLimited
    }

    /// A second factor or password is missing or wrong.
    pub fn is_step_up_refused(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::WrongPassword
                | ErrorKind::PasswordRequired
                | ErrorKind::TotpRequired
                | ErrorKind::InvalidTotp
                | ErrorKind::LoginTotpRequired
                | ErrorKind::LoginInvalidTotp
        )
    }

    /// Our side failed or a dependency is away: not the caller's doing, worth a retry later.
    pub fn is_failure(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::WalletUnavailable
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

/// An error and its sources, one line: `outer: inner: innermost`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Storage failures are internal errors; refusals are values in the store's return types.
impl From<crate::store::StoreError> for Error {
    fn from(error: crate::store::StoreError) -> Error {
        let unavailable = match &error {
            crate::store::StoreError::Database(e) => pupero_ledger::is_unavailable(e),
            crate::store::StoreError::Open(e) => e.is_unavailable(),
            crate::store::StoreError::Corrupt(_) => false,
        };
        if unavailable {
            return Error::unavailable(&error);
        }
        Error::internal(&error)
    }
}

/// The ledger's failures are internal errors, or the database being unavailable; its refusals
/// are mapped where they happen.
impl From<pupero_ledger::Error> for Error {
    fn from(error: pupero_ledger::Error) -> Error {
        if error.is_unavailable() {
            return Error::unavailable(&error);
        }
        Error::internal(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_and_has_an_upper_snake_code() {
        let listed: std::collections::HashSet<ErrorKind> = ErrorKind::ALL.into_iter().collect();
        for kind in &listed {
            let code = kind.code();
            assert!(!code.is_empty());
            assert!(
                code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{code}"
            );
        }
        // A kind added without being listed fails to compile in `listed_exhaustively`.
        assert_eq!(listed.len(), 48);
    }

    /// Compiles only while every kind is named: a new kind must be added to
    /// [`ErrorKind::ALL`] (and to the server's table of statuses) too.
    #[allow(dead_code)]
    fn listed_exhaustively(kind: ErrorKind) {
        match kind {
            ErrorKind::Validation
            | ErrorKind::Unauthorized
            | ErrorKind::InvalidCredentials
            | ErrorKind::WrongPassword
            | ErrorKind::InvalidRefreshToken
            | ErrorKind::SessionRevoked
            | ErrorKind::AccountDisabled
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::UsernameTaken
            | ErrorKind::EmailTaken
            | ErrorKind::ApiKeyLimit
            | ErrorKind::RateLimited
            | ErrorKind::SelfAction
            | ErrorKind::AccountHasFunds
            | ErrorKind::PasswordRequired
            | ErrorKind::TotpRequired
            | ErrorKind::InvalidTotp
            | ErrorKind::LoginTotpRequired
            | ErrorKind::LoginInvalidTotp
            | ErrorKind::TotpAlreadyEnabled
            | ErrorKind::TotpNotEnabled
            | ErrorKind::OfferChanged
            | ErrorKind::OfferState
            | ErrorKind::OfferLimit
            | ErrorKind::OfferUnavailable
            | ErrorKind::PriceUnavailable
            | ErrorKind::PriceChanged
            | ErrorKind::TradeLimit
            | ErrorKind::InsufficientFunds
            | ErrorKind::SelfTrade
            | ErrorKind::InvalidTransition
            | ErrorKind::TooEarly
            | ErrorKind::WrongParty
            | ErrorKind::TradeChanged
            | ErrorKind::IdempotencyKeyReused
            | ErrorKind::InvalidAddress
            | ErrorKind::WalletUnavailable
            | ErrorKind::WithdrawalFinal
            | ErrorKind::ChatClosed
            | ErrorKind::ChatFull
            | ErrorKind::FeedbackNotAllowed
            | ErrorKind::FeedbackExists
            | ErrorKind::InvalidToken
            | ErrorKind::NoEmail
            | ErrorKind::EmailAlreadyVerified
            | ErrorKind::Internal
            | ErrorKind::Unavailable => {}
        }
    }
}
