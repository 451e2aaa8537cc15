//! Getting back into an account: e-mail verification and password reset through links that a
//! real SMTP server (aiosmtpd, see `smtp.rs`) received, read the way a person would; the
//! refusals of used, expired and replaced links; the second factor a reset needs; the same
//! answer for every account; the limits; and the operator's reset at the machine.

use std::sync::Arc;

use pupero_core::{ManualClock, UserId};
use pupero_market::ratelimit::RateQuota;
use pupero_market::recovery::{PASSWORD_RESET_PATH, PASSWORD_RESET_TTL_SECS, VERIFY_EMAIL_PATH};
use pupero_market::two_factor::SecondFactorProof;
use pupero_sdk::{Client, SecondFactor};
use pupero_server::Settings;

use crate::smtp::SmtpServer;
use crate::support::{PASSWORD, TestApp, app_test};
use crate::totp::{code_now, enable, wrong_code};

/// The new password of every reset here.
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Subjects of the mails, as a person sees them.
const VERIFY_SUBJECT: &str = "Confirm your e-mail address";
const RESET_SUBJECT: &str = "Reset your Pupero password";
const CHANGED_SUBJECT: &str = "password was changed";
const ADDRESS_CHANGED_SUBJECT: &str = "e-mail address of your Pupero account changed";

/// Runs the body on each engine against a server that sends its mails to a fresh aiosmtpd:
/// `mail_test!(name, |app, clock, smtp| { ... })`, optionally with settings changed by a
/// `fn(&mut Settings)` after the generous test limits: `mail_test!(name, configure, |...| ...)`.
macro_rules! mail_test {
    ($name:ident, |$app:ident, $clock:ident, $smtp:ident| $body:block) => {
        mail_test!($name, |_| {}, |$app, $clock, $smtp| $body);
    };
    ($name:ident, $configure:expr, |$app:ident, $clock:ident, $smtp:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: &TestApp, $clock: &Arc<ManualClock>, $smtp: &SmtpServer) $body

            async fn run(backend: pupero_ledger::testing::Backend) {
                let Some(smtp) = SmtpServer::start().await else { return };
                let clock = crate::support::manual_clock();
                let url = smtp.url.clone();
                let configure: fn(&mut Settings) = $configure;
                let settings = move |settings: &mut Settings| {
                    settings.market.rate_limits = crate::support::generous_limits();
                    settings.market.mail.smtp_url = Some(pupero_server::config::Secret::new(url));
                    configure(settings);
                };
                let Some(app) = crate::support::spawn_app_with(backend, settings, clock.clone()).await
                else {
                    assert!(backend != pupero_ledger::testing::Backend::Sqlite, "sqlite always works");
                    return;
                };
                body(&app, &clock, &smtp).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(pupero_ledger::testing::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                run(pupero_ledger::testing::Backend::MariaDb).await;
            }
        }
    };
}

fn code(error: &pupero_sdk::Error) -> &str {
    error.code().unwrap_or("<none>")
}

async fn audit_events(app: &TestApp, user: uuid::Uuid) -> Vec<(String, Option<String>, String)> {
    app.state
        .market
        .store
        .audit_page(Some(UserId::from_uuid(user)), None, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.event, row.actor, row.detail))
        .collect()
}

/// Registers `username` with `email`, verifies the address through the mail it got, and logs
/// in: the client and the user's id.
async fn verified_user(
    app: &TestApp,
    smtp: &SmtpServer,
    username: &str,
    email: &str,
) -> (Client, uuid::Uuid) {
    let client = app.new_client();
    let id = client
        .register(username, Some(email), PASSWORD)
        .await
        .unwrap()
        .user_id;
    let mail = smtp.mail_to(email, VERIFY_SUBJECT).await;
    app.new_client()
        .verify_email(&mail.token(VERIFY_EMAIL_PATH))
        .await
        .unwrap();
    client.login(username, PASSWORD).await.unwrap();
    assert!(client.me().await.unwrap().email_verified);
    (client, id)
}

