//! The market bot's two roles against a real server (SQLite, random port): the taker buys from
//! the maker's offer, the maker releases, and the balances show it.

use pupero_core::Piconero;
use pupero_examples::{maker_offer, maker_round, take_best_offer};
use pupero_ledger::testing::{Backend, TestDatabase};
use pupero_sdk::Client;
use pupero_server::{AppState, Settings};

const PASSWORD: &str = "market bot password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_complete_a_trade() {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let state = AppState::open(Settings::for_database(db.url.clone()))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(pupero_server::serve(
        state.clone(),
        async move {
            let _ = stopped.await;
        },
        move |a| {
            let _ = bound_tx.send(a);
        },
    ));
    let base = format!("http://{}", bound.await.unwrap());

    let maker = Client::new(base.clone()).unwrap();
    maker.register("seller-bot", None, PASSWORD).await.unwrap();
    maker.login("seller-bot", PASSWORD).await.unwrap();
    pupero_market::operator::credit_dev(&state.market, "seller-bot", "2")
        .await
        .unwrap();
    let taker = Client::new(base).unwrap();
    taker.register("buyer-bot", None, PASSWORD).await.unwrap();
    taker.login("buyer-bot", PASSWORD).await.unwrap();

    let offer = maker_offer(
        "150".parse().expect("a price"),
        "0.01".parse().expect("an amount"),
        "1".parse().expect("an amount"),
    );
    assert!(
        maker_round(&maker, &offer, |_| true)
            .await
            .unwrap()
            .is_empty()
    );
    let trade = take_best_offer(&taker, "0.5".parse().expect("an amount"), |_| {})
        .await
        .unwrap()
        .expect("the maker's offer fits");
    assert_eq!(trade.state, pupero_sdk::TradeState::Paid);
    let released = maker_round(&maker, &offer, |_| true).await.unwrap();
    assert_eq!(released, vec![trade.id]);
    assert_eq!(
        taker.balance().await.unwrap().available,
        Piconero::from_xmr_str("0.5").unwrap()
    );
    // 2 − 0.5 − the maker's 1% fee.
    assert_eq!(
        maker.balance().await.unwrap().available,
        Piconero::from_xmr_str("1.495").unwrap()
    );
    assert_eq!(maker.my_offers().await.unwrap().len(), 1, "one offer, kept");

    let _ = stop.send(());
    let _ = server.await;
    db.cleanup().await;
}
