//! The seed's topology: the gateway on one address in front of the four roles, each its own
//! process on one database. A client sees one API: a trade from registration to release, and
//! its events streamed through the gateway as they happen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_server::roles::Role;
use pupero_server::{AppState, Settings};
use tokio::sync::oneshot;

use crate::support::PASSWORD;

/// Longest wait for a streamed event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

struct Running {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

async fn role(settings: &Settings, role: Role) -> (Arc<AppState>, Running) {
    let mut settings = settings.clone();
    settings.role = role;
    let state = AppState::open(settings).await.expect("open");
    let (stop, stopped) = oneshot::channel::<()>();
    let (bound, address) = oneshot::channel();
    let served = state.clone();
    let done = tokio::spawn(async move {
        pupero_server::serve(
            served,
            async {
                let _ = stopped.await;
            },
            |a| {
                let _ = bound.send(a);
            },
        )
        .await
        .expect("serve");
    });
    let address = address.await.expect("bound");
    (
        state,
        Running {
            address,
            stop,
            done,
        },
    )
}

async fn gateway(upstreams: &[(Role, SocketAddr)]) -> Running {
    let upstreams = pupero_server::gateway::Upstreams::from_vars(|name| {
        upstreams
            .iter()
            .find(|(role, _)| name == format!("PUPERO_UPSTREAM_{}", role.as_str().to_uppercase()))
            .map(|(_, address)| address.to_string())
    })
    .expect("upstreams");
    let (stop, stopped) = oneshot::channel::<()>();
    let (bound, address) = oneshot::channel();
    let done = tokio::spawn(async move {
        pupero_server::gateway::serve(
            "127.0.0.1:0".parse().unwrap(),
            upstreams,
            pupero_server::config::ConnectionSettings::default(),
            async {
                let _ = stopped.await;
            },
            |a| {
                let _ = bound.send(a);
            },
        )
        .await
        .expect("gateway");
    });
    Running {
        address: address.await.expect("bound"),
        stop,
        done,
    }
}

async fn a_trade_through_the_gateway(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    // One secret and one data key for every role, as one deployment has.
    let mut settings = Settings::for_database(db.url.clone());
    settings.market.rate_limits = crate::support::generous_limits();
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let mut roles = Vec::new();
    let mut states = Vec::new();
    for r in Role::SERVICES {
        let (state, running) = role(&settings, r).await;
        states.push(state);
        roles.push((r, running));
    }
    let upstreams: Vec<(Role, SocketAddr)> =
        roles.iter().map(|(r, run)| (*r, run.address)).collect();
    let gate = gateway(&upstreams).await;
    let base = format!("http://{}", gate.address);
    let raw = {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    };
    let ready = raw.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status().as_u16(),
        200,
        "{}",
        ready.text().await.unwrap()
    );

    let client = |_: &str| pupero_sdk::Client::new(base.clone()).expect("client");
    let seller = client("seller");
    let buyer = client("buyer");
    let seller_id = seller
        .register("seller", None, PASSWORD)
        .await
        .unwrap()
        .user_id;
    buyer.register("buyer", None, PASSWORD).await.unwrap();
    seller.login("seller", PASSWORD).await.unwrap();
    buyer.login("buyer", PASSWORD).await.unwrap();
    crate::support::credit(&states[2], seller_id, "2").await;

    let mut events = buyer
        .event_stream(0)
        .await
        .expect("an event stream through the gateway");
    let offer = seller
        .create_offer(&crate::support::sell_offer())
        .await
        .unwrap();
    let trade = buyer
        .open_trade(
            &pupero_sdk::OpenTradeRequest {
                offer_id: offer.id,
                amount: "0.5".parse().unwrap(),
                price: "150".parse().unwrap(),
            },
            None,
        )
        .await
        .unwrap();
    // The buyer hears of it at once, while the stream stays open.
    let first = tokio::time::timeout(EVENT_TIMEOUT, events.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("an event");
    assert_eq!(first.kind.to_string(), "trade_opened");
    buyer.mark_trade_paid(trade.id, None).await.unwrap();
    seller.release_trade(trade.id, None, None).await.unwrap();
    let balance = buyer.balance().await.unwrap();
    assert_eq!(balance.available, "0.5".parse().unwrap());
    states[2].market.ledger.check_invariants().await.unwrap();

    // The website over the gateway, as the seed's frontend: the market page lists the offer,
    // with its maker (read by the offers role from what the ledger role changed).
    let site = {
        let app = pupero_web::app(pupero_web::WebConfig::new(), &base).expect("the website");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = pupero_server::config::ConnectionSettings::default();
        let slots = pupero_server::http_server::ConnectionSlots::new(&connections, &[]);
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            let _ = pupero_server::http_server::serve_connections(
                listener,
                app,
                connections,
                slots,
                async {
                    let _ = stopped.await;
                },
                Duration::from_secs(5),
            )
            .await;
        });
        Running {
            address,
            stop,
            done,
        }
    };
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let page = raw
            .get(format!("http://{}/", site.address))
            .send()
            .await
            .unwrap();
        let status = page.status().as_u16();
        let html = page.text().await.unwrap();
        if status == 200 && html.contains(">seller<") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the market page never listed the offer ({status}):\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    site.stop().await;

    // A role down: the gateway says which, never where, and its readiness fails.
    let (_, wallet) = roles.pop().expect("the wallet role");
    wallet.stop().await;
    let response = raw
        .get(format!("{base}/api/v1/wallet/deposits"))
        .bearer_auth("any")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("UNAVAILABLE") && body.contains("wallet"),
        "{body}"
    );
    assert!(
        !body.contains("127.0.0.1"),
        "no upstream address leaks: {body}"
    );
    let ready = raw.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);

    drop(events);
    gate.stop().await;
    for (_, running) in roles {
        running.stop().await;
    }
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    a_trade_through_the_gateway(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb() {
    a_trade_through_the_gateway(Backend::MariaDb).await;
}
