//! The one error envelope of the API: an HTTP status, a stable machine code and a message.
//!
//! Every failure — handler errors, request parse errors, unknown routes, oversized or late
//! bodies — leaves the server as `{"code": "...", "message": "..."}`. A 5xx body is opaque: the
//! cause chain goes to the log with the request id, never to the client.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use pupero_market::{Error as MarketError, ErrorKind};

/// Stable error codes. Clients branch on these, never on messages. The market's are its
/// [`ErrorKind`]s' codes; the rest belong to HTTP alone.
pub mod codes {
    use pupero_market::ErrorKind;

    /// The request's shape or values are invalid.
    pub const VALIDATION: &str = ErrorKind::Validation.code();
    /// No or invalid credentials.
    pub const UNAUTHORIZED: &str = ErrorKind::Unauthorized.code();
    /// Wrong username/e-mail or password.
    pub const INVALID_CREDENTIALS: &str = ErrorKind::InvalidCredentials.code();
    /// The refresh token is unknown, expired or of an ended session: log in again.
    pub const INVALID_REFRESH_TOKEN: &str = ErrorKind::InvalidRefreshToken.code();
    /// The access token's lifetime is over; refresh it.
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    /// The session was revoked (logout, password change, refresh-token reuse, admin action).
    pub const SESSION_REVOKED: &str = ErrorKind::SessionRevoked.code();
    /// The account is disabled.
    pub const ACCOUNT_DISABLED: &str = ErrorKind::AccountDisabled.code();
    /// Authenticated, but not allowed.
    pub const FORBIDDEN: &str = ErrorKind::Forbidden.code();
    /// No such resource (or not visible to the caller).
    pub const NOT_FOUND: &str = ErrorKind::NotFound.code();
    /// The username is taken.
    pub const USERNAME_TAKEN: &str = ErrorKind::UsernameTaken.code();
    /// The e-mail address is taken.
    pub const EMAIL_TAKEN: &str = ErrorKind::EmailTaken.code();
    /// The user has as many API keys in use as allowed; revoke one first.
    pub const API_KEY_LIMIT: &str = ErrorKind::ApiKeyLimit.code();
    /// Too many requests; see `Retry-After`.
    pub const RATE_LIMITED: &str = ErrorKind::RateLimited.code();
    /// The request body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The request body did not arrive in time; the connection is closed. Send it again.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// The method is not allowed on this path.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// An admin tried to change or disable their own account.
    pub const SELF_ACTION: &str = ErrorKind::SelfAction.code();
    /// The account still holds or awaits money.
    pub const ACCOUNT_HAS_FUNDS: &str = ErrorKind::AccountHasFunds.code();
    /// Without 2FA, this needs the account's password too.
    pub const PASSWORD_REQUIRED: &str = ErrorKind::PasswordRequired.code();
    /// 2FA is on: send the authenticator app's code (or a recovery code) too.
    pub const TOTP_REQUIRED: &str = ErrorKind::TotpRequired.code();
    /// The 2FA code is wrong, expired or already used, or the recovery code is unknown or used.
    pub const INVALID_TOTP: &str = ErrorKind::InvalidTotp.code();
    /// 2FA is already on; disable it before setting it up again.
    pub const TOTP_ALREADY_ENABLED: &str = ErrorKind::TotpAlreadyEnabled.code();
    /// 2FA is off (or its setup was not started).
    pub const TOTP_NOT_ENABLED: &str = ErrorKind::TotpNotEnabled.code();
    /// The offer changed since it was read (a concurrent edit); read it again.
    pub const OFFER_CHANGED: &str = ErrorKind::OfferChanged.code();
    /// The offer's state does not allow this (e.g. resuming a deleted offer).
    pub const OFFER_STATE: &str = ErrorKind::OfferState.code();
    /// The account has as many open offers as it may.
    pub const OFFER_LIMIT: &str = ErrorKind::OfferLimit.code();
    /// The offer is paused or deleted: no trade can be opened on it now.
    pub const OFFER_UNAVAILABLE: &str = ErrorKind::OfferUnavailable.code();
    /// The offer follows the market price and there is no fresh one.
    pub const PRICE_UNAVAILABLE: &str = ErrorKind::PriceUnavailable.code();
    /// The offer's price moved against the taker since they accepted it; read it again.
    pub const PRICE_CHANGED: &str = ErrorKind::PriceChanged.code();
    /// The account has as many open trades as it may.
    pub const TRADE_LIMIT: &str = ErrorKind::TradeLimit.code();
    /// The seller's available balance does not cover the trade and its fee.
    pub const INSUFFICIENT_FUNDS: &str = ErrorKind::InsufficientFunds.code();
    /// A taker tried to trade with their own offer.
    pub const SELF_TRADE: &str = ErrorKind::SelfTrade.code();
    /// The trade's state does not allow this step (e.g. releasing twice).
    pub const INVALID_TRANSITION: &str = ErrorKind::InvalidTransition.code();
    /// The step is allowed only once the payment window is over.
    pub const TOO_EARLY: &str = ErrorKind::TooEarly.code();
    /// The step belongs to the other party (e.g. the buyer releasing).
    pub const WRONG_PARTY: &str = ErrorKind::WrongParty.code();
    /// The trade changed concurrently too many times; read it again.
    pub const TRADE_CHANGED: &str = ErrorKind::TradeChanged.code();
    /// The `Idempotency-Key` was already used for a different request.
    pub const IDEMPOTENCY_KEY_REUSED: &str = ErrorKind::IdempotencyKeyReused.code();
    /// The destination is not an address of the platform's network, or is one of its own
    /// deposit addresses.
    pub const INVALID_ADDRESS: &str = ErrorKind::InvalidAddress.code();
    /// The platform's Monero wallet is not configured or not answering; try again later.
    pub const WALLET_UNAVAILABLE: &str = ErrorKind::WalletUnavailable.code();
    /// The withdrawal is confirmed or failed: nothing is left to re-drive.
    pub const WITHDRAWAL_FINAL: &str = ErrorKind::WithdrawalFinal.code();
    /// The trade's chat is closed: the trade ended more than the grace period ago.
    pub const CHAT_CLOSED: &str = ErrorKind::ChatClosed.code();
    /// The trade's chat holds as many messages as it may.
    pub const CHAT_FULL: &str = ErrorKind::ChatFull.code();
    /// Feedback is only for a completed (released or resolved) trade.
    pub const FEEDBACK_NOT_ALLOWED: &str = ErrorKind::FeedbackNotAllowed.code();
    /// The caller already left feedback on this trade.
    pub const FEEDBACK_EXISTS: &str = ErrorKind::FeedbackExists.code();
    /// The caller (or the server) has as many event streams open as allowed; close one, or
    /// read `/api/v1/events` instead.
    pub const STREAM_LIMIT: &str = "STREAM_LIMIT";
    /// A link from a mail (its token) is unknown, used, superseded by a newer one, or expired;
    /// or the account's address changed since it was sent.
    pub const INVALID_TOKEN: &str = ErrorKind::InvalidToken.code();
    /// The account has no e-mail address.
    pub const NO_EMAIL: &str = ErrorKind::NoEmail.code();
    /// The account's e-mail address is already verified.
    pub const EMAIL_ALREADY_VERIFIED: &str = ErrorKind::EmailAlreadyVerified.code();
    /// Something failed on our side; the log has the cause.
    pub const INTERNAL: &str = ErrorKind::Internal.code();
    /// A dependency (the database) is unavailable.
    pub const UNAVAILABLE: &str = ErrorKind::Unavailable.code();
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `INSUFFICIENT_FUNDS`.
    pub code: String,
    /// Human-readable explanation. Not an interface: it may change.
    pub message: String,
}

