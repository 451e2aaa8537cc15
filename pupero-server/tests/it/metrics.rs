//! `/metrics`: behind its token, in the Prometheus text format, counting requests by route
//! pattern and reading the platform's gauges from the database.

use pupero_server::config::Secret;

use crate::support::{app_test, app_test_with};

const TOKEN: &str = "a metrics token of some length";

app_test_with!(
    metrics_count_requests_by_route_and_read_the_gauges,
    |settings| {
        settings.metrics_token = Some(Secret::new(TOKEN.to_owned()));
    },
    |app, _clock| {
        let url = format!("{}/metrics", app.base_url);
        let raw = app.raw();
        assert_eq!(raw.get(&url).send().await.unwrap().status().as_u16(), 401);
        let wrong = raw.get(&url).bearer_auth("not it").send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 401);

        let (seller, seller_id) = app.user("seller").await;
        let (buyer, _) = app.user("buyer").await;
        app.fund(seller_id, "2").await;
        let offer = seller
            .create_offer(&crate::support::sell_offer())
            .await
            .unwrap();
        let request = pupero_sdk::OpenTradeRequest {
            offer_id: offer.id,
            amount: "0.5".parse().unwrap(),
            price: "150".parse().unwrap(),
        };
        buyer.open_trade(&request, None).await.unwrap();
        app.new_client().offer(offer.id).await.unwrap();

        let scraped = raw.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(scraped.status().as_u16(), 200);
        let text = scraped.text().await.unwrap();
        for expected in [
            r#"pupero_trades{state="escrowed"} 1"#,
            r#"pupero_http_requests_total{route="/api/v1/offers/:param0",method="GET",status="2xx"} 1"#,
            r#"pupero_http_requests_total{route="/api/v1/trades",method="POST",status="2xx"} 1"#,
            "pupero_withdrawal_oldest_requested_age_seconds 0",
            "pupero_outbox_unpublished 0",
            "pupero_ledger_writer_stopped 0",
            "pupero_worker_lease_held 0",
            "pupero_ledger_refusals_total 0",
            "# TYPE pupero_ledger_commands counter",
            "# TYPE pupero_http_request_duration_seconds histogram",
            r#"pupero_build_info{version=""#,
        ] {
            assert!(text.contains(expected), "{expected} in:\n{text}");
        }
        assert!(
            !text.contains(&offer.id.to_string()),
            "never a raw URL: {text}"
        );
        // The writer committed the trade: it was busy for a while.
        let busy: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("pupero_ledger_writer_busy_seconds_total "))
            .and_then(|v| v.parse().ok())
            .expect("the writer's busy time");
        assert!(busy > 0.0, "{busy}"); // float-ok: a scraped value
    }
);

app_test!(without_a_token_there_are_no_metrics, |app| {
    let response = app
        .raw()
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
});
