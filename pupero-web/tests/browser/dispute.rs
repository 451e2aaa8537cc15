//! A paid trade disputed by the buyer with the dispute form, and a moderator who finds it in
//! the queue, asks in the chat and resolves it to the buyer in the pages: both parties read
//! the decision, and the balances are exact to the piconero.

use pupero_sdk::{OpenTradeRequest, Piconero, TradeState};

use crate::kit::*;
use crate::support::{PASSWORD, Stack, sell_offer};

const REASON: &str = "I paid 75.00 EUR on Monday, reference 4411; nothing was released.";
const NOTE: &str = "The bank receipt shows the payment arrived.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_resolves_a_dispute_to_the_buyer_in_the_pages() {
    if !browser_installed() {
        return;
    }
    let run = "dispute";
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    // Sam sells and stays silent; his side of the trade goes through the API.
    let api_sam = stack.user("sam").await;
    stack.credit("sam", "5").await;
    let offer = sell_offer(&api_sam).await;
    pupero_market::operator::create_user(
        &stack.state.market,
        "moe",
        None,
        PASSWORD,
        pupero_core::Role::Moderator,
    )
    .await
    .expect("a moderator");

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let bea = browser(&driver, &profiles.path().join("bea"), true).await;
    let moe = browser(&driver, &profiles.path().join("moe"), true).await;

    // Bea opens a trade (through the API: the other browser tests open theirs in the pages),
    // marks it paid and disputes it in the browser.
    register(&bea, &site, "bea").await;
    let api_bea = stack.sdk();
    api_bea.login("bea", PASSWORD).await.unwrap();
    let price = api_bea.offer(offer).await.unwrap().effective_price.unwrap();
    let request = OpenTradeRequest {
        offer_id: offer,
        amount: Piconero::from_xmr_str("0.5").unwrap(),
        price,
    };
    let trade = api_bea.open_trade(&request, None).await.unwrap();
    let trade_url = format!("{site}/trades/{}", trade.id);
    bea.goto(&trade_url).await.unwrap();
    click(&bea, "#action-paid").await;
    wait_for_path(&bea, &format!("/trades/{}/paid", trade.id)).await;
    click(&bea, "#confirm").await;
    click(&bea, "#step-submit").await;
    wait_for_text(&bea, "Paid, waiting for release").await;
    click(&bea, "#action-dispute").await;
    wait_for_path(&bea, &format!("/trades/{}/dispute", trade.id)).await;
    fill(&bea, "reason", REASON).await;
    shots(&bea, run, "dispute-form").await;
    click(&bea, "#step-submit").await;
    wait_for_exact_path(&bea, &format!("/trades/{}", trade.id)).await;
    wait_for_text(
        &bea,
        "A moderator will decide. Add your evidence in the chat.",
    )
    .await;
    assert!(
        !bea.source()
            .await
            .unwrap()
            .contains("id=\"action-dispute\""),
        "a disputed trade is not disputed again"
    );
    shots(&bea, run, "trade-disputed-buyer").await;
    assert_eq!(
        api_bea.trade(trade.id).await.unwrap().state,
        TradeState::Disputed
    );

    // Moe finds it in the queue, with the reason, and opens it.
    login(&moe, &site, "moe", PASSWORD).await;
    click(&moe, "a[href='/mod/disputes']").await;
    wait_for_path(&moe, "/mod/disputes").await;
    wait_for_text(&moe, REASON).await;
    shots(&moe, run, "queue").await;
    click(&moe, &format!("a[href='/trades/{}']", trade.id)).await;
    wait_for_path(&moe, &format!("/trades/{}", trade.id)).await;
    wait_for_text(&moe, "sam sells 0.500000000000 XMR for 75.00 EUR to bea").await;
    let page = moe.source().await.unwrap();
    assert!(
        page.contains("id=\"action-resolve\"") && !page.contains("id=\"action-release\""),
        "a moderator resolves, never releases"
    );

    // He asks in the chat; Bea's open page shows it live, marked as a moderator's, and she
    // answers.
    wait_for_live(&bea).await;
    fill(&moe, "body", "Please give the reference of the transfer.").await;
    click(&moe, "form[action$='/messages'] button").await;
    wait_for_text(&moe, "Please give the reference of the transfer.").await;
    wait_for_text(&bea, "moe (moderator)").await;
    wait_for_text(&bea, "Please give the reference of the transfer.").await;
    fill(&bea, "body", "Reference 4411, receipt attached to my mail.").await;
    click(&bea, "form[action$='/messages'] button").await;
    moe.goto(format!("{site}/trades/{}", trade.id))
        .await
        .unwrap();
    wait_for_text(&moe, "Reference 4411, receipt attached to my mail.").await;
    shots(&moe, run, "trade-moderator").await;

    // He resolves it to the buyer, with a note; Bea's page, open meanwhile, shows the decision.
    wait_for_live(&bea).await;
    click(&moe, "#action-resolve").await;
    wait_for_path(&moe, &format!("/trades/{}/resolve", trade.id)).await;
    click(&moe, "input[name=outcome][value=to_buyer]").await;
    fill(&moe, "reason", NOTE).await;
    shots(&moe, run, "resolve-form").await;
    click(&moe, "#step-submit").await;
    wait_for_exact_path(&moe, &format!("/trades/{}", trade.id)).await;
    let view = api_bea.trade(trade.id).await.unwrap();
    assert_eq!(view.state, TradeState::Resolved);
    let en = pupero_web::i18n::Locale::En;
    let decision = format!(
        "The escrow went to bea: {}.",
        pupero_web::format::xmr_unit(view.buyer_receives, en)
    );
    wait_for_text(&moe, &decision).await;
    shots(&moe, run, "trade-resolved-moderator").await;
    wait_for_text(&bea, &decision).await;
    wait_for_text(&bea, NOTE).await;
    shots(&bea, run, "trade-resolved-buyer").await;
    moe.goto(format!("{site}/mod/disputes")).await.unwrap();
    wait_for_text(&moe, "No dispute is waiting.").await;

    // Sam reads it too, in a browser of his own.
    moe.quit().await.unwrap();
    let sam = browser(&driver, &profiles.path().join("sam"), true).await;
    login(&sam, &site, "sam", PASSWORD).await;
    sam.goto(&trade_url).await.unwrap();
    wait_for_text(&sam, &decision).await;
    wait_for_text(&sam, NOTE).await;
    shots(&sam, run, "trade-resolved-seller").await;

    // To the piconero: Bea has what a release gives, Sam five less the escrow, nothing held.
    let bea_balance = api_bea.balance().await.unwrap();
    assert_eq!(bea_balance.available, view.buyer_receives);
    assert_eq!(bea_balance.held, Piconero::ZERO);
    let sam_balance = api_sam.balance().await.unwrap();
    assert_eq!(
        sam_balance.available,
        Piconero::from_xmr_str("5")
            .unwrap()
            .checked_sub(view.escrowed)
            .unwrap()
    );
    assert_eq!(sam_balance.held, Piconero::ZERO);
    stack.state.market.ledger.check_invariants().await.unwrap();

    sam.quit().await.unwrap();
    bea.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
