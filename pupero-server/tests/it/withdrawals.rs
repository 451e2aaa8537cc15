//! Withdrawals against a private regtest network: the platform's wallet pays real
//! transactions that an independent wallet receives.

use std::time::Duration;

use pupero_core::Piconero;
use pupero_ledger::testing::Backend;
use pupero_wallet::WalletRpc;
use pupero_wallet::testing::{Regtest, TestWallet};

use crate::regtest::{all_received, received, request, use_platform, xmr};
use crate::support::{TestApp, manual_clock, spawn_app_with};

async fn app_on(backend: Backend, platform: &TestWallet) -> Option<TestApp> {
    let url = platform.url().to_owned();
    spawn_app_with(
        backend,
        move |settings| {
            use_platform(settings, &url);
        },
        manual_clock(),
    )
    .await
}

/// Drives the worker until withdrawal `id` of `client` is in `state`.
async fn drive_until(
    app: &TestApp,
    client: &pupero_sdk::Client,
    id: uuid::Uuid,
    state: &str,
) -> pupero_sdk::Withdrawal {
    for _ in 0..60 {
        if let Err(e) = app.state.market.drive_withdrawals().await {
            eprintln!("worker pass: {e}");
        }
        let w = client.withdrawal(id).await.expect("withdrawal");
        if w.state.as_str() == state {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("withdrawal {id} never reached {state}");
}

/// `user`'s events about withdrawal `id`, in order.
async fn withdrawal_events(
    app: &TestApp,
    user: uuid::Uuid,
    id: uuid::Uuid,
) -> Vec<(String, serde_json::Value)> {
    app.user_events(user)
        .await
        .into_iter()
        .filter(|(kind, p)| kind.starts_with("withdrawal_") && p["withdrawal_id"] == id.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_are_paid_once_with_the_real_fee_and_batched() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let receiver = net.wallet("receiver").await;
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let platform = net.wallet(&format!("platform{n}")).await;
        net.fund(&platform).await;
        let Some(app) = app_on(backend, &platform).await else {
            continue;
        };
        let names = [format!("alice{n}"), format!("bob{n}"), format!("carol{n}")];
        let mut clients = Vec::new();
        let mut ids = Vec::new();
        for name in &names {
            let (client, id) = app.user(name).await;
            ids.push(id);
            pupero_market::operator::credit_dev(&app.state.market, name, "5")
                .await
                .expect("credit");
            clients.push(client);
        }
        let alice = &clients[0];
        let to = receiver.address().to_string();

        // Refusals: nothing held, nothing queued.
        let e = alice
            .request_withdrawal(&request("not an address", "1"), "bad-address")
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(400), Some("VALIDATION")));
        let e = alice
            .request_withdrawal(&request(&"4".repeat(95), "1"), "bad-checksum")
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(400), Some("INVALID_ADDRESS")));
        let own = clients[1].deposit_address().await.expect("deposit address");
        let e = alice
            .request_withdrawal(&request(&own.address, "1"), "own-address")
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(400), Some("INVALID_ADDRESS")));
        let e = alice
            .request_withdrawal(&request(&to, "5"), "too-much")
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(409), Some("INSUFFICIENT_FUNDS"))
        );
        assert_eq!(alice.balance().await.unwrap().available, xmr("5"));

        // One withdrawal: held at once (amount + fee reserve), idempotent by key.
        let w = alice
            .request_withdrawal(&request(&to, "1.25"), "first")
            .await
            .expect("withdrawal");
        assert_eq!(w.state, pupero_sdk::WithdrawalState::Requested);
        let reserve = w.max_fee;
        let again = alice
            .request_withdrawal(&request(&to, "1.25"), "first")
            .await
            .expect("replay");
        assert_eq!(again.id, w.id);
        let e = alice
            .request_withdrawal(&request(&to, "1.5"), "first")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("IDEMPOTENCY_KEY_REUSED"));
        let balance = alice.balance().await.unwrap();
        assert_eq!(balance.available, xmr("3.75").checked_sub(reserve).unwrap());

        let sent = drive_until(&app, alice, w.id, "broadcast").await;
        let fee = xmr(sent.fee.map(|v| v.to_xmr_string()).as_deref().expect("fee"));
        let txid = sent.txid.clone().expect("txid");
        assert!(sent.tx_key.is_some());
        // The user paid the amount and the real fee, to the piconero.
        let balance = alice.balance().await.unwrap();
        assert_eq!(
            balance.available,
            xmr("3.75").checked_sub(fee).unwrap(),
            "{balance:?}"
        );
        assert_eq!(balance.held, Piconero::ZERO);
        let outgoing = platform
            .rpc()
            .outgoing_transfer(pupero_wallet::Txid::from_hex(&txid).unwrap())
            .await
            .unwrap()
            .expect("the wallet sent it");
        assert_eq!(outgoing.fee, fee);
        // The receiver sees exactly one payment of the amount.
        assert_eq!(received(&receiver, &txid).await, vec![xmr("1.25")]);

        // More passes change nothing; mined, it is confirmed.
        for _ in 0..2 {
            app.state.market.drive_withdrawals().await.expect("pass");
        }
        net.mine(1).await;
        drive_until(&app, alice, w.id, "confirmed").await;
        assert_eq!(
            alice.balance().await.unwrap().available,
            xmr("3.75").checked_sub(fee).unwrap()
        );
        // Alice heard of each step once, in order, however many passes ran.
        let events = withdrawal_events(&app, ids[0], w.id).await;
        let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "withdrawal_signed",
                "withdrawal_broadcast",
                "withdrawal_confirmed"
            ],
            "{events:?}"
        );
        for ((_, payload), state) in events.iter().zip(["signed", "broadcast", "confirmed"]) {
            assert_eq!(payload["state"], state);
            assert_eq!(payload["txid"], txid.as_str());
            assert_eq!(payload["amount"], "1.25");
            assert_eq!(
                payload["fee"],
                sent.fee.map(|v| v.to_xmr_string()).as_deref().unwrap()
            );
        }

        // Two users' withdrawals queued together go out in one transaction, sharing its fee.
        let b = clients[1]
            .request_withdrawal(&request(&to, "0.5"), "b")
            .await
            .unwrap();
        let c = clients[2]
            .request_withdrawal(&request(&to, "0.25"), "c")
            .await
            .unwrap();
        let b = drive_until(&app, &clients[1], b.id, "broadcast").await;
        let c = drive_until(&app, &clients[2], c.id, "broadcast").await;
        if b.txid == c.txid {
            let tx = platform
                .rpc()
                .outgoing_transfer(
                    pupero_wallet::Txid::from_hex(b.txid.as_deref().unwrap()).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            let shares = xmr(b.fee.map(|v| v.to_xmr_string()).as_deref().unwrap())
                .checked_add(xmr(c.fee.map(|v| v.to_xmr_string()).as_deref().unwrap()))
                .unwrap();
            assert_eq!(shares, tx.fee);
        }
        // Each owner hears of their own withdrawal only, with their own fee share.
        for (user, w) in [(ids[1], &b), (ids[2], &c)] {
            let events = withdrawal_events(&app, user, w.id).await;
            let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
            assert_eq!(
                kinds,
                ["withdrawal_signed", "withdrawal_broadcast"],
                "{events:?}"
            );
            assert_eq!(
                events[1].1["fee"],
                w.fee.map(|v| v.to_xmr_string()).as_deref().unwrap()
            );
            let all = app.user_events(user).await;
            assert!(
                all.iter()
                    .filter(|(kind, _)| kind.starts_with("withdrawal_"))
                    .all(|(_, p)| p["withdrawal_id"] == w.id.to_string()),
                "{all:?}"
            );
        }
        for (client, amount, w) in [(&clients[1], "0.5", &b), (&clients[2], "0.25", &c)] {
            let paid = xmr(amount)
                .checked_add(xmr(w.fee.map(|v| v.to_xmr_string()).as_deref().unwrap()))
                .unwrap();
            assert_eq!(
                client.balance().await.unwrap().available,
                xmr("5").checked_sub(paid).unwrap()
            );
        }
        // Listed newest first, each with its transaction; one page after another.
        let first_page = alice.withdrawals(Some(1), None).await.expect("list");
        assert_eq!(first_page.items.len(), 1);
        let cursor = first_page.next_cursor.as_deref().expect("more pages");
        let rest = alice.withdrawals(None, Some(cursor)).await.expect("list");
        let all: Vec<_> = first_page.items.iter().chain(&rest.items).collect();
        assert_eq!(all.len(), 1 + rest.items.len());
        let listed = all.iter().find(|l| l.id == w.id).expect("listed");
        assert_eq!(listed.txid.as_deref(), Some(txid.as_str()));
        assert_eq!(listed.state, pupero_sdk::WithdrawalState::Confirmed);
        let listed = clients[1].withdrawals(None, None).await.expect("list");
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].txid, b.txid);
        assert_eq!(listed.items[0].tx_key, b.tx_key);
        app.state
            .market
            .ledger
            .check_invariants()
            .await
            .expect("ledger invariants");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_stuck_withdrawals_and_redrive_them() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let receiver = net.wallet("receiver").await;
    let platform = net.wallet("platform").await;
    net.fund(&platform).await;
    let clock = manual_clock();
    let url = platform.url().to_owned();
    let app = spawn_app_with(
        Backend::Sqlite,
        move |settings| {
            use_platform(settings, &url);
        },
        clock.clone(),
    )
    .await
    .expect("sqlite always works");
    let (alice, _) = app.user("alice").await;
    pupero_market::operator::credit_dev(&app.state.market, "alice", "2")
        .await
        .expect("credit");
    let to = receiver.address().to_string();
    let w = alice
        .request_withdrawal(&request(&to, "0.5"), "stuck")
        .await
        .expect("withdrawal");
    let w = drive_until(&app, &alice, w.id, "broadcast").await;
    let txid = w.txid.clone().expect("txid");

    // The network forgets the transaction; an hour later it is listed as stuck.
    net.flush_txpool().await;
    net.mine(1).await;
    app.state.market.drive_withdrawals().await.expect("pass");
    assert_eq!(
        alice.withdrawal(w.id).await.unwrap().state,
        pupero_sdk::WithdrawalState::Broadcast
    );
    clock.advance_secs(61 * 60);
    let (admin, _) = app.user_with_role("root", pupero_core::Role::Admin).await;
    let stuck = admin.admin_stuck_withdrawals(None).await.expect("stuck");
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].id, w.id);
    assert_eq!(
        stuck[0].stuck.map(|v| v.to_string()).as_deref(),
        Some("not_mined")
    );
    assert_eq!(stuck[0].txid.as_deref(), Some(txid.as_str()));
    let e = alice.admin_stuck_withdrawals(None).await.unwrap_err();
    assert_eq!(e.status(), Some(403));

    // Re-driven, the same transaction goes out again and is mined: paid once.
    let redriven = admin.admin_redrive_withdrawal(w.id).await.expect("redrive");
    assert_eq!(redriven.state, pupero_sdk::WithdrawalState::Broadcast);
    let mut confirmed = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        net.mine(1).await;
        if let Err(e) = app.state.market.drive_withdrawals().await {
            eprintln!("worker pass: {e}");
        }
        if alice.withdrawal(w.id).await.unwrap().state == pupero_sdk::WithdrawalState::Confirmed {
            confirmed = true;
            break;
        }
    }
    assert!(confirmed, "the re-driven withdrawal was never mined");
    assert_eq!(all_received(&receiver).await, vec![(txid, xmr("0.5"))]);
    assert!(
        admin
            .admin_stuck_withdrawals(None)
            .await
            .unwrap()
            .is_empty()
    );
    let e = admin.admin_redrive_withdrawal(w.id).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some("WITHDRAWAL_FINAL"))
    );
    let e = admin
        .admin_redrive_withdrawal(uuid::Uuid::nil())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    app.state
        .market
        .ledger
        .check_invariants()
        .await
        .expect("ledger invariants");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_of_everything_leaves_exactly_zero() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let receiver = net.wallet("receiver").await;
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let platform = net.wallet(&format!("platform{n}")).await;
        net.fund(&platform).await;
        let Some(app) = app_on(backend, &platform).await else {
            continue;
        };
        let name = format!("dana{n}");
        let (dana, _) = app.user(&name).await;
        pupero_market::operator::credit_dev(&app.state.market, &name, "1")
            .await
            .expect("credit");
        let to = receiver.address().to_string();

        // Before withdrawing: the wallet's fee now and the reserve derived from it.
        let estimate = dana.withdrawal_fee_estimate(None).await.expect("estimate");
        let fee = xmr(estimate
            .fee
            .map(|v| v.to_xmr_string())
            .as_deref()
            .expect("the funded wallet estimates"));
        let reserve = estimate.fee_reserve;
        assert_eq!(reserve, fee.checked_mul(2).unwrap());
        assert!(reserve < pupero_core::limits::MAX_WITHDRAWAL_FEE);
        assert_eq!(estimate.available, xmr("1"));
        assert_eq!(
            estimate
                .max_amount
                .map(|v| v.to_xmr_string())
                .as_deref()
                .map(xmr),
            Some(xmr("1").checked_sub(reserve).unwrap())
        );
        assert_eq!(
            estimate
                .all_amount
                .map(|v| v.to_xmr_string())
                .as_deref()
                .map(xmr),
            Some(xmr("1").checked_sub(fee).unwrap())
        );
        let asked = dana
            .withdrawal_fee_estimate(Some("0.99"))
            .await
            .expect("estimate");
        assert_eq!(
            asked.total.map(|v| v.to_xmr_string()).as_deref().map(xmr),
            Some(xmr("0.99").checked_add(reserve).unwrap())
        );
        assert_eq!(asked.covered, Some(true));
        let asked = dana.withdrawal_fee_estimate(Some("1")).await.unwrap();
        assert_eq!(asked.covered, Some(false));
        let asked = dana.withdrawal_fee_estimate(Some("all")).await.unwrap();
        assert_eq!(
            (
                asked.total.map(|v| v.to_xmr_string()).as_deref().map(xmr),
                asked.covered
            ),
            (Some(xmr("1")), Some(true))
        );
        for bad in ["everything", "0.00001", "-1"] {
            let e = dana.withdrawal_fee_estimate(Some(bad)).await.unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (Some(400), Some("VALIDATION")),
                "{bad}"
            );
        }

        // What is allowed, then what is left: a little less than 0.01 XMR, more than the
        // smallest withdrawal and its fee.
        let first = dana
            .request_withdrawal(&request(&to, "0.99"), "most")
            .await
            .expect("withdrawal");
        assert_eq!(first.max_fee, reserve);
        assert!(!first.send_all);
        let first = drive_until(&app, &dana, first.id, "broadcast").await;
        let first_fee = xmr(first
            .fee
            .map(|v| v.to_xmr_string())
            .as_deref()
            .expect("fee"));
        assert!(first_fee <= reserve);
        eprintln!(
            "regtest: real fee {} XMR, estimate {} XMR, reserve {} XMR (was {} XMR)",
            first_fee.to_xmr_string(),
            fee.to_xmr_string(),
            reserve.to_xmr_string(),
            pupero_core::limits::MAX_WITHDRAWAL_FEE.to_xmr_string()
        );
        let left = xmr("0.01").checked_sub(first_fee).unwrap();
        assert_eq!(dana.balance().await.unwrap().available, left);

        // Everything: held at once, the balance at zero.
        let all = dana
            .withdraw_all(&to, Some(crate::support::PASSWORD), None, "all")
            .await
            .expect("withdraw everything");
        assert!(all.send_all);
        assert_eq!(all.amount.checked_add(all.max_fee).unwrap(), left);
        let again = dana
            .withdraw_all(&to, Some(crate::support::PASSWORD), None, "all")
            .await
            .expect("replay");
        assert_eq!(again.id, all.id);
        let balance = dana.balance().await.unwrap();
        assert_eq!((balance.available, balance.held), (Piconero::ZERO, left));

        // Sent: the receiver got exactly what the ledger says, the rest was the fee.
        let sent = drive_until(&app, &dana, all.id, "broadcast").await;
        let share = xmr(sent.fee.map(|v| v.to_xmr_string()).as_deref().expect("fee"));
        let amount = sent.amount;
        assert_eq!(amount.checked_add(share).unwrap(), left);
        let txid = sent.txid.clone().expect("txid");
        assert_eq!(received(&receiver, &txid).await, vec![amount]);
        let outgoing = platform
            .rpc()
            .outgoing_transfer(pupero_wallet::Txid::from_hex(&txid).unwrap())
            .await
            .unwrap()
            .expect("the wallet sent it");
        assert_eq!((outgoing.amount, outgoing.fee), (amount, share));
        let balance = dana.balance().await.unwrap();
        assert_eq!(
            (balance.available, balance.held, balance.incoming),
            (Piconero::ZERO, Piconero::ZERO, Piconero::ZERO)
        );
        // Nothing is left to withdraw, and nothing keeps the account.
        let e = dana
            .withdraw_all(&to, Some(crate::support::PASSWORD), None, "nothing")
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(409), Some("INSUFFICIENT_FUNDS"))
        );
        net.mine(1).await;
        drive_until(&app, &dana, all.id, "confirmed").await;
        dana.delete_account(crate::support::PASSWORD, None)
            .await
            .expect("an empty account can be deleted");
        app.state
            .market
            .ledger
            .check_invariants()
            .await
            .expect("ledger invariants");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_to_the_platforms_own_addresses_are_refused() {
    let Some(net) = Regtest::start().await else {
        return;
    };
    let receiver = net.wallet("receiver").await;
    for (n, backend) in [Backend::Sqlite, Backend::MariaDb].into_iter().enumerate() {
        let mut platform = net.wallet(&format!("platform{n}")).await;
        net.fund(&platform).await;
        let Some(app) = app_on(backend, &platform).await else {
            continue;
        };
        let (erin, _) = app.user(&format!("erin{n}")).await;
        let (frank, _) = app.user(&format!("frank{n}")).await;
        pupero_market::operator::credit_dev(&app.state.market, &format!("erin{n}"), "1")
            .await
            .expect("credit");
        let deposit = frank.deposit_address().await.expect("deposit address");
        let never_handed_out = platform
            .rpc()
            .create_subaddress(0, "kept")
            .await
            .expect("subaddress");
        let own = [
            platform.address().to_string(),
            never_handed_out.address.to_string(),
            deposit.address.clone(),
            pupero_wallet::testing::integrated_address(platform.address(), [1; 8]).to_string(),
        ];
        for (k, address) in own.iter().enumerate() {
            let e = erin
                .request_withdrawal(&request(address, "0.5"), &format!("own{k}"))
                .await
                .unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (Some(400), Some("INVALID_ADDRESS")),
                "{address}"
            );
            let e = erin
                .withdraw_all(
                    address,
                    Some(crate::support::PASSWORD),
                    None,
                    &format!("all{k}"),
                )
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some("INVALID_ADDRESS"), "{address}");
        }
        let balance = erin.balance().await.unwrap();
        assert_eq!(
            (balance.available, balance.held),
            (xmr("1"), Piconero::ZERO)
        );
        assert!(erin.withdrawals(None, None).await.unwrap().items.is_empty());
        // Someone else's address, plain or integrated, is fine.
        let theirs = pupero_wallet::testing::integrated_address(receiver.address(), [1; 8]);
        for (k, address) in [receiver.address().to_string(), theirs.to_string()]
            .iter()
            .enumerate()
        {
            let w = erin
                .request_withdrawal(&request(address, "0.25"), &format!("out{k}"))
                .await
                .expect("an outside address");
            assert_eq!(w.state, pupero_sdk::WithdrawalState::Requested);
        }
        // While the wallet is down, what is known without it still decides: the deposit
        // addresses, and the primary address it told (integrated ones included); a request
        // to anyone else is held and waits.
        platform.kill();
        for (k, address) in own.iter().enumerate().filter(|(k, _)| *k != 1) {
            let e = erin
                .request_withdrawal(&request(address, "0.1"), &format!("down{k}"))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some("INVALID_ADDRESS"), "{address}");
        }
        let w = erin
            .request_withdrawal(&request(&receiver.address().to_string(), "0.1"), "down")
            .await
            .expect("held while the wallet is down");
        assert_eq!(w.state, pupero_sdk::WithdrawalState::Requested);
        app.stop().await;
    }
}

