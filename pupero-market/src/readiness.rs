//! Readiness: whether the market's dependencies answer now.
//!
//! The database always, the wallet RPC and RabbitMQ when they are configured. Each check has
//! its own time limit ([`DEPENDENCY_TIMEOUT`]); what does not answer is named, and the cause
//! logged. Waiting for another process's wallet worker lease is not a fault: a standby is
//! ready, and the report names the holder.

use std::time::Duration;

use pupero_core::Timestamp;
use uuid::Uuid;

use crate::Market;

/// How long one dependency may take to answer a readiness check.
pub const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(2);

/// A dependency of the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The database.
    Database,
    /// The wallet RPC, when one is configured.
    Wallet,
    /// RabbitMQ, when configured.
    Queue,
}

impl Dependency {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Wallet => "wallet",
            Dependency::Queue => "queue",
        }
    }
}

/// Who holds the wallet worker lease, as readiness reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseReport {
    /// The holding process's worker id.
    pub holder: Uuid,
    /// When the lease runs out unless its holder renews it.
    pub until: Timestamp,
    /// Whether this process holds it.
    pub this_process: bool,
}

/// What answers and what does not, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// What does not answer, in the order of [`Dependency`]; empty when ready.
    pub down: Vec<Dependency>,
    /// Who holds the wallet worker lease, when a wallet is configured, the database answers
    /// and someone holds it.
    pub worker_lease: Option<LeaseReport>,
}

impl Readiness {
    /// Whether every dependency answers.
    pub fn is_ready(&self) -> bool {
        self.down.is_empty()
    }
}

/// Whether `check` answers within [`DEPENDENCY_TIMEOUT`]; the cause of a failure is logged.
async fn answers<E: std::error::Error + 'static>(
    dependency: Dependency,
    check: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    let name = dependency.as_str();
    match tokio::time::timeout(DEPENDENCY_TIMEOUT, check).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %crate::error::chain(&e), "not ready");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = name, timeout = ?DEPENDENCY_TIMEOUT, "not ready: no answer in time");
            false
        }
    }
}

impl Market {
    /// Checks every configured dependency now, each within [`DEPENDENCY_TIMEOUT`], and reads
    /// who holds the worker lease. Never fails: what cannot be checked is down.
    pub async fn readiness(&self) -> Readiness {
        let database = answers(Dependency::Database, self.store.ping());
        let wallet = async {
            match &self.wallet {
                Some(wallet) => {
                    answers(Dependency::Wallet, async {
                        wallet.rpc.height().await.map(drop)
                    })
                    .await
                }
                None => true,
            }
        };
        let queue = async {
            if self.settings.rabbitmq.is_some() {
                answers(Dependency::Queue, self.queue.ping()).await
            } else {
                true
            }
        };
        let (database, wallet, queue) = tokio::join!(database, wallet, queue);
        let down: Vec<Dependency> = [
            (Dependency::Database, database),
            (Dependency::Wallet, wallet),
            (Dependency::Queue, queue),
        ]
        .into_iter()
        .filter(|(_, up)| !up)
        .map(|(dependency, _)| dependency)
        .collect();
        let worker_lease = if database && self.wallet.is_some() {
            match self.worker_lease().await {
                Ok(holder) => holder.map(|h| LeaseReport {
                    holder: h.holder,
                    until: h.until,
                    this_process: h.holder == self.worker_id,
                }),
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "reading the worker lease failed");
                    None
                }
            }
        } else {
            None
        };
        Readiness { down, worker_lease }
    }
}
