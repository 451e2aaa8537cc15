//! The SDK's opaque error.

use std::fmt;
use std::time::Duration;

pub use pupero_api::ErrorCode;

/// What went wrong with a call. Opaque: use [`Error::code`] and the `is_*` predicates; the
/// `Display` text is for people.
pub struct Error {
    kind: Kind,
    status: Option<u16>,
    code: Option<String>,
    message: String,
    retry_after: Option<Duration>,
}

enum Kind {
    /// The server answered with an error envelope.
    Api,
    /// The request did not complete (connection, timeout, TLS).
    Transport(reqwest::Error),
    /// The server's answer was not what the SDK expects.
    Decode(serde_json::Error),
    /// The call needs a login first.
    NotLoggedIn,
    /// An event stream broke its format (an oversized line or event).
    Protocol,
}

#[derive(serde::Deserialize)]
struct Envelope {
    code: String,
    message: String,
}

impl Error {
    pub(crate) fn transport(e: reqwest::Error) -> Error {
        Error {
            message: e.to_string(),
            kind: Kind::Transport(e),
            status: None,
            code: None,
            retry_after: None,
        }
    }

    pub(crate) fn decode(e: serde_json::Error) -> Error {
        Error {
            message: e.to_string(),
            kind: Kind::Decode(e),
            status: None,
            code: None,
            retry_after: None,
        }
    }

    pub(crate) fn not_logged_in() -> Error {
        Error {
            kind: Kind::NotLoggedIn,
            status: None,
            code: None,
            message: "not logged in".to_owned(),
            retry_after: None,
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Protocol,
            status: None,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) async fn from_response(response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        // Only the delta-seconds form: the server never sends an HTTP date.
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Envelope>(&text) {
            Ok(envelope) => Error {
                kind: Kind::Api,
                status: Some(status),
                code: Some(envelope.code),
                message: envelope.message,
                retry_after,
            },
            Err(_) => Error {
                kind: Kind::Api,
                status: Some(status),
                code: None,
                message: text,
                retry_after,
            },
        }
    }

    /// The server's stable error code (`INSUFFICIENT_FUNDS`, `VALIDATION`, ...), if it sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The server's error code as the enum both sides share; `None` when it sent none, or one
    /// this SDK does not know (a newer server's).
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code.as_deref().and_then(ErrorCode::parse)
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The server's message (not an interface).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 400: the request was invalid.
    pub fn is_validation(&self) -> bool {
        self.status == Some(400)
    }

    /// 401, or no login: credentials are missing, wrong or expired.
    pub fn is_unauthorized(&self) -> bool {
        self.status == Some(401) || matches!(self.kind, Kind::NotLoggedIn)
    }

    /// 403: not allowed.
    pub fn is_forbidden(&self) -> bool {
        self.status == Some(403)
    }

    /// 404: no such resource.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// 409: conflicts with the current state (taken username, reused idempotency key, ...).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409)
    }

    /// 429: rate limited; retry later.
    pub fn is_rate_limited(&self) -> bool {
        self.status == Some(429)
    }

    /// How long the server asked to wait before trying again (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The request did not reach the server or its answer did not arrive.
    pub fn is_transport(&self) -> bool {
        matches!(self.kind, Kind::Transport(_))
    }

    /// 5xx: the server failed.
    pub fn is_server_error(&self) -> bool {
        self.status.is_some_and(|s| s >= 500)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.code) {
            (Some(status), Some(code)) => write!(f, "{status} {code}: {}", self.message),
            (Some(status), None) => write!(f, "{status}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Transport(e) => Some(e),
            Kind::Decode(e) => Some(e),
            Kind::Api | Kind::NotLoggedIn | Kind::Protocol => None,
        }
    }
}
