//! Settings that guard the account (API keys, turning 2FA off, deleting the account), the
//! password reset, and editing an offer through its preview.

use crate::support::{PASSWORD, Page, Visitor, sell_offer, totp_code, with_stack};

/// The text of the element after `marker` up to the next `<`.
fn text_after<'a>(page: &'a Page, marker: &str) -> &'a str {
    let start = page.body.find(marker).expect(marker) + marker.len();
    let rest = &page.body[start..];
    let rest = &rest[rest.find('>').expect("tag end") + 1..];
    &rest[..rest.find('<').expect("text end")]
}

/// Turns 2FA on through the site; the secret.
async fn turn_on_2fa(visitor: &mut Visitor, clock: &pupero_core::ManualClock) -> String {
    let setup = visitor.get("/settings/2fa").await;
    let secret = text_after(&setup, "id=\"totp-secret\"").to_owned();
    let code = totp_code(&secret, clock);
    let on = visitor
        .post("/settings/2fa", &[("password", PASSWORD), ("code", &code)])
        .await;
    assert_eq!(on.status, 303, "{}", on.body);
    visitor.get("/settings/2fa/codes").await;
    secret
}

#[tokio::test]
async fn an_api_key_is_shown_once_works_for_its_scopes_and_can_be_revoked() {
    with_stack(|stack| async move {
        let mut kim = stack.visitor();
        kim.register("kim").await;
        let settings = kim.get("/settings").await;
        assert!(settings.has("href=\"/settings/api-keys\""));
        let empty = kim.get("/settings/api-keys").await;
        assert!(empty.has("You have no API keys."), "{}", empty.body);

        // No scope: refused on the form, name kept.
        let refused = kim
            .post(
                "/settings/api-keys",
                &[("name", "bot"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(refused.status, 200);
        assert!(refused.has("at least one scope"), "{}", refused.body);
        assert!(refused.has("value=\"bot\""));
        let wrong = kim
            .post(
                "/settings/api-keys",
                &[
                    ("name", "bot"),
                    ("scope_read", "1"),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.has("Wrong username or password."), "{}", wrong.body);

        let made = kim
            .post(
                "/settings/api-keys",
                &[("name", "bot"), ("scope_read", "1"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        assert_eq!(made.location(), "/settings/api-keys/new");
        let shown = kim.get("/settings/api-keys/new").await;
        assert!(shown.has("It will not be shown again."), "{}", shown.body);
        let key = text_after(&shown, "id=\"api-key\"").to_owned();
        assert!(key.len() > 20, "{key}");
        assert_eq!(
            kim.get("/settings/api-keys/new").await.status,
            303,
            "shown once"
        );

        // The key reads, and may not trade.
        let bot = pupero_sdk::Client::with_api_key(stack.api_url.clone(), key.clone()).unwrap();
        bot.balance().await.expect("read scope");
        let offer = bot.my_offers().await;
        assert!(offer.is_ok(), "reading offers is reading");
        let trade = bot
            .create_offer(&pupero_sdk::OfferRequest {
                side: "sell".parse().unwrap(),
                currency: "EUR".parse().unwrap(),
                payment_method: "SEPA".parse().unwrap(),
                payment_details: None,
                price: Some("150".parse().unwrap()),
                margin_percent: None,
                min_amount: "0.1".parse().unwrap(),
                max_amount: "2".parse().unwrap(),
                payment_window_minutes: 30,
                terms: None,
                visibility: "public".parse().unwrap(),
            })
            .await;
        assert!(trade.unwrap_err().is_forbidden(), "no trade scope");

        let list = kim.get("/settings/api-keys").await;
        assert!(list.has("<bdi>bot</bdi>"), "{}", list.body);
        assert!(list.has(&key[..11]), "the prefix: {}", list.body);
        assert!(!list.has(&key), "never the key again");
        let form = list
            .body
            .find("/revoke\"")
            .map(|end| {
                let start = list.body[..end].rfind("action=\"").unwrap() + 8;
                list.body[start..end + 7].to_owned()
            })
            .expect("a revoke form");
        let revoked = kim.post(&form, &[]).await;
        assert_eq!(revoked.status, 303, "{}", revoked.body);
        let list = kim.get("/settings/api-keys").await;
        assert!(list.has("The key was revoked."), "{}", list.body);
        assert!(list.has("Revoked"));
        assert!(bot.balance().await.unwrap_err().is_unauthorized());

        // In French too.
        kim.get("/lang/fr").await;
        let fr = kim.get("/settings/api-keys").await;
        assert!(fr.has("Clés d’API") && fr.has("Révoquée"), "{}", fr.body);
    })
    .await;
}

#[tokio::test]
async fn two_factors_are_turned_off_with_the_password_and_a_code() {
    with_stack(|stack| async move {
        let mut lea = stack.visitor();
        lea.register("lea").await;
        // Off already: the form is not offered.
        assert_eq!(lea.get("/settings/2fa/disable").await.status, 303);
        let secret = turn_on_2fa(&mut lea, &stack.clock).await;
        let settings = lea.get("/settings").await;
        assert!(settings.has("href=\"/settings/2fa/disable\""));
        let form = lea.get("/settings/2fa/disable").await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.has("your password alone"), "{}", form.body);
        stack.clock.advance_secs(30);
        let wrong = lea
            .post(
                "/settings/2fa/disable",
                &[("password", PASSWORD), ("code", "000000")],
            )
            .await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.has("That code is wrong"), "{}", wrong.body);
        let code = totp_code(&secret, &stack.clock);
        let off = lea
            .post(
                "/settings/2fa/disable",
                &[("password", PASSWORD), ("code", &code)],
            )
            .await;
        assert_eq!(off.status, 303, "{}", off.body);
        let settings = lea.get("/settings").await;
        assert!(
            settings.has("Two-factor authentication is off."),
            "{}",
            settings.body
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_the_account_needs_the_username_typed_and_no_money() {
    with_stack(|stack| async move {
        let mut max = stack.visitor();
        max.register("max").await;
        let secret = turn_on_2fa(&mut max, &stack.clock).await;
        stack.clock.advance_secs(30);
        let page = max.get("/settings/delete").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.has("Type your username, max, to confirm"),
            "{}",
            page.body
        );
        assert!(page.has("name=\"code\""), "2FA is on: the code is asked");

        let typo = max
            .post(
                "/settings/delete",
                &[
                    ("confirm_username", "maxx"),
                    ("password", PASSWORD),
                    ("code", &totp_code(&secret, &stack.clock)),
                ],
            )
            .await;
        assert_eq!(typo.status, 200);
        assert!(typo.has("does not match"), "{}", typo.body);

        // Money on the account: refused, said why.
        stack.credit("max", "1").await;
        let funded = max
            .post(
                "/settings/delete",
                &[
                    ("confirm_username", "max"),
                    ("password", PASSWORD),
                    ("code", &totp_code(&secret, &stack.clock)),
                ],
            )
            .await;
        assert_eq!(funded.status, 200);
        assert!(funded.has("still holds XMR"), "{}", funded.body);

        let mut ned = stack.visitor();
        ned.register("ned").await;
        ned.get("/settings/delete").await;
        let gone = ned
            .post(
                "/settings/delete",
                &[("confirm_username", "ned"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(gone.status, 303, "{}", gone.body);
        assert_eq!(gone.location(), "/account-deleted");
        assert!(gone.header("set-cookie").contains("Max-Age=0"));
        let said = ned.get("/account-deleted").await;
        assert!(said.has("Your account was deleted"), "{}", said.body);
        assert_eq!(ned.get("/settings").await.status, 303, "signed out");
        let again = ned.login("ned").await;
        assert_eq!(again.status, 200, "the account is gone");
    })
    .await;
}

#[tokio::test]
async fn a_password_reset_is_asked_for_and_a_bad_link_is_said() {
    with_stack(|stack| async move {
        stack.user("olga").await;
        let mut visitor = stack.visitor();
        let login = visitor.get("/login").await;
        assert!(login.has("href=\"/password-reset\""));
        for name in ["olga", "nobody-at-all"] {
            visitor.get("/password-reset").await;
            let asked = visitor.post("/password-reset", &[("login", name)]).await;
            assert_eq!(asked.status, 303, "{}", asked.body);
            assert_eq!(asked.location(), "/login");
            let next = visitor.get("/login").await;
            assert!(next.has("a link is on its way"), "same answer for {name}");
        }
        let form = visitor.get("/reset?token=not-a-real-token").await;
        assert_eq!(form.status, 200);
        assert_eq!(form.input("token").as_deref(), Some("not-a-real-token"));
        let refused = visitor
            .post(
                "/reset",
                &[
                    ("token", "not-a-real-token"),
                    ("password", "a brand new passphrase"),
                    ("code", ""),
                ],
            )
            .await;
        assert_eq!(refused.status, 200, "{}", refused.body);
        assert!(
            refused.has("This link is no longer good."),
            "{}",
            refused.body
        );
    })
    .await;
}

#[tokio::test]
async fn an_offer_is_edited_through_its_preview_by_its_maker_only() {
    with_stack(|stack| async move {
        let seller = stack.user("pia").await;
        stack.credit("pia", "5").await;
        let offer = sell_offer(&seller).await;
        let mut pia = stack.visitor();
        pia.login("pia").await;
        let mine = pia.get("/offers/mine").await;
        let edit = format!("/offers/{offer}/edit");
        assert!(mine.has(&format!("href=\"{edit}\"")), "{}", mine.body);
        let form = pia.get(&edit).await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.has("value=\"150\""), "{}", form.body);
        assert!(form.has("value=\"0.1\"") && form.has("value=\"2\""));
        assert!(form.has("IBAN DE00 1234"));
        let fields = [
            ("side", "sell"),
            ("currency", "EUR"),
            ("method", "SEPA"),
            ("details", "IBAN DE00 1234"),
            ("pricing", "fixed"),
            ("price", "160"),
            ("min", "0.1"),
            ("max", "2"),
            ("window", "45"),
            ("terms", "New terms"),
            ("visibility", "public"),
        ];
        let preview = pia.post(&edit, &fields).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(preview.has("Preview of your changes"), "{}", preview.body);
        assert!(preview.has("160.00 EUR") && preview.has("45 minutes"));
        assert_eq!(
            seller.offer(offer).await.unwrap().payment_window_minutes,
            30,
            "nothing saved by the preview"
        );
        // Back to the form, still filled in.
        let mut change = fields.to_vec();
        change.push(("step", "edit"));
        let back = pia.post(&edit, &change).await;
        assert!(back.has("value=\"160\"") && back.has("New terms"));
        let mut save = fields.to_vec();
        save.push(("step", "publish"));
        let saved = pia.post(&edit, &save).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let mine = pia.get("/offers/mine").await;
        assert!(mine.has("Your offer is saved."), "{}", mine.body);
        assert!(mine.has("160.00 EUR"), "{}", mine.body);
        assert_eq!(
            seller.offer(offer).await.unwrap().payment_window_minutes,
            45
        );

        let mut other = stack.visitor();
        other.register("quin").await;
        assert_eq!(other.get(&edit).await.status, 404);
        other.get("/offers/new").await;
        let mut theirs = fields.to_vec();
        theirs.push(("step", "publish"));
        let refused = other.post(&edit, &theirs).await;
        assert!(
            refused.status == 404 || refused.status == 403,
            "{}",
            refused.status
        );
        assert_eq!(seller.offer(offer).await.unwrap().terms, "New terms");
    })
    .await;
}

#[tokio::test]
async fn a_user_sees_where_they_are_signed_in_and_ends_a_session() {
    with_stack(|stack| async move {
        let mut home = stack.visitor();
        home.register("lou").await;
        let mut cafe = stack.visitor();
        cafe.login("lou").await;

        let settings = home.get("/settings").await;
        assert_eq!(settings.status, 200, "{}", settings.body);
        // Two sessions: this one, and the café's with a button to end it.
        assert_eq!(settings.body.matches("id=\"session-current\"").count(), 1);
        assert_eq!(
            settings
                .body
                .matches("action=\"/settings/sessions/")
                .count(),
            1,
            "{}",
            settings.body
        );
        assert!(settings.has("This browser"));
        // The other session's form; its id from the form's action.
        let marker = "action=\"/settings/sessions/";
        let start = settings.body.find(marker).expect("an end button") + marker.len();
        let id = &settings.body[start..start + 36];
        let ended = home
            .post(&format!("/settings/sessions/{id}/end"), &[])
            .await;
        assert_eq!(ended.status, 303, "{}", ended.body);
        assert!(home.get("/settings").await.has("The session was ended"));

        // The café's browser is signed out on its next page.
        let after = cafe.get("/wallet").await;
        assert_eq!(after.status, 303, "{}", after.body);
        assert!(
            after.location().starts_with("/login"),
            "{}",
            after.location()
        );

        // Signing out everywhere ends this one too.
        let out = home.post("/settings/logout-all", &[]).await;
        assert_eq!((out.status, out.location()), (303, "/login"));
        let gone = home.get("/wallet").await;
        assert!(gone.location().starts_with("/login"), "{}", gone.location());
    })
    .await;
}
