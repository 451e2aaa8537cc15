//! Administration: roles, disabling, forced logout, the audit log.

use pupero_core::Role;

use crate::support::{PASSWORD, app_test};

app_test!(admins_manage_roles_but_not_their_own, |app| {
    let (admin, admin_id) = app.user_with_role("root", Role::Admin).await;
    let (alice, alice_id) = app.user("alice").await;
    let page = admin.admin_list_users(None, None, None).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "root"]
    );
    let only = admin
        .admin_list_users(Some("AL"), None, None)
        .await
        .unwrap();
    assert_eq!(only.items.len(), 1);

    admin.admin_set_role(alice_id, "moderator").await.unwrap();
    assert_eq!(
        alice.me().await.unwrap().role,
        pupero_sdk::Role::Moderator,
        "a role change applies at once"
    );
    assert_eq!(
        admin.admin_get_user(alice_id).await.unwrap().role,
        pupero_sdk::Role::Moderator
    );
    assert!(
        admin
            .admin_set_role(alice_id, "superadmin")
            .await
            .unwrap_err()
            .is_validation()
    );

    let own = admin.admin_set_role(admin_id, "user").await.unwrap_err();
    assert_eq!(own.code(), Some("SELF_ACTION"));
    assert_eq!(
        admin.admin_disable_user(admin_id).await.unwrap_err().code(),
        Some("SELF_ACTION")
    );
    // Nobody below admin changes roles, their own least of all.
    assert!(
        alice
            .admin_set_role(alice_id, "admin")
            .await
            .unwrap_err()
            .is_forbidden()
    );
    assert_eq!(alice.me().await.unwrap().role, pupero_sdk::Role::Moderator);
    assert!(
        admin
            .admin_get_user(uuid::Uuid::new_v4())
            .await
            .unwrap_err()
            .is_not_found()
    );
});

app_test!(disabling_stops_a_user_at_once, |app| {
    let (admin, _) = app.user_with_role("root", Role::Admin).await;
    let (bob, bob_id) = app.user("bob").await;
    admin.admin_disable_user(bob_id).await.unwrap();
    let error = bob.me().await.unwrap_err();
    assert!(error.is_forbidden() || error.is_unauthorized(), "{error:?}");
    let relogin = app.new_client().login("bob", PASSWORD).await.unwrap_err();
    assert_eq!(relogin.code(), Some("ACCOUNT_DISABLED"));
    admin.admin_enable_user(bob_id).await.unwrap();
    app.new_client().login("bob", PASSWORD).await.unwrap();
});

app_test!(forced_logout_ends_every_session, |app| {
    let (admin, _) = app.user_with_role("root", Role::Admin).await;
    let (carol, carol_id) = app.user("carol").await;
    let second = app.new_client();
    second.login("carol", PASSWORD).await.unwrap();
    admin.admin_logout_user(carol_id).await.unwrap();
    assert_eq!(
        carol.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
    assert_eq!(
        second.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
});

app_test!(security_events_reach_the_audit_log, |app| {
    let (admin, _) = app.user_with_role("root", Role::Admin).await;
    let (_dave, dave_id) = app.user("dave").await;
    let _ = app.new_client().login("dave", "definitely not it").await;
    admin.admin_set_role(dave_id, "moderator").await.unwrap();
    let log = admin
        .admin_audit_log(Some(dave_id), None, None)
        .await
        .unwrap();
    let events: Vec<&str> = log.items.iter().map(|e| e.event.as_str()).collect();
    for expected in [
        "registered",
        "login_succeeded",
        "login_failed",
        "role_changed",
    ] {
        assert!(
            events.contains(&expected),
            "{expected} missing from {events:?}"
        );
    }
    assert_eq!(events[0], "role_changed", "newest first");
    let first = admin.admin_audit_log(None, Some(2), None).await.unwrap();
    let next = admin
        .admin_audit_log(None, Some(2), first.next_cursor.as_deref())
        .await
        .unwrap();
    assert!(next.items[0].seq < first.items[1].seq);
});
