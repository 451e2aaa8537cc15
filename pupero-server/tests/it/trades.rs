//! Trades through the SDK: escrow to the piconero, every branch of the state machine, races,
//! idempotency, 2FA on release, and who may see what.

use pupero_core::{Piconero, Role};
use pupero_sdk::{Client, OfferRequest, OpenTradeRequest, Resolution, TradeView};
use uuid::Uuid;

use crate::support::{TestApp, app_test, app_test_with};

/// The default fees: the maker pays 1%, the taker nothing.
const PAYMENT_WINDOW_MINUTES: u32 = 30;

fn offer(side: &str, min: &str, max: &str) -> OfferRequest {
    OfferRequest {
        side: side.parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some("IBAN DE00 1234".into()),
        price: Some("150".parse().unwrap()),
        margin_percent: None,
        min_amount: min.parse().unwrap(),
        max_amount: max.parse().unwrap(),
        payment_window_minutes: PAYMENT_WINDOW_MINUTES,
        terms: Some("Put the trade id in the reference".into()),
        visibility: "public".parse().unwrap(),
    }
}

fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).unwrap()
}

/// Opens a trade at the price the offer shows now.
async fn open(client: &Client, offer: Uuid, amount: &str) -> Result<TradeView, pupero_sdk::Error> {
    let price = client.offer(offer).await?.effective_price.expect("a price");
    client
        .open_trade(
            &OpenTradeRequest {
                offer_id: offer,
                amount: amount.parse().unwrap(),
                price,
            },
            None,
        )
        .await
}

/// `(available, held, incoming)` of the client's user.
async fn balance(client: &Client) -> (Piconero, Piconero, Piconero) {
    let b = client.balance().await.unwrap();
    (b.available, b.held, b.incoming)
}

/// A funded seller with a sell offer, and a buyer.
struct Market {
    seller: Client,
    seller_id: Uuid,
    buyer: Client,
    offer: Uuid,
}

async fn market(app: &TestApp, funds: &str) -> Market {
    let (seller, seller_id) = app.user("seller").await;
    let (buyer, _) = app.user("buyer").await;
    app.fund(seller_id, funds).await;
    let offer = seller
        .create_offer(&offer("sell", "0.1", "2"))
        .await
        .unwrap()
        .id;
    Market {
        seller,
        seller_id,
        buyer,
        offer,
    }
}

fn code(error: &pupero_sdk::Error) -> &str {
    error.code().unwrap_or("<no code>")
}

app_test!(a_trades_transfers_are_named_by_its_opening_time, |app| {
    use sqlx::Row as _;
    let m = market(app, "2").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
    m.seller.release_trade(trade.id, None, None).await.unwrap();

    let (_, pool) = pupero_ledger::open_pool(&app.state.settings.market.database_url, 1)
        .await
        .unwrap();
    let names: String = sqlx::query("SELECT transfer_names FROM trades WHERE id = ?")
        .bind(trade.id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get("transfer_names")
        .unwrap();
    assert_eq!(names, "time_ordered");
    // The ledger tags each of the trade's transfers with the trade id.
    let ids: Vec<String> = sqlx::query("SELECT id FROM ledger_transfers WHERE user_data = ?")
        .bind(format!("{:032x}", trade.id.as_u128()))
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("id").unwrap())
        .collect();
    pool.close().await;
    assert_eq!(ids.len(), 4, "two holds, then the release posts both");
    for id in ids {
        let id: Uuid = id.parse().unwrap();
        assert_eq!(id.get_version_num(), 8, "{id}");
        assert_eq!(
            u64::try_from(id.as_u128() >> 80).unwrap(),
            trade.opened_at_ms,
            "{id} starts with the opening time"
        );
    }
});

