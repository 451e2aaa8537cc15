//! A withdrawal in the browser: the form with its fee estimate and "Max", the review page, the
//! 2FA code, then the withdrawal's page following the simulated wallet's worker to the txid,
//! without a reload.

use pupero_core::Network;
use pupero_sdk::{Piconero, WithdrawalState};
use pupero_wallet::testing::outside_address;
use thirtyfour::prelude::*;

use crate::kit::*;
use crate::support::{PASSWORD, Stack, totp_code};

/// Worker passes (each followed by a block) a withdrawal may take to be confirmed: one builds
/// and relays it, the next sees it mined.
const MAX_PASSES: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_goes_through_its_review_and_2fa_to_its_txid() {
    if !browser_installed() {
        return;
    }
    let run = "withdrawal";
    let stack = Stack::start_with_wallet().await;
    let wallet = stack.wallet.clone().expect("a simulated wallet");
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let wes = browser(&driver, &profiles.path().join("wes"), true).await;

    // Wes registers, has 2 XMR and turns 2FA on.
    register(&wes, &site, "wes").await;
    stack.credit("wes", "2").await;
    let secret = turn_on_2fa(&wes, &site, &stack.clock, run).await;

    // The form: the fee estimate, the reserve, and "Max" filling in the most he may send.
    wes.goto(format!("{site}/wallet/withdraw")).await.unwrap();
    wait_for_text(&wes, "Network fee (estimate)").await;
    assert!(
        !wes.source().await.unwrap().contains("Not known right now"),
        "the wallet gives a fee estimate"
    );
    click(&wes, "#withdraw-max").await;
    until_on(&wes, "the form again, after Max", || async {
        wes.current_url()
            .await
            .is_ok_and(|u| u.query().is_some_and(|q| q.starts_with("amount=")))
    })
    .await;
    let max = wes
        .find(By::Id("amount"))
        .await
        .unwrap()
        .value()
        .await
        .unwrap()
        .unwrap_or_default();
    let to = outside_address(Network::Mainnet, 1).to_string();
    fill(&wes, "address", &to).await;
    shots(&wes, run, "form").await;
    click(
        &wes,
        "form[action='/wallet/withdraw/review'] button[type=submit]",
    )
    .await;

    // The review: the address with its ends set apart, the amount, the code.
    wait_for_path(&wes, "/wallet/withdraw/review").await;
    wait_for_text(&wes, "Review your withdrawal").await;
    let review = wes.source().await.unwrap();
    assert!(
        review.contains(&format!("<strong>{}</strong>", &to[..6]))
            && review.contains(&format!("<strong>{}</strong>", &to[to.len() - 6..])),
        "the address's ends set apart"
    );
    let max_amount = Piconero::from_xmr_str(&max).expect("Max is an amount");
    let shown = pupero_web::format::xmr_unit(max_amount, pupero_web::i18n::Locale::En);
    assert!(review.contains(&shown), "{shown} on the review page");
    fill(&wes, "code", &totp_code(&secret, &stack.clock)).await;
    shots(&wes, run, "review").await;
    click(&wes, "#withdraw-submit").await;

    // Its page: requested, then on its way as the worker goes.
    wait_for_path(&wes, "/wallet/withdrawals/").await;
    let id: uuid::Uuid = wes
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/wallet/withdrawals/")
        .parse()
        .unwrap();
    wait_for_text(&wes, &to).await;
    assert_eq!(text_of(&wes, "withdrawal-state").await, "Requested");
    shots(&wes, run, "requested").await;
    mark_document(&wes).await;

    stack.clock.advance_secs(30);
    let api = stack.sdk();
    api.login_with_totp("wes", PASSWORD, &totp_code(&secret, &stack.clock))
        .await
        .unwrap();
    let mut passes = 0;
    let sent = loop {
        stack
            .state
            .market
            .drive_withdrawals()
            .await
            .expect("a worker pass");
        let w = api.withdrawal(id).await.unwrap();
        if w.state == WithdrawalState::Confirmed {
            break w;
        }
        passes += 1;
        assert!(
            passes < MAX_PASSES,
            "withdrawal {id} still {} after {passes} passes",
            w.state.as_str()
        );
        wallet.mine(1);
    };
    let txid = sent
        .txid
        .clone()
        .expect("a confirmed withdrawal has a txid");
    wait_for_text(&wes, &txid).await;
    until_on(&wes, "the timeline at confirmed", || async {
        text_of(&wes, "withdrawal-state").await == "Confirmed"
    })
    .await;
    assert!(
        same_document(&wes).await,
        "the page followed without a reload"
    );
    shots(&wes, run, "confirmed").await;

    // To the piconero: the address received the amount, and Wes keeps what the real fee left
    // of the reserve.
    assert_eq!(sent.amount, max_amount);
    let fee = sent.fee.expect("the real fee");
    let page = wes.source().await.unwrap();
    let paid = pupero_web::format::xmr_unit(fee, pupero_web::i18n::Locale::En);
    assert!(
        page.contains("Network fee paid") && page.contains(&paid),
        "the fee paid, {paid}, no longer an estimate"
    );
    assert!(
        wallet
            .received_by(&outside_address(Network::Mainnet, 1))
            .iter()
            .any(|(t, a)| t.to_string() == txid && *a == max_amount),
        "the address received {max}"
    );
    let balance = api.balance().await.unwrap();
    assert_eq!(
        balance.available,
        Piconero::from_xmr_str("2")
            .unwrap()
            .checked_sub(max_amount)
            .and_then(|rest| rest.checked_sub(fee))
            .unwrap()
    );
    assert_eq!(balance.held, Piconero::ZERO);

    wes.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
