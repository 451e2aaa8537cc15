//! The market through HTTP, measured in one run so that figures compare as ratios: the
//! framework's floor (`GET /healthz`), the default and a filtered market page and one offer
//! (`GET /api/v1/offers/{id}`) over markets of 1,000 and 10,000 offers, with 64 concurrent
//! clients; then complete trades (open → paid → release, each a request with its ledger
//! transaction). Each read phase runs [`ROUNDS`] times, interleaved, and prints min / median /
//! max requests per second with p50 and p99 latencies; then the ratios the market is held to.
//! The server's resident memory is printed idle and at its peak during the reads, whose load
//! generator runs in a process of its own (this binary again, with [`READS_VAR`] set), so that
//! the figure is the server's alone.
//!
//! `cargo bench -p pupero-benches --bench market`. Runs on SQLite, then on MariaDB when it is
//! reachable (`PUPERO_TEST_MARIADB_URL`, as the tests).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::offer::{
    OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow, Side, TradeLimits, Visibility,
};
use pupero_core::price::{Pricing, Quote};
use pupero_core::{
    AccountId, CurrencyCode, MarginPercent, NewOffer, Offer, OfferId, Password, Piconero, Price,
    Role, TransferId, UserId, Username,
};
use pupero_ledger::WriterCounts;
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_sdk::Client;
use pupero_server::{AppState, Settings};

/// Set in the child process that measures one backend.
const BACKEND_VAR: &str = "PUPERO_BENCH_BACKEND";
/// Set in the child process that generates the read load: the server's base URL and the market
/// size, separated by a space. It prints the phases' figures, then a [`PAGES_LINE`] line.
const READS_VAR: &str = "PUPERO_BENCH_READS";
/// The start of the line where the read load's child gives its medians to the server's process.
const PAGES_LINE: &str = "pages:";
/// `trades` measures trade round trips alone (for profiling them); unset, everything.
const ONLY_VAR: &str = "PUPERO_BENCH_ONLY";
/// How long each measured phase runs.
const PHASE: Duration = Duration::from_secs(3);
/// Rounds of each phase.
const ROUNDS: usize = 3;
/// Seller–buyer pairs trading at once, one trade open per pair at a time: the project's usual
/// load, then a busier market.
const TRADING_PAIRS: [usize; 2] = [16, 64];
/// The market sizes measured.
const MARKETS: [usize; 2] = [1_000, 10_000];
/// Offers per maker (an established account's limit).
const OFFERS_PER_MAKER: usize = 20;
/// Concurrent readers of the market page.
const MARKET_CLIENTS: usize = 64;
/// Currencies of the seeded market; the filtered page asks for the first.
const CURRENCIES: [&str; 4] = ["EUR", "USD", "GBP", "CHF"];
/// The original system's market (`GET /offers`, FastAPI with 2 workers, 1,000 offers) on a
/// 2-core machine like this one, in requests per second: its best figure.
const ORIGINAL_MARKET_PER_SEC: f64 = 55.0;
const PASSWORD: &str = "benchmark password, long enough";

fn main() -> anyhow::Result<()> {
    // The runtime `pupero serve` runs on.
    pupero_server::runtime()?.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Each backend runs in a process of its own, so that its memory figures are its own.
    let Ok(only) = std::env::var(BACKEND_VAR) else {
        println!(
            "cores: {cores}; {ROUNDS} rounds of {} s phases; {MARKET_CLIENTS} readers; {TRADING_PAIRS:?} trading pairs",
            PHASE.as_secs()
        );
        for backend in ["sqlite", "mariadb"] {
            let status = std::process::Command::new(std::env::current_exe()?)
                .args(std::env::args().skip(1))
                .env(BACKEND_VAR, backend)
                .status()?;
            anyhow::ensure!(status.success(), "the {backend} run failed");
        }
        return Ok(());
    };
    // The SDK installs the process's TLS provider, which plain reqwest clients need too.
    drop(Client::new("http://127.0.0.1:8000".to_owned())?);
    if let Ok(reads_of) = std::env::var(READS_VAR) {
        let (base, size) = reads_of
            .split_once(' ')
            .ok_or_else(|| anyhow::anyhow!("{READS_VAR} is a base URL and a size"))?;
        let pages = reads(base, size.parse()?).await?;
        println!(
            "{PAGES_LINE} {} {} {}",
            pages.healthz, pages.default, pages.filtered
        );
        return Ok(());
    }
    for backend in [Backend::Sqlite, Backend::MariaDb] {
        if format!("{backend:?}").to_lowercase() != only {
            continue;
        }
        let Some(db) = TestDatabase::create(backend).await else {
            println!("{backend:?}: not reachable, skipped");
            continue;
        };
        println!("== {backend:?}");
        run(&db).await?;
        db.cleanup().await;
    }
    Ok(())
}

