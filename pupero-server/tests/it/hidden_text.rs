//! Invisible and direction-changing characters in every text field that people write: each is
//! refused with 400 `VALIDATION` naming the character, and nothing is written.

use pupero_sdk::{Client, OfferRequest, OpenTradeRequest, Rating};
use uuid::Uuid;

use crate::support::{PASSWORD, TestApp, app_test};

/// One character of each class the rule refuses, several of the usual tricks among them.
const OFFENDERS: &[char] = &[
    '\u{202E}',  // right-to-left override
    '\u{202A}',  // left-to-right embedding
    '\u{2066}',  // left-to-right isolate
    '\u{2069}',  // pop directional isolate
    '\u{200F}',  // right-to-left mark
    '\u{061C}',  // Arabic letter mark
    '\u{200B}',  // zero width space
    '\u{200D}',  // zero width joiner
    '\u{2060}',  // word joiner
    '\u{FEFF}',  // zero width no-break space
    '\u{AD}',    // soft hyphen
    '\u{FFF9}',  // interlinear annotation anchor
    '\u{E0041}', // tag letter A
    '\u{2028}',  // line separator
    '\u{2029}',  // paragraph separator
    '\u{3164}',  // Hangul filler
    '\u{34F}',   // combining grapheme joiner
    '\u{7}',     // bell, a control character
    '\u{1B}',    // escape
    '\u{85}',    // next line, a C1 control
];

fn offer(terms: &str, payment_details: &str) -> OfferRequest {
    OfferRequest {
        side: "sell".parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some(payment_details.into()),
        price: Some("150".parse().unwrap()),
        margin_percent: None,
        min_amount: "0.1".parse().unwrap(),
        max_amount: "2".parse().unwrap(),
        payment_window_minutes: 30,
        terms: Some(terms.into()),
        visibility: "public".parse().unwrap(),
    }
}

/// Asserts that `result` is a 400 `VALIDATION` whose message names `c` as `U+XXXX`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, pupero_sdk::Error>, c: char, field: &str) {
    let code = format!("U+{:04X}", u32::from(c));
    let error = match result {
        Ok(accepted) => panic!("{field} with {code} was accepted: {accepted:?}"),
        Err(error) => error,
    };
    assert_eq!(error.status(), Some(400), "{field} with {code}: {error:?}");
    assert_eq!(error.code(), Some("VALIDATION"), "{field} with {code}");
    assert!(
        error.message().contains(&code),
        "{field} with {code}: the message should name it: {:?}",
        error.message()
    );
}

async fn open_trade(buyer: &Client, offer: Uuid) -> Uuid {
    buyer
        .open_trade(
            &OpenTradeRequest {
                offer_id: offer,
                amount: "0.5".parse().unwrap(),
                price: buyer.offer(offer).await.unwrap().effective_price.unwrap(),
            },
            None,
        )
        .await
        .unwrap()
        .id
}

