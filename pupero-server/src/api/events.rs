//! The caller's events: a cursor listing and a live Server-Sent Events stream.
//!
//! Each user's events are numbered 1, 2, 3... in commit order with no gaps
//! ([`insert_events_in`](pupero_market::events::insert_events_in)), so a client that keeps the last
//! seq it handled resumes exactly after it: by `after` on the listing, by `Last-Event-ID` on
//! the stream. Events are kept for [`EVENT_RETENTION`](pupero_market::events::EVENT_RETENTION); a
//! client further behind than that has lost events and must resync from the trade listing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::ToJSON;
use pupero_api as wire;
use pupero_core::{Scope, UserId};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::{Auth, Tag};
use crate::app::{AppState, Credential, Principal};
use crate::error::ApiError;
use pupero_market::events::{StoredEvent, StreamCredential, StreamSlot, parse_after};

pub use pupero_api::{EventPage, UserEvent};

/// Events a stream reads from the table at once; it reads again until it has caught up.
const STREAM_READ_BATCH: u32 = 100;

/// A comment line on an idle stream this often, so that proxies keep the connection open and
/// clients notice a dead one (the SDK gives up on a stream silent for three intervals).
pub const STREAM_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How often an idle stream checks that its credential still works and reads the table again.
/// A logout, a revoked key or a disabled account ends it within this time (and before any new
/// event is sent); an event committed by another process (another server on the same
/// database, the command line), whose wake-up never reaches this one, arrives within it.
const STREAM_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// `Retry-After` of a refused stream: slots come back as soon as streams close.
const STREAM_LIMIT_RETRY_AFTER_SECS: u64 = 5;

/// The events resource.
pub struct EventsApi;

/// The wire kind of a stored kind name. Every kind the market writes has one (the test below);
/// a row of a kind this build does not know (written by a newer one) is shown as
/// `balance_changed`, the kind a client reacts to by reading again.
fn kind_of(name: &str) -> wire::EventKind {
    wire::EventKind::parse(name).unwrap_or_else(|| {
        tracing::warn!(kind = name, "an event of a kind this build does not know");
        wire::EventKind::BalanceChanged
    })
}

fn view(event: StoredEvent) -> UserEvent {
    UserEvent {
        seq: event.seq,
        kind: kind_of(&event.kind),
        trade_id: event.trade.map(|t| *t.as_uuid()),
        payload: event.payload,
        created_at_ms: event.created_at.as_unix_ms(),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Events")]
impl EventsApi {
    /// The caller's events after a cursor, oldest first. Events older than 30 days are pruned:
    /// a client that was away longer must resync from the trade listing.
    #[oai(path = "/events", method = "get", operation_id = "events")]
    async fn list(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// Only events with a higher seq (default 0: from the start).
        #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<Option<u64>>,
        /// Events per page, 1–500 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<EventPage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let after = parse_after(after.0)?;
        let page = app
            .0
            .market
            .events_page(principal.user, after, limit.0)
            .await?;
        Ok(Json(EventPage {
            items: page.events.into_iter().map(view).collect(),
            next: page.next,
            has_more: page.has_more,
        }))
    }

    /// The caller's events as Server-Sent Events: first those after the cursor, then each new
    /// one as it commits. `id:` is the seq, `event:` the kind, `data:` the event as JSON; a
    /// comment line every 15 s keeps an idle connection open. A reconnecting client sends
    /// `Last-Event-ID` and gets exactly what it missed. At most 4 streams per user (429
    /// `STREAM_LIMIT`). Streams end when the server shuts down or the credential stops working;
    /// reconnect. Events older than 30 days are pruned: a client that was away longer must
    /// resync from the trade listing.
    #[oai(path = "/events/stream", method = "get", operation_id = "event_stream")]
    async fn stream(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        /// The last seq the client handled (sent by `EventSource` on a reconnect); wins over
        /// `after`.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
        /// Only events with a higher seq (default 0: from the start).
        #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<Option<u64>>,
    ) -> Result<EventStream<BoxStream<'static, UserEvent>>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let cursor = match last_event_id.0.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => pupero_market::events::parse_last_event_id(id)?,
            _ => parse_after(after.0)?,
        };
        let slot = app
            .0
            .stream_slots
            .acquire(principal.user)
            .ok_or_else(|| ApiError::stream_limit(STREAM_LIMIT_RETRY_AFTER_SECS))?;
        // Subscribed before the first read: a commit between the read and the wait still
        // wakes the stream.
        let tail = Tail {
            wakeups: app.0.market.events.subscribe(),
            closing: app.0.market.events.closing(),
            state: app.0.clone(),
            principal,
            cursor,
            pending: VecDeque::new(),
            poll_at: Instant::now() + STREAM_POLL_INTERVAL,
            _slot: slot,
        };
        let events = stream::unfold(tail, Tail::next).boxed();
        Ok(EventStream::new(events)
            .keep_alive(STREAM_KEEP_ALIVE)
            .to_event(|event: UserEvent| {
                Event::message(event.to_json_string())
                    .id(event.seq.to_string())
                    .event_type(event.kind.as_str())
            }))
    }
}

