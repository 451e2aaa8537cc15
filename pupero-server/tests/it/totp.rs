//! Two-factor authentication: setup, login with a code, the replay guard, recovery codes,
//! disabling, encryption at rest. The server runs on a manual clock; codes are computed here
//! with totp-rs from the secret the server hands out, as an authenticator app would.

use base64::Engine as _;
use pupero_core::{Clock as _, ManualClock, UserId};
use pupero_market::crypto::Purpose;
use pupero_market::two_factor::SecondFactorProof;
use pupero_sdk::{Client, SecondFactor, TotpSetup};
use totp_rs::{Builder, Secret, Totp};

use crate::support::{PASSWORD, TestApp, app_test};

fn authenticator(secret: &str) -> Totp {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("standard TOTP")
}

/// The code an authenticator app shows at the clock's time.
pub(crate) fn code_now(secret: &str, clock: &ManualClock) -> String {
    authenticator(secret)
        .generate(clock.now().as_unix_ms() / 1000)
        .to_string()
}

/// A well-formed code that is valid at no step the server accepts now.
pub(crate) fn wrong_code(secret: &str, clock: &ManualClock) -> String {
    let totp = authenticator(secret);
    let now = clock.now().as_unix_ms() / 1000;
    let valid: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp.generate(*t).to_string())
        .collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// Turns 2FA on for the client's user: the setup and the recovery codes.
pub(crate) async fn enable(client: &Client, clock: &ManualClock) -> (TotpSetup, Vec<String>) {
    let setup = client.totp_setup().await.unwrap();
    let codes = client
        .totp_confirm(PASSWORD, &code_now(&setup.secret, clock))
        .await
        .unwrap();
    (setup, codes.recovery_codes)
}

async fn audit_events(app: &TestApp, user: uuid::Uuid) -> Vec<String> {
    app.state
        .market
        .store
        .audit_page(Some(UserId::from_uuid(user)), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event)
        .collect()
}

app_test!(setup_confirm_then_login_needs_a_fresh_code, |app, clock| {
    let (client, user) = app.user("tina").await;
    let status = client.totp_status().await.unwrap();
    assert!(!status.enabled);

    let setup = client.totp_setup().await.unwrap();
    assert!(
        setup.otpauth_uri.starts_with("otpauth://totp/Pupero:tina?"),
        "{}",
        setup.otpauth_uri
    );
    assert!(setup.otpauth_uri.contains("issuer=Pupero"));
    assert!(
        setup
            .otpauth_uri
            .contains(&format!("secret={}", setup.secret))
    );
    assert!(setup.qr_svg.contains("<svg"));

    for bad in [wrong_code(&setup.secret, clock), "12345".to_owned()] {
        let error = client.totp_confirm(PASSWORD, &bad).await.unwrap_err();
        assert!(error.is_invalid_totp(), "{bad}: {error:?}");
        assert_eq!(error.status(), Some(403));
    }
    assert!(!client.totp_status().await.unwrap().enabled);

    let confirm_code = code_now(&setup.secret, clock);
    let codes = client
        .totp_confirm(PASSWORD, &confirm_code)
        .await
        .unwrap()
        .recovery_codes;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    assert!(codes.iter().all(|c| c.len() == 19), "{codes:?}");
    let status = client.totp_status().await.unwrap();
    assert!(status.enabled);
    assert_eq!(status.recovery_codes_left, 10);
    for error in [
        client.totp_setup().await.unwrap_err(),
        client
            .totp_confirm(PASSWORD, &confirm_code)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(error.code(), Some("TOTP_ALREADY_ENABLED"), "{error:?}");
        assert!(error.is_conflict());
    }

    let other = app.new_client();
    let required = other.login("tina", PASSWORD).await.unwrap_err();
    assert_eq!(required.status(), Some(401));
    assert!(required.is_totp_required(), "{required:?}");
    // A wrong password stays a wrong password, with or without a code.
    for attempt in [
        other.login("tina", "not the password at all").await,
        other
            .login_with_totp(
                "tina",
                "not the password at all",
                &code_now(&setup.secret, clock),
            )
            .await,
    ] {
        assert_eq!(attempt.unwrap_err().code(), Some("INVALID_CREDENTIALS"));
    }
    let wrong = other
        .login_with_totp("tina", PASSWORD, &wrong_code(&setup.secret, clock))
        .await
        .unwrap_err();
    assert_eq!(wrong.status(), Some(401));
    assert!(wrong.is_invalid_totp(), "{wrong:?}");
    // The code that confirmed the setup is used up.
    let replayed = other
        .login_with_totp("tina", PASSWORD, &confirm_code)
        .await
        .unwrap_err();
    assert!(replayed.is_invalid_totp(), "{replayed:?}");

    clock.advance_secs(30);
    let code = code_now(&setup.secret, clock);
    other
        .login_with_totp("tina", PASSWORD, &code)
        .await
        .unwrap();
    assert_eq!(other.me().await.unwrap().id, user);
    let replayed = app
        .new_client()
        .login_with_totp("tina", PASSWORD, &code)
        .await
        .unwrap_err();
    assert!(replayed.is_invalid_totp(), "{replayed:?}");

    // A code older than the last one used is refused even within the skew window.
    let older = authenticator(&setup.secret)
        .generate(clock.now().as_unix_ms() / 1000 - 30)
        .to_string();
    assert!(
        app.new_client()
            .login_with_totp("tina", PASSWORD, &older)
            .await
            .unwrap_err()
            .is_invalid_totp()
    );

    let events = audit_events(app, user).await;
    assert!(events.iter().any(|e| e == "totp_enabled"), "{events:?}");
    assert!(events.iter().any(|e| e == "login_failed"), "{events:?}");
});

