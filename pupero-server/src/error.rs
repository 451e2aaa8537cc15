//! The one error envelope of the API: an HTTP status, a stable machine code and a message.
//!
//! Every failure — handler errors, request parse errors, unknown routes, oversized or late
//! bodies — leaves the server as `{"code": "...", "message": "..."}`. A 5xx body is opaque: the
//! cause chain goes to the log with the request id, never to the client.

use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use pupero_market::{Error as MarketError, ErrorKind};

pub use pupero_api::{ErrorBody, ErrorCode};

/// The wire code of a kind of the market's errors: the same name (the table test checks every
/// kind has one).
pub fn code_of(kind: ErrorKind) -> ErrorCode {
    ErrorCode::parse(kind.code()).unwrap_or(ErrorCode::Internal)
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

pub(crate) fn body(code: ErrorCode, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code,
        message: message.into(),
    })
}

impl ApiError {
    /// 400 `VALIDATION`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(body(ErrorCode::Validation, message))
    }
    /// 400 with `code`.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(body(code, message))
    }
    /// 401 with `code`.
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Unauthorized(body(code, message))
    }
    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(body(ErrorCode::Forbidden, message))
    }
    /// 403 with `code`.
    pub fn forbidden_code(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(body(code, message))
    }
    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound(body(ErrorCode::NotFound, message))
    }
    /// 409 with `code`.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Conflict(body(code, message))
    }
    /// 429 `RATE_LIMITED`, retry after `secs`.
    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError::TooManyRequests(
            body(ErrorCode::RateLimited, "too many attempts; try again later"),
            retry_after_secs,
        )
    }
    /// 429 `STREAM_LIMIT`, retry after `secs`.
    pub fn stream_limit(retry_after_secs: u64) -> ApiError {
        ApiError::TooManyRequests(
            body(
                ErrorCode::StreamLimit,
                "too many event streams open; close one first",
            ),
            retry_after_secs,
        )
    }
    /// 500 `INTERNAL`; logs `cause` with its chain. The client sees nothing of it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        tracing::error!(error = %chain(cause), "internal error");
        ApiError::Internal(body(ErrorCode::Internal, "internal error"))
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b) => b.0.code,
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
        let body = body(code_of(kind), error.message());
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
            assert_eq!(
                (got_status, api.code().as_str()),
                (status, code),
                "{kind:?}"
            );
            if status == 429 {
                assert_eq!(retry, Some(7));
            }
        }
    }
}
