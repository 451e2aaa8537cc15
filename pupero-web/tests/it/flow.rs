//! A whole trade and the two-stage login, with the forms a browser without JavaScript sends.

use pupero_sdk::Piconero;

use crate::support::{PASSWORD, Visitor, totp_code, with_stack};

fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).unwrap()
}

/// The trade id in a `/trades/{id}` location.
fn trade_id(location: &str) -> uuid::Uuid {
    location
        .trim_start_matches("/trades/")
        .parse()
        .expect("a trade id")
}

/// The offer form's fields as a seller fills them in.
const OFFER_FIELDS: &[(&str, &str)] = &[
    ("side", "sell"),
    ("currency", "eur"),
    ("method", "SEPA"),
    ("details", "IBAN DE00 1234"),
    ("pricing", "fixed"),
    ("price", "150,00"),
    ("margin", ""),
    ("min", "0,1"),
    ("max", "2"),
    ("window", "30"),
    ("terms", "Reference: the trade id <b>bold</b>"),
    ("visibility", "public"),
];

async fn create_offer(seller: &mut Visitor) {
    seller.get("/offers/new").await;
    // The form first shows the offer as takers will read it, publishing nothing.
    let preview = seller.post("/offers/new", OFFER_FIELDS).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.has("Preview of your offer"), "{}", preview.body);
    assert!(preview.has("150.00 EUR"), "{}", preview.body);
    assert!(
        preview.has("&#60;b&#62;bold") && !preview.has("<b>bold"),
        "terms escaped: {}",
        preview.body
    );
    assert!(seller.get("/offers/mine").await.has("You have no offers"));
    seller.get("/offers/new").await;
    let mut publish = OFFER_FIELDS.to_vec();
    publish.push(("step", "publish"));
    let created = seller.post("/offers/new", &publish).await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location(), "/offers/mine");
    let mine = seller.get("/offers/mine").await;
    assert!(mine.has("Your offer is published."), "{}", mine.body);
    assert!(mine.has("150.00 EUR"), "{}", mine.body);
}

