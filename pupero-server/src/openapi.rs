//! The OpenAPI document as published: poem-openapi's, finished by the few rules below where
//! the framework cannot say what the server does.
//!
//! - A JSON body is `application/json` (the framework writes `; charset=utf-8` into the
//!   media type, which generators do not match).
//! - A public operation says so: `security: []`.
//! - Each operation lists the error statuses it can give, not every status of the shared
//!   error type (`error_statuses`), and those the HTTP layer adds around a request body
//!   (408, 411, 413, 415).
//! - The event stream is `text/event-stream`, its `data:` lines described.
//! - A field whose type is an object refers to its schema directly: a `$ref` wrapped in
//!   `allOf` only to carry a description makes generators invent a class per field.

use serde_json::{Map, Value, json};

/// The media type of every JSON body.
const JSON: &str = "application/json";

/// Statuses the HTTP layer answers for a request body before any handler runs.
const BODY_STATUSES: [(&str, &str); 4] = [
    (
        "408",
        "The request body did not arrive in time (`REQUEST_TIMEOUT`); the connection is closed.",
    ),
    ("411", "The request body has no length (`LENGTH_REQUIRED`)."),
    (
        "413",
        "The request body is larger than allowed (`PAYLOAD_TOO_LARGE`).",
    ),
    (
        "415",
        "The request body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`).",
    ),
];

/// Public operations that still answer for credentials: the ones that take them.
const CREDENTIAL_CHECKS: [&str; 3] = ["login", "refresh", "confirm_password_reset"];

/// Operations that name another resource in their body, which may not exist.
const BODY_REFERENCES: [&str; 1] = ["open_trade"];

/// Operations on a resource that may not exist without naming it: the caller's Matrix link
/// (none yet, or the server has no bridge).
const OPTIONAL_RESOURCES: [&str; 3] = ["start_matrix_link", "matrix_link", "unlink_matrix"];

/// The document as served at `/api/openapi.json` and committed as `openapi/pupero.yaml`.
pub fn document() -> Value {
    let spec = crate::app::openapi().spec();
    let mut doc: Value = serde_json::from_str(&spec).unwrap_or_else(|_| json!({}));
    finish(&mut doc);
    sort_keys(&mut doc);
    doc
}

/// Every object's keys in sorted order, as `serde_json` keeps them by default: the document is
/// the same byte for byte when another crate of the build turns on its `preserve_order`.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// The document as YAML, its sections in the usual order.
pub fn yaml() -> String {
    let mut doc = document();
    let mut ordered = serde_yaml::Mapping::new();
    for key in ["openapi", "info", "servers", "tags", "paths", "components"] {
        if let Some(value) = doc.as_object_mut().and_then(|d| d.remove(key)) {
            ordered.insert(key.into(), serde_yaml::to_value(value).unwrap_or_default());
        }
    }
    serde_yaml::to_string(&ordered).unwrap_or_default()
}

fn finish(doc: &mut Value) {
    walk(doc);
    nullable_request_fields(doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let Some(op) = op.as_object_mut() {
                finish_operation(method, op);
            }
        }
    }
}

/// The optional fields of request bodies take `null` as absent (the server reads them so);
/// the document says so, and keeps responses strict (an absent field is left out there).
fn nullable_request_fields(doc: &mut Value) {
    let mut requests: Vec<String> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for op in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|i| i.values())
        {
            let schema = &op["requestBody"]["content"][JSON]["schema"]["$ref"];
            if let Some(name) = schema.as_str().and_then(|r| r.rsplit('/').next()) {
                requests.push(name.to_owned());
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for name in requests {
        let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) else {
            continue;
        };
        let required: Vec<Value> = schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            if required.contains(&Value::from(field.as_str())) {
                continue;
            }
            if let Some(reference) = property.get("$ref").cloned() {
                // A `$ref` takes no siblings in OpenAPI 3.0.
                *property = json!({ "allOf": [{ "$ref": reference }], "nullable": true });
            } else if let Some(property) = property.as_object_mut() {
                property.insert("nullable".to_owned(), json!(true));
            }
        }
    }
}