/// One open stream: where it is, what it has read and not sent yet, what wakes it.
struct Tail {
    state: Arc<AppState>,
    principal: Principal,
    /// The last seq sent.
    cursor: u64,
    pending: VecDeque<StoredEvent>,
    wakeups: broadcast::Receiver<UserId>,
    closing: watch::Receiver<bool>,
    poll_at: Instant,
    /// Held until the stream drops: the client went away, or the stream ended.
    _slot: StreamSlot,
}

impl Tail {
    /// The next event, or `None` to end the stream. The table is the truth: a wake-up (or a
    /// lag, when wake-ups were dropped) only makes the stream read it again after its cursor.
    async fn next(mut self) -> Option<(UserEvent, Tail)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                debug_assert!(event.seq > self.cursor, "events go forward");
                self.cursor = event.seq;
                return Some((view(event), self));
            }
            if *self.closing.borrow() {
                return None;
            }
            let read = self
                .state
                .market
                .events_after(self.principal.user, self.cursor, STREAM_READ_BATCH)
                .await;
            match read {
                Ok(events) if !events.is_empty() => {
                    // Nothing new leaves for a credential that stopped working since the
                    // stream opened.
                    if !self.still_allowed().await {
                        return None;
                    }
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "event stream read failed");
                    return None;
                }
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// Waits until something may have changed for this user: `true` to read again, `false`
    /// to end the stream.
    async fn wait(&mut self) -> bool {
        loop {
            let poll = tokio::select! {
                wakeup = self.wakeups.recv() => match wakeup {
                    Ok(user) if user == self.principal.user => return true,
                    Ok(_) => false,
                    // Wake-ups were dropped; one of them may have been ours.
                    Err(broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(broadcast::error::RecvError::Closed) => return false,
                },
                _ = self.closing.wait_for(|closing| *closing) => return false,
                () = tokio::time::sleep_until(self.poll_at) => true,
            };
            if poll {
                return self.still_allowed().await;
            }
        }
    }

    /// Whether the stream's credential still works (a failed check counts as no).
    async fn still_allowed(&mut self) -> bool {
        self.poll_at = Instant::now() + STREAM_POLL_INTERVAL;
        let credential = match self.principal.credential {
            Credential::Session(session) => StreamCredential::Session(session),
            Credential::ApiKey { id, .. } => StreamCredential::ApiKey(id),
        };
        let allowed = self
            .state
            .market
            .stream_credential_active(self.principal.user, credential)
            .await;
        allowed.unwrap_or_else(|e| {
            tracing::warn!(error = %crate::error::chain(&e), "event stream credential check failed");
            false
        })
    }
}