app_test!(one_code_used_twice_at_once_lets_one_in, |app, clock| {
    let (client, _) = app.user("uma").await;
    let (setup, _) = enable(&client, clock).await;
    clock.advance_secs(30);
    let code = code_now(&setup.secret, clock);
    let (a, b) = (app.new_client(), app.new_client());
    let (first, second) = tokio::join!(
        a.login_with_totp("uma", PASSWORD, &code),
        b.login_with_totp("uma", PASSWORD, &code)
    );
    assert_eq!(
        u8::from(first.is_ok()) + u8::from(second.is_ok()),
        1,
        "{first:?} {second:?}"
    );
    let refused = first.err().or(second.err()).unwrap();
    assert!(refused.is_invalid_totp(), "{refused:?}");
});

app_test!(a_recovery_code_logs_in_once, |app, clock| {
    let (client, user) = app.user("vera").await;
    let (_, codes) = enable(&client, clock).await;

    let other = app.new_client();
    other
        .login_with_recovery_code("vera", PASSWORD, &codes[0])
        .await
        .unwrap();
    assert_eq!(other.me().await.unwrap().id, user);
    assert_eq!(client.totp_status().await.unwrap().recovery_codes_left, 9);
    let again = app
        .new_client()
        .login_with_recovery_code("vera", PASSWORD, &codes[0])
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(401));
    assert!(again.is_invalid_totp(), "{again:?}");

    // Typed back by hand: any case, spaces instead of dashes.
    let typed = codes[1].to_uppercase().replace('-', " ");
    app.new_client()
        .login_with_recovery_code("vera", PASSWORD, &typed)
        .await
        .unwrap();
    for bad in ["", "0000-0000-0000-0000", &"x".repeat(300)] {
        assert!(
            app.new_client()
                .login_with_recovery_code("vera", PASSWORD, bad)
                .await
                .unwrap_err()
                .is_invalid_totp(),
            "{bad}"
        );
    }
    // Another user's code is no code of this user.
    let (wendy, _) = app.user("wendy").await;
    let (_, wendys) = enable(&wendy, clock).await;
    assert!(
        app.new_client()
            .login_with_recovery_code("vera", PASSWORD, &wendys[0])
            .await
            .unwrap_err()
            .is_invalid_totp()
    );
    let events = audit_events(app, user).await;
    assert_eq!(
        events.iter().filter(|e| *e == "recovery_code_used").count(),
        2,
        "{events:?}"
    );
});

app_test!(disabling_needs_the_password_and_a_code, |app, clock| {
    let (client, user) = app.user("xena").await;
    let off = client
        .totp_disable(PASSWORD, SecondFactor::Code("123456"))
        .await
        .unwrap_err();
    assert_eq!(off.code(), Some("TOTP_NOT_ENABLED"));
    let (setup, old_codes) = enable(&client, clock).await;
    clock.advance_secs(30);

    // The password alone is not enough.
    let tokens = client.refresh().await.unwrap();
    let response = app
        .raw()
        .post(format!("{}/api/v1/auth/2fa/disable", app.base_url))
        .bearer_auth(&tokens.access_token)
        .json(&serde_json::json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "TOTP_REQUIRED");

    let wrong_password = client
        .totp_disable(
            "not the password at all",
            SecondFactor::Code(&code_now(&setup.secret, clock)),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong_password.code(), Some("INVALID_CREDENTIALS"));
    assert_eq!(wrong_password.status(), Some(403));
    let wrong_code = client
        .totp_disable(
            PASSWORD,
            SecondFactor::Code(&wrong_code(&setup.secret, clock)),
        )
        .await
        .unwrap_err();
    assert!(wrong_code.is_invalid_totp(), "{wrong_code:?}");
    assert!(client.totp_status().await.unwrap().enabled);

    client
        .totp_disable(
            PASSWORD,
            SecondFactor::Code(&code_now(&setup.secret, clock)),
        )
        .await
        .unwrap();
    assert!(!client.totp_status().await.unwrap().enabled);
    app.new_client().login("xena", PASSWORD).await.unwrap();
    assert_eq!(client.totp_status().await.unwrap().recovery_codes_left, 0);

    // On again, with a new secret and new recovery codes: the old ones went with the old setup.
    clock.advance_secs(30);
    let (_, codes) = enable(&client, clock).await;
    assert!(
        app.new_client()
            .login_with_recovery_code("xena", PASSWORD, &old_codes[0])
            .await
            .unwrap_err()
            .is_invalid_totp()
    );
    // Off with a recovery code instead of a code.
    client
        .totp_disable(PASSWORD, SecondFactor::RecoveryCode(&codes[3]))
        .await
        .unwrap();
    assert!(!client.totp_status().await.unwrap().enabled);
    let events = audit_events(app, user).await;
    assert_eq!(
        events.iter().filter(|e| *e == "totp_disabled").count(),
        2,
        "{events:?}"
    );
});

