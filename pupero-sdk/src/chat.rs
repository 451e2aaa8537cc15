//! A trade's chat, the feedback its parties leave each other, and a user's public feedback.

use pupero_core::Rating;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Client, Error};

/// A chat message.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessage {
    /// Message id.
    pub id: Uuid,
    /// The trade.
    pub trade_id: Uuid,
    /// The sender's username.
    pub sender: String,
    /// `seller`, `buyer` or `moderator`.
    pub sender_role: String,
    /// The text.
    pub body: String,
    /// When it was posted, unix ms.
    pub created_at_ms: u64,
}

/// A page of a trade's chat, oldest first.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatPage {
    /// The messages.
    pub items: Vec<ChatMessage>,
    /// Cursor of the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Feedback as its author left it.
#[derive(Debug, Clone, Deserialize)]
pub struct Feedback {
    /// The trade.
    pub trade_id: Uuid,
    /// Whom it is about.
    pub subject: String,
    /// `positive`, `neutral` or `negative`.
    pub rating: String,
    /// The comment.
    pub comment: String,
    /// When it was left, unix ms.
    pub created_at_ms: u64,
}

/// Feedback as a profile shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct PublicFeedback {
    /// `positive`, `neutral` or `negative`.
    pub rating: String,
    /// The comment.
    pub comment: String,
    /// Who left it.
    pub author: String,
    /// When it was left, unix ms.
    pub created_at_ms: u64,
    /// When the trade ended, unix ms.
    pub trade_closed_at_ms: Option<u64>,
}

/// A page of a user's feedback, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedbackPage {
    /// The feedback.
    pub items: Vec<PublicFeedback>,
    /// Cursor of the next page; absent on the last.
    pub next_cursor: Option<String>,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    body: &'a str,
}

#[derive(Serialize)]
struct FeedbackBody<'a> {
    rating: &'a str,
    comment: &'a str,
}

fn query(limit: Option<u32>, cursor: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(limit) = limit {
        parts.push(format!("limit={limit}"));
    }
    if let Some(cursor) = cursor {
        parts.push(format!("cursor={}", crate::urlencode(cursor)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    /// One page of a trade's chat, oldest first.
    pub async fn trade_messages(
        &self,
        trade: Uuid,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<ChatPage, Error> {
        let path = format!("/api/v1/trades/{trade}/messages{}", query(limit, cursor));
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// Posts in a trade's chat.
    pub async fn post_trade_message(&self, trade: Uuid, body: &str) -> Result<ChatMessage, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{trade}/messages"),
            Some(&MessageBody { body }),
            true,
        )
        .await
    }

    /// Rates the other party of a completed trade, once.
    pub async fn leave_feedback(
        &self,
        trade: Uuid,
        rating: Rating,
        comment: &str,
    ) -> Result<Feedback, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{trade}/feedback"),
            Some(&FeedbackBody {
                rating: rating.as_str(),
                comment,
            }),
            true,
        )
        .await
    }

    /// One page of the feedback `username` received, newest first. Public.
    pub async fn user_feedback(
        &self,
        username: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<FeedbackPage, Error> {
        let path = format!(
            "/api/v1/users/{}/feedback{}",
            crate::urlencode(username),
            query(limit, cursor)
        );
        self.send(reqwest::Method::GET, &path, None::<&()>, false)
            .await
    }
}
