//! Users' events through the SDK: what a trade tells each party, the cursor listing, the live
//! stream and its resumption, isolation between users, stream limits, gap-free numbering under
//! concurrent writers, and retention.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pupero_sdk::{Client, EventStream, OfferRequest, OpenTradeRequest, UserEvent};
use pupero_server::AppState;
use uuid::Uuid;

use crate::support::{PASSWORD, TestApp, app_test, app_test_with};

/// Longest wait for an event that should come: generous, so a slow machine is no failure.
const EVENT_WAIT: Duration = Duration::from_secs(20);

fn sell_offer() -> OfferRequest {
    OfferRequest {
        side: "sell".parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some("IBAN DE00 1234".into()),
        price: Some("150".parse().unwrap()),
        margin_percent: None,
        min_amount: "0.1".parse().unwrap(),
        max_amount: "2".parse().unwrap(),
        payment_window_minutes: 30,
        terms: None,
        visibility: "public".parse().unwrap(),
    }
}

/// A funded seller with a sell offer, and a buyer.
struct Market {
    seller: Client,
    buyer: Client,
    offer: Uuid,
}

async fn market(app: &TestApp) -> Market {
    let (seller, seller_id) = app.user("seller").await;
    let (buyer, _) = app.user("buyer").await;
    app.fund(seller_id, "50").await;
    let offer = seller.create_offer(&sell_offer()).await.unwrap().id;
    Market {
        seller,
        buyer,
        offer,
    }
}

async fn open(client: &Client, offer: Uuid, amount: &str) -> Uuid {
    client
        .open_trade(
            &OpenTradeRequest {
                offer_id: offer,
                amount: amount.parse().unwrap(),
                price: "150".parse().unwrap(),
            },
            None,
        )
        .await
        .unwrap()
        .id
}

/// Every event of the client's user, page by page.
async fn all_events(client: &Client) -> Vec<UserEvent> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = client.events(after, Some(500)).await.unwrap();
        all.extend(page.items);
        if !page.has_more {
            return all;
        }
        after = page.next;
    }
}

