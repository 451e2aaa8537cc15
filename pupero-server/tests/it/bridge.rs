//! The Matrix bridge against a real Synapse (`synapse.rs` starts it): accounts linked by a code
//! both sides confirm, a room per trade with exactly its linked parties, messages both ways
//! exactly once (across a restart in the middle of sending too), a dispute inviting the
//! moderator, a stranger ignored, the room closing with the chat; and with the bridge off,
//! nothing of it.

use std::net::SocketAddr;
use std::sync::Arc;

use pupero_core::Role;
use pupero_core::limits::CHAT_GRACE_SECS;
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_market::settings::{
    DEFAULT_MATRIX_ROOM_PREFIX, DEFAULT_MATRIX_SENDER, DEFAULT_MATRIX_USER_PREFIX, MatrixSettings,
    Secret,
};
use pupero_sdk::{Client, OpenTradeRequest, TradeView};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    TestApp, app_test, generous_limits, manual_clock, sell_offer, spawn_app_on, spawn_app_with,
};
use crate::synapse::{AppService, MatrixUser, Synapse, eventually};

/// A loopback address for the Pupero server, known before it starts: the homeserver's
/// registration names it.
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// The bridge's settings for `synapse`, registered with `app_service`.
fn bridge(synapse: &Synapse, app_service: &AppService) -> MatrixSettings {
    MatrixSettings {
        homeserver_url: synapse.base_url(),
        server_name: synapse.server_name().to_owned(),
        as_token: Secret::new(app_service.as_token.clone()),
        hs_token: Secret::new(app_service.hs_token.clone()),
        sender_localpart: DEFAULT_MATRIX_SENDER.to_owned(),
        user_prefix: DEFAULT_MATRIX_USER_PREFIX.to_owned(),
        room_prefix: DEFAULT_MATRIX_ROOM_PREFIX.to_owned(),
    }
}

/// The Matrix user that speaks for Pupero user `id`.
fn puppet(synapse: &Synapse, id: Uuid) -> String {
    synapse.user_id(&format!("{DEFAULT_MATRIX_USER_PREFIX}{}", id.simple()))
}

/// Links `matrix`'s account to `client`'s user: a wrong code first (refused), then the one
/// shown, sent from the room the bridge invites the account to.
async fn link(client: &Client, matrix: &MatrixUser) {
    let started = client
        .start_matrix_link(&matrix.user_id)
        .await
        .expect("start link");
    assert!(!started.link.linked);
    assert!(started.link.notice.contains("not end-to-end encrypted"));
    let room = eventually("the link room's invite", || async {
        matrix.invites().await.into_iter().next()
    })
    .await;
    matrix.join(&room).await;
    matrix.send_text(&room, "WRONG-CODE").await;
    matrix.send_text(&room, &started.code.to_lowercase()).await;
    eventually("the link confirmed", || async {
        client.matrix_link().await.ok().filter(|l| l.linked)
    })
    .await;
    // The bridge says so in the room.
    eventually("the link's answer", || async {
        let messages = matrix.messages(&room).await;
        messages
            .iter()
            .any(|(_, body)| body.starts_with("Linked"))
            .then_some(())
    })
    .await;
}

/// A trade of 0.5 XMR on `offer`, opened by `buyer`.
async fn open(buyer: &Client, offer: Uuid) -> TradeView {
    buyer
        .open_trade(
            &OpenTradeRequest {
                offer_id: offer,
                amount: "0.5".parse().expect("amount"),
                price: "150".parse().expect("price"),
            },
            None,
        )
        .await
        .expect("open trade")
}

/// The room `matrix` was invited to (and joins) for trade `trade`, found by its alias.
async fn trade_room(synapse: &Synapse, matrix: &MatrixUser, trade: Uuid) -> String {
    let alias = format!(
        "#{DEFAULT_MATRIX_ROOM_PREFIX}{}:{}",
        trade.simple(),
        synapse.server_name()
    );
    let room = eventually("the trade room's alias", || async {
        let (status, answer) = matrix
            .request(Method::GET, &["directory", "room", &alias], &[], None)
            .await;
        status
            .is_success()
            .then(|| answer["room_id"].as_str().map(str::to_owned))
            .flatten()
    })
    .await;
    eventually("the trade room's invite", || async {
        matrix.invites().await.contains(&room).then_some(())
    })
    .await;
    matrix.join(&room).await;
    room
}

/// How many times `(sender, body)` is in `room`, as `reader` sees it.
async fn count_in_room(reader: &MatrixUser, room: &str, sender: &str, body: &str) -> usize {
    reader
        .messages(room)
        .await
        .iter()
        .filter(|(s, b)| s == sender && b == body)
        .count()
}

