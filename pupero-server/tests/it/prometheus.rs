//! The alert rules in `deploy/prometheus` hold, the dashboard in `deploy/grafana` is well formed
//! and its queries parse, both name only metrics a server exposes, and a real Prometheus
//! (Debian's) scrapes a server and answers a query about it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pupero_server::config::Secret;

use crate::support::app_test_with;

const TOKEN: &str = "the metrics token of the scrape test";

/// Longest wait for Prometheus to start and scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(90);

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/prometheus")
        .join(file)
}

fn dashboard() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/dashboards/pupero.json"),
    )
    .expect("the dashboard")
}

/// Whether `tool` runs; panics when the tests must not skip.
fn available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found && pupero_ledger::testing::services_required() {
        panic!("{tool} is required (Debian's prometheus package)");
    }
    found
}

fn promtool(args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool");
    assert!(
        output.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `pupero_*` metric names an expression uses.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("pupero_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn the_alert_rules_pass_promtool() {
    if !available("promtool") {
        return;
    }
    promtool(&["check", "rules", deploy("alerts.yml").to_str().unwrap()]);
    promtool(&["test", "rules", deploy("alerts_test.yml").to_str().unwrap()]);
}

#[test]
fn the_dashboard_is_well_formed_and_its_queries_parse() {
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard()).expect("JSON");
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "datasource" && v["type"] == "datasource"),
        "a data source variable, so the dashboard imports anywhere"
    );
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = std::collections::HashSet::new();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for panel in panels {
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "unique ids"
        );
        for field in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][field].is_u64(), "{panel}");
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}");
        for target in panel["targets"].as_array().expect("targets") {
            // Each query, as Grafana sends it, must parse: checked as a recording rule.
            let expr = target["expr"]
                .as_str()
                .expect("an expression")
                .replace("$__rate_interval", "5m");
            rules.push_str(&format!(
                "      - record: dashboard:panel_{}\n        expr: {}\n",
                panel["id"],
                serde_json::Value::String(expr)
            ));
        }
    }
    if !available("promtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, rules).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()]);
}

/// Series only a process running the wallet jobs against a wallet has: the restore drill
/// (`restore.rs`) finds each in a real scrape of such a process.
pub const WALLET_JOB_METRICS: [&str; 7] = [
    "pupero_reconciliation_ok",
    "pupero_reconciliation_age_seconds",
    "pupero_reconciliation_surplus_xmr",
    "pupero_deposit_scan_lag_blocks",
    "pupero_deposit_scan_age_seconds",
    "pupero_wallet_rpc_calls_total",
    "pupero_wallet_rpc_seconds_total",
];

app_test_with!(
    prometheus_scrapes_a_server_and_the_alerts_name_what_it_exposes,
    |settings| {
        settings.metrics_token = Some(Secret::new(TOKEN.to_owned()));
    },
    |app, _clock| {
        if !available("prometheus") {
            return;
        }
        // A request, so that the request counters have a sample.
        app.raw()
            .get(format!("{}/healthz", app.base_url))
            .send()
            .await
            .unwrap();
        let scraped = app
            .raw()
            .get(format!("{}/metrics", app.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let rules = std::fs::read_to_string(deploy("alerts.yml")).unwrap() + &dashboard();
        for name in metric_names(&rules) {
            if WALLET_JOB_METRICS.contains(&name.as_str()) {
                continue;
            }
            // A family is declared by its base name, even before its first sample.
            let family = ["_total", "_bucket", "_sum", "_count", "_info"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            assert!(
                scraped.contains(&format!("# TYPE {family} ")),
                "the alerts use {name}, which a server does not expose:\n{scraped}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        let target = app.base_url.trim_start_matches("http://");
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pupero\n    \
             authorization:\n      credentials_file: {}\n    static_configs:\n      \
             - targets: [\"{target}\"]\n",
            dir.path().join("token").display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let _prometheus = Prometheus(
            Command::new("prometheus")
                .arg(format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start prometheus"),
        );
        let query = format!("http://127.0.0.1:{port}/api/v1/query?query=pupero_build_info");
        let deadline = Instant::now() + SCRAPE_TIMEOUT;
        loop {
            if let Ok(response) = app.raw().get(&query).send().await
                && let Ok(body) = response.json::<serde_json::Value>().await
                && body["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            {
                assert_eq!(body["data"]["result"][0]["value"][1], "1");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never scraped the server:\n{}",
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
);
