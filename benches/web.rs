//! The website's own cost, measured in one run so that figures compare: each page is asked of
//! the site in this process ([`poem::Endpoint::call`], no socket), and the same API calls the
//! page makes are asked of the API directly through the SDK; the difference is what the site adds
//! (sessions, templates, translations, headers). Also the sizes the issue holds the site to: the
//! market page with 50 offers, the stylesheet, the script, and the requests of a first view.
//!
//! `cargo bench -p pupero-benches --bench web`. SQLite, the API on a local socket.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{Method, header};
use poem::{Endpoint, Request};
use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, TransferCode, TransferOp,
};
use pupero_core::offer::{
    OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow, Side, TradeLimits, Visibility,
};
use pupero_core::price::Pricing;
use pupero_core::{
    AccountId, CurrencyCode, NewOffer, Offer, OfferId, Piconero, Price, Role, TransferId,
};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_sdk::{Client, OfferSearch};
use pupero_server::{AppState, Settings};
use pupero_web::WebConfig;

/// Offers on the market: one full page of the site's market.
const OFFERS: usize = 50;
/// Makers of those offers.
const MAKERS: usize = 5;
/// Requests measured per page, one at a time.
const REQUESTS: usize = 2_000;
const PASSWORD: &str = "benchmark password, long enough";

fn main() -> anyhow::Result<()> {
    // The runtime `pupero serve` runs on.
    pupero_server::runtime()?.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    // The SDK installs the process's TLS provider.
    drop(Client::new("http://127.0.0.1:8000".to_owned())?);
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        anyhow::bail!("no SQLite database");
    };
    let settings = Settings::for_database(db.url.clone());
    let state = AppState::open(settings).await?;
    let served = support::serve(state.clone()).await?;
    let base = served.base.clone();
    let offer = seed(&state).await?;

    let site = pupero_web::app(
        WebConfig {
            insecure_dev_cookies: true,
            ..WebConfig::new()
        },
        &base,
    )?;
    // The first view: a new visitor's market page, and what it links to.
    let first = site.call(get("/", None)).await?;
    let cookie = first
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the site sets its session cookie"))?;
    let html = first.into_body().into_string().await?;
    let assets: Vec<String> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/static/"))
        .map(str::to_owned)
        .collect();
    println!(
        "market page, {OFFERS} offers: {} KB of HTML; a first view is {} requests",
        html.len().div_ceil(1024),
        1 + assets.len()
    );
    for asset in &assets {
        let body = site
            .call(get(asset, None))
            .await?
            .into_body()
            .into_bytes()
            .await?;
        println!("  {asset}: {:.1} KB", kib(body.len()));
    }

    let api = Client::new(base.clone())?;
    let market = OfferSearch {
        side: Some(pupero_sdk::Side::Sell),
        limit: Some(50),
        ..OfferSearch::default()
    };
    let page = measure(REQUESTS, || {
        let site = &site;
        let cookie = cookie.clone();
        async move {
            site.call(get("/market?side=buy", Some(&cookie)))
                .await
                .map(drop)
        }
    })
    .await?;
    let calls = measure(REQUESTS, || {
        let api = &api;
        let market = &market;
        async move { tokio::try_join!(api.search_offers(market), api.payment_methods()).map(drop) }
    })
    .await?;
    report("market page", &page, &calls);

    let path = format!("/offers/{offer}");
    let page = measure(REQUESTS, || {
        let site = &site;
        let (path, cookie) = (path.clone(), cookie.clone());
        async move { site.call(get(&path, Some(&cookie))).await.map(drop) }
    })
    .await?;
    let calls = measure(REQUESTS, || {
        let api = &api;
        async move { api.offer(*offer.as_uuid()).await.map(drop) }
    })
    .await?;
    report("offer page", &page, &calls);

    served.stop().await;
    db.cleanup().await;
    Ok(())
}

fn get(path: &str, cookie: Option<&str>) -> Request {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri_str(path)
        .header(header::HOST, "127.0.0.1:5000");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.finish()
}

/// Latencies of `count` calls of `call`, one at a time, sorted.
async fn measure<F, Fut, E>(count: usize, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        call().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    let index = (sorted.len() * per_mille / 1_000).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

fn report(name: &str, page: &[Duration], calls: &[Duration]) {
    let [p50, p99] = [500, 990].map(|q| {
        (
            percentile(page, q),
            percentile(calls, q),
            percentile(page, q).saturating_sub(percentile(calls, q)),
        )
    });
    println!(
        "{name:<12} through the site p50 {:>9.2?} p99 {:>9.2?}; its API calls p50 {:>9.2?} p99 {:>9.2?}; the site's own time p50 {:>9.2?} p99 {:>9.2?}",
        p50.0, p99.0, p50.1, p99.1, p50.2, p99.2
    );
}

#[allow(
    clippy::cast_precision_loss,
    clippy::as_conversions,
    clippy::float_arithmetic
)]
fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0 // float-ok: reporting only
}

/// `OFFERS` sell offers in EUR from `MAKERS` funded makers, stored directly: seeding measures
/// nothing. Returns one of them.
async fn seed(state: &Arc<AppState>) -> anyhow::Result<OfferId> {
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
    let mut last = None;
    for m in 0..MAKERS {
        let maker = pupero_market::operator::create_user(
            &state.market,
            &format!("maker{m}"),
            None,
            PASSWORD,
            Role::User,
        )
        .await?;
        state
            .market
            .ledger
            .transfer(NewTransfer::xmr(
                TransferId::new_v7(),
                TransferOp::Single {
                    debit: wallet,
                    credit: AccountId::user_xmr(maker),
                    amount: Piconero::from_xmr_str("1000")?,
                },
                TransferCode::Deposit,
            ))
            .await?;
        for o in 0..OFFERS / MAKERS {
            let offer = Offer::create(
                OfferId::new_v7(),
                maker,
                NewOffer {
                    side: Side::Sell,
                    currency: CurrencyCode::parse("EUR")?,
                    payment_method: PaymentMethod::parse("SEPA")?,
                    payment_details: PaymentDetails::parse("IBAN DE00 1234")?,
                    pricing: Pricing::Fixed(Price::parse(&format!("{}", 150 + o))?),
                    limits: TradeLimits::new(
                        Piconero::from_xmr_str("0.01")?,
                        Piconero::from_xmr_str("5")?,
                    )?,
                    payment_window: PaymentWindow::from_minutes(60)?,
                    terms: OfferTerms::parse("Bank transfer within the hour.")?,
                    visibility: Visibility::Public,
                },
                state.now(),
            );
            state.market.store.insert_offer(&offer, u32::MAX).await?;
            last = Some(offer.id());
        }
    }
    last.ok_or_else(|| anyhow::anyhow!("an offer was seeded"))
}
