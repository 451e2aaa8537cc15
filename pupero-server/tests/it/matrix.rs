//! The authorization matrix: every endpoint × every kind of caller, asserting exactly who gets
//! through. "Through" means the handler ran: whatever it answered, it was not a refusal of the
//! caller (401 `UNAUTHORIZED` / 403 `FORBIDDEN`).

use pupero_core::Role;

use crate::support::{TestApp, app_test};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    User,
    OtherUser,
    Moderator,
    Admin,
    KeyRead,
    KeyTrade,
    KeyWithdraw,
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// Everyone, logged in or not.
    Public,
    /// Any logged-in person, and API keys with the `read` scope.
    Read,
    /// Any logged-in person, and API keys with the `trade` scope.
    Trade,
    /// The owner of the resource (`User`), by session or by a key with the `trade` scope.
    OwnerTrade,
    /// Any logged-in person, and API keys with the `withdraw` scope.
    Withdraw,
    /// Any logged-in person; never an API key.
    Sessions,
    /// Admins' sessions only.
    Admins,
    /// Moderators' and admins' sessions.
    Moderators,
    /// The two parties of the trade (`User`, `OtherUser`) and `User`'s key with `read`;
    /// anyone else is told the trade does not exist (404).
    Parties,
    /// The two parties of the trade and `User`'s key with `trade`; anyone else gets 404.
    PartiesTrade,
}

impl Allowed {
    fn admits(self, caller: Caller) -> bool {
        let session = matches!(
            caller,
            Caller::User | Caller::OtherUser | Caller::Moderator | Caller::Admin
        );
        match self {
            Allowed::Public => true,
            Allowed::Read => session || caller == Caller::KeyRead,
            Allowed::Trade => session || caller == Caller::KeyTrade,
            Allowed::Withdraw => session || caller == Caller::KeyWithdraw,
            Allowed::OwnerTrade => matches!(caller, Caller::User | Caller::KeyTrade),
            Allowed::Sessions => session,
            Allowed::Admins => caller == Caller::Admin,
            Allowed::Moderators => matches!(caller, Caller::Moderator | Caller::Admin),
            Allowed::Parties => {
                matches!(caller, Caller::User | Caller::OtherUser | Caller::KeyRead)
            }
            Allowed::PartiesTrade => {
                matches!(caller, Caller::User | Caller::OtherUser | Caller::KeyTrade)
            }
        }
    }

    /// Whether a 404 means the caller was refused (the resource is hidden from them).
    fn hides(self) -> bool {
        matches!(self, Allowed::Parties | Allowed::PartiesTrade)
    }
}

/// How a caller proves who it is.
#[derive(Debug, Clone)]
enum Credential {
    None,
    Bearer(String),
    Key(String),
}

struct Callers {
    all: Vec<(Caller, Credential)>,
    /// A bystander the admin endpoints act on, so no caller is disabled half-way.
    target: uuid::Uuid,
    /// A key of `User` that the key endpoints act on.
    target_key: uuid::Uuid,
    /// An offer of `User`.
    offer: uuid::Uuid,
    /// A trade on it: `User` sells, `OtherUser` buys.
    trade: uuid::Uuid,
}

