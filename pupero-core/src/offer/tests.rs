use super::*;
use crate::fiat::MarginPercent;
use crate::trade::FeeSchedule;

const MAX_AGE_SECS: u64 = 600;

fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).unwrap()
}

fn eur() -> CurrencyCode {
    CurrencyCode::parse("EUR").unwrap()
}

fn at(secs: u64) -> Timestamp {
    Timestamp::EPOCH.plus_secs(secs)
}

fn fixed(p: &str) -> Pricing {
    Pricing::Fixed(Price::parse(p).unwrap())
}

fn margin(m: &str) -> Pricing {
    Pricing::Margin(MarginPercent::parse(m).unwrap())
}

fn eur_quote(price: &str, observed_at_secs: u64) -> Quote {
    Quote::new(eur(), Price::parse(price).unwrap(), at(observed_at_secs))
}

fn spec(side: Side, pricing: Pricing, min: &str, max: &str) -> NewOffer {
    NewOffer {
        side,
        currency: eur(),
        payment_method: PaymentMethod::parse("SEPA").unwrap(),
        payment_details: PaymentDetails::parse("IBAN only").unwrap(),
        pricing,
        limits: TradeLimits::new(xmr(min), xmr(max)).unwrap(),
        payment_window: PaymentWindow::from_minutes(60).unwrap(),
        terms: OfferTerms::parse("Be quick.").unwrap(),
        visibility: Visibility::Public,
    }
}

fn offer(n: u128, owner: u128, spec: NewOffer) -> Offer {
    Offer::create(OfferId::from_u128(n), UserId::from_u128(owner), spec, at(0))
}

/// Parses with `parse`, then compares `show` of the value, or the error.
fn check<T>(
    parse: impl Fn(&str) -> Result<T>,
    show: impl Fn(&T) -> String,
    input: &str,
    expected: std::result::Result<&str, &'static str>,
) {
    let got = parse(input).map(|v| show(&v));
    let expected = expected.map(str::to_owned).map_err(Error::InvalidOffer);
    assert_eq!(got, expected, "parsing {input:?}");
}

#[test]
fn sides_visibilities_statuses_and_sorts_parse() {
    let side = |s| check(Side::parse, |v| v.as_str().to_owned(), s, Ok(s));
    side("sell");
    side("buy");
    check(
        Side::parse,
        |v| v.as_str().to_owned(),
        "Sell",
        Err("side must be sell or buy"),
    );
    for v in ["public", "unlisted"] {
        check(Visibility::parse, |v| v.as_str().to_owned(), v, Ok(v));
    }
    check(
        Visibility::parse,
        |v| v.as_str().to_owned(),
        "private",
        Err("visibility must be public or unlisted"),
    );
    for s in ["active", "paused", "deleted"] {
        check(OfferStatus::parse, |v| v.as_str().to_owned(), s, Ok(s));
    }
    for s in ["asc", "desc"] {
        check(PriceSort::parse, |v| v.as_str().to_owned(), s, Ok(s));
    }
    assert_eq!(Side::Sell.opposite(), Side::Buy);
    assert_eq!(PriceSort::best_for(Side::Sell), PriceSort::Ascending);
    assert_eq!(PriceSort::best_for(Side::Buy), PriceSort::Descending);
}

