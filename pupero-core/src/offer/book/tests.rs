use proptest::prelude::*;

use super::*;
use crate::fiat::MarginPercent;
use crate::offer::{
    NewOffer, OfferCursor, OfferFilter, OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow,
    TradeLimits, search,
};
use crate::price::Pricing;

const MAX_AGE_SECS: u64 = 600;
const OFFERS: u128 = 12;
const MAKERS: u128 = 4;

fn at(secs: u64) -> Timestamp {
    Timestamp::EPOCH.plus_secs(secs)
}

fn currency(n: u8) -> CurrencyCode {
    CurrencyCode::parse(if n == 0 { "EUR" } else { "USD" }).unwrap()
}

fn method(n: u8) -> PaymentMethod {
    PaymentMethod::parse(if n == 0 { "SEPA" } else { "CASH_IN_PERSON" }).unwrap()
}

fn xmr_tenths(n: u64) -> Piconero {
    Piconero::new(n * 100_000_000_000)
}

/// What the test does to the market, to the book and to the reference's inputs alike.
#[derive(Debug, Clone)]
enum Change {
    Upsert(Offer),
    Remove(OfferId),
    Available(UserId, Piconero),
    Quote(Quote),
    NoQuote(CurrencyCode),
}

fn offer() -> impl Strategy<Value = Offer> {
    (
        (1..=OFFERS, 1..=MAKERS, any::<bool>(), 0..2_u8, 0..2_u8),
        (any::<bool>(), 1..6_u32, -3..4_i32),
        (1..4_u64, 0..30_u64),
        (0..4_u8, any::<bool>()),
    )
        .prop_map(
            |(
                (id, owner, sell, cur, pay),
                (is_fixed, price, margin),
                (min, span),
                (status, public),
            )| {
                let pricing = if is_fixed {
                    Pricing::Fixed(Price::parse(&format!("{}", 100 + price * 10)).unwrap())
                } else {
                    Pricing::Margin(MarginPercent::parse(&format!("{margin}")).unwrap())
                };
                let spec = NewOffer {
                    side: if sell { Side::Sell } else { Side::Buy },
                    currency: currency(cur),
                    payment_method: method(pay),
                    payment_details: PaymentDetails::parse("").unwrap(),
                    pricing,
                    limits: TradeLimits::new(xmr_tenths(min), xmr_tenths(min + span)).unwrap(),
                    payment_window: PaymentWindow::from_minutes(60).unwrap(),
                    terms: OfferTerms::parse("").unwrap(),
                    visibility: if public {
                        Visibility::Public
                    } else {
                        Visibility::Unlisted
                    },
                };
                let status = match status {
                    0 => OfferStatus::Paused,
                    1 => OfferStatus::Deleted,
                    _ => OfferStatus::Active,
                };
                Offer::restore(
                    OfferId::from_u128(id),
                    UserId::from_u128(owner),
                    spec,
                    status,
                    at(0),
                    at(0),
                )
            },
        )
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => offer().prop_map(Change::Upsert),
        1 => (1..=OFFERS).prop_map(|id| Change::Remove(OfferId::from_u128(id))),
        3 => (1..=MAKERS, 0..40_u64)
            .prop_map(|(m, tenths)| Change::Available(UserId::from_u128(m), xmr_tenths(tenths))),
        2 => (0..2_u8, 1..6_u32, 0..1_000_u64).prop_map(|(c, p, t)| Change::Quote(Quote::new(
            currency(c),
            Price::parse(&format!("{}", 120 + p * 5)).unwrap(),
            at(t),
        ))),
        1 => (0..2_u8).prop_map(|c| Change::NoQuote(currency(c))),
    ]
}

fn query() -> impl Strategy<Value = (OfferFilter, Option<PriceSort>, u32)> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(0..2_u8),
        prop::option::of(0..2_u8),
        prop::option::of(1..30_u64),
        prop::option::of(any::<bool>()),
        1..5_u32,
    )
        .prop_map(|(side, cur, pay, amount, asc, size)| {
            let filter = OfferFilter {
                side: side.map(|s| if s { Side::Sell } else { Side::Buy }),
                currency: cur.map(currency),
                payment_method: pay.map(method),
                amount: amount.map(xmr_tenths),
            };
            let sort = asc.map(|a| {
                if a {
                    PriceSort::Ascending
                } else {
                    PriceSort::Descending
                }
            });
            (filter, sort, size)
        })
}

/// The reference's inputs, changed as the book is.
#[derive(Default)]
struct Model {
    offers: Vec<Offer>,
    available: HashMap<UserId, Piconero>,
    quotes: Vec<Quote>,
}

impl Model {
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Upsert(offer) => {
                self.offers.retain(|o| o.id() != offer.id());
                self.offers.push(offer.clone());
            }
            Change::Remove(id) => self.offers.retain(|o| o.id() != *id),
            Change::Available(maker, amount) => {
                self.available.insert(*maker, *amount);
            }
            Change::Quote(quote) => {
                self.quotes.retain(|q| q.currency() != quote.currency());
                self.quotes.push(*quote);
            }
            Change::NoQuote(c) => self.quotes.retain(|q| q.currency() != *c),
        }
    }
}

