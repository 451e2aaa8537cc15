//! What a hostile page cannot make the site do.

use crate::kit::*;
use crate::support::{PASSWORD, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_from_another_site_is_refused() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    // Another origin (another port: same site, other origin) with a form posting to ours.
    let evil = poem::Route::new().at(
        "/",
        poem::endpoint::make_sync({
            let site = site.clone();
            move |_| {
                poem::web::Html(format!(
                    "<!doctype html><title>elsewhere</title><form method=post action=\"{site}/offers/new\">\
                     <input name=currency value=EUR><button id=go>Go</button></form>"
                ))
            }
        }),
    );
    let acceptor =
        poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind("127.0.0.1:0"))
            .await
            .unwrap();
    let evil_url = format!(
        "http://{}",
        poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .unwrap()
    );
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(evil));

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let victim = browser(&driver, &profiles.path().join("victim"), false).await;
    register(&victim, &site, "victim").await;
    victim.goto(evil_url).await.unwrap();
    click(&victim, "#go").await;
    wait_for_text(
        &victim,
        "This form was sent from another site and was refused.",
    )
    .await;
    shots(&victim, "security", "cross-site-refused").await;
    let api = stack.sdk();
    api.login("victim", PASSWORD).await.unwrap();
    assert!(
        api.my_offers().await.unwrap().is_empty(),
        "nothing was posted"
    );
    assert_no_csp_reports(&stack).await;
    victim.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}

/// The policy's reports reach the site and are counted: what every browser test's final check
/// (no report) relies on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_breaking_the_policy_is_reported() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let visitor = browser(&driver, &profiles.path().join("visitor"), true).await;
    visitor.goto(format!("{site}/market")).await.unwrap();
    assert_eq!(stack.web.csp_reports(), 0);
    // What an injected script would try: an inline script, and an image from elsewhere (on an
    // address nothing listens on; the policy blocks it before any request).
    visitor
        .execute(
            "const s = document.createElement('script'); s.textContent = 'window.ran = true;';\
             document.head.appendChild(s);\
             const i = document.createElement('img'); i.alt = ''; i.src = 'http://127.0.0.2:9/x.png';\
             document.body.appendChild(i);\
             return window.ran === true;",
            Vec::new(),
        )
        .await
        .map(|ran| assert_eq!(ran.json(), &serde_json::json!(false), "inline script ran"))
        .unwrap();
    until("two reports", || async { stack.web.csp_reports() == 2 }).await;
    visitor.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
