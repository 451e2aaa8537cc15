//! The accounts this process's ledger writer changed, in commit order.
//!
//! A reader that keeps balances in memory (the market's order book) follows the feed to see
//! this process's own transfers at once, without asking the database; what other processes
//! commit it must read from the database itself. The feed keeps the last
//! [`MAX_FEED_ENTRIES`] changes: a reader further behind is told so and reads everything again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pupero_core::ledger::Account;

/// Changes the feed keeps for readers that are behind.
pub const MAX_FEED_ENTRIES: usize = 8_192;

/// Accounts as this process's writer committed them, each with its position in the feed.
#[derive(Debug, Default)]
pub struct AccountFeed {
    /// The position of the last change published; 0 before the first.
    position: AtomicU64,
    entries: Mutex<VecDeque<(u64, Account)>>,
}

/// What changed after a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedRead {
    /// The accounts changed since, oldest first (an account may appear more than once; the last
    /// is its state now), and the position they bring the reader to.
    Changes {
        /// The accounts as committed.
        accounts: Vec<Account>,
        /// The new position.
        position: u64,
    },
    /// Changes since were dropped: read every account again, then follow from `position`.
    Lost {
        /// The position to follow from after reading everything.
        position: u64,
    },
}

impl AccountFeed {
    /// The position of the last change published.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// The changes after `position`.
    pub fn since(&self, position: u64) -> FeedRead {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = entries.back().map_or(0, |(p, _)| *p);
        let oldest = entries.front().map_or(now.saturating_add(1), |(p, _)| *p);
        if position.saturating_add(1) < oldest {
            return FeedRead::Lost { position: now };
        }
        let start = entries.partition_point(|(p, _)| *p <= position);
        FeedRead::Changes {
            accounts: entries.range(start..).map(|(_, a)| *a).collect(),
            position: now.max(position),
        }
    }

    /// Records `accounts` as just committed.
    pub(crate) fn publish<'a>(&self, accounts: impl IntoIterator<Item = &'a Account>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut position = entries.back().map_or(0, |(p, _)| *p);
        for account in accounts {
            position += 1;
            if entries.len() == MAX_FEED_ENTRIES {
                entries.pop_front();
            }
            entries.push_back((position, *account));
        }
        self.position.store(position, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pupero_core::ledger::{AccountCode, AccountFlags, Balances, LedgerId};
    use pupero_core::{AccountId, Timestamp};

    fn account(n: u128) -> Account {
        Account::from_parts(
            AccountId::from_u128(n),
            LedgerId::XMR,
            AccountCode::UserXmr,
            AccountFlags::NONE,
            Balances::default(),
            Timestamp::EPOCH,
        )
    }

    #[test]
    fn a_reader_gets_what_it_has_not_seen_or_is_told_it_lost_some() {
        let feed = AccountFeed::default();
        assert_eq!(
            feed.since(0),
            FeedRead::Changes {
                accounts: vec![],
                position: 0
            }
        );
        feed.publish(&[account(1), account(2)]);
        assert_eq!(feed.position(), 2);
        assert_eq!(
            feed.since(1),
            FeedRead::Changes {
                accounts: vec![account(2)],
                position: 2
            }
        );
        let many: Vec<Account> = (0..u128::try_from(MAX_FEED_ENTRIES).unwrap())
            .map(account)
            .collect();
        feed.publish(&many);
        let position = 2 + u64::try_from(MAX_FEED_ENTRIES).unwrap();
        assert_eq!(feed.since(1), FeedRead::Lost { position });
        assert!(
            matches!(feed.since(2), FeedRead::Changes { ref accounts, .. } if accounts.len() == MAX_FEED_ENTRIES)
        );
    }
}