/// Asks for a reset link for `login` and returns the token of the mail that came to `email`.
async fn reset_link(app: &TestApp, smtp: &SmtpServer, login: &str, email: &str) -> String {
    app.new_client()
        .request_password_reset(login)
        .await
        .unwrap();
    smtp.mail_to(email, RESET_SUBJECT)
        .await
        .token(PASSWORD_RESET_PATH)
}

/// Mails queued so far, whatever became of them.
async fn queued(app: &TestApp) -> u64 {
    let (pending, sent, failed) = app.state.market.store.mail_counts().await.unwrap();
    pending + sent + failed
}

mail_test!(
    an_address_is_verified_through_the_mailed_link,
    |app, _clock, smtp| {
        let client = app.new_client();
        client
            .register("vera", Some("Vera@Example.org"), PASSWORD)
            .await
            .unwrap();
        client.login("vera", PASSWORD).await.unwrap();
        let me = client.me().await.unwrap();
        assert_eq!(me.email.as_deref(), Some("vera@example.org"));
        assert!(!me.email_verified);

        let mail = smtp.mail_to("vera@example.org", VERIFY_SUBJECT).await;
        assert_eq!(mail.from, pupero_server::config::DEFAULT_MAIL_FROM);
        assert!(mail.body.contains("Hello vera"), "{}", mail.body);
        let token = mail.token(VERIFY_EMAIL_PATH);
        assert!(token.starts_with("pmt_"), "{token}");
        // Opened in a browser without a session: the token is all it takes.
        app.new_client().verify_email(&token).await.unwrap();
        assert!(client.me().await.unwrap().email_verified);

        let again = app.new_client().verify_email(&token).await.unwrap_err();
        assert_eq!((again.status(), code(&again)), (Some(400), "INVALID_TOKEN"));
        let verified = client.send_email_verification().await.unwrap_err();
        assert_eq!(code(&verified), "EMAIL_ALREADY_VERIFIED");
        // An empty token is refused by the schema; any other that is not the link's, by the
        // link check.
        let e = app.new_client().verify_email("").await.unwrap_err();
        assert_eq!(code(&e), "VALIDATION");
        for bad in ["pmt_", "not a token at all", &token.replace("pmt_", "pk_")] {
            let e = app.new_client().verify_email(bad).await.unwrap_err();
            assert_eq!(code(&e), "INVALID_TOKEN", "{bad:?}");
        }

        // Asked for again, a link replaces the one before it.
        let (walt, _) = app.user("walt").await;
        let none = walt.send_email_verification().await.unwrap_err();
        assert_eq!((none.status(), code(&none)), (Some(409), "NO_EMAIL"));
        walt.set_email(Some("walt@example.org"), PASSWORD, None)
            .await
            .unwrap();
        let first = smtp.mail_to("walt@example.org", VERIFY_SUBJECT).await;
        walt.send_email_verification().await.unwrap();
        let second = smtp.mail_to("walt@example.org", VERIFY_SUBJECT).await;
        let replaced = app
            .new_client()
            .verify_email(&first.token(VERIFY_EMAIL_PATH))
            .await
            .unwrap_err();
        assert_eq!(code(&replaced), "INVALID_TOKEN");
        app.new_client()
            .verify_email(&second.token(VERIFY_EMAIL_PATH))
            .await
            .unwrap();
        assert!(walt.me().await.unwrap().email_verified);
        let events: Vec<String> = audit_events(app, walt.me().await.unwrap().id)
            .await
            .into_iter()
            .map(|(event, _, _)| event)
            .collect();
        assert!(events.contains(&"email_verified".to_owned()), "{events:?}");
    }
);