async fn run(db: &TestDatabase) -> anyhow::Result<()> {
    let mut settings = Settings::for_database(db.url.clone());
    settings.market.rate_limits = pupero_market::ratelimit::RateLimitSettings {
        login_per_address: pupero_market::ratelimit::RateQuota::new(1_000_000, 1),
        register_per_address: pupero_market::ratelimit::RateQuota::new(1_000_000, 1),
        ..settings.market.rate_limits
    };
    // Readers and traders all come from this one address.
    settings.connections.max_per_address = 1_024;
    let state = AppState::open(settings).await?;
    let served = support::serve(state.clone()).await?;
    let base = served.base.clone();
    println!("RSS idle: {} MiB", rss_mib("VmRSS"));

    let trades_only = std::env::var(ONLY_VAR).is_ok_and(|only| only == "trades");
    let mut seeded = 0;
    let mut pages = Vec::new();
    for size in MARKETS.into_iter().filter(|_| !trades_only) {
        seeded = seed(&state, seeded, size).await?;
        println!("-- market of {size} offers");
        println!("RSS before the reads: {} MiB", rss_mib("VmRSS"));
        reset_peak_rss();
        pages.push(reads_from_child(&base, size).await?);
        println!("RSS peak during the reads: {} MiB", rss_mib("VmHWM"));
    }
    for pairs in TRADING_PAIRS {
        trades(&state, &base, pairs).await?;
    }

    let [small, large] = [pages.first(), pages.get(1)];
    let (Some(small), Some(large)) = (small, large) else {
        served.stop().await;
        return Ok(());
    };
    println!("ratios (medians):");
    for (name, value) in [
        (
            "default page / healthz, 1k offers",
            ratio(small.default, small.healthz),
        ),
        (
            "filtered page / healthz, 1k offers",
            ratio(small.filtered, small.healthz),
        ),
        (
            "default page 1k / 10k offers",
            ratio(small.default, large.default),
        ),
        (
            "filtered page 1k / 10k offers",
            ratio(small.filtered, large.filtered),
        ),
        (
            "default page / the original's, 1k",
            ratio(small.default, ORIGINAL_MARKET_PER_SEC),
        ),
    ] {
        println!("  {name:<38} {value:>8.3}");
    }

    served.stop().await;
    Ok(())
}

/// Median requests per second of each read phase over one market.
struct Pages {
    healthz: f64,
    default: f64,
    filtered: f64,
}

/// [`reads`] run by a child process, this binary again, so that the load generator's memory is
/// not counted as the server's; its figures are printed as they come.
async fn reads_from_child(base: &str, size: usize) -> anyhow::Result<Pages> {
    let exe = std::env::current_exe()?;
    let reads_of = format!("{base} {size}");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .env(READS_VAR, reads_of)
            .stderr(std::process::Stdio::inherit())
            .output()
    })
    .await??;
    let stdout = String::from_utf8(output.stdout)?;
    let mut pages = None;
    for line in stdout.lines() {
        match line.strip_prefix(PAGES_LINE) {
            Some(figures) => {
                let figures: Vec<f64> = figures
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
                if let [healthz, default, filtered] = figures[..] {
                    pages = Some(Pages {
                        healthz,
                        default,
                        filtered,
                    });
                }
            }
            None => println!("{line}"),
        }
    }
    anyhow::ensure!(output.status.success(), "the read load failed");
    pages.ok_or_else(|| anyhow::anyhow!("the read load printed no {PAGES_LINE} line"))
}