/// Media types and `allOf` wrappers, wherever they are.
fn walk(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(content) = map.get_mut("content").and_then(Value::as_object_mut) {
                let renamed: Vec<String> = content
                    .keys()
                    .filter(|k| k.starts_with(JSON) && k.as_str() != JSON)
                    .cloned()
                    .collect();
                for key in renamed {
                    if let Some(media) = content.remove(&key) {
                        content.insert(JSON.to_owned(), media);
                    }
                }
            }
            if let Some(reference) = lone_reference(map) {
                *value = reference;
                return;
            }
            for child in map.values_mut() {
                walk(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(walk),
        _ => {}
    }
}

/// `{allOf: [{$ref}, {description}?], description?}` → `{$ref}`.
fn lone_reference(map: &Map<String, Value>) -> Option<Value> {
    let all_of = map.get("allOf")?.as_array()?;
    let (reference, rest) = all_of.split_first()?;
    reference.get("$ref")?;
    let only_descriptions = rest.iter().all(|part| {
        part.as_object()
            .is_some_and(|o| o.keys().all(|k| k == "description"))
    });
    (only_descriptions && map.keys().all(|k| k == "allOf" || k == "description"))
        .then(|| reference.clone())
}

fn finish_operation(method: &str, op: &mut Map<String, Value>) {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !secured {
        op.insert("security".to_owned(), json!([]));
    }
    let has_body = op.contains_key("requestBody");
    let params: Vec<String> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("in").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let keep = error_statuses(&ErrorFacts {
        id: &id,
        method,
        secured,
        has_body,
        has_params: !params.is_empty(),
        has_path_params: params.iter().any(|p| p == "path"),
    });
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        let error_schema = responses
            .get("400")
            .or_else(|| responses.get("500"))
            .and_then(|r| r.get("content"))
            .cloned();
        responses.retain(|status, _| !is_error(status) || keep.contains(&status.as_str()));
        for (status, response) in responses.iter_mut() {
            let empty = response
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                response["description"] = json!(reason(status));
            }
        }
        if has_body {
            for (status, description) in BODY_STATUSES {
                let mut response = json!({ "description": description });
                if let Some(content) = &error_schema {
                    response["content"] = content.clone();
                }
                responses.insert(status.to_owned(), response);
            }
        }
        if id == "event_stream"
            && let Some(ok) = responses.get_mut("200")
        {
            ok["content"] = json!({
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-Sent Events: per event, `id:` its `seq`, \
                            `event:` its `kind`, and one `data:` line holding the event as \
                            JSON, a `UserEvent` (see the `events` operation). Comment lines \
                            (`:`) keep the connection open.",
                    }
                }
            });
        }
    }
}

/// What decides which errors an operation can give.
struct ErrorFacts<'a> {
    id: &'a str,
    method: &'a str,
    secured: bool,
    has_body: bool,
    has_params: bool,
    has_path_params: bool,
}

