//! The market through HTTP: complete trades per second (open → paid → release, each step a
//! request with its ledger transaction), and `GET /api/v1/offers` requests per second over a
//! market of 1,000 offers with 64 concurrent clients, with p50/p99 latencies.
//!
//! `cargo bench -p pupero-benches --bench market`. Runs on SQLite, then on MariaDB when it is
//! reachable (`PUPERO_TEST_MARIADB_URL`, as the tests). Each phase runs for [`PHASE`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::offer::{
    OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow, Side, TradeLimits, Visibility,
};
use pupero_core::price::Pricing;
use pupero_core::{
    AccountId, CurrencyCode, NewOffer, Offer, OfferId, Piconero, Price, Role, TransferId, UserId,
};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_sdk::{Client, OpenTradeRequest};
use pupero_server::{AppState, Settings};

/// How long each measured phase runs.
const PHASE: Duration = Duration::from_secs(10);
/// Seller–buyer pairs trading at once, one trade open per pair at a time.
const TRADING_PAIRS: usize = 16;
/// Offers on the market for the read benchmark.
const MARKET_OFFERS: usize = 1_000;
/// Offers per maker (an established account's limit).
const OFFERS_PER_MAKER: usize = 20;
/// Concurrent readers of the market page.
const MARKET_CLIENTS: usize = 64;
const PASSWORD: &str = "benchmark password, long enough";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "cores: {cores}; phase {} s; {TRADING_PAIRS} trading pairs; {MARKET_OFFERS} offers, {MARKET_CLIENTS} readers",
        PHASE.as_secs()
    );
    for backend in [Backend::Sqlite, Backend::MariaDb] {
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
    let state = AppState::open(settings).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(pupero_server::serve(
        state.clone(),
        async move {
            let _ = stop_rx.await;
        },
        move |a| {
            let _ = bound_tx.send(a);
        },
    ));
    let base = format!("http://{}", bound_rx.await?);

    trades(&state, &base).await?;
    market(&state, &base).await?;

    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(())
}

/// A user made as the operator would, logged in, with `xmr` deposited.
async fn user(
    state: &AppState,
    base: &str,
    name: &str,
    xmr: &str,
) -> anyhow::Result<(Client, UserId)> {
    let id = pupero_market::operator::create_user(&state.market, name, None, PASSWORD, Role::User)
        .await?;
    if xmr != "0" {
        fund(state, id, xmr).await?;
    }
    let client = Client::new(base.to_owned())?;
    client.login(name, PASSWORD).await?;
    Ok((client, id))
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
async fn trades(state: &Arc<AppState>, base: &str) -> anyhow::Result<()> {
    let mut pairs = Vec::new();
    for i in 0..TRADING_PAIRS {
        let (seller, _) = user(state, base, &format!("seller{i}"), "100000").await?;
        let (buyer, _) = user(state, base, &format!("buyer{i}"), "0").await?;
        let offer = Offer::create(
            OfferId::new_v7(),
            seller_id(&seller).await?,
            sell_offer("150")?,
            state.now(),
        );
        state.market.store.insert_offer(&offer, u32::MAX).await?;
        pairs.push((seller, buyer, offer.id()));
    }
    let deadline = Instant::now() + PHASE;
    let tasks: Vec<_> = pairs
        .into_iter()
        .map(|(seller, buyer, offer)| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let request = OpenTradeRequest {
                    offer_id: *offer.as_uuid(),
                    amount: "0.1".parse().expect("an amount"),
                    price: "150".parse().expect("a price"),
                };
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let trade = buyer.open_trade(&request, None).await?;
                    buyer.mark_trade_paid(trade.id, None).await?;
                    seller.release_trade(trade.id, None, None).await?;
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
    report("trade round trip (3 requests)", &all);
    state.market.ledger.check_invariants().await?;
    Ok(())
}

async fn seller_id(client: &Client) -> anyhow::Result<UserId> {
    Ok(UserId::from_uuid(client.me().await?.id))
}

/// `GET /api/v1/offers` over a market of `MARKET_OFFERS` funded sell offers.
async fn market(state: &Arc<AppState>, base: &str) -> anyhow::Result<()> {
    let makers = MARKET_OFFERS.div_ceil(OFFERS_PER_MAKER);
    let mut made = 0_usize;
    for m in 0..makers {
        let (_, id) = user(state, base, &format!("maker{m}"), "10").await?;
        for _ in 0..OFFERS_PER_MAKER.min(MARKET_OFFERS - made) {
            let price = format!("{}.{:02}", 140 + made % 20, made % 100);
            let offer = Offer::create(OfferId::new_v7(), id, sell_offer(&price)?, state.now());
            state.market.store.insert_offer(&offer, u32::MAX).await?;
            made += 1;
        }
    }
    let path = format!("{base}/api/v1/offers?side=sell&currency=EUR&limit=20");
    let http = reqwest::Client::new();
    let first: serde_json::Value = http.get(&path).send().await?.json().await?;
    anyhow::ensure!(
        first["items"].as_array().map(Vec::len) == Some(20),
        "the market is listed: {first}"
    );
    let deadline = Instant::now() + PHASE;
    let tasks: Vec<_> = (0..MARKET_CLIENTS)
        .map(|_| {
            let http = http.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let response = http.get(&path).send().await?;
                    anyhow::ensure!(response.status().is_success());
                    response.bytes().await?;
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
    report("GET /api/v1/offers (1000 offers)", &all);
    Ok(())
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn per_sec(count: usize, elapsed: Duration) -> f64 {
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
        "{name:<34} {:>7} done  {:>8.1}/s  p50 {:>9.2?}  p99 {:>9.2?}", // float-ok
        sorted.len(),
        per_sec(sorted.len(), PHASE),
        at(50),
        at(99)
    );
}
