//! Market prices: set by admins, read by anyone, and read from an HTTP JSON source served here
//! on a local port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pupero_core::{Clock as _, Role};
use pupero_ledger::testing::Backend;
use pupero_market::oracle::PRICE_CACHE_TTL_SECS;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{app_test, manual_clock, spawn_app_with};

/// The largest request the feed reads; the server's requests are a few hundred bytes.
const FEED_MAX_REQUEST_BYTES: usize = 8 * 1024;

app_test!(admins_set_prices_that_anyone_reads, |app, clock| {
    let (admin, _) = app.user_with_role("root", Role::Admin).await;
    let (alice, _) = app.user("alice").await;
    let anonymous = app.new_client();
    assert!(anonymous.price("EUR").await.unwrap_err().is_not_found());
    assert!(anonymous.prices().await.unwrap().items.is_empty());

    admin.admin_set_price("EUR", "150.25").await.unwrap();
    let eur = anonymous.price("EUR").await.unwrap();
    assert_eq!(
        (
            eur.currency.as_str(),
            eur.price.to_string().as_str(),
            eur.fresh
        ),
        ("EUR", "150.25", true)
    );
    assert_eq!(eur.observed_at_ms, clock.now().as_unix_ms());

    clock.advance_secs(1);
    admin.admin_set_price("EUR", "151.000").await.unwrap();
    admin.admin_set_price("USD", "160.5").await.unwrap();
    let all = anonymous.prices().await.unwrap().items;
    assert_eq!(
        all.iter()
            .map(|p| (p.currency.as_str().to_owned(), p.price.to_string(), p.fresh))
            .collect::<Vec<_>>(),
        [("EUR", "151", true), ("USD", "160.5", true)].map(|(c, p, f)| (
            c.to_owned(),
            p.to_owned(),
            f
        ))
    );
    let audit = admin.admin_audit_log(None, None, None).await.unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.event == "price_set" && e.detail == "USD=160.5"),
        "{audit:?}"
    );

    // Stale once older than the age limit, inclusive.
    clock.advance_secs(pupero_core::limits::DEFAULT_QUOTE_MAX_AGE_SECS);
    assert!(anonymous.price("EUR").await.unwrap().fresh);
    clock.advance_secs(1);
    assert!(!anonymous.price("EUR").await.unwrap().fresh);
    assert!(
        anonymous
            .prices()
            .await
            .unwrap()
            .items
            .iter()
            .all(|p| !p.fresh)
    );

    // Only admins' sessions set prices.
    assert!(
        alice
            .admin_set_price("EUR", "1")
            .await
            .unwrap_err()
            .is_forbidden()
    );
    assert!(
        anonymous
            .admin_set_price("EUR", "1")
            .await
            .unwrap_err()
            .is_unauthorized()
    );
    for (currency, price) in [
        ("XXX", "1"),
        ("eur", "1"),
        ("EURO", "1"),
        ("EUR", "-1"),
        ("EUR", "abc"),
        ("EUR", "1e3"),
        ("EUR", "1.123456789"),
        ("EUR", ""),
    ] {
        let error = admin.admin_set_price(currency, price).await.unwrap_err();
        assert!(error.is_validation(), "{currency} {price}: {error:?}");
    }
    assert!(anonymous.price("XXX").await.unwrap_err().is_validation());
    assert_eq!(
        anonymous.price("EUR").await.unwrap().price,
        "151".parse::<pupero_sdk::Price>().unwrap()
    );
});

