//! Offers on the market: what a maker sells or buys, for which currency and payment method, at
//! which price, and who sees it.
//!
//! Every field is a parsed type ([`TradeLimits`], [`PaymentWindow`], [`OfferTerms`]...), so an
//! [`Offer`] cannot hold an invalid value. Changes consume the offer and return the new one; who
//! may make them (the owner only) is checked by the caller with [`Offer::is_owned_by`].
//!
//! Search is keyset-paginated on (effective price, offer id). [`search`] is the reference
//! implementation, used in memory and by tests; storage adapters do the same in SQL.

use std::fmt;
use std::str::FromStr;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::fiat::{CurrencyCode, Price};
use crate::ids::{OfferId, UserId};
use crate::limits::{
    DEFAULT_OFFER_PAGE_SIZE, MAX_OFFER_PAGE_SIZE, MAX_OFFER_TERMS_CHARS, MAX_PAYMENT_DETAILS_CHARS,
    MAX_PAYMENT_WINDOW_MINUTES, MAX_TRADE_AMOUNT_PICONERO, MIN_PAYMENT_WINDOW_MINUTES,
    MIN_TRADE_AMOUNT_PICONERO,
};
use crate::money::Piconero;
use crate::price::{EffectivePrice, PriceUnavailable, Pricing, Quote, effective_price};
use crate::text::{self, Lines};
use crate::trade::FeeSchedule;

pub mod book;

/// Which way the maker trades XMR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The maker sells XMR for fiat; takers buy.
    Sell,
    /// The maker buys XMR with fiat; takers sell.
    Buy,
}

impl Side {
    /// The stable name: `sell` or `buy`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Sell => "sell",
            Side::Buy => "buy",
        }
    }

    /// Parses `sell` or `buy`.
    pub fn parse(s: &str) -> Result<Side> {
        match s {
            "sell" => Ok(Side::Sell),
            "buy" => Ok(Side::Buy),
            _ => Err(Error::InvalidOffer("side must be sell or buy")),
        }
    }

    /// The side of the other party: a taker of a sell offer buys.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Sell => Side::Buy,
            Side::Buy => Side::Sell,
        }
    }

    /// Whether `current` is worse than `accepted` for a taker of an offer on this side: a
    /// higher price for someone buying XMR (a sell offer's taker), a lower one for someone
    /// selling it. A taker agrees to a price; a maker's edit in between must not change it.
    pub fn worse_for_taker(self, current: crate::Price, accepted: crate::Price) -> bool {
        match self {
            Side::Sell => current > accepted,
            Side::Buy => current < accepted,
        }
    }
}

/// One entry of the payment method catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaymentMethodInfo {
    /// The stable code, stored and sent by clients: uppercase ASCII and `_`.
    pub code: &'static str,
    /// The name shown to people.
    pub name: &'static str,
}

/// The payment methods an offer may use, sorted by code. Listed by the API so clients never
/// hard-code them; adding one is a code change, so that every method is one moderators know.
pub const PAYMENT_METHODS: &[PaymentMethodInfo] = &[
    PaymentMethodInfo {
        code: "BANK_TRANSFER",
        name: "National bank transfer",
    },
    PaymentMethodInfo {
        code: "CASH_BY_MAIL",
        name: "Cash by mail",
    },
    PaymentMethodInfo {
        code: "CASH_DEPOSIT",
        name: "Cash deposit at a bank",
    },
    PaymentMethodInfo {
        code: "CASH_IN_PERSON",
        name: "Cash in person",
    },
    PaymentMethodInfo {
        code: "GIFT_CARD",
        name: "Gift card",
    },
    PaymentMethodInfo {
        code: "INTERAC",
        name: "Interac e-Transfer",
    },
    PaymentMethodInfo {
        code: "MONEY_ORDER",
        name: "Money order",
    },
    PaymentMethodInfo {
        code: "PAYPAL",
        name: "PayPal",
    },
    PaymentMethodInfo {
        code: "PIX",
        name: "Pix",
    },
    PaymentMethodInfo {
        code: "REVOLUT",
        name: "Revolut",
    },
    PaymentMethodInfo {
        code: "SEPA",
        name: "SEPA bank transfer",
    },
    PaymentMethodInfo {
        code: "SEPA_INSTANT",
        name: "SEPA Instant",
    },
    PaymentMethodInfo {
        code: "SWIFT",
        name: "International wire (SWIFT)",
    },
    PaymentMethodInfo {
        code: "UPI",
        name: "UPI",
    },
    PaymentMethodInfo {
        code: "WISE",
        name: "Wise",
    },
    PaymentMethodInfo {
        code: "ZELLE",
        name: "Zelle",
    },
];