mail_test!(
    a_mailed_reset_ends_every_session_and_key,
    |app, _clock, smtp| {
        let (client, id) = verified_user(app, smtp, "rita", "rita@example.org").await;
        let other_device = app.new_client();
        other_device.login("rita", PASSWORD).await.unwrap();
        let key = client
            .create_api_key("bot", &[pupero_sdk::Scope::Read], PASSWORD, None)
            .await
            .unwrap()
            .key;
        let bot = Client::with_api_key(app.base_url.clone(), key).unwrap();
        bot.me().await.unwrap();

        // By username here; by address works the same (below).
        let token = reset_link(app, smtp, "RITA", "rita@example.org").await;
        let weak = app
            .new_client()
            .confirm_password_reset(&token, "short", None)
            .await
            .unwrap_err();
        assert_eq!(code(&weak), "VALIDATION");
        app.new_client()
            .confirm_password_reset(&token, NEW_PASSWORD, None)
            .await
            .unwrap();

        for ended in [client.me().await, other_device.me().await] {
            let e = ended.unwrap_err();
            assert_eq!((e.status(), code(&e)), (Some(401), "SESSION_REVOKED"));
        }
        assert_eq!(bot.me().await.unwrap_err().status(), Some(401));
        let old = app.new_client().login("rita", PASSWORD).await.unwrap_err();
        assert_eq!(code(&old), "INVALID_CREDENTIALS");
        let fresh = app.new_client();
        fresh.login("rita@example.org", NEW_PASSWORD).await.unwrap();
        assert_eq!(fresh.me().await.unwrap().id, id);

        let used = app
            .new_client()
            .confirm_password_reset(&token, "yet another passphrase", None)
            .await
            .unwrap_err();
        assert_eq!((used.status(), code(&used)), (Some(400), "INVALID_TOKEN"));

        let notice = smtp.mail_to("rita@example.org", CHANGED_SUBJECT).await;
        assert!(notice.body.contains("reset by a link"), "{}", notice.body);
        let events = audit_events(app, id).await;
        let names: Vec<&str> = events.iter().map(|(e, _, _)| e.as_str()).collect();
        for expected in ["password_reset_requested", "password_reset"] {
            assert!(names.contains(&expected), "{names:?}");
        }
        let (_, actor, detail) = events
            .iter()
            .find(|(event, _, _)| event == "password_reset")
            .unwrap();
        assert_eq!(actor.as_deref(), Some(id.to_string().as_str()));
        assert!(detail.contains("sessions=2 api_keys=1"), "{detail}");
        let (_, _, failed) = app.state.market.store.mail_counts().await.unwrap();
        assert_eq!(failed, 0, "no mail given up");
    }
);

mail_test!(
    used_expired_and_replaced_links_are_refused,
    |app, clock, smtp| {
        let (_client, _) = verified_user(app, smtp, "ugo", "ugo@example.org").await;
        let refused = |result: Result<(), pupero_sdk::Error>| {
            let e = result.unwrap_err();
            assert_eq!((e.status(), code(&e)), (Some(400), "INVALID_TOKEN"));
        };
        let reset = |token: String| async move {
            app.new_client()
                .confirm_password_reset(&token, NEW_PASSWORD, None)
                .await
        };

        // Replaced: only the newest link works.
        let first = reset_link(app, smtp, "ugo", "ugo@example.org").await;
        let second = reset_link(app, smtp, "ugo@example.org", "ugo@example.org").await;
        refused(reset(first).await);

        // Expired: 30 minutes on the server's clock.
        clock.advance_secs(PASSWORD_RESET_TTL_SECS);
        refused(reset(second).await);

        // A verification link is no reset link, nor the reverse.
        let verification = {
            let (walt, _) = app.user("walt").await;
            walt.set_email(Some("walt@example.org"), PASSWORD, None)
                .await
                .unwrap();
            smtp.mail_to("walt@example.org", VERIFY_SUBJECT)
                .await
                .token(VERIFY_EMAIL_PATH)
        };
        refused(reset(verification.clone()).await);
        let link = reset_link(app, smtp, "ugo", "ugo@example.org").await;
        refused(app.new_client().verify_email(&link).await);

        // A link to an address the account no longer has.
        let (ugo, _) = (app.new_client(), ());
        ugo.login("ugo", PASSWORD).await.unwrap();
        ugo.set_email(Some("ugo@example.net"), PASSWORD, None)
            .await
            .unwrap();
        refused(reset(link).await);

        // Used: once is all.
        app.new_client().verify_email(&verification).await.unwrap();
        refused(app.new_client().verify_email(&verification).await);
        ugo.me().await.unwrap();
    }
);

