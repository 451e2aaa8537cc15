//! One scenario, both topologies: the same SDK client's story passes against one
//! `pupero serve --role all` process and against `pupero serve --role gateway` in front of
//! four processes (`--role auth`, `offers`, `ledger`, `wallet`), each with the website
//! (`pupero web`) over it, on MariaDB and a private regtest network. Every process is a child
//! process of the `pupero` binary; the test reaches the API only through the SDK.
//!
//! Two users register and log in; the seller's deposit, a real regtest transaction, is
//! credited by the wallet jobs' scanner; the seller posts a sell offer, which the website's
//! market page lists with its maker; the buyer opens a trade and marks it paid, the seller
//! releases; the buyer withdraws part of it to an outside wallet, which receives exactly that
//! once. Every balance is what the test computes from the published fee schedule and the
//! withdrawal's fee, the ledger holds, and the admin's reconciliation is ok.
//!
//! Each serving process answers `/healthz` and `/readyz` on its own port, serves its role's
//! resources and answers another role's with `404 NOT_FOUND`, and only the process that may
//! run the wallet jobs (`all` or `wallet`) holds the wallet worker lease.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use pupero_core::{Party, Piconero, SignedPiconero};
use pupero_market::Market;
use pupero_sdk::{
    Client, DepositState, OpenTradeRequest, ReconciliationStatus, TradeState, Withdrawal,
    WithdrawalState,
};
use pupero_server::roles::Role;
use pupero_wallet::testing::{Regtest, TestWallet};
use pupero_wallet::{OutgoingState, WalletRpc};

use crate::cluster::{Fixture, POLL_INTERVAL, Process, STEP_TIMEOUT, deployment_env};
use crate::regtest::{request, xmr};
use crate::support::{PASSWORD, sell_offer};
use crate::sweeps::{mine_until_spendable, send_many};

/// What the seller deposits, in one regtest transaction.
const DEPOSIT: &str = "1.5";

/// XMR the buyer buys.
const TRADE_AMOUNT: &str = "0.5";

/// The offer's fixed price ([`sell_offer`]'s).
const PRICE: &str = "150";

/// XMR the buyer withdraws of what they bought.
const WITHDRAWAL: &str = "0.2";

/// The users: the offer's maker, its taker, and the admin made in the database.
const SELLER: &str = "seller";
const BUYER: &str = "buyer";
const ADMIN: &str = "root";

/// What serves the API.
#[derive(Debug, Clone, Copy)]
enum Topology {
    /// One `pupero serve --role all`, with the wallet jobs.
    All,
    /// The gateway in front of one process per role.
    Split,
}

/// The processes of one deployment, and where a client reaches them.
struct Deployment {
    /// Every process serving the API, with its role and its own URL.
    services: Vec<(Role, String)>,
    /// Where clients send requests: the `all` process or the gateway.
    api: String,
    /// The website, over `api`.
    website: String,
    /// Every process of it, the gateway and the website included; killed when dropped.
    processes: Vec<Process>,
}

