//! `pupero demo`: a seller's XMR goes into escrow, is partly released to a buyer with a fee to
//! the platform, and everything is printed from the ledger.

use pupero_core::ledger::{
    AccountCode, AccountFlags, HistoryQuery, LedgerId, LedgerStore, NewAccount, NewTransfer,
    TransferCode, TransferOp,
};
use pupero_core::{AccountId, Piconero, TransferId};
use pupero_ledger::{Error, LedgerOptions, SqlLedger};

/// Runs the demo against the ledger at `database_url`, printing to stdout.
pub async fn run(database_url: &str) -> Result<(), Error> {
    let ledger = SqlLedger::open(LedgerOptions::new(database_url)).await?;
    println!("ledger open on {:?} ({database_url})", ledger.engine());

    let wallet = AccountId::new_v7();
    let fees = AccountId::new_v7();
    let seller = AccountId::new_v7();
    let buyer = AccountId::new_v7();
    ledger
        .create_account(NewAccount {
            id: wallet,
            ledger: LedgerId::XMR,
            code: AccountCode::HotWallet,
            flags: AccountFlags::NONE,
        })
        .await?;
    ledger
        .create_account(NewAccount {
            id: fees,
            ledger: LedgerId::XMR,
            code: AccountCode::PlatformFees,
            flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
        })
        .await?;
    ledger.create_account(NewAccount::user_xmr(seller)).await?;
    ledger.create_account(NewAccount::user_xmr(buyer)).await?;

    let xmr = |s: &str| Piconero::from_xmr_str(s).map_err(Error::Refused);
    let deposit = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Single {
            debit: wallet,
            credit: seller,
            amount: xmr("2.5")?,
        },
        TransferCode::Deposit,
    );
    ledger.transfer(deposit).await?;
    println!("seller deposited 2.5 XMR");

    let escrow = TransferId::new_v7();
    let fee = TransferId::new_v7();
    ledger
        .transfer_linked(vec![
            NewTransfer::xmr(
                escrow,
                TransferOp::Pending {
                    debit: seller,
                    credit: buyer,
                    amount: xmr("1.2")?,
                    timeout_secs: 3600,
                },
                TransferCode::TradeEscrow,
            ),
            NewTransfer::xmr(
                fee,
                TransferOp::Pending {
                    debit: seller,
                    credit: fees,
                    amount: xmr("0.012")?,
                    timeout_secs: 3600,
                },
                TransferCode::TradeFee,
            ),
        ])
        .await?;
    println!("trade opened: 1.2 XMR + 0.012 XMR fee held in escrow");

    let overdraft = NewTransfer::xmr(
        TransferId::new_v7(),
        TransferOp::Single {
            debit: seller,
            credit: buyer,
            amount: xmr("2")?,
        },
        TransferCode::Adjustment,
    );
    match ledger.transfer(overdraft).await {
        Err(e) if e.is_insufficient_funds() => {
            println!("seller tried to spend 2 XMR more: refused ({e})")
        }
        other => println!("unexpected: {other:?}"),
    }

    ledger
        .transfer_linked(vec![
            NewTransfer::xmr(
                TransferId::new_v7(),
                TransferOp::Post {
                    pending_id: escrow,
                    amount: None,
                },
                TransferCode::TradeRelease,
            ),
            NewTransfer::xmr(
                TransferId::new_v7(),
                TransferOp::Post {
                    pending_id: fee,
                    amount: None,
                },
                TransferCode::TradeFee,
            ),
        ])
        .await?;
    println!("seller confirmed payment: escrow released");

    for (name, id) in [
        ("seller", seller),
        ("buyer", buyer),
        ("platform fees", fees),
    ] {
        let account = ledger
            .account(id)
            .await?
            .ok_or_else(|| Error::Corrupt("account vanished".into()))?;
        let available = account.available().unwrap_or(Piconero::ZERO);
        println!("{name:>14}: {available}");
    }
    println!("seller history, newest first:");
    for t in ledger
        .account_history(seller, HistoryQuery::default())
        .await?
        .transfers
    {
        let direction = if t.debit_account_id == seller {
            "-"
        } else {
            "+"
        };
        println!(
            "  {direction}{:<16} {:<14} {:?}",
            t.amount.to_xmr_string(),
            t.code.as_str(),
            t.kind
        );
    }
    ledger.check_invariants().await?;
    println!("ledger invariants hold: debits = credits, no account below zero");
    Ok(())
}
