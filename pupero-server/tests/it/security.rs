//! The holes an outside review found, each closed as a class: a step's second factor decided on
//! the state it is applied to, step-ups counted in one lockout per account, API keys as
//! sensitive as passwords and ended with the owner's reaction, moderators' second factor and
//! notes, forwarded addresses, atomic limits, strict JSON strings, price guards, e-mail
//! changes and enumeration, staff powers of keys, and the headers of every response.

use pupero_core::Role;
use pupero_sdk::{Client, OfferRequest, OpenTradeRequest, Resolution, SecondFactor};
use uuid::Uuid;

use crate::support::{PASSWORD, TestApp, app_test, app_test_with};
use crate::totp::{code_now, enable, wrong_code};

/// Rounds of the release race: each opens a trade and races releases without a code against
/// the buyer's "paid".
const RACE_ROUNDS: usize = 200;

/// Releases without a code sent in each round.
const RACE_RELEASES: usize = 6;

fn offer(side: &str, price: &str) -> OfferRequest {
    OfferRequest {
        side: side.parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some("IBAN DE00 1234".into()),
        price: Some(price.parse().unwrap()),
        margin_percent: None,
        min_amount: "0.001".parse().unwrap(),
        max_amount: "5".parse().unwrap(),
        payment_window_minutes: 30,
        terms: Some("Reference: the trade id".into()),
        visibility: "public".parse().unwrap(),
    }
}

async fn open(
    client: &Client,
    offer: Uuid,
    amount: &str,
    price: &str,
) -> Result<pupero_sdk::TradeView, pupero_sdk::Error> {
    let request = OpenTradeRequest {
        offer_id: offer,
        amount: amount.parse().unwrap(),
        price: price.parse().unwrap(),
    };
    client.open_trade(&request, None).await
}

fn code(result: &pupero_sdk::Error) -> String {
    result.code().unwrap_or("<none>").to_owned()
}

async fn audit_events(app: &TestApp, user: Uuid) -> Vec<(String, Option<String>, String)> {
    app.state
        .market
        .store
        .audit_page(Some(pupero_core::UserId::from_uuid(user)), None, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.event, row.client_ip, row.detail))
        .collect()
}

/// A seller with 2FA on, funds and a sell offer at 150 EUR, and a buyer.
struct Market {
    seller: Client,
    secret: String,
    buyer: Client,
    offer: Uuid,
}

async fn market(app: &TestApp, clock: &pupero_core::ManualClock) -> Market {
    let (seller, seller_id) = app.user("seller").await;
    let (buyer, _) = app.user("buyer").await;
    let (setup, _) = enable(&seller, clock).await;
    app.fund(seller_id, "100").await;
    let offer = seller.create_offer(&offer("sell", "150")).await.unwrap().id;
    Market {
        seller,
        secret: setup.secret,
        buyer,
        offer,
    }
}

// 1. The second factor of a release is decided on the state the release is applied to.
app_test!(
    a_release_without_the_code_never_wins_a_race_with_paid,
    |app, clock| {
        let m = market(app, clock).await;
        for round in 0..RACE_ROUNDS {
            let trade = open(&m.buyer, m.offer, "0.01", "150").await.unwrap().id;
            let release = || {
                let seller = m.seller.clone();
                tokio::spawn(async move { seller.release_trade(trade, None, None).await })
            };
            let early: Vec<_> = (0..RACE_RELEASES / 2).map(|_| release()).collect();
            let paid = {
                let buyer = m.buyer.clone();
                tokio::spawn(async move { buyer.mark_trade_paid(trade, None).await })
            };
            let late: Vec<_> = (0..RACE_RELEASES / 2).map(|_| release()).collect();
            assert_eq!(
                paid.await.unwrap().unwrap().state,
                pupero_sdk::TradeState::Paid
            );
            for attempt in early.into_iter().chain(late) {
                match attempt.await.unwrap() {
                    Ok(view) => panic!("round {round}: released without the code: {view:?}"),
                    Err(e) => assert!(
                        matches!(code(&e).as_str(), "INVALID_TRANSITION" | "TOTP_REQUIRED"),
                        "round {round}: {e:?}"
                    ),
                }
            }
            assert_eq!(
                m.seller.trade(trade).await.unwrap().state,
                pupero_sdk::TradeState::Paid
            );
            clock.advance_secs(30);
            let code_now = code_now(&m.secret, clock);
            let released = m
                .seller
                .release_trade(trade, Some(SecondFactor::Code(&code_now)), None)
                .await
                .unwrap();
            assert_eq!(released.state, pupero_sdk::TradeState::Released);
        }
        app.state.market.ledger.check_invariants().await.unwrap();
    }
);