mail_test!(a_2fa_account_needs_its_code_to_reset, |app, clock, smtp| {
    let (client, id) = verified_user(app, smtp, "tess", "tess@example.org").await;
    let (setup, recovery_codes) = enable(&client, clock).await;
    let token = reset_link(app, smtp, "tess", "tess@example.org").await;
    let anonymous = app.new_client();

    let e = anonymous
        .confirm_password_reset(&token, NEW_PASSWORD, None)
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(403), "TOTP_REQUIRED"));
    let wrong = wrong_code(&setup.secret, clock);
    let e = anonymous
        .confirm_password_reset(&token, NEW_PASSWORD, Some(SecondFactor::Code(&wrong)))
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(403), "INVALID_TOTP"));
    // The mailbox alone opened nothing: the old password still works, with the code.
    clock.advance_secs(30);
    client
        .login_with_totp("tess", PASSWORD, &code_now(&setup.secret, clock))
        .await
        .unwrap();

    // The link stayed good; with a recovery code it resets.
    anonymous
        .confirm_password_reset(
            &token,
            NEW_PASSWORD,
            Some(SecondFactor::RecoveryCode(&recovery_codes[0])),
        )
        .await
        .unwrap();
    assert_eq!(
        client.me().await.unwrap_err().code(),
        Some("SESSION_REVOKED")
    );
    // 2FA stays on: the new password alone is not enough either.
    let e = app
        .new_client()
        .login("tess", NEW_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TOTP_REQUIRED");
    clock.advance_secs(30);
    app.new_client()
        .login_with_totp("tess", NEW_PASSWORD, &code_now(&setup.secret, clock))
        .await
        .unwrap();

    // And with the app's code, another time.
    let token = reset_link(app, smtp, "tess@example.org", "tess@example.org").await;
    clock.advance_secs(30);
    anonymous
        .confirm_password_reset(
            &token,
            "the third passphrase",
            Some(SecondFactor::Code(&code_now(&setup.secret, clock))),
        )
        .await
        .unwrap();
    let names: Vec<String> = audit_events(app, id)
        .await
        .into_iter()
        .map(|(event, _, _)| event)
        .collect();
    assert!(
        names.contains(&"second_factor_failed".to_owned()),
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|e| *e == "password_reset").count(), 2);
});

