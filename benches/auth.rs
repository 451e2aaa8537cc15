//! Authentication throughput: logins per second through the real server against the raw
//! Argon2id hash rate of this machine, and the latency of an authenticated GET while logins run.
//!
//! `cargo bench -p pupero-benches --bench auth`. Bounded: every phase runs for
//! [`PHASE`]; the whole run takes well under a minute. The server runs in this process on
//! 127.0.0.1 with an embedded SQLite database.

mod support;

use std::time::{Duration, Instant};

use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_server::{AppState, Settings};

/// How long each phase measures.
const PHASE: Duration = Duration::from_secs(5);
/// Concurrent clients logging in.
const LOGIN_CLIENTS: usize = 8;
/// Concurrent clients reading `/api/v1/me`.
const READ_CLIENTS: usize = 4;
/// Accounts the login clients cycle through.
const USERS: usize = 32;
const PASSWORD: &str = "benchmark password, long enough";

fn main() -> anyhow::Result<()> {
    // The runtime `pupero serve` runs on.
    pupero_server::runtime()?.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("cores: {cores}; phase length {} s", PHASE.as_secs());

    // 1. Raw Argon2id, one hash per core at a time, the server's parameters.
    let started = Instant::now();
    let mut hashes = 0_u64;
    while started.elapsed() < PHASE {
        let batch: Vec<_> = (0..cores)
            .map(|_| {
                tokio::task::spawn_blocking(|| pupero_market::security::hash_blocking(b"raw hash"))
            })
            .collect();
        for task in batch {
            task.await??;
            hashes += 1;
        }
    }
    let hash_rate = per_sec(hashes, started.elapsed());
    println!("raw argon2id hashes: {hash_rate:>8.1}/s ({cores} in parallel)"); // float-ok

    // 2. The server, in this process.
    let db = TestDatabase::create(Backend::Sqlite)
        .await
        .ok_or_else(|| anyhow::anyhow!("no database"))?;
    let settings = tuned(Settings::for_database(db.url.clone()));
    let state = AppState::open(settings).await?;
    let served = support::serve(state.clone()).await?;
    let base = served.base.clone();
    for i in 0..USERS {
        pupero_sdk::Client::new(base.clone())?
            .register(&format!("bench{i}"), None, PASSWORD)
            .await?;
    }
    let reader = pupero_sdk::Client::new(base.clone())?;
    reader.login("bench0", PASSWORD).await?;

    // 3. Logins alone: how close the server comes to the raw hash rate.
    let alone = logins(&base, Instant::now() + PHASE).await?;
    let alone_rate = per_sec(u64::try_from(alone.len())?, PHASE);
    report("POST /api/v1/auth/login, alone", &alone);
    println!(
        "logins/s {alone_rate:.1} = {:.2}x the raw hash rate {hash_rate:.1}/s",
        ratio(alone_rate, hash_rate)
    ); // float-ok

    // 4. Reads alone, then reads while logins saturate the hasher.
    let idle = reads(&reader, None).await?;
    report("GET /api/v1/me, idle", &idle);
    let deadline = Instant::now() + PHASE;
    let login_load = tokio::spawn(logins(&base, deadline));
    let busy = reads(&reader, Some(deadline)).await?;
    let during = login_load.await??;
    report("POST /api/v1/auth/login, with reads", &during);
    report("GET /api/v1/me, during logins", &busy);

    served.stop().await;
    drop(state);
    db.cleanup().await;
    Ok(())
}

/// The server's settings with rate limits out of the way: this measures the hasher, not the
/// limiter.
fn tuned(mut settings: Settings) -> Settings {
    use pupero_market::ratelimit::RateQuota;
    settings.market.rate_limits.login_per_address = RateQuota::new(1_000_000, 1);
    settings.market.rate_limits.register_per_address = RateQuota::new(1_000_000, 1);
    settings
}

/// `LOGIN_CLIENTS` tasks logging in until `deadline`; their latencies.
fn logins(
    base: &str,
    deadline: Instant,
) -> impl std::future::Future<Output = anyhow::Result<Vec<Duration>>> + Send + 'static {
    let tasks: Vec<_> = (0..LOGIN_CLIENTS)
        .map(|c| {
            let base = base.to_owned();
            tokio::spawn(async move {
                let client = pupero_sdk::Client::new(base)?;
                let mut latencies = Vec::new();
                let mut i = c;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    client
                        .login(&format!("bench{}", i % USERS), PASSWORD)
                        .await?;
                    latencies.push(t.elapsed());
                    i += LOGIN_CLIENTS;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    async move {
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await??);
        }
        Ok(all)
    }
}

/// `READ_CLIENTS` tasks reading `/me` until `deadline` (or for one phase).
async fn reads(
    client: &pupero_sdk::Client,
    deadline: Option<Instant>,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = deadline.unwrap_or_else(|| Instant::now() + PHASE);
    let tasks: Vec<_> = (0..READ_CLIENTS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    client.me().await?;
                    latencies.push(t.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn per_sec(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64() // float-ok: reporting only
}

fn report(name: &str, latencies: &[Duration]) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: usize| {
        sorted
            .get((sorted.len().saturating_sub(1)) * q / 100)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name:<34} {:>7} requests  {:>8.1}/s  p50 {:>9.2?}  p99 {:>9.2?}", // float-ok
        sorted.len(),
        per_sec(u64::try_from(sorted.len()).unwrap_or(u64::MAX), PHASE),
        at(50),
        at(99)
    );
}

#[allow(clippy::float_arithmetic)]
fn ratio(a: f64, b: f64) -> f64 {
    a / b // float-ok: reporting only
}
