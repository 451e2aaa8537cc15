//! The caller's events: a cursor listing and a live stream that resumes where it left off.
//!
//! Each user's events are numbered 1, 2, 3... in commit order with no gaps, so keeping the
//! last `seq` handled is all a client needs to resume: [`Client::events`] pages after it, and
//! [`Client::event_stream`] reconnects after a dropped connection with `Last-Event-ID` and
//! gets exactly what it missed. The server keeps events for 30 days; a client further behind
//! must resync from the trade listing and its balance.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use tokio::time::Instant;

use crate::{Client, Error};

pub use pupero_api::{EventPage, UserEvent};

/// Time limit to connect a stream.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream silent this long is dead: the server sends a keep-alive comment every 15 s.
pub(crate) const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(45);

/// First pause before reconnecting after a failure (unless the server sent `retry:`); doubled
/// on each further failure up to [`MAX_RECONNECT_DELAY`].
const INITIAL_RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// Longest pause between reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Failed connections in a row after which the stream gives up and yields the last error
/// (about two minutes of trying with the delays above).
const MAX_RECONNECT_FAILURES: u32 = 10;

/// A connection that lived this long (or delivered an event) was not a failure, however it
/// ended.
const HEALTHY_CONNECTION: Duration = Duration::from_secs(5);

/// Longest line of the event stream, and longest event: the server's are a few hundred bytes,
/// so a larger one is a broken stream, not something to buffer without end.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

impl Client {
    /// The caller's events with a seq above `after` (0: from the start), oldest first, at most
    /// `limit` (1–500, default 100).
    pub async fn events(&self, after: u64, limit: Option<u32>) -> Result<EventPage, Error> {
        let mut path = format!("/api/v1/events?after={after}");
        if let Some(limit) = limit {
            path.push_str(&format!("&limit={limit}"));
        }
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// The caller's events with a seq above `after`, then each new one as it happens. Connects
    /// first, so a refusal (such as 429 `STREAM_LIMIT`) is this call's error. After a dropped
    /// connection the stream reconnects by itself with `Last-Event-ID` (waiting longer after
    /// each failure, up to 30 s), so it yields every event once, in order; it yields an error
    /// and ends when reconnecting keeps failing or is refused. It ends without error only if
    /// the server refuses to resume (e.g. the credential stopped working) — see the error.
    pub async fn event_stream(&self, after: u64) -> Result<EventStream, Error> {
        let response = self.open_event_stream(after).await?;
        let tail = Tail {
            client: self.clone(),
            last_seq: after,
            connection: Some(Connection::new(response)),
            failures: 0,
            retry: None,
            done: false,
        };
        Ok(EventStream {
            inner: stream::unfold(tail, Tail::next).boxed(),
        })
    }

    async fn open_event_stream(&self, after: u64) -> Result<reqwest::Response, Error> {
        let last = after.to_string();
        let headers = [
            ("Last-Event-ID", last.as_str()),
            ("Accept", "text/event-stream"),
        ];
        self.request_via(
            &self.stream_http,
            reqwest::Method::GET,
            "/api/v1/events/stream",
            None::<&()>,
            true,
            &headers,
        )
        .await
    }
}

/// The caller's events as they happen (from [`Client::event_stream`]): a `Stream` of
/// `Result<UserEvent, Error>` that reconnects by itself.
pub struct EventStream {
    inner: BoxStream<'static, Result<UserEvent, Error>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl Stream for EventStream {
    type Item = Result<UserEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// One HTTP response of the stream, and what has been parsed from it and not yet yielded.
struct Connection {
    response: reqwest::Response,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    opened: Instant,
    delivered: bool,
}

impl Connection {
    fn new(response: reqwest::Response) -> Connection {
        Connection {
            response,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            opened: Instant::now(),
            delivered: false,
        }
    }

    fn healthy(&self) -> bool {
        self.delivered || self.opened.elapsed() >= HEALTHY_CONNECTION
    }
}

struct Tail {
    client: Client,
    /// The last seq yielded: where a reconnection resumes.
    last_seq: u64,
    connection: Option<Connection>,
    /// Failed connections in a row.
    failures: u32,
    /// The server's `retry:`, the first pause after a failure.
    retry: Option<Duration>,
    done: bool,
}

impl Tail {
    async fn next(mut self) -> Option<(Result<UserEvent, Error>, Tail)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(connection) = &mut self.connection {
                if let Some(event) = connection.ready.pop_front() {
                    if event.event.is_empty() && event.data.is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<UserEvent>(&event.data) {
                        // Never twice, even if a server sent one again.
                        Ok(event) if event.seq <= self.last_seq => continue,
                        Ok(event) => {
                            connection.delivered = true;
                            self.last_seq = event.seq;
                            return Some((Ok(event), self));
                        }
                        Err(e) => {
                            self.done = true;
                            return Some((Err(Error::decode(e)), self));
                        }
                    }
                }
                match connection.response.chunk().await {
                    Ok(Some(bytes)) => {
                        if let Err(e) = connection.parser.feed(&bytes, &mut connection.ready) {
                            self.done = true;
                            return Some((Err(e), self));
                        }
                        self.retry = connection.parser.retry().or(self.retry);
                        continue;
                    }
                    // Ended or broken: resume after the last event yielded.
                    Ok(None) | Err(_) => {
                        if connection.healthy() {
                            self.failures = 0;
                        } else {
                            self.failures += 1;
                        }
                        self.connection = None;
                    }
                }
            }
            if self.failures > 0 {
                tokio::time::sleep(self.delay()).await;
            }
            match self.client.open_event_stream(self.last_seq).await {
                Ok(response) => self.connection = Some(Connection::new(response)),
                Err(e) if retryable(&e) && self.failures + 1 < MAX_RECONNECT_FAILURES => {
                    self.failures += 1;
                }
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            }
        }
    }

