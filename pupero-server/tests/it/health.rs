//! Liveness and readiness: `/healthz` answers while the process runs; `/readyz` answers 503
//! naming what is down — the wallet RPC, RabbitMQ — and names the wallet worker lease's holder.

use std::time::{Duration, Instant};

use pupero_ledger::testing::Backend;
use pupero_server::config::{QueueKind, RabbitSettings, Secret};
use pupero_wallet::testing::Regtest;

use crate::regtest::use_platform;
use crate::support::{TestApp, app_test_with, manual_clock, spawn_app_with};

/// How long a dependency may take to be seen down or up again: the report is reused for a
/// second, and each check waits at most two.
const SETTLE: Duration = Duration::from_secs(30);

/// `/readyz`: its status code and body.
async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let response = app
        .raw()
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `/readyz` once it answers `status`, within [`SETTLE`].
async fn readyz_until(app: &TestApp, status: u16) -> serde_json::Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (now, body) = readyz(app).await;
        if now == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {now}, expected {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

app_test_with!(
    readyz_names_the_queue_when_rabbitmq_is_unreachable,
    |settings| {
        // Nothing listens on port 1: the connection is refused at once.
        settings.market.rabbitmq = Some(RabbitSettings {
            url: Secret::new("amqp://guest:guest@127.0.0.1:1/%2f".to_owned()),
            queue: "pupero.test.unreachable".to_owned(),
            kind: QueueKind::Classic,
        });
    },
    |app, _clock| {
        let (status, body) = readyz(app).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["down"], serde_json::json!(["queue"]), "{body}");
        assert!(body["status"].as_str().unwrap().contains("queue"), "{body}");
        // No wallet: no lease to name.
        assert!(body["worker_lease"].is_null(), "{body}");
        // Liveness only: the process is up.
        assert_eq!(app.client.healthz().await.unwrap().status, "ok");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_wallet_when_its_rpc_is_down_and_the_lease_holder() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let mut platform = net.wallet(&format!("platform{n}")).await;
        let url = platform.url().to_owned();
        let Some(app) =
            spawn_app_with(backend, move |s| use_platform(s, &url), manual_clock()).await
        else {
            continue;
        };
        // The worker's first pass takes the lease; readiness names this process.
        let body = readyz_until(&app, 200).await;
        assert_eq!(body["status"], "ok", "{body}");
        assert_eq!(body["down"], serde_json::json!([]), "{body}");
        let deadline = Instant::now() + SETTLE;
        let lease = loop {
            let (_, body) = readyz(&app).await;
            if !body["worker_lease"].is_null() {
                break body["worker_lease"].clone();
            }
            assert!(Instant::now() < deadline, "no lease named: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            lease["holder"],
            app.state.market.worker_id.to_string(),
            "{lease}"
        );
        assert_eq!(lease["this_process"], true, "{lease}");

        // The wallet RPC server dies: 503, naming it; liveness is unaffected.
        platform.kill();
        let body = readyz_until(&app, 503).await;
        assert_eq!(body["down"], serde_json::json!(["wallet"]), "{body}");
        assert_eq!(app.client.healthz().await.unwrap().status, "ok");
        platform.start().await;
        readyz_until(&app, 200).await;
        app.stop().await;
    }
}
