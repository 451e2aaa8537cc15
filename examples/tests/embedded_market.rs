//! The embedded-market example, run as it is: a trade and a withdrawal with no HTTP server.

#[allow(dead_code, unreachable_pub)]
#[path = "../embedded_market.rs"]
mod embedded_market;

use pupero_core::Piconero;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_market_trades_and_withdraws() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outcome = embedded_market::run(dir.path())
        .await
        .expect("the example runs");
    let xmr = |s| Piconero::from_xmr_str(s).unwrap();
    // 2 deposited − 0.5 sold − the maker's 1% fee.
    assert_eq!(outcome.seller_available, xmr("1.495"));
    // 0.5 bought − 0.2 withdrawn − the network fee, which the reserve covered.
    assert!(outcome.buyer_available < xmr("0.3"), "{outcome:?}");
    assert!(outcome.buyer_available > xmr("0.29"), "{outcome:?}");
    assert_eq!(outcome.received_outside, xmr("0.2"));
}