    /// The pause before the next attempt: the server's `retry:` (or the initial delay),
    /// doubled per failure after the first, at most [`MAX_RECONNECT_DELAY`].
    fn delay(&self) -> Duration {
        let first = self.retry.unwrap_or(INITIAL_RECONNECT_DELAY);
        let doublings = self.failures.saturating_sub(1).min(16);
        first
            .saturating_mul(1_u32 << doublings)
            .min(MAX_RECONNECT_DELAY)
    }
}

/// Worth trying again: the connection failed, the server failed or was busy.
fn retryable(error: &Error) -> bool {
    error.is_transport() || error.is_server_error() || error.is_rate_limited()
}

/// One event of a `text/event-stream`, as dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The last event id set on the stream so far.
    pub(crate) id: String,
    /// The `event:` field; empty for the default `message`.
    pub(crate) event: String,
    /// The `data:` lines, joined by `\n`.
    pub(crate) data: String,
}

/// An incremental parser of `text/event-stream` (the WHATWG format): lines end in `\n`, `\r\n`
/// or `\r`, even across chunks; `:` starts a comment; `data:` lines accumulate; an empty line
/// dispatches; `id:` and `retry:` persist across events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` first in the next belongs to it.
    after_cr: bool,
    data: String,
    has_data: bool,
    event: String,
    last_id: String,
    retry: Option<Duration>,
}

impl SseParser {
    /// Parses `bytes`, appending every event they complete to `out`.
    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<SseEvent>) -> Result<(), Error> {
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\r' | b'\n' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line(&String::from_utf8_lossy(&line), out);
                }
                _ => {
                    if self.line.len() >= MAX_EVENT_BYTES {
                        return Err(Error::protocol("event stream line too long"));
                    }
                    self.line.push(byte);
                }
            }
            if self.data.len() > MAX_EVENT_BYTES {
                return Err(Error::protocol("event stream event too large"));
            }
        }
        Ok(())
    }

    /// The reconnection time the server asked for, if it did.
    pub(crate) fn retry(&self) -> Option<Duration> {
        self.retry
    }

    fn line(&mut self, line: &str, out: &mut VecDeque<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                out.push_back(SseEvent {
                    id: self.last_id.clone(),
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.has_data = false;
            self.data.clear();
            self.event.clear();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => value.clone_into(&mut self.event),
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok().map(Duration::from_millis);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::default();
        let mut out = VecDeque::new();
        for chunk in chunks {
            parser.feed(chunk.as_bytes(), &mut out).unwrap();
        }
        (out.into_iter().collect(), parser)
    }

    fn event(id: &str, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.into(),
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn fields_comments_and_dispatch() {
        let (events, _) = parse(&[
            ": keep-alive\n\n",
            "id: 1\nevent: trade_opened\ndata: {\"seq\":1}\n\n",
            "data: plain\n\n",
        ]);
        assert_eq!(
            events,
            [
                event("1", "trade_opened", "{\"seq\":1}"),
                // The id persists; the event type does not.
                event("1", "", "plain"),
            ]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let (events, _) = parse(&["data: a\ndata:b\ndata:  c\n\n"]);
        assert_eq!(events, [event("", "", "a\nb\n c")]);
    }

    #[test]
    fn lines_and_events_split_across_chunks_in_any_place() {
        let whole = "id: 7\r\nevent: x\r\ndata: {\"a\":1}\r\n\r\nid: 8\rdata: y\r\r";
        for split in 0..whole.len() {
            let (events, _) = parse(&[&whole[..split], &whole[split..]]);
            assert_eq!(
                events,
                [event("7", "x", "{\"a\":1}"), event("8", "", "y")],
                "split at {split}"
            );
        }
    }

    #[test]
    fn retry_and_odd_lines() {
        let (events, parser) = parse(&[
            "retry: 1500\nretry: soon\n",
            // No colon: the whole line is the field name, the value empty.
            "data\n\n",
            "event: only\n\n",
            "unknown: field\nid: bad\0id\ndata: z\n\n",
        ]);
        assert_eq!(parser.retry(), Some(Duration::from_millis(1500)));
        // An empty `data` still dispatches; an event without data does not.
        assert_eq!(events, [event("", "", ""), event("", "", "z")]);
    }

    #[test]
    fn an_endless_line_is_an_error_not_a_buffer_without_end() {
        let mut parser = SseParser::default();
        let mut out = VecDeque::new();
        let chunk = vec![b'a'; 64 * 1024];
        let mut result = Ok(());
        for _ in 0..=(MAX_EVENT_BYTES / chunk.len()) {
            result = parser.feed(&chunk, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }

    #[test]
    fn reconnect_delays_grow_and_are_bounded() {
        let tail = |failures, retry| Tail {
            client: Client::new("http://127.0.0.1:1").unwrap(),
            last_seq: 0,
            connection: None,
            failures,
            retry,
            done: false,
        };
        assert_eq!(tail(1, None).delay(), INITIAL_RECONNECT_DELAY);
        assert_eq!(tail(3, None).delay(), INITIAL_RECONNECT_DELAY * 4);
        assert_eq!(tail(40, None).delay(), MAX_RECONNECT_DELAY);
        let server = Some(Duration::from_secs(2));
        assert_eq!(tail(2, server).delay(), Duration::from_secs(4));
    }
}
