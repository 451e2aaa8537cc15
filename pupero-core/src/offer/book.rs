//! The order book: the market's listable offers kept ranked as offers, makers' balances and
//! quotes change, so that a page of the public search costs the page, not the market.
//!
//! [`search`](super::search) is the reference: it ranks every offer on each call. The book
//! gives the same answer (a property test holds it to that) from indexes kept current by
//! each change: every listable offer sits, by `(effective price, id)`, in four ordered sets —
//! the whole market, its side, its currency, and its side and currency — so a query walks
//! only from its cursor in the set of its filters. What the sets cannot decide (payment
//! method, amount, and a quote going stale as time passes) is checked on the entries walked,
//! by the same core functions the reference uses.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use super::{ListedOffer, Offer, OfferPage, OfferQuery, OfferStatus, PriceSort, Side, Visibility};
use crate::clock::Timestamp;
use crate::fiat::{CurrencyCode, Price};
use crate::ids::{OfferId, UserId};
use crate::money::Piconero;
use crate::price::Quote;
use crate::trade::FeeSchedule;

/// One ordered set of listed offers: the filters it answers.
type IndexKey = (Option<Side>, Option<CurrencyCode>);

/// Active public offers ranked for the public search. Pure data: its owner feeds it the
/// offers, balances and quotes, and asks it for pages.
#[derive(Debug, Clone)]
pub struct OrderBook {
    fees: FeeSchedule,
    /// Every active public offer, listable or not.
    offers: HashMap<OfferId, Offer>,
    /// Makers' available XMR, as last told; a maker not here has none.
    available: HashMap<UserId, Piconero>,
    /// Each maker's offers in `offers`.
    by_maker: HashMap<UserId, BTreeSet<OfferId>>,
    /// The latest quote per currency, fresh or not (freshness is decided when a page is read).
    quotes: HashMap<CurrencyCode, Quote>,
    /// Where each listed offer sits in the indexes.
    listed: HashMap<OfferId, Price>,
    indexes: HashMap<IndexKey, BTreeSet<(Price, OfferId)>>,
    /// Grows with every change that may change a page.
    version: u64,
}

impl OrderBook {
    /// An empty book for a market charging `fees`.
    pub fn new(fees: FeeSchedule) -> OrderBook {
        OrderBook {
            fees,
            offers: HashMap::new(),
            available: HashMap::new(),
            by_maker: HashMap::new(),
            quotes: HashMap::new(),
            listed: HashMap::new(),
            indexes: HashMap::new(),
            version: 0,
        }
    }

    /// Grows with every change that may change a page: equal versions of one book answer
    /// every query alike, at instants the same quotes are fresh ([`OrderBook::fresh_until`]).
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// The last instant at which every quote fresh at `now` still is: until then, time alone
    /// changes no page.
    pub fn fresh_until(&self, now: Timestamp, max_age_secs: u64) -> Option<Timestamp> {
        self.quotes
            .values()
            .filter(|q| q.is_fresh(now, max_age_secs))
            .map(|q| q.observed_at().plus_secs(max_age_secs))
            .min()
    }

    /// The offers held (active and public), listable or not.
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    /// Whether the book holds no offer.
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// The offers held, in no order.
    pub fn offers(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    /// The makers of the offers held.
    pub fn makers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.by_maker.keys().copied()
    }

    /// The currencies of the offers held.
    pub fn currencies(&self) -> Vec<CurrencyCode> {
        let mut currencies: Vec<CurrencyCode> = self.offers.values().map(Offer::currency).collect();
        currencies.sort_unstable();
        currencies.dedup();
        currencies
    }

    /// Puts `offer` in the book as it is now: held if active and public, dropped otherwise.
    pub fn upsert(&mut self, offer: Offer) {
        let id = offer.id();
        if offer.status() != OfferStatus::Active || offer.visibility() != Visibility::Public {
            self.remove(id);
            return;
        }
        if let Some(old) = self.offers.get(&id)
            && old.owner() != offer.owner()
        {
            // An offer never changes hands; should a row say otherwise, follow it.
            self.remove(id);
        }
        // Out of the indexes under its old side, currency and price before they change.
        self.unlist(id);
        self.by_maker.entry(offer.owner()).or_default().insert(id);
        self.offers.insert(id, offer);
        self.relist(id);
    }

