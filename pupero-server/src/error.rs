//! The one error envelope of the API: an HTTP status, a stable machine code and a message.
//!
//! Every failure — handler errors, request parse errors, unknown routes, oversized or late
//! bodies — leaves the server as `{"code": "...", "message": "..."}`. A 5xx body is opaque: the
//! cause chain goes to the log with the request id, never to the client.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// Stable error codes. Clients branch on these, never on messages.
pub mod codes {
    /// The request's shape or values are invalid.
    pub const VALIDATION: &str = "VALIDATION";
    /// No or invalid credentials.
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    /// Wrong username/e-mail or password.
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    /// The refresh token is unknown, expired or of an ended session: log in again.
    pub const INVALID_REFRESH_TOKEN: &str = "INVALID_REFRESH_TOKEN";
    /// The access token's lifetime is over; refresh it.
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    /// The session was revoked (logout, password change, refresh-token reuse, admin action).
    pub const SESSION_REVOKED: &str = "SESSION_REVOKED";
    /// The account is disabled.
    pub const ACCOUNT_DISABLED: &str = "ACCOUNT_DISABLED";
    /// Authenticated, but not allowed.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// No such resource (or not visible to the caller).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The username is taken.
    pub const USERNAME_TAKEN: &str = "USERNAME_TAKEN";
    /// The e-mail address is taken.
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    /// The user has as many API keys in use as allowed; revoke one first.
    pub const API_KEY_LIMIT: &str = "API_KEY_LIMIT";
    /// Too many requests; see `Retry-After`.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The request body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The request body did not arrive in time; the connection is closed. Send it again.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// The method is not allowed on this path.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// An admin tried to change or disable their own account.
    pub const SELF_ACTION: &str = "SELF_ACTION";
    /// The account still holds or awaits money.
    pub const ACCOUNT_HAS_FUNDS: &str = "ACCOUNT_HAS_FUNDS";
    /// Without 2FA, this needs the account's password too.
    pub const PASSWORD_REQUIRED: &str = "PASSWORD_REQUIRED";
    /// 2FA is on: send the authenticator app's code (or a recovery code) too.
    pub const TOTP_REQUIRED: &str = "TOTP_REQUIRED";
    /// The 2FA code is wrong, expired or already used, or the recovery code is unknown or used.
    pub const INVALID_TOTP: &str = "INVALID_TOTP";
    /// 2FA is already on; disable it before setting it up again.
    pub const TOTP_ALREADY_ENABLED: &str = "TOTP_ALREADY_ENABLED";
    /// 2FA is off (or its setup was not started).
    pub const TOTP_NOT_ENABLED: &str = "TOTP_NOT_ENABLED";
    /// The offer changed since it was read (a concurrent edit); read it again.
    pub const OFFER_CHANGED: &str = "OFFER_CHANGED";
    /// The offer's state does not allow this (e.g. resuming a deleted offer).
    pub const OFFER_STATE: &str = "OFFER_STATE";
    /// The account has as many open offers as it may.
    pub const OFFER_LIMIT: &str = "OFFER_LIMIT";
    /// The offer is paused or deleted: no trade can be opened on it now.
    pub const OFFER_UNAVAILABLE: &str = "OFFER_UNAVAILABLE";
    /// The offer follows the market price and there is no fresh one.
    pub const PRICE_UNAVAILABLE: &str = "PRICE_UNAVAILABLE";
    /// The offer's price moved against the taker since they accepted it; read it again.
    pub const PRICE_CHANGED: &str = "PRICE_CHANGED";
    /// The account has as many open trades as it may.
    pub const TRADE_LIMIT: &str = "TRADE_LIMIT";
    /// The seller's available balance does not cover the trade and its fee.
    pub const INSUFFICIENT_FUNDS: &str = "INSUFFICIENT_FUNDS";
    /// A taker tried to trade with their own offer.
    pub const SELF_TRADE: &str = "SELF_TRADE";
    /// The trade's state does not allow this step (e.g. releasing twice).
    pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
    /// The step is allowed only once the payment window is over.
    pub const TOO_EARLY: &str = "TOO_EARLY";
    /// The step belongs to the other party (e.g. the buyer releasing).
    pub const WRONG_PARTY: &str = "WRONG_PARTY";
    /// The trade changed concurrently too many times; read it again.
    pub const TRADE_CHANGED: &str = "TRADE_CHANGED";
    /// The `Idempotency-Key` was already used for a different request.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    /// The destination is not an address of the platform's network, or is one of its own
    /// deposit addresses.
    pub const INVALID_ADDRESS: &str = "INVALID_ADDRESS";
    /// The platform's Monero wallet is not configured or not answering; try again later.
    pub const WALLET_UNAVAILABLE: &str = "WALLET_UNAVAILABLE";
    /// The withdrawal is confirmed or failed: nothing is left to re-drive.
    pub const WITHDRAWAL_FINAL: &str = "WITHDRAWAL_FINAL";
    /// The trade's chat is closed: the trade ended more than the grace period ago.
    pub const CHAT_CLOSED: &str = "CHAT_CLOSED";
    /// The trade's chat holds as many messages as it may.
    pub const CHAT_FULL: &str = "CHAT_FULL";
    /// Feedback is only for a completed (released or resolved) trade.
    pub const FEEDBACK_NOT_ALLOWED: &str = "FEEDBACK_NOT_ALLOWED";
    /// The caller already left feedback on this trade.
    pub const FEEDBACK_EXISTS: &str = "FEEDBACK_EXISTS";
    /// The caller (or the server) has as many event streams open as allowed; close one, or
    /// read `/api/v1/events` instead.
    pub const STREAM_LIMIT: &str = "STREAM_LIMIT";
    /// A link from a mail (its token) is unknown, used, superseded by a newer one, or expired;
    /// or the account's address changed since it was sent.
    pub const INVALID_TOKEN: &str = "INVALID_TOKEN";
    /// The account has no e-mail address.
    pub const NO_EMAIL: &str = "NO_EMAIL";
    /// The account's e-mail address is already verified.
    pub const EMAIL_ALREADY_VERIFIED: &str = "EMAIL_ALREADY_VERIFIED";
    /// Something failed on our side; the log has the cause.
    pub const INTERNAL: &str = "INTERNAL";
    /// A dependency (the database) is unavailable.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
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

pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Storage failures are internal errors; the ledger's refusals are mapped where they happen.
impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        ApiError::internal(&error)
    }
}

impl From<pupero_ledger::Error> for ApiError {
    fn from(error: pupero_ledger::Error) -> ApiError {
        ApiError::internal(&error)
    }
}