impl FromStr for PaymentMethod {
    type Err = Error;
    fn from_str(code: &str) -> Result<PaymentMethod> {
        PaymentMethod::parse(code)
    }
}

/// A payment method travels as its code.
impl serde::Serialize for PaymentMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for PaymentMethod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        PaymentMethod::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// A payment method from [`PAYMENT_METHODS`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaymentMethod(&'static PaymentMethodInfo);

impl PaymentMethod {
    /// Parses a catalogue code such as `SEPA`, exactly (case matters).
    pub fn parse(code: &str) -> Result<PaymentMethod> {
        PAYMENT_METHODS
            .binary_search_by(|m| m.code.cmp(code))
            .map(|i| PaymentMethod(&PAYMENT_METHODS[i]))
            .map_err(|_| Error::InvalidOffer("unknown payment method"))
    }

    /// Every method of the catalogue, in code order.
    pub fn all() -> impl Iterator<Item = PaymentMethod> {
        PAYMENT_METHODS.iter().map(PaymentMethod)
    }

    /// The stable code.
    pub const fn code(self) -> &'static str {
        self.0.code
    }

    /// The catalogue entry, with the name shown to people.
    pub const fn info(self) -> &'static PaymentMethodInfo {
        self.0
    }
}

impl fmt::Debug for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentMethod({})", self.0.code)
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

/// Who sees an offer.
///
/// There is no "private, for these users only" level: it needs an allow-list and invites
/// off-platform deals, and an unlisted link shared privately covers the need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Listed in the public search.
    Public,
    /// Not listed; anyone with the offer's link can see and take it.
    Unlisted,
}

impl Visibility {
    /// The stable name: `public` or `unlisted`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
        }
    }

    /// Parses `public` or `unlisted`.
    pub fn parse(s: &str) -> Result<Visibility> {
        match s {
            "public" => Ok(Visibility::Public),
            "unlisted" => Ok(Visibility::Unlisted),
            _ => Err(Error::InvalidOffer("visibility must be public or unlisted")),
        }
    }
}

/// The smallest and largest XMR amount one trade on an offer may have: `0 <` [minimum] `≤`
/// maximum, both within [`MIN_TRADE_AMOUNT_PICONERO`]..=[`MAX_TRADE_AMOUNT_PICONERO`].
///
/// [minimum]: TradeLimits::min
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TradeLimits {
    min: Piconero,
    max: Piconero,
}

impl TradeLimits {
    /// The limits `min..=max`.
    pub fn new(min: Piconero, max: Piconero) -> Result<TradeLimits> {
        if min < Piconero::new(MIN_TRADE_AMOUNT_PICONERO) {
            return Err(Error::InvalidOffer("minimum trade amount is too small"));
        }
        if min > max {
            return Err(Error::InvalidOffer(
                "minimum trade amount is above the maximum",
            ));
        }
        if max > Piconero::new(MAX_TRADE_AMOUNT_PICONERO) {
            return Err(Error::InvalidOffer("maximum trade amount is too large"));
        }
        Ok(TradeLimits { min, max })
    }

    /// The smallest amount of one trade.
    pub const fn min(&self) -> Piconero {
        self.min
    }

    /// The largest amount of one trade.
    pub const fn max(&self) -> Piconero {
        self.max
    }

    /// Whether a trade of `amount` fits.
    pub fn contains(&self, amount: Piconero) -> bool {
        self.min <= amount && amount <= self.max
    }

    /// The limits capped at what a seller has available: `None` when even the minimum is not
    /// covered. A sell offer's takers can buy at most what is there to escrow.
    pub fn capped_at(&self, available: Piconero) -> Option<TradeLimits> {
        (available >= self.min).then(|| TradeLimits {
            min: self.min,
            max: self.max.min(available),
        })
    }
}

