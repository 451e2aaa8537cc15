//! Users' events: what happened that a user should hear of (a trade step, a chat message, a
//! balance change, a deposit's or a withdrawal's progress). Events are rows of `user_events`, written in the same transaction as the
//! change they report, so a client that reads them by cursor never misses one and never sees
//! one for a change that did not commit. The in-process [`EventBus`] only wakes the open
//! streams; the rows are the truth.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use pupero_core::limits::{MAX_STORED_INTEGER, parse_stored_integer};
use pupero_core::{Timestamp, TradeId, UserId};
use pupero_ledger::{Engine, Statement};
use sqlx::AnyConnection;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::error::Error;
use crate::store::{StoreError, ms};

/// Wake-ups buffered per stream before a slow one is told it lagged (it then re-reads the
/// table, so nothing is lost).
const BUS_CAPACITY: usize = 1_024;

/// What an event reports. The stable names are the SSE `event:` field and the API's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A trade was opened (to both parties).
    TradeOpened,
    /// The buyer marked the trade paid.
    TradePaid,
    /// The seller released the escrow.
    TradeReleased,
    /// A party cancelled the trade.
    TradeCancelled,
    /// The payment window passed unpaid and the trade expired.
    TradeExpired,
    /// A party raised a dispute.
    TradeDisputed,
    /// A moderator resolved the dispute.
    TradeResolved,
    /// A chat message was posted on a trade.
    ChatMessage,
    /// The user's balance changed.
    BalanceChanged,
    /// The other party left feedback.
    FeedbackReceived,
    /// An API key was created on the user's account (so that a key made by someone else is
    /// seen at once).
    ApiKeyCreated,
    /// A deposit to the user's subaddress was seen, in the pool or already mined (or seen
    /// again after it was gone).
    DepositSeen,
    /// A pending deposit's confirmations changed (one event per scan that changed them).
    DepositConfirmations,
    /// A deposit was credited to the user's balance.
    DepositCredited,
    /// A pending deposit left the pool or the chain without being credited.
    DepositGone,
    /// A withdrawal's transaction was built and signed (not yet broadcast).
    WithdrawalSigned,
    /// A withdrawal's transaction was broadcast; its amount and fee share left the balance.
    WithdrawalBroadcast,
    /// A withdrawal's transaction was mined.
    WithdrawalConfirmed,
    /// A withdrawal failed before anything was broadcast; its holds were refunded.
    WithdrawalFailed,
}

impl EventKind {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::TradeOpened => "trade_opened",
            EventKind::TradePaid => "trade_paid",
            EventKind::TradeReleased => "trade_released",
            EventKind::TradeCancelled => "trade_cancelled",
            EventKind::TradeExpired => "trade_expired",
            EventKind::TradeDisputed => "trade_disputed",
            EventKind::TradeResolved => "trade_resolved",
            EventKind::ChatMessage => "chat_message",
            EventKind::BalanceChanged => "balance_changed",
            EventKind::FeedbackReceived => "feedback_received",
            EventKind::ApiKeyCreated => "api_key_created",
            EventKind::DepositSeen => "deposit_seen",
            EventKind::DepositConfirmations => "deposit_confirmations",
            EventKind::DepositCredited => "deposit_credited",
            EventKind::DepositGone => "deposit_gone",
            EventKind::WithdrawalSigned => "withdrawal_signed",
            EventKind::WithdrawalBroadcast => "withdrawal_broadcast",
            EventKind::WithdrawalConfirmed => "withdrawal_confirmed",
            EventKind::WithdrawalFailed => "withdrawal_failed",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Who hears of it.
    pub user: UserId,
    /// What happened.
    pub kind: EventKind,
    /// The trade it is about, if any.
    pub trade: Option<TradeId>,
    /// Details, a JSON object.
    pub payload: serde_json::Value,
}

