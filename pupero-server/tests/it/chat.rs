//! A trade's chat, feedback after a trade, and the numbers of a public profile, through the SDK.

use pupero_core::limits::{CHAT_GRACE_SECS, MAX_CHAT_MESSAGE_CHARS, MAX_FEEDBACK_COMMENT_CHARS};
use pupero_core::{Piconero, Role};
use pupero_sdk::{Client, OpenTradeRequest, Rating, Resolution, TradeView};
use uuid::Uuid;

use crate::support::{TestApp, app_test, app_test_with, sell_offer};

/// A funded seller with a sell offer, and a buyer.
struct Market {
    seller: Client,
    seller_id: Uuid,
    buyer: Client,
    buyer_id: Uuid,
    offer: Uuid,
}

async fn market(app: &TestApp) -> Market {
    let (seller, seller_id) = app.user("seller").await;
    let (buyer, buyer_id) = app.user("buyer").await;
    app.fund(seller_id, "10").await;
    let offer = seller.create_offer(&sell_offer()).await.unwrap().id;
    Market {
        seller,
        seller_id,
        buyer,
        buyer_id,
        offer,
    }
}

impl Market {
    async fn open(&self, amount: &str) -> TradeView {
        self.buyer
            .open_trade(
                &OpenTradeRequest {
                    offer_id: self.offer,
                    amount: amount.parse().unwrap(),
                    price: "150".parse().unwrap(),
                },
                None,
            )
            .await
            .unwrap()
    }

    /// A trade of `amount`, paid and released.
    async fn completed(&self, amount: &str) -> TradeView {
        let trade = self.open(amount).await;
        self.buyer.mark_trade_paid(trade.id, None).await.unwrap();
        self.seller
            .release_trade(trade.id, None, None)
            .await
            .unwrap()
    }
}

fn code(error: &pupero_sdk::Error) -> &str {
    error.code().unwrap_or("<no code>")
}

/// The `chat_message` events of `user`, as `(trade id, message id, sender)`.
async fn chat_events(app: &TestApp, user: Uuid) -> Vec<(String, String, String)> {
    app.user_events(user)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "chat_message")
        .map(|(_, p)| {
            let field = |name: &str| p[name].as_str().unwrap_or_default().to_owned();
            (field("trade_id"), field("message_id"), field("sender"))
        })
        .collect()
}

