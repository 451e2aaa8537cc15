//! The [`LedgerStore`] port: what a storage adapter of the ledger provides.

use async_trait::async_trait;

use super::{
    Account, AccountResult, NewAccount, NewTransfer, Transfer, TransferKind, TransferResult,
};
use crate::Piconero;
use crate::ids::{AccountId, TransferId};
use crate::limits::{DEFAULT_HISTORY_PAGE_SIZE, MAX_HISTORY_PAGE_SIZE};

/// Durable storage of the ledger. Every call is atomic: a batch commits all or nothing
/// (linked chains inside it fail together; independent transfers fail alone), and once a call
/// returns `Ok` its effects are durable.
///
/// Implementations apply the rules of [`super::LedgerBook`]; they never decide on their own
/// whether a transfer is valid.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// The adapter's error: storage failures only. Refusals of individual accounts and
    /// transfers are in the per-item results.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Creates accounts; one result per request, in order.
    async fn create_accounts(
        &self,
        accounts: &[NewAccount],
    ) -> Result<Vec<AccountResult>, Self::Error>;

    /// Creates transfers; one result per request, in order.
    async fn create_transfers(
        &self,
        transfers: &[NewTransfer],
    ) -> Result<Vec<TransferResult>, Self::Error>;

    /// The accounts that exist among `ids`, in no particular order.
    async fn lookup_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>, Self::Error>;

    /// The transfers that exist among `ids`, in no particular order.
    async fn lookup_transfers(&self, ids: &[TransferId]) -> Result<Vec<Transfer>, Self::Error>;

    /// Transfers debiting or crediting `account`, newest first.
    async fn account_history(
        &self,
        account: AccountId,
        query: HistoryQuery,
    ) -> Result<HistoryPage, Self::Error>;

    /// What moved in and out of `account`, newest first, as a statement reads: every single
    /// and pending transfer, each hold with the transfer that settled it (posted, voided or
    /// expired) instead of that transfer on a line of its own.
    async fn account_movements(
        &self,
        account: AccountId,
        query: HistoryQuery,
    ) -> Result<MovementPage, Self::Error>;

    /// Expires pending transfers whose timeout has passed, at most
    /// [`crate::limits::MAX_EXPIRIES_PER_SWEEP`] per call; returns how many it expired.
    async fn expire_pending(&self) -> Result<u32, Self::Error>;
}

/// An opaque position in an account's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HistoryCursor(u64);

impl HistoryCursor {
    /// A cursor from its stored sequence number. Only adapters should call this.
    pub const fn from_seq(seq: u64) -> Self {
        HistoryCursor(seq)
    }

    /// The stored sequence number.
    pub const fn seq(self) -> u64 {
        self.0
    }

    /// Parses the string form a client got back (the decimal seq): plain digits, at most
    /// [`MAX_STORED_INTEGER`](crate::limits::MAX_STORED_INTEGER), since no larger seq is ever
    /// issued.
    pub fn parse(s: &str) -> crate::Result<HistoryCursor> {
        crate::limits::parse_stored_integer(s)
            .map(HistoryCursor)
            .ok_or(crate::Error::InvalidId("invalid history cursor"))
    }
}

impl std::fmt::Display for HistoryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which page of history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    limit: u32,
    before: Option<HistoryCursor>,
}

impl HistoryQuery {
    /// The first page, of `limit` entries at most (clamped to
    /// [`crate::limits::MAX_HISTORY_PAGE_SIZE`], and at least 1).
    pub fn first(limit: u32) -> HistoryQuery {
        HistoryQuery {
            limit: limit.clamp(1, MAX_HISTORY_PAGE_SIZE),
            before: None,
        }
    }

    /// The page after `cursor` (older entries).
    pub fn after(cursor: HistoryCursor, limit: u32) -> HistoryQuery {
        HistoryQuery {
            before: Some(cursor),
            ..HistoryQuery::first(limit)
        }
    }

    /// Entries per page.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Where the page starts (exclusive), if not at the newest entry.
    pub fn before(&self) -> Option<HistoryCursor> {
        self.before
    }
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery::first(DEFAULT_HISTORY_PAGE_SIZE)
    }
}

/// A page of history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The transfers, newest first.
    pub transfers: Vec<Transfer>,
    /// Where the next (older) page starts, or `None` on the last page.
    pub next: Option<HistoryCursor>,
}

/// One movement of an account's money: a single transfer, or a hold and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// A single or pending transfer.
    pub transfer: Transfer,
    /// For a pending transfer that ended, the post, void or expiry that ended it.
    pub settlement: Option<Transfer>,
}

/// Where a movement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MovementStatus {
    /// Done: a single transfer, or a hold posted (in full or in part; the rest returned).
    Completed,
    /// A hold still waiting for its outcome.
    Held,
    /// A hold voided: nothing moved in the end.
    Returned,
    /// A hold that ran out of time: nothing moved in the end.
    Expired,
}

impl MovementStatus {
    /// The stable name: `completed`, `held`, `returned` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MovementStatus::Completed => "completed",
            MovementStatus::Held => "held",
            MovementStatus::Returned => "returned",
            MovementStatus::Expired => "expired",
        }
    }
}

impl Movement {
    /// Where it stands.
    pub fn status(&self) -> MovementStatus {
        match (self.transfer.kind, self.settlement.as_ref().map(|s| s.kind)) {
            (TransferKind::Pending, None) => MovementStatus::Held,
            (TransferKind::Pending, Some(TransferKind::Post)) => MovementStatus::Completed,
            (TransferKind::Pending, Some(TransferKind::Void)) => MovementStatus::Returned,
            (TransferKind::Pending, Some(_)) => MovementStatus::Expired,
            _ => MovementStatus::Completed,
        }
    }

    /// What moved in the end: a single transfer's amount, what a post posted, nothing for a
    /// returned or expired hold; while held, the amount held.
    pub fn amount(&self) -> Piconero {
        match self.status() {
            MovementStatus::Completed => self
                .settlement
                .as_ref()
                .map_or(self.transfer.amount, |posted| posted.amount),
            MovementStatus::Held => self.transfer.amount,
            MovementStatus::Returned | MovementStatus::Expired => Piconero::ZERO,
        }
    }

    /// When it ended (or happened, for a single transfer); `None` while held.
    pub fn settled_at(&self) -> Option<crate::clock::Timestamp> {
        match (&self.settlement, self.transfer.kind) {
            (Some(settlement), _) => Some(settlement.timestamp),
            (None, TransferKind::Pending) => None,
            (None, _) => Some(self.transfer.timestamp),
        }
    }
}

/// A page of movements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementPage {
    /// The movements, newest first (by when they started).
    pub movements: Vec<Movement>,
    /// Where the next (older) page starts, or `None` on the last page.
    pub next: Option<HistoryCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_cursors_round_trip_and_stay_storable() {
        let cursor = HistoryCursor::from_seq(1234);
        assert_eq!(HistoryCursor::parse(&cursor.to_string()), Ok(cursor));
        assert!(HistoryCursor::parse("9223372036854775807").is_ok());
        for bad in ["9223372036854775808", &u64::MAX.to_string(), "-1", "", "x"] {
            assert!(
                HistoryCursor::parse(bad).unwrap_err().is_invalid_input(),
                "{bad:?}"
            );
        }
    }
}