fn kinds(events: &[UserEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

fn seqs(events: &[UserEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

async fn next_event(stream: &mut EventStream) -> UserEvent {
    tokio::time::timeout(EVENT_WAIT, stream.next())
        .await
        .expect("an event in time")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

async fn take_events(stream: &mut EventStream, n: usize) -> Vec<UserEvent> {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(next_event(stream).await);
    }
    events
}

app_test!(a_trade_tells_both_parties_each_step_in_order, |app| {
    let m = market(app).await;
    let trade = open(&m.buyer, m.offer, "1").await;
    m.buyer.mark_trade_paid(trade, None).await.unwrap();
    m.seller.release_trade(trade, None, None).await.unwrap();
    let cancelled = open(&m.buyer, m.offer, "0.5").await;
    m.buyer.cancel_trade(cancelled, None).await.unwrap();

    let expected = [
        ("trade_opened", trade),
        ("balance_changed", trade),
        ("trade_paid", trade),
        ("trade_released", trade),
        ("balance_changed", trade),
        ("trade_opened", cancelled),
        ("balance_changed", cancelled),
        ("trade_cancelled", cancelled),
        ("balance_changed", cancelled),
    ];
    for (who, client) in [("seller", &m.seller), ("buyer", &m.buyer)] {
        let events = all_events(client).await;
        let got: Vec<(&str, Uuid)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.trade_id.unwrap()))
            .collect();
        assert_eq!(got, expected, "{who}'s events");
        assert_eq!(seqs(&events), (1..=9).collect::<Vec<u64>>(), "{who}'s seqs");
        assert_eq!(events[2].payload["state"], "paid");
        assert_eq!(events[3].payload["state"], "released");
        assert_eq!(events[4].payload["cause"], "trade_released");
        assert!(events.iter().all(|e| e.payload.is_object()));
        assert!(
            events
                .windows(2)
                .all(|w| w[0].created_at_ms <= w[1].created_at_ms)
        );
    }

    // The dev faucet's credit is a balance change too, committed with the credit.
    pupero_market::operator::credit_dev(&app.state.market, "buyer", "1")
        .await
        .unwrap();
    let page = m.buyer.events(9, None).await.unwrap();
    assert_eq!(kinds(&page.items), ["balance_changed"]);
    assert_eq!(page.items[0].seq, 10);
    assert_eq!(page.items[0].trade_id, None);
    assert_eq!(page.items[0].payload["cause"], "dev_credit");
});

app_test!(the_listing_pages_by_cursor, |app| {
    let m = market(app).await;
    for _ in 0..3 {
        let trade = open(&m.buyer, m.offer, "0.1").await;
        m.buyer.cancel_trade(trade, None).await.unwrap();
    }
    // 3 trades × (opened, balance, cancelled, balance).
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = m.seller.events(after, Some(5)).await.unwrap();
        pages.push(seqs(&page.items));
        after = page.next;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(
        pages,
        [vec![1, 2, 3, 4, 5], vec![6, 7, 8, 9, 10], vec![11, 12]]
    );
    assert_eq!(after, 12);
    let past_the_end = m.seller.events(12, None).await.unwrap();
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.next, 12, "an empty page keeps the cursor");
    assert!(!past_the_end.has_more);
    assert_eq!(m.seller.events(0, None).await.unwrap().items.len(), 12);
    for bad in [0, 501] {
        let error = m.seller.events(0, Some(bad)).await.unwrap_err();
        assert_eq!(error.code(), Some("VALIDATION"), "limit {bad}");
    }
});

app_test!(users_never_see_each_others_events, |app| {
    let m = market(app).await;
    let (stranger, _) = app.user("stranger").await;
    let mut stranger_stream = stranger.event_stream(0).await.unwrap();
    let trade = open(&m.buyer, m.offer, "1").await;
    m.buyer.cancel_trade(trade, None).await.unwrap();
    assert!(all_events(&stranger).await.is_empty());

    // The stranger's own trade is the first thing the stranger's stream sees.
    let own = open(&stranger, m.offer, "0.2").await;
    let first = next_event(&mut stranger_stream).await;
    assert_eq!((first.seq, first.trade_id), (1, Some(own)));
    assert!(
        all_events(&stranger)
            .await
            .iter()
            .all(|e| e.trade_id == Some(own))
    );
    assert!(
        all_events(&m.buyer)
            .await
            .iter()
            .all(|e| e.trade_id == Some(trade))
    );
});

app_test!(
    a_stream_sends_the_backlog_then_live_events_and_resumes_exactly,
    |app| {
        let m = market(app).await;
        let first = open(&m.buyer, m.offer, "1").await;

        let mut stream = m.buyer.event_stream(0).await.unwrap();
        let backlog = take_events(&mut stream, 2).await;
        assert_eq!(kinds(&backlog), ["trade_opened", "balance_changed"]);

        m.buyer.mark_trade_paid(first, None).await.unwrap();
        let live = next_event(&mut stream).await;
        assert_eq!((live.seq, live.kind.as_str()), (3, "trade_paid"));

        // Gone for a while: what happens meanwhile comes on the next connection, once each.
        drop(stream);
        m.seller.release_trade(first, None, None).await.unwrap();
        let second = open(&m.buyer, m.offer, "0.5").await;
        let mut resumed = m.buyer.event_stream(live.seq).await.unwrap();
        let missed = take_events(&mut resumed, 4).await;
        assert_eq!(seqs(&missed), [4, 5, 6, 7]);
        assert_eq!(
            kinds(&missed),
            [
                "trade_released",
                "balance_changed",
                "trade_opened",
                "balance_changed"
            ]
        );
        m.buyer.cancel_trade(second, None).await.unwrap();
        assert_eq!(seqs(&take_events(&mut resumed, 2).await), [8, 9]);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), resumed.next())
                .await
                .is_err(),
            "nothing more"
        );

        // Raw SSE: `id:` is the seq, `event:` the kind; `Last-Event-ID` wins over `after`.
        let token = m.buyer.refresh().await.unwrap().access_token;
        let mut response = app
            .raw()
            .get(format!("{}/api/v1/events/stream?after=1", app.base_url))
            .bearer_auth(&token)
            .header("Last-Event-ID", "8")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut text = String::new();
        while !text.contains("\n\n") {
            let chunk = tokio::time::timeout(EVENT_WAIT, response.chunk())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(
            text.starts_with("id: 9\nevent: balance_changed\ndata: {"),
            "{text}"
        );
        let bad = app
            .raw()
            .get(format!("{}/api/v1/events/stream", app.base_url))
            .bearer_auth(&token)
            .header("Last-Event-ID", "nine")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
);