// 1. (wrong codes) Codes tried at a release count towards the second factor's lockout.
app_test!(
    wrong_codes_at_a_release_lock_the_second_factor,
    |app, clock| {
        let m = market(app, clock).await;
        let trade = open(&m.buyer, m.offer, "0.01", "150").await.unwrap().id;
        m.buyer.mark_trade_paid(trade, None).await.unwrap();
        let wrong = wrong_code(&m.secret, clock);
        for _ in 0..5 {
            let e = m
                .seller
                .release_trade(trade, Some(SecondFactor::Code(&wrong)), None)
                .await
                .unwrap_err();
            assert_eq!(code(&e), "INVALID_TOTP");
        }
        clock.advance_secs(30);
        let right = code_now(&m.secret, clock);
        let e = m
            .seller
            .release_trade(trade, Some(SecondFactor::Code(&right)), None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "RATE_LIMITED", "locked, even for the right code");
        assert_eq!(
            m.seller.trade(trade).await.unwrap().state,
            pupero_sdk::TradeState::Paid
        );
        let seller_id = m.seller.me().await.unwrap().id;
        let failures = audit_events(app, seller_id)
            .await
            .iter()
            .filter(|(event, _, _)| event == "second_factor_failed")
            .count();
        assert_eq!(failures, 5);
    }
);

