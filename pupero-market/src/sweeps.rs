//! The sweeper: consolidates the platform wallet's small outputs into one output of its own,
//! and books the network fee, exactly once, as the platform's expense.
//!
//! A pass ([`Market::sweep`]) runs under the wallet worker's exclusion — the `withdrawals`
//! lease between processes and `worker_pass` within one — because building reserves nothing
//! in the wallet: a sweep and a withdrawal built side by side could spend the same outputs.
//! Each pass:
//! 1. resumes every `signed` sweep (also done by every withdrawal pass, which builds nothing
//!    while one is left): if the wallet knows it, it was relayed, and its fee is booked; if
//!    not, its stored metadata is relayed (the same transaction, which cannot be paid twice);
//!    a first relay the wallet certainly refused fails it with nothing booked; an unknown outcome
//!    waits for the next pass (and after many, an hour on, when a transaction that reached the
//!    network would have been mined and found, the sweep is abandoned: `failed`, so that it
//!    does not hold withdrawals back forever);
//! 2. checks every broadcast sweep (so does every withdrawal pass, before it builds): mined
//!    ones become `confirmed`, and one the wallet forgot (it restarted before saving it) is
//!    relayed again, so that no build spends its inputs a second time;
//! 3. when no withdrawal waits and enough small outputs are unlocked ([`SweepPolicy`]): reads
//!    the wallet's balance, scans deposits (so the database knows every deposit that balance
//!    counts), builds the sweep with `do_not_relay`, checks that the platform's own money in
//!    the wallet pays its fee ([`Holdings::covers`]), records it (`signed`), relays it, saves
//!    the wallet and books the fee.
//!
//! Booking is one ledger-writer transaction: the fee transfer hot wallet → network fees, with
//! an id derived from the txid, and the row's `signed → broadcast`. A crash anywhere leaves
//! either a `signed` row (resumed as in 1: booked once the wallet shows the transaction) or a
//! `broadcast` one (booked), never a relayed sweep without a row: the row is written before
//! the first relay.
//!
//! [`SweepPolicy`]: pupero_core::sweep::SweepPolicy
//! [`Holdings::covers`]: pupero_core::reconciliation::Holdings::covers

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pupero_core::sweep::{SweepEvent, SweepState, SweepTransitionError};
use pupero_core::wallet::{OutgoingState, Priority, TxMetadata, WalletError};
use pupero_core::{Piconero, Timestamp, WithdrawalState};
use pupero_ledger::{Attachment, AttachmentError, Batches, Engine};
use sqlx::AnyConnection;

use crate::Market;
use crate::deposits::PlatformWallet;
use crate::store::{StoreError, SweepRow, move_sweep_in};
use crate::withdrawals::DriveError;

/// Sweep transactions resumed or checked per pass.
const MAX_SWEEPS_PER_PASS: usize = 100;

/// Transactions one sweep may make. The wallet splits a sweep by weight (about 150 inputs
/// per transaction); transactions past this are dropped unrelayed, and swept next time.
const MAX_TXS_PER_SWEEP: usize = 16;

/// How often the worker compares the wallet with the ledger when no sweep does.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(10 * 60);

const ABORT_SWEEP_CHANGED: &str = "sweep_changed";

/// Moves a sweep one state on in the transaction of its ledger plan (the fee's booking).
struct SweepMoveAttachment {
    txid: String,
    from: SweepState,
    to: SweepState,
    now: Timestamp,
}

#[async_trait]
impl Attachment for SweepMoveAttachment {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        _: &mut Batches,
    ) -> Result<(), AttachmentError> {
        if move_sweep_in(conn, &self.txid, self.from, self.to, None, None, self.now)
            .await
            .map_err(AttachmentError::from)?
        {
            Ok(())
        } else {
            Err(AttachmentError::Abort(ABORT_SWEEP_CHANGED))
        }
    }
}

