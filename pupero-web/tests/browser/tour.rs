//! The pages the trade does not pass through, each held to the checks of every page state
//! (`kit::shots`: axe, reflow at 320 px): signed out, signed in, forms with their errors shown,
//! a missing page, and French; without JavaScript, as in Tor Browser's "Safest".

use thirtyfour::prelude::*;

use crate::audit;
use crate::kit::*;
use crate::support::{PASSWORD, Stack, sell_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_the_checks() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start_with_wallet().await;
    let site = stack.serve_site().await;
    let sam = stack.user("sam").await;
    stack.credit("sam", "10").await;
    let offer = sell_offer(&sam).await;
    stack.user("tess").await;
    stack.credit("tess", "5").await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let tess = browser(&driver, &profiles.path().join("tess"), false).await;
    let run = "tour";

    // Signed out.
    for (path, name) in [
        ("/market", "market-signed-out"),
        ("/register", "register"),
        ("/password-reset", "password-reset"),
        ("/how-it-works", "how-it-works"),
        ("/terms", "terms"),
        ("/no-such-page", "not-found"),
    ] {
        tess.goto(format!("{site}{path}")).await.unwrap();
        shots(&tess, run, name).await;
    }
    // A wrong password: the error on the page.
    tess.goto(format!("{site}/login")).await.unwrap();
    fill(&tess, "login", "tess").await;
    fill(&tess, "password", "not the password").await;
    click(&tess, "form[action='/login'] button[type=submit]").await;
    wait_for_text(&tess, "form-error").await;
    shots(&tess, run, "login-error").await;
    fill(&tess, "password", PASSWORD).await;
    click(&tess, "form[action='/login'] button[type=submit]").await;
    wait_for_path(&tess, "/market").await;

    // Signed in.
    for (path, name) in [
        ("/market".to_owned(), "market"),
        (format!("/offers/{offer}"), "offer"),
        ("/trades".to_owned(), "trades"),
        ("/offers/mine".to_owned(), "my-offers-none"),
        ("/wallet".to_owned(), "wallet"),
        ("/wallet/deposit".to_owned(), "deposit"),
        ("/wallet/withdraw".to_owned(), "withdraw"),
        ("/notifications".to_owned(), "notifications"),
        ("/settings".to_owned(), "settings"),
        ("/settings/api-keys".to_owned(), "api-keys"),
        ("/settings/delete".to_owned(), "delete-account"),
        ("/u/sam".to_owned(), "profile"),
    ] {
        tess.goto(format!("{site}{path}")).await.unwrap();
        wait_for_path(&tess, path.split('?').next().unwrap_or("/")).await;
        shots(&tess, run, name).await;
    }

    // Forms sent with mistakes: the errors on the page, next to what was typed.
    tess.goto(format!("{site}/offers/new")).await.unwrap();
    fill(&tess, "currency", "EUR").await;
    fill(&tess, "price", "a lot").await;
    fill(&tess, "min", "1").await;
    fill(&tess, "max", "0.5").await;
    click(&tess, "#preview").await;
    wait_for_text(&tess, "class=\"error\"").await;
    shots(&tess, run, "new-offer-errors").await;
    // The summary names the field, which says it is invalid and by what; its link leads there.
    let price = tess.find(By::Id("price")).await.unwrap();
    assert_eq!(
        price.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(
        price.attr("aria-describedby").await.unwrap().as_deref(),
        Some("error-price")
    );
    assert_eq!(price.prop("value").await.unwrap().as_deref(), Some("a lot"));
    let min = tess.find(By::Id("min")).await.unwrap();
    assert_eq!(min.attr("aria-invalid").await.unwrap(), None);
    click(&tess, "#form-errors a[href='#price']").await;
    let focused = tess
        .execute("return document.activeElement.id;", Vec::new())
        .await
        .unwrap();
    assert_eq!(focused.json(), &serde_json::json!("price"));
    tess.goto(format!(
        "{site}/wallet/withdraw/review?address=not-an-address&amount=1"
    ))
    .await
    .unwrap();
    wait_for_text(&tess, "not-an").await;
    shots(&tess, run, "withdraw-review").await;
    fill(&tess, "password", PASSWORD).await;
    click(&tess, "#withdraw-submit").await;
    wait_for_text(&tess, "class=\"error\"").await;
    shots(&tess, run, "withdraw-error").await;

    // The staff's pages, as an administrator.
    pupero_market::operator::create_user(
        &stack.state.market,
        "ada",
        None,
        PASSWORD,
        pupero_core::Role::Admin,
    )
    .await
    .unwrap();
    click(&tess, "form[action='/logout'] button").await;
    wait_for_path(&tess, "/market").await;
    login(&tess, &site, "ada", PASSWORD).await;
    for (path, name) in [
        ("/mod/disputes", "mod-disputes"),
        ("/admin/users", "admin-users"),
        ("/admin/audit", "admin-audit"),
        ("/admin/withdrawals", "admin-withdrawals"),
        ("/admin/reconciliation", "admin-reconciliation"),
        ("/admin/market", "admin-market"),
    ] {
        tess.goto(format!("{site}{path}")).await.unwrap();
        wait_for_path(&tess, path).await;
        shots(&tess, run, name).await;
    }

    // French, on a page with most of the header and a form.
    tess.goto(format!("{site}/lang/fr?next=%2Fsettings"))
        .await
        .unwrap();
    wait_for_text(&tess, "lang=\"fr\"").await;
    shots(&tess, run, "settings-fr").await;

    assert_no_csp_reports(&stack).await;
    tess.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}

/// The checks themselves: on a page given an unlabelled field and a box wider than the
/// window, axe names the field and the reflow check the box, with JavaScript and without
/// (where axe runs on timers made microtasks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_see_a_broken_page() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    for javascript in [true, false] {
        let visitor = browser(
            &driver,
            &profiles.path().join(format!("visitor-{javascript}")),
            javascript,
        )
        .await;
        visitor.goto(format!("{site}/terms")).await.unwrap();
        visitor.set_window_rect(0, 0, 320, 720).await.unwrap();
        assert!(audit::overflow(&visitor).await.is_null());
        // Through the DOM and CSSOM, which the policy allows (no markup, no style attribute).
        visitor
            .execute(
                "const main = document.getElementById('main');\
                 const wide = document.createElement('div'); wide.id = 'wide';\
                 wide.style.width = '600px'; wide.textContent = 'wide'; main.append(wide);\
                 const field = document.createElement('input'); field.id = 'unlabelled';\
                 main.append(field);",
                Vec::new(),
            )
            .await
            .unwrap();
        let overflow = audit::overflow(&visitor).await;
        assert!(
            overflow.to_string().contains("div#wide"),
            "javascript {javascript}: {overflow}"
        );
        if let Some(violations) =
            audit::axe_violations(&visitor, "a broken page", audit::Rules::All).await
        {
            let label = violations
                .iter()
                .find(|v| v["id"] == "label")
                .unwrap_or_else(|| panic!("javascript {javascript}: {violations:?}"));
            assert_eq!(label["nodes"][0]["target"], "#unlabelled");
        }
        visitor.quit().await.unwrap();
    }
    assert_no_csp_reports(&stack).await;
    drop(driver);
    stack.stop().await;
}
