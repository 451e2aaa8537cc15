//! Deposits: each user's subaddress, and the scanner that credits what arrives on it.
//!
//! The scanner ([`Market::scan_deposits`]) asks the wallet for incoming transfers from a
//! height [`scan_from`] below both its last scan and the oldest pending deposit, records each
//! under its key (txid, subaddress), marks gone the pending ones it should have seen and did
//! not, and credits the ones deep enough through the ledger. The credit's transfer id is
//! derived from the key and the row moves to `credited` in the same database transaction, so
//! a deposit is credited once however often it is scanned, by however many processes. Every
//! change of a row commits with its owner's event (`deposit_seen`, `deposit_confirmations`,
//! `deposit_credited`, `deposit_gone`), so each change is told once; a sighting that changes
//! nothing writes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pupero_core::deposit::{deposit_transfer_id, expected_in_scan, scan_from};
use pupero_core::ledger::{NewTransfer, TransferCode, TransferOp};
use pupero_core::{AccountId, DepositStatus, Piconero, Sighting, Timestamp, UserId};
use pupero_ledger::{Attachment, AttachmentError, Batches, Engine};
use pupero_wallet::{IncomingTransfer, WalletRpc};
use sqlx::AnyConnection;

use crate::Market;
use crate::error::{Error, ErrorKind};
use crate::events::{EventBatch, EventKind, NewEvent, insert_events_in};
use crate::store::{
    DepositAddressRow, DepositRef, DepositRow, SeenDeposit, SightingChange, StoreError,
    mark_deposit_credited_in, mark_deposit_gone_in, record_sighting_in, sighting_unchanged,
};

/// Why a credit did not happen: the deposit was no longer pending in the database.
const ABORT_NOT_PENDING: &str = "deposit_not_pending";

/// The wallet's last fee estimate: when it was asked, and its answer.
pub(crate) type FeeEstimateCache = Option<(pupero_core::Timestamp, Option<pupero_core::Piconero>)>;

/// The platform's wallet as the server uses it.
pub struct PlatformWallet {
    /// The wallet.
    pub rpc: Arc<dyn WalletRpc>,
    /// The account holding users' money.
    pub account: u32,
    /// Serialises subaddress creation in this process, so two first requests of one user do
    /// not make two subaddresses.
    address_lock: tokio::sync::Mutex<()>,
    /// The primary address of `account`, once the wallet told it.
    primary: tokio::sync::OnceCell<pupero_core::MoneroAddress>,
    /// Set once the wallet was found to have made every subaddress handed out
    /// ([`Market::wallet_matches_records`]).
    pub(crate) records_checked: tokio::sync::OnceCell<()>,
    /// The wallet client's call statistics, when it keeps them (`monero-wallet-rpc`'s does).
    pub calls: Option<Arc<pupero_wallet::CallStats>>,
    /// When the wallet was last asked for a withdrawal's fee estimate and what it said
    /// (`None`: no estimate), for `crate::withdrawals`; the lock makes concurrent requests
    /// wait for one answer.
    pub(crate) fee_estimate: tokio::sync::Mutex<FeeEstimateCache>,
}

impl std::fmt::Debug for PlatformWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformWallet")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl PlatformWallet {
    /// The wallet `rpc`, holding users' money in `account`.
    pub fn new(rpc: Arc<dyn WalletRpc>, account: u32) -> PlatformWallet {
        PlatformWallet {
            rpc,
            account,
            address_lock: tokio::sync::Mutex::new(()),
            fee_estimate: tokio::sync::Mutex::new(None),
            primary: tokio::sync::OnceCell::new(),
            records_checked: tokio::sync::OnceCell::new(),
            calls: None,
        }
    }

    /// The primary address of the account, asked of the wallet once.
    pub async fn primary_address(&self) -> pupero_wallet::Result<&pupero_core::MoneroAddress> {
        self.primary
            .get_or_try_init(|| self.rpc.primary_address(self.account))
            .await
    }

    /// The primary address of the account if the wallet told it already.
    pub fn known_primary_address(&self) -> Option<&pupero_core::MoneroAddress> {
        self.primary.get()
    }
}