/// Why a pass did not sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepSkip {
    /// A sweep is still `signed` (its relay's outcome is unknown): nothing new is built
    /// until it is resolved.
    Unresolved,
    /// Withdrawals wait to be built or relayed; they go first, and need unlocked outputs.
    WithdrawalsWaiting,
    /// Fewer small unlocked outputs than the policy asks for.
    FewOutputs,
    /// The wallet found nothing to sweep, or refused to build it (it cannot pay its fee).
    NothingToSweep,
    /// The platform's own money in the wallet does not pay the fee: users' money would.
    FeeNotCovered,
}

/// What one sweep pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Whether this process held the worker lease (if not, it did nothing).
    pub leader: bool,
    /// Small unlocked outputs the wallet held before sweeping.
    pub small_outputs: usize,
    /// Sweep transactions built and recorded.
    pub signed: usize,
    /// Sweep transactions found or made broadcast, their fees booked.
    pub broadcast: usize,
    /// The fees booked by this pass.
    pub fees_booked: Piconero,
    /// Sweep transactions mined.
    pub confirmed: usize,
    /// Sweep transactions failed (nothing booked).
    pub failed: usize,
    /// Why nothing new was swept, if so.
    pub skipped: Option<SweepSkip>,
}

impl SweepReport {
    /// Whether the pass changed anything.
    pub fn did_something(&self) -> bool {
        self.signed + self.broadcast + self.confirmed + self.failed > 0
    }
}

impl Market {
    /// One sweep pass (see the module's documentation). Does nothing unless this process
    /// holds the worker lease.
    pub async fn sweep(&self) -> Result<SweepReport, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let _one_pass = self.worker_pass.lock().await;
        let mut report = SweepReport::default();
        if !self.still_leader().await? {
            return Ok(report);
        }
        report.leader = true;
        self.wallet_matches_records().await?;
        // The wallet must see the newest blocks: a stale wallet builds from spent outputs.
        wallet.rpc.refresh().await?;
        if self.resume_sweeps(&mut report).await? > 0 {
            report.skipped = Some(SweepSkip::Unresolved);
            return Ok(report);
        }
        if !self.check_broadcast_sweeps(&mut report).await? {
            report.skipped = Some(SweepSkip::Unresolved);
            return Ok(report);
        }