/// How long a buyer has to pay once a trade starts, in whole minutes within
/// [`MIN_PAYMENT_WINDOW_MINUTES`]..=[`MAX_PAYMENT_WINDOW_MINUTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaymentWindow(u32);

impl PaymentWindow {
    /// A window of `minutes`.
    pub fn from_minutes(minutes: u32) -> Result<PaymentWindow> {
        if (MIN_PAYMENT_WINDOW_MINUTES..=MAX_PAYMENT_WINDOW_MINUTES).contains(&minutes) {
            Ok(PaymentWindow(minutes))
        } else {
            Err(Error::InvalidOffer("payment window out of range"))
        }
    }

    /// The window in minutes.
    pub const fn minutes(self) -> u32 {
        self.0
    }

    /// The window in seconds, for computing a trade's payment deadline.
    pub fn secs(self) -> u64 {
        // At most 1440 × 60: no overflow.
        u64::from(self.0) * 60
    }
}

/// Free text of at most `max_chars` characters: `\r\n` becomes `\n`, ends are trimmed, and
/// nothing that [`text::check`] refuses in text of several lines (control characters but
/// newline and tab, invisible and direction-changing characters: they hide text or break
/// layouts).
fn parse_text(s: &str, max_chars: usize, too_long: &'static str) -> Result<String> {
    // Checked before any copy so a huge input costs nothing; a char is at most 4 bytes.
    if s.len() > max_chars.saturating_mul(4) {
        return Err(Error::InvalidOffer(too_long));
    }
    let text = s.replace("\r\n", "\n");
    let text = text.trim();
    text::check(text, Lines::Many)?;
    if text.chars().count() > max_chars {
        return Err(Error::InvalidOffer(too_long));
    }
    Ok(text.to_owned())
}

/// The maker's terms shown on an offer, at most [`MAX_OFFER_TERMS_CHARS`] characters; may be
/// empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct OfferTerms(String);

