//! The committed OpenAPI document is what the server serves.

use crate::support::spawn_app;
use pupero_ledger::testing::Backend;

#[tokio::test]
async fn committed_spec_matches_the_server() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let generated = pupero_server::app::openapi_yaml();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/pupero.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("PUPERO_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    } else {
        assert!(
            committed == generated,
            "openapi/pupero.yaml is stale: run `PUPERO_UPDATE_OPENAPI=1 cargo nextest run -p pupero-server openapi` and commit it"
        );
    }
    let served = app
        .raw()
        .get(format!("{}/api/openapi.json", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status().as_u16(), 200);
    let spec: serde_json::Value = served.json().await.unwrap();
    assert!(spec["paths"]["/api/v1/auth/login"].is_object());
    let docs = app
        .raw()
        .get(format!("{}/docs", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    app.stop().await;
}
