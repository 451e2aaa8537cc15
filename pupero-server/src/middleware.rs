//! Request ids, request logs, the error envelope for responses no typed handler made, and the
//! request body's limits (its size, and the time to receive it).

use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use crate::error::{ErrorBody, ErrorCode};

/// The header carrying the request id, in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id accepted from a client (anything longer is replaced).
const MAX_REQUEST_ID_LEN: usize = 64;

/// Longest error text from the framework copied into an envelope's message.
const MAX_FRAMEWORK_MESSAGE_BYTES: usize = 512;

/// Gives every request an id (the client's, if sane), logs it with the outcome, returns it, and
/// wraps any error response that is not yet an envelope (unknown route, wrong method, a body
/// the framework refused) into one.
pub struct RequestId;

impl<E: Endpoint> Middleware<E> for RequestId {
    type Output = RequestIdEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RequestIdEndpoint(ep)
    }
}

/// See [`RequestId`].
pub struct RequestIdEndpoint<E>(E);

impl<E: Endpoint> Endpoint for RequestIdEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= MAX_REQUEST_ID_LEN
                    && v.bytes().all(|b| b.is_ascii_graphic())
            })
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
        let path = req.uri().path().to_owned();
        async move {
            let started = std::time::Instant::now();
            let response = match self.0.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => e.into_response(),
            };
            let mut response = envelope(response).await;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                // RFC 9110: a 405 names the methods the resource has.
                if let Some(allow) = crate::openapi::allowed_methods(&path) {
                    response
                        .headers_mut()
                        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
                }
            }
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis(),
                "request"
            );
            if let Ok(value) = id.parse() {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

/// An error response that is not JSON becomes `{"code", "message"}` with the same status. A 5xx
/// message is never passed on.
async fn envelope(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::LENGTH_REQUIRED => ErrorCode::LengthRequired,
        s if s.is_client_error() => ErrorCode::Validation,
        _ => ErrorCode::Internal,
    };
    let message = if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "unhandled server error");
        "internal error".to_owned()
    } else {
        let mut text = response.into_body().into_string().await.unwrap_or_default();
        if text.len() > MAX_FRAMEWORK_MESSAGE_BYTES {
            let cut = (0..=MAX_FRAMEWORK_MESSAGE_BYTES)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
        }
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        }
    };
    let mut wrapped = poem::web::Json(ErrorBody { code, message }).into_response();
    wrapped.set_status(status);
    wrapped
}

/// Refuses request bodies over `max_bytes` (413) before reading them, and bodies whose size is
/// not declared (411): every client of a JSON API sends `Content-Length`. Then reads the whole
/// body within `timeout` and hands the handler the bytes, so that no handler waits on a slow
/// client: a body still incomplete at the deadline is answered 408 `REQUEST_TIMEOUT`, and the
/// connection closed.
pub struct BodyLimit {
    /// Largest accepted body, in bytes.
    pub max_bytes: usize,
    /// Longest time to receive a whole body.
    pub timeout: std::time::Duration,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max_bytes: self.max_bytes,
            timeout: self.timeout,
        }
    }
}

/// See [`BodyLimit`].
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
    timeout: std::time::Duration,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(str::parse::<usize>);
        match declared {
            Some(Ok(len)) if len > self.max_bytes => {
                return Err(poem::Error::from_string(
                    "request body too large",
                    StatusCode::PAYLOAD_TOO_LARGE,
                ));
            }
            Some(Err(_)) => {
                return Err(poem::Error::from_string(
                    "invalid Content-Length",
                    StatusCode::BAD_REQUEST,
                ));
            }
            None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
                return Err(poem::Error::from_string(
                    "a request body needs Content-Length",
                    StatusCode::LENGTH_REQUIRED,
                ));
            }
            _ => {}
        }
        let body = req.take_body().into_bytes_limit(self.max_bytes);
        match tokio::time::timeout(self.timeout, body).await {
            Ok(Ok(bytes)) => req.set_body(bytes),
            Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => {
                return Err(poem::Error::from_string(
                    "request body too large",
                    StatusCode::PAYLOAD_TOO_LARGE,
                ));
            }
            // The client broke off its body: nobody is left to read an answer.
            Ok(Err(_)) => {
                return Err(poem::Error::from_string(
                    "the request body could not be read",
                    StatusCode::BAD_REQUEST,
                ));
            }
            Err(_) => return Ok(request_timeout()),
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// 408 `REQUEST_TIMEOUT` in the envelope, closing the connection: it would otherwise go on
/// waiting for the rest of the late body before it could read another request.
fn request_timeout() -> Response {
    let mut response = poem::web::Json(ErrorBody {
        code: ErrorCode::RequestTimeout,
        message: "the request body did not arrive in time".to_owned(),
    })
    .into_response();
    response.set_status(StatusCode::REQUEST_TIMEOUT);
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// Headers every response carries. The API's answers hold tokens, secrets, balances and
/// account data, and a shared cache or the browser's disk must keep none of it: `no-store`
/// (unless a response chose its own caching). Nothing is to be sniffed into another type, and
/// no page (Swagger UI included) may be framed by another site, which would let it trick a
/// signed-in person into clicking.
pub struct SecurityHeaders;

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint(ep)
    }
}

/// See [`SecurityHeaders`].
pub struct SecurityHeadersEndpoint<E>(E);

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut response = match self.0.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let headers = response.headers_mut();
        let set = |headers: &mut header::HeaderMap, name, value: &'static str| {
            headers.insert(name, header::HeaderValue::from_static(value));
        };
        set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(headers, header::X_FRAME_OPTIONS, "DENY");
        set(headers, header::REFERRER_POLICY, "no-referrer");
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            set(
                headers,
                header::CONTENT_SECURITY_POLICY,
                "frame-ancestors 'none'",
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            set(headers, header::CACHE_CONTROL, "no-store");
        }
        Ok(response)
    }
}