impl OfferTerms {
    /// Parses terms text; see the type for the rules.
    pub fn parse(s: &str) -> Result<OfferTerms> {
        parse_text(s, MAX_OFFER_TERMS_CHARS, "terms are too long").map(OfferTerms)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free details of the payment method ("Revolut tag only", "Berlin, weekdays"), at most
/// [`MAX_PAYMENT_DETAILS_CHARS`] characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PaymentDetails(String);

impl PaymentDetails {
    /// Parses payment details with the same rules as [`OfferTerms::parse`].
    pub fn parse(s: &str) -> Result<PaymentDetails> {
        parse_text(s, MAX_PAYMENT_DETAILS_CHARS, "payment details are too long").map(PaymentDetails)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an offer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfferStatus {
    /// Can be listed and taken.
    Active,
    /// Kept by its owner but neither listed nor takeable.
    Paused,
    /// Gone for good; kept only because trades refer to it.
    Deleted,
}

impl OfferStatus {
    /// The stable name: `active`, `paused` or `deleted`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Active => "active",
            OfferStatus::Paused => "paused",
            OfferStatus::Deleted => "deleted",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Result<OfferStatus> {
        match s {
            "active" => Ok(OfferStatus::Active),
            "paused" => Ok(OfferStatus::Paused),
            "deleted" => Ok(OfferStatus::Deleted),
            _ => Err(Error::InvalidOffer("unknown offer status")),
        }
    }

    /// Whether the offer counts against its owner's open-offer limit: active or paused.
    pub const fn is_open(self) -> bool {
        !matches!(self, OfferStatus::Deleted)
    }
}

/// The maker's choices for an offer, every one already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOffer {
    /// Whether the maker sells or buys XMR.
    pub side: Side,
    /// The fiat currency.
    pub currency: CurrencyCode,
    /// The payment method.
    pub payment_method: PaymentMethod,
    /// Free details of the payment method.
    pub payment_details: PaymentDetails,
    /// Fixed price or margin over the market.
    pub pricing: Pricing,
    /// Smallest and largest trade.
    pub limits: TradeLimits,
    /// How long the buyer has to pay.
    pub payment_window: PaymentWindow,
    /// The maker's terms.
    pub terms: OfferTerms,
    /// Who sees the offer.
    pub visibility: Visibility,
}

/// One change to an offer. The side and the currency never change: that would be another offer
/// under the same id, confusing anyone who saved the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferUpdate {
    /// A new fixed price or margin.
    Pricing(Pricing),
    /// New trade limits.
    Limits(TradeLimits),
    /// Another payment method, with its details.
    PaymentMethod {
        /// The method.
        method: PaymentMethod,
        /// Its free details.
        details: PaymentDetails,
    },
    /// Another payment window; trades already started keep theirs.
    PaymentWindow(PaymentWindow),
    /// New terms text.
    Terms(OfferTerms),
    /// Another visibility.
    Visibility(Visibility),
}

/// An offer on the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    id: OfferId,
    owner: UserId,
    spec: NewOffer,
    status: OfferStatus,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Offer {
    /// A new active offer by `owner`. Whether the owner may open one more offer is the caller's
    /// check, against [`crate::limits::max_open_offers`].
    pub fn create(id: OfferId, owner: UserId, spec: NewOffer, now: Timestamp) -> Offer {
        Offer {
            id,
            owner,
            spec,
            status: OfferStatus::Active,
            created_at: now,
            updated_at: now,
        }
    }

    /// An offer as stored. Only storage adapters should call this.
    pub fn restore(
        id: OfferId,
        owner: UserId,
        spec: NewOffer,
        status: OfferStatus,
        created_at: Timestamp,
        updated_at: Timestamp,
    ) -> Offer {
        Offer {
            id,
            owner,
            spec,
            status,
            created_at,
            updated_at,
        }
    }

    /// The offer's id.
    pub const fn id(&self) -> OfferId {
        self.id
    }

    /// The maker.
    pub const fn owner(&self) -> UserId {
        self.owner
    }

    /// Whether `user` is the maker, the only one who may change the offer.
    pub fn is_owned_by(&self, user: UserId) -> bool {
        self.owner == user
    }

    /// All the maker's choices.
    pub const fn spec(&self) -> &NewOffer {
        &self.spec
    }

    /// Whether the maker sells or buys XMR.
    pub const fn side(&self) -> Side {
        self.spec.side
    }

    /// The fiat currency.
    pub const fn currency(&self) -> CurrencyCode {
        self.spec.currency
    }

    /// The payment method.
    pub const fn payment_method(&self) -> PaymentMethod {
        self.spec.payment_method
    }

    /// Free details of the payment method.
    pub const fn payment_details(&self) -> &PaymentDetails {
        &self.spec.payment_details
    }

    /// Fixed price or margin.
    pub const fn pricing(&self) -> Pricing {
        self.spec.pricing
    }

    /// Smallest and largest trade.
    pub const fn limits(&self) -> TradeLimits {
        self.spec.limits
    }

    /// How long the buyer has to pay.
    pub const fn payment_window(&self) -> PaymentWindow {
        self.spec.payment_window
    }

    /// The maker's terms.
    pub const fn terms(&self) -> &OfferTerms {
        &self.spec.terms
    }

    /// Who sees the offer.
    pub const fn visibility(&self) -> Visibility {
        self.spec.visibility
    }

    /// Where the offer is in its life.
    pub const fn status(&self) -> OfferStatus {
        self.status
    }

    /// When the offer was made.
    pub const fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// When the offer last changed.
    pub const fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    /// Pauses the offer. Pausing a paused offer changes nothing, so a retried request succeeds;
    /// a deleted offer cannot be paused.
    pub fn pause(self, now: Timestamp) -> Result<Offer> {
        match self.status {
            OfferStatus::Active => Ok(self.with_status(OfferStatus::Paused, now)),
            OfferStatus::Paused => Ok(self),
            OfferStatus::Deleted => Err(Error::OfferState("the offer is deleted")),
        }
    }

    /// Resumes a paused offer; resuming an active offer changes nothing. A deleted offer cannot
    /// be resumed. Whether the owner may have one more active offer is the caller's check.
    pub fn resume(self, now: Timestamp) -> Result<Offer> {
        match self.status {
            OfferStatus::Paused => Ok(self.with_status(OfferStatus::Active, now)),
            OfferStatus::Active => Ok(self),
            OfferStatus::Deleted => Err(Error::OfferState("the offer is deleted")),
        }
    }

    /// Deletes the offer, for good. Deleting it again changes nothing. Trades already started on
    /// it go on: they copied what they need when they started.
    pub fn delete(self, now: Timestamp) -> Offer {
        match self.status {
            OfferStatus::Deleted => self,
            OfferStatus::Active | OfferStatus::Paused => {
                self.with_status(OfferStatus::Deleted, now)
            }
        }
    }

    /// Applies one change. A deleted offer cannot change.
    pub fn update(self, change: OfferUpdate, now: Timestamp) -> Result<Offer> {
        if self.status == OfferStatus::Deleted {
            return Err(Error::OfferState("the offer is deleted"));
        }
        let mut offer = self;
        match change {
            OfferUpdate::Pricing(pricing) => offer.spec.pricing = pricing,
            OfferUpdate::Limits(limits) => offer.spec.limits = limits,
            OfferUpdate::PaymentMethod { method, details } => {
                offer.spec.payment_method = method;
                offer.spec.payment_details = details;
            }
            OfferUpdate::PaymentWindow(window) => offer.spec.payment_window = window,
            OfferUpdate::Terms(terms) => offer.spec.terms = terms,
            OfferUpdate::Visibility(visibility) => offer.spec.visibility = visibility,
        }
        offer.updated_at = now.max(offer.updated_at);
        Ok(offer)
    }

    fn with_status(self, status: OfferStatus, now: Timestamp) -> Offer {
        debug_assert_ne!(self.status, status, "a status change changes the status");
        Offer {
            status,
            updated_at: now.max(self.updated_at),
            ..self
        }
    }

    /// The price the offer trades at, at `now`, given the latest `quote` for its currency.
    pub fn effective_price(
        &self,
        quote: Option<&Quote>,
        now: Timestamp,
        max_age_secs: u64,
    ) -> Result<EffectivePrice, PriceUnavailable> {
        effective_price(
            &self.spec.pricing,
            self.spec.currency,
            quote,
            now,
            max_age_secs,
        )
    }

    /// The trade limits a taker sees: for a sell offer, capped at the largest trade the
    /// maker's available balance can escrow with the maker's fee on top
    /// ([`FeeSchedule::max_escrowable`]); `None` when that does not cover the minimum trade. A
    /// buy offer's maker pays in fiat, so its limits stand as set.
    pub fn takeable_limits(
        &self,
        maker_available: Piconero,
        fees: FeeSchedule,
    ) -> Option<TradeLimits> {
        match self.spec.side {
            Side::Sell => {
                let escrowable =
                    FeeSchedule::max_escrowable(maker_available, fees.seller_bps(true));
                self.spec.limits.capped_at(escrowable)
            }
            Side::Buy => Some(self.spec.limits),
        }
    }

    /// The offer's price if it can be taken right now: it is active, a sell offer's maker can
    /// escrow the minimum trade, and it has a price. Visibility does not matter: this is the
    /// check for an offer opened by its link.
    pub fn takeable(
        &self,
        maker_available: Piconero,
        fees: FeeSchedule,
        quote: Option<&Quote>,
        now: Timestamp,
        max_age_secs: u64,
    ) -> Option<EffectivePrice> {
        if self.status != OfferStatus::Active {
            return None;
        }
        self.takeable_limits(maker_available, fees)?;
        self.effective_price(quote, now, max_age_secs).ok()
    }

    /// Whether the offer appears in the public search: public and [takeable](Offer::takeable).
    /// A sell offer is listed only while its maker's available balance covers its minimum
    /// trade and the fee, and a margin offer only while its currency has a fresh quote.
    pub fn listable(
        &self,
        maker_available: Piconero,
        fees: FeeSchedule,
        quote: Option<&Quote>,
        now: Timestamp,
        max_age_secs: u64,
    ) -> bool {
        self.spec.visibility == Visibility::Public
            && self
                .takeable(maker_available, fees, quote, now, max_age_secs)
                .is_some()
    }
}

/// The order of search results by effective price. Ties are broken by offer id, in the same
/// direction, so pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceSort {
    /// Cheapest first: what a buyer wants, browsing sell offers.
    Ascending,
    /// Dearest first: what a seller wants, browsing buy offers.
    Descending,
}

impl PriceSort {
    /// The order best for a taker browsing offers of `side`.
    pub const fn best_for(side: Side) -> PriceSort {
        match side {
            Side::Sell => PriceSort::Ascending,
            Side::Buy => PriceSort::Descending,
        }
    }