/// What one scan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// The height the scan read from.
    pub from: u64,
    /// The wallet's height after its refresh.
    pub height: u64,
    /// Incoming transfers to users' subaddresses seen (pool included).
    pub seen: usize,
    /// Deposits credited by this scan.
    pub credited: usize,
    /// Pending deposits found gone.
    pub gone: usize,
}

/// 503 `WALLET_UNAVAILABLE`.
pub fn wallet_unavailable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::WalletUnavailable, message.into())
}

/// The wallet's failure as the API shows it: the wallet is down or failing, try later.
pub fn wallet_error(error: &pupero_wallet::Error) -> Error {
    tracing::warn!(error = %crate::error::chain(error), "wallet call failed");
    wallet_unavailable("the wallet is unavailable; try again later")
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No wallet is configured.
    #[error("no wallet is configured")]
    NoWallet,
    /// The wallet failed.
    #[error("wallet: {0}")]
    Wallet(#[from] pupero_wallet::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] pupero_ledger::Error),
    /// The wallet has another address at the index of a subaddress handed out: it is not the
    /// wallet that made them.
    #[error("the wallet has another address at subaddress index {index} than was handed out")]
    WrongWallet {
        /// The index compared.
        index: u32,
    },
}

/// What a deposit's events say: the deposit, and how deep it is against how deep it must be.
fn deposit_payload(
    key: &DepositRef,
    amount: Piconero,
    sighting: &Sighting,
    required: u64,
) -> serde_json::Value {
    serde_json::json!({
        "txid": key.txid,
        "amount": amount.to_xmr_string(),
        "confirmations": sighting.confirmations,
        "required": required,
        "height": sighting.height,
    })
}

/// Moves a deposit's row to `credited`, with its events, in the credit's transaction.
struct CreditAttachment {
    key: DepositRef,
    user: UserId,
    amount: Piconero,
    sighting: Sighting,
    required: u64,
    now: Timestamp,
}

#[async_trait]
impl Attachment for CreditAttachment {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        if !mark_deposit_credited_in(conn, &self.key, self.now)
            .await
            .map_err(AttachmentError::from)?
        {
            return Err(AttachmentError::Abort(ABORT_NOT_PENDING));
        }
        let events = [
            NewEvent {
                user: self.user,
                kind: EventKind::DepositCredited,
                trade: None,
                payload: deposit_payload(&self.key, self.amount, &self.sighting, self.required),
            },
            NewEvent {
                user: self.user,
                kind: EventKind::BalanceChanged,
                trade: None,
                payload: serde_json::json!({
                    "deposit": { "txid": self.key.txid, "amount": self.amount.to_xmr_string() },
                }),
            },
        ];
        batches
            .get::<EventBatch>()
            .push(&events, self.now)
            .map_err(AttachmentError::from)?;
        Ok(())
    }
}

fn sighting(transfer: &IncomingTransfer) -> Sighting {
    Sighting {
        height: transfer.height,
        confirmations: transfer.confirmations,
        locked: transfer.locked,
        unlock_time: transfer.unlock_time,
        double_spend_seen: transfer.double_spend_seen,
    }
}

impl Market {
    /// The platform wallet, or 503 `WALLET_UNAVAILABLE` when none is configured.
    pub fn platform_wallet(&self) -> Result<&PlatformWallet, Error> {
        self.wallet
            .as_ref()
            .ok_or_else(|| wallet_unavailable("this server has no wallet configured"))
    }