app_test!(a_dropped_connection_is_resumed_with_last_event_id, |app| {
    let m = market(app).await;
    let proxy = CuttingProxy::start(&app.base_url).await;
    let buyer = Client::new(proxy.url.clone()).unwrap();
    buyer.login("buyer", PASSWORD).await.unwrap();
    let mut stream = buyer.event_stream(0).await.unwrap();

    let trade = open(&m.buyer, m.offer, "1").await;
    assert_eq!(seqs(&take_events(&mut stream, 2).await), [1, 2]);
    let mut seen = vec![1, 2];
    // Cut every connection a few times while events keep coming: each is delivered once, in
    // order, whichever connection carries it.
    m.buyer.mark_trade_paid(trade, None).await.unwrap();
    proxy.cut();
    seen.push(next_event(&mut stream).await.seq);
    m.seller.release_trade(trade, None, None).await.unwrap();
    proxy.cut();
    for _ in 0..2 {
        seen.push(next_event(&mut stream).await.seq);
    }
    for _ in 0..3 {
        let next = open(&m.buyer, m.offer, "0.1").await;
        proxy.cut();
        m.buyer.cancel_trade(next, None).await.unwrap();
    }
    for _ in 0..12 {
        seen.push(next_event(&mut stream).await.seq);
    }
    assert_eq!(seen, (1..=17).collect::<Vec<u64>>());
    assert!(proxy.connections() >= 2, "the stream reconnected");
});

app_test!(a_stream_ends_when_its_session_does, |app| {
    let m = market(app).await;
    let mut stream = m.seller.event_stream(0).await.unwrap();
    m.seller.logout().await.unwrap();
    open(&m.buyer, m.offer, "1").await;
    // The new events are not sent to a session that ended; the SDK cannot resume without one.
    let ended = tokio::time::timeout(EVENT_WAIT, stream.next())
        .await
        .expect("the stream ends in time");
    assert!(
        matches!(&ended, Some(Err(e)) if e.is_unauthorized()),
        "{ended:?}"
    );
    assert!(stream.next().await.is_none());
});

/// Waits until the server has released the streams it no longer serves.
async fn open_streams_become(app: &TestApp, user: Uuid, expected: u32) {
    let user = pupero_core::UserId::from_uuid(user);
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while app.state.stream_slots.open(user).1 != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "open streams stay at {:?}",
            app.state.stream_slots.open(user)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

app_test!(a_user_may_hold_only_so_many_streams, |app| {
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    // A second session of Alice's, to end one of her streams from the server's side.
    let other_session = app.new_client();
    other_session.login("alice", PASSWORD).await.unwrap();
    let per_user = usize::try_from(pupero_market::events::MAX_STREAMS_PER_USER).unwrap();
    let mut streams = Vec::new();
    for _ in 1..per_user {
        streams.push(alice.event_stream(0).await.unwrap());
    }
    let mut ending = other_session.event_stream(0).await.unwrap();
    let refused = alice.event_stream(0).await.unwrap_err();
    assert_eq!(refused.status(), Some(429));
    assert_eq!(refused.code(), Some("STREAM_LIMIT"));
    assert!(refused.retry_after().is_some());
    // Another user is not affected.
    let _bobs = bob.event_stream(0).await.unwrap();

    // A stream that ends gives its slot back: the other session logs out, and its stream ends
    // at the next event instead of delivering it.
    other_session.logout().await.unwrap();
    pupero_market::operator::credit_dev(&app.state.market, "alice", "1")
        .await
        .unwrap();
    for stream in &mut streams {
        assert_eq!(
            next_event(stream).await.kind,
            pupero_sdk::EventKind::BalanceChanged
        );
    }
    let ended = tokio::time::timeout(EVENT_WAIT, ending.next())
        .await
        .unwrap();
    assert!(matches!(ended, Some(Err(_))), "{ended:?}");
    open_streams_become(app, alice_id, 3).await;
    streams.push(alice.event_stream(0).await.unwrap());
});

fn two_streams(settings: &mut pupero_server::Settings) {
    settings.max_event_streams = 2;
}

app_test_with!(
    the_server_holds_only_so_many_streams,
    two_streams,
    |app, _clock| {
        let (alice, _) = app.user("alice").await;
        let (bob, _) = app.user("bob").await;
        let _a = alice.event_stream(0).await.unwrap();
        let _b = bob.event_stream(0).await.unwrap();
        let refused = alice.event_stream(0).await.unwrap_err();
        assert_eq!(refused.code(), Some("STREAM_LIMIT"));
    }
);

app_test!(
    concurrent_writers_number_a_users_events_without_gaps,
    |app| {
        // Two writers on one database, as two server processes would be: the app's and a second
        // state's. Their transactions interleave; each user's numbering must still follow commit
        // order without gaps.
        let second = AppState::open_with_clock(
            pupero_server::Settings::for_database(app.state.settings.market.database_url.clone()),
            app.state.market.clock.clone(),
        )
        .await
        .unwrap();
        let m = market(app).await;
        const TAKERS: usize = 12;
        let mut takers = Vec::new();
        for i in 0..TAKERS {
            takers.push(app.user(&format!("taker{i}")).await);
        }
        let amount = pupero_core::Piconero::from_xmr_str("0.1").unwrap();
        let offer = pupero_core::OfferId::from_uuid(m.offer);
        let offer_id = m.offer;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (client, id)) in takers.iter().enumerate() {
            let (client, id, second) = (client.clone(), *id, second.clone());
            tasks.spawn(async move {
                if i % 2 == 0 {
                    open(&client, offer_id, "0.1").await
                } else {
                    let taker = pupero_core::Caller::session(
                        pupero_core::UserId::from_uuid(id),
                        pupero_core::Role::User,
                    );
                    let price = pupero_core::Price::parse("150").unwrap();
                    let (row, _) = second
                        .market
                        .open_trade(
                            &taker,
                            offer,
                            amount,
                            pupero_market::trades::AcceptedPrice(price),
                            None,
                        )
                        .await
                        .expect("open through the second writer");
                    *row.trade.id().as_uuid()
                }
            });
        }
        let mut trades = Vec::new();
        while let Some(trade) = tasks.join_next().await {
            trades.push(trade.unwrap());
        }
        let events = all_events(&m.seller).await;
        let n = u64::try_from(2 * TAKERS).unwrap();
        assert_eq!(seqs(&events), (1..=n).collect::<Vec<u64>>());
        // One transaction's events are consecutive: each trade's opening, then its balance change.
        for pair in events.chunks(2) {
            assert_eq!(kinds(pair), ["trade_opened", "balance_changed"]);
            assert_eq!(pair[0].trade_id, pair[1].trade_id);
        }
        let mut told: Vec<Uuid> = events.iter().filter_map(|e| e.trade_id).collect();
        told.dedup();
        told.sort();
        trades.sort();
        assert_eq!(told, trades);
        for (client, _) in &takers {
            assert_eq!(seqs(&all_events(client).await), [1, 2]);
        }
    }
);