async fn callers(app: &TestApp) -> Callers {
    let (user, user_id) = app.user("matrix-user").await;
    let (other, _) = app.user("matrix-other").await;
    let (_, target) = app.user("matrix-target").await;
    let (moderator, _) = app.user_with_role("matrix-mod", Role::Moderator).await;
    let (admin, _) = app.user_with_role("matrix-admin", Role::Admin).await;
    let mut keys = Vec::new();
    for scope in [
        pupero_sdk::Scope::Read,
        pupero_sdk::Scope::Trade,
        pupero_sdk::Scope::Withdraw,
    ] {
        keys.push(
            user.create_api_key(
                &format!("matrix {}", scope.as_str()),
                &[scope],
                crate::support::PASSWORD,
                None,
            )
            .await
            .unwrap()
            .key,
        );
    }
    let target_key = user
        .create_api_key(
            "to revoke",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap()
        .id;
    let offer = user.create_offer(&offer_request("100")).await.unwrap().id;
    app.fund(user_id, "2").await;
    let trade = other
        .open_trade(
            &pupero_sdk::OpenTradeRequest {
                offer_id: offer,
                amount: "0.5".parse().unwrap(),
                price: "100".parse().unwrap(),
            },
            None,
        )
        .await
        .unwrap()
        .id;
    let bearer = |c: &pupero_sdk::Client| {
        let c = c.clone();
        async move { Credential::Bearer(c.refresh().await.unwrap().access_token) }
    };
    Callers {
        all: vec![
            (Caller::Anonymous, Credential::None),
            (Caller::User, bearer(&user).await),
            (Caller::OtherUser, bearer(&other).await),
            (Caller::Moderator, bearer(&moderator).await),
            (Caller::Admin, bearer(&admin).await),
            (Caller::KeyRead, Credential::Key(keys[0].clone())),
            (Caller::KeyTrade, Credential::Key(keys[1].clone())),
            (Caller::KeyWithdraw, Credential::Key(keys[2].clone())),
        ],
        target,
        target_key,
        offer,
        trade,
    }
}

/// Sends the request as the caller: whether it got through, and what came back.
async fn got_through(
    app: &TestApp,
    credential: &Credential,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (bool, u16, String) {
    // A fresh key on every request: the money steps need one, and it lets their refusals be
    // about the caller rather than a missing header.
    let mut request = app
        .raw()
        .request(method.parse().unwrap(), format!("{}{path}", app.base_url))
        .header("idempotency-key", uuid::Uuid::new_v4().to_string());
    match credential {
        Credential::None => {}
        Credential::Bearer(token) => request = request.bearer_auth(token),
        Credential::Key(key) => request = request.header("x-api-key", key),
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let is_stream = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    // An event stream never ends: its status says enough.
    let text = if is_stream {
        String::new()
    } else {
        response.text().await.unwrap_or_default()
    };
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    assert_ne!(status, 500, "{method} {path} answered 500");
    let refused =
        (status == 401 && code == "UNAUTHORIZED") || (status == 403 && code == "FORBIDDEN");
    (!refused, status, code)
}

app_test!(every_endpoint_admits_exactly_its_callers, |app| {
    let who = callers(app).await;
    let (t, k, o, tr) = (who.target, who.target_key, who.offer, who.trade);
    let json = |v: serde_json::Value| Some(v);
    let offer_json = || json(serde_json::to_value(offer_request("99")).unwrap());
    let bad_offer = || {
        // Valid by the schema (so the caller is what is judged first), refused by the rules:
        // its smallest trade is above its largest.
        let mut bad = offer_request("99");
        bad.min_amount = "3".parse().unwrap();
        bad.max_amount = "1".parse().unwrap();
        json(serde_json::to_value(bad).unwrap())
    };
    // Endpoints that end sessions come last, so earlier rows keep their callers.
    let endpoints: Vec<(&str, String, Option<serde_json::Value>, Allowed)> = vec![
        ("GET", "/healthz".into(), None, Allowed::Public),
        ("GET", "/readyz".into(), None, Allowed::Public),
        ("GET", "/api/openapi.json".into(), None, Allowed::Public),
        (
            "POST",
            "/api/v1/auth/register".into(),
            json(serde_json::json!({"username": "x", "password": "short"})),
            Allowed::Public,
        ),
        // Public: an unknown token is refused as a bad token, never as a missing caller.
        (
            "POST",
            "/api/v1/auth/refresh".into(),
            json(serde_json::json!({"refresh_token": 5})),
            Allowed::Public,
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            json(serde_json::json!({"login": "nobody", "password": "nothing at all"})),
            Allowed::Public,
        ),
        // Public: the same 202 for every login, and a bad token is refused as a bad token.
        (
            "POST",
            "/api/v1/auth/password-reset".into(),
            json(serde_json::json!({"login": "matrix-user"})),
            Allowed::Public,
        ),
        (
            "POST",
            "/api/v1/auth/password-reset/confirm".into(),
            json(serde_json::json!({"token": "pmt_unknown", "new_password": "whatever whatever"})),
            Allowed::Public,
        ),
        (
            "POST",
            "/api/v1/auth/verify-email".into(),
            json(serde_json::json!({"token": "pmt_unknown"})),
            Allowed::Public,
        ),
        (
            "GET",
            "/api/v1/users/matrix-user".into(),
            None,
            Allowed::Public,
        ),
        ("GET", "/api/v1/prices".into(), None, Allowed::Public),
        ("GET", "/api/v1/prices/EUR".into(), None, Allowed::Public),
        (
            "PUT",
            "/api/v1/admin/prices/EUR".into(),
            json(serde_json::json!({"price": "150.25"})),
            Allowed::Admins,
        ),
        ("GET", "/api/v1/me".into(), None, Allowed::Read),
        ("GET", "/api/v1/balance".into(), None, Allowed::Read),
        ("GET", "/api/v1/ledger/history".into(), None, Allowed::Read),
        ("GET", "/api/v1/events".into(), None, Allowed::Read),
        ("GET", "/api/v1/events/stream".into(), None, Allowed::Read),
        (
            "GET",
            "/api/v1/wallet/deposit-address".into(),
            None,
            Allowed::Read,
        ),
        ("GET", "/api/v1/wallet/deposits".into(), None, Allowed::Read),
        (
            "GET",
            "/api/v1/wallet/withdrawals".into(),
            None,
            Allowed::Read,
        ),
        (
            "GET",
            format!("/api/v1/wallet/withdrawals/{}", uuid::Uuid::nil()),
            None,
            Allowed::Read,
        ),
        (
            "GET",
            "/api/v1/wallet/withdrawals/fee-estimate?amount=all".into(),
            None,
            Allowed::Read,
        ),
        (
            "POST",
            "/api/v1/wallet/withdrawals".into(),
            // Well-formed, so that the body passes the schema and the caller is what is judged.
            Some(serde_json::json!({ "address": "4".repeat(95), "amount": "1" })),
            Allowed::Withdraw,
        ),
        (
            "GET",
            "/api/v1/payment-methods".into(),
            None,
            Allowed::Public,
        ),
        ("GET", "/api/v1/fees".into(), None, Allowed::Public),
        ("GET", "/api/v1/offers".into(), None, Allowed::Public),
        ("GET", format!("/api/v1/offers/{o}"), None, Allowed::Public),
        ("GET", "/api/v1/me/offers".into(), None, Allowed::Read),
        ("POST", "/api/v1/offers".into(), bad_offer(), Allowed::Trade),
        (
            "PUT",
            format!("/api/v1/offers/{o}"),
            offer_json(),
            Allowed::OwnerTrade,
        ),
        (
            "POST",
            format!("/api/v1/offers/{o}/pause"),
            None,
            Allowed::OwnerTrade,
        ),
        (
            "POST",
            format!("/api/v1/offers/{o}/resume"),
            None,
            Allowed::OwnerTrade,
        ),
        (
            "DELETE",
            format!("/api/v1/offers/{o}"),
            None,
            Allowed::OwnerTrade,
        ),
        (
            "POST",
            "/api/v1/trades".into(),
            // Parses, so the refusal is the caller's: a key without `trade` is refused before the
            // amount is found outside the offer's limits.
            json(serde_json::json!({"offer_id": o, "amount": "1000000", "price": "100"})),
            Allowed::Trade,
        ),
        ("GET", "/api/v1/trades".into(), None, Allowed::Read),
        (
            "GET",
            format!("/api/v1/trades/{tr}"),
            None,
            Allowed::Parties,
        ),
        // Before the trade is paid and disputed below: moderators see the chat only then.
        (
            "GET",
            format!("/api/v1/trades/{tr}/messages"),
            None,
            Allowed::Parties,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/messages"),
            json(serde_json::json!({"body": "matrix"})),
            Allowed::PartiesTrade,
        ),
        // Parties get through to 409 FEEDBACK_NOT_ALLOWED: the trade is not completed.
        (
            "POST",
            format!("/api/v1/trades/{tr}/feedback"),
            json(serde_json::json!({"rating": "positive"})),
            Allowed::PartiesTrade,
        ),
        (
            "GET",
            "/api/v1/users/matrix-user/feedback".into(),
            None,
            Allowed::Public,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/paid"),
            None,
            Allowed::PartiesTrade,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/release"),
            json(serde_json::json!({})),
            Allowed::PartiesTrade,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/cancel"),
            None,
            Allowed::PartiesTrade,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/dispute"),
            json(serde_json::json!({"reason": "matrix"})),
            Allowed::PartiesTrade,
        ),
        (
            "POST",
            format!("/api/v1/trades/{tr}/resolve"),
            // Valid by the schema, refused by the rules: a split names what the buyer gets.
            json(serde_json::json!({"outcome": "split", "note": "matrix"})),
            Allowed::Moderators,
        ),
        (
            "GET",
            "/api/v1/moderation/disputes".into(),
            None,
            Allowed::Moderators,
        ),
        ("GET", "/api/v1/admin/fees".into(), None, Allowed::Admins),
        (
            "GET",
            "/api/v1/admin/withdrawals/stuck".into(),
            None,
            Allowed::Admins,
        ),
        (
            "POST",
            format!("/api/v1/admin/withdrawals/{}/redrive", uuid::Uuid::nil()),
            None,
            Allowed::Admins,
        ),
        (
            "GET",
            "/api/v1/admin/reconciliation".into(),
            None,
            Allowed::Admins,
        ),
        ("GET", "/api/v1/api-keys".into(), None, Allowed::Sessions),
        (
            "POST",
            "/api/v1/api-keys".into(),
            json(serde_json::json!({"name": "", "scopes": []})),
            Allowed::Sessions,
        ),
        (
            "DELETE",
            format!("/api/v1/api-keys/{k}"),
            None,
            Allowed::Sessions,
        ),
        ("GET", "/api/v1/auth/2fa".into(), None, Allowed::Sessions),
        (
            "POST",
            "/api/v1/auth/2fa/confirm".into(),
            json(serde_json::json!({"code": "000000"})),
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/auth/2fa/disable".into(),
            json(serde_json::json!({"password": "wrong wrong wrong", "code": "000000"})),
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/auth/2fa/setup".into(),
            None,
            Allowed::Sessions,
        ),
        (
            "PUT",
            "/api/v1/me/email".into(),
            json(serde_json::json!({"email": null})),
            Allowed::Sessions,
        ),
        // Through to 409 NO_EMAIL: the callers have no address.
        (
            "POST",
            "/api/v1/me/email/verification".into(),
            None,
            Allowed::Sessions,
        ),
        ("GET", "/api/v1/me/sessions".into(), None, Allowed::Sessions),
        (
            "DELETE",
            format!("/api/v1/me/sessions/{}", uuid::Uuid::nil()),
            None,
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/me/password".into(),
            json(
                serde_json::json!({"current_password": "wrong wrong wrong", "new_password": "whatever whatever"}),
            ),
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/me/delete".into(),
            json(serde_json::json!({"password": "wrong wrong wrong"})),
            Allowed::Sessions,
        ),
        ("GET", "/api/v1/admin/users".into(), None, Allowed::Admins),
        (
            "GET",
            format!("/api/v1/admin/users/{t}"),
            None,
            Allowed::Admins,
        ),
        (
            "PUT",
            format!("/api/v1/admin/users/{t}/role"),
            json(serde_json::json!({"role": "user"})),
            Allowed::Admins,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{t}/enable"),
            None,
            Allowed::Admins,
        ),
        ("GET", "/api/v1/admin/audit".into(), None, Allowed::Admins),
        (
            "POST",
            format!("/api/v1/admin/users/{t}/disable"),
            None,
            Allowed::Admins,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{t}/logout"),
            None,
            Allowed::Admins,
        ),
        (
            "POST",
            "/api/v1/auth/logout".into(),
            None,
            Allowed::Sessions,
        ),
    ];
    for (method, path, body, allowed) in &endpoints {
        for (caller, credential) in &who.all {
            let (through, status, code) =
                got_through(app, credential, method, path, body.clone()).await;
            let through = through && !(allowed.hides() && status == 404);
            assert_eq!(
                through,
                allowed.admits(*caller),
                "{method} {path} as {caller:?}: answered {status} {code}, expected {}",
                if allowed.admits(*caller) {
                    "to get through"
                } else {
                    "a refusal"
                }
            );
        }
    }
});

fn offer_request(price: &str) -> pupero_sdk::OfferRequest {
    pupero_sdk::OfferRequest {
        side: "sell".parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: None,
        price: Some(price.parse().unwrap()),
        margin_percent: None,
        min_amount: "0.1".parse().unwrap(),
        max_amount: "1".parse().unwrap(),
        payment_window_minutes: 60,
        terms: None,
        visibility: "public".parse().unwrap(),
    }
}