/// An error response of the API.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request is malformed or invalid.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Authentication is missing or invalid.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller may not do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The resource does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Failure on the server's side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub(crate) fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: code.to_owned(),
        message: message.into(),
    })
}

impl ApiError {
    /// 400 `VALIDATION`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(body(codes::VALIDATION, message))
    }
    /// 400 with `code`.
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(body(code, message))
    }
    /// 401 with `code`.
    pub fn unauthorized(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::Unauthorized(body(code, message))
    }
    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(body(codes::FORBIDDEN, message))
    }
    /// 403 with `code`.
    pub fn forbidden_code(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(body(code, message))
    }
    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound(body(codes::NOT_FOUND, message))
    }
    /// 409 with `code`.
    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::Conflict(body(code, message))
    }
    /// 429 `RATE_LIMITED`, retry after `secs`.
    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError::TooManyRequests(
            body(codes::RATE_LIMITED, "too many attempts; try again later"),
            retry_after_secs,
        )
    }
    /// 429 `STREAM_LIMIT`, retry after `secs`.
    pub fn stream_limit(retry_after_secs: u64) -> ApiError {
        ApiError::TooManyRequests(
            body(
                codes::STREAM_LIMIT,
                "too many event streams open; close one first",
            ),
            retry_after_secs,
        )
    }
    /// 500 `INTERNAL`; logs `cause` with its chain. The client sees nothing of it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        tracing::error!(error = %chain(cause), "internal error");
        ApiError::Internal(body(codes::INTERNAL, "internal error"))
    }

    /// The stable code of this error.
    pub fn code(&self) -> &str {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b) => &b.0.code,
        }
    }

    /// As a plain poem error, for places that must return one (security scheme checkers).
    pub fn into_poem(self) -> poem::Error {
        use poem::IntoResponse as _;
        poem::Error::from_response(self.into_response())
    }
}

