//! Brute force past the limits: per client address, per login identifier (the progressive
//! lockout) and per user for a second factor. Time is a manual clock, so waits are exact.

use std::net::IpAddr;
use std::time::Duration;

use pupero_market::ratelimit::{RateQuota, ThrottleKey};
use pupero_server::{AppState, Settings};

use crate::support::{PASSWORD, TestApp, app_test_with};

const WRONG: &str = "not the password at all";

/// Another loopback address: a second client, as far as the server can tell.
const OTHER_ADDRESS: [u8; 4] = [127, 0, 0, 2];

/// Lockout tests: an address limit out of the way.
fn lockout_only(settings: &mut Settings) {
    settings.market.rate_limits.login_per_address = RateQuota::new(1000, 1);
}

/// Three logins per address, then one a minute.
fn tight_login(settings: &mut Settings) {
    settings.market.rate_limits.login_per_address = RateQuota::new(3, 60);
}

/// Two registrations per address, then one an hour.
fn tight_register(settings: &mut Settings) {
    settings.market.rate_limits.register_per_address = RateQuota::new(2, 3600);
}

/// Two second-factor codes per user, then one a minute.
fn tight_second_factor(settings: &mut Settings) {
    settings.market.rate_limits.second_factor_per_user = RateQuota::new(2, 60);
}

/// What a client sees of a failed call: status, code and `Retry-After` in seconds.
fn seen(error: &pupero_sdk::Error) -> (Option<u16>, Option<String>, Option<u64>) {
    (
        error.status(),
        error.code().map(str::to_owned),
        error.retry_after().map(|d| d.as_secs()),
    )
}

fn refused(retry_after_secs: u64) -> (Option<u16>, Option<String>, Option<u64>) {
    (
        Some(429),
        Some("RATE_LIMITED".to_owned()),
        Some(retry_after_secs),
    )
}

fn wrong_password() -> (Option<u16>, Option<String>, Option<u64>) {
    (Some(401), Some("INVALID_CREDENTIALS".to_owned()), None)
}

/// A raw POST, optionally from another local address: status, `Retry-After` header, code.
async fn raw_post(
    app: &TestApp,
    from: Option<IpAddr>,
    path: &str,
    body: serde_json::Value,
) -> (u16, Option<String>, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let response = client
        .post(format!("{}{path}", app.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, retry_after, code)
}

async fn raw_login(
    app: &TestApp,
    from: Option<IpAddr>,
    login: &str,
    password: &str,
) -> (u16, Option<String>, String) {
    raw_post(
        app,
        from,
        "/api/v1/auth/login",
        serde_json::json!({ "login": login, "password": password }),
    )
    .await
}

async fn rate_limited_audits(app: &TestApp) -> Vec<String> {
    app.state
        .market
        .store
        .audit_page(None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.event == "rate_limited")
        .map(|row| row.detail)
        .collect()
}

app_test_with!(
    guessing_a_password_locks_the_login,
    lockout_only,
    |app, clock| {
        let client = app.new_client();
        client.register("victim", None, PASSWORD).await.unwrap();
        for guess in 1..=5 {
            let error = client.login("victim", WRONG).await.unwrap_err();
            assert_eq!(seen(&error), wrong_password(), "guess {guess}");
        }

        // Locked for a minute: even the right password is refused, before it is checked.
        let error = client.login("victim", PASSWORD).await.unwrap_err();
        assert!(error.is_rate_limited());
        assert_eq!(seen(&error), refused(60));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(
            raw_login(app, None, "VICTIM", PASSWORD).await,
            (429, Some("60".to_owned()), "RATE_LIMITED".to_owned()),
            "the header says how long, whatever the case of the login"
        );
        clock.advance_secs(30);
        assert_eq!(
            seen(&client.login("victim", WRONG).await.unwrap_err()),
            refused(30),
            "refusals while locked do not lengthen the lock"
        );

        // Over: one more guess, wrong, locks twice as long.
        clock.advance_secs(30);
        assert_eq!(
            seen(&client.login("victim", WRONG).await.unwrap_err()),
            wrong_password()
        );
        assert_eq!(
            seen(&client.login("victim", PASSWORD).await.unwrap_err()),
            refused(120)
        );

        // Lifted: the right password works, and the failures are forgotten.
        clock.advance_secs(120);
        client.login("victim", PASSWORD).await.unwrap();
        for guess in 1..=5 {
            let error = client.login("victim", WRONG).await.unwrap_err();
            assert_eq!(
                seen(&error),
                wrong_password(),
                "guess {guess} after success"
            );
        }
        assert_eq!(
            seen(&client.login("victim", PASSWORD).await.unwrap_err()),
            refused(60),
            "back to the first lock"
        );

        let audits = rate_limited_audits(app).await;
        assert!(
            audits.iter().any(|d| d.contains("locked")),
            "refusals are audited: {audits:?}"
        );
    }
);

app_test_with!(
    an_unknown_login_is_throttled_like_a_known_one,
    lockout_only,
    |app, clock| {
        let client = app.new_client();
        client.register("alice", None, PASSWORD).await.unwrap();
        let mut outcomes = Vec::new();
        for login in ["alice", "nobody-at-all"] {
            let mut seen_here = Vec::new();
            for _ in 0..7 {
                seen_here.push(seen(&client.login(login, WRONG).await.unwrap_err()));
            }
            clock.advance_secs(60);
            seen_here.push(seen(&client.login(login, WRONG).await.unwrap_err()));
            seen_here.push(seen(&client.login(login, PASSWORD).await.unwrap_err()));
            outcomes.push(seen_here);
        }
        let mut expected = vec![wrong_password(); 5];
        expected.extend([refused(60), refused(60), wrong_password(), refused(120)]);
        assert_eq!(outcomes[0], expected, "known login");
        assert_eq!(outcomes[1], expected, "unknown login");
    }
);

app_test_with!(
    the_lockout_survives_a_restart_and_holds_across_processes,
    lockout_only,
    |app, clock| {
        let client = app.new_client();
        let victim = client
            .register("victim", None, PASSWORD)
            .await
            .unwrap()
            .user_id;
        // A known login is throttled per account.
        let account = ThrottleKey::account(pupero_core::UserId::from_uuid(victim));
        for _ in 0..5 {
            client.login("victim", WRONG).await.unwrap_err();
        }
        // Another process on the same database: fresh in-memory limiters, the same lockout.
        let mut settings = Settings::for_database(app.state.settings.market.database_url.clone());
        lockout_only(&mut settings);
        let other = AppState::open_with_clock(settings, clock.clone())
            .await
            .unwrap();
        let refusal = other
            .market
            .limits
            .begin_attempt(&account)
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), "RATE_LIMITED");
        clock.advance_secs(60);
        other.market.limits.begin_attempt(&account).await.unwrap();
        // That attempt counted as the sixth failure, seen by the first process too.
        assert_eq!(
            seen(&client.login("victim", PASSWORD).await.unwrap_err()),
            refused(120)
        );
    }
);