/// Records `events` in the caller's transaction, numbering each user's events after the user's
/// head.
///
/// Each user's head row (`user_event_heads`) is bumped by the number of that user's events
/// before they are written. The bump locks the row until the transaction ends, so a second
/// transaction writing events for the same user waits for this one and then numbers after it:
/// a user's sequence is gap-free and in commit order, and a reader that has seen seq `n` has
/// seen every seq below it. Heads are bumped in ascending user id order, the same in every
/// transaction, so two transactions touching the same users cannot deadlock on them.
/// Within `events`, a user's events keep their order.
pub async fn insert_events_in(
    conn: &mut AnyConnection,
    events: &[NewEvent],
    now: Timestamp,
) -> Result<(), StoreError> {
    let created_at_ms = ms(now)?;
    let events: Vec<(&NewEvent, i64)> = events.iter().map(|e| (e, created_at_ms)).collect();
    insert_timed_events_in(conn, &events).await
}

/// Rows one statement of [`event_statements`] writes at most, heads or events: a power of two,
/// and well under SQLite's limit of 500 terms in a compound `SELECT`.
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// The user of an event row that only pads a statement: no user has this id (ids are UUIDs),
/// so it has no head, and the insert's join writes nothing for it.
const NO_USER: &str = "";

/// [`insert_events_in`] for events of different instants (each with its time in ms).
async fn insert_timed_events_in(
    conn: &mut AnyConnection,
    events: &[(&NewEvent, i64)],
) -> Result<(), StoreError> {
    // The head upsert differs by engine; the connection says which one it is.
    let engine = if conn.backend_name() == "MySQL" {
        Engine::MySql
    } else {
        Engine::Sqlite
    };
    for statement in event_statements(events, engine)? {
        statement.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The statements that record `events` (each with its time in ms): per chunk of users, in
/// ascending id order, their heads bumped by their counts, then their events numbered back from
/// the bumped head, which this transaction just wrote (and, on MariaDB, locked), in one
/// `INSERT … SELECT`. An event-writing step costs two statements, not two per user and one per
/// event.
///
/// Each statement's rows are padded to a power of two, so that a group commit's statements
/// take one of a few texts, prepared once and kept in the driver's cache, whatever the number
/// of events: a new text would be compiled again (on MariaDB, a round trip more), and evict a
/// kept one. A head is padded with its last user again, bumped by 0; an event with a user no
/// head has ([`NO_USER`]), which the insert's join drops.
fn event_statements(
    events: &[(&NewEvent, i64)],
    engine: Engine,
) -> Result<Vec<Statement>, StoreError> {
    let mut counts: BTreeMap<UserId, i64> = BTreeMap::new();
    for (event, _) in events {
        // An error, not a panic: this runs inside the ledger writer, which stops on a panic.
        if !event.payload.is_object() {
            return Err(StoreError::Corrupt(
                "an event's payload is not a JSON object",
            ));
        }
        let count = counts.entry(event.user).or_insert(0);
        *count = count
            .checked_add(1)
            .ok_or(StoreError::Corrupt("too many events"))?;
    }
    let users: Vec<(UserId, i64)> = counts.into_iter().collect();
    let mut statements = Vec::new();
    for chunk in users.chunks(MAX_ROWS_PER_STATEMENT) {
        statements.push(heads_statement(chunk, engine));
        // How far below the bumped head each event is: a user's last event takes the head.
        let mut left: BTreeMap<UserId, i64> = chunk.iter().copied().collect();
        let mut rows = Vec::new();
        for (event, created_at_ms) in events {
            let Some(left) = left.get_mut(&event.user) else {
                continue;
            };
            *left -= 1;
            rows.push((*event, *left, *created_at_ms));
        }
        statements.extend(rows.chunks(MAX_ROWS_PER_STATEMENT).map(events_statement));
    }
    Ok(statements)
}

/// The bump of `users`' heads by their counts, padded with the last user bumped by 0.
fn heads_statement(users: &[(UserId, i64)], engine: Engine) -> Statement {
    let padded = users.len().next_power_of_two();
    let rows = vec!["(?, ?)"; padded].join(", ");
    let upsert = match engine {
        Engine::MySql => format!(
            "INSERT INTO user_event_heads (user_id, last_seq) VALUES {rows} \
             ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq)"
        ),
        Engine::Sqlite => format!(
            "INSERT INTO user_event_heads (user_id, last_seq) VALUES {rows} \
             ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq"
        ),
    };
    let mut heads = Statement::new(upsert);
    for i in 0..padded {
        let (user, count) = users[i.min(users.len() - 1)];
        let count = if i < users.len() { count } else { 0 };
        heads = heads.bind(user.to_string()).bind(count);
    }
    heads
}

/// The insert of `rows` (an event, how far below its user's bumped head, its time in ms),
/// padded with rows for [`NO_USER`].
fn events_statement(rows: &[(&NewEvent, i64, i64)]) -> Statement {
    let padded = rows.len().next_power_of_two();
    let values = vec!["SELECT ?, ?, ?, ?, ?, ?"; padded]
        .join(" UNION ALL ")
        .replacen(
            "SELECT ?, ?, ?, ?, ?, ?",
            "SELECT ? AS user_id, ? AS below, ? AS kind, ? AS trade_id, ? AS payload, \
             ? AS created_at_ms",
            1,
        );
    let mut insert = Statement::new(format!(
        "INSERT INTO user_events (user_id, seq, kind, trade_id, payload, created_at_ms) \
         SELECT e.user_id, h.last_seq - e.below, e.kind, e.trade_id, e.payload, \
         e.created_at_ms FROM ({values}) e \
         JOIN user_event_heads h ON h.user_id = e.user_id"
    ));
    for i in 0..padded {
        let (event, below, created_at_ms) = rows[i.min(rows.len() - 1)];
        let user = if i < rows.len() {
            event.user.to_string()
        } else {
            NO_USER.to_owned()
        };
        insert = insert
            .bind(user)
            .bind(below)
            .bind(event.kind.as_str())
            .bind(event.trade.map(|t| t.to_string()))
            .bind(event.payload.to_string())
            .bind(created_at_ms);
    }
    insert
}

/// Commits `events` with whatever ledger plan it is attached to
/// ([`SqlLedger::transfer_attached`](pupero_ledger::SqlLedger::transfer_attached)), for changes
/// that are only a transfer (the dev faucet's credit).
#[derive(Debug)]
pub struct EventsAttachment {
    /// The events.
    pub events: Vec<NewEvent>,
    /// When they happened.
    pub now: Timestamp,
}

#[async_trait::async_trait]
impl pupero_ledger::Attachment for EventsAttachment {
    async fn run(
        &self,
        _: &mut AnyConnection,
        _: pupero_ledger::Engine,
        batches: &mut pupero_ledger::Batches,
    ) -> Result<(), pupero_ledger::AttachmentError> {
        batches
            .get::<EventBatch>()
            .push(&self.events, self.now)
            .map_err(pupero_ledger::AttachmentError::from)
    }
}

/// The events of one group commit's attachments, written together after the last attachment
/// ran: two statements for the whole group (`event_statements`), where each attachment
/// writing its own would cost two each. Each user's events keep the order they were pushed
/// in, which is the order of the attachments in the group.
#[derive(Debug, Default)]
pub struct EventBatch {
    events: Vec<(NewEvent, i64)>,
}

impl EventBatch {
    /// Adds `events`, which happened at `now`.
    pub fn push(&mut self, events: &[NewEvent], now: Timestamp) -> Result<(), StoreError> {
        let created_at_ms = ms(now)?;
        self.events
            .extend(events.iter().map(|e| (e.clone(), created_at_ms)));
        Ok(())
    }
}

impl pupero_ledger::Batch for EventBatch {
    fn statements(&mut self, engine: Engine) -> Result<Vec<Statement>, sqlx::Error> {
        let events: Vec<(&NewEvent, i64)> = self.events.iter().map(|(e, t)| (e, *t)).collect();
        event_statements(&events, engine).map_err(StoreError::into_sqlx)
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The user's sequence number: 1, 2, 3... with no gaps (except where retention pruned).
    pub seq: u64,
    /// The stable kind name (see [`EventKind::as_str`]).
    pub kind: String,
    /// The trade it is about.
    pub trade: Option<TradeId>,
    /// Details, a JSON object.
    pub payload: serde_json::Value,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// Wakes the event streams of users who have new events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<UserId>,
    /// `true` once the server shuts down: every stream ends.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus {
            sender: broadcast::channel(BUS_CAPACITY).0,
            closing: Arc::new(watch::channel(false).0),
        }
    }
}

impl EventBus {
    /// Tells the streams of `users` to read their new events (after the commit).
    pub fn notify(&self, users: impl IntoIterator<Item = UserId>) {
        for user in users {
            // No stream listening is fine: the events wait in the table.
            let _ = self.sender.send(user);
        }
    }

    /// A receiver of every wake-up; a stream filters its own user.
    pub fn subscribe(&self) -> broadcast::Receiver<UserId> {
        self.sender.subscribe()
    }

    /// Ends every stream, now and from now on: graceful shutdown waits for open responses, and
    /// an event stream would otherwise never finish.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes `true` when [`EventBus::close`] is called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// Event streams one user may hold open at once: a few tabs and a bot or two. Each holds a
/// connection and a task on the server.
pub const MAX_STREAMS_PER_USER: u32 = 4;

/// Counts open event streams, per user and in total, to refuse one too many.
#[derive(Debug)]
pub struct StreamSlots {
    max_total: u32,
    open: Mutex<SlotCounts>,
}

#[derive(Debug, Default)]
struct SlotCounts {
    total: u32,
    per_user: HashMap<UserId, u32>,
}

impl StreamSlots {
    /// At most `max_total` streams in all, and [`MAX_STREAMS_PER_USER`] per user.
    pub fn new(max_total: u32) -> Arc<StreamSlots> {
        assert!(max_total > 0, "a server with no event streams");
        Arc::new(StreamSlots {
            max_total,
            open: Mutex::new(SlotCounts::default()),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, SlotCounts> {
        // The counts stay consistent under a panic elsewhere: every change is one statement.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for one more stream of `user`, or `None` when the user or the server is at the
    /// limit. The slot is given back when the returned guard drops (the stream ends).
    pub fn acquire(self: &Arc<StreamSlots>, user: UserId) -> Option<StreamSlot> {
        let mut counts = self.counts();
        let mine = counts.per_user.get(&user).copied().unwrap_or(0);
        if mine >= MAX_STREAMS_PER_USER || counts.total >= self.max_total {
            return None;
        }
        counts.per_user.insert(user, mine + 1);
        counts.total += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user,
        })
    }

    /// Streams open now: in total, and of `user`.
    pub fn open(&self, user: UserId) -> (u32, u32) {
        let counts = self.counts();
        (
            counts.total,
            counts.per_user.get(&user).copied().unwrap_or(0),
        )
    }
}

/// One open stream's slot, released on drop.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: UserId,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts();
        let mine = counts.per_user.get(&self.user).copied().unwrap_or(0);
        debug_assert!(mine > 0, "a stream slot released twice");
        debug_assert!(counts.total > 0, "more stream slots released than taken");
        if mine <= 1 {
            counts.per_user.remove(&self.user);
        } else {
            counts.per_user.insert(self.user, mine - 1);
        }
        counts.total = counts.total.saturating_sub(1);
    }
}

/// Events per page when the client does not say.
pub const DEFAULT_EVENTS_PER_PAGE: u32 = 100;

/// Most events one page returns: a page is one indexed range read and one response body.
pub const MAX_EVENTS_PER_PAGE: u32 = 500;

/// A page of a user's events, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events after the cursor, in order.
    pub events: Vec<StoredEvent>,
    /// Where to read on: the last event's seq, or the cursor given when the page is empty.
    pub next: u64,
    /// Whether more events follow right now.
    pub has_more: bool,
}

/// The credential an event stream was opened with, checked again while the stream stays
/// open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCredential {
    /// A logged-in session.
    Session(Uuid),
    /// An API key.
    ApiKey(Uuid),
}

