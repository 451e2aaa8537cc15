//! A trade's chat, the feedback its parties leave each other, and a user's public feedback.

use pupero_api::Rating;
use serde::Serialize;
use uuid::Uuid;

use crate::{Client, Error};

pub use pupero_api::{FeedbackPage, PublicFeedback};
/// The wire type `MessageView`, by the name this SDK gave it first.
pub type ChatMessage = pupero_api::MessageView;
/// The wire type `MessagePage`, by the name this SDK gave it first.
pub type ChatPage = pupero_api::MessagePage;
/// The wire type `FeedbackView`, by the name this SDK gave it first.
pub type Feedback = pupero_api::FeedbackView;

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
