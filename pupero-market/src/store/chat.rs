//! A trade's chat messages, the feedback the parties leave each other, and the numbers of a
//! public profile.
//!
//! Writes happen in a transaction of the store ([`Store::begin_write`]) together with the
//! events they cause (the `*_in` functions take its connection). Messages and feedback are
//! never updated or deleted: they are kept with the trade.

use pupero_core::limits::MAX_RELEASE_TIME_SAMPLES;
use pupero_core::{FeedbackCounts, MessageId, Piconero, Rating, Timestamp, TradeId, UserId};
use pupero_ledger::Engine;
use sqlx::{Any, AnyConnection, Transaction};

use super::convert::{ms, parsed, time, time_opt, unsigned};
use super::{Store, StoreError, lock_row_in};

/// Locks trade `id`'s row until the transaction ends, so that a count and the insert it
/// allows are one decision on MariaDB; on SQLite the write transaction already excludes every
/// other writer.
pub async fn lock_trade_in(
    conn: &mut AnyConnection,
    engine: Engine,
    id: TradeId,
) -> Result<(), StoreError> {
    lock_row_in(conn, engine, "trades", id.to_string()).await
}

/// Piconero per unit of the high part of the volume sum: the sum is taken in two parts (whole
/// units and the remainder) so that neither can overflow a `BIGINT` in the database, however
/// many trades a user completed.
const VOLUME_UNIT_PICONERO: u64 = 1_000_000;

/// A chat message as stored, with its sender's username.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// The message id (time-ordered).
    pub id: MessageId,
    /// The trade.
    pub trade: TradeId,
    /// Who wrote it.
    pub sender: UserId,
    /// Their username.
    pub sender_name: String,
    /// The text.
    pub body: String,
    /// When, by the server's clock.
    pub created_at: Timestamp,
}

/// A feedback as stored, with its author's username and when its trade ended.
#[derive(Debug, Clone)]
pub struct FeedbackRow {
    /// The trade it is about.
    pub trade: TradeId,
    /// Who left it.
    pub author: UserId,
    /// Their username.
    pub author_name: String,
    /// Whom it is about.
    pub subject: UserId,
    /// The rating.
    pub rating: Rating,
    /// The comment (may be empty).
    pub comment: String,
    /// When it was left.
    pub created_at: Timestamp,
    /// When the trade ended.
    pub trade_closed_at: Option<Timestamp>,
}

/// Where a listing of a user's feedback continues: after the one left at `created_at` on
/// trade `trade` (a user gets at most one feedback per trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedbackCursor {
    /// When the last feedback of the previous page was left.
    pub created_at: Timestamp,
    /// Its trade.
    pub trade: TradeId,
}

impl FeedbackCursor {
    /// `<unix ms>_<trade uuid>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.as_unix_ms(), self.trade)
    }

    /// Parses [`FeedbackCursor::encode`].
    pub fn parse(s: &str) -> Option<FeedbackCursor> {
        let (ms, id) = s.split_once('_')?;
        Some(FeedbackCursor {
            created_at: Timestamp::parse_unix_ms(ms).ok()?,
            trade: id.parse().ok()?,
        })
    }
}

/// The numbers a public profile is computed from, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileNumbers {
    /// Completed (released or resolved) trades on either side.
    pub completed_trades: u64,
    /// Their summed amounts; `Piconero::MAX` if the sum ever exceeded it.
    pub volume: Piconero,
    /// Ratings received.
    pub feedback: FeedbackCounts,
    /// `(paid, released)` of the user's latest releases as a seller, at most
    /// [`MAX_RELEASE_TIME_SAMPLES`].
    pub releases: Vec<(Timestamp, Timestamp)>,
}

/// What the chat and feedback columns are, in errors.
const CORRUPT: &str = "chat or feedback row";

fn rating_of(text: &str) -> Result<Rating, StoreError> {
    Rating::parse(text).map_err(|_| StoreError::Corrupt(CORRUPT))
}

/// A message's columns with its sender's username.
#[derive(sqlx::FromRow)]
struct MessageColumns {
    id: String,
    trade_id: String,
    sender_id: String,
    sender_name: String,
    body: String,
    created_at_ms: i64,
}

impl TryFrom<MessageColumns> for MessageRow {
    type Error = StoreError;

    fn try_from(c: MessageColumns) -> Result<MessageRow, StoreError> {
        Ok(MessageRow {
            id: parsed(&c.id, CORRUPT)?,
            trade: parsed(&c.trade_id, CORRUPT)?,
            sender: parsed(&c.sender_id, CORRUPT)?,
            sender_name: c.sender_name,
            body: c.body,
            created_at: time(c.created_at_ms, CORRUPT)?,
        })
    }
}