        let waiting = [WithdrawalState::Requested, WithdrawalState::Signed];
        for state in waiting {
            if !self.store.withdrawals_in(state, 1).await?.is_empty() {
                report.skipped = Some(SweepSkip::WithdrawalsWaiting);
                return Ok(report);
            }
        }
        let policy = self.settings.sweep.policy;
        let outputs = wallet.rpc.unspent_outputs(wallet.account).await?;
        report.small_outputs = policy.small_outputs(&outputs);
        if !policy.worth_sweeping(&outputs) {
            report.skipped = Some(SweepSkip::FewOutputs);
            return Ok(report);
        }
        // Read before the sweep is built: a balance that no deposit since the scan inflates.
        let holdings = self.reconcile_with(wallet, true).await?.holdings();
        let destination = wallet.rpc.primary_address(wallet.account).await?;
        self.ensure_leader().await?;
        // Consolidation is never urgent: the lowest fee.
        let built = match wallet
            .rpc
            .sweep_below(
                wallet.account,
                policy.below(),
                &destination,
                Priority::Unimportant,
                true,
            )
            .await
        {
            Ok(built) => built,
            Err(e) if e.is_definitely_not_sent() && !e.is_unavailable() => {
                // Built without relaying: whatever went wrong, nothing was broadcast.
                tracing::warn!(error = %e, outputs = report.small_outputs,
                    "the wallet refused to build the sweep; trying next time");
                report.skipped = Some(SweepSkip::NothingToSweep);
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        if built.is_empty() {
            report.skipped = Some(SweepSkip::NothingToSweep);
            return Ok(report);
        }
        let built = &built[..built.len().min(MAX_TXS_PER_SWEEP)];
        let mut fees = Piconero::ZERO;
        let mut rows = Vec::with_capacity(built.len());
        for tx in built {
            let amount = tx.total().map_err(|_| {
                WalletError::InvalidResponse("a sweep's amounts overflow".to_owned())
            })?;
            fees = fees
                .checked_add(tx.fee)
                .map_err(|_| WalletError::InvalidResponse("a sweep's fees overflow".to_owned()))?;
            rows.push(SweepRow {
                txid: tx.txid.to_string(),
                account: wallet.account,
                tx_key: tx.tx_key.clone(),
                tx_metadata: tx.tx_metadata.as_str().to_owned(),
                amount,
                fee: tx.fee,
                state: SweepState::Signed,
                relay_attempts: 0,
                height: None,
                failure: None,
                created_at: self.now(),
            });
        }
        let covered = holdings
            .covers(fees)
            .map_err(|_| StoreError::Corrupt("balances beyond u64"))?;
        if !covered {
            // Dropped unrelayed: a transaction never relayed has no effect.
            tracing::warn!(fee = %fees, surplus = ?holdings.surplus().ok(),
                "the platform's own money in the wallet does not pay the sweep's fee; not sweeping");
            report.skipped = Some(SweepSkip::FeeNotCovered);
            return Ok(report);
        }
        self.store.record_signed_sweeps(&rows, self.now()).await?;
        self.failpoint("sweep.after_sign").await;
        report.signed = rows.len();
        tracing::info!(transactions = rows.len(), outputs = report.small_outputs, fee = %fees,
            "signed a sweep");
        for row in &rows {
            if !self.still_leader().await? {
                // Recorded: whoever holds the lease now resumes the rest.
                return Ok(report);
            }
            self.resume_sweep(wallet, row, &mut report).await?;
        }
        Ok(report)
    }

    /// Renews the worker lease between wallet calls; false if another process took it.
    async fn still_leader(&self) -> Result<bool, DriveError> {
        Ok(self.take_worker_lease().await?)
    }

    /// Resumes every `signed` sweep; returns how many are still `signed`. The caller holds the
    /// worker's exclusion (lease and `worker_pass`).
    pub(crate) async fn resume_sweeps(
        &self,
        report: &mut SweepReport,
    ) -> Result<usize, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        for sweep in self
            .store
            .sweeps_in(SweepState::Signed, MAX_SWEEPS_PER_PASS)
            .await?
        {
            if !self.still_leader().await? {
                break;
            }
            self.resume_sweep(wallet, &sweep, report).await?;
        }
        Ok(self.store.sweeps_in(SweepState::Signed, 1).await?.len())
    }

