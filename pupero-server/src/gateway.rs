//! The gateway (`pupero serve --role gateway`, 8000): one address in front of the roles, as the
//! seed's platform had. It routes each request by [`owner`], the roles' own routing table, and
//! streams both ways (the event stream is server-sent events: nothing is buffered). It holds no
//! database and no secret: every role authenticates every request itself, and believes the
//! gateway's `X-Forwarded-For` only when the gateway's address is in its trusted proxies.
//!
//! A role may have several upstreams (stateless API processes on one database): each request
//! goes to the next one in turn, and to the one after that only when connecting failed, so
//! that nothing of the request was sent. Once a request was sent it is never sent again, even
//! when its answer is lost: a `POST` may have been applied, and only the client, with its
//! `Idempotency-Key`, can ask again safely.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};
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

/// Most upstreams one role may have: a request tries each at most once, so this bounds the
/// connection attempts (each up to [`CONNECT_TIMEOUT`]) a request may wait for.
const MAX_UPSTREAMS_PER_ROLE: usize = 16;

/// A request's body as the gateway sends it to an upstream.
type UpstreamBody = BoxBody<Bytes, std::io::Error>;

/// Where each role listens: one or more `host:port` over plain HTTP, on the private network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams(Vec<(Role, Vec<String>)>);

impl Upstreams {
    /// From `PUPERO_UPSTREAM_AUTH`, `…_OFFERS`, `…_LEDGER`, `…_WALLET`, each a comma-separated
    /// list of `host:port` (by default the role's port on 127.0.0.1).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Upstreams, String> {
        let mut upstreams = Vec::new();
        for role in Role::SERVICES {
            let name = format!("PUPERO_UPSTREAM_{}", role.as_str().to_uppercase());
            let value = var(&name).unwrap_or_else(|| format!("127.0.0.1:{}", role.default_port()));
            let list = parse_list(&value).map_err(|why| format!("{name}: {why}"))?;
            upstreams.push((role, list));
        }
        Ok(Upstreams(upstreams))
    }

    fn of(&self, role: Role) -> &[String] {
        self.0
            .iter()
            .find(|(r, _)| *r == role)
            .map_or(&[], |(_, list)| list.as_slice())
    }

    /// The upstreams of `role` in the order the request of `turn` tries them: from the
    /// `turn`th (round-robin), round the list once.
    fn in_turn(&self, role: Role, turn: usize) -> impl Iterator<Item = &str> {
        let list = self.of(role);
        list.iter()
            .cycle()
            .skip(turn % list.len().max(1))
            .take(list.len())
            .map(String::as_str)
    }
}

/// `host:port[,host:port…]`: one to [`MAX_UPSTREAMS_PER_ROLE`] addresses.
fn parse_list(value: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = value.split(',').map(|a| a.trim().to_owned()).collect();
    if list.len() > MAX_UPSTREAMS_PER_ROLE {
        return Err(format!(
            "at most {MAX_UPSTREAMS_PER_ROLE} upstreams, got {}",
            list.len()
        ));
    }
    for address in &list {
        address
            .parse::<poem::http::uri::Authority>()
            .map_err(|_| format!("expected host:port[,host:port…], got {address:?}"))?;
    }
    Ok(list)
}