app_test!(a_new_setup_replaces_an_unconfirmed_one, |app, clock| {
    let (client, _) = app.user("yara").await;
    let first = client.totp_setup().await.unwrap();
    let second = client.totp_setup().await.unwrap();
    assert_ne!(first.secret, second.secret);
    let stale = client
        .totp_confirm(PASSWORD, &code_now(&first.secret, clock))
        .await
        .unwrap_err();
    assert!(stale.is_invalid_totp(), "{stale:?}");
    client
        .totp_confirm(PASSWORD, &code_now(&second.secret, clock))
        .await
        .unwrap();
    assert!(client.totp_status().await.unwrap().enabled);
});

app_test!(the_secret_is_encrypted_at_rest, |app, _clock| {
    let (client, user) = app.user("zoe").await;
    let setup = client.totp_setup().await.unwrap();
    let user = UserId::from_uuid(user);
    let row = app.state.market.store.totp(user).await.unwrap().unwrap();
    let raw = Secret::try_from_base32(&setup.secret).unwrap();
    assert!(!row.secret_enc.contains(&setup.secret));
    let stored = base64::engine::general_purpose::STANDARD
        .decode(&row.secret_enc)
        .unwrap();
    assert!(
        !stored
            .windows(raw.as_bytes().len())
            .any(|w| w == raw.as_bytes()),
        "the secret's bytes are not in the stored value"
    );
    let opened = app
        .state
        .market
        .data_cipher
        .open(Purpose::TotpSecret, user, &row.secret_enc)
        .unwrap();
    assert_eq!(opened, raw.as_bytes());
    assert!(
        app.state
            .market
            .data_cipher
            .open(Purpose::TotpSecret, UserId::new_v7(), &row.secret_enc)
            .is_err(),
        "bound to its user"
    );
});

app_test!(
    the_second_factor_check_guards_sensitive_actions,
    |app, clock| {
        let (client, user) = app.user("abel").await;
        let user = UserId::from_uuid(user);
        // Without 2FA there is nothing to check, and a login code is ignored.
        app.state
            .market
            .verify_second_factor(user, Default::default())
            .await
            .unwrap();
        app.new_client()
            .login_with_totp("abel", PASSWORD, "000000")
            .await
            .unwrap();

        let (setup, _) = enable(&client, clock).await;
        let missing = app
            .state
            .market
            .verify_second_factor(user, Default::default())
            .await
            .unwrap_err();
        assert_eq!(missing.code(), "TOTP_REQUIRED");
        clock.advance_secs(30);
        let code = code_now(&setup.secret, clock);
        app.state
            .market
            .verify_second_factor(user, SecondFactorProof::new(Some(&code), None))
            .await
            .unwrap();
        let replayed = app
            .state
            .market
            .verify_second_factor(user, SecondFactorProof::new(Some(&code), None))
            .await
            .unwrap_err();
        assert_eq!(replayed.code(), "INVALID_TOTP");
    }
);

app_test!(two_factor_endpoints_need_a_session, |app| {
    for (method, path) in [
        ("GET", "/api/v1/auth/2fa"),
        ("POST", "/api/v1/auth/2fa/setup"),
        ("POST", "/api/v1/auth/2fa/confirm"),
        ("POST", "/api/v1/auth/2fa/disable"),
    ] {
        let response = app
            .raw()
            .request(method.parse().unwrap(), format!("{}{path}", app.base_url))
            .json(&serde_json::json!({ "code": "123456", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED", "{method} {path}");
    }
});

app_test!(
    turning_2fa_on_needs_the_password_and_ends_other_sessions,
    |app, clock| {
        let (client, _) = app.user("ursula").await;
        let other = app.new_client();
        other.login("ursula", PASSWORD).await.unwrap();
        let setup = client.totp_setup().await.unwrap();
        // A stolen session alone cannot turn 2FA on and lock the owner out.
        let error = client
            .totp_confirm("not the password at all", &code_now(&setup.secret, clock))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("INVALID_CREDENTIALS"));
        assert!(!client.totp_status().await.unwrap().enabled);

        client
            .totp_confirm(PASSWORD, &code_now(&setup.secret, clock))
            .await
            .unwrap();
        client
            .me()
            .await
            .expect("the session that turned 2FA on goes on");
        assert_eq!(
            other.me().await.unwrap_err().code(),
            Some("SESSION_REVOKED"),
            "sessions opened without the second factor end"
        );
    }
);