    /// `user`'s deposit subaddress, made in the wallet on first request.
    ///
    /// The wallet makes subaddresses one after another and widens its own look-ahead as it
    /// does, so every subaddress stored here is one it watches; a wallet restored from its
    /// seed is first brought back to the highest one stored ([`crate::restored_wallet`]).
    pub async fn deposit_address(&self, user: UserId) -> Result<DepositAddressRow, Error> {
        if let Some(row) = self.store.deposit_address(user).await? {
            return Ok(row);
        }
        let wallet = self.platform_wallet()?;
        self.wallet_matches_records().await.map_err(|e| match e {
            ScanError::Wallet(e) => wallet_error(&e),
            ScanError::Store(e) => e.into(),
            ScanError::Ledger(e) => e.into(),
            ScanError::NoWallet | ScanError::WrongWallet { .. } => {
                wallet_unavailable(e.to_string())
            }
        })?;
        let _one_at_a_time = wallet.address_lock.lock().await;
        if let Some(row) = self.store.deposit_address(user).await? {
            return Ok(row);
        }
        let made = wallet
            .rpc
            .create_subaddress(wallet.account, &user.to_string())
            .await
            .map_err(|e| wallet_error(&e))?;
        // Saved before it is handed out: a wallet restarted without saving would make the
        // same index again, for someone else.
        wallet.rpc.store().await.map_err(|e| wallet_error(&e))?;
        if made.index.index == 0 {
            return Err(Error::internal(&StoreError::Corrupt(
                "the wallet returned its primary address as a new subaddress",
            )));
        }
        let row = DepositAddressRow {
            user,
            account: made.index.account,
            index: made.index.index,
            address: made.address.to_string(),
            created_at: self.now(),
        };
        if self.store.insert_deposit_address(&row).await? {
            tracing::info!(%user, index = row.index, "made a deposit subaddress");
            return Ok(row);
        }
        // Another process made one first: its is the user's; ours stays unused.
        self.store
            .deposit_address(user)
            .await?
            .ok_or_else(|| Error::internal(&StoreError::Corrupt("deposit address vanished")))
    }

    /// One deposit scan: reads the wallet, records every deposit, credits the ones with
    /// enough confirmations, and marks gone the pending ones the chain no longer has. Each
    /// change is written with the owner's event in one database transaction.
    pub async fn scan_deposits(&self) -> Result<ScanReport, ScanError> {
        let wallet = self.wallet.as_ref().ok_or(ScanError::NoWallet)?;
        let account = wallet.account;
        self.wallet_matches_records().await?;
        wallet.rpc.refresh().await?;
        let height = wallet.rpc.height().await?;
        let pending = self.store.pending_deposits(account).await?;
        let oldest = pending.iter().filter_map(|d| d.sighting.height).min();
        let from = scan_from(self.store.scanned_to(account).await?, oldest);
        let incoming = wallet.rpc.incoming_transfers(account, from).await?;

        let mut indices: Vec<u32> = incoming
            .iter()
            .filter(|t| t.subaddress.account == account && !t.coinbase)
            .map(|t| t.subaddress.index)
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let owners = self.store.deposit_address_owners(account, &indices).await?;

        let now = self.now();
        let mut report = ScanReport {
            from,
            height,
            ..ScanReport::default()
        };
        let known: HashMap<&DepositRef, &DepositRow> =
            pending.iter().map(|row| (&row.key, row)).collect();
        let mut seen = Vec::new();
        for transfer in &incoming {
            if transfer.coinbase || transfer.subaddress.account != account {
                continue;
            }
            let Some(user) = owners.get(&transfer.subaddress.index) else {
                // The primary address or a subaddress nobody was given: not a user's deposit.
                continue;
            };
            let deposit = SeenDeposit {
                key: DepositRef {
                    txid: transfer.txid.to_string(),
                    account,
                    index: transfer.subaddress.index,
                },
                user: *user,
                amount: transfer.amount,
                sighting: sighting(transfer),
            };
            // Most sightings in the window are what the last scan recorded (every deposit of
            // the last 30 blocks is listed again): compared with the row first, they cost a
            // read, or nothing for a pending one, instead of a write transaction each.
            let unchanged = match known.get(&deposit.key) {
                Some(row) => sighting_unchanged(row, &deposit.sighting),
                None => self
                    .store
                    .deposit(&deposit.key)
                    .await?
                    .is_some_and(|row| sighting_unchanged(&row, &deposit.sighting)),
            };
            if !unchanged {
                self.record_sighting(&deposit, now).await?;
            }
            seen.push(deposit);
        }
        report.seen = seen.len();

        let listed: std::collections::HashSet<&DepositRef> = seen.iter().map(|s| &s.key).collect();
        for old in &pending {
            if !listed.contains(&old.key)
                && expected_in_scan(old.sighting.height, from)
                && self.mark_gone(old, now).await?
            {
                tracing::warn!(txid = %old.key.txid, index = old.key.index,
                    "a pending deposit disappeared from the chain and the pool");
                report.gone += 1;
            }
        }

        for deposit in &seen {
            if !self.settings.deposits.ready(&deposit.sighting) {
                continue;
            }
            if self.credit_deposit(deposit).await? {
                report.credited += 1;
            }
        }
        self.store.set_scanned_to(account, height, now).await?;
        self.wallet_health.scanned(height, now);
        Ok(report)
    }