/// The read phases over the market as seeded, `ROUNDS` times interleaved.
async fn reads(base: &str, size: usize) -> anyhow::Result<Pages> {
    let first: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/offers"))
        .send()
        .await?
        .json()
        .await?;
    let items = first["items"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(items == 20, "the market is listed: {first}");
    let one = first["items"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("an offer id"))?
        .to_owned();
    let phases = [
        ("GET /healthz".to_owned(), format!("{base}/healthz")),
        (
            format!("GET /api/v1/offers ({size})"),
            format!("{base}/api/v1/offers"),
        ),
        (
            format!("GET /api/v1/offers?side=sell&currency=EUR ({size})"),
            format!("{base}/api/v1/offers?side=sell&currency=EUR"),
        ),
        (
            format!("GET /api/v1/offers/{{id}} ({size})"),
            format!("{base}/api/v1/offers/{one}"),
        ),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); phases.len()];
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); phases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, url)) in phases.iter().enumerate() {
            let done = load(url).await?;
            rates[i].push(per_sec(done.len(), PHASE));
            latencies[i].extend(done);
        }
    }
    for (i, (name, _)) in phases.iter().enumerate() {
        report(name, &mut rates[i], &mut latencies[i]);
    }
    Ok(Pages {
        healthz: median(&rates[0]),
        default: median(&rates[1]),
        filtered: median(&rates[2]),
    })
}

/// `MARKET_CLIENTS` keep-alive connections getting `url` for `PHASE`: each request's latency.
async fn load(url: &str) -> anyhow::Result<Vec<Duration>> {
    let (addr, path) = split_url(url)?;
    let deadline = Instant::now() + PHASE;
    let tasks: Vec<_> = (0..MARKET_CLIENTS)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move {
                let mut conn = Conn::open(addr, None).await?;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    conn.request("GET", &path, None).await?;
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

/// The address and the path of an `http://` URL.
fn split_url(url: &str) -> anyhow::Result<(std::net::SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("an http URL"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok((
        host.parse()?,
        if path.is_empty() { "/" } else { path }.to_owned(),
    ))
}

/// A minimal HTTP/1.1 keep-alive client on a raw socket, so that the load generator costs little
/// next to the server sharing its cores (a general client costs as much as the server's answer).
struct Conn {
    stream: tokio::net::TcpStream,
    host: std::net::SocketAddr,
    bearer: Option<String>,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl Conn {
    async fn open(host: std::net::SocketAddr, bearer: Option<String>) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host,
            bearer,
            buf: Vec::with_capacity(64 * 1024),
            chunk: vec![0_u8; 64 * 1024],
        })
    }

    /// Sends one request and reads its answer: the body of a 2xx, an error otherwise.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> anyhow::Result<Vec<u8>> {
        use std::fmt::Write as _;
        use tokio::io::AsyncWriteExt;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = &self.bearer {
            write!(head, "Authorization: Bearer {token}\r\n")?;
        }
        let body = json.unwrap_or_default();
        if json.is_some() || method != "GET" {
            write!(
                head,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )?;
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.stream.write_all(head.as_bytes()).await?;
        let (start, length) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (end + 4, response_length(&self.buf[..end])?);
            }
            self.fill().await?;
        };
        while self.buf.len() < start + length {
            self.fill().await?;
        }
        let body = self.buf[start..start + length].to_vec();
        self.buf.drain(..start + length);
        Ok(body)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt;
        let n = self.stream.read(&mut self.chunk).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&self.chunk[..n]);
        Ok(())
    }
}

/// The body length of a successful response with `head` (status line and headers).
fn response_length(head: &[u8]) -> anyhow::Result<usize> {
    let head = std::str::from_utf8(head)?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    anyhow::ensure!(status.starts_with("HTTP/1.1 2"), "answered {status}");
    lines
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or_else(|| anyhow::anyhow!("no content-length"))
}

