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
    /// The mails the API sent, for a stack started with [`Stack::start_with_mail`].
    pub mail: Option<Arc<MailSink>>,
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
        Stack::open(None, None).await
    }

    /// As [`Stack::start`], with the API's mails going to an SMTP server of this process
    /// ([`Stack::mail`]).
    pub async fn start_with_mail() -> Stack {
        Stack::open(None, Some(MailSink::start().await)).await
    }

    /// As [`Stack::start`], with a simulated Monero wallet (regtest, which uses mainnet
    /// addresses) funded for withdrawals. The wallet jobs do not run on their own: a test
    /// scans deposits (`Market::scan_deposits`) and drives withdrawals
    /// (`Market::drive_withdrawals`) itself, so that a page shows each state it should.
    pub async fn start_with_wallet() -> Stack {
        let wallet = Arc::new(SimWallet::new(pupero_core::Network::Mainnet));
        wallet.fund(Piconero::from_xmr_str("50").expect("amount"));
        Stack::open(Some(wallet), None).await
    }

    async fn open(wallet: Option<Arc<SimWallet>>, mail: Option<Arc<MailSink>>) -> Stack {
        let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
        let mut settings = Settings::for_database(db.url.clone());
        settings.connections.max_per_address = settings.connections.max_total;
        settings.market.rate_limits = generous_limits();
        if let Some(mail) = &mail {
            settings.market.mail.smtp_url =
                Some(pupero_market::settings::Secret::new(mail.url.clone()));
        }
        use pupero_core::Clock as _;
        let clock = Arc::new(pupero_core::ManualClock::new(
            pupero_core::SystemClock.now(),
        ));
        let state = match &wallet {
            Some(wallet) => {
                settings.market.monero_network = pupero_server::config::MoneroNetwork::Regtest;
                settings.market.wallet_worker = false;
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
            mail,
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

/// How long a mail may take from the request that queued it to the sink: the mailer is woken
/// at once, and a busy machine is slow.
const MAIL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope's recipient.
    pub to: String,
    /// The `Subject` header.
    pub subject: String,
    /// The text, its transfer encoding undone.
    pub body: String,
}

impl Mail {
    /// The path and query of the link to `path` in the body (`{path}?token=…`), to open on
    /// the site under test whatever public address the mail names.
    pub fn link(&self, path: &str) -> String {
        let marker = format!("{path}?token=");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker} link in {:?}", self.body));
        self.body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect()
    }
}

/// An SMTP server in this process that keeps every mail it is given: enough of the protocol
/// for the API's mailer (no TLS, no authentication).
pub struct MailSink {
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    mails: Arc<tokio::sync::watch::Sender<Vec<Mail>>>,
}

impl MailSink {
    async fn start() -> Arc<MailSink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP server");
        let url = format!("smtp://{}", listener.local_addr().expect("its address"));
        let mails = Arc::new(tokio::sync::watch::Sender::new(Vec::new()));
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, kept.clone()));
            }
        });
        Arc::new(MailSink { url, mails })
    }

    /// The first mail to `to` whose subject contains `subject`, waiting for it at most
    /// [`MAIL_DEADLINE`].
    pub async fn mail_to(&self, to: &str, subject: &str) -> Mail {
        let wanted = |m: &Mail| m.to == to && m.subject.contains(subject);
        let mut mails = self.mails.subscribe();
        let found =
            tokio::time::timeout(MAIL_DEADLINE, mails.wait_for(|ms| ms.iter().any(wanted))).await;
        match found {
            Ok(Ok(mails)) => mails.iter().find(|m| wanted(m)).cloned().expect("found"),
            _ => panic!(
                "no mail to {to} about {subject:?} within {MAIL_DEADLINE:?}; received: {:#?}",
                *self.mails.borrow()
            ),
        }
    }
}

/// One SMTP conversation: every command is accepted; `DATA` is kept as a [`Mail`].
async fn smtp_session(
    stream: tokio::net::TcpStream,
    mails: Arc<tokio::sync::watch::Sender<Vec<Mail>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = String::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "RCPT" => {
                to = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_owned())
                    .unwrap_or_default();
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                let mut message = Vec::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    // A leading dot was doubled by the sender (RFC 5321 §4.5.2).
                    message.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
                }
                let mail = read_mail(std::mem::take(&mut to), &message);
                mails.send_modify(|kept| kept.push(mail));
                b"250 kept\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(answer).await?;
    }
    Ok(())
}

/// A message's subject and text: headers unfolded, a quoted-printable body decoded.
fn read_mail(to: String, lines: &[String]) -> Mail {
    let blank = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let mut headers: Vec<String> = Vec::new();
    for line in &lines[..blank] {
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => headers.push(line.clone()),
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find_map(|h| {
                let (key, value) = h.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = lines.get(blank + 1..).unwrap_or_default().join("\n");
    let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
        unquote(&body)
    } else {
        body
    };
    Mail {
        to,
        subject: header("Subject"),
        body,
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7): `=` at a line's end joins it to the next, `=XX`
/// is the byte XX.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let mut bytes = Vec::with_capacity(joined.len());
    let mut rest = joined.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let byte = (first == b'=')
            .then(|| tail.get(..2))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match byte {
            Some(byte) => {
                bytes.push(byte);
                rest = &tail[2..];
            }
            None => {
                bytes.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).expect("a UTF-8 body")
}
