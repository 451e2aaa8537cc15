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
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::User,
    Caller::OtherUser,
    Caller::Moderator,
    Caller::Admin,
];

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// Everyone, logged in or not.
    Public,
    /// Any logged-in person.
    Sessions,
    /// Admins' sessions only.
    Admins,
}

impl Allowed {
    fn admits(self, caller: Caller) -> bool {
        match self {
            Allowed::Public => true,
            Allowed::Sessions => caller != Caller::Anonymous,
            Allowed::Admins => caller == Caller::Admin,
        }
    }
}

struct Callers {
    tokens: Vec<(Caller, Option<String>)>,
    target: uuid::Uuid,
}

async fn callers(app: &TestApp) -> Callers {
    let (user, _) = app.user("matrix-user").await;
    let (other, _) = app.user("matrix-other").await;
    // Admin actions hit a bystander, so that no caller is disabled half-way through.
    let (_, target) = app.user("matrix-target").await;
    let (moderator, _) = app.user_with_role("matrix-mod", Role::Moderator).await;
    let (admin, _) = app.user_with_role("matrix-admin", Role::Admin).await;
    Callers {
        tokens: vec![
            (Caller::Anonymous, None),
            (
                Caller::User,
                Some(user.refresh().await.unwrap().access_token),
            ),
            (
                Caller::OtherUser,
                Some(other.refresh().await.unwrap().access_token),
            ),
            (
                Caller::Moderator,
                Some(moderator.refresh().await.unwrap().access_token),
            ),
            (
                Caller::Admin,
                Some(admin.refresh().await.unwrap().access_token),
            ),
        ],
        target,
    }
}

/// Sends the request as `caller`; true when the caller got through.
async fn got_through(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (bool, u16, String) {
    let mut request = app
        .raw()
        .request(method.parse().unwrap(), format!("{}{path}", app.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let refused =
        (status == 401 && code == "UNAUTHORIZED") || (status == 403 && code == "FORBIDDEN");
    assert_ne!(status, 500, "{method} {path} answered 500");
    (!refused, status, code)
}

app_test!(every_endpoint_admits_exactly_its_callers, |app| {
    let who = callers(app).await;
    let t = who.target;
    // Endpoints that end sessions come last, so earlier rows keep their callers.
    let endpoints: Vec<(&str, String, Option<serde_json::Value>, Allowed)> = vec![
        ("GET", "/healthz".into(), None, Allowed::Public),
        ("GET", "/readyz".into(), None, Allowed::Public),
        ("GET", "/api/openapi.json".into(), None, Allowed::Public),
        (
            "POST",
            "/api/v1/auth/register".into(),
            Some(serde_json::json!({"username": "x", "password": "short"})),
            Allowed::Public,
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            Some(serde_json::json!({"login": "nobody", "password": "nothing at all"})),
            Allowed::Public,
        ),
        (
            "GET",
            "/api/v1/users/matrix-user".into(),
            None,
            Allowed::Public,
        ),
        ("GET", "/api/v1/me".into(), None, Allowed::Sessions),
        ("GET", "/api/v1/balance".into(), None, Allowed::Sessions),
        (
            "GET",
            "/api/v1/ledger/history".into(),
            None,
            Allowed::Sessions,
        ),
        (
            "PUT",
            "/api/v1/me/email".into(),
            Some(serde_json::json!({"email": null})),
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/me/password".into(),
            Some(
                serde_json::json!({"current_password": "wrong wrong wrong", "new_password": "whatever whatever"}),
            ),
            Allowed::Sessions,
        ),
        (
            "POST",
            "/api/v1/me/delete".into(),
            Some(serde_json::json!({"password": "wrong wrong wrong"})),
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
            Some(serde_json::json!({"role": "user"})),
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
        for (caller, token) in &who.tokens {
            let (through, status, code) =
                got_through(app, token.as_deref(), method, path, body.clone()).await;
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
    assert_eq!(CALLERS.len(), who.tokens.len());
});