/// Waits until `reader` sees `(sender, body)` in `room`, then checks it is there once.
async fn arrives_once(reader: &MatrixUser, room: &str, sender: &str, body: &str) {
    eventually(&format!("{body:?} in Matrix"), || async {
        (count_in_room(reader, room, sender, body).await > 0).then_some(())
    })
    .await;
    assert_eq!(count_in_room(reader, room, sender, body).await, 1, "{body}");
}

/// The texts of trade `trade`'s chat in Pupero, as `(sender, body)`.
async fn pupero_chat(client: &Client, trade: Uuid) -> Vec<(String, String)> {
    client
        .trade_messages(trade, Some(100), None)
        .await
        .expect("messages")
        .items
        .into_iter()
        .map(|m| (m.sender, m.body))
        .collect()
}

/// Waits until trade `trade`'s chat in Pupero holds `(sender, body)`, as `client` reads it.
async fn arrives_in_pupero(client: &Client, trade: Uuid, sender: &str, body: &str) {
    let wanted = (sender.to_owned(), body.to_owned());
    eventually(&format!("{body:?} in Pupero"), || async {
        pupero_chat(client, trade)
            .await
            .contains(&wanted)
            .then_some(())
    })
    .await;
}

/// Waits until the bridge sent every row of its outbox.
async fn outbox_sent(app: &TestApp) {
    let store = &app.state.market.store;
    eventually("the outbox sent", || async {
        (store.pending_matrix_jobs().await.expect("outbox") == 0).then_some(())
    })
    .await;
}

