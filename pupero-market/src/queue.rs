//! The withdrawal queue: where the outbox is published and where the wallet worker hears of
//! new work.
//!
//! The database is the truth. A message only says "look at withdrawal N", and the worker also
//! looks on a timer, so a lost message delays a withdrawal by one interval and a duplicate
//! costs one idle pass; neither can move money. Two implementations of [`WorkQueue`]:
//! - [`InProcessQueue`], the embedded default: a channel inside the process running the
//!   worker, fed by that process's outbox publisher;
//! - [`RabbitQueue`]: a durable RabbitMQ queue with persistent messages, publisher confirms,
//!   a dead-letter queue for messages the worker cannot read, and single-active-consumer, so
//!   that of several worker processes one receives (the database lease still decides who
//!   builds transactions).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

use crate::settings::{QueueKind, RabbitSettings};

/// How long connecting to the broker may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the broker may take to confirm a published message.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages the broker hands the worker before it acknowledges any: one pass settles them all.
const PREFETCH: u16 = 64;

/// Why the queue failed. Nothing is lost: unpublished outbox rows are published later, and
/// unacknowledged messages are delivered again.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker failed, refused, or could not be reached.
    #[error("rabbitmq: {0}")]
    Broker(#[from] lapin::Error),
    /// The broker did not answer in time.
    #[error("rabbitmq did not answer within {0:?}")]
    Timeout(Duration),
    /// The broker did not take the message (a negative confirm, or returned as unroutable).
    #[error("rabbitmq did not take the message")]
    NotTaken,
    /// The broker closed the consumer.
    #[error("rabbitmq closed the consumer")]
    Closed,
}

/// What a message says: look at this withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkMessage {
    /// The outbox row it was published from (also the AMQP message id).
    pub outbox_id: i64,
    /// The outbox topic (`withdrawal`).
    pub topic: String,
    /// The withdrawal to look at.
    pub withdrawal_id: Uuid,
}

/// A message taken from the queue, to settle once the worker has looked.
pub struct Received {
    /// The message, or `None` if it could not be read (it goes to the dead-letter queue).
    pub message: Option<WorkMessage>,
    /// Whether the broker delivered it before (to a worker that did not acknowledge it).
    pub redelivered: bool,
    acker: Option<lapin::Acker>,
}

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Received")
            .field("message", &self.message)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

/// How a received message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Done: the worker looked.
    Ack,
    /// Unreadable, or about no withdrawal we know: kept in the dead-letter queue for an
    /// operator, never delivered again.
    DeadLetter,
}

/// The port between the outbox publisher, the queue and the worker.
#[async_trait]
pub trait WorkQueue: Send + Sync + fmt::Debug {
    /// `in-process` or `rabbitmq`, for logs and health.
    fn kind(&self) -> &'static str;

    /// Hands `message` to the queue; `Ok` once the queue holds it (durably, for RabbitMQ: the
    /// broker confirmed it).
    async fn publish(&self, message: &WorkMessage) -> Result<(), QueueError>;

    /// The next message, or `None` when none came within `wait` (zero: only one already
    /// waiting).
    async fn receive(&self, wait: Duration) -> Result<Option<Received>, QueueError>;

    /// Acknowledges or dead-letters a received message. A failure is harmless: the broker
    /// delivers the message again, and the worker looks again.
    async fn settle(&self, received: Received, how: Settle) -> Result<(), QueueError>;

    /// Whether the queue can take a message now, for readiness: the broker answers (a live
    /// connection, or a new one).
    async fn ping(&self) -> Result<(), QueueError>;
}

/// The embedded queue: a channel inside the process.
#[derive(Debug)]
pub struct InProcessQueue {
    sender: mpsc::UnboundedSender<WorkMessage>,
    receiver: Mutex<mpsc::UnboundedReceiver<WorkMessage>>,
}

impl InProcessQueue {
    /// An empty queue.
    pub fn new() -> InProcessQueue {
        let (sender, receiver) = mpsc::unbounded_channel();
        InProcessQueue {
            sender,
            receiver: Mutex::new(receiver),
        }
    }
}

impl Default for InProcessQueue {
    fn default() -> Self {
        InProcessQueue::new()
    }
}