app_test!(a_trade_moves_the_escrow_to_the_piconero, |app| {
    let m = market(app, "2").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    assert_eq!(trade.state, pupero_sdk::TradeState::Escrowed);
    assert_eq!(
        trade.your_side.map(|v| v.to_string()).as_deref(),
        Some("buyer")
    );
    assert_eq!(trade.maker_side, pupero_sdk::TradeSide::Seller);
    assert_eq!(trade.seller.username, "seller");
    assert_eq!(trade.amount, "1".parse::<pupero_sdk::Piconero>().unwrap());
    assert_eq!(
        trade.seller_fee,
        "0.01".parse::<pupero_sdk::Piconero>().unwrap(),
        "the maker pays 1% on top"
    );
    assert_eq!(
        trade.buyer_fee,
        "0".parse::<pupero_sdk::Piconero>().unwrap()
    );
    assert_eq!(
        trade.escrowed,
        "1.01".parse::<pupero_sdk::Piconero>().unwrap()
    );
    assert_eq!(
        trade.buyer_receives,
        "1".parse::<pupero_sdk::Piconero>().unwrap()
    );
    assert_eq!(trade.price, "150".parse::<pupero_sdk::Price>().unwrap());
    assert_eq!(
        trade.fiat_amount, "150.00",
        "to the cent, as euros are written"
    );
    assert_eq!(trade.payment_details, "IBAN DE00 1234");
    assert_eq!(
        trade.payment_deadline_ms - trade.opened_at_ms,
        u64::from(PAYMENT_WINDOW_MINUTES) * 60_000
    );
    assert_eq!(
        trade.actions,
        vec![
            pupero_sdk::TradeAction::MarkPaid,
            pupero_sdk::TradeAction::Cancel
        ]
    );

    assert_eq!(
        balance(&m.seller).await,
        (xmr("0.99"), xmr("1.01"), Piconero::ZERO)
    );
    assert_eq!(
        balance(&m.buyer).await,
        (Piconero::ZERO, Piconero::ZERO, xmr("1"))
    );

    let seller_view = m.seller.trade(trade.id).await.unwrap();
    assert_eq!(
        seller_view.your_side.map(|v| v.to_string()).as_deref(),
        Some("seller")
    );
    assert!(seller_view.actions.is_empty(), "nothing to do until paid");

    let paid = m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
    assert_eq!(paid.state, pupero_sdk::TradeState::Paid);
    assert!(paid.paid_at_ms.is_some());
    assert_eq!(paid.actions, vec![pupero_sdk::TradeAction::Dispute]);
    assert_eq!(
        m.seller.trade(trade.id).await.unwrap().actions,
        vec![
            pupero_sdk::TradeAction::Release,
            pupero_sdk::TradeAction::Dispute
        ]
    );

    let released = m.seller.release_trade(trade.id, None, None).await.unwrap();
    assert_eq!(released.state, pupero_sdk::TradeState::Released);
    assert!(released.closed_at_ms.is_some());
    assert!(released.actions.is_empty());

    assert_eq!(
        balance(&m.seller).await,
        (xmr("0.99"), Piconero::ZERO, Piconero::ZERO)
    );
    assert_eq!(
        balance(&m.buyer).await,
        (xmr("1"), Piconero::ZERO, Piconero::ZERO)
    );
    let (admin, _) = app.user_with_role("admin", Role::Admin).await;
    let fees = admin.fee_account().await.unwrap();
    assert_eq!(fees.collected, "0.01");
    assert_eq!(fees.pending, "0");
    app.state.market.ledger.check_invariants().await.unwrap();

    let mine = m.buyer.trades(None, None, None).await.unwrap();
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].id, trade.id);
    assert!(
        m.buyer
            .trades(Some(pupero_sdk::TradeState::Escrowed), None, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
});

app_test!(a_taker_sells_into_a_buy_offer, |app| {
    let (maker, _) = app.user("maker").await;
    let (taker, taker_id) = app.user("taker").await;
    let offer = maker.create_offer(&offer("buy", "0.1", "2")).await.unwrap();
    let error = open(&taker, offer.id, "1").await.unwrap_err();
    assert_eq!(
        code(&error),
        "INSUFFICIENT_FUNDS",
        "the taker sells: their XMR"
    );
    app.fund(taker_id, "1").await;
    let trade = open(&taker, offer.id, "1").await.unwrap();
    assert_eq!(
        trade.your_side.map(|v| v.to_string()).as_deref(),
        Some("seller")
    );
    assert_eq!(trade.maker_side, pupero_sdk::TradeSide::Buyer);
    assert_eq!(
        trade.seller_fee,
        "0".parse::<pupero_sdk::Piconero>().unwrap()
    );
    assert_eq!(
        trade.buyer_fee,
        "0.01".parse::<pupero_sdk::Piconero>().unwrap(),
        "the maker buys and pays 1% out of it"
    );
    assert_eq!(
        trade.buyer_receives,
        "0.99".parse::<pupero_sdk::Piconero>().unwrap()
    );
    maker.mark_trade_paid(trade.id, None).await.unwrap();
    taker.release_trade(trade.id, None, None).await.unwrap();
    assert_eq!(balance(&maker).await.0, xmr("0.99"));
    assert_eq!(balance(&taker).await.0, Piconero::ZERO);
});

