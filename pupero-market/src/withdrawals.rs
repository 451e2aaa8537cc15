//! Withdrawals: the request (holds, row and outbox message in one transaction) and the wallet
//! worker that pays them, exactly once, across crashes.
//!
//! The worker ([`Market::drive_withdrawals`]) runs under a database lease ([`crate::lease`]),
//! so one process at a time builds transactions (building reserves nothing in the wallet: two
//! builders could spend the same outputs); a pass renews it before each wallet call that may
//! spend, and stops there if it was lost. Each pass:
//! 1. resumes every `signed` transaction: if the wallet knows it (pool or chain) it was
//!    broadcast; if not, its stored metadata is relayed — the same signed transaction, which
//!    cannot pay twice. Only a first and only relay attempt the wallet certainly refused
//!    refunds the withdrawals; an unknown outcome is retried on the next pass, and after one
//!    no refund ever happens (the transaction may be in the pool);
//! 2. checks every `broadcast` transaction: mined ones become `confirmed`, and one the wallet
//!    forgot (it restarted before saving it) is relayed again, so that no build spends its
//!    inputs a second time;
//! 3. builds one transaction for up to [`MAX_WITHDRAWALS_PER_TX`] requested withdrawals with
//!    `do_not_relay` (again, for what a withdrawal of everything sends once its fee share is
//!    known), records it (`signed`) before relaying it, then relays it as in 1.
//!
//! Between 2 and 3 it does the same for the sweeper's transactions (`crate::sweeps`), and
//! builds nothing while a sweep is unresolved: it may spend the same outputs.
//!
//! Broadcasting settles the holds with each withdrawal's share of the real fee in the same
//! database transaction that moves the rows, so the ledger and the rows never disagree. Each
//! step's events (`withdrawal_signed`, `…_broadcast`, `…_confirmed`, `…_failed`, one per
//! withdrawal to its owner) commit with it too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pupero_core::limits::{
    FEE_ESTIMATE_MAX_AGE_SECS, FEE_ESTIMATE_RETRY_SECS, MAX_BUILDS_FOR_EVERYTHING,
    MAX_WITHDRAWALS_PER_TX, MIN_WITHDRAWAL,
};
use pupero_core::reconciliation::ReconciliationStatus;
use pupero_core::wallet::{OutgoingState, Priority, TxMetadata, WalletError};
use pupero_core::withdrawal::{
    FeeQuote, Stuck, Withdrawal, WithdrawalAmount, WithdrawalEvent, WithdrawalTransitionError,
    split_fee, withdrawal_id,
};
use pupero_core::{AccountId, MoneroAddress, Piconero, Timestamp, UserId, WithdrawalState};
use pupero_ledger::{Attachment, AttachmentError, Batches, Engine};
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::Market;
use crate::deposits::PlatformWallet;
use crate::error::{Error, ErrorKind};
use crate::events::{EventBatch, EventKind, NewEvent};
use crate::queue::{QueueError, Received, Settle, WorkMessage};
use crate::store::{
    StoreError, TOPIC_REDRIVE, WithdrawalRow, WithdrawalTxRow, fail_requested_in,
    insert_withdrawal_in, move_tx_in,
};
use crate::trades::{IdempotencyKey, request_hash};

/// The lease that keeps one wallet worker active.
pub const WITHDRAWAL_LEASE: &str = "withdrawals";

/// How often the worker looks at withdrawals when no message comes.
pub const WITHDRAWAL_INTERVAL: Duration = Duration::from_secs(10);

/// How often the outbox publisher looks for rows to publish when nothing wakes it (a row
/// written by another process, or one a failed publish left behind).
pub const OUTBOX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The priority of withdrawal transactions, and so of their fee estimate: the wallet's
/// default, the lowest fee unless its daemon's pool is backed up.
const WITHDRAWAL_PRIORITY: Priority = Priority::Default;

/// The longest a request waits for the wallet's fee estimate (the wallet may be busy building
/// or sweeping); past it the request holds the largest reserve instead.
pub const FEE_ESTIMATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Outbox rows published per round.
const OUTBOX_BATCH: u32 = 500;

/// Unfinished withdrawals looked at for the stuck list.
const MAX_UNFINISHED_SCANNED: u32 = 1_000;

/// Messages settled after one pass.
const MAX_MESSAGES_PER_PASS: usize = 64;

/// The longest pause between retries when the queue or the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Transactions resumed or checked per pass.
const MAX_TXS_PER_PASS: usize = 100;

/// New transactions built per pass.
const MAX_BUILDS_PER_PASS: usize = 10;

const ABORT_REPLAY: &str = "withdrawal_replay";
const ABORT_CHANGED: &str = "withdrawal_changed";

fn balance_events(users: &[UserId], payload: serde_json::Value) -> Vec<NewEvent> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    users
        .into_iter()
        .map(|user| NewEvent {
            user,
            kind: EventKind::BalanceChanged,
            trade: None,
            payload: payload.clone(),
        })
        .collect()
}

/// Writes a new withdrawal and its outbox message with its holds.
struct RequestAttachment {
    row: WithdrawalRow,
    key: String,
}

#[async_trait]
impl Attachment for RequestAttachment {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        if !insert_withdrawal_in(conn, &self.row, &self.key)
            .await
            .map_err(AttachmentError::from)?
        {
            return Err(AttachmentError::Abort(ABORT_REPLAY));
        }
        let events = balance_events(
            &[self.row.user],
            serde_json::json!({ "withdrawal_id": self.row.id.to_string(), "state": "requested" }),
        );
        batches
            .get::<EventBatch>()
            .push(&events, self.row.requested_at)
            .map_err(AttachmentError::from)
    }
}