    /// The stable name: `asc` or `desc`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PriceSort::Ascending => "asc",
            PriceSort::Descending => "desc",
        }
    }

    /// Parses `asc` or `desc`.
    pub fn parse(s: &str) -> Result<PriceSort> {
        match s {
            "asc" => Ok(PriceSort::Ascending),
            "desc" => Ok(PriceSort::Descending),
            _ => Err(Error::InvalidOffer("sort must be asc or desc")),
        }
    }
}

/// Longest cursor string accepted: the direction, a price of at most 21 characters, a UUID of
/// 36 and separators fit in well under this; anything longer is not a cursor.
const MAX_CURSOR_LEN: usize = 80;

/// Where a page of search results ends: the last offer's effective price and id, and the sort
/// direction it belongs to. Clients treat its string form as opaque.
///
/// Margin offers are priced at read time, so an offer whose price moves between two requests
/// may be skipped or shown twice; keyset pagination never loops, which is what matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferCursor {
    sort: PriceSort,
    price: Price,
    id: OfferId,
}

impl OfferCursor {
    /// The cursor after the offer `id` priced at `price`, in `sort` order.
    pub const fn new(sort: PriceSort, price: Price, id: OfferId) -> OfferCursor {
        OfferCursor { sort, price, id }
    }

