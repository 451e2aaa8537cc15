//! The site by keyboard alone (WCAG 2.1.1, 2.4.1, 2.4.7): log in and post an offer with Tab,
//! Shift+Tab, Enter, Space and typing, never a click; the skip link leads into the page's
//! content, and every element focused on the way shows that it is.

use serde_json::json;
use thirtyfour::prelude::*;

use crate::kit::*;
use crate::support::{PASSWORD, Stack};

/// Most Tab presses to reach an element: more would mean it is out of reach, or buried under
/// too much before it.
const MAX_TABS: usize = 40;

/// Describes the focused element and whether its focus shows: an outline or a box shadow
/// (computed, so only what the stylesheet gives `:focus-visible`), and the element on screen.
const FOCUS_PROBE: &str = r#"
  const el = document.activeElement;
  if (!el || el === document.body) return { name: 'nothing', shows: false };
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
  const shadow = cs.boxShadow !== '' && cs.boxShadow !== 'none';
  const r = el.getBoundingClientRect();
  const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
    && r.top < window.innerHeight && r.left < window.innerWidth;
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.getAttribute('href') ? '[href="' + el.getAttribute('href') + '"]' : '')
    + (el.name ? '[name=' + el.name + ']' : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  return { name, shows: (outline || shadow) && onScreen, matches: arguments[0] ? el.matches(arguments[0]) : false };
"#;

/// The focused element: its name, and whether it matches `css`; fails unless its focus shows.
async fn focused(browser: &WebDriver, css: &str) -> (String, bool) {
    let probe = browser
        .execute(FOCUS_PROBE, vec![json!(css)])
        .await
        .expect("probe the focus");
    let probe = probe.json();
    let name = probe["name"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        probe["shows"],
        json!(true),
        "no visible focus on {name} at {}",
        browser
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    );
    (name, probe["matches"] == json!(true))
}

async fn press(browser: &WebDriver, key: Key) {
    browser
        .action_chain()
        .send_keys(key)
        .perform()
        .await
        .unwrap();
}

async fn shift_tab(browser: &WebDriver) {
    browser
        .action_chain()
        .key_down(Key::Shift)
        .send_keys(Key::Tab)
        .key_up(Key::Shift)
        .perform()
        .await
        .unwrap();
}

async fn type_text(browser: &WebDriver, text: &str) {
    browser
        .action_chain()
        .send_keys(text)
        .perform()
        .await
        .unwrap();
}

/// Presses Tab until the element matching `css` has the focus, checking at each step that
/// the focus shows.
async fn tab_to(browser: &WebDriver, css: &str) {
    let mut path = Vec::new();
    for _ in 0..MAX_TABS {
        press(browser, Key::Tab).await;
        let (name, matches) = focused(browser, css).await;
        if matches {
            return;
        }
        path.push(name);
    }
    panic!(
        "{css} not reached in {MAX_TABS} Tab presses; the focus went:\n  {}",
        path.join("\n  ")
    );
}

/// Types into the element matching `css`, reached by Tab.
async fn tab_and_type(browser: &WebDriver, css: &str, text: &str) {
    tab_to(browser, css).await;
    type_text(browser, text).await;
}

async fn field_value(browser: &WebDriver, id: &str) -> String {
    browser
        .find(By::Id(id))
        .await
        .expect(id)
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_is_posted_by_keyboard_alone() {
    if !browser_installed() {
        return;
    }
    let stack = Stack::start().await;
    let site = stack.serve_site().await;
    stack.user("kay").await;
    stack.credit("kay", "10").await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();
    let kay = browser(&driver, &profiles.path().join("kay"), true).await;

    // The first Tab reaches the skip link, shown once focused; Enter on it leads to the
    // content, where the next Tab lands on the form's first field.
    kay.goto(format!("{site}/login")).await.unwrap();
    tab_to(&kay, "a.skip[href='#main']").await;
    shots(&kay, "keyboard", "skip-link").await;
    press(&kay, Key::Enter).await;
    until_on(&kay, "the skip link's target", || async {
        kay.current_url()
            .await
            .is_ok_and(|u| u.fragment() == Some("main"))
    })
    .await;
    press(&kay, Key::Tab).await;
    let (name, in_form) = focused(&kay, "main #login").await;
    assert!(in_form, "after the skip link, Tab went to {name}");

    // Log in: the name, the password, back to the name with Shift+Tab and forth again,
    // then Enter.
    type_text(&kay, "kay").await;
    tab_and_type(&kay, "#password", PASSWORD).await;
    shift_tab(&kay).await;
    let (name, back) = focused(&kay, "#login").await;
    assert!(back, "Shift+Tab from the password went to {name}");
    press(&kay, Key::Tab).await;
    press(&kay, Key::Enter).await;
    wait_for_path(&kay, "/market").await;
    wait_for_text(&kay, "kay").await;

    // To "My offers" through the navigation, then to the new offer's form.
    tab_to(&kay, "nav a[href='/offers/mine']").await;
    press(&kay, Key::Enter).await;
    wait_for_path(&kay, "/offers/mine").await;
    tab_to(&kay, "main a[href='/offers/new']").await;
    press(&kay, Key::Enter).await;
    wait_for_path(&kay, "/offers/new").await;

    // The form by keyboard: a radio group is one Tab stop (selling is checked already), a
    // select takes the option typed.
    tab_to(&kay, "input[name=side][value=sell]").await;
    tab_and_type(&kay, "#currency", "EUR").await;
    tab_and_type(&kay, "#method", "SEPA").await;
    assert_eq!(field_value(&kay, "method").await, "SEPA");
    tab_and_type(&kay, "#details", "IBAN DE00 1234").await;
    tab_and_type(&kay, "#price", "150").await;
    tab_and_type(&kay, "#min", "0.1").await;
    tab_and_type(&kay, "#max", "2").await;
    shots(&kay, "keyboard", "new-offer").await;
    tab_to(&kay, "#preview").await;
    press(&kay, Key::Space).await;
    wait_for_text(&kay, "Preview of your offer").await;
    tab_to(&kay, "#publish").await;
    press(&kay, Key::Enter).await;
    wait_for_path(&kay, "/offers/mine").await;
    wait_for_text(&kay, "Your offer is published.").await;
    shots(&kay, "keyboard", "published").await;

    assert_no_csp_reports(&stack).await;
    kay.quit().await.unwrap();
    drop(driver);
    stack.stop().await;
}
