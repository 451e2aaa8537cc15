//! The market in memory: the core's [`OrderBook`] kept current from the database, so that a
//! market page costs the page and not the market.
//!
//! What changes the book, and how each process sees it:
//! - **This process's ledger commits** arrive through the ledger's [`AccountFeed`] (the
//!   balances as committed), applied before the next page is read: a maker's own transfer
//!   is reflected at once.
//! - **This process's offer, account and price changes** are counted by the [`Store`] as
//!   they commit; the next page reads the database first.
//! - **Other processes' changes** (offers, accounts, balances, prices) are read again by the
//!   first page after [`BOOK_MAX_AGE`]; pages arriving meanwhile answer from the book, but
//!   never from one read longer than [`BOOK_STALE_AGE`] ago (they wait instead). With several
//!   processes on one database, a paused or deleted offer, a disabled maker or a maker's spent
//!   balance leaves every process's market within that bound (plus one reading's duration).
//! - **Time**: a margin offer whose quote grows stale leaves the page at that instant; the
//!   book checks freshness against the clock on every entry it walks.
//!
//! A synchronisation reads only what changed: the revision of every listable offer (one
//! narrow query), then the offers whose revision moved, all makers' balances (one statement
//! per [`MAX_ACCOUNTS_PER_BATCH`] makers) and the quotes of the currencies present.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use pupero_core::ledger::{Account, LedgerStore};
use pupero_core::limits::MAX_ACCOUNTS_PER_BATCH;
use pupero_core::offer::book::OrderBook;
use pupero_core::trade::FeeSchedule;
use pupero_core::{AccountId, OfferId, Piconero, UserId};
use pupero_ledger::{AccountFeed, FeedRead};

use crate::Market;
use crate::error::Error;
use crate::store::Store;

/// The age at which the next page reads the database again, while the others still answer
/// from the book.
pub const BOOK_MAX_AGE: Duration = Duration::from_millis(500);

/// The oldest book a page is answered from: the bound on how long another process's change
/// takes to reach this process's market (plus one reading of the database).
pub const BOOK_STALE_AGE: Duration = Duration::from_secs(1);

/// How current the book is ([`MarketBook::age`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    Fresh,
    Due,
    Stale,
}

/// The order book of one process, with what it needs to follow the database.
#[derive(Debug)]
pub struct MarketBook {
    held: RwLock<Held>,
    /// One synchronisation at a time; holds the offer revisions last read.
    sync: tokio::sync::Mutex<HashMap<OfferId, i64>>,
    /// When the book last read the database, in milliseconds after `epoch`; `u64::MAX` before
    /// the first read and after a local change.
    synced_at_ms: AtomicU64,
    epoch: Instant,
    /// The store's count of this process's market changes when the book last read them.
    seen_changes: AtomicU64,
    /// `Held::position`, readable without the lock: a page finding the feed there takes no
    /// write lock.
    applied: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Held {
    /// The book.
    pub(crate) book: OrderBook,
    /// Makers' balance accounts, to read the ledger feed by account.
    makers: HashMap<AccountId, UserId>,
    /// Makers' usernames (a username never changes), shown with their offers.
    pub(crate) names: HashMap<UserId, Arc<str>>,
    /// The position in the ledger feed applied.
    position: u64,
}

impl MarketBook {
    /// An empty book, read from the database before its first page.
    pub fn new(fees: FeeSchedule) -> MarketBook {
        MarketBook {
            held: RwLock::new(Held {
                book: OrderBook::new(fees),
                makers: HashMap::new(),
                names: HashMap::new(),
                position: 0,
            }),
            sync: tokio::sync::Mutex::new(HashMap::new()),
            synced_at_ms: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            seen_changes: AtomicU64::new(0),
            applied: AtomicU64::new(0),
        }
    }

    /// The username of `maker`, when they have an offer in the book.
    pub(crate) fn name_of(&self, maker: UserId) -> Option<Arc<str>> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        held.names.get(&maker).cloned()
    }