/// Request parse failures (bad JSON, missing fields, wrong types) become 400 `VALIDATION`.
fn bad_request(error: poem::Error) -> ApiError {
    ApiError::validation(error.to_string())
}

pub(crate) use pupero_market::error::chain;

/// The HTTP status of each kind of the market's errors: the one place where a service's
/// refusal becomes a status.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Validation | ErrorKind::InvalidAddress | ErrorKind::InvalidToken => 400,
        ErrorKind::Unauthorized
        | ErrorKind::InvalidCredentials
        | ErrorKind::InvalidRefreshToken
        | ErrorKind::SessionRevoked
        | ErrorKind::LoginTotpRequired
        | ErrorKind::LoginInvalidTotp => 401,
        ErrorKind::AccountDisabled
        | ErrorKind::Forbidden
        | ErrorKind::WrongPassword
        | ErrorKind::SelfAction
        | ErrorKind::PasswordRequired
        | ErrorKind::TotpRequired
        | ErrorKind::InvalidTotp
        | ErrorKind::WrongParty => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::UsernameTaken
        | ErrorKind::EmailTaken
        | ErrorKind::ApiKeyLimit
        | ErrorKind::AccountHasFunds
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
        | ErrorKind::TradeChanged
        | ErrorKind::IdempotencyKeyReused
        | ErrorKind::WithdrawalFinal
        | ErrorKind::ChatClosed
        | ErrorKind::ChatFull
        | ErrorKind::FeedbackNotAllowed
        | ErrorKind::FeedbackExists
        | ErrorKind::NoEmail
        | ErrorKind::EmailAlreadyVerified => 409,
        ErrorKind::RateLimited => 429,
        ErrorKind::Internal => 500,
        ErrorKind::WalletUnavailable | ErrorKind::Unavailable => 503,
        // A kind added to the market is a server error until it is given its status here
        // (the table test fails first).
        _ => 500,
    }
}

