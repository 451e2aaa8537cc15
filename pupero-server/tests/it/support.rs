//! `spawn_app` and the `app_test!` macro.

use std::sync::Arc;

use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_server::{AppState, Settings};
use tokio::sync::oneshot;

pub struct TestApp {
    pub client: pupero_sdk::Client,
    pub base_url: String,
    pub state: Arc<AppState>,
    db: TestDatabase,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// Starts the server on `127.0.0.1:0` over a fresh database; `None` when the backend is
/// unavailable and not required.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with_clock(backend, Arc::new(pupero_core::SystemClock)).await
}

/// As [`spawn_app`], with the server reading time from `clock`.
pub async fn spawn_app_with_clock(
    backend: Backend,
    clock: Arc<dyn pupero_core::Clock>,
) -> Option<TestApp> {
    // Tests of other features log in and register far more often than a person; the rate
    // limits have their own tests (`ratelimit.rs`) with their own settings.
    start(
        backend,
        |settings| settings.market.rate_limits = generous_limits(),
        clock,
    )
    .await
}

/// Opens the state over a fresh database with `configure`d settings and serves it.
async fn start(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
    clock: Arc<dyn pupero_core::Clock>,
) -> Option<TestApp> {
    let db = TestDatabase::create(backend).await?;
    Some(start_on(db, configure, clock).await)
}

/// As [`spawn_app_with`], over the database `db` as it is (a restored backup, say).
pub async fn spawn_app_on(
    db: TestDatabase,
    configure: impl FnOnce(&mut Settings),
    clock: Arc<pupero_core::ManualClock>,
) -> TestApp {
    start_on(db, configure, clock).await
}

async fn start_on(
    db: TestDatabase,
    configure: impl FnOnce(&mut Settings),
    clock: Arc<dyn pupero_core::Clock>,
) -> TestApp {
    let mut settings = Settings::for_database(db.url.clone());
    // Every test client connects from 127.0.0.1, as a crowd behind one NAT would; the
    // connection limits have their own tests (`connections.rs`) with their own settings.
    settings.connections.max_per_address = settings.connections.max_total;
    configure(&mut settings);
    let state = AppState::open_with_clock(settings, clock)
        .await
        .expect("open app state");
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let (bound_tx, bound_rx) = oneshot::channel();
    let server = tokio::spawn(pupero_server::serve(
        state.clone(),
        async move {
            let _ = shutdown_rx.await;
        },
        move |address| {
            let _ = bound_tx.send(address);
        },
    ));
    let address = bound_rx.await.expect("server bound");
    let base_url = format!("http://{address}");
    let client = pupero_sdk::Client::new(base_url.clone()).expect("client");
    TestApp {
        client,
        base_url,
        state,
        db,
        shutdown,
        server,
    }
}

impl TestApp {
    /// A new client of the same server, with no session.
    pub fn new_client(&self) -> pupero_sdk::Client {
        pupero_sdk::Client::new(self.base_url.clone()).expect("client")
    }

    /// A registered and logged-in user: its client and id.
    pub async fn user(&self, username: &str) -> (pupero_sdk::Client, uuid::Uuid) {
        let client = self.new_client();
        let registered = client
            .register(username, None, PASSWORD)
            .await
            .expect("register");
        client.login(username, PASSWORD).await.expect("login");
        (client, registered.user_id)
    }

    /// A new client logged in as `username`, registered before with [`PASSWORD`].
    pub async fn client_of_user(&self, username: &str) -> pupero_sdk::Client {
        let client = self.new_client();
        client.login(username, PASSWORD).await.expect("login");
        client
    }

    /// A raw HTTP client, for requests the SDK would never send.
    pub fn raw(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    pub async fn stop(self) {
        self.stop_keeping_db().await.cleanup().await;
    }

    /// Stops the server as `pupero serve` stops on a signal, and hands over its database.
    pub async fn stop_keeping_db(self) -> TestDatabase {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        self.db
    }
}

/// Runs the body once per engine: `app_test!(name, |app| { ... })`, or with a server clock the
/// test moves: `app_test!(name, |app, clock| { ... })` (a `ManualClock` at the current time).
macro_rules! app_test {
    ($name:ident, |$app:ident, $clock:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: &$crate::support::TestApp, $clock: &pupero_core::ManualClock) $body

            async fn run(backend: pupero_ledger::testing::Backend) {
                use pupero_core::Clock as _;
                let clock = std::sync::Arc::new(pupero_core::ManualClock::new(pupero_core::SystemClock.now()));
                let Some(app) = $crate::support::spawn_app_with_clock(backend, clock.clone()).await else {
                    assert_ne!(backend, pupero_ledger::testing::Backend::Sqlite, "sqlite always works");
                    return;
                };
                body(&app, &clock).await;
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
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: &$crate::support::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::spawn_app(pupero_ledger::testing::Backend::Sqlite).await.expect("sqlite always works");
                body(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                let Some(app) = $crate::support::spawn_app(pupero_ledger::testing::Backend::MariaDb).await else { return };
                body(&app).await;
                app.stop().await;
            }
        }
    };
}
pub(crate) use app_test;

impl TestApp {
    /// A user with `role`, created as the operator would (`pupero admin create-user`), logged in.
    pub async fn user_with_role(
        &self,
        username: &str,
        role: pupero_core::Role,
    ) -> (pupero_sdk::Client, uuid::Uuid) {
        let id = pupero_market::operator::create_user(
            &self.state.market,
            username,
            None,
            PASSWORD,
            role,
        )
        .await
        .expect("create user");
        let client = self.new_client();
        client.login(username, PASSWORD).await.expect("login");
        (client, *id.as_uuid())
    }
}

