//! Headers, cookies, CSRF and cross-site checks.

use std::sync::Arc;

use poem::test::TestClient;
use pupero_web::WebConfig;
use pupero_web::session::MemorySessions;

use crate::support::{Stack, with_stack};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
frame-ancestors 'none'; form-action 'self'; base-uri 'none'; report-uri /csp-report";

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    with_stack(|stack| async move {
        let mut visitor = stack.visitor();
        for path in ["/", "/market", "/login", "/register", "/no-such-page"] {
            let page = visitor.get(path).await;
            assert_eq!(page.header("content-security-policy"), CSP, "{path}");
            assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
            assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
            assert!(
                !page.body.contains("<script>"),
                "no inline script on {path}"
            );
            assert!(!page.body.contains(" style="), "no inline style on {path}");
        }
        let missing = visitor.get("/no-such-page").await;
        assert_eq!(missing.status, 404);
        assert!(missing.has("There is nothing here."), "{}", missing.body);
    })
    .await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_lax_and_secure_outside_development() {
    with_stack(|stack| async move {
        let page = stack.visitor().get("/login").await;
        let cookie = page.header("set-cookie");
        assert!(cookie.starts_with("pupero_sid="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        // Production settings: `Secure` and the `__Host-` prefix.
        let site = pupero_web::app_with(
            WebConfig::new(),
            stack.sdk(),
            Arc::new(MemorySessions::default()),
        );
        let response = TestClient::new(site).get("/login").send().await;
        let cookie = response.0.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("__Host-pupero_sid="), "{cookie}");
        assert!(
            cookie.contains("; Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
    })
    .await;
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    with_stack(|stack| async move {
        stack.user("carol").await;
        let mut visitor = stack.visitor();
        let login = visitor.get("/login").await;
        let token = login.input("_csrf").expect("a token in the form");
        let fields = [
            ("_csrf", token.as_str()),
            ("login", "carol"),
            ("password", crate::support::PASSWORD),
        ];
        for headers in [
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("origin", "https://evil.example")],
            vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        ] {
            let page = visitor.post_raw("/login", &fields, &headers).await;
            assert_eq!(page.status, 403, "{headers:?}");
            assert!(page.has("sent from another site"), "{}", page.body);
        }
        // No token, a wrong one, or another session's: refused too.
        let other = stack.visitor().get("/login").await.input("_csrf").unwrap();
        for token in ["", "00", other.as_str()] {
            let page = visitor
                .post_raw(
                    "/login",
                    &[("_csrf", token), ("login", "carol"), ("password", "x")],
                    &[],
                )
                .await;
            assert_eq!(page.status, 403, "token {token:?}");
            assert!(page.has("This form has expired"), "{}", page.body);
        }
        // A form larger than any of the site's is refused before it is read to the end.
        let huge = "x".repeat(100 * 1024);
        let page = visitor
            .post_raw(
                "/login",
                &[("_csrf", token.as_str()), ("login", huge.as_str())],
                &[],
            )
            .await;
        assert_eq!(page.status, 413);
        // The site's own form, with its token, goes through.
        let page = visitor
            .post_raw("/login", &fields, &[("sec-fetch-site", "same-origin")])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
    })
    .await;
}

#[tokio::test]
async fn signed_in_pages_are_never_stored_and_logging_in_changes_the_session() {
    with_stack(|stack| async move {
        stack.user("dave").await;
        let mut visitor = stack.visitor();
        let before = visitor.get("/login").await;
        let anonymous = before.header("set-cookie").to_owned();
        assert_eq!(before.header("cache-control"), "private, no-cache");
        let login = visitor.login("dave").await;
        assert_eq!(login.status, 303);
        let signed_in = login.header("set-cookie").to_owned();
        assert_ne!(
            anonymous.split(';').next(),
            signed_in.split(';').next(),
            "a new session id at login"
        );
        for path in ["/market", "/wallet", "/trades", "/settings", "/offers/mine"] {
            let page = visitor.get(path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            assert_eq!(page.header("cache-control"), "no-store", "{path}");
        }
        // API tokens never reach the browser.
        let page = visitor.get("/settings").await;
        assert!(!page.has("eyJ"), "no JWT in the page");
        // Logging out ends the session.
        let out = visitor.post("/logout", &[]).await;
        assert_eq!(out.status, 303);
        let wallet = visitor.get("/wallet").await;
        assert_eq!(wallet.status, 303);
        assert_eq!(wallet.location(), "/login?next=%2Fwallet");
    })
    .await;
}

#[tokio::test]
async fn static_files_are_immutable_under_their_hash() {
    with_stack(|stack: Arc<Stack>| async move {
        let mut visitor = stack.visitor();
        let page = visitor.get("/market").await;
        let css = &pupero_web::assets::APP_CSS.path;
        let js = &pupero_web::assets::APP_JS.path;
        assert!(page.has(css) && page.has(js));
        for path in [css, js] {
            let file = visitor.get(path).await;
            assert_eq!(file.status, 200);
            assert_eq!(
                file.header("cache-control"),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(file.header("x-content-type-options"), "nosniff");
        }
        assert_eq!(visitor.get("/static/app.0000000000.css").await.status, 404);
        // The spec's budgets.
        assert!(pupero_web::assets::APP_CSS.body.len() <= 20 * 1024);
        assert!(pupero_web::assets::APP_JS.body.len() <= 8 * 1024);
    })
    .await;
}

#[tokio::test]
async fn the_language_switch_then_accept_language() {
    with_stack(|stack| async move {
        let mut visitor = stack.visitor();
        let english = visitor.get("/market").await;
        assert!(english.has("<html lang=\"en\">") && english.has("Buy Monero"));
        let switch = visitor.get("/lang/fr?next=%2Fmarket%3Fside%3Dsell").await;
        assert_eq!(switch.status, 303);
        assert_eq!(switch.location(), "/market?side=sell");
        let french = visitor.get("/market?side=sell").await;
        assert!(
            french.has("<html lang=\"fr\">") && french.has("Vendre du Monero"),
            "{}",
            french.body
        );
        // Somewhere else than this site: the market instead.
        for next in ["//evil.example", "https://evil.example", "/\\evil.example"] {
            let page = visitor
                .get(&format!("/lang/en?next={}", urlencode(next)))
                .await;
            assert_eq!(page.location(), "/market", "{next}");
        }
        assert_eq!(visitor.get("/lang/de").await.status, 404);
        // Without the cookie, the browser's languages.
        let response = TestClient::new(stack.site.clone())
            .get("/login")
            .header("accept-language", "de-DE, fr;q=0.8, en;q=0.5")
            .send()
            .await;
        let body = response.0.into_body().into_string().await.unwrap();
        assert!(body.contains("<html lang=\"fr\">") && body.contains("Se connecter"));
    })
    .await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A `report-uri` report of an inline script blocked on the market page.
const CSP_REPORT: &str = r#"{"csp-report":{"document-uri":"http://127.0.0.1/market","referrer":"",
"violated-directive":"script-src-elem","effective-directive":"script-src-elem",
"original-policy":"default-src 'self'","disposition":"enforce","blocked-uri":"inline",
"status-code":200,"script-sample":""}}"#;

async fn post_report(stack: &Stack, content_type: &str, body: String) -> poem::Response {
    TestClient::new(stack.site.clone())
        .post("/csp-report")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .0
}

#[tokio::test]
async fn browsers_report_policy_violations_without_a_session_or_token() {
    with_stack(|stack| async move {
        assert_eq!(stack.web.csp_reports(), 0);
        let sessions = stack.sessions.len();
        // `report-uri`'s format, as browsers send it: no cookie, no token.
        let response = post_report(&stack, "application/csp-report", CSP_REPORT.into()).await;
        assert_eq!(response.status(), 204);
        assert!(
            !response.headers().contains_key("set-cookie"),
            "a report starts no session"
        );
        assert_eq!(stack.sessions.len(), sessions);
        assert_eq!(stack.web.csp_reports(), 1);
        // The Reporting API's: a batch, of which only CSP violations count.
        let one = r#"{"type":"csp-violation","age":1,"url":"http://127.0.0.1/","user_agent":"x",
            "body":{"documentURL":"http://127.0.0.1/","blockedURL":"http://127.0.0.2/x.png",
            "effectiveDirective":"img-src","disposition":"enforce","statusCode":200}}"#;
        let batch = format!(r#"[{one},{{"type":"deprecation","body":{{}}}},{one}]"#);
        let response = post_report(&stack, "application/reports+json", batch).await;
        assert_eq!(response.status(), 204);
        assert_eq!(stack.web.csp_reports(), 3);

        // Anything else counts for nothing.
        let form = post_report(&stack, "application/x-www-form-urlencoded", "a=1".into()).await;
        assert_eq!(form.status(), 415);
        let broken = post_report(&stack, "application/csp-report", "{".into()).await;
        assert_eq!(broken.status(), 400);
        let huge = format!(
            r#"{{"csp-report":{{"blocked-uri":"{}"}}}}"#,
            "x".repeat(64 * 1024)
        );
        let huge = post_report(&stack, "application/csp-report", huge).await;
        assert_eq!(huge.status(), 413);
        assert_eq!(stack.web.csp_reports(), 3);
    })
    .await;
}

#[tokio::test]
async fn only_the_report_path_takes_a_post_without_a_token() {
    with_stack(|stack| async move {
        let mut visitor = stack.visitor();
        visitor.get("/login").await;
        // Beside the report's path, or under it, a POST without a token is refused as before.
        for path in ["/csp-report/", "/csp-report/x", "/logout", "/offers/new"] {
            let page = visitor
                .post_raw(path, &[("a", "1")], &[("sec-fetch-site", "same-origin")])
                .await;
            assert_eq!(page.status, 403, "{path}");
        }
        // A GET of the report's path is an ordinary page request, refused by the router.
        let get = visitor.get("/csp-report").await;
        assert_eq!(get.status, 405);
        assert_eq!(stack.web.csp_reports(), 0);
    })
    .await;
}
