//! Registration, login, refresh, logout.

use crate::support::{PASSWORD, app_test, app_test_with};

app_test!(register_login_and_me, |app| {
    let client = app.new_client();
    let registered = client
        .register("Alice", Some("Alice@Example.org"), PASSWORD)
        .await
        .unwrap();
    assert_eq!(registered.username, "Alice");
    let tokens = client.login("alice", PASSWORD).await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    let me = client.me().await.unwrap();
    assert_eq!(me.id, registered.user_id);
    assert_eq!(me.username, "Alice");
    assert_eq!(me.email.as_deref(), Some("alice@example.org"));
    assert_eq!(me.role, pupero_sdk::Role::User);

    let by_email = app.new_client();
    by_email.login("ALICE@example.org", PASSWORD).await.unwrap();
    assert_eq!(by_email.me().await.unwrap().id, registered.user_id);
});

app_test!(registration_refuses_bad_and_taken_names, |app| {
    let client = app.new_client();
    for (username, email, password) in [
        ("ab", None, PASSWORD),
        ("has space", None, PASSWORD),
        ("bob", None, "short"),
        ("bob", Some("not-an-email"), PASSWORD),
    ] {
        let error = client
            .register(username, email, password)
            .await
            .unwrap_err();
        assert!(error.is_validation(), "{username} {email:?}: {error:?}");
        assert_eq!(error.code(), Some("VALIDATION"));
    }
    client
        .register("bob", Some("bob@example.org"), PASSWORD)
        .await
        .unwrap();
    let taken = client.register("BOB", None, PASSWORD).await.unwrap_err();
    assert_eq!(taken.code(), Some("USERNAME_TAKEN"));
    let email_taken = client
        .register("bobby", Some("BOB@example.org"), PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(email_taken.code(), Some("EMAIL_TAKEN"));
});

app_test!(wrong_password_and_unknown_user_look_the_same, |app| {
    let client = app.new_client();
    client.register("carol", None, PASSWORD).await.unwrap();
    let wrong = client
        .login("carol", "not the password at all")
        .await
        .unwrap_err();
    let unknown = client.login("nobody-here", PASSWORD).await.unwrap_err();
    assert_eq!(wrong.status(), Some(401));
    assert_eq!(wrong.code(), Some("INVALID_CREDENTIALS"));
    assert_eq!(unknown.code(), wrong.code());
    assert_eq!(unknown.message(), wrong.message());
});

app_test!(refresh_rotates_tokens, |app| {
    let (client, _) = app.user("dave").await;
    let first = client.refresh().await.unwrap();
    let second = client.refresh().await.unwrap();
    assert_ne!(first.refresh_token, second.refresh_token);
    assert_ne!(first.access_token, second.access_token);
    client.me().await.unwrap();
});

app_test!(logout_ends_the_session_at_once, |app| {
    let (client, _) = app.user("erin").await;
    let tokens = client.refresh().await.unwrap();
    client.logout().await.unwrap();
    let stolen = app.new_client();
    stolen.set_access_token(tokens.access_token.clone());
    let error = stolen.me().await.unwrap_err();
    assert_eq!(error.code(), Some("SESSION_REVOKED"));
    let error = stolen
        .refresh_with(&tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(error.is_unauthorized(), "{error:?}");
});

app_test!(a_user_lists_their_sessions_and_ends_one, |app, clock| {
    let (laptop, _) = app.user("fran").await;
    let phone = app.new_client();
    clock.advance_secs(5);
    phone.login("fran", PASSWORD).await.unwrap();
    clock.advance_secs(5);
    phone.refresh().await.unwrap();

    let sessions = laptop.my_sessions().await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let (newest, oldest) = (&sessions[0], &sessions[1]);
    assert!(
        newest.created_at_ms > oldest.created_at_ms,
        "most recent first"
    );
    assert!(
        oldest.current && !newest.current,
        "the laptop's is the older one"
    );
    assert!(
        newest.last_active_at_ms > newest.created_at_ms,
        "refreshed since"
    );
    assert_eq!(oldest.last_active_at_ms, oldest.created_at_ms);
    assert_eq!(newest.client_ip.as_deref(), Some("127.0.0.1"));

    // Another user cannot end it, nor learn that it exists.
    let (stranger, _) = app.user("gus").await;
    let e = stranger.end_session(newest.id).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("NOT_FOUND")));
    phone.me().await.unwrap();

    // The owner ends the phone's: its tokens stop at once; the laptop's go on.
    laptop.end_session(newest.id).await.unwrap();
    assert_eq!(
        phone.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
    laptop.me().await.unwrap();
    let e = laptop.end_session(newest.id).await.unwrap_err();
    assert_eq!(e.code(), Some("NOT_FOUND"), "ended once");
    assert_eq!(laptop.my_sessions().await.unwrap().len(), 1);

    // Ending the current one logs out.
    laptop.end_session(oldest.id).await.unwrap();
    assert_eq!(
        laptop.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
});

/// Access tokens that live no longer than the SDK's refresh margin: every call refreshes.
fn short_tokens(settings: &mut pupero_server::Settings) {
    settings.market.rate_limits = crate::support::generous_limits();
    settings.access_token_ttl_secs = 30;
}

// The server rotates the refresh token and ends the session when an old one comes back, so
// calls of one session at the same moment must refresh one after the other (as a website's page
// does, asking for several things at once).
app_test_with!(
    concurrent_calls_of_a_session_refresh_one_at_a_time,
    short_tokens,
    |app, _clock| {
        let client = app.new_client();
        client.register("zoe", None, PASSWORD).await.unwrap();
        client.login("zoe", PASSWORD).await.unwrap();
        for _ in 0..3 {
            let (me, balance, trades, again) = tokio::join!(
                client.me(),
                client.balance(),
                client.trades(None, None, None),
                client.me()
            );
            assert_eq!(me.unwrap().username, "zoe");
            balance.unwrap();
            trades.unwrap();
            again.unwrap();
        }
        // A clone shares the session, and its refreshes too.
        let clone = client.clone();
        let (a, b) = tokio::join!(client.me(), clone.me());
        assert!(a.is_ok() && b.is_ok());
    }
);
