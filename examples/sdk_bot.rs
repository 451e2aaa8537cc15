//! A bot's first steps with `pupero-sdk`: register (once), log in, read the balance and the
//! ledger history. The client refreshes its access token by itself.
//!
//! Start a server (`scripts/run.sh`), then:
//! `cargo run -p pupero-examples --example sdk_bot -- http://127.0.0.1:8000 mybot 'a long password'`

use pupero_sdk::Client;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let username = args.next().unwrap_or_else(|| "example-bot".to_owned());
    let password = args
        .next()
        .unwrap_or_else(|| "example bot password".to_owned());

    let client = Client::new(url)?;
    println!("server: {}", client.readyz().await?.status);
    match client.register(&username, None, &password).await {
        Ok(registered) => println!(
            "registered {} ({})",
            registered.username, registered.user_id
        ),
        Err(e) if e.code() == Some("USERNAME_TAKEN") => println!("{username} exists; logging in"),
        Err(e) => return Err(e.into()),
    }
    client.login(&username, &password).await?;
    let me = client.me().await?;
    println!("logged in as {} (role {})", me.username, me.role);

    let balance = client.balance().await?;
    println!(
        "available {}, held {}, incoming {}",
        balance.available, balance.held, balance.incoming
    );
    for entry in client.ledger_history_all().await? {
        println!(
            "{:>6} {:>20} {}",
            entry.direction,
            entry.amount.to_xmr_string(),
            entry.code
        );
    }
    client.logout().await?;
    Ok(())
}