// 2. Wrong passwords at any step-up count towards the login's lockout of the account.
app_test!(wrong_passwords_anywhere_lock_the_account, |app| {
    let (client, user) = app.user("victim").await;
    let wrong = "not the password at all";
    let expect_wrong = |e: pupero_sdk::Error| {
        assert_eq!(
            (e.status(), code(&e).as_str()),
            (Some(403), "INVALID_CREDENTIALS")
        );
    };
    expect_wrong(
        client
            .change_password(wrong, "a brand new password")
            .await
            .unwrap_err(),
    );
    expect_wrong(
        client
            .change_password(wrong, "a brand new password")
            .await
            .unwrap_err(),
    );
    expect_wrong(client.delete_account(wrong, None).await.unwrap_err());
    expect_wrong(
        client
            .create_api_key("bot", &[pupero_sdk::Scope::Withdraw], wrong, None)
            .await
            .unwrap_err(),
    );
    expect_wrong(
        client
            .set_email(Some("victim@example.org"), wrong, None)
            .await
            .unwrap_err(),
    );
    // Five failures: the account is locked, whatever checks the password next.
    let locked = client
        .change_password(PASSWORD, "a brand new password")
        .await
        .unwrap_err();
    assert_eq!(code(&locked), "RATE_LIMITED");
    assert!(locked.retry_after().is_some());
    let login = app
        .new_client()
        .login("victim", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(code(&login), "RATE_LIMITED");
    let failures = audit_events(app, user)
        .await
        .iter()
        .filter(|(event, _, _)| event == "password_check_failed")
        .count();
    assert_eq!(failures, 5);
});

// 8. One counter per account, whichever identifier names it.
app_test!(the_login_lockout_is_per_account_not_per_identifier, |app| {
    let client = app.new_client();
    client
        .register("carol", Some("carol@example.org"), PASSWORD)
        .await
        .unwrap();
    for _ in 0..5 {
        let e = client
            .login("carol", "wrong password, wrong")
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_CREDENTIALS");
    }
    for login in ["carol@example.org", "CAROL@example.org", "Carol"] {
        let e = client
            .login(login, "another wrong guess")
            .await
            .unwrap_err();
        assert_eq!(code(&e), "RATE_LIMITED", "{login}");
        let e = client.login(login, PASSWORD).await.unwrap_err();
        assert_eq!(code(&e), "RATE_LIMITED", "{login}: even the right password");
    }
});

// 3. A key needs the password (and the code); the owner hears of it; the owner's reactions end it.
app_test!(
    api_keys_need_a_step_up_and_end_with_the_owner_s_reaction,
    |app, clock| {
        let (client, user) = app.user("owner").await;
        let e = client
            .create_api_key(
                "bot",
                &[pupero_sdk::Scope::Withdraw],
                "a wrong password!",
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_CREDENTIALS");
        let (setup, _) = enable(&client, clock).await;
        let e = client
            .create_api_key("bot", &[pupero_sdk::Scope::Withdraw], PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "TOTP_REQUIRED");
        assert!(client.list_api_keys().await.unwrap().is_empty());

        let next_key = {
            let client = client.clone();
            let secret = setup.secret.clone();
            move |name: &'static str| {
                clock.advance_secs(30);
                let totp = code_now(&secret, clock);
                let client = client.clone();
                async move {
                    client
                        .create_api_key(
                            name,
                            &[pupero_sdk::Scope::Read],
                            PASSWORD,
                            Some(SecondFactor::Code(&totp)),
                        )
                        .await
                        .unwrap()
                }
            }
        };
        let key = next_key("first").await;
        let events = client.events(0, None).await.unwrap().items;
        let created: Vec<_> = events
            .iter()
            .filter(|e| e.kind == pupero_sdk::EventKind::ApiKeyCreated)
            .collect();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].payload["api_key_id"], key.id.to_string());
        let bot = Client::with_api_key(app.base_url.clone(), key.key.clone()).unwrap();
        bot.balance().await.unwrap();

        // A password change revokes every key.
        client
            .change_password(PASSWORD, "a new and better password")
            .await
            .unwrap();
        assert_eq!(code(&bot.balance().await.unwrap_err()), "UNAUTHORIZED");
        client
            .change_password("a new and better password", PASSWORD)
            .await
            .unwrap();

        // An admin's forced logout too.
        let key = next_key("second").await;
        let bot = Client::with_api_key(app.base_url.clone(), key.key.clone()).unwrap();
        bot.balance().await.unwrap();
        let (admin, _) = app.user_with_role("boss", Role::Admin).await;
        admin.admin_logout_user(user).await.unwrap();
        assert_eq!(code(&bot.balance().await.unwrap_err()), "UNAUTHORIZED");
        assert!(client.me().await.is_err(), "the session ended too");

        // And logging out everywhere.
        clock.advance_secs(30);
        client
            .login_with_totp("owner", PASSWORD, &code_now(&setup.secret, clock))
            .await
            .unwrap();
        let key = next_key("third").await;
        let bot = Client::with_api_key(app.base_url.clone(), key.key.clone()).unwrap();
        let other_device = app.new_client();
        clock.advance_secs(30);
        other_device
            .login_with_totp("owner", PASSWORD, &code_now(&setup.secret, clock))
            .await
            .unwrap();
        let e = bot.logout_everywhere().await.unwrap_err();
        assert_eq!(code(&e), "FORBIDDEN", "a key cannot log out its owner");
        client.logout_everywhere().await.unwrap();
        assert_eq!(code(&bot.balance().await.unwrap_err()), "UNAUTHORIZED");
        assert!(other_device.me().await.is_err());
        assert!(client.list_api_keys().await.is_err(), "logged out here too");
        let anonymous = app
            .raw()
            .post(format!("{}/api/v1/auth/logout-all", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
    }
);

/// A disputed trade between two fresh users, and a moderator.
async fn dispute(app: &TestApp) -> (Uuid, Client, Client, Client, Uuid) {
    let (seller, seller_id) = app.user("d-seller").await;
    let (buyer, _) = app.user("d-buyer").await;
    app.fund(seller_id, "2").await;
    let offer = seller.create_offer(&offer("sell", "150")).await.unwrap().id;
    let trade = open(&buyer, offer, "1", "150").await.unwrap().id;
    buyer.mark_trade_paid(trade, None).await.unwrap();
    buyer
        .dispute_trade(trade, "no XMR yet", None)
        .await
        .unwrap();
    let (moderator, moderator_id) = app.user_with_role("judge", Role::Moderator).await;
    (trade, seller, buyer, moderator, moderator_id)
}

// 4. A moderator's resolution needs their second factor and a note.
app_test!(
    resolving_needs_the_moderator_s_code_and_a_note,
    |app, clock| {
        let (trade, seller, _buyer, moderator, moderator_id) = dispute(app).await;
        let (setup, _) = enable(&moderator, clock).await;
        for empty in ["", "   "] {
            let e = moderator
                .resolve_trade(trade, &Resolution::ToBuyer, empty, None, None)
                .await
                .unwrap_err();
            assert_eq!(code(&e), "VALIDATION");
        }
        let note = "The bank statement shows the payment.";
        let e = moderator
            .resolve_trade(trade, &Resolution::ToBuyer, note, None, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "TOTP_REQUIRED");
        let wrong = wrong_code(&setup.secret, clock);
        let e = moderator
            .resolve_trade(
                trade,
                &Resolution::ToBuyer,
                note,
                Some(SecondFactor::Code(&wrong)),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_TOTP");
        assert_eq!(
            seller.trade(trade).await.unwrap().state,
            pupero_sdk::TradeState::Disputed
        );

        clock.advance_secs(30);
        let right = code_now(&setup.secret, clock);
        let resolved = moderator
            .resolve_trade(
                trade,
                &Resolution::ToBuyer,
                note,
                Some(SecondFactor::Code(&right)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(resolved.state, pupero_sdk::TradeState::Resolved);
        let seen = seller.trade(trade).await.unwrap();
        assert_eq!(seen.resolution_note.as_deref(), Some(note));
        let audited = audit_events(app, moderator_id).await;
        assert!(
            audited
                .iter()
                .any(|(event, _, detail)| event == "dispute_resolved" && detail.contains(note)),
            "{audited:?}"
        );
    }
);

// 13. A moderator's API key is a plain user's.
app_test!(a_moderator_s_key_has_no_staff_powers, |app| {
    let (trade, _seller, _buyer, moderator, _) = dispute(app).await;
    moderator.trade(trade).await.unwrap();
    let key = moderator
        .create_api_key(
            "mod bot",
            &[
                pupero_sdk::Scope::Read,
                pupero_sdk::Scope::Trade,
                pupero_sdk::Scope::Withdraw,
            ],
            PASSWORD,
            None,
        )
        .await
        .unwrap();
    let bot = Client::with_api_key(app.base_url.clone(), key.key).unwrap();
    assert_eq!(code(&bot.trade(trade).await.unwrap_err()), "NOT_FOUND");
    assert_eq!(
        code(&bot.trade_messages(trade, None, None).await.unwrap_err()),
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            &bot.post_trade_message(trade, "as a moderator")
                .await
                .unwrap_err()
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&bot.disputes(None, None).await.unwrap_err()),
        "FORBIDDEN"
    );
    let e = bot
        .resolve_trade(trade, &Resolution::ToSeller, "by key", None, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "FORBIDDEN");
});

// 5. All lines of `X-Forwarded-For` are one list; the right-most untrusted hop is the client.
app_test_with!(
    every_forwarded_for_line_counts,
    |settings: &mut pupero_server::Settings| {
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        settings.market.rate_limits = crate::support::generous_limits();
    },
    |app, _clock| {
        let (_, user) = app.user("dora").await;
        let response = app
            .raw()
            .post(format!("{}/api/v1/auth/login", app.base_url))
            .header("x-forwarded-for", "198.51.100.66")
            .header("x-forwarded-for", "203.0.113.9")
            .json(&serde_json::json!({"login": "dora", "password": "wrong wrong wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let failed: Vec<_> = audit_events(app, user)
            .await
            .into_iter()
            .filter(|(event, _, _)| event == "login_failed")
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].1.as_deref(), Some("203.0.113.9"));
    }
);

// 7. The open-offer limit holds under concurrent posts.
app_test!(concurrent_offers_cannot_pass_the_limit, |app| {
    let (client, _) = app.user("eager").await;
    let tasks: Vec<_> = (0..15)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.create_offer(&offer("buy", "140")).await })
        })
        .collect();
    let mut created = 0_u32;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_eq!(code(&e), "OFFER_LIMIT"),
        }
    }
    assert_eq!(created, pupero_core::limits::MAX_OPEN_OFFERS_NEW_ACCOUNT);
    assert_eq!(
        client.my_offers().await.unwrap().len(),
        usize::try_from(created).unwrap()
    );
});