async fn flow(backend: Backend) {
    let address = free_address();
    let app_service = AppService::new(format!("http://{address}"));
    let Some(synapse) = Synapse::start(Some(&app_service)).await else {
        return;
    };
    let clock = manual_clock();
    let settings = bridge(&synapse, &app_service);
    let Some(app) = spawn_app_with(
        backend,
        |s| {
            s.listen = address;
            s.market.rate_limits = generous_limits();
            s.market.matrix = Some(settings);
        },
        clock.clone(),
    )
    .await
    else {
        return;
    };

    // Only the homeserver pushes transactions.
    for (token, status) in [(None, 401), (Some("not the token"), 403)] {
        let mut put = app
            .raw()
            .put(format!("{}/_matrix/app/v1/transactions/x1", app.base_url))
            .json(&json!({"events": []}));
        if let Some(token) = token {
            put = put.bearer_auth(token);
        }
        assert_eq!(put.send().await.expect("put").status().as_u16(), status);
    }

    // Four Pupero users; three link their Matrix accounts, the fourth's account is a stranger.
    let (seller, seller_id) = app.user("alice").await;
    let (buyer, buyer_id) = app.user("bob").await;
    let (moderator, _) = app.user_with_role("mod", Role::Moderator).await;
    let (carol, _) = app.user("carol").await;
    let alice_m = synapse.register_user("alice").await;
    let bob_m = synapse.register_user("bob").await;
    let mod_m = synapse.register_user("mod").await;
    let carol_m = synapse.register_user("carol").await;
    for (client, matrix) in [(&seller, &alice_m), (&buyer, &bob_m), (&moderator, &mod_m)] {
        link(client, matrix).await;
    }
    // A link needs the account's own word: naming it is not enough.
    let pending = carol
        .start_matrix_link(&alice_m.user_id)
        .await
        .expect("start");
    assert!(!pending.link.linked);
    assert!(
        carol
            .start_matrix_link("@pupero_bot:pupero.test")
            .await
            .is_err(),
        "a bridge user cannot be linked"
    );
    // Each link invites an account to a room: a user starts a few, then waits.
    let mut refused = None;
    for _ in 0..pupero_market::ratelimit::MATRIX_LINK_BURST {
        if let Err(e) = carol.start_matrix_link(&carol_m.user_id).await {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(refused.expect("rate limited").code(), Some("RATE_LIMITED"));

    // A trade opens its room: invite-only, the two linked parties invited.
    app.fund(seller_id, "10").await;
    let offer = seller.create_offer(&sell_offer()).await.expect("offer").id;
    let trade = open(&buyer, offer).await;
    let room = trade_room(&synapse, &alice_m, trade.id).await;
    assert_eq!(trade_room(&synapse, &bob_m, trade.id).await, room);
    let (_, rules) = alice_m
        .request(
            Method::GET,
            &["rooms", &room, "state", "m.room.join_rules", ""],
            &[],
            None,
        )
        .await;
    assert_eq!(rules["join_rule"], "invite");
    let members = alice_m.members(&room).await;
    assert!(members.joined.contains(&alice_m.user_id) && members.joined.contains(&bob_m.user_id));
    assert!(
        !members.joined.contains(&carol_m.user_id) && !members.invited.contains(&carol_m.user_id)
    );
    assert!(
        !members.invited.contains(&mod_m.user_id),
        "no moderator before a dispute"
    );
    let (_, encryption) = alice_m
        .request(
            Method::GET,
            &["rooms", &room, "state", "m.room.encryption", ""],
            &[],
            None,
        )
        .await;
    assert!(
        encryption.get("algorithm").is_none(),
        "rooms are not encrypted"
    );

    // Pupero → Matrix, as the author's Matrix user, once each.
    seller
        .post_trade_message(trade.id, "hello from Pupero")
        .await
        .expect("post");
    buyer
        .post_trade_message(trade.id, "paying now")
        .await
        .expect("post");
    arrives_once(
        &bob_m,
        &room,
        &puppet(&synapse, seller_id),
        "hello from Pupero",
    )
    .await;
    arrives_once(&alice_m, &room, &puppet(&synapse, buyer_id), "paying now").await;

    // Matrix → Pupero, as the linked user, once, and not mirrored back.
    bob_m.send_text(&room, "hi from Element").await;
    arrives_in_pupero(&seller, trade.id, "bob", "hi from Element").await;
    // A message the API refuses is refused from Matrix too (control characters).
    bob_m.send_text(&room, "bad \u{7} bell").await;

    // A stranger let in (only the bridge may invite; here the test does, as the bridge) is
    // ignored; so is the room's own record of puppets.
    let bot = synapse.as_app_service(&synapse.user_id(DEFAULT_MATRIX_SENDER));
    bot.invite(&room, &carol_m.user_id).await;
    carol_m.join(&room).await;
    carol_m.send_text(&room, "let me in").await;
    // The last word, after which everything before it was taken in.
    alice_m.send_text(&room, "done talking").await;
    arrives_in_pupero(&seller, trade.id, "alice", "done talking").await;
    let chat = pupero_chat(&seller, trade.id).await;
    let texts: Vec<&str> = chat.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(
        texts,
        [
            "hello from Pupero",
            "paying now",
            "hi from Element",
            "done talking"
        ],
        "{chat:?}"
    );
    assert_eq!(
        count_in_room(&alice_m, &room, &bob_m.user_id, "hi from Element").await,
        1
    );

    // A dispute invites the linked moderator, with moderator power.
    buyer.mark_trade_paid(trade.id, None).await.expect("paid");
    buyer
        .dispute_trade(trade.id, "the seller stopped answering", None)
        .await
        .expect("dispute");
    eventually("the moderator's invite", || async {
        mod_m.invites().await.contains(&room).then_some(())
    })
    .await;
    mod_m.join(&room).await;
    let levels = mod_m.power_levels(&room).await;
    assert_eq!(levels["users"][&mod_m.user_id], 50, "{levels}");
    assert!(levels["users"].get(&bob_m.user_id).is_none(), "{levels}");

    // Every row went out; the room closes with the chat of a finished trade.
    let second = open(&buyer, offer).await;
    let second_room = trade_room(&synapse, &alice_m, second.id).await;
    buyer.mark_trade_paid(second.id, None).await.expect("paid");
    seller
        .release_trade(second.id, None, None)
        .await
        .expect("release");
    let market = &app.state.market;
    outbox_sent(&app).await;
    assert_eq!(
        market.close_finished_matrix_rooms().await.expect("close"),
        0
    );
    clock.advance_secs(CHAT_GRACE_SECS + 1);
    assert_eq!(
        market.close_finished_matrix_rooms().await.expect("close"),
        1
    );
    eventually("the room read-only", || async {
        let levels = alice_m.power_levels(&second_room).await;
        (levels["events_default"] == 100).then_some(())
    })
    .await;
    let (status, _) = alice_m
        .request(
            Method::PUT,
            &["rooms", &second_room, "send", "m.room.message", "late"],
            &[],
            Some(&json!({"msgtype": "m.text", "body": "too late"})),
        )
        .await;
    assert_eq!(status.as_u16(), 403, "a closed room takes no message");
    assert_eq!(
        market.close_finished_matrix_rooms().await.expect("close"),
        0
    );
    assert_eq!(market.store.failed_matrix_jobs().await.expect("outbox"), 0);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_room_mirrors_the_chat_both_ways_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_room_mirrors_the_chat_both_ways_mariadb() {
    flow(Backend::MariaDb).await;
}

/// Pupero stops dead right after the homeserver took a message, before it recorded that:
/// started again, it sends the same transaction, which the homeserver does not apply twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_sending_sends_nothing_twice() {
    let address = free_address();
    let app_service = AppService::new(format!("http://{address}"));
    let Some(synapse) = Synapse::start(Some(&app_service)).await else {
        return;
    };
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        return;
    };
    let configure = |failpoint: Option<&'static str>| {
        let settings = bridge(&synapse, &app_service);
        move |s: &mut pupero_server::Settings| {
            s.listen = address;
            s.market.rate_limits = generous_limits();
            s.market.matrix = Some(settings);
            s.market.failpoint = failpoint.map(str::to_owned);
        }
    };
    let clock = manual_clock();
    let app = spawn_app_on(db, configure(None), clock.clone()).await;
    let (seller, seller_id) = app.user("alice").await;
    let (buyer, _) = app.user("bob").await;
    let alice_m = synapse.register_user("alice").await;
    let bob_m = synapse.register_user("bob").await;
    link(&seller, &alice_m).await;
    link(&buyer, &bob_m).await;
    app.fund(seller_id, "10").await;
    let offer = seller.create_offer(&sell_offer()).await.expect("offer").id;
    let trade = open(&buyer, offer).await;
    let room = trade_room(&synapse, &bob_m, trade.id).await;
    outbox_sent(&app).await;

    // Now the crash: the message reaches Matrix, the process stops before it records so.
    let app = restart(app, configure(Some("matrix.after_send")), &clock).await;
    let seller = app.client_of_user("alice").await;
    seller
        .post_trade_message(trade.id, "sent across a crash")
        .await
        .expect("post");
    let author = puppet(&synapse, seller_id);
    arrives_once(&bob_m, &room, &author, "sent across a crash").await;
    assert_eq!(
        app.state
            .market
            .store
            .pending_matrix_jobs()
            .await
            .expect("outbox"),
        1
    );

    // Started again once its claim lapsed: the same transaction, the same single event.
    let app = restart(app, configure(None), &clock).await;
    outbox_sent(&app).await;
    let seller = app.client_of_user("alice").await;
    seller
        .post_trade_message(trade.id, "and after it")
        .await
        .expect("post");
    arrives_once(&bob_m, &room, &author, "and after it").await;
    assert_eq!(
        count_in_room(&bob_m, &room, &author, "sent across a crash").await,
        1
    );
    assert_eq!(
        app.state
            .market
            .store
            .failed_matrix_jobs()
            .await
            .expect("outbox"),
        0
    );
    // And Matrix → Pupero still works on the restarted process.
    bob_m.send_text(&room, "got both").await;
    arrives_in_pupero(&seller, trade.id, "bob", "got both").await;
    app.stop().await;
}