/// The event telling a withdrawal's owner it is now `state`, if that is a step they hear of
/// (its request is answered by the API itself).
fn withdrawal_event(
    w: &WithdrawalRow,
    state: WithdrawalState,
    txid: Option<&str>,
) -> Option<NewEvent> {
    let kind = match state {
        WithdrawalState::Requested => return None,
        WithdrawalState::Signed => EventKind::WithdrawalSigned,
        WithdrawalState::Broadcast => EventKind::WithdrawalBroadcast,
        WithdrawalState::Confirmed => EventKind::WithdrawalConfirmed,
        WithdrawalState::Failed => EventKind::WithdrawalFailed,
    };
    Some(NewEvent {
        user: w.user,
        kind,
        trade: None,
        payload: serde_json::json!({
            "withdrawal_id": w.id.to_string(),
            "state": state.as_str(),
            "txid": txid,
            "amount": w.amount.to_xmr_string(),
            "fee": w.fee.map(|fee| fee.to_xmr_string()),
        }),
    })
}

/// Moves a transaction and its withdrawals one state on, with the ledger plan of that step
/// and the owners' events: one per withdrawal, and a balance change when money moved.
struct MoveAttachment {
    tx: Uuid,
    txid: String,
    from: WithdrawalState,
    to: WithdrawalState,
    height: Option<u64>,
    failure: Option<String>,
    withdrawals: Vec<WithdrawalRow>,
    balance_moved: bool,
    now: Timestamp,
}

#[async_trait]
impl Attachment for MoveAttachment {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        if !move_tx_in(
            conn,
            self.tx,
            self.from,
            self.to,
            self.height,
            self.failure.as_deref(),
            self.now,
        )
        .await
        .map_err(AttachmentError::from)?
        {
            return Err(AttachmentError::Abort(ABORT_CHANGED));
        }
        let mut events: Vec<NewEvent> = self
            .withdrawals
            .iter()
            .filter_map(|w| withdrawal_event(w, self.to, Some(&self.txid)))
            .collect();
        if self.balance_moved {
            let users: Vec<UserId> = self.withdrawals.iter().map(|w| w.user).collect();
            events.extend(balance_events(
                &users,
                serde_json::json!({ "withdrawal_tx": self.tx.to_string(), "state": self.to.as_str() }),
            ));
        }
        batches
            .get::<EventBatch>()
            .push(&events, self.now)
            .map_err(AttachmentError::from)
    }
}

/// Fails a request the wallet refused before any transaction existed, with its refund.
struct RefuseAttachment {
    withdrawal: WithdrawalRow,
    failure: String,
    now: Timestamp,
}

#[async_trait]
impl Attachment for RefuseAttachment {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        let w = &self.withdrawal;
        if !fail_requested_in(conn, w.id, &self.failure, self.now)
            .await
            .map_err(AttachmentError::from)?
        {
            return Err(AttachmentError::Abort(ABORT_CHANGED));
        }
        let mut events: Vec<NewEvent> = withdrawal_event(w, WithdrawalState::Failed, None)
            .into_iter()
            .collect();
        events.extend(balance_events(
            &[w.user],
            serde_json::json!({ "withdrawal_id": w.id.to_string(), "state": "failed" }),
        ));
        batches
            .get::<EventBatch>()
            .push(&events, self.now)
            .map_err(AttachmentError::from)
    }
}

/// What one worker pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveReport {
    /// Whether this process held the lease (if not, it did nothing).
    pub leader: bool,
    /// Transactions built and signed.
    pub signed: usize,
    /// Transactions found or made broadcast.
    pub broadcast: usize,
    /// Transactions mined.
    pub confirmed: usize,
    /// Withdrawals refunded.
    pub failed: usize,
}

/// Why a worker pass stopped early. The rows say where everything stands; the next pass goes
/// on from there.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// No wallet is configured.
    #[error("no wallet is configured")]
    NoWallet,
    /// The wallet failed.
    #[error("wallet: {0}")]
    Wallet(#[from] WalletError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] pupero_ledger::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Another process holds the worker lease now: this one stopped before touching the
    /// wallet again.
    #[error("the wallet worker lease was lost to another process")]
    LeaseLost,
    /// The wallet is not the one that made the platform's deposit subaddresses.
    #[error("the wallet has another address at subaddress index {index} than was handed out")]
    WrongWallet {
        /// The index compared.
        index: u32,
    },
}

impl From<crate::deposits::ScanError> for DriveError {
    fn from(error: crate::deposits::ScanError) -> DriveError {
        use crate::deposits::ScanError;
        match error {
            ScanError::NoWallet => DriveError::NoWallet,
            ScanError::Wallet(e) => DriveError::Wallet(e),
            ScanError::Store(e) => DriveError::Store(e),
            ScanError::Ledger(e) => DriveError::Ledger(e),
            ScanError::WrongWallet { index } => DriveError::WrongWallet { index },
        }
    }
}

fn reused() -> Error {
    Error::new(
        ErrorKind::IdempotencyKeyReused,
        "this Idempotency-Key was used for a different request",
    )
}