/// A feedback's columns with its author's username and its trade's end.
#[derive(sqlx::FromRow)]
struct FeedbackColumns {
    trade_id: String,
    author_id: String,
    author_name: String,
    subject_id: String,
    rating: String,
    comment: String,
    created_at_ms: i64,
    closed_at_ms: Option<i64>,
}

impl TryFrom<FeedbackColumns> for FeedbackRow {
    type Error = StoreError;

    fn try_from(c: FeedbackColumns) -> Result<FeedbackRow, StoreError> {
        Ok(FeedbackRow {
            trade: parsed(&c.trade_id, CORRUPT)?,
            author: parsed(&c.author_id, CORRUPT)?,
            author_name: c.author_name,
            subject: parsed(&c.subject_id, CORRUPT)?,
            rating: rating_of(&c.rating)?,
            comment: c.comment,
            created_at: time(c.created_at_ms, CORRUPT)?,
            trade_closed_at: time_opt(c.closed_at_ms, CORRUPT)?,
        })
    }
}

/// Completed trades on one side and their volume in two parts (see
/// [`VOLUME_UNIT_PICONERO`]).
#[derive(sqlx::FromRow)]
struct VolumeColumns {
    n: i64,
    units: i64,
    rest: i64,
}

/// Messages trade `trade` holds, in the caller's transaction.
pub async fn message_count_in(conn: &mut AnyConnection, trade: TradeId) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trade_messages WHERE trade_id = ?")
        .bind(trade.to_string())
        .fetch_one(&mut *conn)
        .await?;
    unsigned(n, CORRUPT)
}

/// Who wrote in trade `trade`'s chat other than `seller` and `buyer` (the moderators who took
/// part), in the caller's transaction.
pub async fn other_senders_in(
    conn: &mut AnyConnection,
    trade: TradeId,
    seller: UserId,
    buyer: UserId,
) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT sender_id FROM trade_messages WHERE trade_id = ? \
         AND sender_id <> ? AND sender_id <> ?",
    )
    .bind(trade.to_string())
    .bind(seller.to_string())
    .bind(buyer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    ids.iter().map(|id| parsed(id, CORRUPT)).collect()
}

