//! The one error envelope: `{"code", "message"}` with a stable code.

use std::fmt;

/// Declares the error codes: the enum, its wire names and docs, `ALL`, `as_str`, `parse`.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:tt, )*) => {
        /// A stable machine-readable error code. Clients branch on these, never on messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        pub enum ErrorCode {
            $(
                $(#[$doc])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "openapi", oai(rename = $text))]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire name, e.g. `INSUFFICIENT_FUNDS`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            /// The code of a wire name; `None` for any other text.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text {
                    $($text => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// The request's shape or values are invalid.
    Validation => "VALIDATION",
    /// No or invalid credentials.
    Unauthorized => "UNAUTHORIZED",
    /// Wrong username/e-mail or password (or, before a sensitive change, the password again).
    InvalidCredentials => "INVALID_CREDENTIALS",
    /// The refresh token is unknown, expired or of an ended session: log in again.
    InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
    /// The access token's lifetime is over; refresh it.
    TokenExpired => "TOKEN_EXPIRED",
    /// The session was revoked (logout, password change, refresh-token reuse, admin action).
    SessionRevoked => "SESSION_REVOKED",
    /// The account is disabled.
    AccountDisabled => "ACCOUNT_DISABLED",
    /// Authenticated, but not allowed.
    Forbidden => "FORBIDDEN",
    /// No such resource (or not visible to the caller).
    NotFound => "NOT_FOUND",
    /// The username is taken.
    UsernameTaken => "USERNAME_TAKEN",
    /// The e-mail address is taken.
    EmailTaken => "EMAIL_TAKEN",
    /// The user has as many API keys in use as allowed; revoke one first.
    ApiKeyLimit => "API_KEY_LIMIT",
    /// Too many requests; see `Retry-After`.
    RateLimited => "RATE_LIMITED",
    /// The request body is larger than allowed.
    PayloadTooLarge => "PAYLOAD_TOO_LARGE",
    /// The request body did not arrive in time; the connection is closed. Send it again.
    RequestTimeout => "REQUEST_TIMEOUT",
    /// The method is not allowed on this path.
    MethodNotAllowed => "METHOD_NOT_ALLOWED",
    /// The request body is not `application/json`.
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
    /// The request body has no length (`Content-Length` or chunked encoding).
    LengthRequired => "LENGTH_REQUIRED",
    /// An admin tried to change or disable their own account.
    SelfAction => "SELF_ACTION",
    /// The account still holds or awaits money.
    AccountHasFunds => "ACCOUNT_HAS_FUNDS",
    /// Without 2FA, this needs the account's password too.
    PasswordRequired => "PASSWORD_REQUIRED",
    /// 2FA is on: send the authenticator app's code (or a recovery code) too.
    TotpRequired => "TOTP_REQUIRED",
    /// The 2FA code is wrong, expired or already used, or the recovery code is unknown or used.
    InvalidTotp => "INVALID_TOTP",
    /// 2FA is already on; disable it before setting it up again.
    TotpAlreadyEnabled => "TOTP_ALREADY_ENABLED",
    /// 2FA is off (or its setup was not started).
    TotpNotEnabled => "TOTP_NOT_ENABLED",
    /// The offer changed since it was read (a concurrent edit); read it again.
    OfferChanged => "OFFER_CHANGED",
    /// The offer's state does not allow this (e.g. resuming a deleted offer).
    OfferState => "OFFER_STATE",
    /// The account has as many open offers as it may.
    OfferLimit => "OFFER_LIMIT",
    /// The offer is paused or deleted: no trade can be opened on it now.
    OfferUnavailable => "OFFER_UNAVAILABLE",
    /// The offer follows the market price and there is no fresh one.
    PriceUnavailable => "PRICE_UNAVAILABLE",
    /// The offer's price moved against the taker since they accepted it; read it again.
    PriceChanged => "PRICE_CHANGED",
    /// The account has as many open trades as it may.
    TradeLimit => "TRADE_LIMIT",
    /// The available balance does not cover the amount and its fee.
    InsufficientFunds => "INSUFFICIENT_FUNDS",
    /// A taker tried to trade with their own offer.
    SelfTrade => "SELF_TRADE",
    /// The trade's state does not allow this step (e.g. releasing twice).
    InvalidTransition => "INVALID_TRANSITION",
    /// The step is allowed only once the payment window is over.
    TooEarly => "TOO_EARLY",
    /// The step belongs to the other party (e.g. the buyer releasing).
    WrongParty => "WRONG_PARTY",
    /// The trade changed concurrently too many times; read it again.
    TradeChanged => "TRADE_CHANGED",
    /// The `Idempotency-Key` was already used for a different request.
    IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
    /// The destination is not an address of the platform's network, or is one of its own.
    InvalidAddress => "INVALID_ADDRESS",
    /// The platform's Monero wallet is not configured or not answering; try again later.
    WalletUnavailable => "WALLET_UNAVAILABLE",
    /// The withdrawal is confirmed or failed: nothing is left to re-drive.
    WithdrawalFinal => "WITHDRAWAL_FINAL",
    /// The trade's chat is closed: the trade ended more than the grace period ago.
    ChatClosed => "CHAT_CLOSED",
    /// The trade's chat holds as many messages as it may.
    ChatFull => "CHAT_FULL",
    /// Feedback is only for a completed (released or resolved) trade.
    FeedbackNotAllowed => "FEEDBACK_NOT_ALLOWED",
    /// The caller already left feedback on this trade.
    FeedbackExists => "FEEDBACK_EXISTS",
    /// Too many event streams are open; close one, or read `/api/v1/events` instead.
    StreamLimit => "STREAM_LIMIT",
    /// A link from a mail is unknown, used, superseded or expired.
    InvalidToken => "INVALID_TOKEN",
    /// The account has no e-mail address.
    NoEmail => "NO_EMAIL",
    /// The account's e-mail address is already verified.
    EmailAlreadyVerified => "EMAIL_ALREADY_VERIFIED",
    /// Something failed on the server's side; its log has the cause.
    Internal => "INTERNAL",
    /// A dependency (the database) is unavailable; try again later.
    Unavailable => "UNAVAILABLE",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `INSUFFICIENT_FUNDS`.
    pub code: ErrorCode,
    /// Human-readable explanation. Not an interface: it may change.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
        }
        let body: ErrorBody =
            serde_json::from_str(r#"{"code":"TRADE_LIMIT","message":"m"}"#).unwrap();
        assert_eq!(body.code, ErrorCode::TradeLimit);
    }
}
