//! Statements of the caller that commit together with a ledger plan, or not at all.
//!
//! A trade and its escrow must never exist one without the other, and a trade's step must
//! happen once even when two requests race: so the server's row changes (insert the trade,
//! compare-and-set its version, write its events) run inside the very transaction in which the
//! writer applies the ledger plan. See [`crate::SqlLedger::transfer_attached`].

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
    async fn run(&self, conn: &mut AnyConnection, engine: Engine) -> Result<(), AttachmentError>;
}
