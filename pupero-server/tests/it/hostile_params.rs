//! Every query, path and header parameter of every operation in the served OpenAPI document,
//! given hostile values by an anonymous caller, a logged-in user and (on admin and moderation
//! operations) an admin: no answer is a 5xx, and every error is the `{code, message}` envelope.
//!
//! The operations come from the document, so a new endpoint is covered the day it is added.

use std::time::Duration;

use pupero_core::Role;
use reqwest::header::HeaderValue;
use serde_json::Value;

use crate::support::{PASSWORD, TestApp, app_test};

/// How long one request may take. Generous for a loaded CI machine; an event stream that opens
/// answers its headers at once and is then dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Values a caller who is refused before the handler runs (401/403) is also tried with: the
/// refusal must not depend on the parameters.
const REFUSED_CALLER_VALUES: usize = 6;

/// A parameter value: text to percent-encode, or a fragment sent exactly as written (broken
/// percent-encodings, encoded invalid UTF-8).
#[derive(Debug, Clone)]
enum Hostile {
    Text(String),
    Raw(&'static str),
}

impl Hostile {
    /// As it goes into a URL.
    fn encoded(&self) -> String {
        match self {
            Hostile::Text(text) => percent_encode(text),
            Hostile::Raw(raw) => (*raw).to_owned(),
        }
    }