#[async_trait]
impl WorkQueue for InProcessQueue {
    fn kind(&self) -> &'static str {
        "in-process"
    }

    async fn publish(&self, message: &WorkMessage) -> Result<(), QueueError> {
        self.sender
            .send(message.clone())
            .map_err(|_| QueueError::Closed)
    }

    async fn receive(&self, wait: Duration) -> Result<Option<Received>, QueueError> {
        let mut receiver = self.receiver.lock().await;
        match tokio::time::timeout(wait, receiver.recv()).await {
            Err(_) => Ok(None),
            Ok(None) => Err(QueueError::Closed),
            Ok(Some(message)) => Ok(Some(Received {
                message: Some(message),
                redelivered: false,
                acker: None,
            })),
        }
    }

    async fn settle(&self, _: Received, _: Settle) -> Result<(), QueueError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }
}

/// A durable RabbitMQ queue. Publishing and consuming use their own connections, opened on
/// first use and again after any failure.
pub struct RabbitQueue {
    settings: RabbitSettings,
    publisher: Mutex<Option<(Connection, Channel)>>,
    consumer: Mutex<Option<(Connection, Channel, Consumer)>>,
}

impl fmt::Debug for RabbitQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitQueue")
            .field("queue", &self.settings.queue)
            .finish_non_exhaustive()
    }
}

impl RabbitQueue {
    /// A queue per `settings`; nothing connects until it is used.
    pub fn new(settings: RabbitSettings) -> RabbitQueue {
        RabbitQueue {
            settings,
            publisher: Mutex::new(None),
            consumer: Mutex::new(None),
        }
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue(&self) -> String {
        dead_letter_name(&self.settings.queue)
    }

    async fn connect(&self, role: &str) -> Result<(Connection, Channel), QueueError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(LongString::from(format!("pupero {role}")));
        let connection =
            timeout(Connection::connect(self.settings.url.expose(), properties)).await?;
        let channel = timeout(connection.create_channel()).await?;
        declare(&channel, &self.settings.queue, self.settings.kind).await?;
        Ok((connection, channel))
    }

    async fn connect_publisher(&self) -> Result<(Connection, Channel), QueueError> {
        let (connection, channel) = self.connect("outbox publisher").await?;
        timeout(channel.confirm_select(ConfirmSelectOptions::default())).await?;
        Ok((connection, channel))
    }

    async fn connect_consumer(&self) -> Result<(Connection, Channel, Consumer), QueueError> {
        let (connection, channel) = self.connect("wallet worker").await?;
        timeout(channel.basic_qos(PREFETCH, BasicQosOptions::default())).await?;
        let consumer = timeout(channel.basic_consume(
            self.settings.queue.as_str().into(),
            format!("pupero-worker-{}", Uuid::now_v7()).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ))
        .await?;
        tracing::info!(queue = %self.settings.queue, "consuming withdrawal messages");
        Ok((connection, channel, consumer))
    }
}

fn dead_letter_name(queue: &str) -> String {
    format!("{queue}.dead")
}

/// Declares the queue and its dead-letter queue (idempotent with the same arguments).
async fn declare(channel: &Channel, queue: &str, kind: QueueKind) -> Result<(), QueueError> {
    let dead = dead_letter_name(queue);
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let of_kind = || {
        let mut arguments = FieldTable::default();
        if kind == QueueKind::Quorum {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString(LongString::from("quorum")),
            );
        }
        arguments
    };
    timeout(channel.queue_declare(dead.as_str().into(), durable, of_kind())).await?;
    let mut arguments = of_kind();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(dead)),
    );
    arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    if kind == QueueKind::Quorum {
        arguments.insert(
            "x-dead-letter-strategy".into(),
            AMQPValue::LongString(LongString::from("at-least-once")),
        );
        arguments.insert(
            "x-overflow".into(),
            AMQPValue::LongString(LongString::from("reject-publish")),
        );
    }
    timeout(channel.queue_declare(queue.into(), durable, arguments)).await?;
    Ok(())
}

async fn timeout<T>(call: impl Future<Output = Result<T, lapin::Error>>) -> Result<T, QueueError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(QueueError::Timeout(CONNECT_TIMEOUT)),
    }
}

