//! A trade's chat and the feedback its parties leave each other; a user's public feedback.
//!
//! The chat is read and written by whoever may see the trade (the parties; moderators once it
//! is disputed); anyone else gets 404. Feedback is by a party about the other, once, after the
//! trade completed. A user's feedback list is public.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api as wire;
use pupero_core::limits::{
    DEFAULT_CHAT_PAGE_SIZE, DEFAULT_FEEDBACK_PAGE_SIZE, MAX_CHAT_PAGE_SIZE, MAX_FEEDBACK_PAGE_SIZE,
};
use pupero_core::{FeedbackComment, MessageId, Party, Rating, Scope, Trade, TradeId};
use uuid::Uuid;

use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::ApiError;
use pupero_market::store::{FeedbackCursor, FeedbackRow, MessageRow};

pub use pupero_api::{
    FeedbackPage, FeedbackRequest, FeedbackView, MessagePage, MessageView, PostMessageRequest,
    PublicFeedback,
};

/// The chat and feedback resource.
pub struct ChatApi;

/// `201 Created`.
#[derive(ApiResponse)]
pub enum MessagePosted {
    /// The message, as stored.
    #[oai(status = 201)]
    Created(Json<MessageView>),
}

/// `201 Created`.
#[derive(ApiResponse)]
pub enum FeedbackLeft {
    /// The feedback, as stored.
    #[oai(status = 201)]
    Created(Json<FeedbackView>),
}

fn message_view(m: &MessageRow, trade: &Trade) -> MessageView {
    let sender_role = match trade.side_of(m.sender) {
        Ok(Party::Seller) => wire::SenderRole::Seller,
        Ok(Party::Buyer) => wire::SenderRole::Buyer,
        Err(_) => wire::SenderRole::Moderator,
    };
    MessageView {
        id: *m.id.as_uuid(),
        trade_id: *m.trade.as_uuid(),
        sender: m.sender_name.clone(),
        sender_role,
        body: m.body.clone(),
        created_at_ms: m.created_at.as_unix_ms(),
    }
}

fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation(format!(
            "limit must be between 1 and {max}"
        ))),
    }
}

fn is_full<T>(items: &[T], limit: u32) -> bool {
    items.len() == usize::try_from(limit).unwrap_or(usize::MAX)
}

#[OpenApi(tag = "Tag::Trades")]
impl ChatApi {
    /// A trade's chat, oldest first (its parties; moderators once disputed).
    #[oai(
        path = "/api/v1/trades/:id/messages",
        method = "get",
        operation_id = "list_trade_messages"
    )]
    async fn messages(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        /// Messages per page, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<MessagePage>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let limit = page_limit(limit.0, DEFAULT_CHAT_PAGE_SIZE, MAX_CHAT_PAGE_SIZE)?;
        let after = cursor
            .0
            .map(|c| {
                c.parse::<MessageId>()
                    .map_err(|_| ApiError::validation("invalid cursor"))
            })
            .transpose()?;
        let (row, messages) = app
            .0
            .market
            .trade_messages(TradeId::from_uuid(id.0), &principal.caller(), after, limit)
            .await?;
        let next_cursor = messages
            .last()
            .filter(|_| is_full(&messages, limit))
            .map(|m| m.id.to_string());
        Ok(Json(MessagePage {
            items: messages
                .iter()
                .map(|m| message_view(m, &row.trade))
                .collect(),
            next_cursor,
        }))
    }

    /// Posts in a trade's chat: while the trade is open and for 7 days after it ended (then
    /// 409 `CHAT_CLOSED`). The other participants get a `chat_message` event.
    #[oai(
        path = "/api/v1/trades/:id/messages",
        method = "post",
        operation_id = "post_trade_message"
    )]
    async fn post_message(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<PostMessageRequest>,
    ) -> Result<MessagePosted, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let (message, row) = app
            .0
            .market
            .post_message(TradeId::from_uuid(id.0), &principal.caller(), &body.body)
            .await?;
        Ok(MessagePosted::Created(Json(message_view(
            &message, &row.trade,
        ))))
    }

    /// Rates the other party of a completed (released or resolved) trade, once (then 409
    /// `FEEDBACK_EXISTS`); before completion 409 `FEEDBACK_NOT_ALLOWED`.
    #[oai(
        path = "/api/v1/trades/:id/feedback",
        method = "post",
        operation_id = "leave_trade_feedback"
    )]
    async fn leave_feedback(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<FeedbackRequest>,
    ) -> Result<FeedbackLeft, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let rating = Rating::from(body.rating);
        let comment = FeedbackComment::parse(body.comment.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::validation(e.to_string()))?;
        let (feedback, subject) = app
            .0
            .market
            .leave_feedback(
                TradeId::from_uuid(id.0),
                &principal.caller(),
                rating,
                comment,
            )
            .await?;
        Ok(FeedbackLeft::Created(Json(FeedbackView {
            trade_id: *feedback.trade.as_uuid(),
            subject,
            rating: feedback.rating.into(),
            comment: feedback.comment,
            created_at_ms: feedback.created_at.as_unix_ms(),
        })))
    }

    /// The feedback a user received, newest first. Public.
    #[oai(
        path = "/api/v1/users/:username/feedback",
        method = "get",
        operation_id = "user_feedback",
        tag = "Tag::Account"
    )]
    async fn user_feedback(
        &self,
        app: Data<&Arc<AppState>>,
        username: Path<String>,
        /// Entries per page, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<FeedbackPage>, ApiError> {
        let limit = page_limit(limit.0, DEFAULT_FEEDBACK_PAGE_SIZE, MAX_FEEDBACK_PAGE_SIZE)?;
        let after = cursor
            .0
            .map(|c| {
                FeedbackCursor::parse(&c).ok_or_else(|| ApiError::validation("invalid cursor"))
            })
            .transpose()?;
        let rows = app
            .0
            .market
            .feedback_received(&username.0, after, limit)
            .await?;
        let next_cursor = rows.last().filter(|_| is_full(&rows, limit)).map(|f| {
            FeedbackCursor {
                created_at: f.created_at,
                trade: f.trade,
            }
            .encode()
        });
        Ok(Json(FeedbackPage {
            items: rows.into_iter().map(public_feedback).collect(),
            next_cursor,
        }))
    }
}

// The documentation above names these limits.
const _: () = {
    use pupero_core::limits::{
        CHAT_GRACE_SECS, MAX_CHAT_MESSAGE_CHARS, MAX_FEEDBACK_COMMENT_CHARS,
    };
    assert!(MAX_CHAT_MESSAGE_CHARS == 2_000);
    assert!(CHAT_GRACE_SECS == 7 * 24 * 60 * 60);
    assert!(MAX_FEEDBACK_COMMENT_CHARS == 500);
    assert!(MAX_CHAT_PAGE_SIZE == 100 && DEFAULT_CHAT_PAGE_SIZE == 50);
    assert!(MAX_FEEDBACK_PAGE_SIZE == 100 && DEFAULT_FEEDBACK_PAGE_SIZE == 20);
};

fn public_feedback(f: FeedbackRow) -> PublicFeedback {
    PublicFeedback {
        rating: f.rating.into(),
        comment: f.comment,
        author: f.author_name,
        created_at_ms: f.created_at.as_unix_ms(),
        trade_closed_at_ms: f.trade_closed_at.map(|t| t.as_unix_ms()),
    }
}