    /// The sort direction the cursor belongs to.
    pub const fn sort(&self) -> PriceSort {
        self.sort
    }

    /// The last effective price of the previous page.
    pub const fn price(&self) -> Price {
        self.price
    }

    /// The last offer of the previous page.
    pub const fn id(&self) -> OfferId {
        self.id
    }

    /// Whether an offer priced at `price` with id `id` comes after the cursor.
    pub fn is_before(&self, price: Price, id: OfferId) -> bool {
        match self.sort {
            PriceSort::Ascending => (self.price, self.id) < (price, id),
            PriceSort::Descending => (self.price, self.id) > (price, id),
        }
    }

    /// Parses the string form made by `Display`: `sort~price~id`.
    pub fn parse(s: &str) -> Result<OfferCursor> {
        const BAD: Error = Error::InvalidOffer("invalid cursor");
        if s.len() > MAX_CURSOR_LEN {
            return Err(BAD);
        }
        let mut parts = s.split('~');
        let (Some(sort), Some(price), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BAD);
        };
        let sort = PriceSort::parse(sort).map_err(|_| BAD)?;
        let price = Price::parse(price).map_err(|_| BAD)?;
        let id: OfferId = id.parse().map_err(|_| BAD)?;
        // Only the canonical form is accepted, so one position has one cursor string.
        let cursor = OfferCursor { sort, price, id };
        if cursor.to_string() != s {
            return Err(BAD);
        }
        Ok(cursor)
    }
}

impl fmt::Display for OfferCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}~{}", self.sort.as_str(), self.price, self.id)
    }
}

impl FromStr for OfferCursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        OfferCursor::parse(s)
    }
}

/// The search filters; `None` matches everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OfferFilter {
    /// Only offers of this side (the maker's).
    pub side: Option<Side>,
    /// Only offers in this currency.
    pub currency: Option<CurrencyCode>,
    /// Only offers with this payment method.
    pub payment_method: Option<PaymentMethod>,
    /// Only offers on which a trade of this amount is possible.
    pub amount: Option<Piconero>,
}

/// A parsed public search: filters, order, page size and where to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferQuery {
    filter: OfferFilter,
    sort: PriceSort,
    page_size: u32,
    after: Option<OfferCursor>,
}

impl OfferQuery {
    /// A search. `page_size` is clamped to 1..=[`MAX_OFFER_PAGE_SIZE`] and defaults to
    /// [`DEFAULT_OFFER_PAGE_SIZE`]; `sort` defaults to the best order for the side (ascending
    /// without one). Refuses an amount no offer could accept, and a cursor of another order.
    pub fn new(
        filter: OfferFilter,
        sort: Option<PriceSort>,
        page_size: Option<u32>,
        after: Option<OfferCursor>,
    ) -> Result<OfferQuery> {
        if let Some(amount) = filter.amount {
            let allowed = MIN_TRADE_AMOUNT_PICONERO..=MAX_TRADE_AMOUNT_PICONERO;
            if !allowed.contains(&amount.as_u64()) {
                return Err(Error::InvalidOffer("amount outside the trade limits"));
            }
        }
        let sort = sort.unwrap_or(
            filter
                .side
                .map_or(PriceSort::Ascending, PriceSort::best_for),
        );
        if after.is_some_and(|cursor| cursor.sort != sort) {
            return Err(Error::InvalidOffer("the cursor is for another sort order"));
        }
        Ok(OfferQuery {
            filter,
            sort,
            page_size: page_size
                .unwrap_or(DEFAULT_OFFER_PAGE_SIZE)
                .clamp(1, MAX_OFFER_PAGE_SIZE),
            after,
        })
    }

