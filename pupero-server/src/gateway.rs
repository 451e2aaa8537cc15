//! The gateway (`pupero serve --role gateway`, 8000): one address in front of the roles, as the
//! seed's platform had. It routes each request by [`owner`], the roles' own routing table, and
//! streams both ways (the event stream is server-sent events: nothing is buffered). It holds no
//! database and no secret: every role authenticates every request itself, and believes the
//! gateway's `X-Forwarded-For` only when the gateway's address is in its trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use poem::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::roles::{Role, owner};

/// Longest wait for a role to accept a connection. There is no limit on a whole request: an
/// event stream lasts as long as its client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest wait for a role's `/readyz` when the gateway's own is asked.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// Headers about one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// Where each role listens: `host:port` over plain HTTP, on the private network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams(Vec<(Role, String)>);

impl Upstreams {
    /// From `PUPERO_UPSTREAM_AUTH`, `…_OFFERS`, `…_LEDGER`, `…_WALLET` (`host:port`; by
    /// default each role's port on 127.0.0.1).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Upstreams, String> {
        let mut upstreams = Vec::new();
        for role in Role::SERVICES {
            let name = format!("PUPERO_UPSTREAM_{}", role.as_str().to_uppercase());
            let address =
                var(&name).unwrap_or_else(|| format!("127.0.0.1:{}", role.default_port()));
            address
                .parse::<poem::http::uri::Authority>()
                .map_err(|_| format!("{name}: expected host:port, got {address:?}"))?;
            upstreams.push((role, address));
        }
        Ok(Upstreams(upstreams))
    }

    fn of(&self, role: Role) -> &str {
        self.0
            .iter()
            .find(|(r, _)| *r == role)
            .map_or("127.0.0.1", |(_, address)| address.as_str())
    }
}

/// The gateway's endpoint.
pub struct Gateway {
    client: Client<HttpConnector, BoxBody<Bytes, std::io::Error>>,
    upstreams: Upstreams,
}

impl Gateway {
    /// A gateway to `upstreams`.
    pub fn new(upstreams: Upstreams) -> Gateway {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        Gateway {
            client: Client::builder(TokioExecutor::new()).build(connector),
            upstreams,
        }
    }

    /// 200 when every role answers its `/readyz` with 200; else 503 naming the roles that do
    /// not (never their addresses).
    async fn ready(&self) -> Response {
        let mut down = Vec::new();
        for role in Role::SERVICES {
            let uri = format!("http://{}/readyz", self.upstreams.of(role));
            let ok = match uri.parse::<Uri>() {
                Ok(uri) => {
                    let request = hyper::Request::get(uri)
                        .body(BoxBody::new(
                            http_body_util::Empty::new().map_err(|never| match never {}),
                        ))
                        .expect("a GET without headers");
                    matches!(
                        tokio::time::timeout(READY_TIMEOUT, self.client.request(request)).await,
                        Ok(Ok(response)) if response.status() == StatusCode::OK
                    )
                }
                Err(_) => false,
            };
            if !ok {
                down.push(role.as_str());
            }
        }
        let (status, body) = if down.is_empty() {
            (StatusCode::OK, serde_json::json!({"status": "ready"}))
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "down": down}),
            )
        };
        poem::web::Json(body).with_status(status).into_response()
    }
}

fn unavailable(role: Role) -> Response {
    let body = serde_json::json!({
        "code": "UNAVAILABLE",
        "message": format!("the {} service is unavailable; try again shortly", role.as_str()),
    });
    poem::web::Json(body)
        .with_status(StatusCode::BAD_GATEWAY)
        .into_response()
}

/// The request's headers as a role receives them: hop-by-hop ones dropped (with those the
/// `Connection` header names), `X-Forwarded-For` extended with the client's address and
/// `X-Forwarded-Proto` set.
fn forwarded_headers(headers: &mut HeaderMap, client: Option<IpAddr>) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if let Some(client) = client {
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {client}"),
            None => client.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", value);
        }
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
}

impl Endpoint for Gateway {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match req.uri().path() {
            "/healthz" => {
                return Ok(poem::web::Json(serde_json::json!({"status": "ok"})).into_response());
            }
            "/readyz" => return Ok(self.ready().await),
            // Each role's own, scraped on its port; the gateway has none to give.
            "/metrics" => {
                return Ok(crate::error::ApiError::not_found("no such resource").into_response());
            }
            _ => {}
        }
        // What no role owns (documents, unknown paths) every role answers alike.
        let role = owner(req.uri().path()).unwrap_or(Role::Auth);
        let client = req.remote_addr().as_socket_addr().map(SocketAddr::ip);
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut request: hyper::Request<BoxBody<Bytes, std::io::Error>> = req.into();
        let Ok(uri) = format!("http://{}{path}", self.upstreams.of(role)).parse::<Uri>() else {
            return Ok(unavailable(role));
        };
        *request.uri_mut() = uri;
        *request.extensions_mut() = Default::default();
        forwarded_headers(request.headers_mut(), client);
        match self.client.request(request).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                for name in HOP_BY_HOP {
                    parts.headers.remove(name);
                }
                let body = body.map_err(std::io::Error::other);
                Ok(Response::from(hyper::Response::from_parts(parts, body)))
            }
            Err(error) => {
                tracing::warn!(role = role.as_str(), error = %error, "upstream failed");
                Ok(unavailable(role))
            }
        }
    }
}

/// Serves the gateway on `listen` until `shutdown`, each connection bounded as the roles' are
/// (`connections`, with no trusted proxy in front).
pub async fn serve(
    listen: SocketAddr,
    upstreams: Upstreams,
    connections: crate::config::ConnectionSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr) + Send,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    on_bound(bound);
    tracing::info!(address = %bound, "listening");
    let slots = crate::http_server::ConnectionSlots::new(&connections, &[]);
    crate::http_server::serve_connections(
        listener,
        Gateway::new(upstreams),
        connections,
        slots,
        shutdown,
        crate::SHUTDOWN_GRACE,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_behind_and_the_client_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        forwarded_headers(&mut headers, Some("198.51.100.7".parse().unwrap()));
        assert!(headers.get(header::CONNECTION).is_none());
        assert!(headers.get("x-secret-hop").is_none());
        assert!(headers.get("keep-alive").is_none());
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 198.51.100.7");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers[header::AUTHORIZATION], "Bearer t");
    }

    #[test]
    fn upstreams_default_to_the_roles_ports() {
        let upstreams = Upstreams::from_vars(|_| None).unwrap();
        assert_eq!(upstreams.of(Role::Ledger), "127.0.0.1:8003");
        assert!(Upstreams::from_vars(|_| Some("not an address at all".into())).is_err());
    }
}