app_test!(parties_chat_both_ways_in_pages, |app| {
    let m = market(app).await;
    let trade = m.open("0.5").await;
    let texts = [
        (&m.buyer, "  hello, paying now  "),
        (&m.seller, "ok"),
        (&m.seller, "use the trade id as reference"),
        (&m.buyer, "sent\nref: 1234"),
        (&m.buyer, "done"),
    ];
    let mut posted = Vec::new();
    for (client, text) in texts {
        posted.push(client.post_trade_message(trade.id, text).await.unwrap());
    }
    assert_eq!(posted[0].body, "hello, paying now", "trimmed");
    assert_eq!(posted[0].sender, "buyer");
    assert_eq!(posted[0].sender_role, pupero_sdk::SenderRole::Buyer);
    assert_eq!(posted[1].sender_role, pupero_sdk::SenderRole::Seller);
    assert_eq!(posted[0].trade_id, trade.id);

    for reader in [&m.seller, &m.buyer] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = reader
                .trade_messages(trade.id, Some(2), cursor.as_deref())
                .await
                .unwrap();
            assert!(page.items.len() <= 2);
            pages += 1;
            seen.extend(page.items.into_iter().map(|m| (m.id, m.body, m.sender)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let expected: Vec<_> = posted
            .iter()
            .map(|m| (m.id, m.body.clone(), m.sender.clone()))
            .collect();
        assert_eq!(seen, expected, "oldest first, every message once");
    }
    let all = m.seller.trade_messages(trade.id, None, None).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(all.next_cursor.is_none());

    for limit in [0, 101] {
        let error = m
            .buyer
            .trade_messages(trade.id, Some(limit), None)
            .await
            .unwrap_err();
        assert!(error.is_validation(), "limit {limit}: {error:?}");
    }
    let error = m
        .buyer
        .trade_messages(trade.id, None, Some("nope"))
        .await
        .unwrap_err();
    assert!(error.is_validation());

    // Each message is an event for the other party, none for its sender.
    let seller_events = chat_events(app, m.seller_id).await;
    let buyer_events = chat_events(app, m.buyer_id).await;
    let ids = |sender: &str| -> Vec<(String, String, String)> {
        posted
            .iter()
            .filter(|p| p.sender == sender)
            .map(|p| (trade.id.to_string(), p.id.to_string(), sender.to_owned()))
            .collect()
    };
    assert_eq!(seller_events, ids("buyer"));
    assert_eq!(buyer_events, ids("seller"));
});

app_test!(
    strangers_and_moderators_see_the_chat_only_as_allowed,
    |app| {
        let m = market(app).await;
        let (stranger, _) = app.user("stranger").await;
        let (moderator, moderator_id) = app.user_with_role("moderator", Role::Moderator).await;
        let trade = m.open("0.5").await;
        m.buyer.post_trade_message(trade.id, "hi").await.unwrap();

        for outsider in [&stranger, &moderator] {
            let error = outsider
                .trade_messages(trade.id, None, None)
                .await
                .unwrap_err();
            assert!(error.is_not_found(), "{error:?}");
            let error = outsider
                .post_trade_message(trade.id, "let me in")
                .await
                .unwrap_err();
            assert!(error.is_not_found(), "{error:?}");
        }
        let error = m
            .buyer
            .post_trade_message(Uuid::new_v4(), "anyone?")
            .await
            .unwrap_err();
        assert!(error.is_not_found());

        m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
        m.buyer
            .dispute_trade(trade.id, "no release", None)
            .await
            .unwrap();
        let page = moderator
            .trade_messages(trade.id, None, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let note = moderator
            .post_trade_message(trade.id, "Please both upload proof.")
            .await
            .unwrap();
        assert_eq!(note.sender_role, pupero_sdk::SenderRole::Moderator);
        assert_eq!(note.sender, "moderator");
        let error = stranger
            .trade_messages(trade.id, None, None)
            .await
            .unwrap_err();
        assert!(error.is_not_found(), "still hidden from strangers");

        // Both parties hear of the moderator's message; the moderator hears of replies once in.
        for party in [m.seller_id, m.buyer_id] {
            let events = chat_events(app, party).await;
            assert!(
                events.contains(&(
                    trade.id.to_string(),
                    note.id.to_string(),
                    "moderator".into()
                )),
                "{events:?}"
            );
        }
        let reply = m
            .seller
            .post_trade_message(trade.id, "attached")
            .await
            .unwrap();
        assert_eq!(
            chat_events(app, moderator_id).await,
            vec![(trade.id.to_string(), reply.id.to_string(), "seller".into())]
        );

        moderator
            .resolve_trade(
                trade.id,
                &Resolution::ToBuyer,
                "decided on the evidence",
                None,
                None,
            )
            .await
            .unwrap();
        moderator
            .post_trade_message(trade.id, "Resolved for the buyer.")
            .await
            .unwrap();
        let page = m.buyer.trade_messages(trade.id, None, None).await.unwrap();
        let senders: Vec<_> = page.items.iter().map(|m| m.sender_role.as_str()).collect();
        assert_eq!(senders, ["buyer", "moderator", "seller", "moderator"]);
    }
);

app_test!(the_chat_closes_after_the_grace_period, |app, clock| {
    let m = market(app).await;
    let trade = m.completed("0.5").await;
    m.buyer
        .post_trade_message(trade.id, "received, thanks")
        .await
        .unwrap();
    clock.advance_secs(CHAT_GRACE_SECS - 1);
    m.seller
        .post_trade_message(trade.id, "you're welcome")
        .await
        .unwrap();
    clock.advance_secs(1);
    let error = m
        .buyer
        .post_trade_message(trade.id, "one more thing")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert_eq!(code(&error), "CHAT_CLOSED");
    let page = m.buyer.trade_messages(trade.id, None, None).await.unwrap();
    assert_eq!(page.items.len(), 2, "the messages stay with the trade");

    // An open trade's chat never closes.
    let open = m.open("0.5").await;
    m.buyer.mark_trade_paid(open.id, None).await.unwrap();
    clock.advance_secs(2 * CHAT_GRACE_SECS);
    m.buyer
        .post_trade_message(open.id, "still there?")
        .await
        .unwrap();
});

app_test!(bad_messages_are_refused, |app| {
    let m = market(app).await;
    let trade = m.open("0.5").await;
    let longest = "ü".repeat(MAX_CHAT_MESSAGE_CHARS);
    let too_long = format!("{longest}!");
    for body in [
        "",
        "   \n\t ",
        &too_long,
        "beep\u{7}",
        "a\rb",
        "\u{1b}[31mred",
    ] {
        let error = m
            .buyer
            .post_trade_message(trade.id, body)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(400), "{body:?}");
        assert_eq!(code(&error), "VALIDATION", "{body:?}");
    }
    let posted = m
        .buyer
        .post_trade_message(trade.id, &longest)
        .await
        .unwrap();
    assert_eq!(posted.body, longest);
    let tabbed = m
        .buyer
        .post_trade_message(trade.id, "a\tb\nc")
        .await
        .unwrap();
    assert_eq!(tabbed.body, "a\tb\nc");
    let raw = app
        .raw()
        .post(format!(
            "{}/api/v1/trades/{}/messages",
            app.base_url, trade.id
        ))
        .bearer_auth(m.buyer.refresh().await.unwrap().access_token)
        .json(&serde_json::json!({"text": "the field is body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(
        m.seller
            .trade_messages(trade.id, None, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
});

app_test_with!(
    chat_posts_are_rate_limited,
    |settings: &mut pupero_server::Settings| {
        settings.market.rate_limits = crate::support::generous_limits();
        settings.market.rate_limits.chat_per_user =
            pupero_market::ratelimit::RateQuota::new(3, 3_600);
    },
    |app, _clock| {
        let m = market(app).await;
        let trade = m.open("0.5").await;
        for n in 0..3 {
            m.buyer
                .post_trade_message(trade.id, &format!("message {n}"))
                .await
                .unwrap();
        }
        let error = m
            .buyer
            .post_trade_message(trade.id, "flood")
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(429));
        assert_eq!(code(&error), "RATE_LIMITED");
        m.seller
            .post_trade_message(trade.id, "the limit is per user")
            .await
            .unwrap();
    }
);

app_test!(
    feedback_is_left_once_by_each_party_after_completion,
    |app| {
        let m = market(app).await;
        let (stranger, _) = app.user("stranger").await;
        let (moderator, _) = app.user_with_role("moderator", Role::Moderator).await;
        let trade = m.open("0.5").await;
        let error = m
            .buyer
            .leave_feedback(trade.id, Rating::Positive, "")
            .await
            .unwrap_err();
        assert_eq!(code(&error), "FEEDBACK_NOT_ALLOWED");
        assert_eq!(error.status(), Some(409));
        m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
        let error = m
            .seller
            .leave_feedback(trade.id, Rating::Positive, "")
            .await
            .unwrap_err();
        assert_eq!(
            code(&error),
            "FEEDBACK_NOT_ALLOWED",
            "paid is not completed"
        );
        m.seller.release_trade(trade.id, None, None).await.unwrap();

        for outsider in [&stranger, &moderator] {
            let error = outsider
                .leave_feedback(trade.id, Rating::Negative, "")
                .await
                .unwrap_err();
            assert!(error.is_not_found(), "{error:?}");
        }
        let too_long = "x".repeat(MAX_FEEDBACK_COMMENT_CHARS + 1);
        let error = m
            .buyer
            .leave_feedback(trade.id, Rating::Positive, &too_long)
            .await
            .unwrap_err();
        assert!(error.is_validation());
        let raw = app
            .raw()
            .post(format!(
                "{}/api/v1/trades/{}/feedback",
                app.base_url, trade.id
            ))
            .bearer_auth(m.buyer.refresh().await.unwrap().access_token)
            .json(&serde_json::json!({"rating": "excellent"}))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), 400);

        let left = m
            .buyer
            .leave_feedback(trade.id, Rating::Positive, "  fast release  ")
            .await
            .unwrap();
        assert_eq!(left.subject, "seller");
        assert_eq!(left.rating, pupero_sdk::Rating::Positive);
        assert_eq!(left.comment, "fast release");
        let error = m
            .buyer
            .leave_feedback(trade.id, Rating::Negative, "changed my mind")
            .await
            .unwrap_err();
        assert_eq!(code(&error), "FEEDBACK_EXISTS");
        assert_eq!(error.status(), Some(409));
        m.seller
            .leave_feedback(trade.id, Rating::Neutral, "")
            .await
            .unwrap();

        // Two submissions at once: exactly one is stored.
        let second = m.completed("0.5").await;
        let (a, b) = tokio::join!(
            m.buyer.leave_feedback(second.id, Rating::Positive, "one"),
            m.buyer.leave_feedback(second.id, Rating::Negative, "two"),
        );
        let results = [a, b];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        let error = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(code(error), "FEEDBACK_EXISTS");

        // The seller heard of both; the public list is newest first, without amounts.
        let received: Vec<_> = app
            .user_events(m.seller_id)
            .await
            .into_iter()
            .filter(|(kind, _)| kind == "feedback_received")
            .map(|(_, p)| p["trade_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(received, [trade.id.to_string(), second.id.to_string()]);
        let anonymous = app.new_client();
        let page = anonymous
            .user_feedback("seller", Some(1), None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].author, "buyer");
        assert_eq!(
            page.items[0].comment,
            results.iter().flatten().next().unwrap().comment
        );
        let next = page.next_cursor.expect("a second page");
        let page = anonymous
            .user_feedback("SELLER", Some(1), Some(&next))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].comment, "fast release");
        assert_eq!(page.items[0].rating, pupero_sdk::Rating::Positive);
        assert!(page.items[0].trade_closed_at_ms.is_some());
        let last = anonymous
            .user_feedback("seller", Some(1), page.next_cursor.as_deref())
            .await
            .unwrap();
        assert!(last.items.is_empty() && last.next_cursor.is_none());
        let buyer_page = anonymous.user_feedback("buyer", None, None).await.unwrap();
        assert_eq!(buyer_page.items.len(), 1);
        assert_eq!(buyer_page.items[0].author, "seller");
        assert_eq!(buyer_page.items[0].rating, pupero_sdk::Rating::Neutral);
        assert!(
            anonymous
                .user_feedback("nobody", None, None)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
);

app_test!(profiles_count_completed_trades_only, |app, clock| {
    let m = market(app).await;
    let anonymous = app.new_client();
    let fresh = anonymous.public_profile("seller").await.unwrap().stats;
    assert_eq!(fresh.completed_trades, 0);
    assert_eq!(fresh.volume, Piconero::ZERO);
    assert_eq!(fresh.score_percent, None);
    assert_eq!(fresh.median_release_secs, None);

    // Three releases after 60 s, 300 s and 120 s: median 120 s.
    let mut trades = Vec::new();
    for (amount, wait_secs) in [("0.123456789012", 60), ("1.5", 300), ("0.1", 120)] {
        let trade = m.open(amount).await;
        m.buyer.mark_trade_paid(trade.id, None).await.unwrap();
        clock.advance_secs(wait_secs);
        m.seller.release_trade(trade.id, None, None).await.unwrap();
        trades.push(trade.id);
    }
    // A resolved trade counts, but a moderator's decision is no release time.
    let (moderator, _) = app.user_with_role("moderator", Role::Moderator).await;
    let disputed = m.open("0.25").await;
    m.buyer.mark_trade_paid(disputed.id, None).await.unwrap();
    m.buyer
        .dispute_trade(disputed.id, "slow", None)
        .await
        .unwrap();
    clock.advance_secs(10_000);
    moderator
        .resolve_trade(
            disputed.id,
            &Resolution::ToSeller,
            "decided on the evidence",
            None,
            None,
        )
        .await
        .unwrap();
    trades.push(disputed.id);
    // Cancelled and open trades do not count.
    let cancelled = m.open("1").await;
    m.buyer.cancel_trade(cancelled.id, None).await.unwrap();
    m.open("0.7").await;

    for (trade, rating) in trades.iter().zip([
        Rating::Positive,
        Rating::Negative,
        Rating::Positive,
        Rating::Neutral,
    ]) {
        m.buyer.leave_feedback(*trade, rating, "").await.unwrap();
    }

    let volume = Piconero::from_xmr_str("1.973456789012").unwrap();
    let seller = anonymous.public_profile("seller").await.unwrap().stats;
    assert_eq!(seller.completed_trades, 4);
    assert_eq!(seller.volume, volume, "to the piconero");
    assert_eq!(
        (
            seller.feedback.positive,
            seller.feedback.neutral,
            seller.feedback.negative
        ),
        (2, 1, 1)
    );
    assert_eq!(seller.score_percent, Some(66));
    assert_eq!(seller.median_release_secs, Some(120));

    let buyer = anonymous.public_profile("buyer").await.unwrap().stats;
    assert_eq!(buyer.completed_trades, 4);
    assert_eq!(buyer.volume, volume);
    assert_eq!(buyer.score_percent, None);
    assert_eq!(buyer.median_release_secs, None, "the buyer never released");
    let raw = app
        .raw()
        .get(format!("{}/api/v1/users/seller", app.base_url))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(
        json["stats"]["volume"], "1.973456789012",
        "a decimal string"
    );
});