/// The gateway's endpoint.
pub struct Gateway {
    client: Client<HttpConnector, UpstreamBody>,
    upstreams: Upstreams,
    /// Requests given to each role so far, in [`Role::SERVICES`] order: whose turn is next.
    turns: [AtomicUsize; Role::SERVICES.len()],
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
            turns: Default::default(),
        }
    }

    /// The turn of `role`'s next request.
    fn turn(&self, role: Role) -> usize {
        Role::SERVICES
            .iter()
            .zip(&self.turns)
            .find(|(r, _)| **r == role)
            .map_or(0, |(_, turns)| turns.fetch_add(1, Ordering::Relaxed))
    }

    /// 200 when every role has an upstream answering its `/readyz` with 200 (the body a role's
    /// own `/readyz` has when ready); else 503 naming
    /// the roles that have none (never their addresses). Every upstream is asked at once, so
    /// the answer takes at most [`READY_TIMEOUT`].
    async fn ready(&self) -> Response {
        let roles = Role::SERVICES.map(|role| async move {
            let probes = self.upstreams.of(role).iter().map(|a| self.is_ready(a));
            (
                role,
                futures_util::future::join_all(probes).await.contains(&true),
            )
        });
        let down: Vec<&str> = futures_util::future::join_all(roles)
            .await
            .into_iter()
            .filter(|(_, ready)| !ready)
            .map(|(role, _)| role.as_str())
            .collect();
        let (status, body) = if down.is_empty() {
            // The roles' own report, so that a client reads either the same way.
            (
                StatusCode::OK,
                serde_json::json!({"status": "ok", "down": []}),
            )
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "down": down}),
            )
        };
        poem::web::Json(body).with_status(status).into_response()
    }

    /// Whether `address` answers its `/readyz` with 200 within [`READY_TIMEOUT`].
    async fn is_ready(&self, address: &str) -> bool {
        let Ok(uri) = format!("http://{address}/readyz").parse::<Uri>() else {
            return false;
        };
        let empty = BoxBody::new(http_body_util::Empty::new().map_err(|never| match never {}));
        let Ok(request) = hyper::Request::get(uri).body(empty) else {
            return false;
        };
        matches!(
            tokio::time::timeout(READY_TIMEOUT, self.client.request(request)).await,
            Ok(Ok(response)) if response.status() == StatusCode::OK
        )
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

/// A request's body while the gateway may still send it to another upstream: each attempt
/// gets a body ([`Unsent::attempt`]) that takes the request's at its first read, so that
/// after a failed connection (which read nothing) the next upstream gets it whole.
#[derive(Clone)]
struct Unsent(Arc<Mutex<Option<UpstreamBody>>>);

impl Unsent {
    fn new(body: UpstreamBody) -> Unsent {
        Unsent(Arc::new(Mutex::new(Some(body))))
    }

    /// The body of one attempt.
    fn attempt(&self) -> UpstreamBody {
        BoxBody::new(Attempt {
            unsent: self.clone(),
            taken: None,
        })
    }

    /// Whether no attempt has read any of the body.
    fn is_whole(&self) -> bool {
        self.slot().is_some()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<UpstreamBody>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// See [`Unsent`].
struct Attempt {
    unsent: Unsent,
    taken: Option<UpstreamBody>,
}

impl Body for Attempt {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.taken.is_none() {
            this.taken = this.unsent.slot().take();
        }
        match this.taken.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            // Read by an earlier attempt: never sent twice.
            None => Poll::Ready(Some(Err(std::io::Error::other(
                "the request body went to another upstream",
            )))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.taken {
            Some(body) => body.is_end_stream(),
            None => self.unsent.slot().as_ref().is_some_and(Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.taken {
            Some(body) => body.size_hint(),
            None => self
                .unsent
                .slot()
                .as_ref()
                .map_or_else(SizeHint::default, Body::size_hint),
        }
    }
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
        let request: hyper::Request<UpstreamBody> = req.into();
        let (mut parts, body) = request.into_parts();
        forwarded_headers(&mut parts.headers, client);
        let body = Unsent::new(body);
        for upstream in self.upstreams.in_turn(role, self.turn(role)) {
            let Ok(uri) = format!("http://{upstream}{path}").parse::<Uri>() else {
                break;
            };
            let mut request = hyper::Request::new(body.attempt());
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = uri;
            *request.version_mut() = parts.version;
            *request.headers_mut() = parts.headers.clone();
            match self.client.request(request).await {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    for name in HOP_BY_HOP {
                        parts.headers.remove(name);
                    }
                    let body = body.map_err(std::io::Error::other);
                    return Ok(Response::from(hyper::Response::from_parts(parts, body)));
                }
                // Nothing was sent: the next upstream gets the whole request.
                Err(error) if error.is_connect() && body.is_whole() => {
                    tracing::warn!(
                        role = role.as_str(),
                        upstream,
                        error = %error,
                        "upstream unreachable; trying the next"
                    );
                }
                Err(error) => {
                    tracing::warn!(
                        role = role.as_str(),
                        upstream,
                        error = %error,
                        "upstream failed"
                    );
                    break;
                }
            }
        }
        Ok(unavailable(role))
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
    fn upstreams_default_to_the_roles_ports_and_are_lists() {
        let upstreams = Upstreams::from_vars(|_| None).unwrap();
        assert_eq!(upstreams.of(Role::Ledger), ["127.0.0.1:8003"]);
        let upstreams = Upstreams::from_vars(|name| {
            (name == "PUPERO_UPSTREAM_AUTH").then(|| "10.0.0.1:8001, 10.0.0.2:8001".to_owned())
        })
        .unwrap();
        assert_eq!(upstreams.of(Role::Auth), ["10.0.0.1:8001", "10.0.0.2:8001"]);
        assert_eq!(upstreams.of(Role::Offers), ["127.0.0.1:8002"]);
        let too_many = vec!["127.0.0.1:8001"; MAX_UPSTREAMS_PER_ROLE + 1].join(",");
        for bad in ["not an address at all", "", "a:1,,b:2", "a:1,", &too_many] {
            let error = Upstreams::from_vars(|_| Some(bad.to_owned())).unwrap_err();
            assert!(
                error.starts_with("PUPERO_UPSTREAM_AUTH: "),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn each_request_starts_at_the_next_upstream_and_tries_each_once() {
        let upstreams = Upstreams::from_vars(|_| Some("a:1,b:2,c:3".to_owned())).unwrap();
        let order = |turn| upstreams.in_turn(Role::Wallet, turn).collect::<Vec<_>>();
        assert_eq!(order(0), ["a:1", "b:2", "c:3"]);
        assert_eq!(order(1), ["b:2", "c:3", "a:1"]);
        assert_eq!(order(2), ["c:3", "a:1", "b:2"]);
        assert_eq!(order(3), order(0));
        assert_eq!(
            order(usize::MAX),
            ["a:1", "b:2", "c:3"],
            "usize::MAX % 3 == 0"
        );
        let gateway = Gateway::new(upstreams);
        let turns: Vec<usize> = (0..3).map(|_| gateway.turn(Role::Auth)).collect();
        assert_eq!(turns, [0, 1, 2]);
        assert_eq!(gateway.turn(Role::Ledger), 0, "each role has its own turns");
    }

    /// An upstream answering every request `200 {name}:{body}`.
    async fn upstream(name: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let app = poem::endpoint::make(move |req: Request| async move {
            let body = req.into_body().into_string().await.unwrap_or_default();
            format!("{name}:{body}")
        });
        let settings = crate::config::ConnectionSettings::default();
        let slots = crate::http_server::ConnectionSlots::new(&settings, &[]);
        tokio::spawn(crate::http_server::serve_connections(
            listener,
            app,
            settings,
            slots,
            std::future::pending(),
            Duration::from_secs(1),
        ));
        address
    }

    /// An address nothing listens on: connecting is refused.
    async fn refused() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    }

    /// An upstream that reads each request and closes the connection without an answer, as
    /// a process killed while serving it; returns its address and how many it read.
    async fn dies_on_every_request() -> (String, Arc<AtomicUsize>) {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let read = Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0_u8; 1024];
                if stream.read(&mut buffer).await.unwrap_or(0) > 0 {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        (address, read)
    }

    fn gateway_to(list: &[&str]) -> Gateway {
        let list = list.join(",");
        Gateway::new(Upstreams::from_vars(|_| Some(list.clone())).unwrap())
    }

    async fn post(gateway: &Gateway, body: &'static str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(poem::http::Method::POST)
            .uri(Uri::from_static("/api/v1/auth/login"))
            .body(body);
        let response = gateway.call(request).await.unwrap();
        let status = response.status();
        (status, response.into_body().into_string().await.unwrap())
    }

    #[tokio::test]
    async fn a_refused_connection_goes_to_the_next_upstream_and_a_sent_request_never_does() {
        let (a, b, down) = (upstream("a").await, upstream("b").await, refused().await);
        let gateway = gateway_to(&[&down, &a, &b]);
        let mut answers = Vec::new();
        for n in 0..6 {
            let (status, body) = post(&gateway, ["x", "y"][n % 2]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            answers.push(body);
        }
        // Turns 0 and 3 start at the refusing upstream and go on to `a`, whole body and all.
        assert_eq!(answers, ["a:x", "a:y", "b:x", "a:y", "a:x", "b:y"]);

        // A request that reached its upstream is not sent again when its answer is lost.
        let (dies, read) = dies_on_every_request().await;
        let gateway = gateway_to(&[&dies, &a]);
        let (status, body) = post(&gateway, "once").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(
            body.contains("UNAVAILABLE") && !body.contains("127.0.0.1"),
            "{body}"
        );
        assert_eq!(read.load(Ordering::SeqCst), 1);
        assert_eq!(
            post(&gateway, "next").await,
            (StatusCode::OK, "a:next".to_owned())
        );

        // Every upstream refusing: one try each, then the envelope.
        let gateway = gateway_to(&[&down, &down]);
        let (status, body) = post(&gateway, "none").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    }

    #[tokio::test]
    async fn the_gateway_is_ready_while_every_role_has_a_ready_upstream() {
        let (a, down) = (upstream("a").await, refused().await);
        let readyz = || Request::builder().uri(Uri::from_static("/readyz")).finish();
        let response = gateway_to(&[&down, &a]).call(readyz()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().into_string().await.unwrap();
        let report: pupero_api::ReadinessReport = serde_json::from_str(&body).unwrap();
        assert_eq!((report.status.as_str(), report.down.len()), ("ok", 0));
        let response = gateway_to(&[&down]).call(readyz()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = response.into_body().into_string().await.unwrap();
        assert!(
            body.contains(r#""down":["auth","offers","ledger","wallet"]"#),
            "{body}"
        );
        assert!(!body.contains("127.0.0.1"), "{body}");
    }
}
