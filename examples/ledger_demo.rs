//! Embedding Pupero's ledger in another Rust service: open it on a SQLite file, create two
//! accounts, move money idempotently, and read balances back.
//!
//! Run with `cargo run -p pupero-examples --example ledger_demo`.

use pupero_core::ledger::{
    AccountCode, AccountFlags, LedgerId, NewAccount, NewTransfer, Outcome, TransferCode, TransferOp,
};
use pupero_core::{AccountId, Piconero, TransferId};
use pupero_ledger::{LedgerOptions, SqlLedger};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let ledger = SqlLedger::open(LedgerOptions::new(url)).await?;

    let treasury = AccountId::new_v7();
    let user = AccountId::new_v7();
    ledger
        .create_account(NewAccount {
            id: treasury,
            ledger: LedgerId::XMR,
            code: AccountCode::Equity,
            flags: AccountFlags::NONE,
        })
        .await?;
    ledger.create_account(NewAccount::user_xmr(user)).await?;

    // The transfer id is the idempotency key: derive it from your own request id, and a retry
    // after a timeout can never pay twice.
    let request_id = uuid::Uuid::new_v4();
    let id = TransferId::derive(&request_id, b"welcome-bonus");
    let bonus = NewTransfer::xmr(
        id,
        TransferOp::Single {
            debit: treasury,
            credit: user,
            amount: Piconero::from_xmr_str("0.5")?,
        },
        TransferCode::Adjustment,
    );
    assert_eq!(ledger.transfer(bonus).await?, Outcome::Created);
    assert_eq!(ledger.transfer(bonus).await?, Outcome::AlreadyExisted);

    let balance = ledger
        .account(user)
        .await?
        .and_then(|a| a.available())
        .unwrap_or_default();
    println!("user balance: {balance}");
    Ok(())
}
