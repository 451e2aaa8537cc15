//! The wallet worker's lease between processes, with the injected clock: a dead holder keeps
//! a standby out for exactly one lease after its last renewal, a clean stop lets the standby
//! in at once, and a standby says whom it waits for.

use std::sync::Arc;
use std::time::Duration;

use pupero_market::lease::TAKEOVER_MARGIN;
use pupero_server::AppState;
use pupero_server::config::DEFAULT_WORKER_LEASE_SECS;

use pupero_ledger::testing::Backend;

use crate::support::{TestApp, app_test_with, manual_clock, spawn_app_with};

/// Another process on `app`'s database, reading time from `clock`.
async fn another_process(app: &TestApp, clock: &Arc<pupero_core::ManualClock>) -> Arc<AppState> {
    let settings =
        pupero_server::Settings::for_database(app.state.settings.market.database_url.clone());
    AppState::open_with_clock(settings, clock.clone())
        .await
        .expect("open the second process")
}

app_test_with!(
    a_dead_holder_keeps_a_standby_out_for_one_lease_and_no_longer,
    |_| {},
    |app, clock| {
        use pupero_core::Clock as _;
        let lease = DEFAULT_WORKER_LEASE_SECS;
        assert!(lease <= 30, "a crashed worker is taken over within 30 s");
        let first = &app.state;
        let second = another_process(app, clock).await;
        assert!(first.market.take_worker_lease().await.unwrap());
        let renewed = clock.now();

        // The standby waits, and knows whom for and until when.
        assert!(!second.market.take_worker_lease().await.unwrap());
        let holder = second.market.lease.waiting_for().expect("waiting");
        assert_eq!(holder.holder, first.market.worker_id);
        assert_eq!(holder.until, renewed.plus_secs(lease));
        assert_eq!(
            second
                .market
                .worker_lease()
                .await
                .unwrap()
                .map(|h| h.holder),
            Some(first.market.worker_id)
        );
        // Its worker loop looks again right when the lease runs out, not at its next tick.
        assert_eq!(
            second.market.lease_wait(Duration::from_secs(3600)),
            Duration::from_secs(lease) + TAKEOVER_MARGIN
        );

        // The holder dies (it renews no more). A millisecond short of one lease, still out.
        clock.set(renewed.plus_ms(lease * 1000 - 1));
        assert!(!second.market.take_worker_lease().await.unwrap());
        assert_eq!(
            second.market.lease_wait(Duration::from_secs(3600)),
            Duration::from_millis(1) + TAKEOVER_MARGIN
        );
        // One lease after its last renewal, in.
        clock.set(renewed.plus_secs(lease));
        assert!(second.market.take_worker_lease().await.unwrap());
        assert_eq!(second.market.lease.waiting_for(), None);
        assert!(second.market.lease.believed_held());

        // The first process, had it only stalled, finds the lease gone and waits in turn.
        assert!(!first.market.take_worker_lease().await.unwrap());
        assert!(!first.market.lease.believed_held());
        assert_eq!(
            first.market.lease.waiting_for().map(|h| h.holder),
            Some(second.market.worker_id)
        );

        // A holder renewing keeps it for good: a lease after the takeover, renewed meanwhile.
        clock.advance_secs(lease - 1);
        assert!(second.market.take_worker_lease().await.unwrap());
        clock.advance_secs(lease - 1);
        assert!(!first.market.take_worker_lease().await.unwrap());

        // A clean stop gives it back: the standby takes it at once, the clock unmoved.
        second.market.release_worker_lease().await;
        assert_eq!(first.market.worker_lease().await.unwrap(), None);
        assert!(first.market.take_worker_lease().await.unwrap());
    }
);

/// `pupero serve` stopping on a signal (its shutdown future) gives the lease back: a
/// standby takes it at once, without the clock moving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_gives_the_lease_back() {
    for backend in [Backend::Sqlite, Backend::MariaDb] {
        let clock = manual_clock();
        let Some(app) = spawn_app_with(backend, |_| {}, clock.clone()).await else {
            assert_ne!(backend, Backend::Sqlite, "sqlite always works");
            continue;
        };
        // As its worker would on its first pass (this server has no wallet: no pass runs).
        assert!(app.state.market.take_worker_lease().await.unwrap());
        let standby = another_process(&app, &clock).await;
        assert!(!standby.market.take_worker_lease().await.unwrap());
        let db = app.stop_keeping_db().await;
        assert!(
            standby.market.take_worker_lease().await.unwrap(),
            "the lease was given back"
        );
        drop(standby);
        db.cleanup().await;
    }
}
