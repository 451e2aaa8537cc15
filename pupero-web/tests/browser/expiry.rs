//! A trade opened in the browser whose payment window passes: both parties' pages say it
//! expired, without a reload, and the escrow is back in the seller's available balance.

use pupero_sdk::{Piconero, TradeState};
use thirtyfour::prelude::*;

use crate::kit::*;
use crate::support::{PASSWORD, Stack, sell_offer};

/// What both parties read once the window has passed.
const EXPIRED: &str = "The payment window passed; the escrow returned to the seller.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_trade_expires_and_the_escrow_returns() {
    if !browser_installed() {
        return;
    }
    let run = "expiry";
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let sam = browser(&driver, &profiles.path().join("sam"), true).await;
    let bea = browser(&driver, &profiles.path().join("bea"), true).await;

    // Sam sells (his offer through the API: the browser test of a whole trade posts one in
    // the pages); Bea opens a trade in the browser and does not pay.
    register(&sam, &site, "sam").await;
    stack.credit("sam", "10").await;
    let api_sam = stack.sdk();
    api_sam.login("sam", PASSWORD).await.unwrap();
    let offer = sell_offer(&api_sam).await;
    register(&bea, &site, "bea").await;
    bea.goto(format!("{site}/offers/{offer}")).await.unwrap();
    fill(&bea, "amount", "0.5").await;
    click(&bea, "form[action$='/review'] button[type=submit]").await;
    wait_for_text(&bea, "The price is final once the trade is opened.").await;
    click(&bea, "#open-trade").await;
    wait_for_path(&bea, "/trades/").await;
    let trade_url = bea.current_url().await.unwrap();
    let trade_id: uuid::Uuid = trade_url
        .path()
        .trim_start_matches("/trades/")
        .parse()
        .unwrap();
    wait_for_text(
        &bea,
        "You are buying 0.500000000000 XMR for 75.00 EUR from sam",
    )
    .await;
    assert!(
        bea.find(By::Css("[data-countdown]")).await.is_ok(),
        "the payment window's countdown"
    );
    shots(&bea, run, "trade-open-buyer").await;
    let escrowed = api_sam.trade(trade_id).await.unwrap().escrowed;
    assert_eq!(
        api_sam.balance().await.unwrap().available,
        Piconero::from_xmr_str("10")
            .unwrap()
            .checked_sub(escrowed)
            .unwrap(),
        "the escrow is held while the trade is open"
    );

    // Both trade pages are open, following the trade live.
    sam.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&sam, "sam").await;
    shots(&sam, run, "trade-open-seller").await;
    mark_document(&sam).await;
    mark_document(&bea).await;

    // The window passes; the expiry job runs, as the server's own does every few seconds.
    stack.clock.advance_secs(30 * 60 + 1);
    stack
        .state
        .market
        .expire_due_trades()
        .await
        .expect("the expiry sweep");
    assert_eq!(
        api_sam.trade(trade_id).await.unwrap().state,
        TradeState::Expired
    );

    for (who, page) in [("seller", &sam), ("buyer", &bea)] {
        wait_for_text(page, EXPIRED).await;
        assert!(
            same_document(page).await,
            "the {who}'s page changed without a reload"
        );
        let source = page.source().await.unwrap();
        assert!(
            !source.contains("id=\"action-"),
            "no step is left for the {who}"
        );
        assert!(
            !source.contains("data-countdown"),
            "no countdown for the {who}"
        );
        shots(page, run, &format!("trade-expired-{who}")).await;
    }

    // The escrow is back: to the piconero in the API, and on Sam's wallet page.
    let balance = api_sam.balance().await.unwrap();
    assert_eq!(balance.available, Piconero::from_xmr_str("10").unwrap());
    assert_eq!(balance.held, Piconero::ZERO);
    sam.goto(format!("{site}/wallet")).await.unwrap();
    wait_for_text(&sam, "10.000000000000 XMR").await;
    shots(&sam, run, "wallet-seller").await;

    sam.quit().await.unwrap();
    bea.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
