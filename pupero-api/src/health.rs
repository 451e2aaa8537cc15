//! Requests and responses of `health` (see the server's `api::health`).

/// A health report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Health {
    /// `ok`, or what is wrong.
    pub status: String,
}

/// A readiness report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct ReadinessReport {
    /// `ok`, or `not ready:` and what is down.
    pub status: String,
    /// What does not answer: `database`, `wallet` (the wallet RPC, when one is configured),
    /// `queue` (RabbitMQ, when configured). Empty when ready.
    pub down: Vec<crate::Dependency>,
    /// Who holds the wallet worker lease (when a wallet is configured and someone holds it):
    /// a process that waits for it is ready, as a standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_lease: Option<WorkerLease>,
}

/// The wallet worker lease: one process at a time pays withdrawals and sweeps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct WorkerLease {
    /// The holding process's worker id (each process logs its own at start).
    pub holder: String,
    /// When the lease runs out unless its holder renews it, unix ms.
    pub until_ms: u64,
    /// Whether this process holds it.
    pub this_process: bool,
}
