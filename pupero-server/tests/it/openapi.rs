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

/// A JSON value that satisfies `schema` of `doc`: its example or first allowed value where it
/// has one, otherwise the simplest value of its type. With `full`, optional properties too.
fn sample(doc: &serde_json::Value, schema: &serde_json::Value, full: bool) -> serde_json::Value {
    use serde_json::{Value, json};
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return sample(doc, &doc["components"]["schemas"][name], full);
    }
    if let Some(first) = schema["allOf"].as_array().and_then(|a| a.first()) {
        return sample(doc, first, full);
    }
    if !schema["example"].is_null() {
        return schema["example"].clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = serde_json::Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    if full || required.contains(&name.as_str()) {
                        object.insert(name.clone(), sample(doc, property, full));
                    }
                }
            }
            Value::Object(object)
        }
        Some("array") => json!([sample(doc, &schema["items"], full)]),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") if schema["format"] == "uuid" => json!(uuid::Uuid::nil()),
        _ => json!("text"),
    }
}

/// Every response schema of the committed document decodes through the SDK's types, with every
/// optional field present and with none: a client built on the SDK reads whatever the document
/// allows the server to send.
#[test]
fn the_sdk_decodes_every_response_schema_of_the_spec() {
    use pupero_sdk::wire;
    use serde::de::DeserializeOwned;
    fn decodes<T: DeserializeOwned>(value: serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<T>(value)
            .map(drop)
            .map_err(|e| e.to_string())
    }
    type Decoder = fn(serde_json::Value) -> Result<(), String>;
    let decoders: &[(&str, Decoder)] = &[
        ("AdminUser", decodes::<wire::AdminUser>),
        ("AdminUserPage", decodes::<wire::AdminUserPage>),
        ("AdminWithdrawal", decodes::<pupero_sdk::AdminWithdrawal>),
        ("ApiKeyInfo", decodes::<pupero_sdk::ApiKeyInfo>),
        ("ApiKeyList", decodes::<wire::ApiKeyList>),
        ("AuditLogEntry", decodes::<wire::AuditLogEntry>),
        ("AuditLogPage", decodes::<wire::AuditLogPage>),
        ("Balance", decodes::<pupero_sdk::Balance>),
        ("CreatedApiKey", decodes::<pupero_sdk::NewApiKey>),
        ("DepositAddress", decodes::<pupero_sdk::DepositAddress>),
        ("DepositPage", decodes::<pupero_sdk::DepositPage>),
        ("DepositView", decodes::<pupero_sdk::Deposit>),
        ("ErrorBody", decodes::<wire::ErrorBody>),
        ("EventPage", decodes::<pupero_sdk::EventPage>),
        ("FeeAccountView", decodes::<pupero_sdk::FeeAccount>),
        ("FeeScheduleView", decodes::<wire::FeeScheduleView>),
        ("FeedbackCountsView", decodes::<wire::FeedbackCountsView>),
        ("FeedbackPage", decodes::<pupero_sdk::FeedbackPage>),
        ("FeedbackView", decodes::<pupero_sdk::Feedback>),
        ("Health", decodes::<pupero_sdk::Health>),
        ("LedgerEntry", decodes::<pupero_sdk::LedgerEntry>),
        ("LedgerPage", decodes::<pupero_sdk::LedgerPage>),
        ("MarketPrice", decodes::<pupero_sdk::MarketPrice>),
        ("MatrixLink", decodes::<pupero_sdk::MatrixLink>),
        (
            "MatrixLinkStarted",
            decodes::<pupero_sdk::MatrixLinkStarted>,
        ),
        ("MarketPriceList", decodes::<pupero_sdk::MarketPriceList>),
        ("Me", decodes::<pupero_sdk::Me>),
        ("MessagePage", decodes::<pupero_sdk::ChatPage>),
        ("MessageView", decodes::<pupero_sdk::ChatMessage>),
        ("OfferPageView", decodes::<pupero_sdk::OfferPage>),
        ("OfferView", decodes::<pupero_sdk::OfferView>),
        (
            "PaymentMethodView",
            decodes::<pupero_sdk::PaymentMethodInfo>,
        ),
        ("ProfileStats", decodes::<wire::ProfileStats>),
        ("PublicFeedback", decodes::<pupero_sdk::PublicFeedback>),
        ("PublicProfile", decodes::<wire::PublicProfile>),
        ("ReadinessReport", decodes::<wire::ReadinessReport>),
        ("ReconciliationView", decodes::<wire::ReconciliationView>),
        ("RecoveryCodes", decodes::<pupero_sdk::RecoveryCodes>),
        ("Registered", decodes::<pupero_sdk::Registered>),
        ("SessionView", decodes::<wire::SessionView>),
        ("StuckWithdrawals", decodes::<wire::StuckWithdrawals>),
        ("Tokens", decodes::<pupero_sdk::Tokens>),
        ("TotpSetup", decodes::<pupero_sdk::TotpSetup>),
        ("TotpStatus", decodes::<pupero_sdk::TotpStatus>),
        ("TradePage", decodes::<pupero_sdk::TradePage>),
        ("TradeParty", decodes::<pupero_sdk::TradeParty>),
        ("TradeView", decodes::<pupero_sdk::TradeView>),
        ("UserEvent", decodes::<pupero_sdk::UserEvent>),
        (
            "WithdrawalFeeEstimate",
            decodes::<pupero_sdk::WithdrawalFeeEstimate>,
        ),
        ("WithdrawalPage", decodes::<pupero_sdk::WithdrawalPage>),
        ("WithdrawalView", decodes::<pupero_sdk::Withdrawal>),
        ("WorkerLease", decodes::<wire::WorkerLease>),
    ];
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/pupero.yaml");
    let doc: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    // Every object a response can hold, directly or inside another.
    let mut names = std::collections::BTreeSet::new();
    let mut todo: Vec<serde_json::Value> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["responses"].clone())
        .collect();
    while let Some(value) = todo.pop() {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(name) = map.get("$ref").and_then(|r| r.as_str()) {
                    let name = name.rsplit('/').next().unwrap().to_owned();
                    let schema = &doc["components"]["schemas"][&name];
                    if schema["type"] == "object" && names.insert(name) {
                        todo.push(schema.clone());
                    }
                }
                todo.extend(map.into_values());
            }
            serde_json::Value::Array(items) => todo.extend(items),
            _ => {}
        }
    }
    assert!(names.len() > 40, "{names:?}");
    for name in &names {
        let decode = decoders
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no SDK type decodes the response schema {name}"))
            .1;
        let schema = &doc["components"]["schemas"][name];
        for full in [true, false] {
            let value = sample(&doc, schema, full);
            decode(value.clone()).unwrap_or_else(|e| panic!("{name} {value}: {e}"));
        }
    }
}
