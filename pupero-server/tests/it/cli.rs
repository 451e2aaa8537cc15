//! The binary's operator commands: `migrate` as a step of its own, servers that only check the
//! schema (`PUPERO_MIGRATE=check`), and `healthcheck`, a container's probe.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pupero_ledger::testing::{Backend, TestDatabase};

use crate::support::app_test;

/// Longest wait for a started server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn pupero(args: &[&str], database_url: &str, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pupero"));
    command
        .args(args)
        .env_clear()
        .env("PUPERO_MODE", "dev")
        .env("PUPERO_LOG", "info")
        .env("PUPERO_DATABASE_URL", database_url)
        .stdin(Stdio::null());
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run pupero")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The address a server logged it listens on.
fn listening(log: &Path) -> Option<String> {
    let log = std::fs::read_to_string(log).ok()?;
    let line = log.lines().find(|l| l.contains("listening"))?;
    let address = line.split("address=").nth(1)?;
    Some(address.split_whitespace().next()?.to_owned())
}

async fn a_server_checking_its_schema_starts_only_after_migrate(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let check = [
        ("PUPERO_MIGRATE", "check"),
        ("PUPERO_LISTEN", "127.0.0.1:0"),
    ];

    let refused = run(&mut pupero(&["serve"], &db.url, &check));
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("run `pupero migrate`"),
        "the error says what to do: {}",
        text(&refused)
    );

    let migrated = run(&mut pupero(&["migrate"], &db.url, &[]));
    assert!(migrated.status.success(), "{}", text(&migrated));

    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("serve.log");
    let out = std::fs::File::create(&log).expect("log");
    let mut server = pupero(&["serve"], &db.url, &check)
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .spawn()
        .expect("start pupero serve");
    let deadline = Instant::now() + START_TIMEOUT;
    let address = loop {
        if let Some(address) = listening(&log) {
            break address;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!(
                "serve exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "serve never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready = format!("http://{address}/readyz");
    loop {
        let probe = run(&mut pupero(&["healthcheck", &ready], &db.url, &[]));
        if probe.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {}", text(&probe));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Without a URL it asks the address the settings name.
    let own = run(&mut pupero(
        &["healthcheck"],
        &db.url,
        &[("PUPERO_LISTEN", address.as_str())],
    ));
    assert!(own.status.success(), "{}", text(&own));
    server.kill().expect("stop serve");
    server.wait().expect("reap");

    let down = run(&mut pupero(&["healthcheck", &ready], &db.url, &[]));
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite() {
    a_server_checking_its_schema_starts_only_after_migrate(Backend::Sqlite).await;
}

#[tokio::test]
async fn mariadb() {
    a_server_checking_its_schema_starts_only_after_migrate(Backend::MariaDb).await;
}

app_test!(
    a_backup_taken_while_serving_restores_the_same_money,
    |app| {
        let url = app.state.settings.market.database_url.clone();
        let (_, alice) = app.user("alice").await;
        let (_, bob) = app.user("bob").await;
        app.fund(alice, "3").await;
        app.fund(bob, "1.5").await;
        let dir = tempfile::tempdir().expect("temp dir");
        let to = dir.path().join("backup.db");
        let to_text = to.to_string_lossy().into_owned();
        let backup = run(&mut pupero(&["backup", "--to", &to_text], &url, &[]));
        if url.starts_with("mysql") {
            assert!(!backup.status.success());
            assert!(text(&backup).contains("mariadb-dump"), "{}", text(&backup));
            return;
        }
        assert!(backup.status.success(), "{}", text(&backup));
        // Money moved after the backup is not in it.
        app.fund(alice, "7").await;

        let restored = format!("sqlite://{to_text}");
        let ledger = pupero_ledger::SqlLedger::open(
            pupero_ledger::LedgerOptions::new(restored.clone())
                .with_migrations(pupero_ledger::Migrations::Check),
        )
        .await
        .expect("the backup opens, its schema current");
        ledger.check_invariants().await.expect("invariants hold");
        let balance = |user: uuid::Uuid| {
            let ledger = ledger.clone();
            async move {
                let id = pupero_core::AccountId::user_xmr(pupero_core::UserId::from_uuid(user));
                let account = ledger.account(id).await.unwrap().expect("account");
                let b = account.balances();
                b.credits_posted.checked_sub(b.debits_posted).unwrap()
            }
        };
        let xmr = |s: &str| pupero_core::Piconero::from_xmr_str(s).unwrap();
        assert_eq!(balance(alice).await, xmr("3"));
        assert_eq!(balance(bob).await, xmr("1.5"));

        let again = run(&mut pupero(&["backup", "--to", &to_text], &url, &[]));
        assert!(!again.status.success(), "a backup never overwrites");
        assert!(text(&again).contains("exists"), "{}", text(&again));
    }
);

/// `matrix-registration` prints what the homeserver needs, from the bridge's settings: the
/// same tokens, the given URL, and exclusive namespaces of the configured prefixes; without the
/// bridge it refuses.
#[test]
fn the_matrix_registration_names_the_bridges_tokens_and_namespaces() {
    let bridge = [
        ("PUPERO_MATRIX_HOMESERVER_URL", "http://127.0.0.1:8008"),
        ("PUPERO_MATRIX_SERVER_NAME", "example.org"),
        ("PUPERO_MATRIX_AS_TOKEN", "as-token-for-the-registration"),
        ("PUPERO_MATRIX_HS_TOKEN", "hs-token-for-the-registration"),
    ];
    let url = "sqlite::memory:";
    let args = ["matrix-registration", "--url", "http://pupero:8003"];
    let output = run(&mut pupero(&args, url, &bridge));
    assert!(output.status.success(), "{}", text(&output));
    let yaml: serde_json::Value =
        serde_yaml::from_slice(&output.stdout).expect("the registration is YAML");
    assert_eq!(yaml["url"], "http://pupero:8003");
    assert_eq!(yaml["as_token"], "as-token-for-the-registration");
    assert_eq!(yaml["hs_token"], "hs-token-for-the-registration");
    assert_eq!(yaml["sender_localpart"], "pupero_bot");
    assert_eq!(
        yaml["namespaces"]["users"][0]["regex"],
        r"@pupero_.*:example\.org"
    );
    assert_eq!(
        yaml["namespaces"]["aliases"][0]["regex"],
        r"#trade_.*:example\.org"
    );
    assert_eq!(yaml["namespaces"]["users"][0]["exclusive"], true);

    let output = run(&mut pupero(&args, url, &bridge[..3]));
    assert!(!output.status.success());
    assert!(
        text(&output).contains("PUPERO_MATRIX_HS_TOKEN"),
        "{}",
        text(&output)
    );
    let output = run(&mut pupero(&args, url, &[]));
    assert!(!output.status.success());
    assert!(
        text(&output).contains("not configured"),
        "{}",
        text(&output)
    );
}
