//! The site in a real browser: Debian's Chromium driven through chromedriver (WebDriver), over
//! the API and the site served in this process. A whole trade between two browsers (a seller
//! and a buyer, each with its own profile), once with JavaScript and once without; a cross-site
//! form refused; signed-in pages not stored. Screenshots of the pages visited, at phone and
//! desktop widths, go to `$CARGO_TARGET_DIR/web-screenshots/`.
//!
//! Without Chromium the tests say so and pass, unless `CI` or `PUPERO_REQUIRE_SERVICES` is set:
//! then a missing browser fails them.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pupero_sdk::Piconero;
use serde_json::json;
use thirtyfour::prelude::*;

use support::{PASSWORD, Stack, totp_code};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page, an element or the driver may take to appear before a test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// How often a condition is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(50);

/// The widths screenshots are taken at: a phone and a desktop.
const WIDTHS: [(u32, u32); 2] = [(390, 844), (1280, 900)];

/// Whether the browser is installed; a failure instead of a skip under CI.
fn browser_installed() -> bool {
    let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    let required = std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    if !installed {
        assert!(
            !required,
            "{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is missing");
    }
    installed
}

/// A chromedriver of this test, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits, polling, until `check` says yes or the deadline passes; whether it did.
async fn poll<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}

/// As [`poll`], failing the test when the deadline passes.
async fn until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(poll(check).await, "timed out waiting for {what}");
}