app_test_with!(
    a_login_flood_from_one_address_is_refused,
    tight_login,
    |app, clock| {
        for n in 0..3 {
            let (status, _, _) = raw_login(app, None, &format!("user{n}"), WRONG).await;
            assert_eq!(status, 401, "attempt {n}");
        }
        for _ in 0..3 {
            assert_eq!(
                raw_login(app, None, "user9", WRONG).await,
                (429, Some("60".to_owned()), "RATE_LIMITED".to_owned())
            );
        }
        // The SDK sees the same.
        let error = app.new_client().login("user9", WRONG).await.unwrap_err();
        assert!(error.is_rate_limited());
        assert_eq!(seen(&error), refused(60));

        // Another address has its own allowance.
        let other = Some(IpAddr::from(OTHER_ADDRESS));
        assert_eq!(raw_login(app, other, "user9", WRONG).await.0, 401);

        // A minute later, one more attempt.
        clock.advance_secs(60);
        assert_eq!(raw_login(app, None, "user9", WRONG).await.0, 401);
        assert_eq!(raw_login(app, None, "user9", WRONG).await.0, 429);

        // Four refusals in the first minute, one audit entry for them; one more after it.
        let audits = rate_limited_audits(app).await;
        assert_eq!(audits.len(), 2, "{audits:?}");
        assert!(audits.iter().all(|d| d.contains("address")), "{audits:?}");
    }
);

app_test_with!(
    a_registration_flood_from_one_address_is_refused,
    tight_register,
    |app, clock| {
        let client = app.new_client();
        client.register("first", None, PASSWORD).await.unwrap();
        client.register("second", None, PASSWORD).await.unwrap();
        let error = client.register("third", None, PASSWORD).await.unwrap_err();
        assert!(error.is_rate_limited());
        assert_eq!(seen(&error), refused(3600));
        // Nothing was created, and nothing was said about whether a name is taken.
        assert_eq!(
            seen(&client.register("first", None, PASSWORD).await.unwrap_err()),
            refused(3600)
        );
        // An invalid request is refused for what it is, before it costs anything.
        assert!(
            client
                .register("x", None, PASSWORD)
                .await
                .unwrap_err()
                .is_validation()
        );
        let body = serde_json::json!({ "username": "fourth", "password": PASSWORD });
        assert_eq!(
            raw_post(app, None, "/api/v1/auth/register", body.clone()).await,
            (429, Some("3600".to_owned()), "RATE_LIMITED".to_owned())
        );
        let other = Some(IpAddr::from(OTHER_ADDRESS));
        assert_eq!(
            raw_post(app, other, "/api/v1/auth/register", body).await.0,
            201
        );

        clock.advance_secs(3600);
        client.register("third", None, PASSWORD).await.unwrap();
        client.login("third", PASSWORD).await.unwrap();
    }
);