/// A JSON price source on a local port: answers every request with the current body (HTTP 500
/// when there is none) and counts them.
struct Feed {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<Option<String>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Feed {
    async fn start() -> Feed {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let body: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (h, b, p) = (hits.clone(), body.clone(), paths.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n")
                    && request.len() < FEED_MAX_REQUEST_BYTES
                {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
                p.lock().unwrap().push(path);
                h.fetch_add(1, Ordering::SeqCst);
                let current = b.lock().unwrap().clone();
                let (status, content) = match current {
                    Some(json) => ("200 OK", json),
                    None => ("500 Internal Server Error", "{}".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
                    content.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Feed {
            url,
            hits,
            body,
            paths,
        }
    }

    fn answer(&self, body: Option<&str>) {
        *self.body.lock().unwrap() = body.map(str::to_owned);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Seconds after which the test's quotes are stale.
const MAX_AGE_SECS: u64 = 600;

async fn http_source(backend: Backend) {
    let feed = Feed::start().await;
    let url = format!("{}/price?fiat={{currency}}", feed.url);
    let clock = manual_clock();
    let Some(app) = spawn_app_with(
        backend,
        move |settings| {
            settings.market.price_url = Some(url);
            settings.market.price_field = Some("/monero/{currency_lower}".to_owned());
            settings.market.price_max_age_secs = MAX_AGE_SECS;
        },
        clock.clone(),
    )
    .await
    else {
        assert_ne!(backend, Backend::Sqlite, "sqlite always works");
        return;
    };
    let client = app.new_client();

    // Down from the start and nothing known: no price, and no error for the caller.
    assert!(client.price("EUR").await.unwrap_err().is_not_found());
    assert_eq!(feed.hits(), 1);
    clock.advance_secs(PRICE_CACHE_TTL_SECS);

    // A fresh quote, read exactly, then served from the cache.
    feed.answer(Some(r#"{"monero": {"eur": "150.25", "usd": 160.5}}"#));
    let first_at = clock.now().as_unix_ms();
    let eur = client.price("EUR").await.unwrap();
    assert_eq!(
        (eur.price.to_string().as_str(), eur.fresh),
        ("150.25", true)
    );
    assert_eq!(eur.observed_at_ms, first_at);
    assert_eq!(feed.hits(), 2);
    assert_eq!(
        feed.paths.lock().unwrap().last().map(String::as_str),
        Some("/price?fiat=EUR")
    );
    clock.advance_secs(PRICE_CACHE_TTL_SECS - 1);
    feed.answer(Some(r#"{"monero": {"eur": "151", "usd": 161}}"#));
    assert_eq!(
        client.price("EUR").await.unwrap().price,
        "150.25".parse::<pupero_sdk::Price>().unwrap()
    );
    assert_eq!(feed.hits(), 2, "cached within the TTL");
    assert_eq!(
        client.price("USD").await.unwrap().price,
        "161".parse::<pupero_sdk::Price>().unwrap()
    );
    assert_eq!(feed.hits(), 3, "one cache entry per currency");
    clock.advance_secs(1);
    let refreshed = client.price("EUR").await.unwrap();
    assert_eq!(refreshed.price, "151".parse::<pupero_sdk::Price>().unwrap());
    assert_eq!(feed.hits(), 4);

    // The feed goes down: the last quote is kept, and asked for again only after the TTL.
    feed.answer(None);
    let last_good_at = clock.now().as_unix_ms();
    clock.advance_secs(PRICE_CACHE_TTL_SECS);
    let kept = client.price("EUR").await.unwrap();
    assert_eq!(
        (
            kept.price.to_string().as_str(),
            kept.observed_at_ms,
            kept.fresh
        ),
        ("151", last_good_at, true)
    );
    assert_eq!(feed.hits(), 5);
    assert_eq!(
        client.price("EUR").await.unwrap().price,
        "151".parse::<pupero_sdk::Price>().unwrap()
    );
    assert_eq!(feed.hits(), 5);
    // ... until it is stale.
    clock.advance_secs(MAX_AGE_SECS - PRICE_CACHE_TTL_SECS + 1);
    let stale = client.price("EUR").await.unwrap();
    assert_eq!(
        (stale.price.to_string().as_str(), stale.fresh),
        ("151", false)
    );
    let listed = client.prices().await.unwrap().items;
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.currency.as_str().to_owned(), p.price.to_string(), p.fresh))
            .collect::<Vec<_>>(),
        [("EUR", "151", false), ("USD", "161", false)].map(|(c, p, f)| (
            c.to_owned(),
            p.to_owned(),
            f
        ))
    );

    // An admin corrects the broken feed; the feed's next newer quote takes over again.
    let (admin, _) = app.user_with_role("root", Role::Admin).await;
    admin.admin_set_price("EUR", "149.5").await.unwrap();
    let corrected = client.price("EUR").await.unwrap();
    assert_eq!(
        (corrected.price.to_string().as_str(), corrected.fresh),
        ("149.5", true)
    );
    feed.answer(Some(r#"{"monero": {"eur": 152.75}}"#));
    clock.advance_secs(PRICE_CACHE_TTL_SECS);
    let recovered = client.price("EUR").await.unwrap();
    assert_eq!(
        (recovered.price.to_string().as_str(), recovered.fresh),
        ("152.75", true)
    );

    // A missing or malformed field is a failure like any other: the last quote stays.
    feed.answer(Some(r#"{"monero": {"eur": "lots"}}"#));
    clock.advance_secs(PRICE_CACHE_TTL_SECS);
    assert_eq!(
        client.price("EUR").await.unwrap().price,
        "152.75".parse::<pupero_sdk::Price>().unwrap()
    );
    app.stop().await;
}

mod http_json_source {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        http_source(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb() {
        http_source(Backend::MariaDb).await;
    }
}