/// As [`until`], with the page the browser shows in the failure.
async fn until_on<F, Fut>(browser: &WebDriver, what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if !poll(check).await {
        let url = browser
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let page = browser.source().await.unwrap_or_default();
        panic!("timed out waiting for {what} at {url}:\n{page}");
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let status = format!("{url}/status");
    until("chromedriver", || {
        let request = http.get(&status).send();
        async move { request.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    Driver { child, url }
}

/// A browser with a profile of its own; JavaScript on or off.
async fn browser(driver: &Driver, profile: &Path, javascript: bool) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=en-US",
        "--window-size=1280,900",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_arg(&format!("--user-data-dir={}", profile.display()))
        .unwrap();
    let mut prefs = json!({ "intl.accept_languages": "en-US,en" });
    if !javascript {
        prefs["profile.managed_default_content_settings.javascript"] = json!(2);
    }
    caps.add_experimental_option("prefs", prefs).unwrap();
    let browser = WebDriver::new(&driver.url, caps).await.expect("a browser");
    browser
        .set_window_rect(0, 0, 1280, 900)
        .await
        .expect("window size");
    browser
}

/// Where screenshots go: `$CARGO_TARGET_DIR/web-screenshots/`, else the target directory this
/// test was built in.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        })
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Screenshots of the page at each width, named `{run}-{name}-{width}.png`.
async fn shots(browser: &WebDriver, run: &str, name: &str) {
    let dir = screenshot_dir();
    for (width, height) in WIDTHS {
        browser.set_window_rect(0, 0, width, height).await.unwrap();
        let path = dir.join(format!("{run}-{name}-{width}.png"));
        browser.screenshot(&path).await.expect("screenshot");
    }
    browser.set_window_rect(0, 0, 1280, 900).await.unwrap();
}

async fn wait_for_path(browser: &WebDriver, prefix: &str) {
    until_on(browser, prefix, || async {
        browser
            .current_url()
            .await
            .is_ok_and(|url| url.path().starts_with(prefix))
    })
    .await;
}

async fn wait_for_text(browser: &WebDriver, text: &str) {
    until_on(browser, text, || async {
        browser.source().await.is_ok_and(|s| s.contains(text))
    })
    .await;
}

/// Waits until the page's live updates flow (`app.js` marks the document).
async fn wait_for_live(browser: &WebDriver) {
    until_on(browser, "live updates", || async {
        browser
            .execute(
                "return document.documentElement.dataset.live === 'ready';",
                Vec::new(),
            )
            .await
            .is_ok_and(|r| r.json() == &json!(true))
    })
    .await;
}

async fn fill(browser: &WebDriver, id: &str, text: &str) {
    let field = browser.find(By::Id(id)).await.expect(id);
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(browser: &WebDriver, css: &str) {
    browser
        .find(By::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .unwrap();
}

async fn register(browser: &WebDriver, site: &str, name: &str) {
    browser.goto(format!("{site}/register")).await.unwrap();
    fill(browser, "username", name).await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/register'] button[type=submit]").await;
    wait_for_path(browser, "/market").await;
    wait_for_text(browser, name).await;
}

/// The value of the session cookie the browser holds.
async fn session_cookie(browser: &WebDriver) -> String {
    let cookie = browser
        .get_named_cookie("pupero_sid")
        .await
        .expect("a session cookie");
    format!("pupero_sid={}", cookie.value)
}

async fn full_trade(javascript: bool) {
    if !browser_installed() {
        return;
    }
    let run = if javascript { "js" } else { "nojs" };
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let alice = browser(&driver, &profiles.path().join("alice"), javascript).await;
    let bob = browser(&driver, &profiles.path().join("bob"), javascript).await;

    // Alice registers, is credited as a development server does, sets up 2FA and posts an
    // offer.
    register(&alice, &site, "alice").await;
    stack.credit("alice", "10").await;
    alice.goto(format!("{site}/settings/2fa")).await.unwrap();
    let secret = alice
        .find(By::Id("totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    shots(&alice, run, "2fa-setup").await;
    fill(&alice, "password", PASSWORD).await;
    fill(&alice, "code", &totp_code(&secret, &stack.clock)).await;
    click(&alice, "form[action='/settings/2fa'] button.primary").await;
    wait_for_path(&alice, "/settings/2fa/codes").await;
    shots(&alice, run, "recovery-codes").await;
    // The code just used is spent: the next one comes 30 s later.
    stack.clock.advance_secs(30);

    alice.goto(format!("{site}/offers/new")).await.unwrap();
    fill(&alice, "currency", "EUR").await;
    click(&alice, "#method option[value='SEPA']").await;
    fill(&alice, "details", "IBAN DE00 1234").await;
    fill(&alice, "price", "150").await;
    fill(&alice, "min", "0.1").await;
    fill(&alice, "max", "2").await;
    shots(&alice, run, "new-offer").await;
    click(&alice, "#preview").await;
    wait_for_text(&alice, "Preview of your offer").await;
    shots(&alice, run, "offer-preview").await;
    click(&alice, "#publish").await;
    wait_for_path(&alice, "/offers/mine").await;
    wait_for_text(&alice, "Your offer is published.").await;
    shots(&alice, run, "my-offers").await;

    // Bob filters the market, reviews and opens a trade.
    register(&bob, &site, "bob").await;
    fill(&bob, "currency", "EUR").await;
    click(&bob, "#method option[value='SEPA']").await;
    fill(&bob, "amount", "0.5").await;
    click(&bob, "form.filters button[type=submit]").await;
    until("the filtered market", || async {
        bob.current_url()
            .await
            .is_ok_and(|u| u.query().is_some_and(|q| q.contains("currency=EUR")))
    })
    .await;
    shots(&bob, run, "market").await;
    click(&bob, ".card h3 a").await;
    wait_for_path(&bob, "/offers/").await;
    shots(&bob, run, "offer").await;
    fill(&bob, "amount", "0,5").await;
    click(&bob, "form[action$='/review'] button[type=submit]").await;
    wait_for_text(&bob, "The price is final once the trade is opened.").await;
    let review = bob.source().await.unwrap();
    assert!(review.contains("0.500000000000 XMR") && review.contains("75.00 EUR"));
    shots(&bob, run, "review").await;
    click(&bob, "#open-trade").await;
    wait_for_path(&bob, "/trades/").await;
    let trade_url = bob.current_url().await.unwrap();
    let trade_id: uuid::Uuid = trade_url
        .path()
        .trim_start_matches("/trades/")
        .parse()
        .unwrap();
    wait_for_text(
        &bob,
        "You are buying 0.500000000000 XMR for 75.00 EUR from alice",
    )
    .await;
    shots(&bob, run, "trade-escrowed-buyer").await;

    // Chat both ways.
    fill(&bob, "body", "Paying now").await;
    click(&bob, "form[action$='/messages'] button").await;
    wait_for_text(&bob, "Paying now").await;
    alice.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&alice, "Paying now").await;
    fill(&alice, "body", "Thanks, waiting").await;
    click(&alice, "form[action$='/messages'] button").await;
    bob.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&bob, "Thanks, waiting").await;

    // Bob has paid. With JavaScript, Alice's page, open meanwhile, shows it without a reload.
    if javascript {
        wait_for_path(&alice, &format!("/trades/{trade_id}")).await;
        wait_for_live(&alice).await;
        alice
            .execute("window.sameDocument = true;", Vec::new())
            .await
            .unwrap();
    }
    click(&bob, "#action-paid").await;
    wait_for_path(&bob, &format!("/trades/{trade_id}/paid")).await;
    click(&bob, "#confirm").await;
    shots(&bob, run, "paid-confirm").await;
    click(&bob, "#step-submit").await;
    wait_for_text(&bob, "Paid, waiting for release").await;

    // Alice releases on the confirmation page, with her code; Enter alone sends nothing.
    if javascript {
        wait_for_text(&alice, "The buyer says 75.00 EUR was sent.").await;
        let same = alice
            .execute("return window.sameDocument === true;", Vec::new())
            .await
            .unwrap();
        assert_eq!(
            same.json(),
            &json!(true),
            "the seller's page changed without a reload"
        );
    }
    alice.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&alice, "The buyer says 75.00 EUR was sent.").await;
    shots(&alice, run, "trade-paid-seller").await;
    click(&alice, "#action-release").await;
    wait_for_path(&alice, &format!("/trades/{trade_id}/release")).await;
    wait_for_text(&alice, "I have received 75.00 EUR in my account.").await;
    click(&alice, "#confirm").await;
    let code = totp_code(&secret, &stack.clock);
    fill(&alice, "code", &code).await;
    if javascript {
        // A submission would fire `submit` at once, while the key is handled.
        alice
            .execute(
                "window.submitted = false; document.getElementById('step-form')\
                 .addEventListener('submit', (e) => { window.submitted = true; e.preventDefault(); });",
                Vec::new(),
            )
            .await
            .unwrap();
        alice
            .find(By::Id("code"))
            .await
            .unwrap()
            .send_keys(Key::Enter)
            .await
            .unwrap();
        let submitted = alice
            .execute("return window.submitted;", Vec::new())
            .await
            .unwrap();
        assert_eq!(submitted.json(), &json!(false), "Enter must not release");
        alice
            .goto(format!("{site}/trades/{trade_id}/release"))
            .await
            .unwrap();
        click(&alice, "#confirm").await;
        fill(&alice, "code", &code).await;
    }
    shots(&alice, run, "release-confirm").await;
    let api_alice = stack.sdk();
    api_alice.login("alice", PASSWORD).await.ok();
    click(&alice, "#step-submit").await;
    wait_for_path(&alice, &format!("/trades/{trade_id}")).await;
    wait_for_text(&alice, "The XMR was released to the buyer.").await;
    shots(&alice, run, "trade-released-seller").await;

    // Bob sees it released and leaves feedback.
    bob.goto(trade_url.as_str()).await.unwrap();
    wait_for_text(&bob, "Released").await;
    click(&bob, "input[name=rating][value=positive]").await;
    fill(&bob, "comment", "Quick and friendly").await;
    click(&bob, "form[action$='/feedback'] button").await;
    wait_for_text(&bob, "Thank you for your feedback.").await;
    bob.goto(format!("{site}/u/alice")).await.unwrap();
    wait_for_text(&bob, "Quick and friendly").await;
    shots(&bob, run, "profile").await;

    // Balances to the piconero, as the API has them and as the wallet page shows them.
    let api_bob = stack.sdk();
    api_bob.login("bob", PASSWORD).await.unwrap();
    let trade = api_bob.trade(trade_id).await.unwrap();
    assert_eq!(
        api_bob.balance().await.unwrap().available,
        trade.buyer_receives
    );
    let alice_balance = stack.sdk();
    let code = {
        stack.clock.advance_secs(30);
        totp_code(&secret, &stack.clock)
    };
    alice_balance
        .login_with_totp("alice", PASSWORD, &code)
        .await
        .unwrap();
    assert_eq!(
        alice_balance.balance().await.unwrap().available,
        Piconero::from_xmr_str("10")
            .unwrap()
            .checked_sub(trade.escrowed)
            .unwrap()
    );
    bob.goto(format!("{site}/wallet")).await.unwrap();
    let shown = pupero_web::format::xmr_unit(trade.buyer_receives, pupero_web::i18n::Locale::En);
    wait_for_text(&bob, &shown).await;
    shots(&bob, run, "wallet").await;

    // A signed-in page in the browser's session is never stored.
    let wallet = reqwest::Client::new()
        .get(format!("{site}/wallet"))
        .header("cookie", session_cookie(&bob).await)
        .send()
        .await
        .unwrap();
    assert_eq!(wallet.status(), 200);
    assert_eq!(wallet.headers()["cache-control"], "no-store");

    // French.
    bob.goto(format!("{site}/lang/fr?next=%2Fwallet"))
        .await
        .unwrap();
    wait_for_text(&bob, "Portefeuille").await;
    // The page's source writes the no-break space before the unit as `&nbsp;`.
    let french = pupero_web::format::xmr(trade.buyer_receives, pupero_web::i18n::Locale::Fr);
    wait_for_text(&bob, &french).await;
    shots(&bob, run, "wallet-fr").await;

    alice.quit().await.unwrap();
    bob.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_trade_with_javascript() {
    full_trade(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_trade_without_javascript() {
    full_trade(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_from_another_site_is_refused() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    // Another origin (another port: same site, other origin) with a form posting to ours.
    let evil = poem::Route::new().at(
        "/",
        poem::endpoint::make_sync({
            let site = site.clone();
            move |_| {
                poem::web::Html(format!(
                    "<!doctype html><title>elsewhere</title><form method=post action=\"{site}/offers/new\">\
                     <input name=currency value=EUR><button id=go>Go</button></form>"
                ))
            }
        }),
    );
    let acceptor =
        poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind("127.0.0.1:0"))
            .await
            .unwrap();
    let evil_url = format!(
        "http://{}",
        poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .unwrap()
    );
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(evil));

    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let victim = browser(&driver, &profiles.path().join("victim"), false).await;
    register(&victim, &site, "victim").await;
    victim.goto(evil_url).await.unwrap();
    click(&victim, "#go").await;
    wait_for_text(
        &victim,
        "This form was sent from another site and was refused.",
    )
    .await;
    shots(&victim, "security", "cross-site-refused").await;
    let api = stack.sdk();
    api.login("victim", PASSWORD).await.unwrap();
    assert!(
        api.my_offers().await.unwrap().is_empty(),
        "nothing was posted"
    );
    victim.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