    /// Drops the offer `id`, if held.
    pub fn remove(&mut self, id: OfferId) {
        self.version += 1;
        self.unlist(id);
        if let Some(offer) = self.offers.remove(&id) {
            let owner = offer.owner();
            if let Some(ids) = self.by_maker.get_mut(&owner) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_maker.remove(&owner);
                }
            }
        }
    }

    /// Whether `user` has an offer in the book.
    pub fn is_maker(&self, user: UserId) -> bool {
        self.by_maker.contains_key(&user)
    }

    /// Records what `user` has available now, relisting their offers if it changed.
    pub fn set_available(&mut self, user: UserId, available: Piconero) {
        if self.available.insert(user, available) == Some(available) {
            return;
        }
        let ids: Vec<OfferId> = self
            .by_maker
            .get(&user)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.relist(id);
        }
    }

    /// Forgets the balances of users who are no longer makers.
    pub fn forget_former_makers(&mut self) {
        let makers = &self.by_maker;
        self.available.retain(|user, _| makers.contains_key(user));
    }

    /// Records `quote` as its currency's latest, repricing that currency's margin offers.
    pub fn set_quote(&mut self, quote: Quote) {
        if self.quotes.insert(quote.currency(), quote) != Some(quote) {
            self.version += 1;
            self.reprice(quote.currency());
        }
    }

    /// Forgets the quote of `currency`: its margin offers have no price.
    pub fn remove_quote(&mut self, currency: CurrencyCode) {
        if self.quotes.remove(&currency).is_some() {
            self.version += 1;
            self.reprice(currency);
        }
    }

    /// The public search, answered from the indexes: the same page as
    /// [`search`](super::search) over the offers held, their makers' balances and the quotes.
    pub fn search(&self, query: &OfferQuery, now: Timestamp, max_age_secs: u64) -> OfferPage<'_> {
        let page_size = usize::try_from(query.page_size()).unwrap_or(usize::MAX);
        let filter = query.filter();
        let Some(index) = self.indexes.get(&(filter.side, filter.currency)) else {
            return OfferPage {
                offers: Vec::new(),
                next: None,
            };
        };
        let after = query.after().map(|c| (c.price, c.id));
        let walk: Box<dyn Iterator<Item = &(Price, OfferId)>> = match (query.sort(), after) {
            (PriceSort::Ascending, None) => Box::new(index.iter()),
            (PriceSort::Ascending, Some(key)) => {
                Box::new(index.range((Bound::Excluded(key), Bound::Unbounded)))
            }
            (PriceSort::Descending, None) => Box::new(index.iter().rev()),
            (PriceSort::Descending, Some(key)) => Box::new(index.range(..key).rev()),
        };
        let mut offers = Vec::with_capacity(page_size.saturating_add(1).min(64));
        for &(key_price, id) in walk {
            let Some(offer) = self.offers.get(&id) else {
                debug_assert!(false, "an indexed offer is held");
                continue;
            };
            let available = self.available_of(offer.owner());
            // The reference's checks, on this entry: time may have made its quote stale.
            let Some(price) = offer.takeable(
                available,
                self.fees,
                self.quotes.get(&offer.currency()),
                now,
                max_age_secs,
            ) else {
                continue;
            };
            debug_assert_eq!(price.price(), key_price, "an offer is indexed at its price");
            let Some(limits) = offer.takeable_limits(available, self.fees) else {
                continue;
            };
            if !query.matches(offer, limits) {
                continue;
            }
            offers.push(ListedOffer {
                offer,
                price,
                limits,
            });
            if offers.len() > page_size {
                break;
            }
        }
        let has_more = offers.len() > page_size;
        offers.truncate(page_size);
        let next = if has_more {
            offers
                .last()
                .map(|l| super::OfferCursor::new(query.sort(), l.price.price(), l.offer.id()))
        } else {
            None
        };
        OfferPage { offers, next }
    }

    fn available_of(&self, maker: UserId) -> Piconero {
        self.available
            .get(&maker)
            .copied()
            .unwrap_or(Piconero::ZERO)
    }

    /// Relists every margin offer of `currency` at its new price.
    fn reprice(&mut self, currency: CurrencyCode) {
        let ids: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| o.currency() == currency)
            .map(Offer::id)
            .collect();
        for id in ids {
            self.relist(id);
        }
    }

    /// Puts the offer `id` where its price, its maker's balance and its quote place it now:
    /// in the indexes if it could be listed at some instant, out of them otherwise.
    fn relist(&mut self, id: OfferId) {
        self.version += 1;
        self.unlist(id);
        let Some(offer) = self.offers.get(&id) else {
            return;
        };
        let available = self.available_of(offer.owner());
        if offer.takeable_limits(available, self.fees).is_none() {
            return;
        }
        // The price the quote gives, fresh or not: staleness depends on the reader's instant.
        let quote = self.quotes.get(&offer.currency());
        let at = quote.map_or(Timestamp::from_unix_ms(0), Quote::observed_at);
        let Ok(price) = offer.effective_price(quote, at, u64::MAX) else {
            return;
        };
        let price = price.price();
        let (side, currency) = (offer.side(), offer.currency());
        for key in [
            (None, None),
            (Some(side), None),
            (None, Some(currency)),
            (Some(side), Some(currency)),
        ] {
            self.indexes.entry(key).or_default().insert((price, id));
        }
        self.listed.insert(id, price);
    }

    fn unlist(&mut self, id: OfferId) {
        let Some(price) = self.listed.remove(&id) else {
            return;
        };
        let Some(offer) = self.offers.get(&id) else {
            debug_assert!(false, "a listed offer is held");
            return;
        };
        let (side, currency) = (offer.side(), offer.currency());
        for key in [
            (None, None),
            (Some(side), None),
            (None, Some(currency)),
            (Some(side), Some(currency)),
        ] {
            if let Some(index) = self.indexes.get_mut(&key) {
                index.remove(&(price, id));
                if index.is_empty() {
                    self.indexes.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
