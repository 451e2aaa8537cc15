//! Offers: posting, owner-only changes, the market page.

use pupero_sdk::{OfferRequest, OfferSearch};

use crate::support::app_test;

fn sell_eur(price: &str) -> OfferRequest {
    OfferRequest {
        side: "sell".parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some("EU banks only".into()),
        price: Some(price.parse().unwrap()),
        margin_percent: None,
        min_amount: "0.1".parse().unwrap(),
        max_amount: "2".parse().unwrap(),
        payment_window_minutes: 60,
        terms: Some("Reference: trade id".into()),
        visibility: "public".parse().unwrap(),
    }
}

app_test!(posted_offers_reach_the_market_when_funded, |app| {
    let (seller, seller_id) = app.user("seller").await;
    let methods = app.new_client().payment_methods().await.unwrap();
    assert!(methods.iter().any(|m| m.code.code() == "SEPA"));
    // The fees a trade would charge, public before any trade opens.
    let fees = app.new_client().fee_schedule().await.unwrap();
    assert_eq!(
        (fees.maker_bps(), fees.taker_bps()),
        (
            pupero_market::settings::DEFAULT_MAKER_FEE_BPS,
            pupero_market::settings::DEFAULT_TAKER_FEE_BPS
        )
    );

    let offer = seller.create_offer(&sell_eur("150.5")).await.unwrap();
    assert_eq!(offer.status, pupero_sdk::OfferStatus::Active);
    assert_eq!(offer.price.map(|v| v.to_string()).as_deref(), Some("150.5"));
    let market = app.new_client();
    let search = OfferSearch {
        side: Some(pupero_sdk::Side::Sell),
        currency: Some("EUR".parse::<pupero_sdk::CurrencyCode>().unwrap()),
        ..OfferSearch::default()
    };
    assert!(
        market
            .search_offers(&search)
            .await
            .unwrap()
            .items
            .is_empty(),
        "an unfunded sell offer is not listed"
    );

    app.fund(seller_id, "1").await;
    let page = market.search_offers(&search).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].max_amount,
        "0.990099009901".parse::<pupero_sdk::Piconero>().unwrap(),
        "the limits shown are what the seller can cover, the maker's 1% fee included"
    );
    assert_eq!(
        page.items[0]
            .effective_price
            .map(|v| v.to_string())
            .as_deref(),
        Some("150.5")
    );
    assert_eq!(market.offer(offer.id).await.unwrap().id, offer.id);
});

