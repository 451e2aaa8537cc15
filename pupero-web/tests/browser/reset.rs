//! A forgotten password, from the login page's link to a login with the new one: the mail
//! arrives at an SMTP server of the test, and its link is opened in the browser. With
//! JavaScript and without.

use pupero_market::recovery::{PASSWORD_RESET_PATH, VERIFY_EMAIL_PATH};

use crate::kit::*;
use crate::support::{PASSWORD, Stack};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn password_reset(javascript: bool) {
    if !browser_installed() {
        return;
    }
    let run = if javascript { "reset-js" } else { "reset-nojs" };
    let stack = Stack::start_with_mail().await;
    let mail = stack.mail.clone().expect("a mail sink");
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let ida = browser(&driver, &profiles.path().join("ida"), javascript).await;

    // Ida registers with her address and confirms it through the mailed link.
    ida.goto(format!("{site}/register")).await.unwrap();
    fill(&ida, "username", "ida").await;
    fill(&ida, "email", "ida@example.org").await;
    fill(&ida, "password", PASSWORD).await;
    click(&ida, "form[action='/register'] button[type=submit]").await;
    wait_for_path(&ida, "/market").await;
    let verify = mail.mail_to("ida@example.org", "Confirm your e-mail").await;
    ida.goto(format!("{site}{}", verify.link(VERIFY_EMAIL_PATH)))
        .await
        .unwrap();
    wait_for_text(&ida, "Confirm your e-mail address").await;
    shots(&ida, run, "verify").await;
    click(&ida, "#verify-submit").await;
    wait_for_path(&ida, "/settings").await;
    wait_for_text(&ida, "Your e-mail address is confirmed.").await;
    let api = stack.sdk();
    api.login("ida", PASSWORD).await.unwrap();
    assert!(api.me().await.unwrap().email_verified, "verified");
    click(&ida, "form[action='/logout'] button").await;
    wait_for_text(&ida, "href=\"/login\"").await;

    // She forgot it: the login page's link, her username, the same answer as for anyone.
    ida.goto(format!("{site}/login")).await.unwrap();
    click(&ida, "a[href='/password-reset']").await;
    wait_for_path(&ida, "/password-reset").await;
    fill(&ida, "login", "ida").await;
    shots(&ida, run, "ask").await;
    click(&ida, "form[action='/password-reset'] button[type=submit]").await;
    wait_for_path(&ida, "/login").await;
    wait_for_text(&ida, "a link is on its way").await;
    shots(&ida, run, "asked").await;

    // The mail's link, opened in the browser: a new password.
    let reset = mail
        .mail_to("ida@example.org", "Reset your Pupero password")
        .await;
    ida.goto(format!("{site}{}", reset.link(PASSWORD_RESET_PATH)))
        .await
        .unwrap();
    wait_for_text(&ida, "Choose a new password").await;
    fill(&ida, "password", NEW_PASSWORD).await;
    shots(&ida, run, "new-password").await;
    click(&ida, "form[action='/reset'] button[type=submit]").await;
    wait_for_path(&ida, "/login").await;
    wait_for_text(&ida, "Your password was changed.").await;
    shots(&ida, run, "done").await;

    // The old password no longer opens the account; the new one does, in the browser.
    assert!(
        stack
            .sdk()
            .login("ida", PASSWORD)
            .await
            .unwrap_err()
            .is_unauthorized(),
        "the old password is refused"
    );
    login(&ida, &site, "ida", NEW_PASSWORD).await;
    wait_for_text(&ida, "ida").await;
    // The link worked once.
    ida.goto(format!("{site}{}", reset.link(PASSWORD_RESET_PATH)))
        .await
        .unwrap();
    fill(&ida, "password", "yet another passphrase").await;
    click(&ida, "form[action='/reset'] button[type=submit]").await;
    wait_for_text(&ida, "This link is no longer good.").await;

    ida.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_by_mail_with_javascript() {
    password_reset(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_by_mail_without_javascript() {
    password_reset(false).await;
}
