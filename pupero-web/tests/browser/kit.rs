//! Driving Chromium: the driver, browsers with their own profiles, waits with a deadline,
//! screenshots, and the few gestures every test makes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

use crate::audit::{self, REFLOW_WIDTH, Rules};
use crate::support::{PASSWORD, Stack};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page, an element or the driver may take to appear before a test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// How often a condition is looked at while waiting for it.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The widths screenshots are taken at: the narrowest a page must reflow at, a phone and a
/// desktop.
pub(crate) const WIDTHS: [(u32, u32); 3] = [(REFLOW_WIDTH, 720), (390, 844), (1280, 900)];

/// Whether the browser is installed; a failure instead of a skip under CI.
pub(crate) fn browser_installed() -> bool {
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
pub(crate) struct Driver {
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
pub(crate) async fn poll<F, Fut>(check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_for(DEADLINE, check).await
}

/// As [`poll`], for at most `limit`.
pub(crate) async fn poll_for<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}

/// As [`poll`], failing the test when the deadline passes.
pub(crate) async fn until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(poll(check).await, "timed out waiting for {what}");
}

/// As [`until`], with the page the browser shows in the failure.
pub(crate) async fn until_on<F, Fut>(browser: &WebDriver, what: &str, check: F)
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

pub(crate) async fn start_driver() -> Driver {
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
pub(crate) async fn browser(driver: &Driver, profile: &Path, javascript: bool) -> WebDriver {
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
    if !javascript {
        audit::mark_without_javascript(&browser);
    }
    browser
        .set_window_rect(0, 0, 1280, 900)
        .await
        .expect("window size");
    browser
}

/// Where screenshots go: `$CARGO_TARGET_DIR/web-screenshots/`, else the target directory this
/// test was built in.
pub(crate) fn screenshot_dir() -> PathBuf {
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

/// A page state the test visits: screenshots of it at each width, named
/// `{run}-{name}-{width}.png`, and the checks every state passes ([`audit`]): no sideways
/// scroll at 320 px, no axe violation at 320 px nor at the desktop width, and no colour one in
/// the dark scheme (screenshot `{run}-{name}-1280-dark.png`).
pub(crate) async fn shots(browser: &WebDriver, run: &str, name: &str) {
    let dir = screenshot_dir();
    let state = format!("{run}/{name}");
    for (width, height) in WIDTHS {
        browser.set_window_rect(0, 0, width, height).await.unwrap();
        let path = dir.join(format!("{run}-{name}-{width}.png"));
        browser.screenshot(&path).await.expect("screenshot");
        if width == REFLOW_WIDTH {
            audit::reflows(browser, &state).await;
            audit::axe(browser, &format!("{state} at {width} px"), Rules::All).await;
        }
    }
    browser.set_window_rect(0, 0, 1280, 900).await.unwrap();
    audit::axe(browser, &format!("{state} at 1280 px"), Rules::All).await;
    audit::dark(browser, true).await;
    let path = dir.join(format!("{run}-{name}-1280-dark.png"));
    browser.screenshot(&path).await.expect("screenshot");
    audit::axe(
        browser,
        &format!("{state} in the dark scheme"),
        Rules::Colours,
    )
    .await;
    audit::dark(browser, false).await;
}

/// Fails unless no browser reported a Content-Security-Policy violation to the site; waits a
/// moment first for one sent just before (a browser sends its report on its own time).
pub(crate) async fn assert_no_csp_reports(stack: &Stack) {
    let reported = poll_for(CSP_REPORT_GRACE, || async { stack.web.csp_reports() > 0 }).await;
    assert!(
        !reported,
        "browsers reported {} Content-Security-Policy violation(s): see the warnings logged",
        stack.web.csp_reports()
    );
}

/// How long a report sent at the end of a test may take to arrive: a report is a small POST on
/// loopback.
const CSP_REPORT_GRACE: Duration = Duration::from_millis(300);

pub(crate) async fn wait_for_path(browser: &WebDriver, prefix: &str) {
    until_on(browser, prefix, || async {
        browser
            .current_url()
            .await
            .is_ok_and(|url| url.path().starts_with(prefix))
    })
    .await;
}

/// Waits until the page is `path` itself: after a form on a page below it (`/trades/1/resolve`
/// redirecting to `/trades/1`), [`wait_for_path`] would be satisfied before the form is sent.
pub(crate) async fn wait_for_exact_path(browser: &WebDriver, path: &str) {
    until_on(browser, path, || async {
        browser
            .current_url()
            .await
            .is_ok_and(|url| url.path() == path)
    })
    .await;
}

pub(crate) async fn wait_for_text(browser: &WebDriver, text: &str) {
    until_on(browser, text, || async {
        browser.source().await.is_ok_and(|s| s.contains(text))
    })
    .await;
}

/// Waits until the page's live updates flow (`app.js` marks the document).
pub(crate) async fn wait_for_live(browser: &WebDriver) {
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

pub(crate) async fn fill(browser: &WebDriver, id: &str, text: &str) {
    let field = browser.find(By::Id(id)).await.expect(id);
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub(crate) async fn click(browser: &WebDriver, css: &str) {
    // A live update may replace the element between finding and clicking it: then it is found
    // again.
    until_on(browser, css, || async {
        let element = browser.find(By::Css(css)).await.expect(css);
        match element.click().await {
            Ok(()) => true,
            Err(e) if matches!(*e, WebDriverErrorInner::StaleElementReference(_)) => false,
            Err(e) => panic!("clicking {css}: {e}"),
        }
    })
    .await;
}

pub(crate) async fn register(browser: &WebDriver, site: &str, name: &str) {
    browser.goto(format!("{site}/register")).await.unwrap();
    fill(browser, "username", name).await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/register'] button[type=submit]").await;
    wait_for_path(browser, "/market").await;
    wait_for_text(browser, name).await;
}

/// Logs in through the login form and waits for the signed-in page.
pub(crate) async fn login(browser: &WebDriver, site: &str, name: &str, password: &str) {
    browser.goto(format!("{site}/login")).await.unwrap();
    fill(browser, "login", name).await;
    fill(browser, "password", password).await;
    click(browser, "form[action='/login'] button[type=submit]").await;
    wait_for_text(browser, "action=\"/logout\"").await;
}

/// The text of the element with this id. A live update may replace the element while it is
/// read: then it is found and read again.
pub(crate) async fn text_of(browser: &WebDriver, id: &str) -> String {
    let text = std::sync::Mutex::new(None);
    until_on(browser, id, || async {
        let Ok(element) = browser.find(By::Id(id)).await else {
            return false;
        };
        match element.text().await {
            Ok(t) => {
                *text.lock().unwrap() = Some(t);
                true
            }
            Err(e) if matches!(*e, WebDriverErrorInner::StaleElementReference(_)) => false,
            Err(e) => panic!("reading #{id}: {e}"),
        }
    })
    .await;
    text.into_inner().unwrap().expect("read once the wait ends")
}

/// The value of the session cookie the browser holds.
pub(crate) async fn session_cookie(browser: &WebDriver) -> String {
    let cookie = browser
        .get_named_cookie("pupero_sid")
        .await
        .expect("a session cookie");
    format!("pupero_sid={}", cookie.value)
}

/// Marks the page once its live updates flow, to tell later whether it was replaced by a new
/// one ([`same_document`]).
pub(crate) async fn mark_document(browser: &WebDriver) {
    wait_for_live(browser).await;
    browser
        .execute("window.sameDocument = true;", Vec::new())
        .await
        .unwrap();
}

/// Whether the page marked by [`mark_document`] is still the one shown (changed without a
/// reload).
pub(crate) async fn same_document(browser: &WebDriver) -> bool {
    browser
        .execute("return window.sameDocument === true;", Vec::new())
        .await
        .is_ok_and(|r| r.json() == &json!(true))
}

/// Turns 2FA on in the settings' pages, screenshots under `run`; the secret. The code used is
/// spent, so the clock moves on to the next one.
pub(crate) async fn turn_on_2fa(
    browser: &WebDriver,
    site: &str,
    clock: &pupero_core::ManualClock,
    run: &str,
) -> String {
    browser.goto(format!("{site}/settings/2fa")).await.unwrap();
    let secret = text_of(browser, "totp-secret").await;
    shots(browser, run, "2fa-setup").await;
    fill(browser, "password", PASSWORD).await;
    fill(browser, "code", &crate::support::totp_code(&secret, clock)).await;
    click(browser, "form[action='/settings/2fa'] button.primary").await;
    wait_for_path(browser, "/settings/2fa/codes").await;
    shots(browser, run, "recovery-codes").await;
    clock.advance_secs(30);
    secret
}