    /// Makes the next page read the database first.
    fn invalidate(&self) {
        self.synced_at_ms.store(u64::MAX, Ordering::Release);
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// How current the book is: read less than [`BOOK_MAX_AGE`] ago and no local change since
    /// (fresh); read less than [`BOOK_STALE_AGE`] ago (due: a page starts reading the database
    /// and the others still answer from the book); or neither.
    fn age(&self, store: &Store) -> Age {
        let synced = self.synced_at_ms.load(Ordering::Acquire);
        if synced == u64::MAX || store.market_changes() != self.seen_changes.load(Ordering::Acquire)
        {
            return Age::Stale;
        }
        let age = Duration::from_millis(self.elapsed_ms().saturating_sub(synced));
        if age < BOOK_MAX_AGE {
            Age::Fresh
        } else if age < BOOK_STALE_AGE {
            Age::Due
        } else {
            Age::Stale
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies this process's ledger commits since the last applied; `false` when the feed
    /// dropped some (the book must read every balance again).
    fn follow(&self, feed: &AccountFeed) -> bool {
        if feed.position() == self.applied.load(Ordering::Acquire) {
            return true;
        }
        let mut held = self.write();
        match feed.since(held.position) {
            FeedRead::Changes { accounts, position } => {
                apply_balances(&mut held, &accounts);
                held.position = position;
                self.applied.store(position, Ordering::Release);
                true
            }
            FeedRead::Lost { .. } => false,
        }
    }
}

fn apply_balances(held: &mut Held, accounts: &[Account]) {
    for account in accounts {
        if let Some(maker) = held.makers.get(&account.id()).copied() {
            let available = account.available().unwrap_or(Piconero::ZERO);
            held.book.set_available(maker, available);
        }
    }
}

impl Market {
    /// The order book, current as [`crate::book`] describes: synchronised with the database
    /// when due, this process's ledger commits applied.
    pub(crate) async fn current_book(&self) -> Result<RwLockReadGuard<'_, Held>, Error> {
        let book = &self.book;
        let feed = self.ledger.feed();
        let current = match book.age(&self.store) {
            Age::Fresh => book.follow(feed),
            // One page reads the database; the others go on with the book meanwhile.
            Age::Due => match book.sync.try_lock() {
                Ok(mut revisions) => {
                    self.synchronise_locked(&mut revisions).await?;
                    true
                }
                Err(_) => book.follow(feed),
            },
            Age::Stale => false,
        };
        if !current {
            let mut revisions = book.sync.lock().await;
            // Another page may have read the database while this one waited.
            if book.age(&self.store) != Age::Fresh || !book.follow(feed) {
                self.synchronise_locked(&mut revisions).await?;
            }
        }
        Ok(book.held.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// [`Market::synchronise`], then this process's commits made meanwhile.
    async fn synchronise_locked(&self, revisions: &mut HashMap<OfferId, i64>) -> Result<(), Error> {
        if let Err(error) = self.synchronise(revisions).await {
            self.book.invalidate();
            return Err(error);
        }
        if !self.book.follow(self.ledger.feed()) {
            // More commits during one synchronisation than the feed keeps: the next page
            // reads everything again.
            self.book.invalidate();
        }
        Ok(())
    }

    /// Reads what changed in the database since the last synchronisation into the book.
    async fn synchronise(&self, revisions: &mut HashMap<OfferId, i64>) -> Result<(), Error> {
        let book = &self.book;
        // Counted first: a local change made while this runs leaves the book stale.
        let changes = self.store.market_changes();
        let started_ms = book.elapsed_ms();
        // Local commits up to here are in what is read next; later ones are replayed after.
        let position = self.ledger.feed().position();

        let listed = self.store.market_revisions().await?;
        let changed: Vec<OfferId> = listed
            .iter()
            .filter(|(id, revision)| revisions.get(id) != Some(revision))
            .map(|(id, _)| *id)
            .collect();
        let current: HashMap<OfferId, i64> = listed.into_iter().collect();
        let gone: Vec<OfferId> = revisions
            .keys()
            .filter(|id| !current.contains_key(id))
            .copied()
            .collect();
        let fetched = self.store.offers_with_revisions(&changed).await?;

        // The makers and currencies as they will be, for their balances and quotes.
        let (mut makers, mut currencies) = {
            let held = book.held.read().unwrap_or_else(PoisonError::into_inner);
            let makers: HashMap<AccountId, UserId> = held
                .book
                .makers()
                .map(|u| (AccountId::user_xmr(u), u))
                .collect();
            (makers, held.book.currencies())
        };
        for (offer, _) in &fetched {
            makers.insert(AccountId::user_xmr(offer.owner()), offer.owner());
            currencies.push(offer.currency());
        }
        currencies.sort_unstable();
        currencies.dedup();
        let ids: Vec<AccountId> = makers.keys().copied().collect();
        let mut accounts = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ACCOUNTS_PER_BATCH) {
            accounts.extend(self.ledger.lookup_accounts(chunk).await?);
        }
        let quotes = self.quotes(currencies.iter().copied()).await;
        let unnamed: Vec<UserId> = {
            let held = book.held.read().unwrap_or_else(PoisonError::into_inner);
            makers
                .values()
                .filter(|u| !held.names.contains_key(u))
                .copied()
                .collect()
        };
        let new_names = self.store.usernames(&unnamed).await?;

        let mut held = book.write();
        for id in &gone {
            held.book.remove(*id);
        }
        for (offer, _) in fetched {
            held.book.upsert(offer);
        }
        for currency in currencies {
            match quotes.iter().find(|q| q.currency() == currency) {
                Some(quote) => held.book.set_quote(*quote),
                None => held.book.remove_quote(currency),
            }
        }
        // A maker without an account yet has nothing.
        let mut available: HashMap<UserId, Piconero> =
            makers.values().map(|u| (*u, Piconero::ZERO)).collect();
        for account in &accounts {
            if let Some(user) = makers.get(&account.id()) {
                available.insert(*user, account.available().unwrap_or(Piconero::ZERO));
            }
        }
        for (user, amount) in available {
            held.book.set_available(user, amount);
        }
        held.book.forget_former_makers();
        let Held {
            book: order_book,
            makers: held_makers,
            names,
            position: held_position,
        } = &mut *held;
        makers.retain(|_, user| order_book.is_maker(*user));
        names.extend(new_names.into_iter().map(|(u, n)| (u, Arc::from(n))));
        names.retain(|user, _| order_book.is_maker(*user));
        *held_makers = makers;
        *held_position = position;
        book.applied.store(position, Ordering::Release);
        drop(held);

        *revisions = current;
        book.seen_changes.store(changes, Ordering::Release);
        book.synced_at_ms.store(started_ms, Ordering::Release);
        Ok(())
    }
}
