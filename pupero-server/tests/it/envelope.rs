//! Every failure leaves in the same envelope, with a stable code and never a 500.

use crate::support::app_test;

async fn check(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string());
}

app_test!(errors_share_one_envelope, |app| {
    let http = app.raw();
    let url = |path: &str| format!("{}{path}", app.base_url);

    check(
        http.get(url("/api/v1/nothing-here")).send().await.unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    check(
        http.delete(url("/api/v1/auth/login")).send().await.unwrap(),
        405,
        "METHOD_NOT_ALLOWED",
    )
    .await;
    let malformed = http
        .post(url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    check(malformed, 400, "VALIDATION").await;
    let missing_field = http
        .post(url("/api/v1/auth/register"))
        .json(&serde_json::json!({"username": "x"}))
        .send()
        .await
        .unwrap();
    check(missing_field, 400, "VALIDATION").await;
    let wrong_type = http
        .post(url("/api/v1/auth/login"))
        .json(&serde_json::json!({"login": 5, "password": []}))
        .send()
        .await
        .unwrap();
    check(wrong_type, 400, "VALIDATION").await;
    let huge = "x".repeat(70 * 1024);
    let too_large = http
        .post(url("/api/v1/auth/register"))
        .json(&serde_json::json!({"username": "big", "password": huge}))
        .send()
        .await
        .unwrap();
    check(too_large, 413, "PAYLOAD_TOO_LARGE").await;
});

app_test!(health_and_request_ids, |app| {
    assert_eq!(app.client.healthz().await.unwrap().status, "ok");
    assert_eq!(app.client.readyz().await.unwrap().status, "ok");
    let response = app
        .raw()
        .get(format!("{}/healthz", app.base_url))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let response = app
        .raw()
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        !response.headers()["x-request-id"].is_empty(),
        "one is made up when absent"
    );
});