mail_test!(
    every_account_gets_the_same_answer_and_only_a_verified_address_a_link,
    |app, _clock, smtp| {
        // An unverified address, no address, a disabled account, and nobody at all.
        let (_, unverified) = {
            let client = app.new_client();
            let id = client
                .register("una", Some("una@example.org"), PASSWORD)
                .await
                .unwrap()
                .user_id;
            smtp.mail_to("una@example.org", VERIFY_SUBJECT).await;
            (client, id)
        };
        app.user("nemo").await;
        let (_, disabled) = verified_user(app, smtp, "dora", "dora@example.org").await;
        let (admin, _) = app.user_with_role("root", pupero_core::Role::Admin).await;
        admin.admin_disable_user(disabled).await.unwrap();
        let (_, verified) = verified_user(app, smtp, "vic", "vic@example.org").await;

        let before = queued(app).await;
        let answer = |login: &'static str| async move {
            let response = app
                .raw()
                .post(format!("{}/api/v1/auth/password-reset", app.base_url))
                .json(&serde_json::json!({ "login": login }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry = response.headers().get("retry-after").cloned();
            (status, retry, response.bytes().await.unwrap())
        };
        let vic = answer("vic").await;
        assert_eq!(vic.0, 202);
        for login in [
            "una",
            "una@example.org",
            "nemo",
            "dora",
            "dora@example.org",
            "nobody",
            "nobody@example.org",
            "not even a login @ all",
        ] {
            assert_eq!(answer(login).await, vic, "{login}");
        }
        assert_eq!(queued(app).await, before + 1, "one mail, to vic");
        smtp.mail_to("vic@example.org", RESET_SUBJECT).await;
        assert!(
            smtp.all()
                .iter()
                .all(|mail| !mail.subject.contains(RESET_SUBJECT) || mail.to == "vic@example.org"),
            "{:#?}",
            smtp.all()
        );

        let details = |user| async move {
            audit_events(app, user)
                .await
                .into_iter()
                .filter(|(event, _, _)| event == "password_reset_requested")
                .map(|(_, _, detail)| detail)
                .collect::<Vec<_>>()
        };
        assert_eq!(details(verified).await, ["link sent"]);
        assert_eq!(details(unverified).await.len(), 2);
        assert!(
            details(unverified)
                .await
                .iter()
                .all(|d| d.starts_with("not sent")),
            "{:?}",
            details(unverified).await
        );
        assert_eq!(details(disabled).await.len(), 2);
    }
);

/// Four recovery requests per client address, two links per account, then one an hour.
fn tight_recovery(settings: &mut Settings) {
    settings.market.rate_limits.recovery_per_address = RateQuota::new(4, 3600);
    settings.market.rate_limits.recovery_mail_per_account = RateQuota::new(2, 3600);
}

mail_test!(
    reset_links_are_limited_per_address_and_per_account,
    tight_recovery,
    |app, clock, smtp| {
        // Verifying the address is the first request from this address.
        let (_, id) = verified_user(app, smtp, "lena", "lena@example.org").await;
        reset_link(app, smtp, "lena", "lena@example.org").await;
        reset_link(app, smtp, "lena@example.org", "lena@example.org").await;
        let before = queued(app).await;
        // The account's limit: the same answer, no mail.
        app.new_client()
            .request_password_reset("lena")
            .await
            .unwrap();
        assert_eq!(queued(app).await, before);
        let limited = audit_events(app, id)
            .await
            .into_iter()
            .filter(|(event, _, detail)| event == "rate_limited" && detail.contains("not sent"))
            .count();
        assert_eq!(limited, 1);
        // The address's limit: 429, whatever the login.
        for login in ["lena", "nobody"] {
            let e = app
                .new_client()
                .request_password_reset(login)
                .await
                .unwrap_err();
            assert_eq!(
                (e.status(), code(&e)),
                (Some(429), "RATE_LIMITED"),
                "{login}"
            );
            assert!(e.retry_after().is_some());
        }
        let e = app
            .new_client()
            .confirm_password_reset("pmt_guess", NEW_PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "RATE_LIMITED");
        // An hour later, one more of each.
        clock.advance_secs(3600);
        reset_link(app, smtp, "lena", "lena@example.org").await;
        assert_eq!(queued(app).await, before + 1);
    }
);

mail_test!(
    an_address_change_tells_the_old_address_and_needs_a_new_verification,
    |app, _clock, smtp| {
        let (client, _) = verified_user(app, smtp, "otto", "otto@example.org").await;
        let link = reset_link(app, smtp, "otto", "otto@example.org").await;
        client
            .set_email(Some("otto@example.net"), PASSWORD, None)
            .await
            .unwrap();
        let notice = smtp
            .mail_to("otto@example.org", ADDRESS_CHANGED_SUBJECT)
            .await;
        assert!(
            !notice.body.contains("otto@example.net"),
            "the new address is not told to the old one"
        );
        let verification = smtp.mail_to("otto@example.net", VERIFY_SUBJECT).await;
        assert!(!client.me().await.unwrap().email_verified);
        let e = app
            .new_client()
            .confirm_password_reset(&link, NEW_PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "INVALID_TOKEN", "links to the old address end");

        // Unverified, the new address gets no link.
        let before = queued(app).await;
        app.new_client()
            .request_password_reset("otto")
            .await
            .unwrap();
        assert_eq!(queued(app).await, before);
        app.new_client()
            .verify_email(&verification.token(VERIFY_EMAIL_PATH))
            .await
            .unwrap();
        let token = reset_link(app, smtp, "otto", "otto@example.net").await;
        app.new_client()
            .confirm_password_reset(&token, NEW_PASSWORD, None)
            .await
            .unwrap();
        // A password change by its owner is told as well.
        let fresh = app.new_client();
        fresh.login("otto", NEW_PASSWORD).await.unwrap();
        smtp.mail_to("otto@example.net", CHANGED_SUBJECT).await;
        fresh
            .change_password(NEW_PASSWORD, "the third passphrase")
            .await
            .unwrap();
        let told = smtp.mail_to("otto@example.net", CHANGED_SUBJECT).await;
        assert!(told.body.contains("was changed."), "{}", told.body);
        // Removing the address tells it too, and the old address gets no more links.
        fresh
            .set_email(None, "the third passphrase", None)
            .await
            .unwrap();
        smtp.mail_to("otto@example.net", ADDRESS_CHANGED_SUBJECT)
            .await;
        assert_eq!(fresh.me().await.unwrap().email, None);
    }
);

app_test!(
    the_operator_resets_a_password_at_the_machine,
    |app, clock| {
        use pupero_market::operator::{ResetPasswordError, reset_password};
        let (client, id) = app.user("olga").await;
        let key = client
            .create_api_key("bot", &[pupero_sdk::Scope::Read], PASSWORD, None)
            .await
            .unwrap()
            .key;
        let bot = Client::with_api_key(app.base_url.clone(), key).unwrap();
        let none = SecondFactorProof::default();

        for (username, password, expected) in [
            ("nobody", NEW_PASSWORD, "no user named nobody"),
            ("olga", "short", "password must be at least 10 characters"),
        ] {
            let e = reset_password(&app.state.market, username, password, none)
                .await
                .unwrap_err();
            assert_eq!(e.to_string(), expected);
        }
        client.me().await.unwrap();

        reset_password(&app.state.market, "OLGA", NEW_PASSWORD, none)
            .await
            .unwrap();
        let e = client.me().await.unwrap_err();
        assert_eq!(code(&e), "SESSION_REVOKED");
        assert_eq!(bot.me().await.unwrap_err().status(), Some(401));
        let e = app.new_client().login("olga", PASSWORD).await.unwrap_err();
        assert_eq!(code(&e), "INVALID_CREDENTIALS");
        app.new_client().login("olga", NEW_PASSWORD).await.unwrap();
        let events = audit_events(app, id).await;
        let (_, actor, detail) = events
            .iter()
            .find(|(event, _, _)| event == "password_reset")
            .expect("audited");
        assert_eq!(actor, &None, "the operator acted, not the owner");
        assert!(detail.starts_with("command line"), "{detail}");

        // With 2FA on, the operator needs the owner's code (or a recovery code) too.
        let (tom, _) = app.user("tom").await;
        let (setup, recovery_codes) = enable(&tom, clock).await;
        let wrong = wrong_code(&setup.secret, clock);
        for proof in [none, SecondFactorProof::new(Some(&wrong), None)] {
            let e = reset_password(&app.state.market, "tom", NEW_PASSWORD, proof)
                .await
                .unwrap_err();
            assert!(matches!(e, ResetPasswordError::SecondFactor(_)), "{e:?}");
        }
        tom.me().await.unwrap();
        reset_password(
            &app.state.market,
            "tom",
            NEW_PASSWORD,
            SecondFactorProof::new(None, Some(&recovery_codes[1])),
        )
        .await
        .unwrap();
        assert_eq!(code(&tom.me().await.unwrap_err()), "SESSION_REVOKED");
        clock.advance_secs(30);
        let current = code_now(&setup.secret, clock);
        reset_password(
            &app.state.market,
            "tom",
            "the third passphrase",
            SecondFactorProof::new(Some(&current), None),
        )
        .await
        .unwrap();
        clock.advance_secs(30);
        app.new_client()
            .login_with_totp(
                "tom",
                "the third passphrase",
                &code_now(&setup.secret, clock),
            )
            .await
            .unwrap();
    }
);
