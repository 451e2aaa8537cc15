//! The API (SQLite, in this process) and the site over it, for the page and browser tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use poem::EndpointExt;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::test::TestClient;
use pupero_core::Piconero;
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_server::{AppState, Settings};
use pupero_wallet::testing::SimWallet;
use pupero_web::WebConfig;
use pupero_web::session::MemorySessions;
use tokio::sync::oneshot;

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// The API and the site's endpoint.
pub struct Stack {
    /// The API's base URL.
    pub api_url: String,
    /// The API's state, for what only the operator does (crediting a user in development).
    pub state: Arc<AppState>,
    /// The API's clock.
    pub clock: Arc<pupero_core::ManualClock>,
    /// The site.
    pub site: Arc<poem::endpoint::BoxEndpoint<'static>>,
    /// The site's sessions.
    pub sessions: Arc<MemorySessions>,
    /// The site's shared state, for what it counts.
    pub web: Arc<pupero_web::Web>,
    /// The simulated wallet, for a stack started with one.
    pub wallet: Option<Arc<SimWallet>>,
    db: TestDatabase,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The site's settings in tests: plain HTTP, so cookies without `Secure`.
pub fn config() -> WebConfig {
    WebConfig {
        insecure_dev_cookies: true,
        ..WebConfig::new()
    }
}

impl Stack {
    /// Starts the API over a fresh SQLite database, and builds the site over it.
    pub async fn start() -> Stack {
        Stack::open(None).await
    }

    /// As [`Stack::start`], with a simulated Monero wallet (regtest, which uses mainnet
    /// addresses) funded for withdrawals.
    pub async fn start_with_wallet() -> Stack {
        let wallet = Arc::new(SimWallet::new(pupero_core::Network::Mainnet));
        wallet.fund(Piconero::from_xmr_str("50").expect("amount"));
        Stack::open(Some(wallet)).await
    }

    async fn open(wallet: Option<Arc<SimWallet>>) -> Stack {
        let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
        let mut settings = Settings::for_database(db.url.clone());
        settings.connections.max_per_address = settings.connections.max_total;
        settings.market.rate_limits = generous_limits();
        use pupero_core::Clock as _;
        let clock = Arc::new(pupero_core::ManualClock::new(
            pupero_core::SystemClock.now(),
        ));
        let state = match &wallet {
            Some(wallet) => {
                settings.market.monero_network = pupero_server::config::MoneroNetwork::Regtest;
                AppState::open_with_wallet(settings, clock.clone(), wallet.clone(), 0).await
            }
            None => AppState::open_with_clock(settings, clock.clone()).await,
        }
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
        let api_url = format!("http://{address}");
        let sessions = Arc::new(MemorySessions::default());
        let api = pupero_sdk::Client::new(api_url.clone()).expect("client");
        let (web, site) = pupero_web::site(config(), api, sessions.clone());
        let site = Arc::new(site.boxed());
        Stack {
            api_url,
            state,
            clock,
            site,
            sessions,
            web,
            wallet,
            db,
            shutdown,
            server,
        }
    }

    /// Serves the site on `127.0.0.1:0` until the stack stops; its base URL.
    pub async fn serve_site(&self) -> String {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind the site");
        let address: SocketAddr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("a TCP address");
        let site = self.site.clone();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(site));
        format!("http://{address}")
    }

    /// A visitor of the site with a cookie jar of its own.
    pub fn visitor(&self) -> Visitor {
        Visitor {
            client: TestClient::new(self.site.clone()),
            cookies: HashMap::new(),
            csrf: None,
        }
    }

    /// An SDK client of the API.
    pub fn sdk(&self) -> pupero_sdk::Client {
        pupero_sdk::Client::new(self.api_url.clone()).expect("client")
    }

    /// A user registered and logged in through the API.
    pub async fn user(&self, name: &str) -> pupero_sdk::Client {
        let client = self.sdk();
        client
            .register(name, None, PASSWORD)
            .await
            .expect("register");
        client.login(name, PASSWORD).await.expect("login");
        client
    }