app_test!(cancelling_returns_the_escrow, |app, clock| {
    let m = market(app, "2").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    let error = m.seller.cancel_trade(trade.id, None).await.unwrap_err();
    assert_eq!(code(&error), "TOO_EARLY", "the seller waits for the window");
    let cancelled = m.buyer.cancel_trade(trade.id, None).await.unwrap();
    assert_eq!(cancelled.state, pupero_sdk::TradeState::Cancelled);
    assert_eq!(
        balance(&m.seller).await,
        (xmr("2"), Piconero::ZERO, Piconero::ZERO)
    );
    assert_eq!(balance(&m.buyer).await, Default::default());

    // The seller may cancel once the window passed unpaid.
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    clock.advance_secs(u64::from(PAYMENT_WINDOW_MINUTES) * 60);
    let error = m
        .buyer
        .cancel_trade(Uuid::new_v4(), None)
        .await
        .unwrap_err();
    assert_eq!(code(&error), "NOT_FOUND");
    let cancelled = m.seller.cancel_trade(trade.id, None).await.unwrap();
    assert_eq!(cancelled.state, pupero_sdk::TradeState::Cancelled);
    assert_eq!(balance(&m.seller).await.0, xmr("2"));

    // Paid trades are not cancelled: they are released or disputed.
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
    let error = m.buyer.cancel_trade(trade.id, None).await.unwrap_err();
    assert_eq!(code(&error), "INVALID_TRANSITION");
    app.state.market.ledger.check_invariants().await.unwrap();
});

app_test!(unpaid_trades_expire_after_the_window, |app, clock| {
    let m = market(app, "2").await;
    let unpaid = open(&m.buyer, m.offer, "0.5").await.unwrap();
    let paid = open(&m.buyer, m.offer, "0.5").await.unwrap();
    m.buyer.mark_trade_paid(paid.id, None).await.unwrap();
    app.state.market.expire_due_trades().await.unwrap();
    assert_eq!(
        m.buyer.trade(unpaid.id).await.unwrap().state,
        pupero_sdk::TradeState::Escrowed
    );

    clock.advance_secs(u64::from(PAYMENT_WINDOW_MINUTES) * 60);
    app.state.market.expire_due_trades().await.unwrap();
    assert_eq!(
        m.buyer.trade(unpaid.id).await.unwrap().state,
        pupero_sdk::TradeState::Expired
    );
    assert_eq!(
        m.buyer.trade(paid.id).await.unwrap().state,
        pupero_sdk::TradeState::Paid
    );
    // 2 − (0.5 + 0.005) still held by the paid trade.
    assert_eq!(
        balance(&m.seller).await,
        (xmr("1.495"), xmr("0.505"), Piconero::ZERO)
    );
    let error = m.buyer.mark_trade_paid(unpaid.id, None).await.unwrap_err();
    assert_eq!(code(&error), "INVALID_TRANSITION");
    app.state.market.ledger.check_invariants().await.unwrap();
});

