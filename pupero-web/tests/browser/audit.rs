//! What every page state the tests visit is held to, besides what each test looks for:
//! axe-core finds no WCAG 2.2 A/AA violation (nor a best practice broken), in the light colour
//! scheme and, for colours, in the dark one; and at 320 px wide the page reflows without
//! scrolling sideways (WCAG 1.4.10).
//!
//! axe-core comes from npm, pinned by the lockfile in `tests/browser/axe/` and installed by
//! `scripts/test.sh` (`ensure_axe`) outside the clone; the tests find `axe.min.js` through
//! `PUPERO_AXE_JS`, else at `~/.cache/pupero-axe/node_modules/axe-core/axe.min.js`. Without it
//! the axe check says so and is skipped (the reflow check still runs), unless `CI` or
//! `PUPERO_REQUIRE_SERVICES` is set: then it fails.
//!
//! WebDriver runs scripts in a browser whose pages have JavaScript off, but such a page runs
//! no timers, which axe waits on between rules: there, for the time of the run only, a timer
//! is made a microtask (which such a page does run). The page checked is the very page the
//! JavaScript-less reader sees.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};
use thirtyfour::prelude::*;

/// Which of axe's rules run.
#[derive(Clone, Copy)]
pub(crate) enum Rules {
    /// Every rule of [`AXE_TAGS`].
    All,
    /// The rules about colours alone, for the page in another colour scheme.
    Colours,
}

/// The rules about colours: contrast of text, and links told apart from text by more than
/// colour.
const COLOUR_RULES: [&str; 2] = ["color-contrast", "link-in-text-block"];

/// The tags of the rules run: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best
/// practices (landmarks, one main heading, heading order...).
const AXE_TAGS: [&str; 6] = [
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// The narrowest width a page must reflow at: 320 CSS px, WCAG 1.4.10's 1280 px at 400 %.
pub(crate) const REFLOW_WIDTH: u32 = 320;

/// Sessions of browsers started with JavaScript off (their pages run no timers).
static WITHOUT_JS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Notes that `browser` runs pages without JavaScript.
pub(crate) fn mark_without_javascript(browser: &WebDriver) {
    let mut set = WITHOUT_JS.lock().unwrap();
    set.get_or_insert_with(HashSet::new)
        .insert(browser.session_id().to_string());
}

fn without_javascript(browser: &WebDriver) -> bool {
    WITHOUT_JS
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|s| s.contains(&browser.session_id().to_string()))
}

/// Where `axe.min.js` is expected.
fn axe_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PUPERO_AXE_JS") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/pupero-axe/node_modules/axe-core/axe.min.js")
}