/// A service's error as the API answers it: [`status_of`] its kind, its code and message.
impl From<MarketError> for ApiError {
    fn from(error: MarketError) -> ApiError {
        let kind = error.kind();
        let body = body(kind.code(), error.message());
        match status_of(kind) {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthorized(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            409 => ApiError::Conflict(body),
            429 => ApiError::TooManyRequests(body, error.retry_after_secs()),
            503 => ApiError::Unavailable(body),
            _ => ApiError::Internal(body),
        }
    }
}

/// Storage failures are internal errors.
impl From<pupero_market::store::StoreError> for ApiError {
    fn from(error: pupero_market::store::StoreError) -> ApiError {
        MarketError::from(error).into()
    }
}

/// Ledger failures are internal errors; its refusals are mapped where they happen.
impl From<pupero_ledger::Error> for ApiError {
    fn from(error: pupero_ledger::Error) -> ApiError {
        MarketError::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of the market's errors, with the status and code the API answers it with.
    const TABLE: [(ErrorKind, u16, &str); 48] = [
        (ErrorKind::Validation, 400, "VALIDATION"),
        (ErrorKind::Unauthorized, 401, "UNAUTHORIZED"),
        (ErrorKind::InvalidCredentials, 401, "INVALID_CREDENTIALS"),
        (ErrorKind::WrongPassword, 403, "INVALID_CREDENTIALS"),
        (ErrorKind::InvalidRefreshToken, 401, "INVALID_REFRESH_TOKEN"),
        (ErrorKind::SessionRevoked, 401, "SESSION_REVOKED"),
        (ErrorKind::AccountDisabled, 403, "ACCOUNT_DISABLED"),
        (ErrorKind::Forbidden, 403, "FORBIDDEN"),
        (ErrorKind::NotFound, 404, "NOT_FOUND"),
        (ErrorKind::UsernameTaken, 409, "USERNAME_TAKEN"),
        (ErrorKind::EmailTaken, 409, "EMAIL_TAKEN"),
        (ErrorKind::ApiKeyLimit, 409, "API_KEY_LIMIT"),
        (ErrorKind::RateLimited, 429, "RATE_LIMITED"),
        (ErrorKind::SelfAction, 403, "SELF_ACTION"),
        (ErrorKind::AccountHasFunds, 409, "ACCOUNT_HAS_FUNDS"),
        (ErrorKind::PasswordRequired, 403, "PASSWORD_REQUIRED"),
        (ErrorKind::TotpRequired, 403, "TOTP_REQUIRED"),
        (ErrorKind::InvalidTotp, 403, "INVALID_TOTP"),
        (ErrorKind::LoginTotpRequired, 401, "TOTP_REQUIRED"),
        (ErrorKind::LoginInvalidTotp, 401, "INVALID_TOTP"),
        (ErrorKind::TotpAlreadyEnabled, 409, "TOTP_ALREADY_ENABLED"),
        (ErrorKind::TotpNotEnabled, 409, "TOTP_NOT_ENABLED"),
        (ErrorKind::OfferChanged, 409, "OFFER_CHANGED"),
        (ErrorKind::OfferState, 409, "OFFER_STATE"),
        (ErrorKind::OfferLimit, 409, "OFFER_LIMIT"),
        (ErrorKind::OfferUnavailable, 409, "OFFER_UNAVAILABLE"),
        (ErrorKind::PriceUnavailable, 409, "PRICE_UNAVAILABLE"),
        (ErrorKind::PriceChanged, 409, "PRICE_CHANGED"),
        (ErrorKind::TradeLimit, 409, "TRADE_LIMIT"),
        (ErrorKind::InsufficientFunds, 409, "INSUFFICIENT_FUNDS"),
        (ErrorKind::SelfTrade, 409, "SELF_TRADE"),
        (ErrorKind::InvalidTransition, 409, "INVALID_TRANSITION"),
        (ErrorKind::TooEarly, 409, "TOO_EARLY"),
        (ErrorKind::WrongParty, 403, "WRONG_PARTY"),
        (ErrorKind::TradeChanged, 409, "TRADE_CHANGED"),
        (
            ErrorKind::IdempotencyKeyReused,
            409,
            "IDEMPOTENCY_KEY_REUSED",
        ),
        (ErrorKind::InvalidAddress, 400, "INVALID_ADDRESS"),
        (ErrorKind::WalletUnavailable, 503, "WALLET_UNAVAILABLE"),
        (ErrorKind::WithdrawalFinal, 409, "WITHDRAWAL_FINAL"),
        (ErrorKind::ChatClosed, 409, "CHAT_CLOSED"),
        (ErrorKind::ChatFull, 409, "CHAT_FULL"),
        (ErrorKind::FeedbackNotAllowed, 409, "FEEDBACK_NOT_ALLOWED"),
        (ErrorKind::FeedbackExists, 409, "FEEDBACK_EXISTS"),
        (ErrorKind::InvalidToken, 400, "INVALID_TOKEN"),
        (ErrorKind::NoEmail, 409, "NO_EMAIL"),
        (
            ErrorKind::EmailAlreadyVerified,
            409,
            "EMAIL_ALREADY_VERIFIED",
        ),
        (ErrorKind::Internal, 500, "INTERNAL"),
        (ErrorKind::Unavailable, 503, "UNAVAILABLE"),
    ];

    #[test]
    fn every_kind_maps_to_its_status_and_code() {
        let covered: std::collections::HashSet<ErrorKind> =
            TABLE.iter().map(|(kind, _, _)| *kind).collect();
        for kind in ErrorKind::ALL {
            assert!(
                covered.contains(&kind),
                "{kind:?} is missing from the table"
            );
        }
        for (kind, status, code) in TABLE {
            let error = if kind == ErrorKind::RateLimited {
                MarketError::rate_limited(7)
            } else {
                MarketError::new(kind, "message")
            };
            let api = ApiError::from(error);
            let (got_status, retry) = match &api {
                ApiError::BadRequest(_) => (400, None),
                ApiError::Unauthorized(_) => (401, None),
                ApiError::Forbidden(_) => (403, None),
                ApiError::NotFound(_) => (404, None),
                ApiError::Conflict(_) => (409, None),
                ApiError::TooManyRequests(_, secs) => (429, Some(*secs)),
                ApiError::Internal(_) => (500, None),
                ApiError::Unavailable(_) => (503, None),
            };
            assert_eq!((got_status, api.code()), (status, code), "{kind:?}");
            if status == 429 {
                assert_eq!(retry, Some(7));
            }
        }
    }
}