#[tokio::test]
async fn a_whole_trade_with_plain_forms() {
    with_stack(|stack| async move {
        let mut alice = stack.visitor();
        alice.register("alice").await;
        stack.credit("alice", "10").await;
        create_offer(&mut alice).await;
        // A refused form comes back filled in, with what is wrong.
        alice.get("/offers/new").await;
        let refused = alice
            .post(
                "/offers/new",
                &[
                    ("currency", "EURO"),
                    ("method", "SEPA"),
                    ("price", "x"),
                    ("min", "1"),
                    ("max", "2"),
                    ("window", "30"),
                ],
            )
            .await;
        assert_eq!(refused.status, 200);
        assert!(
            refused.has("three-letter code") && refused.has("value=\"EURO\""),
            "{}",
            refused.body
        );

        let mut bob = stack.visitor();
        bob.register("bob").await;
        let market = bob
            .get("/market?side=buy&currency=EUR&method=SEPA&amount=0.5")
            .await;
        assert_eq!(market.status, 200);
        // Each card names its maker, with their record.
        assert!(
            market.has("<a href=\"/u/alice\" translate=\"no\"><bdi>alice</bdi></a> · No completed trades yet"),
            "{}",
            market.body
        );
        let marker = "<h2><a href=\"/offers/";
        let start = market.body.find(marker).expect("an offer card") + marker.len();
        let offer = market.body[start..start + 36].to_owned();
        let none = bob.get("/market?side=buy&currency=USD").await;
        assert!(none.has("No offers match"), "{}", none.body);
        let page = bob.get(&format!("/offers/{offer}")).await;
        assert!(page.has("Buy XMR with SEPA (EUR)"), "{}", page.body);
        // User text is escaped.
        assert!(
            page.has("&#60;b&#62;bold&#60;/b&#62;") && !page.has("<b>bold</b>"),
            "{}",
            page.body
        );
        let outside = bob.get(&format!("/offers/{offer}/review?amount=5")).await;
        assert!(outside.has("outside this offer"), "{}", outside.body);
        let review = bob.get(&format!("/offers/{offer}/review?amount=0,5")).await;
        assert_eq!(review.status, 200, "{}", review.body);
        assert!(
            review.has("0.500000000000 XMR") && review.has("75.00 EUR"),
            "{}",
            review.body
        );
        assert!(review.has("The price is final once the trade is opened."));
        // The taker's fee before the trade opens: none by default, so all of it on release.
        assert!(
            review.has("Your fee</dt><dd id=\"review-fee\">No fee")
                && review.has("You receive on release</dt><dd id=\"review-total\">0.500000000000"),
            "{}",
            review.body
        );
        let key = review.input("key").expect("an idempotency key");
        let fields = [("amount", "0.5"), ("price", "150"), ("key", key.as_str())];
        let opened = bob.post(&format!("/offers/{offer}/open"), &fields).await;
        assert_eq!(opened.status, 303, "{}", opened.body);
        let id = trade_id(opened.location());
        // The same form sent twice (a double click) opens one trade.
        let again = bob.post(&format!("/offers/{offer}/open"), &fields).await;
        assert_eq!(trade_id(again.location()), id);

        let trade = bob.get(&format!("/trades/{id}")).await;
        assert!(
            trade.has("You are buying 0.500000000000 XMR for 75.00 EUR from alice"),
            "{}",
            trade.body
        );
        assert!(trade.has("data-countdown=\"") && trade.has("id=\"action-paid\""));
        assert!(
            !trade.has("id=\"action-release\""),
            "the buyer cannot release"
        );
        // Chat both ways.
        bob.post(
            &format!("/trades/{id}/messages"),
            &[("body", "Paying now <script>")],
        )
        .await;
        let seller_view = alice.get(&format!("/trades/{id}")).await;
        assert!(
            seller_view.has("Paying now &#60;script&#62;"),
            "{}",
            seller_view.body
        );
        assert!(
            !seller_view.has("id=\"action-release\""),
            "no release before payment"
        );
        alice
            .post(&format!("/trades/{id}/messages"), &[("body", "Thanks")])
            .await;
        assert!(bob.get(&format!("/trades/{id}")).await.has("Thanks"));

        // "I have paid" needs its box ticked.
        let paid_page = bob.get(&format!("/trades/{id}/paid")).await;
        let key = paid_page.input("key").unwrap();
        let unticked = bob
            .post(&format!("/trades/{id}/paid"), &[("key", &key)])
            .await;
        assert_eq!(unticked.status, 200);
        assert!(unticked.has("Tick the box"));
        let paid = bob
            .post(
                &format!("/trades/{id}/paid"),
                &[("key", &key), ("confirm", "yes")],
            )
            .await;
        assert_eq!(paid.status, 303, "{}", paid.body);

        let release_page = alice.get(&format!("/trades/{id}/release")).await;
        assert!(
            release_page.has("I have received 75.00 EUR in my account."),
            "{}",
            release_page.body
        );
        assert!(
            release_page.has("<button type=\"submit\" disabled hidden"),
            "Enter sends nothing"
        );
        assert!(
            release_page.has("has no two-factor authentication"),
            "a nudge to turn 2FA on"
        );
        let key = release_page.input("key").unwrap();
        let unticked = alice
            .post(&format!("/trades/{id}/release"), &[("key", &key)])
            .await;
        assert!(unticked.has("Tick the box"));
        assert!(stack.sdk().healthz().await.is_ok());
        let released = alice
            .post(
                &format!("/trades/{id}/release"),
                &[("key", &key), ("confirm", "yes")],
            )
            .await;
        assert_eq!(released.status, 303, "{}", released.body);
        let done = alice.get(&format!("/trades/{id}")).await;
        assert!(done.has("Released"), "{}", done.body);
        assert!(!done.has("id=\"action-"), "no step is left");

        // Feedback, once.
        let thanks = bob
            .post(
                &format!("/trades/{id}/feedback"),
                &[("rating", "positive"), ("comment", "fast")],
            )
            .await;
        assert_eq!(thanks.status, 303);
        // A request the browser makes on its own (here an icon the site does not have) before
        // it follows the redirect leaves the message for the page it goes to.
        assert_eq!(bob.get("/favicon.ico").await.status, 404);
        assert!(
            bob.get(&format!("/trades/{id}"))
                .await
                .has("Thank you for your feedback.")
        );
        let profile = bob.get("/u/alice").await;
        assert!(
            profile.has("fast") && profile.has("1 positive"),
            "{}",
            profile.body
        );

        // Balances to the piconero, as the API has them.
        let api_alice = stack.sdk();
        api_alice.login("alice", PASSWORD).await.unwrap();
        let view = api_alice.trade(id).await.unwrap();
        let api_bob = stack.sdk();
        api_bob.login("bob", PASSWORD).await.unwrap();
        assert_eq!(
            api_bob.balance().await.unwrap().available,
            view.buyer_receives
        );
        assert_eq!(
            api_alice.balance().await.unwrap().available,
            xmr("10").checked_sub(view.escrowed).unwrap()
        );
        let wallet = bob.get("/wallet").await;
        let shown = pupero_web::format::xmr_unit(view.buyer_receives, pupero_web::i18n::Locale::En);
        assert!(wallet.has(&shown), "{shown} in {}", wallet.body);
    })
    .await;
}

