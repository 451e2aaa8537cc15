//! No connection stays open forever: clients that send nothing, send their head or body too
//! slowly, idle between requests or stop reading are closed within their bounds, while an event
//! stream outlives them all; and one address holds only so many connections. Plain TCP clients
//! on loopback against a server with short bounds. These bounds do not depend on the storage
//! engine, so SQLite alone serves them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use pupero_ledger::testing::Backend;
use pupero_server::Settings;
use pupero_server::config::ConnectionSettings;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::support::{TestApp, manual_clock, spawn_app_with};

/// The short bound of a test, in seconds.
const SHORT_SECS: u64 = 1;

/// A bound no test reaches, in seconds.
const LONG_SECS: u64 = 600;

/// Longest wait for what should happen after a short bound: generous, so a slow machine is no
/// failure, and still far below the long bound.
const WAIT: Duration = Duration::from_secs(15);

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every bound long, every limit generous; each test shortens what it tests.
fn long_bounds() -> ConnectionSettings {
    ConnectionSettings {
        header_timeout_secs: LONG_SECS,
        body_timeout_secs: LONG_SECS,
        idle_timeout_secs: LONG_SECS,
        write_timeout_secs: LONG_SECS,
        max_per_address: 1_000,
        max_total: 1_000,
    }
}

async fn spawn(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(Backend::Sqlite, configure, manual_clock())
        .await
        .expect("sqlite always works")
}