/// Grows the market from `from` to `to` offers: funded makers of `OFFERS_PER_MAKER` offers
/// each, both sides, four currencies with market prices, fixed and margin prices.
async fn seed(state: &Arc<AppState>, from: usize, to: usize) -> anyhow::Result<usize> {
    for code in CURRENCIES {
        let quote = Quote::new(
            CurrencyCode::parse(code)?,
            Price::parse("150")?,
            state.now(),
        );
        state
            .market
            .store
            .set_market_price(&quote, pupero_market::store::PRICE_SOURCE_ADMIN)
            .await?;
    }
    // Makers are stored directly, all with one password hash: seeding measures nothing.
    let hash = state
        .market
        .hasher
        .hash(&Password::parse(PASSWORD)?)
        .await?;
    let makers: Vec<usize> = (from / OFFERS_PER_MAKER..to.div_ceil(OFFERS_PER_MAKER)).collect();
    let tasks: Vec<_> = makers
        .chunks(makers.len().div_ceil(8).max(1))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let state = state.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                for m in chunk {
                    let id = UserId::new_v7();
                    state
                        .market
                        .ledger
                        .create_account(NewAccount::user_xmr(AccountId::user_xmr(id)))
                        .await?;
                    let created = state
                        .market
                        .store
                        .create_user(
                            id,
                            &Username::parse(&format!("maker{m}"))?,
                            None,
                            &hash,
                            Role::User,
                            state.now(),
                        )
                        .await?;
                    anyhow::ensure!(created.is_ok(), "maker{m} is new");
                    fund(&state, id, "10").await?;
                    for k in 0..OFFERS_PER_MAKER {
                        let n = m * OFFERS_PER_MAKER + k;
                        let offer =
                            Offer::create(OfferId::new_v7(), id, market_offer(n)?, state.now());
                        state.market.store.insert_offer(&offer, u32::MAX).await?;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(to)
}

/// The `n`th offer of the seeded market.
fn market_offer(n: usize) -> anyhow::Result<NewOffer> {
    let side = if n.is_multiple_of(3) {
        Side::Buy
    } else {
        Side::Sell
    };
    let pricing = if n.is_multiple_of(4) {
        Pricing::Margin(MarginPercent::parse(&format!("{}", n % 7))?)
    } else {
        Pricing::Fixed(Price::parse(&format!("{}.{:02}", 140 + n % 20, n % 100))?)
    };
    Ok(NewOffer {
        side,
        currency: CurrencyCode::parse(CURRENCIES[n / 3 % CURRENCIES.len()])?,
        pricing,
        ..sell_offer("150")?
    })
}

/// A user made as the operator would, logged in, with `xmr` deposited.
async fn user(
    state: &AppState,
    base: &str,
    name: &str,
    xmr: &str,
) -> anyhow::Result<(Client, String)> {
    let id = pupero_market::operator::create_user(&state.market, name, None, PASSWORD, Role::User)
        .await?;
    if xmr != "0" {
        fund(state, id, xmr).await?;
    }
    let client = Client::new(base.to_owned())?;
    let tokens = client.login(name, PASSWORD).await?;
    Ok((client, tokens.access_token))
}

async fn fund(state: &AppState, user: UserId, xmr: &str) -> anyhow::Result<()> {
    let wallet = AccountId::from_u128(0xBE7C);
    state
        .market
        .ledger
        .create_account(NewAccount {
            id: wallet,
            ledger: LedgerId::XMR,
            code: AccountCode::HotWallet,
            flags: AccountFlags::NONE,
        })
        .await?;
    state
        .market
        .ledger
        .transfer(NewTransfer::xmr(
            TransferId::new_v7(),
            TransferOp::Single {
                debit: wallet,
                credit: AccountId::user_xmr(user),
                amount: Piconero::from_xmr_str(xmr)?,
            },
            TransferCode::Deposit,
        ))
        .await?;
    Ok(())
}

fn sell_offer(price: &str) -> anyhow::Result<NewOffer> {
    Ok(NewOffer {
        side: Side::Sell,
        currency: CurrencyCode::parse("EUR")?,
        payment_method: PaymentMethod::parse("SEPA")?,
        payment_details: PaymentDetails::parse("")?,
        pricing: Pricing::Fixed(Price::parse(price)?),
        limits: TradeLimits::new(
            Piconero::from_xmr_str("0.01")?,
            Piconero::from_xmr_str("5")?,
        )?,
        payment_window: PaymentWindow::from_minutes(60)?,
        terms: OfferTerms::parse("")?,
        visibility: Visibility::Public,
    })
}

/// Complete trades per second: each pair loops open → paid → release.
async fn trades(state: &Arc<AppState>, base: &str, count: usize) -> anyhow::Result<()> {
    let (addr, _) = split_url(base)?;
    let mut pairs = Vec::new();
    for i in 0..count {
        let (seller, seller_token) =
            user(state, base, &format!("seller{count}x{i}"), "1000").await?;
        let (_, buyer_token) = user(state, base, &format!("buyer{count}x{i}"), "0").await?;
        let offer = Offer::create(
            OfferId::new_v7(),
            seller_id(&seller).await?,
            sell_offer("150")?,
            state.now(),
        );
        state.market.store.insert_offer(&offer, u32::MAX).await?;
        pairs.push((seller_token, buyer_token, offer.id()));
    }
    let mut rates = Vec::new();
    let mut all = Vec::new();
    let writer_before = state.market.ledger.writer_counts();
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let deadline = Instant::now() + PHASE;
        let tasks: Vec<_> = pairs
            .iter()
            .cloned()
            .map(|(seller, buyer, offer)| {
                tokio::spawn(async move {
                    let mut seller = Conn::open(addr, Some(seller)).await?;
                    let mut buyer = Conn::open(addr, Some(buyer)).await?;
                    let open = format!(r#"{{"offer_id":"{offer}","amount":"0.1","price":"150"}}"#);
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let trade: serde_json::Value = serde_json::from_slice(
                            &buyer.request("POST", "/api/v1/trades", Some(&open)).await?,
                        )?;
                        let id = trade["id"]
                            .as_str()
                            .ok_or_else(|| anyhow::anyhow!("a trade id: {trade}"))?;
                        buyer
                            .request("POST", &format!("/api/v1/trades/{id}/paid"), None)
                            .await?;
                        seller
                            .request("POST", &format!("/api/v1/trades/{id}/release"), Some("{}"))
                            .await?;
                        latencies.push(t.elapsed());
                    }
                    anyhow::Ok(latencies)
                })
            })
            .collect();
        let mut round = Vec::new();
        for task in tasks {
            round.extend(task.await??);
        }
        rates.push(per_sec(round.len(), PHASE));
        all.extend(round);
    }
    report(
        &format!("trade round trips, {count} pairs (3 requests each)"),
        &mut rates,
        &mut all,
    );
    writer_report(
        &writer_before,
        &state.market.ledger.writer_counts(),
        cpu_ticks().saturating_sub(cpu_before),
        started.elapsed(),
    );
    state.market.ledger.check_invariants().await?;
    Ok(())
}

async fn seller_id(client: &Client) -> anyhow::Result<UserId> {
    Ok(UserId::from_uuid(client.me().await?.id))
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn per_sec(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64() // float-ok: reporting only
}

#[allow(clippy::float_arithmetic)]
fn ratio(a: f64, b: f64) -> f64 {
    a / b // float-ok: reporting only
}

fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Starts counting the peak resident memory (`VmHWM`) from now.
fn reset_peak_rss() {
    // `5` resets the peak: see proc(5), /proc/pid/clear_refs.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's resident memory (`VmRSS`) or its peak (`VmHWM`), in MiB.
fn rss_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// CPU time this process used so far (user and system), in clock ticks (see proc(5)).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum()
}

/// Where the trade phase's time went: the writer's groups, how full they were, how busy the
/// writer was, and how many cores the process used (load generator included).
#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn writer_report(before: &WriterCounts, after: &WriterCounts, cpu_ticks: u64, wall: Duration) {
    let groups = after.groups.saturating_sub(before.groups);
    let commands = after.commands.saturating_sub(before.commands);
    let busy = after.busy_micros.saturating_sub(before.busy_micros);
    let wall_micros = wall.as_micros() as f64; // float-ok: reporting only
    // Linux counts CPU time in ticks of 1/100 s (USER_HZ).
    let cores = cpu_ticks as f64 * 10_000.0 / wall_micros; // float-ok: reporting only
    println!(
        "  writer: {groups} groups, {:.1} commands each, busy {:.0}%; retries {}; process used {cores:.2} cores", // float-ok
        commands as f64 / groups.max(1) as f64, // float-ok: reporting only
        busy as f64 * 100.0 / wall_micros,      // float-ok: reporting only
        after.retries.saturating_sub(before.retries),
    );
}

fn report(name: &str, rates: &mut [f64], latencies: &mut [Duration]) {
    latencies.sort();
    rates.sort_by(f64::total_cmp);
    let at = |q: usize| {
        latencies
            .get((latencies.len().saturating_sub(1)) * q / 100)
            .copied()
            .unwrap_or_default()
    };
    let rate = |i: usize| rates.get(i).copied().unwrap_or_default();
    println!(
        "{name:<52} {:>9.0} / {:>9.0} / {:>9.0} req/s (min/median/max)  p50 {:>9.2?}  p99 {:>9.2?}", // float-ok
        rate(0),
        median(rates),
        rate(rates.len().saturating_sub(1)),
        at(50),
        at(99)
    );
}