#[async_trait]
impl WorkQueue for RabbitQueue {
    fn kind(&self) -> &'static str {
        "rabbitmq"
    }

    async fn publish(&self, message: &WorkMessage) -> Result<(), QueueError> {
        let mut link = self.publisher.lock().await;
        if link.is_none() {
            *link = Some(self.connect_publisher().await?);
        }
        let Some((_, channel)) = link.as_ref() else {
            return Err(QueueError::Closed);
        };
        let body = serde_json::to_vec(message).map_err(|_| QueueError::NotTaken)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(2) // persistent: survives a broker restart
            .with_content_type("application/json".into())
            .with_message_id(message.outbox_id.to_string().into());
        let confirm = async {
            channel
                .basic_publish(
                    "".into(),
                    self.settings.queue.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    properties,
                )
                .await?
                .await
        };
        let outcome = tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await;
        match outcome {
            Ok(Ok(confirmation)) => {
                // An ack with a returned message means no queue took it (unroutable: the
                // queue was deleted). The next publish connects again, declaring it again.
                if confirmation.is_ack() && confirmation.take_message().is_none() {
                    Ok(())
                } else {
                    *link = None;
                    Err(QueueError::NotTaken)
                }
            }
            Ok(Err(e)) => {
                *link = None;
                Err(e.into())
            }
            Err(_) => {
                *link = None;
                Err(QueueError::Timeout(CONFIRM_TIMEOUT))
            }
        }
    }

    async fn receive(&self, wait: Duration) -> Result<Option<Received>, QueueError> {
        let mut link = self.consumer.lock().await;
        if link.is_none() {
            *link = Some(self.connect_consumer().await?);
        }
        let Some((_, _, consumer)) = link.as_mut() else {
            return Err(QueueError::Closed);
        };
        match tokio::time::timeout(wait, consumer.next()).await {
            Err(_) => Ok(None),
            Ok(None) => {
                *link = None;
                Err(QueueError::Closed)
            }
            Ok(Some(Err(e))) => {
                *link = None;
                Err(e.into())
            }
            Ok(Some(Ok(delivery))) => Ok(Some(Received {
                message: serde_json::from_slice(&delivery.data).ok(),
                redelivered: delivery.redelivered,
                acker: Some(delivery.acker),
            })),
        }
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut link = self.publisher.lock().await;
        if let Some((connection, _)) = link.as_ref()
            && connection.status().connected()
        {
            return Ok(());
        }
        // The publisher's own connection: the next publish uses it.
        *link = Some(self.connect_publisher().await?);
        Ok(())
    }

    async fn settle(&self, received: Received, how: Settle) -> Result<(), QueueError> {
        let Some(acker) = received.acker else {
            return Ok(());
        };
        match how {
            Settle::Ack => timeout(acker.ack(BasicAckOptions::default())).await?,
            Settle::DeadLetter => {
                timeout(acker.reject(BasicRejectOptions { requeue: false })).await?
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: i64) -> WorkMessage {
        WorkMessage {
            outbox_id: n,
            topic: "withdrawal".to_owned(),
            withdrawal_id: Uuid::from_u128(u128::try_from(n).expect("positive")),
        }
    }

    #[tokio::test]
    async fn the_in_process_queue_delivers_in_order_and_waits() {
        let queue = InProcessQueue::new();
        assert!(
            queue
                .receive(Duration::ZERO)
                .await
                .expect("empty")
                .is_none()
        );
        queue.publish(&message(1)).await.expect("publish");
        queue.publish(&message(2)).await.expect("publish");
        for n in [1, 2] {
            let got = queue
                .receive(Duration::from_secs(1))
                .await
                .expect("receive")
                .expect("a message");
            assert_eq!(got.message, Some(message(n)));
            queue.settle(got, Settle::Ack).await.expect("settle");
        }
        assert!(
            queue
                .receive(Duration::from_millis(10))
                .await
                .expect("empty")
                .is_none()
        );
    }

    #[test]
    fn messages_are_plain_json() {
        let json = serde_json::to_value(message(7)).expect("json");
        assert_eq!(json["outbox_id"], 7);
        assert_eq!(json["topic"], "withdrawal");
        assert_eq!(json["withdrawal_id"], Uuid::from_u128(7).to_string());
    }
}