// 10. Amounts and prices are decimal strings; a JSON number is refused, never rounded.
app_test!(
    json_numbers_are_refused_where_text_is_expected,
    |app, clock| {
        let m = market(app, clock).await;
        let token = m.buyer.refresh().await.unwrap().access_token;
        let post = |path: &str, body: serde_json::Value| {
            app.raw()
                .post(format!("{}{path}", app.base_url))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        let offer = m.offer;
        for body in [
            serde_json::json!({"offer_id": offer, "amount": 1.0000000000000000001, "price": "150"}),
            serde_json::json!({"offer_id": offer, "amount": 1, "price": "150"}),
            serde_json::json!({"offer_id": offer, "amount": "1e-1", "price": "150"}),
            serde_json::json!({"offer_id": offer, "amount": "1", "price": 150}),
            serde_json::json!({"offer_id": offer, "amount": true, "price": "150"}),
        ] {
            let response = post("/api/v1/trades", body.clone()).await.unwrap();
            assert_eq!(response.status().as_u16(), 400, "{body}");
            let envelope: serde_json::Value = response.json().await.unwrap();
            assert_eq!(envelope["code"], "VALIDATION", "{body}");
        }
        assert!(
            m.buyer
                .trades(None, None, None)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let mut numbers = serde_json::to_value(self::offer("sell", "150")).unwrap();
        numbers["min_amount"] = serde_json::json!(0.1);
        let response = post("/api/v1/offers", numbers).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let response = app
            .raw()
            .post(format!("{}/api/v1/auth/register", app.base_url))
            .json(&serde_json::json!({"username": 12345, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
    }
);

// 15. The taker's price is a limit, and nothing is traded for no money.
app_test!(
    a_trade_opens_only_at_the_price_the_taker_accepted,
    |app, clock| {
        let m = market(app, clock).await;
        // The maker raises the price between the taker's read and the take.
        let seen = m
            .buyer
            .offer(m.offer)
            .await
            .unwrap()
            .effective_price
            .unwrap();
        assert_eq!(seen, "150".parse::<pupero_sdk::Price>().unwrap());
        m.seller
            .update_offer(m.offer, &offer("sell", "160"))
            .await
            .unwrap();
        let e = open(&m.buyer, m.offer, "1", &seen.to_string())
            .await
            .unwrap_err();
        assert_eq!(code(&e), "PRICE_CHANGED");
        assert!(
            m.buyer
                .trades(None, None, None)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        // A better price than accepted is fine: the trade opens at the current one.
        let trade = open(&m.buyer, m.offer, "1", "170").await.unwrap();
        assert_eq!(trade.price, "160".parse::<pupero_sdk::Price>().unwrap());
        m.buyer.cancel_trade(trade.id, None).await.unwrap();

        // Selling to a buy offer: a lower price is the worse one.
        let (buyer_maker, _) = app.user("maker").await;
        let buy = buyer_maker
            .create_offer(&offer("buy", "150"))
            .await
            .unwrap()
            .id;
        let e = open(&m.seller, buy, "1", "151").await.unwrap_err();
        assert_eq!(code(&e), "PRICE_CHANGED");
        let trade = open(&m.seller, buy, "1", "149").await.unwrap();
        assert_eq!(trade.price, "150".parse::<pupero_sdk::Price>().unwrap());

        // 0.001 XMR at 0.01 EUR is worth less than a cent.
        let cheap = m
            .seller
            .create_offer(&offer("sell", "0.01"))
            .await
            .unwrap()
            .id;
        let e = open(&m.buyer, cheap, "0.001", "0.01").await.unwrap_err();
        assert_eq!(code(&e), "VALIDATION");
    }
);

// 11 and 12. The e-mail address needs a step-up, is rate limited, and probing it is audited.
app_test_with!(
    e_mail_changes_need_a_step_up_and_are_limited,
    |settings: &mut pupero_server::Settings| {
        settings.market.rate_limits = crate::support::generous_limits();
        settings.market.rate_limits.email_change = pupero_market::ratelimit::RateQuota::new(5, 60);
    },
    |app, clock| {
        let owner = app.new_client();
        owner
            .register("erin", Some("erin@example.org"), PASSWORD)
            .await
            .unwrap();
        let (probe, probe_id) = app.user("probe").await;
        let e = probe
            .set_email(Some("new@example.org"), "wrong wrong wrong", None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_CREDENTIALS");
        let e = probe
            .set_email(Some("erin@example.org"), PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "EMAIL_TAKEN");
        for _ in 0..3 {
            probe
                .set_email(Some("probe@example.org"), PASSWORD, None)
                .await
                .unwrap();
        }
        let e = probe
            .set_email(Some("probe2@example.org"), PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "RATE_LIMITED");
        let audited: Vec<String> = audit_events(app, probe_id)
            .await
            .into_iter()
            .map(|(event, _, _)| event)
            .collect();
        assert!(audited.contains(&"email_taken".to_owned()), "{audited:?}");
        assert!(audited.contains(&"email_changed".to_owned()), "{audited:?}");
        // Registration with a taken address is audited too.
        let e = app
            .new_client()
            .register("erin2", Some("erin@example.org"), PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "EMAIL_TAKEN");

        // With 2FA on, the code too (once this address may try again).
        clock.advance_secs(10 * 60);
        owner.login("erin", PASSWORD).await.unwrap();
        let (setup, _) = enable(&owner, clock).await;
        let e = owner
            .set_email(Some("erin@example.net"), PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "TOTP_REQUIRED");
        clock.advance_secs(30);
        owner
            .set_email(
                Some("erin@example.net"),
                PASSWORD,
                Some(SecondFactor::Code(&code_now(&setup.secret, clock))),
            )
            .await
            .unwrap();
        assert_eq!(
            owner.me().await.unwrap().email.as_deref(),
            Some("erin@example.net")
        );
    }
);

// 16. Headers on every response.
app_test!(every_response_carries_the_hardening_headers, |app| {
    let (client, _) = app.user("hank").await;
    let token = client.refresh().await.unwrap().access_token;
    let requests = [
        app.raw().get(format!("{}/healthz", app.base_url)),
        app.raw()
            .get(format!("{}/api/v1/me", app.base_url))
            .bearer_auth(&token),
        app.raw()
            .post(format!("{}/api/v1/auth/login", app.base_url))
            .json(&serde_json::json!({"login": "hank", "password": PASSWORD})),
        app.raw().get(format!("{}/api/v1/nowhere", app.base_url)),
        app.raw().get(format!("{}/docs", app.base_url)),
        app.raw().get(format!("{}/api/openapi.json", app.base_url)),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let url = response.url().to_string();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{url}");
        assert_eq!(header("x-frame-options"), "DENY", "{url}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{url}"
        );
        assert!(header("cache-control").contains("no-store"), "{url}");
    }
});

// A stolen access token alone sends nothing away: without 2FA a session shows the password.
app_test!(
    a_withdrawal_by_session_needs_the_password_without_2fa,
    |app| {
        let (client, user) = app.user("wendy").await;
        app.fund(user, "1").await;
        let network = app.state.settings.market.monero_network.addresses();
        let address = pupero_wallet::testing::outside_address(network, 1).to_string();
        let request = |password: Option<&str>| pupero_sdk::WithdrawalRequest {
            address: pupero_sdk::Text::from(address.clone()),
            amount: "0.1".into(),
            password: password.map(pupero_sdk::Text::from),
            totp_code: None,
            recovery_code: None,
        };
        let e = client
            .request_withdrawal(&request(None), "w-1")
            .await
            .unwrap_err();
        assert_eq!(code(&e), "PASSWORD_REQUIRED");
        let e = client
            .request_withdrawal(&request(Some("wrong wrong wrong")), "w-2")
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_CREDENTIALS");
        // The right password passes the step-up; this server has no wallet, so it stops there.
        let e = client
            .request_withdrawal(&request(Some(PASSWORD)), "w-3")
            .await
            .unwrap_err();
        assert_eq!(code(&e), "WALLET_UNAVAILABLE");
        assert_eq!(
            client.balance().await.unwrap().held,
            pupero_core::Piconero::ZERO
        );
    }
);