app_test!(
    retention_prunes_old_events_and_numbering_goes_on,
    |app, clock| {
        let m = market(app).await;
        let trade = open(&m.buyer, m.offer, "1").await;
        m.buyer.cancel_trade(trade, None).await.unwrap();
        assert_eq!(all_events(&m.seller).await.len(), 4);

        // Just inside retention nothing goes.
        let retention_secs = pupero_market::events::EVENT_RETENTION.as_secs();
        clock.advance_secs(retention_secs - 1);
        assert_eq!(app.state.market.prune_events().await.unwrap(), 0);

        clock.advance_secs(2);
        // Sessions have expired meanwhile: log in again.
        m.seller.login("seller", PASSWORD).await.unwrap();
        m.buyer.login("buyer", PASSWORD).await.unwrap();
        let later = open(&m.buyer, m.offer, "1").await;
        assert_eq!(
            app.state.market.prune_events().await.unwrap(),
            8,
            "both parties' old events"
        );
        assert_eq!(app.state.market.prune_events().await.unwrap(), 0);
        for client in [&m.seller, &m.buyer] {
            let events = all_events(client).await;
            assert_eq!(seqs(&events), [5, 6], "numbers are never reused");
            assert!(events.iter().all(|e| e.trade_id == Some(later)));
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let app = crate::support::spawn_app(pupero_ledger::testing::Backend::Sqlite)
        .await
        .unwrap();
    let (alice, _) = app.user("alice").await;
    let _stream = alice.event_stream(0).await.unwrap();
    let raw = app
        .raw()
        .get(format!("{}/api/v1/events/stream", app.base_url))
        .bearer_auth(alice.refresh().await.unwrap().access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    // Well within the shutdown grace: the streams end at once rather than being cut off.
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown does not wait for event streams");
    let _ = raw.text().await;
}

/// A TCP proxy in front of the server whose connections can all be cut at once, as a flaky
/// network would.
struct CuttingProxy {
    url: String,
    cut: tokio::sync::broadcast::Sender<()>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    async fn start(upstream: &str) -> CuttingProxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (cut, _) = tokio::sync::broadcast::channel(16);
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (cut_tx, counter) = (cut.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut cut = cut_tx.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.recv() => {}
                    }
                });
            }
        });
        CuttingProxy {
            url,
            cut,
            accepted,
            task,
        }
    }

    /// Drops every open connection.
    fn cut(&self) {
        let _ = self.cut.send(());
    }

    fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}