app_test!(only_the_owner_changes_an_offer, |app| {
    let (seller, seller_id) = app.user("owner").await;
    let (other, _) = app.user("intruder").await;
    app.fund(seller_id, "5").await;
    let offer = seller.create_offer(&sell_eur("100")).await.unwrap();

    assert!(
        other
            .pause_offer(offer.id)
            .await
            .unwrap_err()
            .is_forbidden()
    );
    assert!(
        other
            .update_offer(offer.id, &sell_eur("1"))
            .await
            .unwrap_err()
            .is_forbidden()
    );
    assert!(
        other
            .delete_offer(offer.id)
            .await
            .unwrap_err()
            .is_forbidden()
    );
    assert!(
        app.new_client()
            .pause_offer(offer.id)
            .await
            .unwrap_err()
            .is_unauthorized()
    );

    let market = OfferSearch::default();
    let paused = seller.pause_offer(offer.id).await.unwrap();
    assert_eq!(paused.status, pupero_sdk::OfferStatus::Paused);
    assert!(
        app.new_client()
            .search_offers(&market)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    seller.resume_offer(offer.id).await.unwrap();
    assert_eq!(
        app.new_client()
            .search_offers(&market)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let updated = seller
        .update_offer(offer.id, &sell_eur("99.99"))
        .await
        .unwrap();
    assert_eq!(
        updated.price.map(|v| v.to_string()).as_deref(),
        Some("99.99")
    );
    let mut other_side = sell_eur("99");
    other_side.side = "buy".parse().unwrap();
    assert!(
        seller
            .update_offer(offer.id, &other_side)
            .await
            .unwrap_err()
            .is_validation()
    );

    seller.delete_offer(offer.id).await.unwrap();
    assert!(
        app.new_client()
            .offer(offer.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        seller
            .resume_offer(offer.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(seller.my_offers().await.unwrap().is_empty());
});

app_test!(bad_offers_are_refused_with_validation_errors, |app| {
    let (maker, _) = app.user("maker").await;
    // Refused by the rules, though the types allow them.
    let mut both = sell_eur("100");
    both.margin_percent = Some("1".parse().unwrap());
    let mut neither = sell_eur("100");
    neither.price = None;
    let mut limits = sell_eur("100");
    limits.min_amount = "3".parse().unwrap();
    let mut window = sell_eur("100");
    window.payment_window_minutes = 5;
    for bad in [both, neither, limits, window] {
        let error = maker.create_offer(&bad).await.unwrap_err();
        assert_eq!(error.code(), Some("VALIDATION"), "{bad:?}");
    }
    // Refused by the schema: values the SDK's types cannot even hold, sent by hand.
    let access = maker.refresh().await.unwrap().access_token;
    for (field, value) in [
        ("currency", serde_json::json!("XXX")),
        ("payment_method", serde_json::json!("GOLD_BARS")),
        ("price", serde_json::json!("-3")),
        ("side", serde_json::json!("lend")),
        ("min_amount", serde_json::json!(0.5)),
    ] {
        let mut body = serde_json::to_value(sell_eur("100")).unwrap();
        body[field] = value;
        let response = app
            .raw()
            .post(format!("{}/api/v1/offers", app.base_url))
            .bearer_auth(&access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{field}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "VALIDATION", "{field}");
    }
    assert!(
        maker.my_offers().await.unwrap().is_empty(),
        "nothing half-written"
    );
});

app_test!(the_market_filters_sorts_and_pages, |app| {
    // New accounts may have three open offers each: two sellers share the book.
    let (first, first_id) = app.user("seller-one").await;
    let (second, second_id) = app.user("seller-two").await;
    app.fund(first_id, "100").await;
    app.fund(second_id, "100").await;
    for (seller, price) in [
        (&first, "103"),
        (&second, "101"),
        (&first, "105"),
        (&second, "102"),
        (&first, "104"),
    ] {
        seller.create_offer(&sell_eur(price)).await.unwrap();
    }
    let mut usd = sell_eur("90");
    usd.currency = "USD".parse().unwrap();
    second.create_offer(&usd).await.unwrap();
    let (buyer, _) = app.user("bigbuyer").await;
    let mut buy = sell_eur("95");
    buy.side = "buy".parse().unwrap();
    buyer.create_offer(&buy).await.unwrap();

    let market = app.new_client();
    // Sell offers: cheapest first for a buyer, two per page.
    let mut prices = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let search = OfferSearch {
            side: Some(pupero_sdk::Side::Sell),
            currency: Some("EUR".parse::<pupero_sdk::CurrencyCode>().unwrap()),
            limit: Some(2),
            cursor: cursor.as_deref(),
            ..OfferSearch::default()
        };
        let page = market.search_offers(&search).await.unwrap();
        prices.extend(page.items.iter().map(|o| o.price.unwrap().to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(prices, ["101", "102", "103", "104", "105"]);

    let usd_only = market
        .search_offers(&OfferSearch {
            currency: Some("USD".parse::<pupero_sdk::CurrencyCode>().unwrap()),
            ..OfferSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(usd_only.items.len(), 1);
    let buys = market
        .search_offers(&OfferSearch {
            side: Some(pupero_sdk::Side::Buy),
            ..OfferSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        buys.items.len(),
        1,
        "a buy offer needs no balance to be listed"
    );
    let big = market
        .search_offers(&OfferSearch {
            side: Some(pupero_sdk::Side::Sell),
            amount: Some("3".parse::<pupero_sdk::Piconero>().unwrap()),
            ..OfferSearch::default()
        })
        .await
        .unwrap();
    assert!(big.items.is_empty(), "no offer accepts 3 XMR");
    let desc = market
        .search_offers(&OfferSearch {
            side: Some(pupero_sdk::Side::Sell),
            currency: Some("EUR".parse::<pupero_sdk::CurrencyCode>().unwrap()),
            sort: Some(pupero_sdk::PriceSort::Descending),
            ..OfferSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        desc.items[0].price.map(|v| v.to_string()).as_deref(),
        Some("105")
    );
    // A filter the SDK's types cannot hold, sent by hand.
    let refused = app
        .raw()
        .get(format!("{}/api/v1/offers?currency=eur!", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
});

app_test!(margin_offers_need_a_market_price, |app| {
    let (seller, seller_id) = app.user("marginal").await;
    app.fund(seller_id, "1").await;
    let mut margin = sell_eur("1");
    margin.price = None;
    margin.margin_percent = Some("2.5".parse().unwrap());
    let offer = seller.create_offer(&margin).await.unwrap();
    assert_eq!(
        offer.margin_percent.map(|v| v.to_string()).as_deref(),
        Some("2.5")
    );
    let page = app
        .new_client()
        .search_offers(&OfferSearch::default())
        .await
        .unwrap();
    assert!(
        page.items.is_empty(),
        "without a fresh quote a margin offer is hidden"
    );
    assert_eq!(
        app.new_client()
            .offer(offer.id)
            .await
            .unwrap()
            .effective_price,
        None
    );

    // Once the market has a price, the offer is listed at price × (1 + margin).
    let (admin, _) = app
        .user_with_role("price-admin", pupero_core::Role::Admin)
        .await;
    admin.admin_set_price("EUR", "200").await.unwrap();
    let page = app
        .new_client()
        .search_offers(&OfferSearch::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0]
            .effective_price
            .map(|v| v.to_string())
            .as_deref(),
        Some("205")
    );
});

app_test!(
    new_accounts_have_few_open_offers_and_keys_need_the_trade_scope,
    |app| {
        let (maker, _) = app.user("newbie").await;
        for _ in 0..3 {
            maker.create_offer(&sell_eur("100")).await.unwrap();
        }
        assert_eq!(
            maker
                .create_offer(&sell_eur("100"))
                .await
                .unwrap_err()
                .code(),
            Some("OFFER_LIMIT")
        );

        let reader = maker
            .create_api_key(
                "reader",
                &[pupero_sdk::Scope::Read],
                crate::support::PASSWORD,
                None,
            )
            .await
            .unwrap()
            .key;
        let bot = pupero_sdk::Client::with_api_key(app.base_url.clone(), reader).unwrap();
        assert!(
            bot.create_offer(&sell_eur("100"))
                .await
                .unwrap_err()
                .is_forbidden()
        );
        assert_eq!(bot.my_offers().await.unwrap().len(), 3);
    }
);

app_test!(a_market_larger_than_a_ledger_batch_is_listed, |app| {
    // More offers than the ledger looks up accounts at once (a maker may have many).
    let (_, owner) = app.user("big-maker").await;
    app.fund(owner, "10").await;
    let owner = pupero_core::UserId::from_uuid(owner);
    let spec = |price: &str| pupero_core::NewOffer {
        side: pupero_core::offer::Side::Sell,
        currency: pupero_core::CurrencyCode::parse("EUR").unwrap(),
        payment_method: pupero_core::offer::PaymentMethod::parse("SEPA").unwrap(),
        payment_details: pupero_core::offer::PaymentDetails::parse("").unwrap(),
        pricing: pupero_core::Pricing::Fixed(pupero_core::Price::parse(price).unwrap()),
        limits: pupero_core::offer::TradeLimits::new(
            pupero_core::Piconero::from_xmr_str("0.1").unwrap(),
            pupero_core::Piconero::from_xmr_str("1").unwrap(),
        )
        .unwrap(),
        payment_window: pupero_core::offer::PaymentWindow::from_minutes(60).unwrap(),
        terms: pupero_core::offer::OfferTerms::parse("").unwrap(),
        visibility: pupero_core::offer::Visibility::Public,
    };
    let count = pupero_core::limits::MAX_ACCOUNTS_PER_BATCH + 1;
    for i in 0..count {
        let offer = pupero_core::Offer::create(
            pupero_core::OfferId::new_v7(),
            owner,
            spec(&format!("{}", 100 + i % 50)),
            app.state.now(),
        );
        app.state
            .market
            .store
            .insert_offer(&offer, u32::MAX)
            .await
            .unwrap();
    }
    let page = app
        .new_client()
        .search_offers(&OfferSearch::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 20);
    assert_eq!(
        page.items[0]
            .effective_price
            .map(|v| v.to_string())
            .as_deref(),
        Some("100")
    );
});

/// Lists the market of `market` as a taker sees it: `id@max_amount` per offer.
async fn listed(market: &pupero_market::Market) -> Vec<String> {
    let query = pupero_core::offer::OfferQuery::new(Default::default(), None, None, None).unwrap();
    let page = market.search_offers(&query).await.unwrap();
    page.listings
        .iter()
        .map(|l| format!("{}@{}", l.offer.id(), l.limits.max().to_xmr_string()))
        .collect()
}

/// Waits until `market` lists `expected`, within a deadline far above the stated bound
/// (`BOOK_STALE_AGE`), so that a busy machine does not fail the test.
async fn until_listed(market: &pupero_market::Market, expected: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = listed(market).await;
        if now == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// Two processes on one database: what one changes (an offer paused, resumed or edited, the
// maker's balance held by a trade) reaches the other's market page within the stated bound,
// and the process that made the change lists it at once.
app_test!(
    another_process_sees_the_market_change_within_its_bound,
    |app| {
        let (seller, seller_id) = app.user("seller").await;
        let (buyer, _) = app.user("buyer").await;
        app.fund(seller_id, "1.01").await;
        let offer = seller.create_offer(&sell_eur("150")).await.unwrap().id;
        let other = pupero_server::AppState::open(pupero_server::Settings::for_database(
            app.state.settings.market.database_url.clone(),
        ))
        .await
        .unwrap();
        let full = vec![format!("{offer}@1")];
        assert_eq!(listed(&app.state.market).await, full);
        until_listed(&other.market, &full).await;

        seller.pause_offer(offer).await.unwrap();
        assert!(listed(&app.state.market).await.is_empty(), "at once here");
        until_listed(&other.market, &[]).await;

        seller.resume_offer(offer).await.unwrap();
        assert_eq!(listed(&app.state.market).await, full);
        until_listed(&other.market, &full).await;

        // A trade holds 0.6 XMR and its fee: 0.404 available covers 0.4 with the 1% fee.
        let request = pupero_sdk::OpenTradeRequest {
            offer_id: offer,
            amount: "0.6".parse().unwrap(),
            price: "150".parse().unwrap(),
        };
        buyer.open_trade(&request, None).await.unwrap();
        let held = vec![format!("{offer}@0.4")];
        assert_eq!(listed(&app.state.market).await, held, "at once here");
        until_listed(&other.market, &held).await;

        // An edit reaches the other too (by the offer's revision, whatever its timestamps).
        seller.update_offer(offer, &sell_eur("151")).await.unwrap();
        let query =
            pupero_core::offer::OfferQuery::new(Default::default(), None, None, None).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let page = other.market.search_offers(&query).await.unwrap();
            if page.listings[0].price.map(|p| p.to_string()).as_deref() == Some("151") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the edit never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
);

// Market pages are serialized once by serde and served as bytes while the book under them is
// unchanged: the JSON is the documented one (what poem-openapi would have written), and a
// change is served at once.
app_test!(
    market_pages_served_as_bytes_are_the_documented_json,
    |app| {
        let (seller, seller_id) = app.user("seller").await;
        app.fund(seller_id, "1").await;
        let first = seller.create_offer(&sell_eur("150")).await.unwrap().id;
        seller.create_offer(&sell_eur("151")).await.unwrap();
        let url = format!("{}/api/v1/offers?limit=1", app.base_url);
        let get = || async {
            let response = app.raw().get(&url).send().await.unwrap();
            assert_eq!(
                response.headers()["content-type"],
                "application/json; charset=utf-8"
            );
            response.json::<serde_json::Value>().await.unwrap()
        };
        let raw = get().await;
        let view: pupero_api::OfferPageView = serde_json::from_value(raw.clone()).unwrap();
        assert!(view.next_cursor.is_some());
        assert_eq!(
            poem_openapi::types::ToJSON::to_json(&view),
            Some(raw.clone())
        );
        assert_eq!(get().await, raw, "the same page again");

        seller.pause_offer(first).await.unwrap();
        let after = get().await;
        assert_eq!(after["items"][0]["price"], "151", "{after}");
    }
);