app_test!(hidden_characters_are_refused_in_every_text_field, |app| {
    let (seller, seller_id) = app.user("hidden-seller").await;
    let (buyer, _) = app.user("hidden-buyer").await;
    app.fund(seller_id, "10").await;
    let terms = "Pay by SEPA.\nReference: the trade id.";
    let offer_id = seller
        .create_offer(&offer(terms, "IBAN only"))
        .await
        .unwrap()
        .id;
    let completed = open_trade(&buyer, offer_id).await;
    buyer.mark_trade_paid(completed, None).await.unwrap();
    seller.release_trade(completed, None, None).await.unwrap();
    let paid = open_trade(&buyer, offer_id).await;
    buyer.mark_trade_paid(paid, None).await.unwrap();

    let anonymous = app.new_client();
    let mut usernames = Vec::new();
    for (n, &c) in OFFENDERS.iter().enumerate() {
        let text = format!("IBAN DE89 3704{c}0044 0532");
        refused(seller.post_trade_message(paid, &text).await, c, "chat");
        refused(
            seller.create_offer(&offer(&text, "IBAN only")).await,
            c,
            "offer terms",
        );
        refused(
            seller.create_offer(&offer(terms, &text)).await,
            c,
            "payment details",
        );
        refused(
            seller
                .update_offer(offer_id, &offer(&text, "IBAN only"))
                .await,
            c,
            "offer terms on an update",
        );
        refused(
            buyer
                .leave_feedback(completed, Rating::Positive, &text)
                .await,
            c,
            "feedback comment",
        );
        refused(
            buyer.dispute_trade(paid, &text, None).await,
            c,
            "dispute reason",
        );
        refused(
            seller
                .create_api_key(
                    &format!("bot{c}one"),
                    &[pupero_sdk::Scope::Read],
                    crate::support::PASSWORD,
                    None,
                )
                .await,
            c,
            "API key name",
        );
        let username = format!("eve{n}{c}x");
        refused(
            anonymous.register(&username, None, PASSWORD).await,
            c,
            "username",
        );
        usernames.push(username);
        refused(
            anonymous
                .register(
                    &format!("mail{n}"),
                    Some(&format!("a{c}b@example.org")),
                    PASSWORD,
                )
                .await,
            c,
            "e-mail on registration",
        );
        refused(
            seller
                .set_email(
                    Some(&format!("a{c}b@example.org")),
                    crate::support::PASSWORD,
                    None,
                )
                .await,
            c,
            "e-mail",
        );
    }

    // Nothing was written.
    let messages = seller.trade_messages(paid, None, None).await.unwrap();
    assert!(messages.items.is_empty(), "{:?}", messages.items);
    let offers = seller.my_offers().await.unwrap();
    assert_eq!(offers.len(), 1, "no offer was created");
    assert_eq!(offers[0].terms, terms);
    assert_eq!(offers[0].payment_details, "IBAN only");
    let feedback = anonymous
        .user_feedback("hidden-seller", None, None)
        .await
        .unwrap();
    assert!(feedback.items.is_empty(), "{:?}", feedback.items);
    let trade = buyer.trade(paid).await.unwrap();
    assert_eq!(trade.state, pupero_sdk::TradeState::Paid);
    assert_eq!(trade.dispute_reason, None);
    assert!(seller.list_api_keys().await.unwrap().is_empty());
    assert_eq!(seller.me().await.unwrap().email, None);
    for n in 0..OFFENDERS.len() {
        let error = anonymous
            .public_profile(&format!("mail{n}"))
            .await
            .unwrap_err();
        assert!(error.is_not_found(), "mail{n} was registered");
    }
    for username in &usernames {
        assert!(
            anonymous.login(username, PASSWORD).await.is_err(),
            "{username:?} was registered"
        );
    }
    assert_written_text_is_clean(app).await;

    // Ordinary text in many scripts goes through everywhere.
    let fine = "Grüße, спасибо, شكراً, 谢谢, ありがとう 👍🏽";
    seller.post_trade_message(paid, fine).await.unwrap();
    seller
        .update_offer(offer_id, &offer(fine, fine))
        .await
        .unwrap();
    buyer
        .leave_feedback(completed, Rating::Positive, fine)
        .await
        .unwrap();
    seller
        .create_api_key(
            fine,
            &[pupero_sdk::Scope::Read],
            crate::support::PASSWORD,
            None,
        )
        .await
        .unwrap();
    seller
        .set_email(Some("jürgen@example.org"), crate::support::PASSWORD, None)
        .await
        .unwrap();
    let disputed = buyer.dispute_trade(paid, fine, None).await.unwrap();
    assert_eq!(disputed.dispute_reason.as_deref(), Some(fine));
});

/// No row of the users table holds a name or address with a refused character (a register
/// refused above left nothing behind).
async fn assert_written_text_is_clean(app: &TestApp) {
    let admin = app
        .state
        .market
        .store
        .list_users(None, None, 200)
        .await
        .unwrap();
    for user in admin {
        assert!(
            pupero_core::Username::parse(&user.username).is_ok(),
            "{:?}",
            user.username
        );
        if let Some(email) = &user.email {
            assert!(pupero_core::EmailAddress::parse(email).is_ok(), "{email:?}");
        }
    }
}
