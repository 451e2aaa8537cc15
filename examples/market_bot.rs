//! A market bot on `pupero-sdk`: as a *maker* it keeps a sell offer posted and releases paid
//! trades; as a *taker* it buys from the best offer and marks the trade paid.
//!
//! Against a local server (`scripts/run.sh`), in two terminals:
//! ```text
//! cargo run -p pupero-server -- admin credit --username seller-bot --amount 5   # dev mode only
//! cargo run -p pupero-examples --example market_bot -- http://127.0.0.1:8000 maker seller-bot 'a long password'
//! cargo run -p pupero-examples --example market_bot -- http://127.0.0.1:8000 taker buyer-bot 'a long password'
//! ```
//! (Register the seller first, e.g. by running the maker once, then credit it.) The maker here
//! trusts every payment; a real one would check its bank before releasing.

use std::time::Duration;

use pupero_examples::{maker_offer, maker_round, take_best_offer};
use pupero_sdk::Client;

/// Pause between the maker's rounds.
const ROUND: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, role, username, password] = args.as_slice() else {
        anyhow::bail!("usage: market_bot URL maker|taker USERNAME PASSWORD");
    };
    let client = Client::new(url.clone())?;
    match client.register(username, None, password).await {
        Ok(_) => println!("registered {username}"),
        Err(e) if e.code() == Some("USERNAME_TAKEN") => {}
        Err(e) => return Err(e.into()),
    }
    client.login(username, password).await?;
    match role.as_str() {
        "maker" => {
            let offer = maker_offer(
                "150".parse().expect("a price"),
                "0.01".parse().expect("an amount"),
                "1".parse().expect("an amount"),
            );
            loop {
                match maker_round(&client, &offer, |_| true).await {
                    Ok(released) => {
                        for id in released {
                            println!("released trade {id}");
                        }
                    }
                    Err(e) => eprintln!("round failed: {e}"),
                }
                tokio::time::sleep(ROUND).await;
            }
        }
        "taker" => {
            let pay = |t: &pupero_sdk::TradeView| {
                println!(
                    "pay {} {} by {} to {} ({}), reference {}",
                    t.fiat_amount,
                    t.currency,
                    t.payment_method,
                    t.seller.username,
                    t.payment_details,
                    t.id
                );
            };
            match take_best_offer(&client, "0.05".parse().expect("an amount"), pay).await? {
                Some(trade) => println!("trade {} is {}", trade.id, trade.state),
                None => println!("no offer fits"),
            }
        }
        other => anyhow::bail!("unknown role {other}: maker or taker"),
    }
    Ok(())
}
