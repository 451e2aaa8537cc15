//! Requests and responses of `chat` (see the server's `api::chat`).

use crate::*;
use uuid::Uuid;

/// A new chat message.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PostMessageRequest {
    /// The text: at most 2000 characters once trimmed, not empty, no control characters but
    /// newline and tab, and no invisible or direction-changing characters.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 2000)))]
    pub body: Text,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MessageView {
    /// Message id.
    pub id: Uuid,
    /// The trade.
    pub trade_id: Uuid,
    /// The sender's username.
    pub sender: String,
    /// The sender's part in the trade: `seller`, `buyer` or `moderator`.
    pub sender_role: crate::SenderRole,
    /// The text.
    pub body: String,
    /// When it was posted, unix ms.
    pub created_at_ms: u64,
}

/// A page of a trade's chat, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct MessagePage {
    /// The messages.
    pub items: Vec<MessageView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Feedback on a completed trade, about the other party.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FeedbackRequest {
    /// `positive`, `neutral` or `negative`.
    pub rating: crate::Rating,
    /// At most 500 characters; none if absent.
    #[cfg_attr(feature = "openapi", oai(validator(max_length = 500)))]
    pub comment: Option<Text>,
}

/// Feedback as its author left it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FeedbackView {
    /// The trade.
    pub trade_id: Uuid,
    /// Who it is about.
    pub subject: String,
    /// `positive`, `neutral` or `negative`.
    pub rating: crate::Rating,
    /// The comment.
    pub comment: String,
    /// When it was left, unix ms.
    pub created_at_ms: u64,
}

/// Feedback as anyone sees it on a profile: no amounts, no trade id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct PublicFeedback {
    /// `positive`, `neutral` or `negative`.
    pub rating: crate::Rating,
    /// The comment.
    pub comment: String,
    /// Who left it.
    pub author: String,
    /// When it was left, unix ms.
    pub created_at_ms: u64,
    /// When the trade ended, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_closed_at_ms: Option<u64>,
}

/// A page of a user's feedback, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct FeedbackPage {
    /// The feedback.
    pub items: Vec<PublicFeedback>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