    /// As it goes into a header, if a header can carry it at all.
    fn header(&self) -> Option<HeaderValue> {
        match self {
            Hostile::Text(text) => HeaderValue::from_bytes(text.as_bytes()).ok(),
            Hostile::Raw(raw) => HeaderValue::from_str(raw).ok(),
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The values, out-of-range integers first: they are what a refused caller is tried with.
fn hostile_values() -> Vec<Hostile> {
    let nil = uuid::Uuid::nil();
    let max_uuid = uuid::Uuid::max();
    let txid = "ab".repeat(32);
    let text = |s: &str| Hostile::Text(s.to_owned());
    let mut values = vec![
        text(&u64::MAX.to_string()),
        text("9223372036854775808"),
        text("-1"),
        text(""),
        text(&"x".repeat(10_000)),
        Hostile::Raw("%FF"),
        text("0"),
        text("9223372036854775807"),
        text("18446744073709551616"),
        text("-9223372036854775809"),
        text(&"9".repeat(400)),
        text("NaN"),
        text("1e400"),
        text("-0"),
        text("1.5"),
        text("+1"),
        text(" 1"),
        text("0x10"),
        text("true"),
        text("null"),
        text("[]"),
        text("{}"),
        text("' OR 1=1 --"),
        text("1; DROP TABLE users; --"),
        text("%' OR '%'='"),
        text("\u{202E}1234"),
        text("💥🇩🇪"),
        text("Ω≈ç√∫"),
        text("\0"),
        text("a\nb"),
        text("../../admin"),
        text("a/b"),
        Hostile::Raw("%00"),
        Hostile::Raw("%C0%AF"),
        Hostile::Raw("%ED%A0%80"),
        Hostile::Raw("%"),
        Hostile::Raw("%zz"),
        Hostile::Raw("%2e%2e"),
        text(&base64(b"\xff\xfe garbage \x00\x01")),
        text(&base64(br#"{"seq":18446744073709551615,"id":"x"}"#)),
        text(&base64(&[0xAB; 48])),
        text(&nil.to_string()),
        text(&max_uuid.to_string()),
        text(&nil.simple().to_string()),
        text(&format!("{{{nil}}}")),
        text(&format!("urn:uuid:{nil}")),
        // Shaped like each cursor the API issues, with out-of-range or broken parts.
        text(&format!("{}_{nil}", u64::MAX)),
        text(&format!("9223372036854775808_{nil}")),
        text(&format!("-1_{nil}")),
        text(&format!("{}.{nil}", u64::MAX)),
        text(&format!("9223372036854775808.{txid}")),
        text(&format!("{}.{txid}", u64::MAX)),
        text(&format!("asc~1e400~{nil}")),
        text(&format!("desc~-1~{nil}")),
        text(&format!("asc~{}~{nil}", "9".repeat(30))),
        text("EUR"),
        text("eur"),
    ];
    values.dedup_by(|a, b| a.encoded() == b.encoded());
    values
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Header,
}

#[derive(Debug)]
struct Param {
    name: String,
    location: Location,
    schema: Value,
}

#[derive(Debug)]
struct Operation {
    method: reqwest::Method,
    path: String,
    params: Vec<Param>,
    body: Option<Value>,
    public: bool,
    privileged: bool,
}

/// Every operation of the document, with a body that parses where it takes one, so that the
/// parameters are what is wrong.
fn operations(spec: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| Param {
                            name: p["name"].as_str().expect("a name").to_owned(),
                            location: match p["in"].as_str() {
                                Some("path") => Location::Path,
                                Some("query") => Location::Query,
                                Some("header") => Location::Header,
                                other => panic!("{method} {path}: parameter in {other:?}"),
                            },
                            schema: p["schema"].clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map(|media| example(spec, &media["schema"], 0));
            operations.push(Operation {
                method: method.to_uppercase().parse().expect("a method"),
                path: path.clone(),
                params,
                body,
                public: op["security"]
                    .as_array()
                    .is_none_or(|schemes| schemes.is_empty()),
                privileged: path.starts_with("/api/v1/admin")
                    || path.starts_with("/api/v1/moderation"),
            });
        }
    }
    operations
}

/// A value of `schema` with its required fields filled with plain, parseable values.
fn example(spec: &Value, schema: &Value, depth: usize) -> Value {
    assert!(depth < 16, "schemas nest too deep: {schema}");
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().expect("a schema name");
        return example(spec, &spec["components"]["schemas"][name], depth + 1);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[combinator].as_array().and_then(|s| s.first()) {
            return example(spec, first, depth + 1);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut object = serde_json::Map::new();
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            for name in required.iter().filter_map(Value::as_str) {
                let field = &schema["properties"][name];
                object.insert(name.to_owned(), example(spec, field, depth + 1));
            }
            Value::Object(object)
        }
        Some("array") => Value::Array(Vec::new()),
        Some("integer" | "number") => Value::from(1),
        Some("boolean") => Value::Bool(false),
        Some("string") if schema["format"] == "uuid" => Value::from(uuid::Uuid::nil().to_string()),
        _ => Value::from("1"),
    }
}

/// A value of `param` the server accepts, for the parameters not being tried.
fn plain_value(param: &Param, username: &str) -> String {
    if param.schema["format"] == "uuid" {
        return uuid::Uuid::new_v4().to_string();
    }
    match param.name.as_str() {
        "username" => username.to_owned(),
        "currency" => "EUR".to_owned(),
        _ => String::new(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    User,
    Admin,
}

struct Attempt<'a> {
    op: &'a Operation,
    param: &'a Param,
    value: &'a Hostile,
    caller: Caller,
    token: Option<&'a str>,
}

/// Sends one attempt; a description of what went wrong, if anything did.
async fn attempt(app: &TestApp, http: &reqwest::Client, a: &Attempt<'_>) -> Option<String> {
    let mut path = a.op.path.clone();
    let mut query = String::new();
    let mut headers = Vec::new();
    for p in &a.op.params {
        let tried = std::ptr::eq(p, a.param);
        match p.location {
            Location::Path => {
                let value = if tried {
                    a.value.encoded()
                } else {
                    percent_encode(&plain_value(p, "hostile-user"))
                };
                path = path.replace(&format!("{{{}}}", p.name), &value);
            }
            Location::Query if tried => {
                query = format!("?{}={}", p.name, a.value.encoded());
            }
            Location::Header if tried => match a.value.header() {
                Some(value) => headers.push((p.name.clone(), value)),
                // Not sendable as a header at all: nothing to try.
                None => return None,
            },
            Location::Query | Location::Header => {}
        }
    }
    let url = format!("{}{path}{query}", app.base_url);
    let mut request = http
        .request(a.op.method.clone(), &url)
        .timeout(REQUEST_TIMEOUT);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(token) = a.token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &a.op.body {
        request = request.json(body);
    }
    let what = || {
        format!(
            "{} {} [{}={:.60?}] as {:?}",
            a.op.method,
            a.op.path,
            a.param.name,
            a.value.encoded(),
            a.caller
        )
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Some(format!("{}: no answer: {error}", what())),
    };
    let status = response.status().as_u16();
    let is_stream = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if status < 400 || is_stream {
        // A stream never ends; its status is the answer.
        return None;
    }
    let text = response.text().await.unwrap_or_default();
    let envelope: Option<Value> = serde_json::from_str(&text).ok();
    let code = envelope
        .as_ref()
        .filter(|v| v["message"].is_string())
        .and_then(|v| v["code"].as_str());
    // The test server has no Monero wallet: what needs one says so, whatever the parameters.
    let no_wallet = status == 503 && code == Some("WALLET_UNAVAILABLE");
    if status >= 500 && !no_wallet {
        return Some(format!("{}: answered {status}: {text:.200}", what()));
    }
    code.is_none()
        .then(|| format!("{}: {status} without the envelope: {text:.200}", what()))
}

async fn access_token(client: &pupero_sdk::Client) -> String {
    client.refresh().await.expect("refresh").access_token
}

app_test!(no_parameter_value_gets_a_server_error, |app| {
    let (user, _) = app.user("hostile-user").await;
    let (admin, _) = app.user_with_role("hostile-admin", Role::Admin).await;
    let user_token = access_token(&user).await;
    let admin_token = access_token(&admin).await;
    let http = app.raw();
    let spec: Value = http
        .get(format!("{}/api/openapi.json", app.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations = operations(&spec);
    assert!(
        operations.len() > 50,
        "the document lists {} operations",
        operations.len()
    );
    let values = hostile_values();
    let mut failures = Vec::new();
    let mut sent = 0_usize;
    let mut tried_params = 0_usize;
    for op in &operations {
        for param in &op.params {
            tried_params += 1;
            // Who the handler runs for gets every value; who is refused first gets a few.
            let callers = [
                (Caller::Anonymous, None, op.public),
                (Caller::User, Some(user_token.as_str()), !op.privileged),
                (Caller::Admin, Some(admin_token.as_str()), op.privileged),
            ];
            for (caller, token, admitted) in callers {
                if matches!(caller, Caller::Admin) && !op.privileged {
                    continue;
                }
                let count = if admitted {
                    values.len()
                } else {
                    REFUSED_CALLER_VALUES
                };
                for value in values.iter().take(count) {
                    let a = Attempt {
                        op,
                        param,
                        value,
                        caller,
                        token,
                    };
                    sent += 1;
                    if let Some(failure) = attempt(app, &http, &a).await {
                        failures.push(failure);
                    }
                }
            }
        }
    }
    assert!(
        tried_params > 40,
        "only {tried_params} parameters were found"
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The callers are still who they were: nothing above ended a session.
    assert!(user.me().await.is_ok());
    assert!(admin.me().await.is_ok());
});

/// A GET: its path and query, the bearer token if any, and a header to send.
type Probe<'a> = (String, Option<&'a str>, Option<(&'a str, &'a str)>);

app_test!(oversized_cursors_are_validation_errors, |app| {
    let (user, _) = app.user("cursor-user").await;
    let (admin, _) = app.user_with_role("cursor-admin", Role::Admin).await;
    let user_token = access_token(&user).await;
    let admin_token = access_token(&admin).await;
    let http = app.raw();
    let nil = uuid::Uuid::nil();
    let txid = "ab".repeat(32);
    for too_big in [u64::MAX.to_string(), "9223372036854775808".to_owned()] {
        let requests: Vec<Probe<'_>> = vec![
            (
                format!("/api/v1/events?after={too_big}"),
                Some(&user_token),
                None,
            ),
            (
                format!("/api/v1/events/stream?after={too_big}"),
                Some(&user_token),
                None,
            ),
            (
                "/api/v1/events/stream".to_owned(),
                Some(&user_token),
                Some(("Last-Event-ID", &too_big)),
            ),
            (
                format!("/api/v1/ledger/history?cursor={too_big}"),
                Some(&user_token),
                None,
            ),
            (
                format!("/api/v1/trades?cursor={too_big}_{nil}"),
                Some(&user_token),
                None,
            ),
            (
                format!("/api/v1/moderation/disputes?cursor={too_big}_{nil}"),
                Some(&admin_token),
                None,
            ),
            (
                format!("/api/v1/wallet/withdrawals?cursor={too_big}.{nil}"),
                Some(&user_token),
                None,
            ),
            (
                format!("/api/v1/wallet/deposits?cursor={too_big}.{txid}"),
                Some(&user_token),
                None,
            ),
            (
                format!("/api/v1/users/cursor-user/feedback?cursor={too_big}_{nil}"),
                None,
                None,
            ),
            (
                format!("/api/v1/admin/audit?cursor={too_big}"),
                Some(&admin_token),
                None,
            ),
        ];
        for (path, token, header) in requests {
            let mut request = http
                .get(format!("{}{path}", app.base_url))
                .timeout(REQUEST_TIMEOUT);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("VALIDATION")),
                "GET {path} {header:?}: {body}"
            );
        }
    }
});

app_test!(non_ascii_logins_are_e_mail_lookups, |app| {
    let anonymous = app.new_client();
    anonymous
        .register("jurgen", Some("jürgen@example.org"), PASSWORD)
        .await
        .unwrap();
    // Not ASCII, so no username: on MariaDB the username column could not even be compared.
    anonymous
        .login("jürgen@example.org", PASSWORD)
        .await
        .unwrap();
    for login in ["jürgen", "Ω≈ç√", "\u{202E}jurgen", "💥"] {
        let refused = anonymous.login(login, PASSWORD).await.unwrap_err();
        assert_eq!(refused.status(), Some(401), "{login:?}: {refused:?}");
    }
});