app_test_with!(
    second_factor_attempts_are_limited_per_user,
    tight_second_factor,
    |app, clock| {
        let (_, alice) = app.user("alice").await;
        let (_, bob) = app.user("bob").await;
        let limits = &app.state.market.limits;
        let alice = pupero_core::UserId::from_uuid(alice);
        let bob = pupero_core::UserId::from_uuid(bob);
        limits.check_second_factor(alice).unwrap();
        limits.check_second_factor(alice).unwrap();
        let refusal = limits.check_second_factor(alice).unwrap_err();
        assert_eq!(refusal.code(), "RATE_LIMITED");
        limits.check_second_factor(bob).unwrap();
        clock.advance_secs(60);
        limits.check_second_factor(alice).unwrap();

        // Wrong codes lock the second factor like wrong passwords lock a login.
        let key = ThrottleKey::second_factor(alice);
        for _ in 0..5 {
            limits.begin_attempt(&key).await.unwrap();
        }
        assert_eq!(
            limits.begin_attempt(&key).await.unwrap_err().code(),
            "RATE_LIMITED"
        );
        clock.advance_secs(60);
        limits.begin_attempt(&key).await.unwrap();
        limits.attempt_succeeded(&key).await.unwrap();
        limits.begin_attempt(&key).await.unwrap();
    }
);

app_test_with!(
    concurrent_guesses_cannot_slip_past_the_lockout,
    lockout_only,
    |app, _clock| {
        app.new_client()
            .register("victim", None, PASSWORD)
            .await
            .unwrap();
        let guesses: Vec<_> = (0..16)
            .map(|_| {
                let client = app.new_client();
                tokio::spawn(async move { client.login("victim", WRONG).await.unwrap_err() })
            })
            .collect();
        let mut checked = 0;
        for guess in guesses {
            let error = guess.await.unwrap();
            if error.is_rate_limited() {
                continue;
            }
            assert_eq!(seen(&error), wrong_password());
            checked += 1;
        }
        assert_eq!(checked, 5, "exactly the allowed failures were checked");
    }
);

/// Logs in `name` with a forged or forwarded `X-Forwarded-For` and returns the address the
/// audit log recorded.
async fn recorded_address(app: &TestApp, name: &str) -> Option<String> {
    let (_, user) = app.user(name).await;
    let response = app
        .raw()
        .post(format!("{}/api/v1/auth/login", app.base_url))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&serde_json::json!({"login": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let rows = app
        .state
        .market
        .store
        .audit_page(Some(pupero_core::UserId::from_uuid(user)), None, 10)
        .await
        .unwrap();
    rows.into_iter()
        .find(|r| r.event == "login_succeeded")
        .and_then(|r| r.client_ip)
}

app_test_with!(
    forwarded_for_is_ignored_without_a_trusted_proxy,
    |_settings| {},
    |app, _clock| {
        assert_eq!(
            recorded_address(app, "direct").await.as_deref(),
            Some("127.0.0.1")
        );
    }
);

app_test_with!(
    forwarded_for_names_the_client_behind_a_trusted_proxy,
    |settings| settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    |app, _clock| {
        assert_eq!(
            recorded_address(app, "proxied").await.as_deref(),
            Some("203.0.113.7")
        );
    }
);

// A website in front of the API, on a trusted address, passes its visitor's address on.
app_test_with!(
    the_sdk_forwards_the_address_it_acts_for,
    |settings| {
        settings.market.rate_limits = crate::support::generous_limits();
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    },
    |app, _clock| {
        let (_, user) = app.user("quinn").await;
        let client = app
            .new_client()
            .forwarding_for("203.0.113.9".parse().unwrap());
        client.login("quinn", PASSWORD).await.unwrap();
        let rows = app
            .state
            .market
            .store
            .audit_page(Some(pupero_core::UserId::from_uuid(user)), None, 10)
            .await
            .unwrap();
        let recorded = rows
            .into_iter()
            .filter(|r| r.event == "login_succeeded")
            .filter_map(|r| r.client_ip)
            .collect::<Vec<_>>();
        assert!(recorded.contains(&"203.0.113.9".to_owned()), "{recorded:?}");
    }
);