    /// Brings a signed sweep to broadcast (booking its fee), or to failed when it certainly
    /// was not, and will not be, broadcast.
    async fn resume_sweep(
        &self,
        wallet: &PlatformWallet,
        sweep: &SweepRow,
        report: &mut SweepReport,
    ) -> Result<(), DriveError> {
        let machine = sweep.machine()?;
        match wallet.rpc.outgoing_transfer(*machine.txid()).await? {
            Some(status) if status.state != OutgoingState::Failed => {
                // Relayed before (by this pass, or by one that crashed or lost the answer):
                // book, never relay again.
                self.book_sweep(sweep, report).await?;
                return Ok(());
            }
            Some(_) => {
                // Relayed, then dropped by the network: nothing was paid, and the wallet
                // spends those outputs again.
                let Ok((next, _)) = machine.apply(SweepEvent::Dropped, self.now()) else {
                    return Ok(());
                };
                if self
                    .store
                    .move_sweep(
                        &sweep.txid,
                        sweep.state,
                        next.state(),
                        None,
                        Some("the network dropped the transaction"),
                        self.now(),
                    )
                    .await?
                {
                    tracing::warn!(txid = %sweep.txid, "a sweep was dropped by the network; nothing booked");
                    report.failed += 1;
                }
                return Ok(());
            }
            None => {}
        }
        let metadata = TxMetadata::from_hex(&sweep.tx_metadata)
            .ok_or(StoreError::Corrupt("sweep tx metadata"))?;
        self.ensure_leader().await?;
        if !self
            .store
            .count_sweep_relay(&sweep.txid, self.now())
            .await?
        {
            // Final meanwhile: nothing to relay.
            return Ok(());
        }
        let attempts = sweep.relay_attempts.saturating_add(1);
        match wallet.rpc.relay(&metadata).await {
            Ok(_) => {
                self.failpoint("sweep.after_relay").await;
                if let Err(e) = wallet.rpc.store().await {
                    tracing::warn!(error = %e, "saving the wallet after a sweep's relay failed");
                }
                self.book_sweep(sweep, report).await?;
            }
            Err(e) => {
                if e.is_definitely_not_sent() && !e.is_unavailable() {
                    // Only a first attempt's refusal is certain: after an unknown outcome the
                    // transaction may be in the pool, and a later relay is refused as its
                    // double (the core says which: `MayHaveBeenBroadcast`).
                    let refused = SweepEvent::Refused {
                        relay_attempts: attempts,
                    };
                    match machine.clone().apply(refused, self.now()) {
                        Ok((next, _)) => {
                            if self
                                .store
                                .move_sweep(
                                    &sweep.txid,
                                    sweep.state,
                                    next.state(),
                                    None,
                                    Some(&e.to_string()),
                                    self.now(),
                                )
                                .await?
                            {
                                tracing::warn!(txid = %sweep.txid, error = %e, "the wallet refused to relay a sweep; nothing booked");
                                report.failed += 1;
                            }
                            return Ok(());
                        }
                        Err(SweepTransitionError::MayHaveBeenBroadcast { .. }) => {}
                        // Moved meanwhile.
                        Err(_) => return Ok(()),
                    }
                }
                let abandoned = SweepEvent::Abandoned {
                    relay_attempts: attempts,
                };
                if let Ok((next, _)) = machine.apply(abandoned, self.now())
                    && self
                        .store
                        .move_sweep(
                            &sweep.txid,
                            sweep.state,
                            next.state(),
                            None,
                            Some(&format!("abandoned after {attempts} relays: {e}")),
                            self.now(),
                        )
                        .await?
                {
                    tracing::error!(txid = %sweep.txid, attempts, error = %e,
                        "a sweep the wallet never got onto the network is abandoned; nothing booked");
                    report.failed += 1;
                    return Ok(());
                }
                // Unknown (or the wallet is away): it may be on its way. The next pass looks
                // for it before relaying again.
                tracing::warn!(txid = %sweep.txid, error = %e, "sweep relay outcome unknown; checking again next pass");
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Signed → broadcast with the fee's booking, in one transaction; false if another pass
    /// moved it first (then that pass booked it).
    async fn book_sweep(
        &self,
        sweep: &SweepRow,
        report: &mut SweepReport,
    ) -> Result<bool, DriveError> {
        let (next, plan) = match sweep.machine()?.apply(SweepEvent::Broadcast, self.now()) {
            Ok(step) => step,
            // Moved meanwhile by another pass, which booked it.
            Err(e) if e.is_invalid_transition() => return Ok(false),
            Err(e) => unreachable!("{e}: broadcasting a signed sweep has no other terms"),
        };
        let attachment = SweepMoveAttachment {
            txid: sweep.txid.clone(),
            from: sweep.state,
            to: next.state(),
            now: self.now(),
        };
        match self.ledger.transfer_attached(plan, attachment).await {
            Ok(_) => {
                report.broadcast += 1;
                report.fees_booked = report
                    .fees_booked
                    .checked_add(sweep.fee)
                    .unwrap_or(Piconero::MAX);
                tracing::info!(txid = %sweep.txid, fee = %sweep.fee, amount = %sweep.amount,
                    "sweep broadcast; its fee is booked to network fees");
                Ok(true)
            }
            Err(pupero_ledger::Error::Aborted(ABORT_SWEEP_CHANGED)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks every broadcast sweep, before anything is built: mined ones become
    /// `confirmed`; one the wallet forgot (it restarted before saving it, while the sweep
    /// waited in the pool) is relayed again — the same transaction, only while the wallet does
    /// not know it — and the wallet saved, because a wallet that forgot it sees its inputs
    /// unspent and would build a double spend of them, refused with an unknown outcome for
    /// ever. False if there were more than a pass checks (then build nothing this pass). The
    /// caller holds the worker's exclusion.
    pub(crate) async fn check_broadcast_sweeps(
        &self,
        report: &mut SweepReport,
    ) -> Result<bool, DriveError> {
        let wallet = self.wallet.as_ref().ok_or(DriveError::NoWallet)?;
        let broadcast = self
            .store
            .sweeps_in(SweepState::Broadcast, MAX_SWEEPS_PER_PASS)
            .await?;
        let all_checked = broadcast.len() < MAX_SWEEPS_PER_PASS;
        for sweep in broadcast {
            let machine = sweep.machine()?;
            match wallet.rpc.outgoing_transfer(*machine.txid()).await? {
                Some(status) => match status.state {
                    OutgoingState::Confirmed { height, .. } => {
                        let Ok((next, _)) = machine.apply(SweepEvent::Confirmed, self.now()) else {
                            continue;
                        };
                        if self
                            .store
                            .move_sweep(
                                &sweep.txid,
                                sweep.state,
                                next.state(),
                                Some(height),
                                None,
                                self.now(),
                            )
                            .await?
                        {
                            report.confirmed += 1;
                        }
                    }
                    OutgoingState::Pool => {}
                    OutgoingState::Failed => {
                        tracing::error!(txid = %sweep.txid, fee = %sweep.fee,
                            "a broadcast sweep was dropped by the network: its fee is booked but was not paid; needs an operator");
                    }
                },
                None => {
                    tracing::warn!(txid = %sweep.txid, "the wallet forgot a broadcast sweep; relaying it again");
                    let metadata = TxMetadata::from_hex(&sweep.tx_metadata)
                        .ok_or(StoreError::Corrupt("sweep tx metadata"))?;
                    self.ensure_leader().await?;
                    if !self
                        .store
                        .count_sweep_relay(&sweep.txid, self.now())
                        .await?
                    {
                        // Final meanwhile: nothing to relay.
                        continue;
                    }
                    wallet.rpc.relay(&metadata).await?;
                    wallet.rpc.store().await?;
                }
            }
        }
        Ok(all_checked)
    }
}

/// Runs the sweeper and the reconciliation check forever: a sweep pass every
/// `PUPERO_SWEEP_INTERVAL_SECS` (unless 0) followed by a check, and a check every
/// [`RECONCILE_INTERVAL`].
pub async fn run_sweeper(state: Arc<Market>) {
    if state.wallet.is_none() {
        return;
    }
    let start = tokio::time::Instant::now();
    let mut check = tokio::time::interval_at(start + RECONCILE_INTERVAL, RECONCILE_INTERVAL);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = Duration::from_secs(state.settings.sweep.interval_secs);
    let mut sweep = (!every.is_zero()).then(|| {
        let mut tick = tokio::time::interval_at(start + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    loop {
        let sweep_due = async {
            match sweep.as_mut() {
                Some(tick) => {
                    tick.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = check.tick() => {}
            () = sweep_due => match state.sweep().await {
                Ok(report) if report.did_something() => tracing::info!(?report, "sweep pass"),
                Ok(report) => tracing::debug!(?report, "sweep pass"),
                Err(e) => tracing::warn!(error = %e, "sweep pass stopped; resuming next pass"),
            },
        }
        state.check_reconciliation().await;
    }
}