    /// Records `deposit` as the wallet sees it now, with its owner's event when they should
    /// hear of the change (seen, or its confirmations moved).
    async fn record_sighting(
        &self,
        deposit: &SeenDeposit,
        now: Timestamp,
    ) -> Result<SightingChange, ScanError> {
        let mut db = self.store.begin_write().await?;
        let change = record_sighting_in(&mut db, deposit, now).await?;
        let kind = match change {
            SightingChange::New | SightingChange::Reappeared => Some(EventKind::DepositSeen),
            SightingChange::Confirmations => Some(EventKind::DepositConfirmations),
            SightingChange::Unchanged | SightingChange::Quiet => None,
        };
        let required = self.settings.deposits.confirmations();
        let events: Vec<NewEvent> = kind
            .map(|kind| NewEvent {
                user: deposit.user,
                kind,
                trade: None,
                payload: deposit_payload(&deposit.key, deposit.amount, &deposit.sighting, required),
            })
            .into_iter()
            .collect();
        insert_events_in(&mut db, &events, now).await?;
        db.commit().await.map_err(StoreError::from)?;
        if !events.is_empty() {
            self.events.notify([deposit.user]);
        }
        Ok(change)
    }

    /// Marks pending deposit `old` gone, with its owner's event; false if it was no longer
    /// pending.
    async fn mark_gone(&self, old: &DepositRow, now: Timestamp) -> Result<bool, ScanError> {
        let mut db = self.store.begin_write().await?;
        if !mark_deposit_gone_in(&mut db, &old.key, now).await? {
            db.rollback().await.map_err(StoreError::from)?;
            return Ok(false);
        }
        let gone = Sighting {
            height: None,
            confirmations: 0,
            ..old.sighting
        };
        let event = NewEvent {
            user: old.user,
            kind: EventKind::DepositGone,
            trade: None,
            payload: deposit_payload(
                &old.key,
                old.amount,
                &gone,
                self.settings.deposits.confirmations(),
            ),
        };
        insert_events_in(&mut db, &[event], now).await?;
        db.commit().await.map_err(StoreError::from)?;
        self.events.notify([old.user]);
        Ok(true)
    }

    /// Credits `deposit` to its owner unless it already was; true if this call credited it.
    async fn credit_deposit(&self, deposit: &SeenDeposit) -> Result<bool, ScanError> {
        match self.store.deposit(&deposit.key).await? {
            Some(row) if row.status == DepositStatus::Pending => {}
            _ => return Ok(false),
        }
        let txid = pupero_wallet::Txid::from_hex(&deposit.key.txid)
            .ok_or(StoreError::Corrupt("deposit txid"))?;
        let transfer = NewTransfer::xmr(
            deposit_transfer_id(txid.as_bytes(), deposit.key.account, deposit.key.index),
            TransferOp::Single {
                debit: AccountId::hot_wallet(),
                credit: AccountId::user_xmr(deposit.user),
                amount: deposit.amount,
            },
            TransferCode::Deposit,
        );
        let attachment = CreditAttachment {
            key: deposit.key.clone(),
            user: deposit.user,
            amount: deposit.amount,
            sighting: deposit.sighting,
            required: self.settings.deposits.confirmations(),
            now: self.now(),
        };
        match self
            .ledger
            .transfer_attached(vec![transfer], attachment)
            .await
        {
            Ok(_) => {
                tracing::info!(txid = %deposit.key.txid, user = %deposit.user,
                    amount = %deposit.amount, "credited a deposit");
                self.events.notify([deposit.user]);
                Ok(true)
            }
            Err(pupero_ledger::Error::Aborted(ABORT_NOT_PENDING)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
