//! Offers: their makers post, change, pause, resume and delete them; anyone reads one or
//! searches the market.
//!
//! The rules are the core's ([`Offer`] and its updates, [`pupero_core::offer::search`]); this
//! module loads what they need — the offer, its makers' available balances, the market quotes —
//! and stores the result. A change is written with compare-and-set on the offer's last change,
//! so that of two edits racing for one offer only one wins; the other is told to read it again.
//! Only the owner may change an offer, and ownership is checked before anything else, so a
//! stranger is refused the same way whatever state the offer is in.

use std::collections::HashMap;
use std::sync::Arc;

use pupero_core::ledger::LedgerStore;
use pupero_core::limits::{MAX_ACCOUNTS_PER_BATCH, max_open_offers};
use pupero_core::offer::{OfferCursor, OfferQuery, OfferStatus, OfferUpdate, TradeLimits};
use pupero_core::price::{PriceOracle, Quote};
use pupero_core::{AccountId, CurrencyCode, NewOffer, Offer, OfferId, Piconero, Price, UserId};

use crate::Market;
use crate::error::{Error, ErrorKind};

/// An offer as a taker sees it: the price a trade opened now would get, when known (a margin
/// needs a fresh quote), and the amounts that can be traded now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The offer.
    pub offer: Offer,
    /// Its maker's username.
    pub maker: Arc<str>,
    /// Its effective price now.
    pub price: Option<Price>,
    /// What a taker can take now: a sell offer's limits capped at what its maker has
    /// available.
    pub limits: TradeLimits,
}

/// One page of the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketPage {
    /// The offers, in the query's order; each has its price.
    pub listings: Vec<Listing>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<OfferCursor>,
    /// What the page was made from.
    pub stamp: BookStamp,
}

/// Which state of the order book a page was made from: another page of the same query with an
/// equal stamp, read at or before `fresh_until`, is the same page. Lets a caller reuse what it
/// made of a page (its serialized form) while the market under it has not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookStamp {
    /// The book's version ([`pupero_core::offer::book::OrderBook::version`]).
    pub version: u64,
    /// Until when time alone changes no page; `None`: never.
    pub fresh_until: Option<pupero_core::Timestamp>,
}

/// What an owner does to their offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferChange {
    /// Replaces everything an offer may change with the new state; its side and currency must
    /// stay.
    Edit(NewOffer),
    /// Unlists it and makes it untakeable until resumed.
    Pause,
    /// Lists it again.
    Resume,
    /// Removes it for good.
    Delete,
}

impl Market {
    /// Posts an offer of `owner`, within the open offers an account of its age may have.
    pub async fn create_offer(&self, owner: UserId, spec: NewOffer) -> Result<Offer, Error> {
        let user = self
            .store
            .user_by_id(owner)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        let now = self.now();
        let age_secs = now
            .as_unix_ms()
            .saturating_sub(user.created_at.as_unix_ms())
            / 1000;
        let offer = Offer::create(OfferId::new_v7(), owner, spec, now);
        if !self
            .store
            .insert_offer(&offer, max_open_offers(age_secs))
            .await?
        {
            return Err(Error::new(
                ErrorKind::OfferLimit,
                "too many open offers; pause or delete one",
            ));
        }
        Ok(offer)
    }

    /// The open (active or paused) offers of `owner`, newest first.
    pub async fn open_offers_of(&self, owner: UserId) -> Result<Vec<Offer>, Error> {
        Ok(self.store.open_offers_of(owner).await?)
    }

    /// The offer `id` (listed or not, but not deleted), with its price now and what a taker can
    /// take now; the limits as set when its maker cannot cover even the minimum (the offer is
    /// then not takeable at all).
    pub async fn offer_listing(&self, id: OfferId) -> Result<Listing, Error> {
        let offer = self
            .store
            .offer(id)
            .await?
            .filter(|o| o.status() != OfferStatus::Deleted)
            .ok_or_else(|| Error::not_found("no such offer"))?;
        let quotes = self.quotes([offer.currency()]).await;
        let price = offer
            .effective_price(quotes.first(), self.now(), self.settings.price_max_age_secs)
            .ok()
            .map(|p| p.price());
        let available = self.available(&[offer.owner()]).await?;
        let maker_available = available
            .get(&offer.owner())
            .copied()
            .unwrap_or(Piconero::ZERO);
        let limits = offer
            .takeable_limits(maker_available, self.settings.fees)
            .unwrap_or_else(|| offer.limits());
        let maker = self.username(offer.owner()).await?;
        Ok(Listing {
            maker,
            offer,
            price,
            limits,
        })
    }

    /// The username of `user`: from the order book when they are a maker in it (a username
    /// never changes), else as remembered or read.
    pub(crate) async fn username(&self, user: UserId) -> Result<Arc<str>, Error> {
        if let Some(name) = self.book.name_of(user) {
            return Ok(name);
        }
        Ok(self.user_facts(user).await?.username)
    }

