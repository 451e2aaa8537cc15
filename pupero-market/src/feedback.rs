//! Feedback after a trade, and the numbers of a public profile.
//!
//! Each party of a completed (released or resolved) trade may rate the other once:
//! `positive`, `neutral` or `negative`, with a short comment. The primary key
//! `(trade_id, author_id)` makes "once" hold under concurrent submissions; the loser gets 409
//! `FEEDBACK_EXISTS`. The feedback and the subject's `feedback_received` event are written in
//! one transaction. Profiles count only completed trades; the arithmetic (score, median) is
//! the core's ([`pupero_core::reputation`]), the database only supplies the numbers.

use pupero_core::reputation::median_release_secs;
use pupero_core::{Caller, FeedbackComment, Party, Rating, TradeId, UserId};

use crate::Market;
use crate::error::{Error, ErrorKind};
use crate::events::{EventKind, NewEvent, insert_events_in};
use crate::store::{FeedbackCursor, FeedbackRow, StoreError, insert_feedback_in};
use crate::trades::trade_error;

/// A user's public numbers, computed from their completed trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileStats {
    /// The numbers as read.
    pub numbers: crate::store::ProfileNumbers,
    /// Positive in percent of positive and negative ratings, rounded down.
    pub score_percent: Option<u8>,
    /// Median seconds from "paid" to "released" over the latest releases as a seller.
    pub median_release_secs: Option<u64>,
}

impl Market {
    /// `author` rates the other party of trade `id`. Only a party may, once, and only once the
    /// trade completed. Returns the feedback and the subject's username.
    pub async fn leave_feedback(
        &self,
        id: TradeId,
        caller: &Caller,
        rating: Rating,
        comment: FeedbackComment,
    ) -> Result<(FeedbackRow, String), Error> {
        let author = caller.user();
        let row = self.visible_trade(id, caller).await?;
        let side = row.trade.side_of(author).map_err(trade_error)?;
        if !row.trade.is_completed() {
            return Err(Error::new(
                ErrorKind::FeedbackNotAllowed,
                "feedback is for a released or resolved trade",
            ));
        }
        let (author_name, subject, subject_name) = match side {
            Party::Seller => (row.seller_name, row.trade.buyer(), row.buyer_name),
            Party::Buyer => (row.buyer_name, row.trade.seller(), row.seller_name),
        };
        debug_assert_ne!(author, subject);
        let now = self.now();
        let feedback = FeedbackRow {
            trade: id,
            author,
            author_name,
            subject,
            rating,
            comment: comment.as_str().to_owned(),
            created_at: now,
            trade_closed_at: row.trade.closed_at(),
        };
        let event = NewEvent {
            user: subject,
            kind: EventKind::FeedbackReceived,
            trade: Some(id),
            payload: serde_json::json!({
                "trade_id": id.to_string(),
                "rating": rating.as_str(),
            }),
        };
        let mut tx = self.store.begin_write().await?;
        if !insert_feedback_in(&mut tx, &feedback).await? {
            return Err(Error::new(
                ErrorKind::FeedbackExists,
                "you already left feedback on this trade",
            ));
        }
        insert_events_in(&mut tx, &[event], now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.events.notify([subject]);
        Ok((feedback, subject_name))
    }

    /// The feedback the user named `username` received, newest first: at most `limit` after
    /// `after`.
    pub async fn feedback_received(
        &self,
        username: &str,
        after: Option<FeedbackCursor>,
        limit: u32,
    ) -> Result<Vec<FeedbackRow>, Error> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        Ok(self.store.feedback_about(user.id, after, limit).await?)
    }

    /// The public numbers of `user`.
    pub async fn profile_stats(&self, user: UserId) -> Result<ProfileStats, Error> {
        let numbers = self.store.profile_numbers(user).await?;
        Ok(ProfileStats {
            score_percent: numbers.feedback.score_percent(),
            median_release_secs: median_release_secs(numbers.releases.iter().copied()),
            numbers,
        })
    }
}