impl Deployment {
    /// Starts `topology` on `database_url` (migrated already) and `platform`'s wallet, and
    /// the website over it, and waits until every serving process is ready.
    async fn start(
        topology: Topology,
        database_url: &str,
        platform: &TestWallet,
        logs: &Path,
    ) -> Deployment {
        // Every process gets the wallet and leaves `PUPERO_WALLET_WORKER` at its default (on),
        // as compose.yaml's shared settings do for the wallet role: the role alone decides
        // which process runs the wallet jobs.
        let env: Vec<(&str, String)> = deployment_env(database_url, platform)
            .into_iter()
            .chain([
                ("PUPERO_LISTEN", "127.0.0.1:0".to_owned()),
                // The gateway and the website, whose `X-Forwarded-For` names the client.
                ("PUPERO_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ])
            .collect();
        let roles: &[Role] = match topology {
            Topology::All => &[Role::All],
            Topology::Split => &Role::SERVICES,
        };
        let mut processes: Vec<Process> = roles
            .iter()
            .map(|role| {
                let args = ["serve", "--role", role.as_str()];
                Process::spawn(&args, role.as_str(), logs, &env)
            })
            .collect();
        let mut services = Vec::new();
        for (role, process) in roles.iter().zip(&mut processes) {
            services.push((*role, format!("http://{}", process.address().await)));
        }
        let api = match topology {
            Topology::All => services[0].1.clone(),
            Topology::Split => {
                let upstreams: Vec<(String, String)> = services
                    .iter()
                    .map(|(role, url)| {
                        let name = format!("PUPERO_UPSTREAM_{}", role.as_str().to_uppercase());
                        (name, url.trim_start_matches("http://").to_owned())
                    })
                    .collect();
                let gateway_env: Vec<(&str, String)> = upstreams
                    .iter()
                    .map(|(name, address)| (name.as_str(), address.clone()))
                    .chain([("PUPERO_LISTEN", "127.0.0.1:0".to_owned())])
                    .collect();
                let args = ["serve", "--role", "gateway"];
                let mut gateway = Process::spawn(&args, "gateway", logs, &gateway_env);
                let url = format!("http://{}", gateway.address().await);
                processes.push(gateway);
                url
            }
        };
        let args = ["web", "--listen", "127.0.0.1:0", "--api", api.as_str()];
        let mut website = Process::spawn(&args, "website", logs, &[]);
        let website_url = format!("http://{}", website.address().await);
        processes.push(website);
        let deployment = Deployment {
            services,
            api,
            website: website_url,
            processes,
        };
        for url in deployment.services.iter().map(|(_, url)| url) {
            deployment.wait_ready(url).await;
        }
        deployment.wait_ready(&deployment.api).await;
        deployment
    }

    /// Waits until `url` answers its `/readyz` with nothing down.
    async fn wait_ready(&self, url: &str) {
        let client = Client::new(url).expect("client");
        eventually(&format!("{url} ready"), self, || async {
            client
                .readyz()
                .await
                .is_ok_and(|report| report.down.is_empty())
                .then_some(())
        })
        .await;
    }

    /// Every process's log, for a failure's message.
    fn logs(&self) -> String {
        self.processes
            .iter()
            .map(|p| format!("--- {} ---\n{}", p.name, p.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The regtest network and its wallets: a funded one that pays deposits, the platform's, and
/// an outside one that receives withdrawals.
struct Chain {
    net: Regtest,
    miner: TestWallet,
    platform: TestWallet,
    receiver: TestWallet,
}

/// Calls `check` until it gives a value, for at most [`STEP_TIMEOUT`]; fails the test with
/// every log of `deployment` when it never does.
async fn eventually<T, F, Fut>(what: &str, deployment: &Deployment, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}:\n{}",
            deployment.logs()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Whether a process of `role` runs the wallet jobs, as `pupero serve --help` says: only
/// `all` and `wallet` talk to the wallet.
fn runs_wallet_jobs(role: Role) -> bool {
    matches!(role, Role::All | Role::Wallet)
}

/// Asks for a resource `owner` serves, as `client`'s user: the profile (auth), the user's
/// offers (offers, under `/me`, which is auth's), the balance (ledger), the withdrawals
/// (wallet).
async fn ask(client: &Client, owner: Role) -> Result<(), pupero_sdk::Error> {
    match owner {
        Role::Auth => client.me().await.map(drop),
        Role::Offers => client.my_offers().await.map(drop),
        Role::Ledger => client.balance().await.map(drop),
        Role::Wallet => client.withdrawals(None, None).await.map(drop),
        Role::All | Role::Worker => unreachable!("{owner:?} owns no path of its own"),
    }
}

/// Each serving process is alive and ready on its own port; it serves its role's resources
/// and answers another role's with `404 NOT_FOUND` (with a valid session: refused by routing,
/// not by authentication); and only a process that may run the wallet jobs holds the lease.
async fn check_roles(deployment: &Deployment, access_token: &str) {
    for (role, url) in &deployment.services {
        let client = Client::new(url).expect("client");
        let health = client.healthz().await.expect("healthz");
        assert_eq!(health.status, "ok", "{role:?}");
        let ready = client.readyz().await.expect("readyz");
        assert!(ready.down.is_empty(), "{role:?}: {ready:?}");
        client.set_access_token(access_token);
        for owner in Role::SERVICES {
            let serves = *role == Role::All || *role == owner;
            match (serves, ask(&client, owner).await) {
                (true, Ok(())) => {}
                (true, Err(e)) => panic!("{role:?} does not serve {owner:?}'s resource: {e}"),
                (false, Ok(())) => panic!("{role:?} served {owner:?}'s resource"),
                (false, Err(e)) => {
                    assert_eq!(
                        (e.status(), e.code()),
                        (Some(404), Some("NOT_FOUND")),
                        "{e}"
                    );
                }
            }
        }
    }
    // The wallet jobs' process takes the lease when it starts.
    let (_, jobs) = deployment
        .services
        .iter()
        .find(|(role, _)| runs_wallet_jobs(*role))
        .expect("a process runs the wallet jobs");
    let jobs = Client::new(jobs).expect("client");
    let holder = eventually("the wallet jobs held the lease", deployment, || async {
        let lease = jobs.readyz().await.ok()?.worker_lease?;
        lease.this_process.then_some(lease.holder)
    })
    .await;
    // Only the processes that know the wallet report on its lease: the others never call it.
    for (role, url) in &deployment.services {
        let report = Client::new(url).expect("client").readyz().await;
        let lease = report.expect("readyz").worker_lease;
        if runs_wallet_jobs(*role) {
            let lease = lease.expect("a lease holder");
            assert_eq!(lease.holder, holder, "{role:?}");
            assert!(lease.this_process, "{role:?}");
        } else {
            assert_eq!(lease, None, "{role:?}");
        }
    }
}

/// Waits until `client`'s withdrawal `id` is in `state`; a failed one fails the test.
async fn withdrawal_in(
    deployment: &Deployment,
    client: &Client,
    id: uuid::Uuid,
    state: WithdrawalState,
) -> Withdrawal {
    eventually(&format!("withdrawal {state}"), deployment, || async {
        let w = client.withdrawal(id).await.expect("withdrawal");
        assert_ne!(w.state, WithdrawalState::Failed, "{w:?}");
        (w.state == state).then_some(w)
    })
    .await
}

/// The scenario: register, deposit on regtest, trade, withdraw; then every balance, the chain
/// and the reconciliation. `market` is the test's own view of the database, for the ledger's
/// invariants; the admin is in it already.
async fn register_deposit_trade_withdraw(deployment: &Deployment, chain: &Chain, market: &Market) {
    let api = deployment.api.as_str();
    let (seller, buyer, admin) = (
        Client::new(api).expect("client"),
        Client::new(api).expect("client"),
        Client::new(api).expect("client"),
    );
    seller
        .register(SELLER, None, PASSWORD)
        .await
        .expect("register");
    buyer
        .register(BUYER, None, PASSWORD)
        .await
        .expect("register");
    seller.login(SELLER, PASSWORD).await.expect("login");
    let tokens = buyer.login(BUYER, PASSWORD).await.expect("login");
    admin.login(ADMIN, PASSWORD).await.expect("admin login");
    check_roles(deployment, &tokens.access_token).await;

    // A real deposit, credited by the wallet jobs' scanner once deep enough.
    let address = seller.deposit_address().await.expect("address").address;
    send_many(&chain.net, &chain.miner, &[(&address, xmr(DEPOSIT))]).await;
    mine_until_spendable(&chain.net, &chain.platform).await;
    eventually("the deposit credited", deployment, || async {
        let balance = seller.balance().await.expect("balance");
        (balance.available == xmr(DEPOSIT)).then_some(())
    })
    .await;
    let deposits = seller.deposits(None, None).await.expect("deposits").items;
    assert_eq!(deposits.len(), 1, "{deposits:?}");
    assert_eq!(
        (deposits[0].amount, deposits[0].state),
        (xmr(DEPOSIT), DepositState::Credited)
    );

    // The trade, at the published fees.
    let offer = seller.create_offer(&sell_offer()).await.expect("offer");
    let open = OpenTradeRequest {
        offer_id: offer.id,
        amount: xmr(TRADE_AMOUNT),
        price: PRICE.parse().expect("price"),
    };
    let trade = buyer.open_trade(&open, Some("open")).await.expect("open");
    buyer
        .mark_trade_paid(trade.id, Some("paid"))
        .await
        .expect("paid");
    let released = seller
        .release_trade(trade.id, None, Some("release"))
        .await
        .expect("release");
    assert_eq!(
        (released.id, released.state),
        (trade.id, TradeState::Released)
    );
    let fees = buyer
        .fee_schedule()
        .await
        .expect("fees")
        .trade_fees(xmr(TRADE_AMOUNT), Party::Seller)
        .expect("fees");
    let escrowed = fees.seller_pays(xmr(TRADE_AMOUNT)).expect("sum");
    let bought = fees.buyer_receives(xmr(TRADE_AMOUNT)).expect("covered");
    assert_eq!(
        (released.escrowed, released.buyer_receives),
        (escrowed, bought)
    );
    let trade_fees = fees.seller_fee.checked_add(fees.buyer_fee).expect("sum");

    // The website's market page lists the offer, with its maker.
    let web = reqwest::Client::new();
    let market_page = format!("{}/", deployment.website);
    let listed = format!("/offers/{}", offer.id);
    let maker = format!(">{SELLER}<");
    eventually("the market page listed the offer", deployment, || async {
        let page = web.get(&market_page).send().await.ok()?;
        let status = page.status().as_u16();
        let html = page.text().await.ok()?;
        (status == 200 && html.contains(&listed) && html.contains(&maker)).then_some(())
    })
    .await;

    // The buyer withdraws part of it to a subaddress of the outside wallet.
    let to = chain
        .receiver
        .rpc()
        .create_subaddress(0, BUYER)
        .await
        .expect("subaddress");
    let asked = buyer
        .request_withdrawal(&request(to.address.as_str(), WITHDRAWAL), "withdraw")
        .await
        .expect("withdraw");
    withdrawal_in(deployment, &buyer, asked.id, WithdrawalState::Broadcast).await;
    let height = chain.net.mine(1).await;
    chain.platform.sync_to(height).await;
    let paid = withdrawal_in(deployment, &buyer, asked.id, WithdrawalState::Confirmed).await;
    let (txid, fee) = (paid.txid.clone().expect("txid"), paid.fee.expect("fee"));
    assert_eq!(paid.amount, xmr(WITHDRAWAL));

    // On chain: the outside wallet got exactly that, once; the platform sent it once.
    chain.receiver.sync_to(height).await;
    let incoming = chain
        .receiver
        .rpc()
        .incoming_transfers(0, 0)
        .await
        .expect("incoming");
    assert_eq!(incoming.len(), 1, "{incoming:?}");
    let got = &incoming[0];
    assert_eq!(
        (got.subaddress, got.txid.to_string(), got.amount),
        (to.index, txid.clone(), xmr(WITHDRAWAL))
    );
    let id = pupero_wallet::Txid::from_hex(&txid).expect("txid");
    let sent = chain
        .platform
        .rpc()
        .outgoing_transfer(id)
        .await
        .expect("wallet");
    let sent = sent.unwrap_or_else(|| panic!("the platform never sent {txid}"));
    assert!(
        matches!(sent.state, OutgoingState::Confirmed { .. }),
        "{sent:?}"
    );
    assert_eq!((sent.amount, sent.fee), (xmr(WITHDRAWAL), fee));
    let withdrawn = xmr(WITHDRAWAL).checked_add(fee).expect("sum");
    let wallet = chain.platform.rpc().balance(0).await.expect("balance");
    assert_eq!(
        wallet.total,
        xmr(DEPOSIT).checked_sub(withdrawn).expect("covered")
    );

    // Every balance is what the deposit, the trade and the withdrawal make it.
    market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    let seller_owns = xmr(DEPOSIT).checked_sub(escrowed).expect("covered");
    let buyer_owns = bought.checked_sub(withdrawn).expect("covered");
    for (client, expected) in [(&seller, seller_owns), (&buyer, buyer_owns)] {
        let balance = client.balance().await.expect("balance");
        assert_eq!(
            (balance.available, balance.held, balance.incoming),
            (expected, Piconero::ZERO, Piconero::ZERO)
        );
    }

    // Reconciliation: the wallet holds what users own plus the platform's trade fees.
    let r = admin.admin_reconciliation().await.expect("reconciliation");
    assert_eq!(r.status, ReconciliationStatus::Ok, "{r:?}");
    let owed = seller_owns.checked_add(buyer_owns).expect("sum");
    assert_eq!(
        (r.user_liabilities, r.user_held),
        (owed, Piconero::ZERO),
        "{r:?}"
    );
    assert_eq!(r.difference, SignedPiconero::positive(trade_fees), "{r:?}");
    assert_eq!(
        r.platform_fees,
        SignedPiconero::positive(trade_fees),
        "{r:?}"
    );
    assert_eq!(
        (r.withdrawals_in_flight, r.deposits_uncredited_count),
        (0, 0),
        "{r:?}"
    );
}

/// Runs the scenario against `topology` on a fresh MariaDB database and regtest network.
async fn run(topology: Topology) {
    let started = Instant::now();
    let Some(Fixture {
        net,
        db,
        logs,
        platform,
        payer: miner,
        receiver,
        market,
    }) = Fixture::start(ADMIN).await
    else {
        return;
    };
    let deployment = Deployment::start(topology, &db.url, &platform, logs.path()).await;
    eprintln!(
        "{topology:?}: {:.1} s: started",
        started.elapsed().as_secs_f64()
    );
    let chain = Chain {
        net,
        miner,
        platform,
        receiver,
    };
    register_deposit_trade_withdraw(&deployment, &chain, &market).await;
    eprintln!(
        "{topology:?}: {:.1} s: done",
        started.elapsed().as_secs_f64()
    );
    drop(deployment);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_passes_against_role_all() {
    run(Topology::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_passes_against_the_gateway_in_front_of_the_four_roles() {
    run(Topology::Split).await;
}
