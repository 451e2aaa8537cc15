//! The accept loop and the life of each client connection: HTTP/1.1 over hyper, serving the
//! poem application, with a bound on every way a client can hold a connection open.
//!
//! poem's own server can only close a connection after a stretch without reads or writes: a
//! client that sends its request a byte at a time never trips that, while an event stream,
//! quiet in both directions between its keep-alives, may. Here a connection is closed when
//! - a request head is not complete [`ConnectionSettings::header_timeout_secs`] after the
//!   connection opened or after the head's first byte;
//! - no request comes for [`ConnectionSettings::idle_timeout_secs`] after the last response
//!   ended (never while a response, such as an event stream, is still being sent);
//! - a response has waited [`ConnectionSettings::write_timeout_secs`] for a client that does
//!   not read it;
//! - its client address already holds [`ConnectionSettings::max_per_address`] connections, or
//!   the server [`ConnectionSettings::max_total`] (at once, when it is accepted).
//!
//! A request body is read whole, within [`ConnectionSettings::body_timeout_secs`], by
//! [`crate::middleware::BodyLimit`], which can still answer 408 in the error envelope.
//!
//! Only HTTP/1.1 is served: Pupero's clients (the SDK, and browsers behind a TLS-terminating
//! proxy) speak it to the server, and cleartext HTTP/2 would carry none of these bounds.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, Incoming, SizeHint};
use poem::Endpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ConnectionSettings;
use pupero_market::ratelimit::AddressKey;

/// How long the accept loop pauses after a failed accept: the usual cause is running out of file
/// descriptors, which only closing connections cures, and retrying at once would spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(250);

/// Serves `app` on the connections `listener` accepts until `shutdown` resolves; then stops
/// accepting, asks every connection to finish its request in flight and close, and waits for
/// them at most `grace` before dropping the rest.
pub async fn serve_connections<E>(
    listener: TcpListener,
    app: E,
    settings: ConnectionSettings,
    slots: Arc<ConnectionSlots>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let app = Arc::new(app);
    let local = listener.local_addr()?;
    let mut connections = JoinSet::new();
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = connections.join_next() => log_ended(ended),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(slot) = slots.acquire(peer.ip()) else {
                        tracing::debug!(peer = %peer, "connection refused: too many open");
                        continue;
                    };
                    let connection = Connection {
                        peer,
                        local,
                        settings,
                        _slot: slot,
                    };
                    connections.spawn(connection.serve(stream, app.clone(), stopped.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    // Every connection task holds a receiver, so none is missed.
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = connections.join_next().await {
            log_ended(ended);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "dropping connections still open after the shutdown grace"
        );
    }
    connections.shutdown().await;
    Ok(())
}

fn log_ended(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended
        && e.is_panic()
    {
        tracing::error!("a connection's task panicked");
    }
}

/// One accepted connection.
struct Connection {
    peer: SocketAddr,
    local: SocketAddr,
    settings: ConnectionSettings,
    /// Counted against the limits until the connection ends.
    _slot: ConnectionSlot,
}

/// Why a connection was closed under its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Head,
    Idle,
    Write,
}

impl Expiry {
    fn as_str(self) -> &'static str {
        match self {
            Expiry::Head => "request head too slow",
            Expiry::Idle => "idle",
            Expiry::Write => "client not reading",
        }
    }
}

