//! Every page renders for a signed-in user, in English and French, and a failure is a page
//! with a message, never a blank one.

use crate::support::{sell_offer, with_stack};

#[tokio::test]
async fn every_page_renders_in_both_languages() {
    with_stack(|stack| async move {
        let seller = stack.user("gina").await;
        stack.credit("gina", "5").await;
        let offer = sell_offer(&seller).await;
        let mut visitor = stack.visitor();
        visitor.register("hugo").await;
        let paths = [
            "/".to_owned(),
            "/market?side=sell".to_owned(),
            format!("/offers/{offer}"),
            format!("/offers/{offer}/review?amount=1"),
            "/offers/mine".to_owned(),
            "/offers/new".to_owned(),
            "/trades".to_owned(),
            "/wallet".to_owned(),
            "/wallet/withdraw".to_owned(),
            "/settings".to_owned(),
            "/settings/2fa".to_owned(),
            "/notifications".to_owned(),
            "/u/gina".to_owned(),
            "/terms".to_owned(),
            "/how-it-works".to_owned(),
            "/password-reset".to_owned(),
            "/reset?token=abc".to_owned(),
            "/settings/api-keys".to_owned(),
            "/settings/delete".to_owned(),
            "/account-deleted".to_owned(),
        ];
        for lang in ["en", "fr"] {
            visitor.get(&format!("/lang/{lang}")).await;
            for path in &paths {
                let page = visitor.get(path).await;
                assert_eq!(page.status, 200, "{lang} {path}: {}", page.body);
                assert!(
                    page.has(&format!("<html lang=\"{lang}\">")),
                    "{lang} {path}"
                );
                assert!(page.has("<main id=\"main\""), "{path}: landmarks");
                assert_eq!(page.body.matches("<h1").count(), 1, "{path}: one h1");
                assert!(
                    page.has("href=\"/terms\"") && page.has("href=\"/how-it-works\""),
                    "{path}: the footer's links"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn failures_are_pages_with_a_message() {
    with_stack(|stack| async move {
        let mut visitor = stack.visitor();
        // Signed-out: to the login page, and back after.
        let page = visitor.get("/trades").await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location(), "/login?next=%2Ftrades");
        visitor.register("ivan").await;
        for path in [
            format!("/trades/{}", uuid::Uuid::new_v4()),
            "/trades/not-an-id".to_owned(),
            format!("/offers/{}", uuid::Uuid::new_v4()),
            "/u/nobody-here".to_owned(),
        ] {
            let page = visitor.get(&path).await;
            assert_eq!(page.status, 404, "{path}: {}", page.body);
            assert!(page.has("There is nothing here."), "{path}");
        }
        // The API gone: a page saying so, not a blank 500.
        let offline = pupero_web::app(crate::support::config(), "http://127.0.0.1:9").unwrap();
        let response = poem::test::TestClient::new(offline)
            .get("/market")
            .send()
            .await;
        assert_eq!(response.0.status().as_u16(), 502);
        let body = response.0.into_body().into_string().await.unwrap();
        assert!(
            body.contains("The service is unavailable right now."),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_market_page_of_fifty_offers_is_at_most_30_kb() {
    with_stack(|stack| async move {
        for name in ["maker-a", "maker-b", "maker-c"] {
            stack.user(name).await;
            stack.credit(name, "100").await;
        }
        // Accounts older than a week may post more than a few offers.
        stack.clock.advance_secs(8 * 24 * 3600);
        for name in ["maker-a", "maker-b", "maker-c"] {
            let maker = stack.sdk();
            maker.login(name, crate::support::PASSWORD).await.unwrap();
            for _ in 0..17 {
                sell_offer(&maker).await;
            }
        }
        let mut visitor = stack.visitor();
        let page = visitor.get("/market").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body.matches("<article class=\"card\">").count(), 50);
        assert!(page.has("rel=\"next\""), "51 offers: a next page");
        eprintln!("market page of 50 offers: {} bytes", page.body.len());
        assert!(page.body.len() <= 30 * 1024, "{} bytes", page.body.len());
    })
    .await;
}