app_test!(
    moderators_settle_disputes_through_the_ledger,
    |app, clock| {
        let m = market(app, "10").await;
        let (moderator, _) = app.user_with_role("moderator", Role::Moderator).await;
        let (buyer2, _) = app.user("buyer2").await;

        let to_buyer = open(&m.buyer, m.offer, "1").await.unwrap();
        let to_seller = open(&buyer2, m.offer, "1").await.unwrap();
        let error = m
            .buyer
            .dispute_trade(to_buyer.id, "no", None)
            .await
            .unwrap_err();
        assert_eq!(
            code(&error),
            "TOO_EARLY",
            "not paid and the window still open"
        );
        let error = moderator.trade(to_buyer.id).await.unwrap_err();
        assert_eq!(
            code(&error),
            "NOT_FOUND",
            "moderators see disputed trades only"
        );

        m.buyer.mark_trade_paid(to_buyer.id, None).await.unwrap();
        let disputed = m
            .buyer
            .dispute_trade(to_buyer.id, "paid, not released", None)
            .await
            .unwrap();
        assert_eq!(disputed.state, pupero_sdk::TradeState::Disputed);
        assert_eq!(
            disputed.dispute_reason.as_deref(),
            Some("paid, not released")
        );
        // The window passing opens disputes on unpaid trades too (here by the seller).
        clock.advance_secs(u64::from(PAYMENT_WINDOW_MINUTES) * 60);
        m.seller
            .dispute_trade(to_seller.id, "never paid", None)
            .await
            .unwrap();

        let queue = moderator.disputes(None, None).await.unwrap();
        assert_eq!(queue.items.len(), 2);
        assert_eq!(
            queue.items[0].actions,
            vec![pupero_sdk::TradeAction::Resolve]
        );
        let error = m.buyer.disputes(None, None).await.unwrap_err();
        assert_eq!(code(&error), "FORBIDDEN");
        let error = m
            .buyer
            .resolve_trade(
                to_buyer.id,
                &Resolution::ToBuyer,
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(code(&error), "FORBIDDEN", "a party is no moderator");

        let resolved = moderator
            .resolve_trade(
                to_buyer.id,
                &Resolution::ToBuyer,
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(resolved.state, pupero_sdk::TradeState::Resolved);
        assert_eq!(
            resolved.resolution.map(|v| v.to_string()).as_deref(),
            Some("to_buyer")
        );
        assert_eq!(balance(&m.buyer).await.0, xmr("1"));
        moderator
            .resolve_trade(
                to_seller.id,
                &Resolution::ToSeller,
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(balance(&buyer2).await, Default::default());
        // 10 − 1.01 for the first trade; the second came back whole, fee included.
        assert_eq!(
            balance(&m.seller).await,
            (xmr("8.99"), Piconero::ZERO, Piconero::ZERO)
        );

        // A split: the buyer gets part, the platform its fee, the seller the rest.
        let (buyer3, _) = app.user("buyer3").await;
        let split = open(&buyer3, m.offer, "1").await.unwrap();
        buyer3.mark_trade_paid(split.id, None).await.unwrap();
        buyer3
            .dispute_trade(split.id, "half paid", None)
            .await
            .unwrap();
        for bad in ["0", "1", "2"] {
            let error = moderator
                .resolve_trade(
                    split.id,
                    &Resolution::Split(bad.into()),
                    "decided on the evidence",
                    None,
                    None,
                )
                .await
                .unwrap_err();
            assert_eq!(code(&error), "VALIDATION", "split of {bad}");
        }
        let resolved = moderator
            .resolve_trade(
                split.id,
                &Resolution::Split("0.4".into()),
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            resolved
                .resolution_to_buyer
                .map(|v| v.to_xmr_string())
                .as_deref(),
            Some("0.4")
        );
        assert_eq!(balance(&buyer3).await.0, xmr("0.4"));
        assert_eq!(
            balance(&m.seller).await,
            (xmr("8.58"), Piconero::ZERO, Piconero::ZERO),
            "8.99 − 1.01 + 0.6 back"
        );
        let (admin, _) = app.user_with_role("admin", Role::Admin).await;
        assert_eq!(admin.fee_account().await.unwrap().collected, "0.02");
        let error = moderator
            .resolve_trade(
                split.id,
                &Resolution::ToSeller,
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(code(&error), "INVALID_TRANSITION", "resolved once");
        app.state.market.ledger.check_invariants().await.unwrap();
    }
);

app_test!(release_happens_once_and_only_by_the_seller, |app| {
    let m = market(app, "2").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    let error = m
        .seller
        .release_trade(trade.id, None, None)
        .await
        .unwrap_err();
    assert_eq!(code(&error), "INVALID_TRANSITION", "not paid yet");
    let error = m.seller.mark_trade_paid(trade.id, None).await.unwrap_err();
    assert_eq!(code(&error), "WRONG_PARTY");
    m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
    let error = m
        .buyer
        .release_trade(trade.id, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        code(&error),
        "WRONG_PARTY",
        "the buyer cannot release to themselves"
    );

    // Two releases at once: one wins, the other is told the trade moved on.
    let (a, b) = tokio::join!(
        m.seller.release_trade(trade.id, None, None),
        m.seller.release_trade(trade.id, None, None)
    );
    let results = [a, b];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let error = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(code(&error), "INVALID_TRANSITION");
    assert_eq!(balance(&m.buyer).await.0, xmr("1"));
    assert_eq!(balance(&m.seller).await.0, xmr("0.99"));
    app.state.market.ledger.check_invariants().await.unwrap();
});

app_test!(strangers_cannot_see_or_touch_a_trade, |app| {
    let m = market(app, "2").await;
    let (stranger, _) = app.user("stranger").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    let id = trade.id;
    let attempts = [
        stranger.trade(id).await.err(),
        stranger.mark_trade_paid(id, None).await.err(),
        stranger.release_trade(id, None, None).await.err(),
        stranger.cancel_trade(id, None).await.err(),
        stranger.dispute_trade(id, "mine", None).await.err(),
    ];
    for error in attempts {
        assert_eq!(code(&error.expect("refused")), "NOT_FOUND");
    }
    assert!(
        stranger
            .trades(None, None, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        m.buyer.trade(id).await.unwrap().state,
        pupero_sdk::TradeState::Escrowed
    );
    let anonymous = app
        .raw()
        .get(format!("{}/api/v1/trades/{id}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
});

app_test!(racing_takers_never_overdraw_the_seller, |app| {
    // Enough for exactly two trades of 0.5 XMR plus the maker's 1% fee.
    let m = market(app, "1.01").await;
    let mut buyers = Vec::new();
    for i in 0..8 {
        buyers.push(app.user(&format!("taker{i}")).await.0);
    }
    let offer = m.offer;
    let tasks: Vec<_> = buyers
        .into_iter()
        .map(|b| tokio::spawn(async move { open(&b, offer, "0.5").await }))
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let opened = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(opened, 2);
    for error in results.into_iter().filter_map(Result::err) {
        assert_eq!(code(&error), "INSUFFICIENT_FUNDS");
    }
    assert_eq!(
        balance(&m.seller).await,
        (Piconero::ZERO, xmr("1.01"), Piconero::ZERO)
    );
    let _ = m.seller_id;
    app.state.market.ledger.check_invariants().await.unwrap();
});

app_test!(retried_requests_do_nothing_twice, |app| {
    let m = market(app, "2").await;
    let request = OpenTradeRequest {
        offer_id: m.offer,
        amount: "1".parse().unwrap(),
        price: "150".parse().unwrap(),
    };
    let first = m.buyer.open_trade(&request, Some("open-1")).await.unwrap();
    let again = m.buyer.open_trade(&request, Some("open-1")).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(balance(&m.seller).await.1, xmr("1.01"), "escrowed once");
    let other = OpenTradeRequest {
        offer_id: m.offer,
        amount: "0.5".parse().unwrap(),
        price: "150".parse().unwrap(),
    };
    let error = m
        .buyer
        .open_trade(&other, Some("open-1"))
        .await
        .unwrap_err();
    assert_eq!(code(&error), "IDEMPOTENCY_KEY_REUSED");
    let error = m.buyer.open_trade(&request, Some("")).await.unwrap_err();
    assert_eq!(code(&error), "VALIDATION");

    // Concurrent retries of one key: one trade.
    let request = OpenTradeRequest {
        offer_id: m.offer,
        amount: "0.2".parse().unwrap(),
        price: "150".parse().unwrap(),
    };
    let (a, b) = tokio::join!(
        m.buyer.open_trade(&request, Some("open-2")),
        m.buyer.open_trade(&request, Some("open-2"))
    );
    assert_eq!(a.unwrap().id, b.unwrap().id);
    assert_eq!(
        m.buyer.trades(None, None, None).await.unwrap().items.len(),
        2
    );

    // Steps: a retry with the key answers again; without a key the second is refused.
    m.buyer
        .mark_trade_paid(first.id, Some("paid-1"))
        .await
        .unwrap();
    let replay = m
        .buyer
        .mark_trade_paid(first.id, Some("paid-1"))
        .await
        .unwrap();
    assert_eq!(replay.state, pupero_sdk::TradeState::Paid);
    let error = m.buyer.mark_trade_paid(first.id, None).await.unwrap_err();
    assert_eq!(code(&error), "INVALID_TRANSITION");
    let error = m
        .buyer
        .cancel_trade(first.id, Some("paid-1"))
        .await
        .unwrap_err();
    assert_eq!(code(&error), "IDEMPOTENCY_KEY_REUSED");
    m.seller
        .release_trade(first.id, None, Some("rel"))
        .await
        .unwrap();
    m.seller
        .release_trade(first.id, None, Some("rel"))
        .await
        .unwrap();
    assert_eq!(balance(&m.buyer).await.0, xmr("1"), "released once");
    app.state.market.ledger.check_invariants().await.unwrap();
});

app_test!(offers_and_accounts_limit_what_can_be_opened, |app| {
    let m = market(app, "5").await;
    let error = open(&m.seller, m.offer, "1").await.unwrap_err();
    assert_eq!(code(&error), "SELF_TRADE");
    // Outside the offer's limits (amounts the types hold, the rules refuse).
    for amount in ["0.05", "3", "0"] {
        let error = open(&m.buyer, m.offer, amount).await.unwrap_err();
        assert_eq!(code(&error), "VALIDATION", "amount {amount}");
    }
    // Not amounts at all: refused by the schema, sent by hand.
    let access = m.buyer.refresh().await.unwrap().access_token;
    for amount in [
        serde_json::json!("-1"),
        serde_json::json!("abc"),
        serde_json::json!(1.5),
    ] {
        let response = app
            .raw()
            .post(format!("{}/api/v1/trades", app.base_url))
            .bearer_auth(&access)
            .json(&serde_json::json!({"offer_id": m.offer, "amount": amount, "price": "100"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "amount {amount}");
    }
    let error = open(&m.buyer, Uuid::new_v4(), "1").await.unwrap_err();
    assert_eq!(code(&error), "NOT_FOUND");

    // A new account has at most two open trades.
    open(&m.buyer, m.offer, "0.5").await.unwrap();
    let second = open(&m.buyer, m.offer, "0.5").await.unwrap();
    let error = open(&m.buyer, m.offer, "0.5").await.unwrap_err();
    assert_eq!(code(&error), "TRADE_LIMIT");
    m.buyer.cancel_trade(second.id, None).await.unwrap();
    open(&m.buyer, m.offer, "0.5").await.unwrap();

    m.seller.pause_offer(m.offer).await.unwrap();
    let (other, _) = app.user("other").await;
    let error = open(&other, m.offer, "0.5").await.unwrap_err();
    assert_eq!(code(&error), "OFFER_UNAVAILABLE");
    m.seller.delete_offer(m.offer).await.unwrap();
    let error = open(&other, m.offer, "0.5").await.unwrap_err();
    assert_eq!(code(&error), "NOT_FOUND");
});

app_test_with!(
    the_dev_faucet_is_closed_in_production,
    |settings| settings.market.mode = pupero_server::config::Mode::Production,
    |app, _clock| {
        let (_, id) = app.user("someone").await;
        let error = pupero_market::operator::credit_dev(&app.state.market, "someone", "1")
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            pupero_market::operator::CreditError::Production
        ));
        let account = app
            .state
            .market
            .ledger
            .account(pupero_core::AccountId::user_xmr(
                pupero_core::UserId::from_uuid(id),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.balances().credits_posted, Piconero::ZERO);
    }
);

app_test!(nobody_trades_with_a_disabled_or_deleted_maker, |app| {
    let m = market(app, "2").await;
    let (admin, _) = app.user_with_role("admin", Role::Admin).await;
    admin.admin_disable_user(m.seller_id).await.unwrap();
    let error = open(&m.buyer, m.offer, "1").await.unwrap_err();
    assert_eq!(code(&error), "OFFER_UNAVAILABLE");
    let search = pupero_sdk::OfferSearch::default();
    assert!(
        app.new_client()
            .search_offers(&search)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    admin.admin_enable_user(m.seller_id).await.unwrap();
    assert_eq!(
        app.new_client()
            .search_offers(&search)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // A deleted account's offers go with it.
    let (maker, _) = app.user("maker").await;
    let offer = maker.create_offer(&offer("buy", "0.1", "1")).await.unwrap();
    maker
        .delete_account(crate::support::PASSWORD, None)
        .await
        .unwrap();
    let error = open(&m.buyer, offer.id, "0.5").await.unwrap_err();
    assert_eq!(code(&error), "NOT_FOUND");
});

// The market lists exactly what can be taken, the maker's 1% fee included: a seller with
// 1.288 XMR is listed up to 1.275247524753 (plus its fee, rounded down to 0.012752475247: 1.288
// exactly), and one piconero more is refused.
app_test!(the_market_lists_exactly_what_can_be_taken, |app| {
    let (seller, seller_id) = app.user("seller").await;
    let (buyer, _) = app.user("buyer").await;
    app.fund(seller_id, "1.288").await;
    let id = seller
        .create_offer(&offer("sell", "0.1", "2"))
        .await
        .unwrap()
        .id;
    let search = pupero_sdk::OfferSearch {
        side: Some(pupero_sdk::Side::Sell),
        ..Default::default()
    };
    let listed = buyer.search_offers(&search).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    let max = listed[0].max_amount;
    assert_eq!(
        max,
        "1.275247524753".parse::<pupero_sdk::Piconero>().unwrap()
    );
    assert_eq!(
        buyer.offer(id).await.unwrap().max_amount,
        max,
        "the offer's page too"
    );
    let one_more = max.checked_add(Piconero::new(1)).unwrap();
    let e = open(&buyer, id, &one_more.to_xmr_string())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "INSUFFICIENT_FUNDS");
    let trade = open(&buyer, id, &max.to_xmr_string()).await.unwrap();
    assert_eq!(
        trade.escrowed,
        "1.288".parse::<pupero_sdk::Piconero>().unwrap()
    );
});

// The statement reads as one: each hold and its outcome on one line with a status, every line
// naming its trade.
app_test!(the_statement_names_each_trade_and_folds_holds, |app| {
    let m = market(app, "2").await;
    let released = open(&m.buyer, m.offer, "1").await.unwrap().id;
    m.buyer.mark_trade_paid(released, None).await.unwrap();
    m.seller.release_trade(released, None, None).await.unwrap();
    let cancelled = open(&m.buyer, m.offer, "0.5").await.unwrap().id;
    let held = open(&m.buyer, m.offer, "0.2").await.unwrap().id;
    m.buyer.cancel_trade(cancelled, None).await.unwrap();

    let lines = m.seller.ledger_history_all().await.unwrap();
    let line = |trade: Uuid, code: &str| {
        lines
            .iter()
            .find(|l| l.trade_id == Some(trade) && l.code.as_str() == code)
            .unwrap_or_else(|| panic!("{code} of {trade}: {lines:#?}"))
    };
    // Oldest is the funding; then per trade its escrow and its fee hold, nothing else.
    assert_eq!(lines.len(), 1 + 3 * 2, "{lines:#?}");
    let escrow = line(released, "trade_escrow");
    assert_eq!(
        (
            escrow.direction.as_str(),
            escrow.status.as_str(),
            escrow.cause.as_str()
        ),
        ("debit", "completed", "trade")
    );
    assert_eq!(escrow.amount, xmr("1"));
    assert_eq!(
        escrow.outcome_code.map(|v| v.to_string()).as_deref(),
        Some("trade_release")
    );
    assert!(escrow.settled_at_ms.is_some());
    let fee = line(released, "trade_fee");
    assert_eq!(
        (fee.amount, fee.status.as_str()),
        (xmr("0.01"), "completed")
    );
    let refunded = line(cancelled, "trade_escrow");
    assert_eq!(refunded.status, pupero_sdk::EntryStatus::Returned);
    assert_eq!(refunded.amount, Piconero::ZERO);
    assert_eq!(refunded.held, Some(xmr("0.5")));
    assert_eq!(
        refunded.outcome_code.map(|v| v.to_string()).as_deref(),
        Some("trade_refund")
    );
    let waiting = line(held, "trade_escrow");
    assert_eq!(
        (waiting.status.as_str(), waiting.amount),
        ("held", xmr("0.2"))
    );
    assert_eq!(waiting.settled_at_ms, None);

    let bought = m.buyer.ledger_history_all().await.unwrap();
    let incoming: Vec<_> = bought
        .iter()
        .map(|l| (l.trade_id, l.direction.as_str(), l.status.as_str()))
        .collect();
    assert!(
        incoming.contains(&(Some(released), "credit", "completed")),
        "{incoming:?}"
    );
    assert!(
        incoming.contains(&(Some(held), "credit", "held")),
        "{incoming:?}"
    );
});

/// Every `null` inside `value`, by its JSON path.
fn nulls(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Null => found.push(path.to_owned()),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nulls(item, &format!("{path}[{i}]"), found);
            }
        }
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                nulls(field, &format!("{path}.{name}"), found);
            }
        }
        _ => {}
    }
}

app_test!(absent_optional_fields_are_left_out_never_null, |app| {
    // An escrowed trade has no payment time, no dispute and no resolution; a first page of
    // trades has no next cursor; a user without e-mail has none: the spec says such a field is
    // a value or missing, so it is missing.
    let m = market(app, "2").await;
    let trade = open(&m.buyer, m.offer, "1").await.unwrap();
    let access = m.buyer.refresh().await.unwrap().access_token;
    for path in [
        format!("/api/v1/trades/{}", trade.id),
        "/api/v1/trades".to_owned(),
        "/api/v1/me".to_owned(),
        "/api/v1/offers".to_owned(),
        "/api/v1/events".to_owned(),
        "/api/v1/ledger/history".to_owned(),
    ] {
        let response = app
            .raw()
            .get(format!("{}{path}", app.base_url))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        let mut found = Vec::new();
        nulls(&body, "", &mut found);
        assert!(found.is_empty(), "{path}: null at {found:?} in {body}");
    }
});

app_test!(each_step_answers_with_the_trade_as_committed, |app| {
    let m = market(app, "4").await;
    // Released: open, paid, release.
    let opened = open(&m.buyer, m.offer, "1").await.unwrap();
    assert_eq!(opened, m.buyer.trade(opened.id).await.unwrap());
    assert_eq!(opened.buyer.username, "buyer");
    let paid = m.buyer.mark_trade_paid(opened.id, None).await.unwrap();
    assert_eq!(paid, m.buyer.trade(opened.id).await.unwrap());
    let released = m.seller.release_trade(opened.id, None, None).await.unwrap();
    assert_eq!(released, m.seller.trade(opened.id).await.unwrap());
    assert_eq!(released.version, 2);
    // Disputed: the answer carries the reason just written.
    let opened = open(&m.buyer, m.offer, "1").await.unwrap();
    m.buyer.mark_trade_paid(opened.id, None).await.unwrap();
    let disputed = m
        .buyer
        .dispute_trade(opened.id, "paid, not released", None)
        .await
        .unwrap();
    assert_eq!(disputed, m.buyer.trade(opened.id).await.unwrap());
    assert_eq!(
        disputed.dispute_reason.as_deref(),
        Some("paid, not released")
    );
});

/// A second server on `app`'s database: another process, with its own memory.
async fn other_process(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut settings =
        pupero_server::Settings::for_database(app.state.settings.market.database_url.clone());
    settings.market.rate_limits = crate::support::generous_limits();
    let state = pupero_server::AppState::open(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound) = tokio::sync::oneshot::channel();
    tokio::spawn(pupero_server::serve(
        state,
        async move {
            let _ = stopped.await;
        },
        move |address| {
            let _ = bound_tx.send(address);
        },
    ));
    (format!("http://{}", bound.await.unwrap()), stop)
}

// A process starts a step from the trade as it last wrote it. When another process moved the
// trade meanwhile, the step is decided again on the database's trade: a step the old state
// refused is taken, a step it allowed is refused, and no money moves twice.
app_test!(
    a_step_on_a_trade_another_process_moved_is_decided_on_the_database,
    |app| {
        let m = market(app, "10").await;
        let (url, stop) = other_process(app).await;
        let elsewhere = |username: &'static str| {
            let url = url.clone();
            async move {
                let client = Client::new(url).unwrap();
                client
                    .login(username, crate::support::PASSWORD)
                    .await
                    .unwrap();
                client
            }
        };
        let (seller_there, buyer_there) = (elsewhere("seller").await, elsewhere("buyer").await);
        let before = balance(&m.seller).await;

        // Opened here; paid there; released here, where the trade was last seen escrowed.
        let trade = open(&m.buyer, m.offer, "1").await.unwrap();
        buyer_there.mark_trade_paid(trade.id, None).await.unwrap();
        let released = m.seller.release_trade(trade.id, None, None).await.unwrap();
        assert_eq!(released.state, pupero_sdk::TradeState::Released);

        // Opened and paid here; released there; paid again here: refused, not applied.
        let trade = open(&m.buyer, m.offer, "1").await.unwrap();
        m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
        seller_there
            .release_trade(trade.id, None, None)
            .await
            .unwrap();
        let refused = m.buyer.mark_trade_paid(trade.id, None).await.unwrap_err();
        assert_eq!(code(&refused), "INVALID_TRANSITION", "{refused:?}");

        // Opened here; cancelled there; paid here, where it was last seen escrowed: the step
        // allowed on that state loses its compare-and-set and is refused on the cancelled trade.
        let trade = open(&m.buyer, m.offer, "0.5").await.unwrap();
        buyer_there.cancel_trade(trade.id, None).await.unwrap();
        let refused = m.buyer.mark_trade_paid(trade.id, None).await.unwrap_err();
        assert_eq!(code(&refused), "INVALID_TRANSITION", "{refused:?}");
        assert_eq!(
            m.buyer.trade(trade.id).await.unwrap().state,
            pupero_sdk::TradeState::Cancelled
        );

        // Two trades of 1 XMR sold, with the maker's fee; the cancelled one held nothing.
        let (available, held, _) = balance(&m.seller).await;
        assert_eq!(held, Piconero::ZERO);
        let sold = xmr("2").checked_add(xmr("0.02")).unwrap();
        assert_eq!(available, before.0.checked_sub(sold).unwrap());
        app.state.market.ledger.check_invariants().await.unwrap();
        let _ = stop.send(());
    }
);

// A process opens a trade on the offer as it last read it, and lets a step needing the second
// factor through without reading whether the actor has 2FA: both are checked by the write.
// When the offer changed in another process, or 2FA was turned on, the write fails and the
// request is decided again on the database's state.
app_test!(
    an_offer_or_a_second_factor_changed_by_another_process_is_decided_on_the_database,
    |app, clock| {
        let m = market(app, "10").await;
        let (url, stop) = other_process(app).await;
        let seller_there = Client::new(url).unwrap();
        seller_there
            .login("seller", crate::support::PASSWORD)
            .await
            .unwrap();

        // Opened here: this process remembers the offer at 150.
        let trade = open(&m.buyer, m.offer, "1").await.unwrap();
        m.buyer.cancel_trade(trade.id, None).await.unwrap();
        // There, the price goes up and the maximum down.
        let mut changed = offer("sell", "0.1", "1");
        changed.price = Some("160".parse().unwrap());
        seller_there.update_offer(m.offer, &changed).await.unwrap();
        let at = |price: &str, amount: &str| OpenTradeRequest {
            offer_id: m.offer,
            amount: amount.parse().unwrap(),
            price: price.parse().unwrap(),
        };
        // Here, at the price this process remembers: refused on the database's offer.
        let refused = m.buyer.open_trade(&at("150", "1"), None).await.unwrap_err();
        assert_eq!(code(&refused), "PRICE_CHANGED", "{refused:?}");
        let refused = m
            .buyer
            .open_trade(&at("170", "1.5"), None)
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "VALIDATION", "{refused:?}");
        let opened = m.buyer.open_trade(&at("170", "1"), None).await.unwrap();
        assert_eq!(opened.price, "160".parse::<pupero_sdk::Price>().unwrap());
        // Paused there: this process's memory of it never lets a trade open.
        seller_there.pause_offer(m.offer).await.unwrap();
        let refused = m.buyer.open_trade(&at("170", "1"), None).await.unwrap_err();
        assert_eq!(code(&refused), "OFFER_UNAVAILABLE", "{refused:?}");

        // Paid; the seller turns 2FA on; a release asked without a code, written on the
        // condition that the seller has no 2FA, is refused, and the code releases it.
        m.buyer.mark_trade_paid(opened.id, None).await.unwrap();
        let (setup, _) = crate::totp::enable(&m.seller, clock).await;
        let refused = m
            .seller
            .release_trade(opened.id, None, None)
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "TOTP_REQUIRED", "{refused:?}");
        assert_eq!(
            m.seller.trade(opened.id).await.unwrap().state,
            pupero_sdk::TradeState::Paid
        );
        // The next step's code: the one that confirmed the setup is spent.
        clock.advance_secs(30);
        let now = crate::totp::code_now(&setup.secret, clock);
        let released = m
            .seller
            .release_trade(opened.id, Some(pupero_sdk::SecondFactor::Code(&now)), None)
            .await
            .unwrap();
        assert_eq!(released.state, pupero_sdk::TradeState::Released);
        app.state.market.ledger.check_invariants().await.unwrap();
        let _ = stop.send(());
    }
);