    /// Applies `change` to the offer `id` of `owner` and stores it: the offer as it is now.
    pub async fn change_offer(
        &self,
        owner: UserId,
        id: OfferId,
        change: OfferChange,
    ) -> Result<Offer, Error> {
        let offer = self.owned_offer(owner, id).await?;
        let now = self.now();
        let state = |e: pupero_core::Error| Error::new(ErrorKind::OfferState, e.to_string());
        let next = match change {
            OfferChange::Edit(spec) => {
                if spec.side != offer.side() || spec.currency != offer.currency() {
                    return Err(Error::validation(
                        "an offer's side and currency never change; post a new offer",
                    ));
                }
                let updates = [
                    OfferUpdate::Pricing(spec.pricing),
                    OfferUpdate::Limits(spec.limits),
                    OfferUpdate::PaymentMethod {
                        method: spec.payment_method,
                        details: spec.payment_details,
                    },
                    OfferUpdate::PaymentWindow(spec.payment_window),
                    OfferUpdate::Terms(spec.terms),
                    OfferUpdate::Visibility(spec.visibility),
                ];
                let mut next = offer.clone();
                for update in updates {
                    next = next.update(update, now).map_err(state)?;
                }
                next
            }
            OfferChange::Pause => offer.clone().pause(now).map_err(state)?,
            OfferChange::Resume => offer.clone().resume(now).map_err(state)?,
            OfferChange::Delete => offer.clone().delete(now),
        };
        if next != offer && !self.store.update_offer(&next, offer.updated_at()).await? {
            return Err(Error::new(
                ErrorKind::OfferChanged,
                "the offer changed meanwhile; read it again",
            ));
        }
        Ok(next)
    }

    /// The market: active public offers that can be taken now, as `query` asks, best price
    /// first by default. Answered from the order book ([`crate::book`]): the page's cost does
    /// not grow with the offers outside it.
    pub async fn search_offers(&self, query: &OfferQuery) -> Result<MarketPage, Error> {
        let held = self.current_book().await?;
        let now = self.now();
        let max_age = self.settings.price_max_age_secs;
        let page = held.book.search(query, now, max_age);
        Ok(MarketPage {
            stamp: BookStamp {
                version: held.book.version(),
                fresh_until: held.book.fresh_until(now, max_age),
            },
            listings: page
                .offers
                .iter()
                .map(|l| Listing {
                    maker: held
                        .names
                        .get(&l.offer.owner())
                        .cloned()
                        .unwrap_or_else(|| Arc::from("")),
                    offer: l.offer.clone(),
                    price: Some(l.price.price()),
                    limits: l.limits,
                })
                .collect(),
            next: page.next,
        })
    }

    /// The version of the order book a page read now would come from (the book brought
    /// current first, as for a page).
    pub async fn book_version(&self) -> Result<u64, Error> {
        Ok(self.current_book().await?.book.version())
    }

    /// The offer `id` if `owner` owns it and it is not deleted. Ownership is checked first, so
    /// a stranger is refused the same way whatever state the offer is in.
    async fn owned_offer(&self, owner: UserId, id: OfferId) -> Result<Offer, Error> {
        let offer = self
            .store
            .offer(id)
            .await?
            .ok_or_else(|| Error::not_found("no such offer"))?;
        if !offer.is_owned_by(owner) {
            return Err(Error::forbidden("only the offer's owner may change it"));
        }
        if offer.status() == OfferStatus::Deleted {
            return Err(Error::not_found("no such offer"));
        }
        Ok(offer)
    }

    /// The market quotes of `currencies`, for pricing margin offers. A currency without a
    /// quote (or whose feed fails) simply has none: its margin offers are hidden, fixed ones
    /// are not affected.
    pub(crate) async fn quotes(
        &self,
        currencies: impl IntoIterator<Item = CurrencyCode>,
    ) -> Vec<Quote> {
        let mut wanted: Vec<CurrencyCode> = currencies.into_iter().collect();
        wanted.sort_by_key(|c| c.as_str());
        wanted.dedup();
        let mut quotes = Vec::with_capacity(wanted.len());
        for currency in wanted {
            match self.prices.quote(currency).await {
                Ok(Some(quote)) => quotes.push(quote),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(currency = currency.as_str(), error = %crate::error::chain(&e), "no market price")
                }
            }
        }
        quotes
    }

    /// Available balances of `owners`, for sell offers' listability.
    async fn available(&self, owners: &[UserId]) -> Result<HashMap<UserId, Piconero>, Error> {
        // Makers often have several offers: look each up once, in batches the ledger accepts.
        let mut ids: Vec<AccountId> = owners.iter().map(|u| AccountId::user_xmr(*u)).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut by_account: HashMap<AccountId, Piconero> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ACCOUNTS_PER_BATCH) {
            by_account.extend(
                self.ledger
                    .lookup_accounts(chunk)
                    .await?
                    .into_iter()
                    .map(|a| (a.id(), a.available().unwrap_or(Piconero::ZERO))),
            );
        }
        Ok(owners
            .iter()
            .map(|u| {
                (
                    *u,
                    by_account
                        .get(&AccountId::user_xmr(*u))
                        .copied()
                        .unwrap_or(Piconero::ZERO),
                )
            })
            .collect())
    }
}