#[tokio::test]
async fn logging_in_with_two_factors_never_sends_the_password_back() {
    with_stack(|stack| async move {
        let mut erin = stack.visitor();
        erin.register("erin").await;
        let setup = erin.get("/settings/2fa").await;
        assert_eq!(setup.status, 200, "{}", setup.body);
        assert!(setup.has("data:image/png;base64,"), "a PNG QR code");
        let start = setup
            .body
            .find("id=\"totp-secret\" class=\"secret\" translate=\"no\">")
            .unwrap();
        let rest = &setup.body[start..];
        let secret = &rest[rest.find('>').unwrap() + 1..rest.find("</code>").unwrap()];
        let code = totp_code(secret, &stack.clock);
        let on = erin
            .post("/settings/2fa", &[("password", PASSWORD), ("code", &code)])
            .await;
        assert_eq!(on.status, 303, "{}", on.body);
        let codes = erin.get("/settings/2fa/codes").await;
        assert!(codes.has("will not be shown again"));
        assert_eq!(
            erin.get("/settings/2fa/codes").await.status,
            303,
            "shown once"
        );
        erin.post("/logout", &[]).await;
        // The next step's code: the one just used is spent.
        stack.clock.advance_secs(30);

        let first = erin.login("erin").await;
        assert_eq!(first.status, 303);
        assert_eq!(first.location(), "/login/2fa");
        let second = erin.get("/login/2fa").await;
        assert!(!second.has(PASSWORD) && !second.has("name=\"password\""));
        let wrong = erin.post("/login/2fa", &[("code", "000000")]).await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.has("That code is wrong"), "{}", wrong.body);
        let code = totp_code(secret, &stack.clock);
        let done = erin.post("/login/2fa", &[("code", &code)]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), "/market");
        let settings = erin.get("/settings").await;
        assert!(
            settings.has("Two-factor authentication is on."),
            "{}",
            settings.body
        );
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_said_on_the_page() {
    with_stack(|stack| async move {
        stack.user("frank").await;
        let mut visitor = stack.visitor();
        visitor.get("/login").await;
        let page = visitor
            .post(
                "/login",
                &[
                    ("login", "frank"),
                    ("password", "wrong"),
                    ("next", "/wallet"),
                ],
            )
            .await;
        assert_eq!(page.status, 200);
        assert!(page.has("Wrong username or password."), "{}", page.body);
        assert!(page.has("value=\"frank\"") && page.has("value=\"/wallet\""));
    })
    .await;
}

#[tokio::test]
async fn a_moderator_resolves_a_dispute_in_the_pages() {
    with_stack(|stack| async move {
        let seller = stack.user("kim").await;
        stack.credit("kim", "5").await;
        let offer = crate::support::sell_offer(&seller).await;
        let buyer = stack.user("lou").await;
        let price = buyer.offer(offer).await.unwrap().effective_price.unwrap();
        let request = pupero_sdk::OpenTradeRequest {
            offer_id: offer,
            amount: xmr("0.5"),
            price,
        };
        let trade = buyer.open_trade(&request, None).await.unwrap();
        buyer.mark_trade_paid(trade.id, None).await.unwrap();
        buyer
            .dispute_trade(trade.id, "Paid, nothing released", None)
            .await
            .unwrap();
        pupero_market::operator::create_user(
            &stack.state.market,
            "mod",
            None,
            PASSWORD,
            pupero_core::Role::Moderator,
        )
        .await
        .unwrap();

        let mut moderator = stack.visitor();
        assert_eq!(moderator.login("mod").await.status, 303);
        let queue = moderator.get("/mod/disputes").await;
        assert_eq!(queue.status, 200, "{}", queue.body);
        assert!(queue.has(&format!("/trades/{}", trade.id)) && queue.has("Paid, nothing released"));
        let page = moderator.get(&format!("/trades/{}", trade.id)).await;
        assert!(
            page.has("kim sells 0.500000000000 XMR for 75.00 EUR to lou"),
            "{}",
            page.body
        );
        assert!(page.has("id=\"action-resolve\"") && !page.has("id=\"action-release\""));
        let resolve = moderator
            .get(&format!("/trades/{}/resolve", trade.id))
            .await;
        let key = resolve.input("key").unwrap();
        let path = format!("/trades/{}/resolve", trade.id);
        let unchosen = moderator
            .post(&path, &[("key", &key), ("reason", "x")])
            .await;
        assert!(unchosen.has("Choose a decision."), "{}", unchosen.body);
        let fields = [
            ("key", key.as_str()),
            ("outcome", "split"),
            ("to_buyer", "0,2"),
            ("reason", "Half the payment arrived"),
        ];
        let done = moderator.post(&path, &fields).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let resolved = moderator.get(&format!("/trades/{}", trade.id)).await;
        assert!(
            resolved.has("A moderator resolved the dispute."),
            "{}",
            resolved.body
        );
        assert!(
            resolved.has(
                "The escrow was split: lou received 0.200000000000 XMR, the rest went back to kim."
            ) && resolved.has("Half the payment arrived"),
            "the decision and the note: {}",
            resolved.body
        );
        assert_eq!(buyer.balance().await.unwrap().available, xmr("0.2"));
        assert!(
            moderator
                .get("/mod/disputes")
                .await
                .has("No dispute is waiting.")
        );
    })
    .await;
}

#[tokio::test]
async fn offers_pause_resume_and_delete_a_buyer_cancels_and_the_password_changes() {
    with_stack(|stack| async move {
        let mut mia = stack.visitor();
        mia.register("mia").await;
        stack.credit("mia", "5").await;
        create_offer(&mut mia).await;
        let mine = mia.get("/offers/mine").await;
        let marker = "action=\"/offers/";
        let start = mine.body.find(marker).unwrap() + marker.len();
        let offer = mine.body[start..start + 36].to_owned();
        let paused = mia.post(&format!("/offers/{offer}/pause"), &[]).await;
        assert_eq!(paused.status, 303);
        let mine = mia.get("/offers/mine").await;
        assert!(mine.has("The offer is paused.") && mine.has("<strong>Paused</strong>"));
        let market = mia.get("/market").await;
        assert!(
            !market.has(&format!("/offers/{offer}\"")),
            "a paused offer is not listed"
        );
        mia.post(&format!("/offers/{offer}/resume"), &[]).await;
        assert!(mia.get("/offers/mine").await.has("<strong>Active</strong>"));

        // A buyer opens a trade and cancels it before paying; the escrow goes back.
        let mut ned = stack.visitor();
        ned.register("ned").await;
        let review = ned.get(&format!("/offers/{offer}/review?amount=1")).await;
        let key = review.input("key").unwrap();
        let opened = ned
            .post(
                &format!("/offers/{offer}/open"),
                &[("amount", "1"), ("price", "150"), ("key", &key)],
            )
            .await;
        let id = trade_id(opened.location());
        let notifications = mia.get("/notifications").await;
        assert!(
            notifications.has("A trade was opened."),
            "{}",
            notifications.body
        );
        assert!(notifications.has(&format!("/trades/{id}")));
        let cancel = ned.get(&format!("/trades/{id}/cancel")).await;
        let key = cancel.input("key").unwrap();
        let cancelled = ned
            .post(&format!("/trades/{id}/cancel"), &[("key", &key)])
            .await;
        assert_eq!(cancelled.status, 303, "{}", cancelled.body);
        let page = mia.get(&format!("/trades/{id}")).await;
        assert!(
            page.has("the escrow returned to the seller"),
            "{}",
            page.body
        );
        assert!(mia.get("/wallet").await.has("5.000000000000 XMR"));

        let deleted = mia.post(&format!("/offers/{offer}/delete"), &[]).await;
        assert_eq!(deleted.status, 303);
        assert!(mia.get("/offers/mine").await.has("The offer is deleted."));

        // The password.
        mia.get("/settings").await;
        let wrong = mia
            .post(
                "/settings/password",
                &[("current", "not it"), ("new", "another long passphrase")],
            )
            .await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.has("class=\"error\""), "{}", wrong.body);
        let changed = mia
            .post(
                "/settings/password",
                &[("current", PASSWORD), ("new", "another long passphrase")],
            )
            .await;
        assert_eq!(changed.status, 303, "{}", changed.body);
        let api = stack.sdk();
        api.login("mia", "another long passphrase").await.unwrap();
    })
    .await;
}