/// Where the manual clock of [`spawn_app_with`] starts: now, so that tokens it issues are
/// accepted by checks that read the system clock.
pub fn manual_clock() -> Arc<pupero_core::ManualClock> {
    use pupero_core::Clock as _;
    Arc::new(pupero_core::ManualClock::new(
        pupero_core::SystemClock.now(),
    ))
}

/// As [`spawn_app`], with settings changed by `configure` and time from `clock`.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
    clock: Arc<pupero_core::ManualClock>,
) -> Option<TestApp> {
    start(backend, configure, clock).await
}

/// As `app_test!`, with settings changed by `$configure` (a `fn(&mut Settings)`) and a manual
/// clock: `app_test_with!(name, configure, |app, clock| { ... })`.
macro_rules! app_test_with {
    ($name:ident, $configure:expr, |$app:ident, $clock:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: &$crate::support::TestApp, $clock: &std::sync::Arc<pupero_core::ManualClock>) $body

            async fn run(backend: pupero_ledger::testing::Backend) {
                let clock = $crate::support::manual_clock();
                let Some(app) = $crate::support::spawn_app_with(backend, $configure, clock.clone()).await else {
                    assert!(backend != pupero_ledger::testing::Backend::Sqlite, "sqlite always works");
                    return;
                };
                body(&app, &clock).await;
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
pub(crate) use app_test_with;

/// Rate limits no ordinary test reaches.
pub fn generous_limits() -> pupero_market::ratelimit::RateLimitSettings {
    use pupero_market::ratelimit::{RateLimitSettings, RateQuota};
    RateLimitSettings {
        login_per_address: RateQuota::new(100_000, 1),
        register_per_address: RateQuota::new(100_000, 1),
        second_factor_per_user: RateQuota::new(100_000, 1),
        chat_per_user: RateQuota::new(100_000, 1),
        email_change: RateQuota::new(100_000, 1),
        recovery_per_address: RateQuota::new(100_000, 1),
        recovery_mail_per_account: RateQuota::new(100_000, 1),
        ..RateLimitSettings::default()
    }
}

impl TestApp {
    /// Credits `xmr` to `user` as a deposit from the platform's wallet, as the deposit scanner
    /// will.
    pub async fn fund(&self, user: uuid::Uuid, xmr: &str) {
        credit(&self.state, user, xmr).await;
    }
}

impl TestApp {
    /// The events of `user`, oldest first, as `(kind, payload)`: read straight from the
    /// database.
    pub async fn user_events(&self, user: uuid::Uuid) -> Vec<(String, serde_json::Value)> {
        use sqlx::Row as _;
        let (_, pool) = pupero_ledger::open_pool(&self.db.url, 1)
            .await
            .expect("open a pool");
        let rows =
            sqlx::query("SELECT kind, payload FROM user_events WHERE user_id = ? ORDER BY seq")
                .bind(user.to_string())
                .fetch_all(&pool)
                .await
                .expect("read user_events");
        pool.close().await;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind").expect("kind");
                let payload: String = row.try_get("payload").expect("payload");
                (
                    kind,
                    serde_json::from_str(&payload).expect("a JSON payload"),
                )
            })
            .collect()
    }
}

/// Credits `xmr` to `user` as a deposit from the platform's wallet, as the deposit scanner
/// will, through the market of `state`.
pub async fn credit(state: &pupero_server::AppState, user: uuid::Uuid, xmr: &str) {
    use pupero_core::ledger::{
        AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
    };
    use pupero_core::{AccountId, Piconero, TransferId, UserId};
    let wallet = AccountId::from_u128(0xFEED);
    let account = NewAccount {
        id: wallet,
        ledger: LedgerId::XMR,
        code: AccountCode::HotWallet,
        flags: AccountFlags::NONE,
    };
    state
        .market
        .ledger
        .create_account(account)
        .await
        .expect("wallet account");
    let deposit = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Single {
            debit: wallet,
            credit: AccountId::user_xmr(UserId::from_uuid(user)),
            amount: Piconero::from_xmr_str(xmr).expect("amount"),
        },
        TransferCode::Deposit,
    );
    state
        .market
        .ledger
        .transfer(deposit)
        .await
        .expect("deposit");
}

/// A public fixed-price sell offer: EUR by SEPA at 150, 0.1–2 XMR, 30 minutes to pay.
pub fn sell_offer() -> pupero_sdk::OfferRequest {
    pupero_sdk::OfferRequest {
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
    }
}

/// The text of `base`'s `/metrics`, read with the metrics `token`.
pub async fn scrape(base: &str, token: &str) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Whether `python` imports `module` (the server `what` a harness starts). When it does not,
/// a run that requires its services (CI, `PUPERO_REQUIRE_SERVICES=1`) fails here; any other
/// says the test is skipped.
pub fn python_imports(python: &std::path::Path, module: &str, what: &str, variable: &str) -> bool {
    let found = std::process::Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            !pupero_ledger::testing::services_required(),
            "{what} is required (CI or PUPERO_REQUIRE_SERVICES=1) but {} cannot import it \
             (scripts/test.sh installs it; or set {variable})",
            python.display()
        );
        eprintln!(
            "SKIPPED: {what} not found for {} (scripts/test.sh installs it)",
            python.display()
        );
    }
    found
}
