//! Where browsers report what the Content-Security-Policy blocked (`POST /csp-report`, named by
//! the policy's `report-uri`): each report is logged at warn and counted on [`Web`], so that a
//! page that breaks the policy shows up in the log of a running site and fails the browser
//! tests, which expect none.
//!
//! Two formats come here: `application/csp-report` (one `{"csp-report": {...}}`, what
//! `report-uri` sends) and `application/reports+json` (a list of Reporting API reports, what a
//! `report-to` endpoint receives). The request carries no CSRF token and needs no session: the
//! browser sends it on its own, so [`crate::guard`] lets exactly this path through for `POST`
//! and creates no session for it. Anyone can post a report; all it can do is add a log line and
//! one to a counter, and its body is bounded.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, handler};
use serde::Deserialize;

use crate::Web;

/// The report endpoint's path, as the policy names it.
pub(crate) const CSP_REPORT_PATH: &str = "/csp-report";

/// Largest report body read: a browser's report is a few URLs and a directive, well under
/// 4 KB; a Reporting API batch may carry several.
pub(crate) const MAX_REPORT_BYTES: usize = 32 * 1024;

/// Most reports of one Reporting API batch that are logged and counted; the rest are dropped,
/// so one request adds a bounded number of log lines.
pub(crate) const MAX_REPORTS_PER_BATCH: usize = 16;

/// Longest value of a field written to the log; URLs longer than this are cut.
const MAX_LOGGED_CHARS: usize = 512;

/// What one report says, whichever format it came in.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Violation {
    /// What was blocked: a URL, or `inline`, `eval`...
    pub(crate) blocked_uri: String,
    /// The directive that blocked it (`script-src-elem`, `img-src`...).
    pub(crate) violated_directive: String,
    /// The page it happened on.
    pub(crate) document_uri: String,
}

/// `report-uri`'s body: `{"csp-report": {"document-uri": ..., ...}}`.
#[derive(Deserialize)]
struct LegacyReport {
    #[serde(rename = "csp-report")]
    report: LegacyBody,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LegacyBody {
    #[serde(rename = "document-uri")]
    document_uri: String,
    #[serde(rename = "blocked-uri")]
    blocked_uri: String,
    #[serde(rename = "violated-directive")]
    violated_directive: String,
    #[serde(rename = "effective-directive")]
    effective_directive: String,
}

/// One report of a Reporting API batch; only `csp-violation` ones are read.
#[derive(Deserialize)]
struct ApiReport {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    body: ApiBody,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ApiBody {
    #[serde(rename = "documentURL")]
    document_url: String,
    #[serde(rename = "blockedURL")]
    blocked_url: String,
    effective_directive: String,
}

/// The violations in a report body of `content_type`, at most [`MAX_REPORTS_PER_BATCH`];
/// `None` when the body is not a report of that type.
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Violation>> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        // Firefox and older browsers send `report-uri` reports as `application/json` too.
        "application/csp-report" | "application/json" => {
            let report: LegacyReport = serde_json::from_slice(body).ok()?;
            let r = report.report;
            let directive = if r.effective_directive.is_empty() {
                r.violated_directive
            } else {
                r.effective_directive
            };
            Some(vec![Violation {
                blocked_uri: r.blocked_uri,
                violated_directive: directive,
                document_uri: r.document_uri,
            }])
        }
        "application/reports+json" => {
            let reports: Vec<ApiReport> = serde_json::from_slice(body).ok()?;
            Some(
                reports
                    .into_iter()
                    .filter(|r| r.kind == "csp-violation")
                    .take(MAX_REPORTS_PER_BATCH)
                    .map(|r| Violation {
                        blocked_uri: r.body.blocked_url,
                        violated_directive: r.body.effective_directive,
                        document_uri: r.body.document_url,
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// `text` cut to [`MAX_LOGGED_CHARS`] characters.
fn clip(text: &str) -> &str {
    match text.char_indices().nth(MAX_LOGGED_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// `POST /csp-report`: logs and counts the violations reported; `204` when it was a report,
/// `415` for another type of body, `400` for one that does not parse, `413` when too large.
#[handler]
pub(crate) async fn receive(req: &Request, body: Body, web: Data<&Arc<Web>>) -> StatusCode {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(bytes) = body.into_bytes_limit(MAX_REPORT_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let Some(violations) = parse(&content_type, &bytes) else {
        return if content_type.contains("json") || content_type.contains("csp-report") {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        };
    };
    for v in &violations {
        tracing::warn!(
            blocked_uri = clip(&v.blocked_uri),
            violated_directive = clip(&v.violated_directive),
            document_uri = clip(&v.document_uri),
            "content security policy violation"
        );
    }
    web.count_csp_reports(violations.len());
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_uri_report_is_read() {
        let body = br#"{"csp-report":{"document-uri":"http://127.0.0.1:5000/market",
            "referrer":"","violated-directive":"script-src-elem","effective-directive":"script-src-elem",
            "original-policy":"default-src 'self'","disposition":"enforce","blocked-uri":"inline",
            "status-code":200,"script-sample":""}}"#;
        assert_eq!(
            parse("application/csp-report", body),
            Some(vec![Violation {
                blocked_uri: "inline".into(),
                violated_directive: "script-src-elem".into(),
                document_uri: "http://127.0.0.1:5000/market".into(),
            }])
        );
    }

    #[test]
    fn a_reporting_api_batch_is_read_and_bounded() {
        let one = r#"{"type":"csp-violation","age":3,"url":"http://127.0.0.1:5000/","user_agent":"x",
            "body":{"documentURL":"http://127.0.0.1:5000/","blockedURL":"http://127.0.0.2/x.png",
            "effectiveDirective":"img-src","disposition":"enforce","statusCode":200}}"#;
        let other = r#"{"type":"deprecation","body":{}}"#;
        let batch = format!("[{one},{other},{one}]");
        let read = parse("application/reports+json", batch.as_bytes()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].blocked_uri, "http://127.0.0.2/x.png");
        assert_eq!(read[0].violated_directive, "img-src");
        let many = format!("[{}]", vec![one; 40].join(","));
        assert_eq!(
            parse("application/reports+json", many.as_bytes())
                .unwrap()
                .len(),
            MAX_REPORTS_PER_BATCH
        );
    }

    #[test]
    fn anything_else_is_not_a_report() {
        assert_eq!(parse("application/x-www-form-urlencoded", b"a=1"), None);
        assert_eq!(parse("application/csp-report", b"{}"), None);
        assert_eq!(parse("application/reports+json", b"{\"a\":1}"), None);
    }

    #[test]
    fn long_values_are_clipped_for_the_log() {
        let long = "é".repeat(MAX_LOGGED_CHARS + 10);
        assert_eq!(clip(&long).chars().count(), MAX_LOGGED_CHARS);
        assert_eq!(clip("short"), "short");
    }
}