/// Inserts a chat message, in the caller's transaction.
pub async fn insert_message_in(
    conn: &mut AnyConnection,
    message: &MessageRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO trade_messages (id, trade_id, sender_id, body, created_at_ms) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(message.id.to_string())
    .bind(message.trade.to_string())
    .bind(message.sender.to_string())
    .bind(message.body.clone())
    .bind(ms(message.created_at)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a feedback, in the caller's transaction; `false` when the author already left one
/// on this trade (the primary key decides, so two concurrent submissions cannot both pass).
pub async fn insert_feedback_in(
    conn: &mut AnyConnection,
    feedback: &FeedbackRow,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO trade_feedback (trade_id, author_id, subject_id, rating, comment, created_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(feedback.trade.to_string())
    .bind(feedback.author.to_string())
    .bind(feedback.subject.to_string())
    .bind(feedback.rating.as_str())
    .bind(feedback.comment.clone())
    .bind(ms(feedback.created_at)?)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// A write transaction of the server's tables (`BEGIN IMMEDIATE` on SQLite, so that it
    /// never has to upgrade a read lock).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(self.pool.begin_with(self.engine.begin_write()).await?)
    }

    /// The engine of the database, for statements that differ.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Trade `trade`'s messages, oldest first, after message `after`.
    pub async fn messages(
        &self,
        trade: TradeId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError> {
        // Message ids are UUIDv7: in their text form they sort by time.
        let rows = sqlx::query_as::<_, MessageColumns>(
            "SELECT m.id, m.trade_id, m.sender_id, u.username AS sender_name, m.body, m.created_at_ms \
             FROM trade_messages m JOIN users u ON u.id = m.sender_id \
             WHERE m.trade_id = ? AND m.id > ? ORDER BY m.id LIMIT ?",
        )
        .bind(trade.to_string())
        .bind(after.map_or_else(String::new, |id| id.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MessageRow::try_from).collect()
    }

    /// Feedback about `subject`, newest first, after `after`.
    pub async fn feedback_about(
        &self,
        subject: UserId,
        after: Option<FeedbackCursor>,
        limit: u32,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        let (before_ms, before_trade) = match after {
            Some(c) => (ms(c.created_at)?, c.trade.to_string()),
            // Past every stored time; "~" sorts after every UUID's text.
            None => (i64::MAX, "~".to_owned()),
        };
        let rows = sqlx::query_as::<_, FeedbackColumns>(
            "SELECT f.trade_id, f.author_id, a.username AS author_name, f.subject_id, f.rating, \
             f.comment, f.created_at_ms, t.closed_at_ms FROM trade_feedback f \
             JOIN users a ON a.id = f.author_id JOIN trades t ON t.id = f.trade_id \
             WHERE f.subject_id = ? AND (f.created_at_ms < ? OR (f.created_at_ms = ? AND f.trade_id < ?)) \
             ORDER BY f.created_at_ms DESC, f.trade_id DESC LIMIT ?",
        )
        .bind(subject.to_string())
        .bind(before_ms)
        .bind(before_ms)
        .bind(before_trade)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FeedbackRow::try_from).collect()
    }

    /// What `user`'s public profile is computed from: completed trades on both sides, their
    /// volume, the ratings received and the latest release times.
    pub async fn profile_numbers(&self, user: UserId) -> Result<ProfileNumbers, StoreError> {
        let units = format!("amount_piconero {} 1000000", self.engine.integer_division());
        debug_assert_eq!(
            VOLUME_UNIT_PICONERO, 1_000_000,
            "the SQL above names the unit"
        );
        let mut completed = 0_u64;
        let mut volume_units = 0_u128;
        let mut volume_rest = 0_u128;
        for side in ["seller_id", "buyer_id"] {
            // CAST: MariaDB sums integers as DECIMAL; SQLite keeps the integer.
            let sql = format!(
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM({units}), 0) AS SIGNED) AS units, \
                 CAST(COALESCE(SUM(amount_piconero % 1000000), 0) AS SIGNED) AS rest \
                 FROM trades WHERE {side} = ? AND state IN ('released', 'resolved')"
            );
            let row = sqlx::query_as::<_, VolumeColumns>(sqlx::AssertSqlSafe(sql))
                .bind(user.to_string())
                .fetch_one(&self.pool)
                .await?;
            completed = completed.saturating_add(unsigned(row.n, CORRUPT)?);
            volume_units += u128::from(unsigned(row.units, CORRUPT)?);
            volume_rest += u128::from(unsigned(row.rest, CORRUPT)?);
        }
        let volume = volume_units
            .checked_mul(u128::from(VOLUME_UNIT_PICONERO))
            .and_then(|v| v.checked_add(volume_rest))
            .and_then(|v| u64::try_from(v).ok())
            .map_or(Piconero::MAX, Piconero::new);

        let mut feedback = FeedbackCounts::default();
        let ratings: Vec<(String, i64)> = sqlx::query_as(
            "SELECT rating, COUNT(*) AS n FROM trade_feedback WHERE subject_id = ? GROUP BY rating",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        for (rating, n) in &ratings {
            feedback.add(rating_of(rating)?, unsigned(*n, CORRUPT)?);
        }

        let times: Vec<(Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT paid_at_ms, closed_at_ms FROM trades WHERE seller_id = ? AND state = 'released' \
             ORDER BY closed_at_ms DESC LIMIT ?",
        )
        .bind(user.to_string())
        .bind(i64::from(MAX_RELEASE_TIME_SAMPLES))
        .fetch_all(&self.pool)
        .await?;
        let releases = times
            .into_iter()
            .map(|times| match times {
                (Some(paid), Some(closed)) => Ok((time(paid, CORRUPT)?, time(closed, CORRUPT)?)),
                _ => Err(StoreError::Corrupt("a released trade without its times")),
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ProfileNumbers {
            completed_trades: completed,
            volume,
            feedback,
            releases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_cursors_round_trip() {
        let cursor = FeedbackCursor {
            created_at: Timestamp::from_unix_ms(1_700_000_000_123),
            trade: TradeId::new_v7(),
        };
        assert_eq!(FeedbackCursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(FeedbackCursor::parse("nope"), None);
        assert_eq!(FeedbackCursor::parse("12_nope"), None);
        // Beyond what a BIGINT holds: never issued, refused here rather than in SQL.
        let id = uuid::Uuid::nil();
        assert_eq!(
            FeedbackCursor::parse(&format!("9223372036854775808_{id}")),
            None
        );
        assert_eq!(FeedbackCursor::parse(&format!("-1_{id}")), None);
        assert!(FeedbackCursor::parse(&format!("9223372036854775807_{id}")).is_some());
    }
}