/// An event cursor given as `after`: 0 (from the start) when absent; never above the largest
/// seq a store can hold, since no such event exists and the database could not compare it.
pub fn parse_after(after: Option<u64>) -> Result<u64, Error> {
    match after {
        None => Ok(0),
        Some(seq) if seq <= MAX_STORED_INTEGER => Ok(seq),
        Some(_) => Err(Error::validation(format!(
            "after must be at most {MAX_STORED_INTEGER}"
        ))),
    }
}

/// An event cursor given as a stream's `Last-Event-ID`: the last seq the client handled.
pub fn parse_last_event_id(id: &str) -> Result<u64, Error> {
    parse_stored_integer(id).ok_or_else(|| Error::validation("Last-Event-ID must be an event seq"))
}

/// How long events are kept. A client further behind than this has lost events and must resync
/// from the trade listing (and its balance); a month covers any client that is merely offline.
pub const EVENT_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// Events one prune statement deletes at most: short statements hold short locks.
pub const MAX_PRUNED_PER_BATCH: u32 = 1_000;

impl crate::Market {
    /// The events of `user` after seq `after`, oldest first: `limit` of them (1 to
    /// [`MAX_EVENTS_PER_PAGE`], [`DEFAULT_EVENTS_PER_PAGE`] when not given).
    pub async fn events_page(
        &self,
        user: UserId,
        after: u64,
        limit: Option<u32>,
    ) -> Result<EventPage, Error> {
        let limit = limit.unwrap_or(DEFAULT_EVENTS_PER_PAGE);
        if !(1..=MAX_EVENTS_PER_PAGE).contains(&limit) {
            return Err(Error::validation(format!(
                "limit must be between 1 and {MAX_EVENTS_PER_PAGE}"
            )));
        }
        // One more than asked tells whether another page follows.
        let mut events = self.store.events_after(user, after, limit + 1).await?;
        let has_more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = events.last().map_or(after, |e| e.seq);
        Ok(EventPage {
            events,
            next,
            has_more,
        })
    }

