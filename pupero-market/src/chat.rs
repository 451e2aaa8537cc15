//! A trade's chat: its two parties talk, and a moderator joins once the trade is disputed.
//!
//! Who may read and write is who may see the trade ([`Market::visible_trade`]): the parties,
//! and moderators once it is (or was) disputed; anyone else is told the trade does not exist.
//! The chat takes messages while the trade is open and for [`CHAT_GRACE_SECS`] after it
//! ended ([`pupero_core::Trade::chat_open`]), at most [`MAX_CHAT_MESSAGES_PER_TRADE`] in all.
//! A message and its `chat_message` events (one for every other participant: the parties,
//! and the moderators who resolved the trade or wrote in it) are written in one transaction;
//! the streams are woken after the commit. Messages are kept with the trade, never deleted.
//!
//! [`CHAT_GRACE_SECS`]: pupero_core::limits::CHAT_GRACE_SECS

use pupero_core::chat::MessageBody;
use pupero_core::limits::MAX_CHAT_MESSAGES_PER_TRADE;
use pupero_core::{Caller, MessageId, TradeId};

use crate::Market;
use crate::error::{Error, ErrorKind};
use crate::events::{EventKind, NewEvent, insert_events_in};
use crate::store::{
    MatrixJob, MessageRow, NewMatrixJob, TradeRow, insert_inbound_in, insert_matrix_job_in,
    insert_message_in, message_count_in, other_senders_in,
};

impl Market {
    /// The chat of trade `id` as `caller` may read it: at most `limit` messages after `after`,
    /// oldest first, with the trade they belong to.
    pub async fn trade_messages(
        &self,
        id: TradeId,
        caller: &Caller,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<(TradeRow, Vec<MessageRow>), Error> {
        let row = self.visible_trade(id, caller).await?;
        let messages = self.store.messages(row.trade.id(), after, limit).await?;
        Ok((row, messages))
    }

    /// Posts `body` in the chat of trade `id` as `caller`. Returns the message and the trade
    /// it was posted on.
    ///
    /// Every attempt counts towards the sender's chat rate limit, before anything else: one
    /// whose text is refused too, so the text comes unparsed and is parsed here
    /// ([`MessageBody::parse`]).
    pub async fn post_message(
        &self,
        id: TradeId,
        caller: &Caller,
        body: &str,
    ) -> Result<(MessageRow, TradeRow), Error> {
        self.post_message_from(id, caller, body, None).await
    }

    /// As [`Market::post_message`], for a message the Matrix bridge took in as event
    /// `event_id` of the homeserver: taken in once, and not mirrored back.
    pub(crate) async fn post_matrix_message(
        &self,
        id: TradeId,
        caller: &Caller,
        body: &str,
        event_id: &str,
    ) -> Result<(), Error> {
        self.post_message_from(id, caller, body, Some(event_id))
            .await
            .map(drop)
    }

    async fn post_message_from(
        &self,
        id: TradeId,
        caller: &Caller,
        body: &str,
        matrix_event: Option<&str>,
    ) -> Result<(MessageRow, TradeRow), Error> {
        let user = caller.user();
        self.limits.check_chat(user)?;
        let body = MessageBody::parse(body).map_err(|e| Error::validation(e.to_string()))?;
        let row = self.visible_trade(id, caller).await?;
        let now = self.now();
        if !row.trade.chat_open(now) {
            return Err(Error::new(
                ErrorKind::ChatClosed,
                "the trade ended too long ago: its chat is closed",
            ));
        }
        let (seller, buyer) = (row.trade.seller(), row.trade.buyer());
        let sender_name = if user == seller {
            row.seller_name.clone()
        } else if user == buyer {
            row.buyer_name.clone()
        } else {
            self.store
                .user_by_id(user)
                .await?
                .ok_or_else(|| Error::not_found("no such user"))?
                .username
        };
        let message = MessageRow {
            id: MessageId::new_v7(),
            trade: id,
            sender: user,
            sender_name,
            body: body.as_str().to_owned(),
            created_at: now,
        };

        let mut tx = self.store.begin_write().await?;
        // The count and the insert are one decision: the trade's row is locked first (SQLite's
        // write transaction already excludes every other writer), so concurrent posts queue
        // here and never pass the bound together.
        crate::store::lock_trade_in(&mut tx, self.store.engine(), id).await?;
        if message_count_in(&mut tx, id).await? >= u64::from(MAX_CHAT_MESSAGES_PER_TRADE) {
            return Err(Error::new(
                ErrorKind::ChatFull,
                "this trade's chat holds as many messages as it may",
            ));
        }
        let mut participants = vec![seller, buyer];
        participants.extend(row.resolved_by.as_ref().map(|(by, _)| *by));
        participants.extend(other_senders_in(&mut tx, id, seller, buyer).await?);
        participants.sort_unstable();
        participants.dedup();
        participants.retain(|p| *p != user);
        let events: Vec<NewEvent> = participants
            .iter()
            .map(|recipient| NewEvent {
                user: *recipient,
                kind: EventKind::ChatMessage,
                trade: Some(id),
                payload: serde_json::json!({
                    "trade_id": id.to_string(),
                    "message_id": message.id.to_string(),
                    "sender": message.sender_name,
                }),
            })
            .collect();
        match (matrix_event, &self.matrix) {
            // Taken in once: a transaction the homeserver pushes again adds nothing.
            (Some(event_id), _) => {
                if let Err(e) = insert_inbound_in(&mut tx, event_id, now).await {
                    return match e {
                        sqlx::Error::Database(d) if d.is_unique_violation() => Ok((message, row)),
                        e => Err(crate::store::StoreError::from(e).into()),
                    };
                }
            }
            (None, Some(_)) => {
                let job = NewMatrixJob {
                    id: *message.id.as_uuid(),
                    job: MatrixJob::Message,
                    trade: Some(id),
                    user: Some(user),
                    body: Some(message.body.clone()),
                };
                insert_matrix_job_in(&mut tx, &job, now).await?;
            }
            (None, None) => {}
        }
        insert_message_in(&mut tx, &message).await?;
        insert_events_in(&mut tx, &events, now).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        self.events.notify(participants);
        if let Some(bridge) = &self.matrix
            && matrix_event.is_none()
        {
            bridge.wake.notify_one();
        }
        Ok((message, row))
    }
}