impl Market {
    /// Requests a withdrawal to `destination` for `caller` (who needs the `withdraw` scope) of
    /// `amount` XMR, or of everything available with [`WithdrawalAmount::ALL`]: the holds, the
    /// row and the outbox message commit together. The same key with the same request returns
    /// the same withdrawal (`false`: nothing new happened) without a step-up again; a new
    /// request needs the step-up ([`Market::step_up`]).
    ///
    /// What needs no wallet is checked first, so a wrong request is told so even while the
    /// wallet is down (which holds and queues a right one); then the destination must not be
    /// the platform's own ([`Market::refuse_platform_address`]), and the fee reserve comes
    /// from the wallet's estimate ([`Market::withdrawal_fee_quote`]).
    pub async fn request_withdrawal(
        &self,
        caller: &pupero_core::Caller,
        key: &IdempotencyKey,
        destination: &str,
        amount: &str,
        password: Option<&str>,
        second_factor: crate::two_factor::SecondFactorProof<'_>,
    ) -> Result<(WithdrawalRow, bool), Error> {
        if !caller.has_scope(pupero_core::Scope::Withdraw) {
            return Err(Error::forbidden("this API key lacks the withdraw scope"));
        }
        let user = caller.user();
        let asked = WithdrawalAmount::parse(amount)
            .map_err(|e| {
                Error::validation(format!(
                    "{e}: an amount of XMR, or \"{}\" for everything",
                    WithdrawalAmount::ALL
                ))
            })?
            .check()
            .map_err(|e| Error::validation(e.to_string()))?;
        let network = self.settings.monero_network;
        let address =
            MoneroAddress::parse(destination.trim(), network.addresses()).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidAddress,
                    format!("not a {} address: {e}", network.as_str()),
                )
            })?;
        let hash = request_hash(&[address.as_str(), &asked.canonical()]);
        let id = withdrawal_id(user, key.as_str());
        if let Some(row) = self.store.withdrawal(id).await? {
            return if row.request_hash == hash {
                Ok((row, false))
            } else {
                Err(reused())
            };
        }
        self.step_up(caller, password, second_factor).await?;
        // Only a request that could succeed is told to come back later: validation first.
        self.platform_wallet()?;
        self.refuse_platform_address(&address).await?;
        let quote = self.withdrawal_fee_quote().await?;
        let available = self.available_balance(user).await?;
        let holds = quote.holds(asked, available).map_err(|e| {
            if e.is_insufficient_funds() {
                Error::new(ErrorKind::InsufficientFunds, e.to_string())
            } else {
                Error::validation(e.to_string())
            }
        })?;
        let (withdrawal, plan) = Withdrawal::request(id, user, holds);
        let now = self.now();
        let row = WithdrawalRow {
            id,
            user,
            request_hash: hash.clone(),
            destination: address.as_str().to_owned(),
            amount: holds.amount(),
            max_fee: holds.fee_reserve(),
            send_all: holds.everything(),
            state: withdrawal.state(),
            tx: None,
            fee: None,
            failure: None,
            requested_at: now,
            updated_at: now,
        };
        let attachment = RequestAttachment {
            row: row.clone(),
            key: key.as_str().to_owned(),
        };
        match self.ledger.transfer_attached(plan, attachment).await {
            Ok(_) => {
                self.events.notify([user]);
                self.outbox_wake.notify_one();
                tracing::info!(withdrawal = %id, %user, amount = %holds.amount(),
                    reserve = %holds.fee_reserve(), everything = holds.everything(), "withdrawal requested");
                Ok((row, true))
            }
            Err(pupero_ledger::Error::Aborted(ABORT_REPLAY)) => {
                match self.store.withdrawal(id).await? {
                    Some(row) if row.request_hash == hash => Ok((row, false)),
                    Some(_) => Err(reused()),
                    None => Err(Error::internal(&StoreError::Corrupt(
                        "a replayed withdrawal is missing",
                    ))),
                }
            }
            Err(e) if e.is_insufficient_funds() => Err(Error::new(
                ErrorKind::InsufficientFunds,
                format!(
                    "the available balance does not cover {} XMR and the network fee reserve of {} XMR",
                    holds.amount().to_xmr_string(),
                    holds.fee_reserve().to_xmr_string()
                ),
            )),
            Err(e) if e.is_conflict() => Err(reused()),
            Err(e) => Err(e.into()),
        }
    }

    /// `user`'s available balance (nothing without a ledger account).
    pub async fn available_balance(&self, user: UserId) -> Result<Piconero, Error> {
        let account = self.ledger.account(AccountId::user_xmr(user)).await?;
        Ok(account
            .and_then(|a| a.available())
            .unwrap_or(Piconero::ZERO))
    }

    /// Refuses a withdrawal to an address of the platform's own wallet, with 400
    /// `INVALID_ADDRESS`: its primary address, any of its subaddresses (handed to a user or
    /// not, in any account), an integrated address built on them. Nothing would leave the
    /// wallet, yet the ledger would count the money as gone. The one place that decides it:
    /// a deposit address on record, or an address the wallet says it owns. While the wallet
    /// does not answer, what is known without it decides (the deposit addresses, and its
    /// primary address once it told it), and the request waits for the wallet as any other.
    pub async fn refuse_platform_address(&self, address: &MoneroAddress) -> Result<(), Error> {
        let wallet = self.platform_wallet()?;
        // What is sent to an integrated address reaches the standard address it is built on.
        let paid = address.receiving_address();
        let own = self.store.is_deposit_address(paid.as_str()).await?
            || match wallet.rpc.address_index(address).await {
                Ok(index) => index.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e,
                        "the wallet cannot say whether a withdrawal address is its own; checking what is known");
                    wallet.known_primary_address() == Some(&paid)
                }
            };
        if own {
            return Err(Error::new(
                ErrorKind::InvalidAddress,
                "that is an address of this platform's own wallet; nothing would leave it",
            ));
        }
        Ok(())
    }

    /// What a withdrawal's network fee is expected to be now and the reserve a request holds
    /// for it ([`FeeQuote`]). The estimate is the wallet's fee for a transaction paying the
    /// smallest withdrawal to its own primary address, built and thrown away, kept for
    /// [`FEE_ESTIMATE_MAX_AGE_SECS`]. Without an answer within [`FEE_ESTIMATE_TIMEOUT`] (the
    /// wallet has no unlocked coins now, is busy or down) the quote has no estimate and the
    /// largest reserve, and the wallet is asked again after [`FEE_ESTIMATE_RETRY_SECS`]. 503
    /// only when no wallet is configured.
    pub async fn withdrawal_fee_quote(&self) -> Result<FeeQuote, Error> {
        let wallet = self.platform_wallet()?;
        let now = self.now();
        let mut cached = wallet.fee_estimate.lock().await;
        if let Some((at, fee)) = *cached {
            let max_age = if fee.is_some() {
                FEE_ESTIMATE_MAX_AGE_SECS
            } else {
                FEE_ESTIMATE_RETRY_SECS
            };
            if now.secs_since(at) < max_age {
                return Ok(FeeQuote::new(fee));
            }
        }
        let estimate = async {
            let own = wallet.primary_address().await?.clone();
            wallet
                .rpc
                .estimate_fee(
                    wallet.account,
                    &[(own, MIN_WITHDRAWAL)],
                    WITHDRAWAL_PRIORITY,
                )
                .await
        };
        let fee = match tokio::time::timeout(FEE_ESTIMATE_TIMEOUT, estimate).await {
            Ok(Ok(fee)) => Some(fee),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the wallet gave no fee estimate; holding the largest reserve");
                None
            }
            Err(_) => {
                tracing::warn!(
                    "the wallet's fee estimate took too long; holding the largest reserve"
                );
                None
            }
        };
        *cached = Some((now, fee));
        Ok(FeeQuote::new(fee))
    }

    /// One pass of the wallet worker (see the module's documentation). Does nothing unless
    /// this process holds the worker lease.
    pub async fn drive_withdrawals(&self) -> Result<DriveReport, DriveError> {
        self.drive(&[]).await
    }

    /// A pass that first relays again the transactions of the `redrive` withdrawals an
    /// operator asked for ([`Market::rebroadcast`]).
    async fn drive(&self, redrive: &[Uuid]) -> Result<DriveReport, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let _one_pass = self.worker_pass.lock().await;
        let mut report = DriveReport::default();
        if !self.take_worker_lease().await? {
            return Ok(report);
        }
        report.leader = true;
        self.wallet_matches_records().await?;
        // The wallet must see the newest blocks: a stale wallet builds from spent outputs.
        wallet.rpc.refresh().await?;

        for id in redrive {
            self.rebroadcast(*id).await?;
        }

        for tx in self
            .store
            .withdrawal_txs_in(WithdrawalState::Signed, MAX_TXS_PER_PASS)
            .await?
        {
            self.resume_signed(&tx, &mut report).await?;
        }

        // Every broadcast transaction before building: a new build must not spend the inputs
        // of one the wallet forgot.
        let broadcast = self
            .store
            .withdrawal_txs_in(WithdrawalState::Broadcast, MAX_TXS_PER_PASS)
            .await?;
        let all_checked = broadcast.len() < MAX_TXS_PER_PASS;
        for tx in &broadcast {
            self.check_broadcast(tx, &mut report).await?;
        }
        if !all_checked {
            tracing::warn!(
                "more broadcast withdrawal transactions than a pass checks; building after the next block"
            );
            return Ok(report);
        }

        // The sweeper's transactions likewise: a `signed` sweep may be relayed yet, and a
        // broadcast one the wallet forgot holds inputs the wallet thinks unspent.
        let mut sweeps = crate::sweeps::SweepReport::default();
        let unresolved_sweeps = self.resume_sweeps(&mut sweeps).await?;
        if !self.check_broadcast_sweeps(&mut sweeps).await? {
            tracing::warn!(
                "more broadcast sweeps than a pass checks; building after the next block"
            );
            return Ok(report);
        }
        if unresolved_sweeps > 0 {
            tracing::warn!(
                sweeps = unresolved_sweeps,
                "a sweep's relay is unresolved; building no withdrawal this pass"
            );
        }

        if unresolved_sweeps == 0 && !self.books_balance(wallet).await? {
            return Ok(report);
        }
        for _ in 0..MAX_BUILDS_PER_PASS {
            if unresolved_sweeps > 0 {
                break;
            }
            let batch = self
                .store
                .withdrawals_in(WithdrawalState::Requested, MAX_WITHDRAWALS_PER_TX)
                .await?;
            if batch.is_empty() || !self.build_and_relay(&batch, &mut report).await? {
                break;
            }
        }
        Ok(report)
    }

    /// Whether new withdrawals may be paid: true when none waits, or when the wallet holds at
    /// least what the platform owes (reconciliation `ok`). A wallet short of it (restored from
    /// an old seed without its subaddresses, a wrong wallet, a bug) pays nothing more until an
    /// operator looks. Read between passes' changes, in the pass, so no withdrawal is half-way
    /// between the wallet and the ledger.
    async fn books_balance(&self, wallet: &PlatformWallet) -> Result<bool, DriveError> {
        if self
            .store
            .withdrawals_in(WithdrawalState::Requested, 1)
            .await?
            .is_empty()
        {
            return Ok(true);
        }
        let books = self.reconcile_with(wallet, false).await?;
        self.wallet_health.reconciled(books);
        if books.status == ReconciliationStatus::Ok {
            return Ok(true);
        }
        tracing::error!(
            deficit = %books.surplus,
            wallet_total = %books.wallet_total,
            user_balances = %books.user_balances,
            "the wallet holds less than the platform owes; paying no withdrawal until it does"
        );
        Ok(false)
    }

    /// Marks a mined broadcast transaction `confirmed`. One the wallet does not know, although
    /// we relayed it, is waiting in the pool while the wallet restarted before saving it: the
    /// wallet sees its inputs unspent and would build a double spend of them, which the
    /// network refuses with an unknown outcome, for ever. So it is relayed again (the same
    /// signed transaction, which cannot pay twice; only while the wallet does not know it)
    /// and the wallet saved before anything is built.
    async fn check_broadcast(
        &self,
        tx: &WithdrawalTxRow,
        report: &mut DriveReport,
    ) -> Result<(), DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let txid = parse_txid(tx)?;
        match wallet.rpc.outgoing_transfer(txid).await?.map(|s| s.state) {
            Some(OutgoingState::Confirmed { height, .. }) => {
                if self
                    .move_tx(tx, WithdrawalEvent::Confirmed, Some(height))
                    .await?
                {
                    report.confirmed += 1;
                }
            }
            Some(OutgoingState::Pool) => {}
            Some(OutgoingState::Failed) => {
                tracing::error!(txid = %tx.txid, "a broadcast withdrawal transaction left the pool unmined; needs an operator");
            }
            None => {
                tracing::warn!(txid = %tx.txid, "the wallet forgot a broadcast withdrawal transaction; relaying it again");
                self.relay_broadcast_again(tx).await?;
            }
        }
        Ok(())
    }

    /// Relays broadcast transaction `tx` again, counting the attempt, and saves the wallet.
    /// Nothing when `tx` is no longer `broadcast` (mined meanwhile, as another worker saw).
    async fn relay_broadcast_again(&self, tx: &WithdrawalTxRow) -> Result<(), DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let metadata = TxMetadata::from_hex(&tx.tx_metadata)
            .ok_or(StoreError::Corrupt("withdrawal tx metadata"))?;
        self.ensure_leader().await?;
        if self
            .store
            .count_relay_attempt(tx.id, WithdrawalState::Broadcast, self.now())
            .await?
            .is_none()
        {
            return Ok(());
        }
        wallet.rpc.relay(&metadata).await?;
        wallet.rpc.store().await?;
        Ok(())
    }

    /// Builds one transaction for `batch`, records it and relays it. False when nothing could
    /// be built now (the next pass tries again).
    async fn build_and_relay(
        &self,
        batch: &[WithdrawalRow],
        report: &mut DriveReport,
    ) -> Result<bool, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let network = self.settings.monero_network.addresses();
        let mut destinations = Vec::with_capacity(batch.len());
        for w in batch {
            let address = MoneroAddress::parse(&w.destination, network)
                .map_err(|_| StoreError::Corrupt("withdrawal destination"))?;
            destinations.push((address, w.amount));
        }
        self.ensure_leader().await?;
        let built = match wallet
            .rpc
            .build_transfer(wallet.account, &destinations, WITHDRAWAL_PRIORITY)
            .await
        {
            Ok(built) => built,
            Err(e) if e.is_insufficient_funds() => {
                tracing::warn!(error = %e, withdrawals = batch.len(),
                    "the wallet cannot pay the withdrawals now; waiting for unlocked funds");
                return Ok(false);
            }
            Err(e) if e.is_definitely_not_sent() && !e.is_unavailable() => {
                // Refused for what it is (an address, an amount): refund the oldest alone if
                // it was alone, else build one by one so that one bad request stops no other.
                if let [only] = batch {
                    self.refuse(only, &e.to_string()).await?;
                    report.failed += 1;
                    return Ok(true);
                }
                return Box::pin(self.build_and_relay(&batch[..1], report)).await;
            }
            Err(e) => return Err(e.into()),
        };
        if built.amounts != destinations.iter().map(|(_, a)| *a).collect::<Vec<_>>() {
            return Err(DriveError::Wallet(WalletError::InvalidResponse(
                "the built transaction pays other amounts than asked".to_owned(),
            )));
        }
        let Some((built, shares)) = self.with_amounts_sent(batch, &destinations, built).await?
        else {
            return Ok(false);
        };
        let tx = WithdrawalTxRow {
            id: Uuid::now_v7(),
            txid: built.txid.to_string(),
            tx_key: built.tx_key.clone(),
            tx_metadata: built.tx_metadata.as_str().to_owned(),
            fee: built.fee,
            state: WithdrawalState::Signed,
            relay_attempts: 0,
            height: None,
            created_at: self.now(),
        };
        for (w, fee) in batch.iter().zip(&shares) {
            let (_, plan) = w
                .machine()?
                .apply(WithdrawalEvent::Signed {
                    tx: tx.id,
                    fee: *fee,
                })
                .expect("a requested withdrawal is signed with a fee share within its reserve");
            assert!(plan.is_empty(), "signing moves no money");
        }
        let ids: Vec<(Uuid, Piconero)> = batch.iter().map(|w| w.id).zip(shares).collect();
        let events: Vec<NewEvent> = batch
            .iter()
            .zip(ids.iter().map(|(_, fee)| *fee))
            .filter_map(|(w, fee)| {
                let signed = WithdrawalRow {
                    fee: Some(fee),
                    ..w.clone()
                };
                withdrawal_event(&signed, WithdrawalState::Signed, Some(&tx.txid))
            })
            .collect();
        if !self
            .store
            .record_signed_tx(&tx, &ids, &events, self.now())
            .await?
        {
            // Another worker moved one of them: this transaction is never relayed.
            return Ok(false);
        }
        self.events.notify(batch.iter().map(|w| w.user));
        self.failpoint("withdrawal.after_sign").await;
        report.signed += 1;
        tracing::info!(txid = %tx.txid, fee = %tx.fee, withdrawals = batch.len(), "signed a withdrawal transaction");
        self.resume_signed(&tx, report).await?;
        Ok(true)
    }

    /// The transaction `built` for `batch` (paying `destinations`, each withdrawal's amount
    /// held) with each withdrawal's share of its fee, once every withdrawal's share is within
    /// its reserve and every destination gets what its withdrawal sends. A withdrawal of
    /// everything sends what its share leaves of its reserve too, known only once built: the
    /// transaction is built again for those amounts until the fee agrees (it is the inputs'
    /// and outputs', which hardly depend on the amounts), at most
    /// [`MAX_BUILDS_FOR_EVERYTHING`] times. `None`: nothing to relay now, the next pass tries
    /// again (a built transaction that is never relayed has no effect).
    async fn with_amounts_sent(
        &self,
        batch: &[WithdrawalRow],
        destinations: &[(MoneroAddress, Piconero)],
        built: pupero_core::wallet::BuiltTransfer,
    ) -> Result<Option<(pupero_core::wallet::BuiltTransfer, Vec<Piconero>)>, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let mut built = built;
        for builds in 1..=MAX_BUILDS_FOR_EVERYTHING {
            let shares = split_fee(built.fee, batch.len());
            // Never more than a withdrawal's reserve: such a transaction is not relayed.
            let Some(sent) = shares
                .iter()
                .zip(batch)
                .map(|(fee, w)| w.holds().sends(*fee))
                .collect::<Option<Vec<Piconero>>>()
            else {
                tracing::warn!(fee = %built.fee, withdrawals = batch.len(),
                    "the network fee exceeds the reserve; not relaying, trying later");
                return Ok(None);
            };
            if sent == built.amounts {
                return Ok(Some((built, shares)));
            }
            if builds == MAX_BUILDS_FOR_EVERYTHING {
                break;
            }
            let paying: Vec<(MoneroAddress, Piconero)> = destinations
                .iter()
                .map(|(address, _)| address.clone())
                .zip(sent.iter().copied())
                .collect();
            built = match wallet
                .rpc
                .build_transfer(wallet.account, &paying, WITHDRAWAL_PRIORITY)
                .await
            {
                Ok(built) => built,
                Err(e) if e.is_insufficient_funds() => {
                    tracing::warn!(error = %e, "the wallet cannot pay a withdrawal of everything now; waiting");
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            };
            if built.amounts != sent {
                return Err(DriveError::Wallet(WalletError::InvalidResponse(
                    "the built transaction pays other amounts than asked".to_owned(),
                )));
            }
        }
        tracing::warn!(fee = %built.fee,
            "the fee of a withdrawal of everything kept changing; trying later");
        Ok(None)
    }

    /// Brings a signed transaction to broadcast (or, if the wallet certainly refused it, its
    /// withdrawals to failed).
    async fn resume_signed(
        &self,
        tx: &WithdrawalTxRow,
        report: &mut DriveReport,
    ) -> Result<(), DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let txid = parse_txid(tx)?;
        match wallet.rpc.outgoing_transfer(txid).await? {
            Some(status) if status.state != OutgoingState::Failed => {
                // Relayed before (by us before a crash): settle, never relay again.
                if self.settle(tx).await? {
                    report.broadcast += 1;
                }
                return Ok(());
            }
            Some(_) => {
                tracing::error!(txid = %tx.txid, "the wallet reports a signed withdrawal transaction failed; needs an operator");
                return Ok(());
            }
            None => {}
        }
        let metadata = TxMetadata::from_hex(&tx.tx_metadata)
            .ok_or(StoreError::Corrupt("withdrawal tx metadata"))?;
        self.ensure_leader().await?;
        let Some(attempt) = self
            .store
            .count_relay_attempt(tx.id, WithdrawalState::Signed, self.now())
            .await?
        else {
            // Another worker (whose lease this one outlived) settled or refunded it.
            return Ok(());
        };
        match wallet.rpc.relay(&metadata).await {
            Ok(_) => {
                self.failpoint("withdrawal.after_relay").await;
                let stored = wallet.rpc.store().await;
                if self.settle(tx).await? {
                    report.broadcast += 1;
                }
                if let Err(e) = stored {
                    // Unsaved, a restart forgets the transaction while it waits in the pool:
                    // build nothing more until a pass has checked it (`check_broadcast`).
                    tracing::warn!(error = %e, "saving the wallet after a relay failed");
                    return Err(e.into());
                }
            }
            Err(e) if e.is_definitely_not_sent() => {
                let refused = WithdrawalEvent::Refused {
                    relay_attempts: attempt,
                };
                if let Err(WithdrawalTransitionError::MayHaveBeenBroadcast { .. }) =
                    tx.state.after(&refused)
                {
                    // This attempt did nothing, but an earlier one's outcome is unknown (a
                    // lost answer, a wallet that restarted and forgot it): the transaction may
                    // be in the pool. Never refunded; tried again next pass.
                    tracing::warn!(txid = %tx.txid, error = %e, attempt, "relay refused after an attempt of unknown outcome; trying again next pass");
                    return Err(e.into());
                }
                // The first and only attempt, certainly refused: never broadcast. The refund
                // also requires that single attempt (`move_tx_in`), so a worker relaying it
                // meanwhile stops it.
                tracing::warn!(txid = %tx.txid, error = %e, "the wallet refused to relay; refunding");
                let withdrawals = self.store.withdrawals_of_tx(tx.id).await?;
                if self
                    .move_tx_with(tx, refused, None, Some(&e.to_string()), withdrawals)
                    .await?
                {
                    report.failed += 1;
                }
            }
            Err(e) => {
                // Unknown: it may be on its way. The next pass looks for it before relaying.
                tracing::warn!(txid = %tx.txid, error = %e, "relay outcome unknown; checking again next pass");
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Relays again the signed transaction of broadcast withdrawal `id` unless the wallet
    /// saw it mined: after it left the pool (dropped by the network, or a daemon restart) the
    /// same signed transaction is the only one that may pay these withdrawals, and relaying it
    /// again can never pay twice. A mined transaction is never relayed again.
    async fn rebroadcast(&self, id: Uuid) -> Result<(), DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let Some(w) = self.store.withdrawal(id).await? else {
            return Ok(());
        };
        let Some(tx_id) = w.tx.filter(|_| w.state == WithdrawalState::Broadcast) else {
            // Requested or signed: the pass itself takes them on.
            return Ok(());
        };
        let tx = self
            .store
            .withdrawal_tx(tx_id)
            .await?
            .ok_or(StoreError::Corrupt("withdrawal without its tx"))?;
        let status = wallet.rpc.outgoing_transfer(parse_txid(&tx)?).await?;
        if let Some(OutgoingState::Confirmed { .. }) = status.map(|s| s.state) {
            return Ok(());
        }
        match self.relay_broadcast_again(&tx).await {
            Ok(()) => {
                tracing::info!(txid = %tx.txid, withdrawal = %id, "relayed a broadcast transaction again");
            }
            Err(e) => {
                // The pass stops here (as after any unsaved relay); the message is settled,
                // so the next pass goes on without it.
                tracing::warn!(txid = %tx.txid, withdrawal = %id, error = %e,
                    "relaying a broadcast transaction again failed (it may be in the pool or mined)");
                return Err(e);
            }
        }
        Ok(())
    }

    /// How withdrawal `w` is stuck now, if it is ([`Stuck`]).
    pub fn stuck_of(&self, w: &WithdrawalRow) -> Option<Stuck> {
        Stuck::of(w.state, self.now().secs_since(w.updated_at))
    }

    /// Withdrawals that need an operator's look ([`Stuck`]), the longest unchanged first,
    /// with their transactions.
    pub async fn stuck_withdrawals(
        &self,
        limit: usize,
    ) -> Result<Vec<(WithdrawalRow, Option<WithdrawalTxRow>, Stuck)>, StoreError> {
        let stuck: Vec<(WithdrawalRow, Stuck)> = self
            .store
            .unfinished_withdrawals(MAX_UNFINISHED_SCANNED)
            .await?
            .into_iter()
            .filter_map(|w| self.stuck_of(&w).map(|why| (w, why)))
            .take(limit)
            .collect();
        let tx_ids: Vec<Uuid> = stuck.iter().filter_map(|(w, _)| w.tx).collect();
        let txs = self.store.withdrawal_txs(&tx_ids).await?;
        Ok(stuck
            .into_iter()
            .map(|(w, why)| {
                let tx = w.tx.and_then(|id| txs.get(&id).cloned());
                (w, tx, why)
            })
            .collect())
    }

    /// An operator's re-drive of withdrawal `id`: a message to the worker, which relays its
    /// transaction again if it is broadcast and not mined, and otherwise takes it on in its
    /// next pass. Nothing is built anew, so nothing can be paid twice.
    pub async fn request_redrive(&self, id: Uuid) -> Result<WithdrawalRow, Error> {
        self.platform_wallet()?;
        let w = self
            .store
            .withdrawal(id)
            .await?
            .ok_or_else(|| Error::not_found("no such withdrawal"))?;
        if w.state.is_final() {
            return Err(Error::new(
                ErrorKind::WithdrawalFinal,
                format!(
                    "the withdrawal is {}; there is nothing to re-drive",
                    w.state.as_str()
                ),
            ));
        }
        self.store
            .enqueue(TOPIC_REDRIVE, &id.to_string(), self.now())
            .await?;
        self.outbox_wake.notify_one();
        Ok(w)
    }

    /// Signed → broadcast, posting each withdrawal's amount and fee share.
    async fn settle(&self, tx: &WithdrawalTxRow) -> Result<bool, DriveError> {
        self.move_tx(tx, WithdrawalEvent::Broadcast, None).await
    }

    /// Applies `event` to `tx` and the withdrawals it pays, as they are stored now.
    async fn move_tx(
        &self,
        tx: &WithdrawalTxRow,
        event: WithdrawalEvent,
        height: Option<u64>,
    ) -> Result<bool, DriveError> {
        let withdrawals = self.store.withdrawals_of_tx(tx.id).await?;
        self.move_tx_with(tx, event, height, None, withdrawals)
            .await
    }

    /// Applies `event` to `tx` and its `withdrawals`: the core decides the next state and each
    /// withdrawal's ledger plan, and the rows move from the transaction's current state to it
    /// with that plan, telling their owners. False if another worker moved it first.
    async fn move_tx_with(
        &self,
        tx: &WithdrawalTxRow,
        event: WithdrawalEvent,
        height: Option<u64>,
        failure: Option<&str>,
        withdrawals: Vec<WithdrawalRow>,
    ) -> Result<bool, DriveError> {
        let current = self
            .store
            .withdrawal_tx(tx.id)
            .await?
            .ok_or(StoreError::Corrupt("withdrawal tx vanished"))?;
        let Ok(to) = current.state.after(&event) else {
            return Ok(false);
        };
        let mut plan = Vec::with_capacity(withdrawals.len() * 3);
        for w in &withdrawals {
            match w.machine()?.apply(event) {
                Ok((moved, steps)) => {
                    assert_eq!(moved.state(), to, "a withdrawal moves with its transaction");
                    plan.extend(steps);
                }
                // Read before another worker moved them: that worker made the step.
                Err(e) if e.is_invalid_transition() => return Ok(false),
                Err(e) => unreachable!("{e}: the transaction's own step allowed it"),
            }
        }
        let users: Vec<UserId> = withdrawals.iter().map(|w| w.user).collect();
        let attachment = MoveAttachment {
            tx: tx.id,
            txid: tx.txid.clone(),
            from: current.state,
            to,
            height,
            failure: failure.map(str::to_owned),
            withdrawals,
            balance_moved: !plan.is_empty(),
            now: self.now(),
        };
        match self.ledger.transfer_attached(plan, attachment).await {
            Ok(_) => {
                self.events.notify(users);
                tracing::info!(txid = %tx.txid, state = to.as_str(), "withdrawal transaction moved");
                Ok(true)
            }
            Err(pupero_ledger::Error::Aborted(ABORT_CHANGED)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Fails a requested withdrawal the wallet refused, refunding its holds.
    async fn refuse(&self, w: &WithdrawalRow, why: &str) -> Result<(), DriveError> {
        let plan = match w
            .machine()?
            .apply(WithdrawalEvent::Refused { relay_attempts: 0 })
        {
            Ok((_, plan)) => plan,
            // Moved meanwhile by another worker.
            Err(e) if e.is_invalid_transition() => return Ok(()),
            Err(e) => unreachable!("{e}: a refusal with no relay is always refundable"),
        };
        let attachment = RefuseAttachment {
            withdrawal: w.clone(),
            failure: why.to_owned(),
            now: self.now(),
        };
        match self.ledger.transfer_attached(plan, attachment).await {
            Ok(_) => {
                self.events.notify([w.user]);
                Ok(())
            }
            Err(pupero_ledger::Error::Aborted(ABORT_CHANGED)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes unpublished outbox rows to the queue, oldest first, marking each published
    /// once the queue holds it. Stops at the first failure; the rest waits for the next round.
    /// A row published twice (a crash between the two steps) costs one idle pass.
    pub async fn publish_outbox(&self) -> Result<usize, DriveError> {
        let mut published = 0;
        for (id, topic, payload) in self.store.unpublished(OUTBOX_BATCH).await? {
            match Uuid::parse_str(&payload) {
                Ok(withdrawal_id) => {
                    let message = WorkMessage {
                        outbox_id: id,
                        topic,
                        withdrawal_id,
                    };
                    self.queue.publish(&message).await?;
                }
                Err(_) => {
                    tracing::error!(outbox = id, %topic, "an outbox row names no withdrawal; skipped")
                }
            }
            self.store.mark_published(id, self.now()).await?;
            published += 1;
        }
        Ok(published)
    }

    /// Stops here for good when `name` is the configured failpoint (development only): the
    /// crash tests kill the process at this exact point.
    pub(crate) async fn failpoint(&self, name: &str) {
        if self.settings.failpoint.as_deref() == Some(name) {
            tracing::error!(failpoint = name, "failpoint reached; waiting to be killed");
            std::future::pending::<()>().await;
        }
    }

    /// How a received message ends: acknowledged if it names a withdrawal we know (or the
    /// database cannot tell now: the rows are the truth and the timer looks again), else
    /// dead-lettered for an operator.
    async fn judge(&self, received: &Received) -> Settle {
        let Some(message) = &received.message else {
            return Settle::DeadLetter;
        };
        match self.store.withdrawal(message.withdrawal_id).await {
            Ok(Some(_)) => Settle::Ack,
            Ok(None) => Settle::DeadLetter,
            Err(e) => {
                tracing::warn!(error = %e, "checking a withdrawal message failed");
                Settle::Ack
            }
        }
    }
}

fn parse_txid(tx: &WithdrawalTxRow) -> Result<pupero_core::wallet::Txid, StoreError> {
    pupero_core::wallet::Txid::from_hex(&tx.txid).ok_or(StoreError::Corrupt("withdrawal txid"))
}

/// Doubling pauses after failures, reset by a success.
#[derive(Debug, Default)]
struct Backoff(u32);

impl Backoff {
    fn reset(&mut self) {
        self.0 = 0;
    }

    fn next(&mut self) -> Duration {
        self.0 = self.0.saturating_add(1).min(8);
        Duration::from_millis(250)
            .saturating_mul(1 << self.0)
            .min(MAX_BACKOFF)
    }
}

/// Publishes the outbox for ever: when a request wakes it, and every
/// [`OUTBOX_POLL_INTERVAL`]. Runs where it can reach the worker: with RabbitMQ, in every
/// process; with the in-process queue, only in the process running the worker.
pub async fn run_outbox_publisher(state: Arc<Market>) {
    if state.wallet.is_none()
        || (state.settings.rabbitmq.is_none() && !state.settings.wallet_worker)
    {
        return;
    }
    let mut backoff = Backoff::default();
    loop {
        let _ = tokio::time::timeout(OUTBOX_POLL_INTERVAL, state.outbox_wake.notified()).await;
        match state.publish_outbox().await {
            Ok(n) => {
                if n > 0 {
                    tracing::debug!(
                        published = n,
                        queue = state.queue.kind(),
                        "published the outbox"
                    );
                }
                backoff.reset();
            }
            Err(e) => {
                tracing::warn!(error = %e, "publishing the outbox failed; retrying");
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// Runs the wallet worker for ever: a pass at once (withdrawals requested while no worker
/// ran go out now), a pass when messages come (settling them after it), and every
/// [`WITHDRAWAL_INTERVAL`] without one, so that withdrawals go on while the queue is down. A
/// standby tries again when the holder's lease runs out ([`Market::lease_wait`]).
pub async fn run_worker(state: Arc<Market>) {
    if state.wallet.is_none() {
        return;
    }
    tracing::info!(queue = state.queue.kind(), worker = %state.worker_id, "wallet worker started");
    let mut backoff = Backoff::default();
    let mut wait = Duration::ZERO;
    loop {
        let mut received = Vec::new();
        match state.queue.receive(wait).await {
            Ok(first) => {
                backoff.reset();
                received.extend(first);
                while !received.is_empty() && received.len() < MAX_MESSAGES_PER_PASS {
                    match state.queue.receive(Duration::ZERO).await {
                        Ok(Some(more)) => received.push(more),
                        _ => break,
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the withdrawal queue failed; working from the database meanwhile");
                tokio::time::sleep(backoff.next()).await;
            }
        }
        let redrive: Vec<Uuid> = received
            .iter()
            .filter_map(|r| r.message.as_ref())
            .filter(|m| m.topic == TOPIC_REDRIVE)
            .map(|m| m.withdrawal_id)
            .collect();
        match state.drive(&redrive).await {
            Ok(report)
                if report.signed + report.broadcast + report.confirmed + report.failed > 0 =>
            {
                tracing::info!(?report, "withdrawal pass");
            }
            Ok(_) => {}
            Err(DriveError::LeaseLost) => {
                tracing::warn!("withdrawal pass stopped: another process took the worker lease");
            }
            Err(e) => tracing::warn!(error = %e, "withdrawal pass stopped; resuming next pass"),
        }
        wait = state.lease_wait(WITHDRAWAL_INTERVAL);
        for message in received {
            let how = state.judge(&message).await;
            if how == Settle::DeadLetter {
                tracing::error!(
                    ?message,
                    "a withdrawal message names nothing we know; dead-lettered"
                );
            }
            if let Err(e) = state.queue.settle(message, how).await {
                tracing::warn!(error = %e, "settling a withdrawal message failed; it comes again");
            }
        }
    }
}
