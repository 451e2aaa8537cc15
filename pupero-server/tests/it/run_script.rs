//! `scripts/run.sh`, as a person or a service manager runs it: it starts the regtest chain,
//! the platform's wallet, the server and the website, and a SIGTERM (what systemd and
//! container runtimes send) stops them all, the website and the server first.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long the script may take to bring up the chain, the wallet and the server.
const START_DEADLINE: Duration = Duration::from_secs(240);

/// How long stopping everything may take.
const STOP_DEADLINE: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks that the process exists; a zombie (exited, not yet reaped) counts as gone.
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z")
}

fn pid_in(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_everything_the_run_script_started() {
    let required = std::env::var_os("CI").is_some()
        || std::env::var("PUPERO_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let has_monero = ["monerod", "monero-wallet-rpc"].iter().all(|p| {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .any(|dir| dir.join(p).is_file())
    });
    if !has_monero {
        assert!(
            !required,
            "monerod is required (CI or PUPERO_REQUIRE_SERVICES=1)"
        );
        eprintln!("skipped: monerod and monero-wallet-rpc are not installed");
        return;
    }
    let data = tempfile::tempdir().expect("a data directory");
    let listen = format!("127.0.0.1:{}", free_port());
    let web = format!("127.0.0.1:{}", free_port());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/run.sh");
    let run = std::process::Command::new("bash")
        .arg(script)
        .env("PUPERO_BIN", env!("CARGO_BIN_EXE_pupero"))
        .env("PUPERO_RUN_DATA", data.path())
        .env("PUPERO_LISTEN", &listen)
        .env("PUPERO_WEB_LISTEN", &web)
        .env("PUPERO_DEV_MONEROD_PORT", free_port().to_string())
        .env("PUPERO_DEV_MONEROD_P2P_PORT", free_port().to_string())
        .env("PUPERO_DEV_WALLET_RPC_PORT", free_port().to_string())
        .env_remove("PUPERO_DATABASE_URL")
        .env("PUPERO_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run scripts/run.sh");

    let mut guard = Stopper(Some(run));
    let run = guard.0.as_mut().expect("the script");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = format!("http://{listen}/readyz");
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(response) = client.get(&ready).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            run.try_wait().unwrap().is_none(),
            "scripts/run.sh exited before the server was ready"
        );
        assert!(
            started.elapsed() < START_DEADLINE,
            "the server was not ready within {START_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The website, over the API.
    let site = format!("http://{web}/market");
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(response) = client.get(&site).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < START_DEADLINE,
            "the website did not answer within {START_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let regtest = data.path().join("regtest");
    let monerod = pid_in(&regtest.join("monerod.pid"));
    let wallet = pid_in(&regtest.join("wallet-rpc.pid"));
    assert!(alive(monerod) && alive(wallet));
    assert!(
        data.path().join("pupero.db").exists(),
        "the database is in the run's data directory"
    );

    let script_pid = i32::try_from(run.id()).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &script_pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = tokio::time::Instant::now() + STOP_DEADLINE;
    let status = loop {
        if let Some(status) = run.try_wait().expect("the script's status") {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the script did not stop within {STOP_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    guard.0 = None;
    assert!(status.success(), "{status:?}");
    assert!(
        tokio::net::TcpStream::connect(&listen).await.is_err(),
        "the server stopped"
    );
    assert!(
        tokio::net::TcpStream::connect(&web).await.is_err(),
        "the website stopped"
    );
    let deadline = tokio::time::Instant::now() + STOP_DEADLINE;
    while alive(monerod) || alive(wallet) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "monerod or the wallet RPC outlived the script"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops the script if the test fails half-way, so that no chain or wallet outlives it.
struct Stopper(Option<std::process::Child>);

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}