    /// At most `limit` events of `user` after seq `after`, oldest first: what an open stream
    /// reads next.
    pub async fn events_after(
        &self,
        user: UserId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, Error> {
        Ok(self.store.events_after(user, after, limit).await?)
    }

    /// Whether `credential` of `user` still works: a session not ended, a key not revoked, the
    /// account not disabled. An open stream asks before sending anything new.
    pub async fn stream_credential_active(
        &self,
        user: UserId,
        credential: StreamCredential,
    ) -> Result<bool, Error> {
        Ok(match credential {
            StreamCredential::Session(session) => self
                .store
                .session_state(session, user, self.now())
                .await?
                .is_some_and(|s| !s.ended && !s.disabled),
            StreamCredential::ApiKey(id) => self.store.api_key_active(id, user).await?,
        })
    }

    /// Deletes one batch (at most [`MAX_PRUNED_PER_BATCH`]) of events older than
    /// [`EVENT_RETENTION`] at the injected clock's now; returns how many. Call again while it
    /// returns a full batch.
    pub async fn prune_events(&self) -> Result<u64, Error> {
        let retention_ms = u64::try_from(EVENT_RETENTION.as_millis()).unwrap_or(u64::MAX);
        let before = Timestamp::from_unix_ms(self.now().as_unix_ms().saturating_sub(retention_ms));
        Ok(self
            .store
            .prune_events(before, MAX_PRUNED_PER_BATCH)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_user_and_in_total_and_come_back_on_drop() {
        let slots = StreamSlots::new(6);
        let (alice, bob) = (UserId::new_v7(), UserId::new_v7());
        let held: Vec<StreamSlot> = (0..MAX_STREAMS_PER_USER)
            .map(|_| slots.acquire(alice).expect("within the user's limit"))
            .collect();
        assert!(
            slots.acquire(alice).is_none(),
            "one more than the user's limit"
        );
        let bobs: Vec<StreamSlot> = (0..2).map(|_| slots.acquire(bob).unwrap()).collect();
        assert!(slots.acquire(bob).is_none(), "the server's limit");
        assert_eq!(slots.open(alice), (6, MAX_STREAMS_PER_USER));
        drop(held);
        assert_eq!(slots.open(alice), (2, 0));
        assert!(slots.acquire(alice).is_some());
        drop(bobs);
        assert_eq!(slots.open(bob), (0, 0));
    }
}
