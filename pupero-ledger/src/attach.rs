//! Statements of the caller that commit together with a ledger plan, or not at all.
//!
//! A trade and its escrow must never exist one without the other, and a trade's step must
//! happen once even when two requests race: so the server's row changes (insert the trade,
//! compare-and-set its version, write its events) run inside the very transaction in which the
//! writer applies the ledger plan. See [`crate::SqlLedger::transfer_attached`].

use std::any::Any;

use async_trait::async_trait;
use sqlx::AnyConnection;

use crate::dialect::Engine;

/// Why an [`Attachment`] did not let its transaction commit.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// The caller's own rule said no (a compare-and-set lost, a limit was reached): nothing is
    /// written. The reason is the caller's stable code.
    #[error("aborted: {0}")]
    Abort(&'static str),
    /// A statement failed; the transaction is rolled back (and retried when the failure is a
    /// deadlock or a busy database, so statements must be safe to run again).
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Row changes that belong to a ledger plan.
#[async_trait]
pub trait Attachment: Send + Sync + 'static {
    /// Runs in the writer's transaction after the ledger accepted every transfer of the plan and
    /// before anything is written. Returning an error rolls back the plan and these statements.
    /// May run more than once: if the transaction is retried, or if another command of its
    /// group commit aborted and the group is applied again without it.
    ///
    /// Rows that need no answer before the commit (events, say) are better added to one of the
    /// group's `batches` than written here: a batch writes the rows of every attachment of the
    /// group in one statement, where each attachment writing its own would cost one each.
    async fn run(
        &self,
        conn: &mut AnyConnection,
        engine: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError>;
}

/// Rows that the attachments of one group commit gather, to be written together after the last
/// of them ran (see [`Batches`]).
#[async_trait]
pub trait Batch: Any + Send {
    /// Writes the rows gathered, in the group's transaction. An error rolls back the group.
    async fn write(&mut self, conn: &mut AnyConnection, engine: Engine) -> Result<(), sqlx::Error>;
}

/// The batches of one group commit, at most one of each type. The writer writes them after
/// every attachment of the group ran and before the ledger's own rows, in the order each was
/// first asked for; they start empty on every attempt at the group, so an aborted or retried
/// pass leaves nothing behind.
#[derive(Default)]
pub struct Batches {
    batches: Vec<Box<dyn Batch>>,
}

impl Batches {
    /// The group's batch of type `B`, started empty by the first attachment that asks.
    pub fn get<B: Batch + Default>(&mut self) -> &mut B {
        let index = match self.batches.iter().position(|b| {
            let any: &dyn Any = &**b;
            any.is::<B>()
        }) {
            Some(index) => index,
            None => {
                self.batches.push(Box::new(B::default()));
                self.batches.len() - 1
            }
        };
        let any: &mut dyn Any = &mut *self.batches[index];
        any.downcast_mut::<B>()
            .expect("the batch at this index is a B")
    }

    /// Writes every batch, in the order they were started.
    pub(crate) async fn write(
        &mut self,
        conn: &mut AnyConnection,
        engine: Engine,
    ) -> Result<(), sqlx::Error> {
        for batch in &mut self.batches {
            batch.write(conn, engine).await?;
        }
        Ok(())
    }

    /// Whether any attachment asked for a batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}
