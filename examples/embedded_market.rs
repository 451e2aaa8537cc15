//! A whole market inside another Rust program, with no HTTP server: two users, a deposit, an
//! offer, a trade from escrow to release, and a withdrawal sent by the wallet worker — all
//! through `pupero_market::Market`, on the embedded SQLite, with a simulated Monero wallet
//! standing in for `monero-wallet-rpc`.
//!
//!   cargo run -p pupero-examples --example embedded_market
//!
//! A real embedding opens the market with `Market::open(settings)` and a wallet URL in the
//! settings; everything after that is the same.

use std::sync::Arc;

use pupero_core::offer::{
    OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow, TradeLimits, Visibility,
};
use pupero_core::{
    Caller, CurrencyCode, EmailAddress, MoneroAddress, NewOffer, Password, Piconero, Price,
    Pricing, Role, Side, SystemClock, TradeAction, TradeState, UserId, Username, WithdrawalState,
};
use pupero_market::trades::{AcceptedPrice, Actor, IdempotencyKey, Step};
use pupero_market::two_factor::SecondFactorProof;
use pupero_market::{Market, MarketSettings};
use pupero_wallet::testing::{SimWallet, TRANSFER_UNLOCK_BLOCKS, outside_address};

const PASSWORD: &str = "an embedded market";

/// Worker passes allowed before the withdrawal must be confirmed.
const MAX_WORKER_PASSES: usize = 20;

/// What happened, for whoever runs the example (and for its test).
#[derive(Debug)]
pub struct Outcome {
    /// The seller's balance after the deposit, the trade and its fee.
    pub seller_available: Piconero,
    /// The buyer's balance after the trade and the withdrawal.
    pub buyer_available: Piconero,
    /// What the outside address received on chain.
    pub received_outside: Piconero,
}

fn xmr(text: &str) -> anyhow::Result<Piconero> {
    Ok(Piconero::from_xmr_str(text)?)
}

/// Runs the market in `dir` (a fresh directory) and returns what the users ended with.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<Outcome> {
    let settings = MarketSettings::for_database(format!(
        "sqlite://{}?mode=rwc",
        dir.join("market.db").display()
    ));
    let network = settings.monero_network.addresses();
    let wallet = Arc::new(SimWallet::new(network));
    let market =
        Market::open_with_wallet(settings, Arc::new(SystemClock), wallet.clone(), 0).await?;

    // Two users, as registration would make them.
    let password = Password::parse(PASSWORD)?;
    let seller = new_user(&market, "alice", &password).await?;
    let buyer = new_user(&market, "bob", &password).await?;
    let (alice, bob) = (
        Caller::session(seller, Role::User),
        Caller::session(buyer, Role::User),
    );

    // Alice deposits 2 XMR to her subaddress; once confirmed, a scan credits it.
    let address = market.deposit_address(seller).await?;
    wallet.deposit(&MoneroAddress::parse(&address.address, network)?, xmr("2")?);
    wallet.mine(TRANSFER_UNLOCK_BLOCKS);
    market.scan_deposits().await?;
    println!(
        "alice deposited: {}",
        market.balance(seller).await?.available
    );

    // She sells XMR for euros at a fixed price.
    let offer = market
        .create_offer(
            seller,
            NewOffer {
                side: Side::Sell,
                currency: CurrencyCode::parse("EUR")?,
                payment_method: PaymentMethod::parse("SEPA")?,
                payment_details: PaymentDetails::parse("IBAN on request")?,
                pricing: Pricing::Fixed(Price::parse("150")?),
                limits: TradeLimits::new(xmr("0.1")?, xmr("1")?)?,
                payment_window: PaymentWindow::from_minutes(60)?,
                terms: OfferTerms::parse("")?,
                visibility: Visibility::parse("public")?,
            },
        )
        .await?;

    // Bob takes 0.5 XMR: her coins go into escrow; he pays, she releases.
    let (opened, _) = market
        .open_trade(
            &bob,
            offer.id(),
            xmr("0.5")?,
            AcceptedPrice(Price::parse("150")?),
            Some(IdempotencyKey::parse("bob-trade-1")?),
        )
        .await?;
    let trade = opened.trade.id();
    let no_second_factor = SecondFactorProof::new(None, None);
    for (who, action) in [
        (&bob, TradeAction::MarkPaid { by: buyer }),
        (&alice, TradeAction::Release { by: seller }),
    ] {
        market
            .step_trade(
                trade,
                Actor::Caller(who, no_second_factor),
                Step {
                    action,
                    reason: None,
                },
                None,
            )
            .await?;
    }
    let released = market.visible_trade(trade, &bob).await?;
    assert_eq!(released.trade.state(), TradeState::Released);
    println!("bob received: {}", market.balance(buyer).await?.available);

    // Bob withdraws 0.2 XMR to a wallet of his own; the worker signs, relays and confirms it.
    let outside = outside_address(network, 0);
    let (requested, _) = market
        .withdraw(
            &bob,
            &IdempotencyKey::parse("bob-withdrawal-1")?,
            outside.as_str(),
            "0.2",
            Some(PASSWORD),
            no_second_factor,
        )
        .await?;
    let id = requested.withdrawal.id;
    for _ in 0..MAX_WORKER_PASSES {
        market.drive_withdrawals().await?;
        if market.own_withdrawal(buyer, id).await?.withdrawal.state == WithdrawalState::Confirmed {
            break;
        }
        wallet.mine(1);
    }
    let sent = market.own_withdrawal(buyer, id).await?;
    anyhow::ensure!(
        sent.withdrawal.state == WithdrawalState::Confirmed,
        "the withdrawal is still {:?}",
        sent.withdrawal.state
    );
    let received_outside = wallet
        .received_by(&outside)
        .into_iter()
        .try_fold(Piconero::ZERO, |sum, (_, amount)| sum.checked_add(amount))?;
    println!("bob's wallet received: {received_outside}");
    Ok(Outcome {
        seller_available: market.balance(seller).await?.available,
        buyer_available: market.balance(buyer).await?.available,
        received_outside,
    })
}

async fn new_user(market: &Market, name: &str, password: &Password) -> anyhow::Result<UserId> {
    let email = EmailAddress::parse(&format!("{name}@example.org"))?;
    Ok(market
        .create_user(&Username::parse(name)?, Some(&email), password, Role::User)
        .await?)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let outcome = run(dir.path()).await?;
    println!("{outcome:#?}");
    Ok(())
}
