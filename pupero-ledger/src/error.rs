//! The one error type of `pupero-ledger`.

/// What can go wrong storing the ledger.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL names no engine this crate supports.
    #[error("unsupported database URL (expected sqlite:, mysql: or mariadb:)")]
    UnsupportedUrl,
    /// The database failed or could not be reached.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's schema is behind this build and it was opened with
    /// [`crate::Migrations::Check`].
    #[error(
        "the database schema is behind this build: migration {0} is not applied (run `pupero migrate`)"
    )]
    NotMigrated(i64),
    /// A stored row does not decode into a valid ledger value.
    #[error("stored ledger data is invalid: {0}")]
    Corrupt(String),
    /// More items in one call than [`pupero_core::limits`] allows.
    #[error("batch of {0} items is larger than allowed")]
    BatchTooLarge(usize),
    /// The writer task is gone (the ledger was shut down).
    #[error("the ledger writer has stopped")]
    WriterStopped,
    /// A ledger invariant does not hold in the database. Never expected; always a bug.
    #[error("ledger invariant violated: {0}")]
    InvariantViolated(String),
    /// The caller's [`crate::Attachment`] aborted its transaction with this code; nothing was
    /// written.
    #[error("aborted by the caller's statements: {0}")]
    Aborted(&'static str),
    /// The ledger refused the request (insufficient funds, idempotency conflict, ...).
    #[error(transparent)]
    Refused(#[from] pupero_core::Error),
}

impl Error {
    /// Whether the request was refused because an account lacks funds.
    pub fn is_insufficient_funds(&self) -> bool {
        matches!(self, Error::Refused(e) if e.is_insufficient_funds())
    }

    /// Whether the request reused an id (idempotency key) for a different request.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Refused(e) if e.is_conflict())
    }

    /// Whether the request names an account or transfer that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Refused(e) if e.is_not_found())
    }

    /// Whether the ledger refused the request (as opposed to failing to store it).
    pub fn is_refused(&self) -> bool {
        matches!(self, Error::Refused(_))
    }

    /// Whether the database cannot serve now, which is no bug: try again later (see
    /// [`is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Database(e) if is_unavailable(e))
    }

    /// The ledger's refusal, if this is one.
    pub fn refusal(&self) -> Option<&pupero_core::Error> {
        match self {
            Error::Refused(e) => Some(e),
            _ => None,
        }
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(what.to_string())
}

/// Whether `error` says the database cannot serve now: unreachable or gone away, no connection
/// free in time, or a Galera node that lost its cluster's quorum (error 1047, SQLSTATE `08S01`,
/// "WSREP has not yet prepared node for application use"), which answers nothing until the
/// cluster is whole again. Readiness fails on the same errors, since the ping fails.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().as_deref() == Some("08S01"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_unavailable_not_broken() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert!(Error::Database(error).is_unavailable());
        }
        assert!(!Error::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!Error::WriterStopped.is_unavailable());
    }
}
