//! Attacks that must fail, each a test.

use base64::Engine as _;
use pupero_core::{Timestamp, UserId};
use pupero_server::tokens::TokenSigner;

use crate::support::{TestApp, app_test};

async fn status_and_code(app: &TestApp, path: &str, bearer: &str) -> (u16, String) {
    let response = app
        .raw()
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

app_test!(protected_endpoints_refuse_anonymous_callers, |app| {
    for (method, path) in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/balance"),
        ("GET", "/api/v1/ledger/history"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        (
            "DELETE",
            "/api/v1/api-keys/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        let request = app
            .raw()
            .request(method.parse().unwrap(), format!("{}{path}", app.base_url));
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED", "{method} {path}");
    }
});

app_test!(forged_and_stale_tokens_are_refused, |app| {
    let (client, user) = app.user("mallory").await;
    let tokens = client.refresh().await.unwrap();
    let claims = app.state.tokens.check(&tokens.access_token).unwrap();
    let user = UserId::from_uuid(user);
    let now = app.state.now();

    // Signed with another key.
    let other = TokenSigner::new(b"an entirely different signing key!!", 900);
    let (forged, _) = other.issue(user, claims.sid, now).unwrap();
    assert_eq!(
        status_and_code(app, "/api/v1/me", &forged).await,
        (401, "UNAUTHORIZED".to_owned())
    );

    // `alg: none`, unsigned.
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(serde_json::to_string(&claims_json(&claims))
        .unwrap()
        .as_bytes());
    let unsigned = format!("{header}.{body}.");
    assert_eq!(
        status_and_code(app, "/api/v1/me", &unsigned).await,
        (401, "UNAUTHORIZED".to_owned())
    );

    // HS512 with the right key: only HS256 is accepted.
    let secret = app.state.settings.jwt_secret.expose().as_bytes();
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert_eq!(
        status_and_code(app, "/api/v1/me", &hs512).await,
        (401, "UNAUTHORIZED".to_owned())
    );

    // Right key, but expired.
    let signer = TokenSigner::new(secret, 60);
    let (expired, _) = signer
        .issue(
            user,
            claims.sid,
            Timestamp::from_unix_ms(now.as_unix_ms() - 3_600_000),
        )
        .unwrap();
    assert_eq!(
        status_and_code(app, "/api/v1/me", &expired).await,
        (401, "TOKEN_EXPIRED".to_owned())
    );

    // Right key, wrong type.
    let mut refresh_typed = claims.clone();
    refresh_typed.typ = "refresh".to_owned();
    let wrong_type = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &refresh_typed,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert_eq!(
        status_and_code(app, "/api/v1/me", &wrong_type).await,
        (401, "UNAUTHORIZED".to_owned())
    );

    // The opaque refresh token is never an access token.
    assert_eq!(
        status_and_code(app, "/api/v1/me", &tokens.refresh_token).await,
        (401, "UNAUTHORIZED".to_owned())
    );

    // The genuine token still works.
    assert_eq!(client.me().await.unwrap().username, "mallory");
});

fn claims_json(claims: &pupero_server::tokens::AccessClaims) -> serde_json::Value {
    serde_json::to_value(claims).unwrap()
}

app_test!(replayed_refresh_token_revokes_the_session, |app| {
    let (client, _) = app.user("trudy").await;
    let first = client.refresh().await.unwrap();
    let second = client.refresh_with(&first.refresh_token).await.unwrap();
    // An attacker replays the first refresh token, already used.
    let attacker = app.new_client();
    let error = attacker
        .refresh_with(&first.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("SESSION_REVOKED"));
    // The whole family is dead: the newest tokens too.
    let error = client
        .refresh_with(&second.refresh_token)
        .await
        .unwrap_err();
    assert!(error.is_unauthorized());
    let victim = app.new_client();
    victim.set_access_token(second.access_token);
    assert_eq!(
        victim.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
});

app_test!(concurrent_refreshes_with_one_token_succeed_once, |app| {
    let (client, _) = app.user("oscar").await;
    let tokens = client.refresh().await.unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let c = app.new_client();
            let token = tokens.refresh_token.clone();
            tokio::spawn(async move { c.refresh_with(&token).await })
        })
        .collect();
    let mut ok = 0;
    for attempt in attempts {
        if attempt.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok <= 1,
        "a refresh token is accepted at most once, got {ok}"
    );
});