/// The error statuses an operation can give:
/// - 400 when it reads anything from the request (parameters or a body);
/// - 401 and 403 when it needs credentials, or checks them itself (login, refresh);
/// - 404 when it names a resource (a path parameter, or an id in its body), or acts on one that
///   may not exist (the caller's Matrix link);
/// - 409 when it changes something (any method but GET);
/// - 429 when it is rate-limited: credentials are (failed API-key attempts) and so are the
///   changes (logins, registrations, second factors, chat, mail);
/// - 500 and 503 always: the database may fail or be away.
fn error_statuses(facts: &ErrorFacts<'_>) -> Vec<&'static str> {
    let mut keep = vec!["500", "503"];
    let changes = facts.method != "get";
    if facts.has_params || facts.has_body {
        keep.push("400");
    }
    if facts.secured || CREDENTIAL_CHECKS.contains(&facts.id) {
        keep.extend(["401", "403"]);
    }
    if facts.has_path_params
        || BODY_REFERENCES.contains(&facts.id)
        || OPTIONAL_RESOURCES.contains(&facts.id)
    {
        keep.push("404");
    }
    if changes {
        keep.push("409");
    }
    if facts.secured || changes {
        keep.push("429");
    }
    keep
}

/// The standard reason phrase of a success status, for a response the code left undescribed.
fn reason(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No Content",
        _ => "Response",
    }
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// The methods the API serves at `path`, as an `Allow` header's value: what a 405 names. The
/// most literal template wins (`/offers/search` over `/offers/{id}`).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    static ROUTES: std::sync::LazyLock<Vec<(Vec<String>, String)>> =
        std::sync::LazyLock::new(|| {
            let doc = document();
            let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
                return Vec::new();
            };
            paths
                .iter()
                .map(|(template, item)| {
                    let segments = template.split('/').map(str::to_owned).collect();
                    let methods: Vec<String> = item
                        .as_object()
                        .map(|ops| ops.keys().map(|m| m.to_ascii_uppercase()).collect())
                        .unwrap_or_default();
                    (segments, methods.join(", "))
                })
                .collect()
        });
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    ROUTES
        .iter()
        .filter(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .max_by_key(|(template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
        .map(|(_, allow)| allow.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pupero_core::limits::{
        MAX_CHAT_MESSAGE_CHARS, MAX_CHAT_PAGE_SIZE, MAX_FEEDBACK_COMMENT_CHARS,
        MAX_FEEDBACK_PAGE_SIZE, MAX_HISTORY_PAGE_SIZE, MAX_OFFER_PAGE_SIZE, MAX_OFFER_TERMS_CHARS,
        MAX_PAYMENT_DETAILS_CHARS, MAX_PAYMENT_WINDOW_MINUTES, MIN_PAYMENT_WINDOW_MINUTES,
    };
    use pupero_core::user::{EMAIL_MAX_LEN, PASSWORD_MAX_BYTES, PASSWORD_MIN_LEN};

    fn property<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
        &doc["components"]["schemas"][schema]["properties"][field]
    }

    fn number(value: &Value, key: &str) -> u64 {
        value[key]
            .as_u64()
            // Validators publish floats (`100.0`), whose text is the integer's.
            .or_else(|| value[key].as_f64().and_then(|f| f.to_string().parse().ok()))
            .unwrap_or_else(|| panic!("{key} missing in {value}"))
    }

    fn query_limit(doc: &Value, path: &str) -> u64 {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        number(&limit["schema"], "maximum")
    }

    /// The limits the document publishes are the domain's: a change to one fails here until
    /// the other follows.
    #[test]
    fn published_limits_are_the_domain_limits() {
        let doc = document();
        let as_u64 = |n: usize| u64::try_from(n).unwrap();
        let window = property(&doc, "OfferRequest", "payment_window_minutes");
        assert_eq!(
            number(window, "minimum"),
            u64::from(MIN_PAYMENT_WINDOW_MINUTES)
        );
        assert_eq!(
            number(window, "maximum"),
            u64::from(MAX_PAYMENT_WINDOW_MINUTES)
        );
        for (schema, field, max) in [
            ("OfferRequest", "terms", MAX_OFFER_TERMS_CHARS),
            ("OfferRequest", "payment_details", MAX_PAYMENT_DETAILS_CHARS),
            ("PostMessageRequest", "body", MAX_CHAT_MESSAGE_CHARS),
            ("ResolveRequest", "note", MAX_CHAT_MESSAGE_CHARS),
            ("DisputeRequest", "reason", MAX_CHAT_MESSAGE_CHARS),
            ("FeedbackRequest", "comment", MAX_FEEDBACK_COMMENT_CHARS),
            ("RegisterRequest", "email", EMAIL_MAX_LEN),
            ("RegisterRequest", "password", PASSWORD_MAX_BYTES),
            (
                "CreateApiKeyRequest",
                "name",
                pupero_market::api_keys::MAX_API_KEY_NAME_CHARS,
            ),
        ] {
            let got = number(property(&doc, schema, field), "maxLength");
            assert_eq!(got, as_u64(max), "{schema}.{field}");
        }
        let password = property(&doc, "RegisterRequest", "password");
        assert_eq!(number(password, "minLength"), as_u64(PASSWORD_MIN_LEN));
        for (path, max) in [
            ("/api/v1/offers", MAX_OFFER_PAGE_SIZE),
            ("/api/v1/trades", pupero_market::store::MAX_TRADES_PER_PAGE),
            ("/api/v1/ledger/history", MAX_HISTORY_PAGE_SIZE),
            ("/api/v1/trades/{id}/messages", MAX_CHAT_PAGE_SIZE),
            ("/api/v1/users/{username}/feedback", MAX_FEEDBACK_PAGE_SIZE),
        ] {
            assert_eq!(query_limit(&doc, path), u64::from(max), "{path}");
        }
    }

    #[test]
    fn the_document_is_finished() {
        let doc = document();
        let text = doc.to_string();
        assert!(!text.contains("charset"), "plain application/json");
        assert!(
            !doc["components"]["schemas"]["TradeView"]
                .to_string()
                .contains("allOf"),
            "no $ref wrapped in allOf"
        );
        assert!(!doc["servers"].as_array().unwrap().is_empty());
        let login = &doc["paths"]["/api/v1/auth/login"]["post"];
        assert_eq!(login["security"], json!([]));
        assert!(login["responses"]["415"].is_object());
        let me = &doc["paths"]["/api/v1/me"]["get"];
        assert!(me["responses"]["400"].is_null(), "nothing to validate");
        assert!(me["responses"]["401"].is_object());
    }

    #[test]
    fn a_405_names_the_methods_of_its_path() {
        assert_eq!(allowed_methods("/api/v1/trades"), Some("GET, POST"));
        assert_eq!(
            allowed_methods(&format!("/api/v1/offers/{}", uuid::Uuid::nil())),
            Some("DELETE, GET, PUT")
        );
        assert_eq!(allowed_methods("/nowhere"), None);
    }
}