impl Connection {
    async fn serve<E>(self, stream: TcpStream, app: Arc<E>, mut stop: watch::Receiver<bool>)
    where
        E: Endpoint + 'static,
    {
        // Responses are written whole; Nagle's algorithm would only hold back an event stream's
        // small writes.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let activity = Arc::new(Activity::new(Instant::now()));
        let io = hyper_util::rt::TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let (peer, local) = (self.peer, self.local);
        let service = hyper::service::service_fn({
            let activity = activity.clone();
            move |request: hyper::Request<Incoming>| {
                let in_flight = InFlight::begin(activity.clone());
                let app = app.clone();
                async move {
                    let request = poem::Request::from((
                        request,
                        LocalAddr(local.into()),
                        RemoteAddr(peer.into()),
                        Scheme::HTTP,
                    ));
                    let response: hyper::Response<_> = app.get_response(request).await.into();
                    Ok::<_, Infallible>(response.map(|body| ResponseBody {
                        inner: body,
                        _in_flight: in_flight,
                    }))
                }
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            // The deadlines are kept here, around the connection (`Activity`): hyper's header
            // timeout also runs while a keep-alive connection waits for its next request.
            .header_read_timeout(None)
            .serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            let deadline = activity.deadline(&self.settings);
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.changed.notified() => {}
                () = expired => {
                    if let Some(why) = activity.expired(Instant::now(), &self.settings) {
                        // No request is in flight (or its client stopped reading the response):
                        // dropping the connection loses nothing the client is still waiting for.
                        tracing::debug!(peer = %peer, reason = why.as_str(), "closing connection");
                        return;
                    }
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What a connection is doing, for its deadlines: written by its reads and writes and by the
/// requests it serves, read by the task that serves it.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    /// Wakes the connection's task when a deadline appeared or moved earlier.
    changed: Notify,
}

#[derive(Debug)]
struct ActivityState {
    /// Requests whose responses are not finished (HTTP/1.1 serves one at a time).
    in_flight: u32,
    /// Since when no request is in flight: the connection's opening, or the end of the last
    /// response.
    idle_since: Instant,
    /// When the head of the coming request started: at the opening (a client connects to send
    /// a request), else at the first byte read with no request in flight.
    head_since: Option<Instant>,
    /// Since when a write waits for the client to read.
    write_blocked_since: Option<Instant>,
}

impl Activity {
    fn new(opened: Instant) -> Activity {
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: opened,
                head_since: Some(opened),
                write_blocked_since: None,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        // Every change is one consistent assignment; a panic elsewhere leaves nothing half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next moment a bound may run out, if any.
    fn deadline(&self, settings: &ConnectionSettings) -> Option<Instant> {
        let state = self.state();
        let waiting = if state.in_flight > 0 {
            None
        } else {
            Some(match state.head_since {
                Some(since) => since + secs(settings.header_timeout_secs),
                None => state.idle_since + secs(settings.idle_timeout_secs),
            })
        };
        let writing = state
            .write_blocked_since
            .map(|since| since + secs(settings.write_timeout_secs));
        match (waiting, writing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The bound that ran out by `now`, if one did.
    fn expired(&self, now: Instant, settings: &ConnectionSettings) -> Option<Expiry> {
        let state = self.state();
        if state
            .write_blocked_since
            .is_some_and(|since| now >= since + secs(settings.write_timeout_secs))
        {
            return Some(Expiry::Write);
        }
        if state.in_flight > 0 {
            return None;
        }
        match state.head_since {
            Some(since) if now >= since + secs(settings.header_timeout_secs) => Some(Expiry::Head),
            Some(_) => None,
            None if now >= state.idle_since + secs(settings.idle_timeout_secs) => {
                Some(Expiry::Idle)
            }
            None => None,
        }
    }

    fn read_some(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn write_blocked(&self) {
        let mut state = self.state();
        if state.write_blocked_since.is_none() {
            state.write_blocked_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn write_went_through(&self) {
        // A later deadline needs no wake-up: the task finds nothing expired and looks again.
        self.state().write_blocked_since = None;
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A request being served, from its head to the end of its response (dropped with the body).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> InFlight {
        {
            let mut state = activity.state();
            state.in_flight = state.in_flight.saturating_add(1);
            state.head_since = None;
        }
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.state();
            debug_assert!(state.in_flight > 0, "a request ended twice");
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
                state.head_since = None;
            }
        }
        self.0.changed.notify_one();
    }
}

/// A response body that keeps its request in flight until hyper has sent it all (or given up).
struct ResponseBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's socket, reporting reads and blocked writes to the connection's [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn after_write<T>(&self, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if polled.is_pending() {
            self.activity.write_blocked();
        } else {
            self.activity.write_went_through();
        }
        polled
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // A TCP socket has nothing to flush: what blocks is the write before it.
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Counts open connections, per client address and in total, to refuse one too many at accept.
/// Addresses are keyed as the rate limits key them ([`AddressKey`]: an IPv6 client holds a
/// whole /64); trusted proxies, behind which every client arrives, count only in the total.
#[derive(Debug)]
pub struct ConnectionSlots {
    max_total: u32,
    max_per_address: u32,
    trusted_proxies: Vec<IpAddr>,
    open: Mutex<SlotCounts>,
}

#[derive(Debug, Default)]
struct SlotCounts {
    total: u32,
    per_address: HashMap<AddressKey, u32>,
}

impl ConnectionSlots {
    /// At most `settings.max_total` connections, and `settings.max_per_address` from any
    /// address but the `trusted_proxies`.
    pub fn new(settings: &ConnectionSettings, trusted_proxies: &[IpAddr]) -> Arc<ConnectionSlots> {
        assert!(settings.max_total > 0, "a server with no connections");
        assert!(
            settings.max_per_address > 0,
            "a server with no connections per address"
        );
        Arc::new(ConnectionSlots {
            max_total: settings.max_total,
            max_per_address: settings.max_per_address,
            trusted_proxies: trusted_proxies.to_vec(),
            open: Mutex::new(SlotCounts::default()),
        })
    }

    fn counts(&self) -> MutexGuard<'_, SlotCounts> {
        // Every change is one statement: the counts stay consistent under a panic elsewhere.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_trusted(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.contains(&peer) || self.trusted_proxies.contains(&peer.to_canonical())
    }

    /// A slot for one more connection from `peer`, or `None` when the address or the server is
    /// at its limit. The slot is given back when the returned guard drops.
    pub fn acquire(self: &Arc<ConnectionSlots>, peer: IpAddr) -> Option<ConnectionSlot> {
        let key = (!self.is_trusted(peer)).then(|| AddressKey::of(Some(peer)));
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return None;
        }
        if let Some(key) = key {
            let mine = counts.per_address.get(&key).copied().unwrap_or(0);
            if mine >= self.max_per_address {
                return None;
            }
            counts.per_address.insert(key, mine + 1);
        }
        counts.total += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            key,
        })
    }

    /// Connections open now: in total, and counted against `peer`'s address.
    pub fn open(&self, peer: IpAddr) -> (u32, u32) {
        let counts = self.counts();
        let mine = counts
            .per_address
            .get(&AddressKey::of(Some(peer)))
            .copied()
            .unwrap_or(0);
        (counts.total, mine)
    }
}

/// One open connection's slot, released on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    /// `None` for a trusted proxy, which counts only in the total.
    key: Option<AddressKey>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts();
        debug_assert!(
            counts.total > 0,
            "more connection slots released than taken"
        );
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.key {
            let mine = counts.per_address.get(&key).copied().unwrap_or(0);
            debug_assert!(mine > 0, "a connection slot released twice");
            if mine <= 1 {
                counts.per_address.remove(&key);
            } else {
                counts.per_address.insert(key, mine - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConnectionSettings {
        ConnectionSettings {
            header_timeout_secs: 10,
            body_timeout_secs: 15,
            idle_timeout_secs: 75,
            write_timeout_secs: 30,
            max_per_address: 2,
            max_total: 5,
        }
    }

    #[test]
    fn slots_are_limited_per_address_and_in_total_and_come_back_on_drop() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let slots = ConnectionSlots::new(&settings(), &[proxy]);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let held: Vec<ConnectionSlot> = (0..2).map(|_| slots.acquire(a).unwrap()).collect();
        assert!(slots.acquire(a).is_none(), "the address's limit");
        assert_eq!(slots.open(a), (2, 2));
        let proxied: Vec<ConnectionSlot> = (0..3).map(|_| slots.acquire(proxy).unwrap()).collect();
        assert_eq!(
            slots.open(proxy),
            (5, 0),
            "a trusted proxy counts in the total only"
        );
        assert!(slots.acquire(b).is_none(), "the server's limit");
        assert!(
            slots.acquire(proxy).is_none(),
            "the server's limit binds proxies"
        );
        drop(held);
        assert_eq!(slots.open(a), (3, 0));
        assert!(slots.acquire(a).is_some());
        drop(proxied);
        assert_eq!(slots.open(b), (0, 0));
    }

    #[test]
    fn ipv6_clients_are_counted_per_network() {
        let slots = ConnectionSlots::new(&settings(), &[]);
        let one: IpAddr = "2001:db8::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let _held = [
            slots.acquire(one).unwrap(),
            slots.acquire(same_network).unwrap(),
        ];
        assert!(slots.acquire("2001:db8::3".parse().unwrap()).is_none());
        assert!(slots.acquire("2001:db8:0:1::1".parse().unwrap()).is_some());
    }

    #[test]
    fn deadlines_follow_the_connection_s_phase() {
        let s = settings();
        let opened = Instant::now();
        let activity = Arc::new(Activity::new(opened));
        let head = opened + secs(s.header_timeout_secs);
        assert_eq!(
            activity.deadline(&s),
            Some(head),
            "a fresh connection owes a head"
        );
        assert_eq!(activity.expired(head, &s), Some(Expiry::Head));

        let request = InFlight::begin(activity.clone());
        assert_eq!(
            activity.deadline(&s),
            None,
            "nothing runs out while serving"
        );
        assert_eq!(activity.expired(head + secs(3_600), &s), None);
        activity.write_blocked();
        let blocked = activity.deadline(&s).expect("a blocked write is bounded");
        assert_eq!(activity.expired(blocked, &s), Some(Expiry::Write));
        activity.write_went_through();
        assert_eq!(activity.deadline(&s), None);
        drop(request);

        let idle = activity
            .deadline(&s)
            .expect("an idle connection is bounded");
        assert!(idle >= opened + secs(s.idle_timeout_secs));
        assert_eq!(activity.expired(idle, &s), Some(Expiry::Idle));
        activity.read_some();
        let next_head = activity.deadline(&s).expect("the next head is bounded");
        assert!(next_head < idle, "a started head has the shorter bound");
        assert_eq!(activity.expired(next_head, &s), Some(Expiry::Head));
    }
}
