//! API keys: scopes, shown once, stored hashed, listed, revoked, and never more than a key.

use pupero_sdk::Client;
use pupero_sdk::Scope;
use sqlx::Row;

use crate::support::{TestApp, app_test};

/// A client that calls with `key` instead of a login.
fn bot(app: &TestApp, key: &str) -> Client {
    Client::with_api_key(app.base_url.clone(), key).unwrap()
}

/// A connection to the test's database, to see what is stored.
async fn db(app: &TestApp) -> sqlx::AnyPool {
    pupero_ledger::open_pool(&app.state.settings.market.database_url, 1)
        .await
        .unwrap()
        .1
}

/// Status and code of `GET path` with `X-API-Key: key`.
async fn get_with_key(app: &TestApp, path: &str, key: &str) -> (u16, String) {
    let response = app
        .raw()
        .get(format!("{}{path}", app.base_url))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

app_test!(a_read_key_reads_and_manages_nothing, |app| {
    let (client, user) = app.user("robot-owner").await;
    let created = client
        .create_api_key(
            "price bot",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.scopes, vec![Scope::Read]);
    let bot = bot(app, &created.key);
    assert_eq!(bot.me().await.unwrap().id, user);
    bot.balance().await.unwrap();
    bot.ledger_history(None, None).await.unwrap();

    // A key never manages keys or sessions, whatever its scopes.
    let forbidden = [
        bot.create_api_key(
            "another",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap_err(),
        bot.list_api_keys().await.unwrap_err(),
        bot.revoke_api_key(created.id).await.unwrap_err(),
        bot.logout().await.unwrap_err(),
    ];
    for error in forbidden {
        assert_eq!(error.status(), Some(403), "{error:?}");
        assert_eq!(error.code(), Some("FORBIDDEN"));
    }
    // Still usable: the refused calls changed nothing.
    bot.me().await.unwrap();
    assert_eq!(client.list_api_keys().await.unwrap().len(), 1);
});

app_test!(a_key_without_read_cannot_read, |app| {
    let (client, _) = app.user("trader").await;
    let created = client
        .create_api_key(
            "trading bot",
            &[pupero_sdk::Scope::Trade, pupero_sdk::Scope::Withdraw],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.scopes, vec![Scope::Trade, Scope::Withdraw]);
    let bot = bot(app, &created.key);
    for error in [
        bot.me().await.unwrap_err(),
        bot.balance().await.unwrap_err(),
        bot.ledger_history(None, None).await.unwrap_err(),
    ] {
        assert!(error.is_forbidden(), "{error:?}");
        assert_eq!(error.code(), Some("FORBIDDEN"));
    }

    // Sent along with a valid access token, the key still decides: the narrower credential.
    let access = client.refresh().await.unwrap().access_token;
    let response = app
        .raw()
        .get(format!("{}/api/v1/me", app.base_url))
        .bearer_auth(access)
        .header("X-API-Key", &created.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
});

app_test!(the_secret_is_shown_once_and_stored_hashed, |app| {
    let (client, user) = app.user("keeper").await;
    let created = client
        .create_api_key(
            "  reporting  ",
            &[pupero_sdk::Scope::Read, pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.name, "reporting");
    assert_eq!(created.scopes, vec![Scope::Read]);
    assert!(created.key.starts_with("pk_"));
    assert!(created.key.starts_with(&created.prefix));
    assert!(created.prefix.len() < created.key.len() / 3);
    assert!(
        !format!("{created:?}").contains(&created.key),
        "Debug hides the key"
    );

    // Listed without the secret, in the SDK and on the wire.
    let listed = client.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);
    assert_eq!(listed[0].prefix, created.prefix);
    assert_eq!(listed[0].created_at_ms, created.created_at_ms);
    assert_eq!(listed[0].last_used_at_ms, None);
    assert!(!listed[0].revoked);
    let access = client.refresh().await.unwrap().access_token;
    let raw = app
        .raw()
        .get(format!("{}/api/v1/api-keys", app.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains(&created.key), "{raw}");
    assert!(!raw.contains("\"key\""), "{raw}");

    // The database holds the SHA-256 only.
    let pool = db(app).await;
    let rows = sqlx::query("SELECT key_hash, prefix, name, user_id FROM api_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].try_get(0).unwrap();
    assert_eq!(hash, pupero_market::security::token_hash(&created.key));
    assert_eq!(hash.len(), 64);
    for column in 0..4 {
        let value: String = rows[0].try_get(column).unwrap();
        assert!(!value.contains(&created.key[3..]), "column {column}");
    }
    pool.close().await;

    // Use is recorded: the time (to the minute) and, once per process, the audit log.
    let bot = bot(app, &created.key);
    bot.me().await.unwrap();
    bot.balance().await.unwrap();
    let used = client.list_api_keys().await.unwrap()[0].last_used_at_ms;
    assert!(used.is_some_and(|t| t >= created.created_at_ms), "{used:?}");
    client.revoke_api_key(created.id).await.unwrap();
    let events: Vec<String> = app
        .state
        .market
        .store
        .audit_page(Some(pupero_core::UserId::from_uuid(user)), None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event)
        .filter(|event| event.starts_with("api_key"))
        .collect();
    assert_eq!(
        events,
        ["api_key_revoked", "api_key_used", "api_key_created"],
        "newest first, one use"
    );
});

app_test!(a_revoked_key_stops_at_once, |app| {
    let (client, _) = app.user("revoker").await;
    let created = client
        .create_api_key(
            "old",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    let kept = client
        .create_api_key(
            "new",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    let old = bot(app, &created.key);
    old.me().await.unwrap();
    client.revoke_api_key(created.id).await.unwrap();
    let error = old.me().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.code(), Some("UNAUTHORIZED"));
    // Revoking twice is not an error; the list shows it revoked, newest first.
    client.revoke_api_key(created.id).await.unwrap();
    let listed = client.list_api_keys().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|k| (k.id, k.revoked)).collect();
    assert_eq!(ids, vec![(kept.id, false), (created.id, true)]);
    assert!(listed[1].revoked_at_ms.is_some());
    bot(app, &kept.key).me().await.unwrap();
});

app_test!(other_users_keys_are_out_of_reach, |app| {
    let (alice, _) = app.user("alice-keys").await;
    let (bob, _) = app.user("bob-keys").await;
    let key = alice
        .create_api_key(
            "alice's",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    for id in [key.id, uuid::Uuid::now_v7()] {
        let error = bob.revoke_api_key(id).await.unwrap_err();
        assert!(error.is_not_found(), "{error:?}");
        assert_eq!(error.code(), Some("NOT_FOUND"));
    }
    assert!(bob.list_api_keys().await.unwrap().is_empty());
    assert_eq!(
        bot(app, &key.key).me().await.unwrap().username,
        "alice-keys"
    );
});

app_test!(unknown_and_malformed_keys_are_refused, |app| {
    let (client, _) = app.user("honest").await;
    let real = client
        .create_api_key(
            "real",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    let mut flipped = real.key.clone();
    let last = if flipped.ends_with('A') { "B" } else { "A" };
    flipped.replace_range(flipped.len() - 1.., last);
    let well_formed = format!("pk_{}", "A".repeat(43));
    let longer = format!("{}A", real.key);
    for key in [
        "garbage",
        "",
        "pk_",
        well_formed.as_str(),
        flipped.as_str(),
        real.prefix.as_str(),
        longer.as_str(),
    ] {
        assert_eq!(
            get_with_key(app, "/api/v1/me", key).await,
            (401, "UNAUTHORIZED".to_owned()),
            "{key:?}"
        );
    }
    assert_eq!(bot(app, &real.key).me().await.unwrap().username, "honest");
});

app_test!(a_disabled_owner_stops_every_key, |app| {
    let (client, user) = app.user("sleeper").await;
    let key = client
        .create_api_key(
            "bot",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    let pool = db(app).await;
    sqlx::query("UPDATE users SET disabled = 1 WHERE id = ?")
        .bind(user.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let error = bot(app, &key.key).me().await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.code(), Some("ACCOUNT_DISABLED"));
});

app_test!(creation_is_validated_and_bounded, |app| {
    let (client, _) = app.user("maker").await;
    for (name, scopes) in [
        ("", vec![Scope::Read]),
        ("   ", vec![Scope::Read]),
        (&*"n".repeat(65), vec![Scope::Read]),
        ("tab\there", vec![Scope::Read]),
        ("no scopes", vec![]),
    ] {
        let error = client
            .create_api_key(name, &scopes, crate::support::PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("VALIDATION"), "{name:?} {scopes:?}");
    }
    // 64 characters, not bytes.
    client
        .create_api_key(
            &"é".repeat(64),
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();

    let access = client.refresh().await.unwrap().access_token;
    for body in [
        serde_json::json!({"name": "x", "scopes": ["admin"]}),
        serde_json::json!({"name": "x", "scopes": ["read", "READ"]}),
        serde_json::json!({"name": "x"}),
        serde_json::json!({"name": "x", "scopes": "read"}),
    ] {
        let response = app
            .raw()
            .post(format!("{}/api/v1/api-keys", app.base_url))
            .bearer_auth(&access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "VALIDATION", "{body}");
    }

    // At most 20 keys in use; revoking one makes room.
    let limit = usize::try_from(pupero_market::store::MAX_ACTIVE_API_KEYS_PER_USER).unwrap();
    let mut last = None;
    for i in 1..limit {
        last = Some(
            client
                .create_api_key(
                    &format!("bot {i}"),
                    &[pupero_sdk::Scope::Trade],
                    crate::support::PASSWORD,
                    None,
                )
                .await
                .unwrap(),
        );
    }
    let error = client
        .create_api_key(
            "one too many",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap_err();
    assert!(error.is_conflict(), "{error:?}");
    assert_eq!(error.code(), Some("API_KEY_LIMIT"));
    client.revoke_api_key(last.unwrap().id).await.unwrap();
    client
        .create_api_key(
            "replacement",
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    assert_eq!(client.list_api_keys().await.unwrap().len(), limit + 1);
});
