//! A whole trade between two browsers, with JavaScript and without.

use pupero_sdk::Piconero;
use serde_json::json;
use thirtyfour::prelude::*;

use crate::kit::*;
use crate::support::{PASSWORD, Stack, totp_code};

async fn full_trade(javascript: bool) {
    if !browser_installed() {
        return;
    }
    let run = if javascript { "js" } else { "nojs" };
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let alice = browser(&driver, &profiles.path().join("alice"), javascript).await;
    let bob = browser(&driver, &profiles.path().join("bob"), javascript).await;

    // Alice registers, is credited as a development server does, sets up 2FA and posts an
    // offer.
    register(&alice, &site, "alice").await;
    stack.credit("alice", "10").await;
    let secret = turn_on_2fa(&alice, &site, &stack.clock, run).await;

    alice.goto(format!("{site}/offers/new")).await.unwrap();
    fill(&alice, "currency", "EUR").await;
    click(&alice, "#method option[value='SEPA']").await;
    fill(&alice, "details", "IBAN DE00 1234").await;
    fill(&alice, "price", "150").await;
    fill(&alice, "min", "0.1").await;
    fill(&alice, "max", "2").await;
    shots(&alice, run, "new-offer").await;
    click(&alice, "#preview").await;
    wait_for_text(&alice, "Preview of your offer").await;
    shots(&alice, run, "offer-preview").await;
    click(&alice, "#publish").await;
    wait_for_path(&alice, "/offers/mine").await;
    wait_for_text(&alice, "Your offer is published.").await;
    shots(&alice, run, "my-offers").await;

    // Bob filters the market, reviews and opens a trade.
    register(&bob, &site, "bob").await;
    fill(&bob, "currency", "EUR").await;
    click(&bob, "#method option[value='SEPA']").await;
    fill(&bob, "amount", "0.5").await;
    click(&bob, "form.filters button[type=submit]").await;
    until("the filtered market", || async {
        bob.current_url()
            .await
            .is_ok_and(|u| u.query().is_some_and(|q| q.contains("currency=EUR")))
    })
    .await;
    shots(&bob, run, "market").await;
    click(&bob, ".card h2 a").await;
    wait_for_path(&bob, "/offers/").await;
    shots(&bob, run, "offer").await;
    fill(&bob, "amount", "0,5").await;
    click(&bob, "form[action$='/review'] button[type=submit]").await;
    wait_for_text(&bob, "The price is final once the trade is opened.").await;
    let review = bob.source().await.unwrap();
    assert!(review.contains("0.500000000000 XMR") && review.contains("75.00 EUR"));
    shots(&bob, run, "review").await;
    click(&bob, "#open-trade").await;
    wait_for_path(&bob, "/trades/").await;
    let trade_url = bob.current_url().await.unwrap();
    let trade_id: uuid::Uuid = trade_url
        .path()
        .trim_start_matches("/trades/")
        .parse()
        .unwrap();
    wait_for_text(
        &bob,
        "You are buying 0.500000000000 XMR for 75.00 EUR from alice",
    )
    .await;
    shots(&bob, run, "trade-escrowed-buyer").await;

    // Chat both ways.
    fill(&bob, "body", "Paying now").await;
    click(&bob, "form[action$='/messages'] button").await;
    wait_for_text(&bob, "Paying now").await;
    alice.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&alice, "Paying now").await;
    fill(&alice, "body", "Thanks, waiting").await;
    click(&alice, "form[action$='/messages'] button").await;
    // Posted once Alice's own page shows it in the chat (not in the field she typed it in).
    wait_for_text(&alice, "dir=\"auto\">Thanks, waiting</p>").await;
    bob.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&bob, "Thanks, waiting").await;

    // Bob has paid. With JavaScript, Alice's page, open meanwhile, shows it without a reload.
    if javascript {
        wait_for_exact_path(&alice, &format!("/trades/{trade_id}")).await;
        mark_document(&alice).await;
    }
    click(&bob, "#action-paid").await;
    wait_for_path(&bob, &format!("/trades/{trade_id}/paid")).await;
    click(&bob, "#confirm").await;
    shots(&bob, run, "paid-confirm").await;
    click(&bob, "#step-submit").await;
    wait_for_text(&bob, "Paid, waiting for release").await;

    // Alice releases on the confirmation page, with her code; Enter alone sends nothing.
    if javascript {
        wait_for_text(&alice, "The buyer says 75.00 EUR was sent.").await;
        assert!(
            same_document(&alice).await,
            "the seller's page changed without a reload"
        );
    }
    alice.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&alice, "The buyer says 75.00 EUR was sent.").await;
    shots(&alice, run, "trade-paid-seller").await;
    click(&alice, "#action-release").await;
    wait_for_path(&alice, &format!("/trades/{trade_id}/release")).await;
    wait_for_text(&alice, "I have received 75.00 EUR in my account.").await;
    click(&alice, "#confirm").await;
    let code = totp_code(&secret, &stack.clock);
    fill(&alice, "code", &code).await;
    if javascript {
        // A submission would fire `submit` at once, while the key is handled.
        alice
            .execute(
                "window.submitted = false; document.getElementById('step-form')\
                 .addEventListener('submit', (e) => { window.submitted = true; e.preventDefault(); });",
                Vec::new(),
            )
            .await
            .unwrap();
        alice
            .find(By::Id("code"))
            .await
            .unwrap()
            .send_keys(Key::Enter)
            .await
            .unwrap();
        let submitted = alice
            .execute("return window.submitted;", Vec::new())
            .await
            .unwrap();
        assert_eq!(submitted.json(), &json!(false), "Enter must not release");
        alice
            .goto(format!("{site}/trades/{trade_id}/release"))
            .await
            .unwrap();
        click(&alice, "#confirm").await;
        fill(&alice, "code", &code).await;
    }
    shots(&alice, run, "release-confirm").await;
    let api_alice = stack.sdk();
    api_alice.login("alice", PASSWORD).await.ok();
    click(&alice, "#step-submit").await;
    wait_for_path(&alice, &format!("/trades/{trade_id}")).await;
    wait_for_text(&alice, "The XMR was released to the buyer.").await;
    shots(&alice, run, "trade-released-seller").await;

    // Bob sees it released and leaves feedback.
    bob.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&bob, "Released").await;
    click(&bob, "input[name=rating][value=positive]").await;
    fill(&bob, "comment", "Quick and friendly").await;
    click(&bob, "form[action$='/feedback'] button").await;
    wait_for_text(&bob, "Thank you for your feedback.").await;
    bob.goto(format!("{site}/u/alice")).await.unwrap();
    wait_for_text(&bob, "Quick and friendly").await;
    shots(&bob, run, "profile").await;

    // Balances to the piconero, as the API has them and as the wallet page shows them.
    let api_bob = stack.sdk();
    api_bob.login("bob", PASSWORD).await.unwrap();
    let trade = api_bob.trade(trade_id).await.unwrap();
    assert_eq!(
        api_bob.balance().await.unwrap().available,
        trade.buyer_receives
    );
    let alice_balance = stack.sdk();
    let code = {
        stack.clock.advance_secs(30);
        totp_code(&secret, &stack.clock)
    };
    alice_balance
        .login_with_totp("alice", PASSWORD, &code)
        .await
        .unwrap();
    assert_eq!(
        alice_balance.balance().await.unwrap().available,
        Piconero::from_xmr_str("10")
            .unwrap()
            .checked_sub(trade.escrowed)
            .unwrap()
    );
    bob.goto(format!("{site}/wallet")).await.unwrap();
    let shown = pupero_web::format::xmr_unit(trade.buyer_receives, pupero_web::i18n::Locale::En);
    wait_for_text(&bob, &shown).await;
    shots(&bob, run, "wallet").await;

    // A signed-in page in the browser's session is never stored.
    let wallet = reqwest::Client::new()
        .get(format!("{site}/wallet"))
        .header("cookie", session_cookie(&bob).await)
        .send()
        .await
        .unwrap();
    assert_eq!(wallet.status(), 200);
    assert_eq!(wallet.headers()["cache-control"], "no-store");

    // French.
    bob.goto(format!("{site}/lang/fr?next=%2Fwallet"))
        .await
        .unwrap();
    wait_for_text(&bob, "Portefeuille").await;
    // The page's source writes the no-break space before the unit as `&nbsp;`.
    let french = pupero_web::format::xmr(trade.buyer_receives, pupero_web::i18n::Locale::Fr);
    wait_for_text(&bob, &french).await;
    shots(&bob, run, "wallet-fr").await;

    assert_no_csp_reports(&stack).await;
    alice.quit().await.unwrap();
    bob.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_trade_with_javascript() {
    full_trade(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_trade_without_javascript() {
    full_trade(false).await;
}