    /// Credits `xmr` to `username` as the operator does on a development server.
    pub async fn credit(&self, username: &str, xmr: &str) {
        pupero_market::operator::credit_dev(&self.state.market, username, xmr)
            .await
            .expect("credit");
    }

    /// Stops the API and removes its database.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        self.db.cleanup().await;
    }
}

/// Rate limits no test reaches.
fn generous_limits() -> pupero_market::ratelimit::RateLimitSettings {
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

/// A page as the site answered it.
pub struct Page {
    pub status: u16,
    pub headers: poem::http::HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect goes.
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first `name="…" value="…"` input.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }

    /// Whether the body contains `text`.
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A browser without JavaScript: cookies, and the CSRF token of the last page with a form.
pub struct Visitor {
    client: TestClient<Arc<poem::endpoint::BoxEndpoint<'static>>>,
    cookies: HashMap<String, String>,
    csrf: Option<String>,
}

impl Visitor {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: poem::test::TestResponse) -> Page {
        let response = response.0;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = response.into_body().into_string().await.unwrap_or_default();
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(token) = page.input("_csrf") {
            self.csrf = Some(token);
        }
        page
    }

    /// `GET path`, not following redirects.
    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(path)
            .header("cookie", self.cookie_header())
            .send()
            .await;
        self.finish(response).await
    }

    /// `GET path`, the response as it comes (for a stream).
    pub async fn open(&mut self, path: &str) -> poem::Response {
        self.client
            .get(path)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .0
    }

    /// `POST path` with the form `fields` and the CSRF token of the last page, as the site's
    /// own pages send it (`Sec-Fetch-Site: same-origin`).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &token)];
        form.extend_from_slice(fields);
        self.post_raw(path, &form, &[("sec-fetch-site", "same-origin")])
            .await
    }

    /// `POST path` with exactly these fields and headers.
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .client
            .post(path)
            .header("cookie", self.cookie_header())
            .form(&fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await;
        self.finish(response).await
    }

    /// Registers through the site and is signed in.
    pub async fn register(&mut self, name: &str) {
        self.get("/register").await;
        let page = self
            .post(
                "/register",
                &[("username", name), ("email", ""), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 303, "register {name}: {}", page.body);
        assert_eq!(page.location(), "/market");
    }

    /// Logs in through the site.
    pub async fn login(&mut self, name: &str) -> Page {
        self.get("/login").await;
        self.post(
            "/login",
            &[("login", name), ("password", PASSWORD), ("next", "/market")],
        )
        .await
    }
}

/// A sell offer of `seller` (EUR, SEPA, 150 EUR/XMR fixed, 0.1–2 XMR), through the API.
pub async fn sell_offer(seller: &pupero_sdk::Client) -> uuid::Uuid {
    let request = pupero_sdk::OfferRequest {
        side: "sell".parse().unwrap(),
        currency: "EUR".parse().unwrap(),
        payment_method: "SEPA".parse().unwrap(),
        payment_details: Some("IBAN DE00 1234".into()),
        price: Some("150".parse().unwrap()),
        margin_percent: None,
        min_amount: "0.1".parse().unwrap(),
        max_amount: "2".parse().unwrap(),
        payment_window_minutes: 30,
        terms: Some("Put the trade id in the reference".into()),
        visibility: "public".parse().unwrap(),
    };
    seller.create_offer(&request).await.expect("offer").id
}

/// Runs `f` on a fresh stack and stops it.
pub async fn with_stack<F, Fut>(f: F)
where
    F: FnOnce(Arc<Stack>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stack = Arc::new(Stack::start().await);
    f(stack.clone()).await;
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.stop().await;
    }
}

/// The code an authenticator app shows for `secret` at the API's time.
pub fn totp_code(secret: &str, clock: &pupero_core::ManualClock) -> String {
    use pupero_core::Clock as _;
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("standard TOTP")
        .generate(clock.now().as_unix_ms() / 1000)
        .to_string()
}
