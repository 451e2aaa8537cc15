//! Requests and responses of `events` (see the server's `api::events`).

use uuid::Uuid;

/// Something that happened that the caller should hear of.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct UserEvent {
    /// The caller's sequence number: 1, 2, 3... in commit order, without gaps. Pass the last
    /// one handled as `after` (or `Last-Event-ID` on the stream) to resume after it.
    pub seq: u64,
    /// `trade_opened`, `trade_paid`, `trade_released`, `trade_cancelled`, `trade_expired`,
    /// `trade_disputed`, `trade_resolved`, `chat_message`, `balance_changed`,
    /// `feedback_received`, `api_key_created`; a deposit's `deposit_seen`,
    /// `deposit_confirmations`, `deposit_credited`, `deposit_gone` (payload: `txid`, `amount`,
    /// `confirmations`, `required`, `height`); a withdrawal's `withdrawal_signed`,
    /// `withdrawal_broadcast`, `withdrawal_confirmed`, `withdrawal_failed` (payload:
    /// `withdrawal_id`, `state`, `txid`, `amount`, `fee`). Clients ignore kinds they do not
    /// know.
    pub kind: crate::EventKind,
    /// The trade it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_id: Option<Uuid>,
    /// Details, a JSON object; its fields depend on the kind.
    pub payload: serde_json::Value,
    /// When it was recorded, unix ms.
    pub created_at_ms: u64,
}

/// A page of the caller's events, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct EventPage {
    /// The events after the cursor, in order.
    pub items: Vec<UserEvent>,
    /// Pass as `after` to read on: the last item's seq, or the cursor given when the page is
    /// empty.
    pub next: u64,
    /// Whether more events follow right now.
    pub has_more: bool,
}