fn address(app: &TestApp) -> SocketAddr {
    app.base_url
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

/// Reads until the server closes the connection (a reset counts): what came, and how long it
/// took. Fails when it is still open after `within`.
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: Duration,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match tokio::time::timeout_at(started + within, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {within:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0) | Err(_)) => return (received, started.elapsed()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// One response read off a keep-alive connection: its status and body. Its body must have a
/// `Content-Length`, as all but event streams do.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_end = loop {
        if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("the connection stays up");
        assert!(n > 0, "closed before a response");
        received.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(received[..head_end].to_vec()).expect("an ASCII head");
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    while received.len() < head_end + length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("the body in time")
            .expect("the connection stays up");
        assert!(n > 0, "closed in the middle of a body");
        received.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8(received[head_end..].to_vec()).expect("a UTF-8 body");
    (status, body)
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: pupero\r\n\r\n";

/// A connection that has been served a request, so that it is held open, idle.
async fn served_connection(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    stream
}

/// Waits until the server counts `expected` connections from loopback (in total, from the
/// address).
async fn open_connections_become(app: &TestApp, expected: (u32, u32)) {
    let deadline = Instant::now() + WAIT;
    while app.state.connection_slots.open(LOOPBACK) != expected {
        assert!(
            Instant::now() < deadline,
            "open connections stay at {:?}, not {expected:?}",
            app.state.connection_slots.open(LOOPBACK)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_is_closed_after_the_header_bound() {
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            header_timeout_secs: SHORT_SECS,
            ..long_bounds()
        }
    })
    .await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(address(&app)).await.unwrap();
    let (received, _) = read_until_closed(&mut silent, WAIT).await;
    assert!(received.is_empty(), "closed without an answer");
    assert!(
        started.elapsed() >= Duration::from_secs(SHORT_SECS),
        "not before the bound"
    );
    open_connections_become(&app, (0, 0)).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_bound() {
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            header_timeout_secs: SHORT_SECS,
            ..long_bounds()
        }
    })
    .await;
    let stream = TcpStream::connect(address(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Fifty bytes, ten seconds at this pace: each byte is activity, but the head is late.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: pupero\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(15)
    );
    let slow = tokio::spawn(async move {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // Closed long before the head would be whole.
    let (received, _) = read_until_closed(&mut reader, Duration::from_secs(6)).await;
    assert!(
        received.is_empty(),
        "closed without an answer: {received:?}"
    );
    slow.abort();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_declared_is_answered_408_at_the_body_bound() {
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            body_timeout_secs: SHORT_SECS,
            ..long_bounds()
        }
    })
    .await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: pupero\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"login\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let (received, _) = read_until_closed(&mut stream, WAIT).await;
    assert!(
        started.elapsed() >= Duration::from_secs(SHORT_SECS),
        "not before the bound"
    );
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{text}"
    );
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    assert!(body["message"].is_string());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_bound() {
    const IDLE_SECS: u64 = 3;
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            header_timeout_secs: SHORT_SECS,
            idle_timeout_secs: IDLE_SECS,
            ..long_bounds()
        }
    })
    .await;
    let mut stream = served_connection(address(&app)).await;
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200, "kept alive");
    let (received, idle) = read_until_closed(&mut stream, WAIT).await;
    assert!(received.is_empty());
    // The header bound (1 s) does not run between requests: only the idle one (3 s) does.
    assert!(idle > Duration::from_secs(2), "closed after {idle:?}");
    open_connections_become(&app, (0, 0)).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_outlives_the_idle_and_header_bounds() {
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            header_timeout_secs: SHORT_SECS,
            idle_timeout_secs: SHORT_SECS,
            write_timeout_secs: SHORT_SECS,
            ..long_bounds()
        }
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let token = alice.refresh().await.unwrap().access_token;
    let mut response = app
        .raw()
        .get(format!("{}/api/v1/events/stream", app.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Three times the bounds with nothing to send either way: the stream stays open.
    let quiet_until = Instant::now() + Duration::from_secs(3 * SHORT_SECS);
    let mut text = String::new();
    loop {
        match tokio::time::timeout_at(quiet_until, response.chunk()).await {
            Err(_) => break,
            Ok(Ok(Some(chunk))) => text.push_str(std::str::from_utf8(&chunk).unwrap()),
            Ok(other) => panic!("the stream ended: {other:?}"),
        }
    }
    pupero_market::operator::credit_dev(&app.state.market, "alice", "1")
        .await
        .unwrap();
    while !text.contains("event: balance_changed") {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("the event in time")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    drop(response);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_after_the_write_bound() {
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            write_timeout_secs: SHORT_SECS,
            ..long_bounds()
        }
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address(&app)).await.unwrap();
    // Far more response than the loopback's buffers hold (each document is some 200 KB), asked
    // for at once and never read.
    let request = b"GET /api/openapi.json HTTP/1.1\r\nHost: pupero\r\n\r\n";
    stream.write_all(&request.repeat(100)).await.unwrap();
    open_connections_become(&app, (1, 1)).await;
    open_connections_become(&app, (0, 0)).await;
    drop(stream);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_only_so_many_connections() {
    const PER_ADDRESS: u32 = 3;
    let app = spawn(|s| {
        s.connections = ConnectionSettings {
            max_per_address: PER_ADDRESS,
            ..long_bounds()
        }
    })
    .await;
    let address = address(&app);
    let mut held = Vec::new();
    for _ in 0..PER_ADDRESS {
        held.push(served_connection(address).await);
    }
    open_connections_become(&app, (PER_ADDRESS, PER_ADDRESS)).await;

    let mut refused = TcpStream::connect(address).await.unwrap();
    let (received, _) = read_until_closed(&mut refused, WAIT).await;
    assert!(received.is_empty(), "closed at once, unanswered");

    // The held ones are still served.
    for stream in &mut held {
        stream.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(stream).await.0, 200);
    }

    // Closing some makes room for as many.
    held.truncate(1);
    open_connections_become(&app, (1, 1)).await;
    for _ in 1..PER_ADDRESS {
        held.push(served_connection(address).await);
    }
    let mut refused = TcpStream::connect(address).await.unwrap();
    assert!(read_until_closed(&mut refused, WAIT).await.0.is_empty());
    drop(held);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_bound_only_by_the_total() {
    const TOTAL: u32 = 4;
    let app = spawn(|s| {
        s.trusted_proxies = vec![LOOPBACK];
        s.connections = ConnectionSettings {
            max_per_address: 1,
            max_total: TOTAL,
            ..long_bounds()
        }
    })
    .await;
    let address = address(&app);
    let mut held = Vec::new();
    for _ in 0..TOTAL {
        held.push(served_connection(address).await);
    }
    open_connections_become(&app, (TOTAL, 0)).await;
    let mut refused = TcpStream::connect(address).await.unwrap();
    assert!(read_until_closed(&mut refused, WAIT).await.0.is_empty());
    held.pop();
    open_connections_become(&app, (TOTAL - 1, 0)).await;
    held.push(served_connection(address).await);
    drop(held);
    app.stop().await;
}