    /// The filters.
    pub const fn filter(&self) -> &OfferFilter {
        &self.filter
    }

    /// The order.
    pub const fn sort(&self) -> PriceSort {
        self.sort
    }

    /// Offers per page, within 1..=[`MAX_OFFER_PAGE_SIZE`].
    pub const fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Where the page starts (exclusive), if not at the beginning.
    pub const fn after(&self) -> Option<OfferCursor> {
        self.after
    }

    /// Whether `offer`, with its maker's takeable `limits`, passes the filters. Status, funds and
    /// price are checked by [`Offer::listable`].
    pub fn matches(&self, offer: &Offer, limits: TradeLimits) -> bool {
        let f = &self.filter;
        f.side.is_none_or(|side| offer.side() == side)
            && f.currency.is_none_or(|c| offer.currency() == c)
            && f.payment_method.is_none_or(|m| offer.payment_method() == m)
            && f.amount.is_none_or(|amount| limits.contains(amount))
    }
}

/// An offer as the search shows it: with its price now and the limits a taker can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOffer<'a> {
    /// The offer.
    pub offer: &'a Offer,
    /// Its effective price.
    pub price: EffectivePrice,
    /// Its limits, a sell offer's capped at what its maker has available.
    pub limits: TradeLimits,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPage<'a> {
    /// The offers, in the query's order.
    pub offers: Vec<ListedOffer<'a>>,
    /// Where the next page starts, or `None` on the last page.
    pub next: Option<OfferCursor>,
}

/// The public search over `offers`, in memory. `available` gives a maker's available XMR
/// balance, `fees` the platform's fees and `quotes` the latest quote per currency; quotes
/// older than `max_age_secs` are stale. Storage adapters implement the same semantics in SQL.
pub fn search<'a>(
    offers: &'a [Offer],
    available: impl Fn(UserId) -> Piconero,
    fees: FeeSchedule,
    quotes: &[Quote],
    query: &OfferQuery,
    now: Timestamp,
    max_age_secs: u64,
) -> OfferPage<'a> {
    let mut listed: Vec<ListedOffer<'a>> = offers
        .iter()
        .filter_map(|offer| {
            let maker_available = available(offer.owner());
            let quote = quotes.iter().find(|q| q.currency() == offer.currency());
            // `listable`, spelled out to keep the price and limits it computes.
            if offer.visibility() != Visibility::Public {
                return None;
            }
            let price = offer.takeable(maker_available, fees, quote, now, max_age_secs)?;
            let limits = offer.takeable_limits(maker_available, fees)?;
            query.matches(offer, limits).then_some(ListedOffer {
                offer,
                price,
                limits,
            })
        })
        .filter(|l| {
            query
                .after
                .is_none_or(|c| c.is_before(l.price.price(), l.offer.id()))
        })
        .collect();
    let key = |l: &ListedOffer<'_>| (l.price.price(), l.offer.id());
    match query.sort {
        PriceSort::Ascending => listed.sort_by_key(key),
        PriceSort::Descending => listed.sort_by_key(|l| std::cmp::Reverse(key(l))),
    }
    let page_size = usize::try_from(query.page_size).unwrap_or(usize::MAX);
    let has_more = listed.len() > page_size;
    listed.truncate(page_size);
    let next = if has_more {
        listed
            .last()
            .map(|l| OfferCursor::new(query.sort, l.price.price(), l.offer.id()))
    } else {
        None
    };
    debug_assert!(listed.len() <= page_size, "a page is never over its size");
    OfferPage {
        offers: listed,
        next,
    }
}

#[cfg(test)]
mod tests;
