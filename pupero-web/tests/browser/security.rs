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
    victim.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
