//! Deposits and withdrawals through the pages, over a simulated wallet.

use std::sync::Arc;

use pupero_core::{MoneroAddress, Network, Piconero};
use pupero_wallet::testing::outside_address;

use crate::support::{PASSWORD, Stack};

fn xmr(s: &str) -> Piconero {
    Piconero::from_xmr_str(s).unwrap()
}

#[tokio::test]
async fn a_deposit_is_followed_to_its_credit_and_a_withdrawal_through_its_review() {
    let stack = Arc::new(Stack::start_with_wallet().await);
    let wallet = stack.wallet.clone().unwrap();
    let mut jane = stack.visitor();
    jane.register("jane").await;

    let deposit = jane.get("/wallet/deposit").await;
    assert_eq!(deposit.status, 200, "{}", deposit.body);
    assert!(deposit.has("data:image/png;base64,"), "a PNG QR code");
    let start = deposit.body.find("data-value=\"").unwrap() + "data-value=\"".len();
    let address = &deposit.body[start..start + 95];
    assert!(
        deposit.has(&format!("href=\"monero:{address}")),
        "the monero: link"
    );
    let address = MoneroAddress::parse(address, Network::Mainnet).unwrap();

    wallet.deposit(&address, xmr("1.25"));
    stack.state.market.scan_deposits().await.unwrap();
    let pending = jane.get("/wallet/deposit").await;
    assert!(pending.has("Waiting for confirmations"), "{}", pending.body);
    assert!(pending.has("<progress value=\"0\""), "{}", pending.body);
    wallet.mine(20);
    stack.state.market.scan_deposits().await.unwrap();
    let credited = jane.get("/wallet/deposit").await;
    assert!(credited.has("Credited"), "{}", credited.body);
    let balance = jane.get("/wallet").await;
    assert!(balance.has("1.250000000000 XMR"), "{}", balance.body);
    assert!(balance.has("Deposit"), "the statement says why");

    // A withdrawal: the form, the review page, the password (2FA is off), the timeline.
    let form = jane.get("/wallet/withdraw").await;
    assert_eq!(form.status, 200, "{}", form.body);
    // "Max" comes back to the form with the most one can withdraw filled in.
    let marker = "href=\"/wallet/withdraw?amount=";
    let start = form.body.find(marker).expect("a Max link") + marker.len();
    let max = &form.body[start..start + form.body[start..].find('"').unwrap()];
    let filled = jane.get(&format!("/wallet/withdraw?amount={max}")).await;
    assert!(filled.has(&format!("value=\"{max}\"")), "{}", filled.body);
    let to = outside_address(Network::Mainnet, 1).to_string();
    let review = jane
        .get(&format!("/wallet/withdraw/review?address={to}&amount=0,5"))
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.has("0.500000000000 XMR") && review.has("name=\"password\""));
    assert!(review.has(&to[..6]) && review.has(&to[to.len() - 6..]));
    let key = review.input("key").unwrap();
    let fields = [
        ("key", key.as_str()),
        ("address", to.as_str()),
        ("amount", "0.5"),
        ("password", "wrong password"),
    ];
    let refused = jane.post("/wallet/withdraw/confirm", &fields).await;
    assert_eq!(refused.status, 200);
    assert!(refused.has("class=\"error\""), "{}", refused.body);
    let key = refused.input("key").unwrap();
    let fields = [
        ("key", key.as_str()),
        ("address", to.as_str()),
        ("amount", "0.5"),
        ("password", PASSWORD),
    ];
    let sent = jane.post("/wallet/withdraw/confirm", &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(sent.location().starts_with("/wallet/withdrawals/"));
    let page = jane.get(sent.location()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.has("0.500000000000 XMR") && page.has(&to),
        "{}",
        page.body
    );
    assert!(page.has("aria-current=\"step\""), "{}", page.body);
    let again = jane.post("/wallet/withdraw/confirm", &fields).await;
    assert_eq!(
        again.location(),
        sent.location(),
        "the same key, the same withdrawal"
    );

    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}

#[tokio::test]
async fn an_administrator_manages_users_and_reads_the_audit_and_the_reconciliation() {
    let stack = Arc::new(Stack::start_with_wallet().await);
    pupero_market::operator::create_user(
        &stack.state.market,
        "root",
        None,
        PASSWORD,
        pupero_core::Role::Admin,
    )
    .await
    .unwrap();
    let olga = stack.user("olga").await;
    let mut someone = stack.visitor();
    someone.login("olga").await;
    let refused = someone.get("/admin/users").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.has("You may not see this page."));

    let mut root = stack.visitor();
    assert_eq!(root.login("root").await.status, 303);
    let users = root.get("/admin/users?q=ol").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.has("id=\"user-olga\"") && !users.has("id=\"user-root\""));
    let me = olga.me().await.unwrap();
    let done = root
        .post(
            &format!("/admin/users/{}/role", me.id),
            &[("role", "moderator")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(root.get("/admin/users").await.has("Done."));
    assert_eq!(olga.me().await.unwrap().role, pupero_sdk::Role::Moderator);
    root.post(&format!("/admin/users/{}/disable", me.id), &[])
        .await;
    let listed = root.get("/admin/users?q=olga").await;
    assert!(listed.has("disabled"), "{}", listed.body);
    root.post(&format!("/admin/users/{}/enable", me.id), &[])
        .await;
    assert!(
        !root
            .get("/admin/users?q=olga")
            .await
            .has("<strong>disabled</strong>")
    );

    let audit = root.get("/admin/audit").await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.has("role"), "{}", audit.body);
    let stuck = root.get("/admin/withdrawals").await;
    assert!(stuck.has("No withdrawal is stuck."), "{}", stuck.body);
    let recon = root.get("/admin/reconciliation").await;
    assert_eq!(recon.status, 200, "{}", recon.body);
    assert!(
        recon.has("The wallet holds what users are owed."),
        "{}",
        recon.body
    );

    // Fees and prices: the schedule, the fee account, and a price set by hand.
    let mut pat = stack.visitor();
    pat.register("pat").await;
    assert_eq!(pat.get("/admin/market").await.status, 403);
    let market = root.get("/admin/market").await;
    assert_eq!(market.status, 200, "{}", market.body);
    assert!(
        market.has("<dd id=\"fee-maker\">1%</dd>") && market.has("<dd id=\"fee-taker\">0%</dd>"),
        "{}",
        market.body
    );
    assert!(
        market.has("<dd id=\"fees-collected\">0 XMR</dd>"),
        "{}",
        market.body
    );
    let refused = root
        .post("/admin/prices", &[("currency", "EUR"), ("price", "cheap")])
        .await;
    assert_eq!(refused.status, 200, "{}", refused.body);
    assert!(refused.has("id=\"price-error\"") && refused.has("value=\"cheap\""));
    let set = root
        .post("/admin/prices", &[("currency", "chf"), ("price", "155,5")])
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let after = root.get("/admin/market").await;
    assert!(after.has("The price was set."), "{}", after.body);
    assert!(after.has("155.50 CHF"), "{}", after.body);
    assert_eq!(
        stack.sdk().price("CHF").await.unwrap().price.to_string(),
        "155.5"
    );

    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}