#[test]
fn payment_methods_come_from_the_catalogue() {
    assert!(
        PAYMENT_METHODS.is_sorted_by_key(|m| m.code),
        "binary search needs a sorted catalogue"
    );
    for m in PAYMENT_METHODS {
        let parsed = PaymentMethod::parse(m.code).unwrap();
        assert_eq!(parsed.code(), m.code);
        assert_eq!(parsed.info(), m);
        assert!(m.code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    }
    let show = |m: &PaymentMethod| m.to_string();
    check(PaymentMethod::parse, show, "SEPA", Ok("SEPA"));
    check(PaymentMethod::parse, show, "ZELLE", Ok("ZELLE"));
    for bad in ["sepa", "", "SEPA ", "BITCOIN"] {
        check(
            PaymentMethod::parse,
            show,
            bad,
            Err("unknown payment method"),
        );
    }
}

#[test]
fn trade_limits_are_bounded() {
    let limits = |input: &str| {
        let (min, max) = input.split_once("..").unwrap();
        TradeLimits::new(xmr(min), xmr(max))
    };
    let show =
        |l: &TradeLimits| format!("{}..{}", l.min().to_xmr_string(), l.max().to_xmr_string());
    check(limits, show, "0.001..0.001", Ok("0.001..0.001"));
    check(limits, show, "0.5..1000", Ok("0.5..1000"));
    check(
        limits,
        show,
        "0..1",
        Err("minimum trade amount is too small"),
    );
    check(
        limits,
        show,
        "0.000999999999..1",
        Err("minimum trade amount is too small"),
    );
    check(
        limits,
        show,
        "2..1",
        Err("minimum trade amount is above the maximum"),
    );
    check(
        limits,
        show,
        "1..1000.000000000001",
        Err("maximum trade amount is too large"),
    );

    let l = TradeLimits::new(xmr("1"), xmr("5")).unwrap();
    assert!(l.contains(xmr("1")) && l.contains(xmr("5")));
    assert!(!l.contains(xmr("0.999")) && !l.contains(xmr("5.000000000001")));
    assert_eq!(l.capped_at(xmr("0.9")), None);
    assert_eq!(
        l.capped_at(xmr("1")),
        TradeLimits::new(xmr("1"), xmr("1")).ok()
    );
    assert_eq!(
        l.capped_at(xmr("3")),
        TradeLimits::new(xmr("1"), xmr("3")).ok()
    );
    assert_eq!(l.capped_at(xmr("9")), Some(l));
}

#[test]
fn payment_windows_are_bounded() {
    let window = |s: &str| PaymentWindow::from_minutes(s.parse().unwrap());
    let show = |w: &PaymentWindow| format!("{}m={}s", w.minutes(), w.secs());
    check(window, show, "15", Ok("15m=900s"));
    check(window, show, "1440", Ok("1440m=86400s"));
    check(window, show, "14", Err("payment window out of range"));
    check(window, show, "1441", Err("payment window out of range"));
    check(window, show, "0", Err("payment window out of range"));
}

#[test]
fn free_text_is_bounded_and_clean() {
    let show = |t: &OfferTerms| t.as_str().to_owned();
    check(OfferTerms::parse, show, "", Ok(""));
    check(
        OfferTerms::parse,
        show,
        "  Fast.\r\nNo chargebacks. ",
        Ok("Fast.\nNo chargebacks."),
    );
    check(
        OfferTerms::parse,
        show,
        "Zahlung über SEPA ✓",
        Ok("Zahlung über SEPA ✓"),
    );
    check(OfferTerms::parse, show, "tab\there", Ok("tab\there"));
    for (input, refused) in [
        ("bell\u{7}", '\u{7}'),
        ("lone\rreturn", '\r'),
        ("IBAN \u{202E}4321 0000", '\u{202E}'),
        ("ref\u{200B}1234", '\u{200B}'),
        ("\u{2066}DE89\u{2069}", '\u{2066}'),
        ("bom\u{FEFF}", '\u{FEFF}'),
        ("a\u{2028}b", '\u{2028}'),
    ] {
        for got in [
            OfferTerms::parse(input).map(|_| ()),
            PaymentDetails::parse(input).map(|_| ()),
        ] {
            match got {
                Err(Error::ForbiddenCharacter(f)) => assert_eq!(f.character(), refused),
                other => panic!("{input:?} gave {other:?}"),
            }
        }
    }
    let longest = "é".repeat(MAX_OFFER_TERMS_CHARS);
    assert_eq!(OfferTerms::parse(&longest).unwrap().as_str(), longest);
    check(
        OfferTerms::parse,
        show,
        &"a".repeat(MAX_OFFER_TERMS_CHARS + 1),
        Err("terms are too long"),
    );
    check(
        OfferTerms::parse,
        show,
        &"a".repeat(10 * MAX_OFFER_TERMS_CHARS),
        Err("terms are too long"),
    );

    let details = |t: &PaymentDetails| t.as_str().to_owned();
    check(
        PaymentDetails::parse,
        details,
        "Revolut tag only",
        Ok("Revolut tag only"),
    );
    check(
        PaymentDetails::parse,
        details,
        &"x".repeat(MAX_PAYMENT_DETAILS_CHARS + 1),
        Err("payment details are too long"),
    );
}

#[test]
fn status_changes_consume_and_return() {
    let o = offer(1, 7, spec(Side::Sell, fixed("150"), "1", "5"));
    assert_eq!(o.status(), OfferStatus::Active);
    assert!(o.is_owned_by(UserId::from_u128(7)));
    assert!(!o.is_owned_by(UserId::from_u128(8)));

    let paused = o.pause(at(10)).unwrap();
    assert_eq!(paused.status(), OfferStatus::Paused);
    assert_eq!(paused.updated_at(), at(10));
    // Pausing again is a no-op, for retried requests.
    let again = paused.clone().pause(at(20)).unwrap();
    assert_eq!(again, paused);

    let resumed = again.resume(at(30)).unwrap();
    assert_eq!(resumed.status(), OfferStatus::Active);
    assert_eq!(resumed.updated_at(), at(30));
    assert_eq!(resumed.clone().resume(at(40)).unwrap(), resumed);

    let deleted = resumed.delete(at(50));
    assert_eq!(deleted.status(), OfferStatus::Deleted);
    assert!(!deleted.status().is_open());
    assert_eq!(deleted.clone().delete(at(60)), deleted);
    for refused in [
        deleted.clone().pause(at(70)),
        deleted.clone().resume(at(70)),
        deleted
            .clone()
            .update(OfferUpdate::Pricing(fixed("1")), at(70)),
    ] {
        let err = refused.unwrap_err();
        assert!(err.is_invalid_state(), "{err:?}");
        assert!(!err.is_invalid_input());
    }
    // A paused offer can be deleted directly.
    let o = offer(2, 7, spec(Side::Buy, fixed("1"), "1", "1"));
    let deleted = o.pause(at(1)).unwrap().delete(at(2));
    assert_eq!(deleted.status(), OfferStatus::Deleted);
}

#[test]
fn updates_change_one_field_and_keep_the_rest() {
    let o = offer(1, 7, spec(Side::Sell, fixed("150"), "1", "5"));
    let o = o.update(OfferUpdate::Pricing(margin("2")), at(5)).unwrap();
    assert_eq!(o.pricing(), margin("2"));
    assert_eq!(o.updated_at(), at(5));
    assert_eq!(o.created_at(), at(0));

    let limits = TradeLimits::new(xmr("2"), xmr("3")).unwrap();
    let o = o.update(OfferUpdate::Limits(limits), at(6)).unwrap();
    assert_eq!(o.limits(), limits);

    let method = PaymentMethod::parse("WISE").unwrap();
    let details = PaymentDetails::parse("EUR balance").unwrap();
    let o = o
        .update(
            OfferUpdate::PaymentMethod {
                method,
                details: details.clone(),
            },
            at(7),
        )
        .unwrap();
    assert_eq!(
        (o.payment_method(), o.payment_details()),
        (method, &details)
    );

    let window = PaymentWindow::from_minutes(30).unwrap();
    let terms = OfferTerms::parse("New terms").unwrap();
    let o = o
        .update(OfferUpdate::PaymentWindow(window), at(8))
        .unwrap()
        .update(OfferUpdate::Terms(terms.clone()), at(9))
        .unwrap()
        .update(OfferUpdate::Visibility(Visibility::Unlisted), at(10))
        .unwrap();
    assert_eq!(o.payment_window(), window);
    assert_eq!(o.terms(), &terms);
    assert_eq!(o.visibility(), Visibility::Unlisted);
    assert_eq!((o.side(), o.currency()), (Side::Sell, eur()));
    // A paused offer can be edited and stays paused.
    let o = o.pause(at(11)).unwrap();
    let o = o.update(OfferUpdate::Pricing(fixed("1")), at(12)).unwrap();
    assert_eq!(o.status(), OfferStatus::Paused);
    // Time never runs backwards in `updated_at`.
    let o = o.update(OfferUpdate::Pricing(fixed("2")), at(3)).unwrap();
    assert_eq!(o.updated_at(), at(12));
}

#[test]
fn listability() {
    let quote = eur_quote("200", 0);
    let fresh = Some(&quote);
    let sell = offer(1, 7, spec(Side::Sell, margin("1"), "1", "5"));
    let check = |o: &Offer, available: &str, quote: Option<&Quote>, now: u64, expected: bool| {
        assert_eq!(
            o.listable(
                xmr(available),
                FeeSchedule::FREE,
                quote,
                at(now),
                MAX_AGE_SECS
            ),
            expected,
            "{:?} {:?} with {available} XMR, {quote:?} at {now}s",
            o.side(),
            o.status(),
        );
    };
    // A sell offer needs its minimum trade available.
    check(&sell, "1", fresh, 0, true);
    check(&sell, "0.999999999999", fresh, 0, false);
    check(&sell, "0", fresh, 0, false);
    // A margin offer needs a fresh quote.
    check(&sell, "1", None, 0, false);
    check(&sell, "1", fresh, MAX_AGE_SECS, true);
    check(&sell, "1", fresh, MAX_AGE_SECS + 1, false);
    // A buy offer's maker pays in fiat: no balance needed.
    let buy = offer(2, 7, spec(Side::Buy, fixed("190"), "1", "5"));
    check(&buy, "0", None, 10_000, true);
    // Paused, deleted and unlisted offers are not listed.
    check(&sell.clone().pause(at(1)).unwrap(), "9", fresh, 1, false);
    check(&buy.clone().delete(at(1)), "9", fresh, 1, false);
    let unlisted = buy
        .update(OfferUpdate::Visibility(Visibility::Unlisted), at(1))
        .unwrap();
    check(&unlisted, "0", None, 1, false);
    // ... but an unlisted offer can be taken through its link.
    assert!(
        unlisted
            .takeable(xmr("0"), FeeSchedule::FREE, None, at(1), MAX_AGE_SECS)
            .is_some()
    );
    assert_eq!(
        sell.takeable(xmr("3"), FeeSchedule::FREE, fresh, at(0), MAX_AGE_SECS)
            .map(|p| p.price().to_string()),
        Some("202".to_owned())
    );
    assert_eq!(
        sell.takeable_limits(xmr("3"), FeeSchedule::FREE),
        TradeLimits::new(xmr("1"), xmr("3")).ok()
    );
    // With the maker's 1% on top, 3 XMR escrow at most 2.970297029703 XMR (its fee rounds down
    // to 0.029702970297: exactly 3 in all), and the minimum
    // needs 1.01.
    let one_percent = FeeSchedule::new(100, 0).unwrap();
    assert_eq!(
        sell.takeable_limits(xmr("3"), one_percent),
        TradeLimits::new(xmr("1"), xmr("2.970297029703")).ok()
    );
    assert!(sell.listable(xmr("1.01"), one_percent, fresh, at(0), MAX_AGE_SECS));
    assert!(!sell.listable(
        xmr("1.009999999999"),
        one_percent,
        fresh,
        at(0),
        MAX_AGE_SECS
    ));
}

#[test]
fn cursors_round_trip() {
    let id = OfferId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    for (sort, price) in [
        (PriceSort::Ascending, "150.25"),
        (PriceSort::Descending, "0.00000001"),
        (PriceSort::Ascending, "100000000000"),
    ] {
        let cursor = OfferCursor::new(sort, Price::parse(price).unwrap(), id);
        let s = cursor.to_string();
        assert_eq!(OfferCursor::parse(&s), Ok(cursor), "{s}");
        assert_eq!(s.parse::<OfferCursor>(), Ok(cursor));
    }
    assert_eq!(
        OfferCursor::new(PriceSort::Ascending, Price::parse("150.25").unwrap(), id).to_string(),
        "asc~150.25~01900000-0000-7000-8000-000000000001"
    );
    let bad = Err(Error::InvalidOffer("invalid cursor"));
    for s in [
        "",
        "asc",
        "asc~150",
        "up~150~01900000-0000-7000-8000-000000000001",
        "asc~-1~01900000-0000-7000-8000-000000000001",
        "asc~0~01900000-0000-7000-8000-000000000001",
        "asc~150~nope",
        "asc~150~01900000-0000-7000-8000-000000000001~x",
        // Not canonical: trailing zeros, a UUID in upper case or without hyphens.
        "asc~150.50~01900000-0000-7000-8000-000000000001",
        "asc~150~01900000-0000-7000-8000-00000000000A",
        "asc~150~01900000000070008000000000000001",
    ] {
        assert_eq!(OfferCursor::parse(s), bad, "{s:?}");
    }
    assert_eq!(OfferCursor::parse(&"a".repeat(1000)), bad);
}

#[test]
fn queries_are_bounded() {
    let page = |size: Option<u32>| {
        OfferQuery::new(OfferFilter::default(), None, size, None)
            .unwrap()
            .page_size()
    };
    assert_eq!(page(None), DEFAULT_OFFER_PAGE_SIZE);
    assert_eq!(page(Some(0)), 1);
    assert_eq!(page(Some(7)), 7);
    assert_eq!(page(Some(u32::MAX)), MAX_OFFER_PAGE_SIZE);

    let amount = |a: &str| {
        let filter = OfferFilter {
            amount: Some(xmr(a)),
            ..OfferFilter::default()
        };
        OfferQuery::new(filter, None, None, None).map(|q| q.filter().amount)
    };
    assert_eq!(amount("0.001"), Ok(Some(xmr("0.001"))));
    assert_eq!(amount("1000"), Ok(Some(xmr("1000"))));
    let refused = Err(Error::InvalidOffer("amount outside the trade limits"));
    assert_eq!(amount("0"), refused);
    assert_eq!(amount("1000.000000000001"), refused);

    let buys = OfferFilter {
        side: Some(Side::Buy),
        ..OfferFilter::default()
    };
    let q = OfferQuery::new(buys, None, None, None).unwrap();
    assert_eq!(q.sort(), PriceSort::Descending);
    let cursor = OfferCursor::new(
        PriceSort::Ascending,
        Price::parse("1").unwrap(),
        OfferId::from_u128(1),
    );
    assert_eq!(
        OfferQuery::new(buys, None, None, Some(cursor)),
        Err(Error::InvalidOffer("the cursor is for another sort order"))
    );
    assert!(OfferQuery::new(buys, Some(PriceSort::Ascending), None, Some(cursor)).is_ok());
}

#[test]
fn search_filters_sorts_and_pages() {
    let usd = CurrencyCode::parse("USD").unwrap();
    let mut usd_offer = spec(Side::Sell, fixed("100"), "1", "5");
    usd_offer.currency = usd;
    let mut cash = spec(Side::Sell, fixed("180"), "1", "5");
    cash.payment_method = PaymentMethod::parse("CASH_IN_PERSON").unwrap();
    let offers = vec![
        offer(1, 1, spec(Side::Sell, fixed("210"), "1", "5")),
        offer(2, 1, spec(Side::Sell, margin("-5"), "1", "5")), // 190
        offer(3, 2, spec(Side::Sell, fixed("190"), "1", "5")),
        offer(4, 3, spec(Side::Sell, fixed("150"), "1", "5")), // maker unfunded
        offer(5, 1, spec(Side::Buy, fixed("170"), "0.1", "2")),
        offer(6, 1, usd_offer),
        offer(7, 1, cash),
        offer(8, 1, spec(Side::Sell, fixed("200"), "0.1", "0.5")),
    ];
    let available = |user: UserId| match user.as_u128() {
        3 => xmr("0.5"),
        _ => xmr("10"),
    };
    let quotes = [eur_quote("200", 0)];
    let run = |filter: OfferFilter, after: Option<OfferCursor>, size: u32, now: u64| {
        let q = OfferQuery::new(filter, None, Some(size), after).unwrap();
        let page = search(
            &offers,
            available,
            FeeSchedule::FREE,
            &quotes,
            &q,
            at(now),
            MAX_AGE_SECS,
        );
        let ids: Vec<String> = page
            .offers
            .iter()
            .map(|l| format!("{}@{}", l.offer.id().as_u128(), l.price.price()))
            .collect();
        (ids.join(" "), page.next)
    };
    let eur_sell_sepa = OfferFilter {
        side: Some(Side::Sell),
        currency: Some(eur()),
        payment_method: Some(PaymentMethod::parse("SEPA").unwrap()),
        amount: None,
    };

    // Ascending by price, ties by id; unfunded and other currencies/methods/sides left out.
    let (all, next) = run(eur_sell_sepa, None, 100, 0);
    assert_eq!(all, "2@190 3@190 8@200 1@210");
    assert_eq!(next, None);

    // Page by page, the same offers.
    let (first, next) = run(eur_sell_sepa, None, 2, 0);
    assert_eq!(first, "2@190 3@190");
    let (second, next) = run(eur_sell_sepa, next, 2, 0);
    assert_eq!(second, "8@200 1@210");
    assert_eq!(next, None);

    // Amount filter: offer 8 takes at most 0.5 XMR.
    let one_xmr = OfferFilter {
        amount: Some(xmr("1")),
        ..eur_sell_sepa
    };
    assert_eq!(run(one_xmr, None, 100, 0).0, "2@190 3@190 1@210");

    // A stale quote hides the margin offer.
    let (stale, _) = run(eur_sell_sepa, None, 100, MAX_AGE_SECS + 1);
    assert_eq!(stale, "3@190 8@200 1@210");

    // Buy offers, best (dearest) first; no filter at all mixes everything.
    let buys = OfferFilter {
        side: Some(Side::Buy),
        ..OfferFilter::default()
    };
    assert_eq!(run(buys, None, 100, 0).0, "5@170");
    let (everything, _) = run(OfferFilter::default(), None, 100, 0);
    assert_eq!(everything, "6@100 5@170 7@180 2@190 3@190 8@200 1@210");

    // Limits shown are capped at a sell maker's balance.
    let q = OfferQuery::new(eur_sell_sepa, None, None, None).unwrap();
    let poor = |_: UserId| xmr("2");
    let page = search(
        &offers,
        poor,
        FeeSchedule::FREE,
        &quotes,
        &q,
        at(0),
        MAX_AGE_SECS,
    );
    assert!(page.offers.iter().all(|l| l.limits.max() <= xmr("2")));
}

#[test]
fn descending_search_pages_without_overlap() {
    let offers: Vec<Offer> = (1..=5)
        .map(|n| {
            let price = if n % 2 == 0 { "100" } else { "200" };
            offer(n, 1, spec(Side::Buy, fixed(price), "1", "5"))
        })
        .collect();
    let filter = OfferFilter {
        side: Some(Side::Buy),
        ..OfferFilter::default()
    };
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let q = OfferQuery::new(filter, None, Some(2), after).unwrap();
        let page = search(
            &offers,
            |_| Piconero::ZERO,
            FeeSchedule::FREE,
            &[],
            &q,
            at(0),
            MAX_AGE_SECS,
        );
        seen.extend(page.offers.iter().map(|l| l.offer.id().as_u128()));
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec![5, 3, 1, 4, 2]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Following cursors visits every listed offer exactly once, in order, whatever the
        /// prices (with many ties), the page size and the direction.
        #[test]
        fn pages_partition_the_results(
            prices in proptest::collection::vec(1u32..6, 0..30),
            page_size in 1u32..7,
            descending in any::<bool>(),
        ) {
            let offers: Vec<Offer> = prices
                .iter()
                .zip(1u128..)
                .map(|(p, n)| offer(n, 1, spec(Side::Buy, fixed(&p.to_string()), "1", "5")))
                .collect();
            let sort = if descending { PriceSort::Descending } else { PriceSort::Ascending };
            let all = OfferQuery::new(OfferFilter::default(), Some(sort), Some(MAX_OFFER_PAGE_SIZE), None)
                .unwrap();
            let expected: Vec<OfferId> = search(&offers, |_| Piconero::ZERO, FeeSchedule::FREE, &[], &all, at(0), MAX_AGE_SECS)
                .offers
                .iter()
                .map(|l| l.offer.id())
                .collect();
            prop_assert_eq!(expected.len(), offers.len());
            let mut seen = Vec::new();
            let mut after = None;
            for _ in 0..=offers.len() {
                let q = OfferQuery::new(OfferFilter::default(), Some(sort), Some(page_size), after)
                    .unwrap();
                let page = search(&offers, |_| Piconero::ZERO, FeeSchedule::FREE, &[], &q, at(0), MAX_AGE_SECS);
                prop_assert!(page.offers.len() <= usize::try_from(page_size).unwrap());
                seen.extend(page.offers.iter().map(|l| l.offer.id()));
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
            prop_assert_eq!(seen, expected);
        }
    }
}

#[test]
fn a_worse_price_is_worse_for_whoever_takes() {
    let p = |s: &str| crate::Price::parse(s).unwrap();
    // Taking a sell offer buys XMR: paying more is worse.
    assert!(Side::Sell.worse_for_taker(p("150.01"), p("150")));
    assert!(!Side::Sell.worse_for_taker(p("150"), p("150")));
    assert!(!Side::Sell.worse_for_taker(p("149.99"), p("150")));
    // Taking a buy offer sells XMR: being paid less is worse.
    assert!(Side::Buy.worse_for_taker(p("149.99"), p("150")));
    assert!(!Side::Buy.worse_for_taker(p("150"), p("150")));
    assert!(!Side::Buy.worse_for_taker(p("150.01"), p("150")));
}

mod takeable_limits {
    //! What the market lists is exactly what can be taken: the listed maximum of a sell offer
    //! opens (its escrow, fee included, fits the maker's balance in a real ledger book) and
    //! one piconero more does not.

    use proptest::prelude::*;

    use super::*;
    use crate::ledger::{
        AccountCode, AccountFlags, LedgerBook, LedgerId, NewAccount, NewTransfer, Outcome,
        TransferCode, TransferOp,
    };
    use crate::trade::{FeeSchedule, OpenTrade, Party, Trade};
    use crate::{AccountId, TradeId, TransferId};

    const MAKER: u128 = 7;
    const TAKER: u128 = 8;

    fn fee_account() -> AccountId {
        AccountId::from_u128(100)
    }

    /// A book where the maker has exactly `available`.
    fn book(available: Piconero) -> LedgerBook {
        let mut book = LedgerBook::new();
        let bank = AccountId::from_u128(200);
        let accounts = [
            NewAccount::user_xmr(AccountId::user_xmr(UserId::from_u128(MAKER))),
            NewAccount::user_xmr(AccountId::user_xmr(UserId::from_u128(TAKER))),
            NewAccount {
                id: fee_account(),
                ledger: LedgerId::XMR,
                code: AccountCode::PlatformFees,
                flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
            },
            NewAccount {
                id: bank,
                ledger: LedgerId::XMR,
                code: AccountCode::Equity,
                flags: AccountFlags::NONE,
            },
        ];
        assert!(
            book.create_accounts(&accounts, at(0))
                .iter()
                .all(Result::is_ok)
        );
        if !available.is_zero() {
            let funding = NewTransfer::xmr(
                TransferId::from_u128(1),
                TransferOp::Single {
                    debit: bank,
                    credit: AccountId::user_xmr(UserId::from_u128(MAKER)),
                    amount: available,
                },
                TransferCode::Deposit,
            );
            assert_eq!(
                book.create_transfers(&[funding], at(0)),
                [Ok(Outcome::Created)]
            );
        }
        book
    }

    /// Whether a trade of `amount` on `offer` opens and its escrow fits the maker's balance.
    fn takes(offer: &Offer, available: Piconero, fees: FeeSchedule, amount: Piconero) -> bool {
        if !offer.limits().contains(amount) {
            return false;
        }
        let params = OpenTrade {
            id: TradeId::from_u128(42),
            offer: offer.id(),
            seller: offer.owner(),
            buyer: UserId::from_u128(TAKER),
            maker: Party::Seller,
            amount,
            price: Price::parse("150").unwrap(),
            currency: offer.currency(),
            window: offer.payment_window(),
            fees,
            fee_account: fee_account(),
        };
        let Ok((_, plan)) = Trade::open(params, at(0)) else {
            return false;
        };
        book(available)
            .create_transfers(&plan, at(0))
            .iter()
            .all(|r| *r == Ok(Outcome::Created))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_listed_maximum_is_takeable_and_one_piconero_more_is_not(
            available in 0u64..=50_000_000_000_000,
            maker_bps in 0..=crate::limits::MAX_FEE_BPS,
            taker_bps in 0..=crate::limits::MAX_FEE_BPS,
            min in 1_000_000_000u64..=5_000_000_000_000,
            extra in 0u64..=40_000_000_000_000,
        ) {
            let fees = FeeSchedule::new(maker_bps, taker_bps).unwrap();
            let available = Piconero::new(available);
            let limits = TradeLimits::new(Piconero::new(min), Piconero::new(min + extra)).unwrap();
            let sell = Offer::create(
                OfferId::from_u128(1),
                UserId::from_u128(MAKER),
                NewOffer { limits, ..spec(Side::Sell, fixed("150"), "1", "1") },
                at(0),
            );
            match sell.takeable_limits(available, fees) {
                Some(listed) => {
                    prop_assert!(takes(&sell, available, fees, listed.min()));
                    prop_assert!(takes(&sell, available, fees, listed.max()));
                    let one_more = listed.max().checked_add(Piconero::new(1)).unwrap();
                    prop_assert!(!takes(&sell, available, fees, one_more));
                }
                None => prop_assert!(!takes(&sell, available, fees, limits.min())),
            }
        }
    }
}