/// axe-core's source, read once; `None` (said once) when it is not installed and not required.
fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = axe_path();
            match std::fs::read_to_string(&path) {
                Ok(source) => Some(source),
                Err(error) => {
                    let required = std::env::var_os("CI").is_some()
                        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
                    assert!(
                        !required,
                        "axe-core is required at {} ({error}): run \
                         `bash -c 'source scripts/lib.sh; ensure_axe'`",
                        path.display()
                    );
                    eprintln!(
                        "accessibility check skipped: no axe-core at {} ({error})",
                        path.display()
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// Runs axe's `rules` on the page; panics with a readable list of every violation.
pub(crate) async fn axe(browser: &WebDriver, state: &str, rules: Rules) {
    let Some(violations) = axe_violations(browser, state, rules).await else {
        return;
    };
    if violations.is_empty() {
        return;
    }
    let url = browser
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!(
        "axe found {} violation(s) on {state} ({url}):\n{}",
        violations.len(),
        report(&violations)
    );
}

/// The rules the page breaks, each with the elements breaking it; `None` without axe.
pub(crate) async fn axe_violations(
    browser: &WebDriver,
    state: &str,
    rules: Rules,
) -> Option<Vec<Value>> {
    let source = axe_source()?;
    let loaded = browser
        .execute("return typeof window.axe === 'object';", Vec::new())
        .await
        .expect("look for axe");
    if loaded.json() != &json!(true) {
        // The source is the script itself: nothing is added to the page, so the page's policy
        // (no inline script) has nothing to block or report.
        browser
            .execute(format!("{source}\n;return true;"), Vec::new())
            .await
            .expect("load axe");
    }
    let only = match rules {
        Rules::All => json!({ "type": "tag", "values": AXE_TAGS }),
        Rules::Colours => json!({ "type": "rule", "values": COLOUR_RULES }),
    };
    let outcome = browser
        .execute_async(
            r#"
            const [only, timersOff, done] = arguments;
            const saved = [window.setTimeout, window.clearTimeout];
            if (timersOff) {
              window.setTimeout = (f, _ms, ...args) => { Promise.resolve().then(() => f(...args)); return 0; };
              window.clearTimeout = () => {};
            }
            const restore = () => { [window.setTimeout, window.clearTimeout] = saved; };
            axe.run(document, { runOnly: only, resultTypes: ['violations'] })
              .then((r) => {
                restore();
                done({ violations: r.violations.map((v) => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map((n) => ({
                    target: n.target.map(String).join(' '), html: (n.html || '').slice(0, 160),
                    summary: n.failureSummary || '',
                  })),
                })) });
              }, (e) => { restore(); done({ error: String(e) }); });
            "#,
            vec![only, json!(without_javascript(browser))],
        )
        .await
        .expect("run axe");
    let outcome = outcome.json();
    if let Some(error) = outcome.get("error") {
        panic!("axe failed on {state}: {error}");
    }
    Some(
        outcome["violations"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    )
}

/// One paragraph per rule broken: its id, impact and help, then each element as a selector
/// with what is wrong with it.
fn report(violations: &[Value]) -> String {
    let mut text = String::new();
    for v in violations {
        let text_of = |key: &str| v[key].as_str().unwrap_or("").to_owned();
        text.push_str(&format!(
            "- {} ({}): {}\n",
            text_of("id"),
            text_of("impact"),
            text_of("help")
        ));
        for node in v["nodes"].as_array().into_iter().flatten() {
            let summary = node["summary"].as_str().unwrap_or("").replace('\n', " ");
            text.push_str(&format!(
                "    {}  {}\n      {}\n",
                node["target"].as_str().unwrap_or(""),
                node["html"].as_str().unwrap_or(""),
                summary.trim()
            ));
        }
    }
    text
}

/// At the window's current width: the page scrolls no wider than the window, or the test fails
/// naming the elements that stick out.
pub(crate) async fn reflows(browser: &WebDriver, state: &str) {
    let measured = overflow(browser).await;
    if measured.is_null() {
        return;
    }
    let url = browser
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!(
        "{state} ({url}) scrolls sideways at {} px: {} px wide; sticking out:\n  {}",
        measured["width"],
        measured["scroll"],
        measured["out"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// How the page overflows the window's width: `null` when it does not, else both widths and
/// the elements sticking out.
pub(crate) async fn overflow(browser: &WebDriver) -> Value {
    let measured = browser
        .execute(
            r#"
            const width = window.innerWidth;
            const scroll = document.documentElement.scrollWidth;
            if (scroll <= width) return null;
            const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
              + [...e.classList].map((c) => '.' + c).join('');
            const out = [...document.body.querySelectorAll('*')]
              .filter((e) => e.getBoundingClientRect().right > width + 0.5)
              .slice(0, 10)
              .map((e) => name(e) + ' ends at ' + Math.round(e.getBoundingClientRect().right) + ' px: '
                + (e.textContent || '').trim().slice(0, 40));
            return { width, scroll, out };
            "#,
            Vec::new(),
        )
        .await
        .expect("measure the page");
    measured.json().clone()
}

/// Shows the page in the dark colour scheme (`prefers-color-scheme: dark`), or as the browser
/// has it again.
pub(crate) async fn dark(browser: &WebDriver, on: bool) {
    let features = if on {
        json!([{ "name": "prefers-color-scheme", "value": "dark" }])
    } else {
        json!([])
    };
    browser
        .cdp()
        .send_raw(
            "Emulation.setEmulatedMedia",
            json!({ "features": features }),
        )
        .await
        .expect("emulate a colour scheme");
}
