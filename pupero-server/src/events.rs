//! Users' events: what happened that a user should hear of (a trade step, a chat message, a
//! balance change). Events are rows of `user_events`, written in the same transaction as the
//! change they report, so a client that reads them by cursor never misses one and never sees
//! one for a change that did not commit. The in-process [`EventBus`] only wakes the open
//! streams; the rows are the truth.

use pupero_core::{Timestamp, TradeId, UserId};
use sqlx::AnyConnection;
use tokio::sync::broadcast;

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

/// Records `events` in the caller's transaction.
pub async fn insert_events_in(
    conn: &mut AnyConnection,
    events: &[NewEvent],
    now: Timestamp,
) -> Result<(), StoreError> {
    for event in events {
        sqlx::query(
            "INSERT INTO user_events (user_id, kind, trade_id, payload, created_at_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(event.user.to_string())
        .bind(event.kind.as_str())
        .bind(event.trade.map(|t| t.to_string()))
        .bind(event.payload.to_string())
        .bind(ms(now)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Wakes the event streams of users who have new events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<UserId>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus {
            sender: broadcast::channel(BUS_CAPACITY).0,
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
}