/// Stops `app` and serves its database again with `configure`, the clock past any claim.
async fn restart(
    app: TestApp,
    configure: impl FnOnce(&mut pupero_server::Settings),
    clock: &Arc<pupero_core::ManualClock>,
) -> TestApp {
    let db = app.stop_keeping_db().await;
    // Past the delay before a claimed row is tried again.
    clock.advance_secs(60);
    spawn_app_on(db, configure, clock.clone()).await
}

// With the bridge off nothing is queued for Matrix, the link resource and the homeserver's
// endpoint do not exist, and nothing contacts a homeserver (there is none configured).
app_test!(with_the_bridge_off_nothing_reaches_matrix, |app| {
    let (seller, seller_id) = app.user("alice").await;
    let (buyer, _) = app.user("bob").await;
    app.fund(seller_id, "10").await;
    let offer = seller.create_offer(&sell_offer()).await.expect("offer").id;
    let trade = open(&buyer, offer).await;
    seller
        .post_trade_message(trade.id, "hello")
        .await
        .expect("post");
    buyer.mark_trade_paid(trade.id, None).await.expect("paid");
    buyer
        .dispute_trade(trade.id, "testing", None)
        .await
        .expect("dispute");
    let refused = seller
        .start_matrix_link("@alice:example.org")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("NOT_FOUND"));
    let pushed = app
        .raw()
        .put(format!("{}/_matrix/app/v1/transactions/1", app.base_url))
        .bearer_auth("anything")
        .json(&json!({"events": []}))
        .send()
        .await
        .expect("put");
    assert_eq!(pushed.status().as_u16(), 404);
    assert_eq!(
        app.state
            .market
            .store
            .matrix_jobs_total()
            .await
            .expect("count"),
        0
    );
});