fn apply(book: &mut OrderBook, change: &Change) {
    match change {
        Change::Upsert(offer) => book.upsert(offer.clone()),
        Change::Remove(id) => book.remove(*id),
        Change::Available(maker, amount) => book.set_available(*maker, *amount),
        Change::Quote(quote) => book.set_quote(*quote),
        Change::NoQuote(c) => book.remove_quote(*c),
    }
}

/// Every page of `query` from the book at `now`, as text.
fn pages(
    book: &OrderBook,
    (filter, sort, size): (OfferFilter, Option<PriceSort>, u32),
    now: Timestamp,
) -> Vec<String> {
    let mut after = None;
    let mut all = Vec::new();
    loop {
        let q = OfferQuery::new(filter, sort, Some(size), after).unwrap();
        let page = book.search(&q, now, MAX_AGE_SECS);
        all.push(format!("{page:?}"));
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

/// Every page of `query`, from the book and from the reference, compared one by one.
fn same_pages(
    book: &OrderBook,
    model: &Model,
    fees: FeeSchedule,
    (filter, sort, size): (OfferFilter, Option<PriceSort>, u32),
    now: Timestamp,
) -> Result<(), TestCaseError> {
    let mut after: Option<OfferCursor> = None;
    for _ in 0..=OFFERS {
        let q = OfferQuery::new(filter, sort, Some(size), after).unwrap();
        let ours = book.search(&q, now, MAX_AGE_SECS);
        let theirs = search(
            &model.offers,
            |m| model.available.get(&m).copied().unwrap_or(Piconero::ZERO),
            fees,
            &model.quotes,
            &q,
            now,
            MAX_AGE_SECS,
        );
        prop_assert_eq!(&ours, &theirs);
        match theirs.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
    Err(TestCaseError::fail("the pages never end"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The book answers every query as the reference search does on the same market, after
    /// any sequence of changes to offers, balances and quotes, and at any instant.
    #[test]
    fn book_pages_equal_the_reference_search(
        changes in prop::collection::vec(change(), 0..60),
        queries in prop::collection::vec(query(), 1..6),
        now in 0..1_700_u64,
        fee_bps in 0..300_u16,
    ) {
        let fees = FeeSchedule::new(fee_bps, fee_bps).unwrap();
        let mut book = OrderBook::new(fees);
        let mut model = Model::default();
        for (i, change) in changes.iter().enumerate() {
            let (version, before) = (book.version(), pages(&book, queries[0], at(now)));
            apply(&mut book, change);
            model.apply(change);
            if book.version() == version {
                // What caches pages by version relies on.
                prop_assert_eq!(pages(&book, queries[0], at(now)), before);
            }
            if i % 7 == 0 {
                same_pages(&book, &model, fees, queries[0], at(now))?;
            }
        }
        for query in &queries {
            same_pages(&book, &model, fees, *query, at(now))?;
            // Until `fresh_until`, time alone changes no page.
            if let Some(until) = book.fresh_until(at(now), MAX_AGE_SECS) {
                prop_assert!(until >= at(now));
                prop_assert_eq!(pages(&book, *query, until), pages(&book, *query, at(now)));
            }
        }
        let held = model
            .offers
            .iter()
            .filter(|o| o.status() == OfferStatus::Active && o.visibility() == Visibility::Public)
            .count();
        prop_assert_eq!(book.len(), held);
    }
}

#[test]
fn a_maker_who_can_no_longer_cover_the_minimum_leaves_the_market() {
    let fees = FeeSchedule::FREE;
    let mut book = OrderBook::new(fees);
    let maker = UserId::from_u128(1);
    let spec = NewOffer {
        side: Side::Sell,
        currency: currency(0),
        payment_method: method(0),
        payment_details: PaymentDetails::parse("").unwrap(),
        pricing: Pricing::Fixed(Price::parse("150").unwrap()),
        limits: TradeLimits::new(xmr_tenths(1), xmr_tenths(50)).unwrap(),
        payment_window: PaymentWindow::from_minutes(60).unwrap(),
        terms: OfferTerms::parse("").unwrap(),
        visibility: Visibility::Public,
    };
    book.upsert(Offer::create(OfferId::from_u128(1), maker, spec, at(0)));
    let q = OfferQuery::new(OfferFilter::default(), None, None, None).unwrap();
    assert!(
        book.search(&q, at(0), MAX_AGE_SECS).offers.is_empty(),
        "unfunded"
    );

    book.set_available(maker, xmr_tenths(20));
    let page = book.search(&q, at(0), MAX_AGE_SECS);
    assert_eq!(page.offers.len(), 1);
    assert_eq!(
        page.offers[0].limits.max(),
        xmr_tenths(20),
        "capped at the balance"
    );

    book.set_available(maker, Piconero::ZERO);
    assert!(book.search(&q, at(0), MAX_AGE_SECS).offers.is_empty());
    book.remove(OfferId::from_u128(1));
    assert!(book.is_empty());
    assert_eq!(book.makers().count(), 0);
}