/// A wallet that does not answer: a port nothing listens on.
fn wallet_down(settings: &mut pupero_server::Settings) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    use_platform(settings, &format!("http://127.0.0.1:{port}"));
}

crate::support::app_test_with!(
    a_wrong_request_is_refused_before_the_wallet_is_asked,
    wallet_down,
    |app, _clock| {
        let (gina, user) = app.user("gina").await;
        app.fund(user, "1").await;
        let outside =
            pupero_wallet::testing::outside_address(pupero_wallet::testing::REGTEST_NETWORK, 1)
                .to_string();
        for (address, amount, code) in [
            ("not an address", "0.5", "VALIDATION"),
            (&"4".repeat(95), "0.5", "INVALID_ADDRESS"),
            (outside.as_str(), "0.00001", "VALIDATION"),
            (outside.as_str(), "lots", "VALIDATION"),
            (outside.as_str(), "", "VALIDATION"),
        ] {
            let e = gina
                .request_withdrawal(&request(address, amount), "wrong")
                .await
                .unwrap_err();
            assert_eq!((e.status(), e.code()), (Some(400), Some(code)), "{amount}");
        }
        assert_eq!(gina.balance().await.unwrap().available, xmr("1"));
        // A right one is held, with the largest reserve (no estimate), and waits.
        let w = gina
            .request_withdrawal(&request(&outside, "0.5"), "right")
            .await
            .expect("held while the wallet is down");
        assert_eq!(
            (w.state.as_str(), w.max_fee),
            ("requested", pupero_core::limits::MAX_WITHDRAWAL_FEE)
        );
        assert_eq!(
            gina.balance().await.unwrap().available,
            xmr("0.5")
                .checked_sub(pupero_core::limits::MAX_WITHDRAWAL_FEE)
                .unwrap()
        );
        // The estimate says what it can: no fee, the largest reserve.
        let estimate = gina.withdrawal_fee_estimate(None).await.expect("estimate");
        assert_eq!(estimate.fee, None);
        assert_eq!(
            estimate.fee_reserve,
            pupero_core::limits::MAX_WITHDRAWAL_FEE
        );
        assert_eq!(
            estimate
                .max_amount
                .map(|v| v.to_xmr_string())
                .as_deref()
                .map(xmr),
            Some(
                xmr("0.5")
                    .checked_sub(pupero_core::limits::MAX_WITHDRAWAL_FEE)
                    .unwrap()
                    .checked_sub(pupero_core::limits::MAX_WITHDRAWAL_FEE)
                    .unwrap()
            )
        );
    }
);
