//! [`LedgerBook`]: the ledger's rules applied to an in-memory working set.
//!
//! A storage adapter loads the accounts, transfers and pending statuses a batch touches into a
//! book, lets the book decide every transfer, then writes back [`LedgerBook::changes`]. The
//! rules live here once, for every engine; the adapters only persist.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{
    Account, AccountError, AccountFlags, AccountResult, Balances, LedgerId, NewAccount,
    NewTransfer, Outcome, PendingStatus, Transfer, TransferCode, TransferError, TransferKind,
    TransferOp, TransferResult,
};
use crate::clock::Timestamp;
use crate::ids::{AccountId, TransferId};
use crate::limits::{MAX_ACCOUNT_COUNTER, MAX_PENDING_TIMEOUT_SECS};
use crate::money::Piconero;

/// An in-memory working set of the ledger, and the rules that change it.
#[derive(Debug, Default, Clone)]
pub struct LedgerBook {
    accounts: HashMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    pending: HashMap<TransferId, PendingStatus>,
    new_accounts: Vec<AccountId>,
    new_transfers: Vec<TransferId>,
    dirty_accounts: BTreeSet<AccountId>,
    dirty_pending: BTreeSet<TransferId>,
}

/// What a book changed, for an adapter to persist in one database transaction.
#[derive(Debug)]
pub struct Changes<'a> {
    /// Accounts created, with their balances after the batch.
    pub new_accounts: Vec<&'a Account>,
    /// Accounts that existed before and whose balances changed (absolute values).
    pub updated_accounts: Vec<&'a Account>,
    /// Transfers created, in the order they were applied.
    pub new_transfers: Vec<&'a Transfer>,
    /// Pending transfers whose status was set: `(pending transfer, status, created now)`.
    pub pending: Vec<(&'a Transfer, PendingStatus, bool)>,
}

/// An undo record, so that a failed linked chain leaves no trace.
enum Undo {
    Account(Account),
    NewAccount(AccountId),
    Pending(TransferId, Option<PendingStatus>),
    NewTransfer(TransferId),
    /// The chain was first to mark this account as changed.
    MarkedAccount(AccountId),
    /// The chain was first to mark this pending status as changed.
    MarkedPending(TransferId),
}

impl LedgerBook {
    /// An empty book.
    pub fn new() -> LedgerBook {
        LedgerBook::default()
    }

    /// Loads an existing account into the working set.
    pub fn load_account(&mut self, account: Account) {
        self.accounts.insert(account.id(), account);
    }

    /// Loads an existing transfer into the working set.
    pub fn load_transfer(&mut self, transfer: Transfer) {
        self.transfers.insert(transfer.id, transfer);
    }

    /// Loads the status of an existing pending transfer into the working set.
    pub fn load_pending_status(&mut self, pending_id: TransferId, status: PendingStatus) {
        self.pending.insert(pending_id, status);
    }

    /// An account of the working set.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// A transfer of the working set.
    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    /// The status of a pending transfer of the working set.
    pub fn pending_status(&self, id: TransferId) -> Option<PendingStatus> {
        self.pending.get(&id).copied()
    }

    /// Every account of the working set.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Pending transfers that are still pending and expired at `now`, oldest first.
    pub fn expired_pending(&self, now: Timestamp) -> Vec<TransferId> {
        let mut due: Vec<(Timestamp, TransferId)> = self
            .pending
            .iter()
            .filter(|(_, status)| **status == PendingStatus::Pending)
            .filter_map(|(id, _)| {
                let expires = self.transfers.get(id)?.expires_at()?;
                (expires <= now).then_some((expires, *id))
            })
            .collect();
        due.sort();
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// What this book changed since it was loaded.
    pub fn changes(&self) -> Changes<'_> {
        let new_accounts: BTreeSet<AccountId> = self.new_accounts.iter().copied().collect();
        Changes {
            new_accounts: self
                .new_accounts
                .iter()
                .filter_map(|id| self.accounts.get(id))
                .collect(),
            updated_accounts: self
                .dirty_accounts
                .iter()
                .filter(|id| !new_accounts.contains(id))
                .filter_map(|id| self.accounts.get(id))
                .collect(),
            new_transfers: self
                .new_transfers
                .iter()
                .filter_map(|id| self.transfers.get(id))
                .collect(),
            pending: self
                .dirty_pending
                .iter()
                .filter_map(|id| {
                    let transfer = self.transfers.get(id)?;
                    let status = *self.pending.get(id)?;
                    Some((transfer, status, self.new_transfers.contains(id)))
                })
                .collect(),
        }
    }

    /// Whether anything changed.
    pub fn is_dirty(&self) -> bool {
        !self.new_accounts.is_empty()
            || !self.new_transfers.is_empty()
            || !self.dirty_accounts.is_empty()
    }

    /// Per ledger, Σ debits and Σ credits (pending and posted) over the accounts of the book.
    /// When the book holds every account of a ledger, the two are equal.
    pub fn totals(&self) -> BTreeMap<LedgerId, (Balances, Balances)> {
        let mut totals: BTreeMap<LedgerId, (u128, u128, u128, u128)> = BTreeMap::new();
        for a in self.accounts.values() {
            let b = a.balances();
            let t = totals.entry(a.ledger()).or_default();
            t.0 += u128::from(b.debits_pending.as_u64());
            t.1 += u128::from(b.debits_posted.as_u64());
            t.2 += u128::from(b.credits_pending.as_u64());
            t.3 += u128::from(b.credits_posted.as_u64());
        }
        let clamp = |v: u128| Piconero::new(u64::try_from(v).unwrap_or(u64::MAX));
        totals
            .into_iter()
            .map(|(ledger, (dp, dpo, cp, cpo))| {
                let debits = Balances {
                    debits_pending: clamp(dp),
                    debits_posted: clamp(dpo),
                    ..Balances::default()
                };
                let credits = Balances {
                    credits_pending: clamp(cp),
                    credits_posted: clamp(cpo),
                    ..Balances::default()
                };
                (ledger, (debits, credits))
            })
            .collect()
    }

    /// Creates accounts. Each result is in the position of its request.
    pub fn create_accounts(&mut self, batch: &[NewAccount], now: Timestamp) -> Vec<AccountResult> {
        batch.iter().map(|a| self.create_account(a, now)).collect()
    }

    fn create_account(&mut self, new: &NewAccount, now: Timestamp) -> AccountResult {
        if new.id.is_nil() {
            return Err(AccountError::IdMustNotBeZero);
        }
        let both = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS
            .union(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS);
        if new.flags.contains(both) {
            return Err(AccountError::FlagsAreMutuallyExclusive);
        }
        if let Some(existing) = self.accounts.get(&new.id) {
            let same = existing.ledger() == new.ledger
                && existing.code() == new.code
                && existing.flags() == new.flags;
            return if same {
                Ok(Outcome::AlreadyExisted)
            } else {
                Err(AccountError::ExistsWithDifferentFields)
            };
        }
        let account = Account::from_parts(
            new.id,
            new.ledger,
            new.code,
            new.flags,
            Balances::default(),
            now,
        );
        self.accounts.insert(new.id, account);
        self.new_accounts.push(new.id);
        Ok(Outcome::Created)
    }

    /// Creates transfers, honouring linked chains. Each result is in the position of its
    /// request; a failed chain leaves the book as it was before the chain.
    pub fn create_transfers(
        &mut self,
        batch: &[NewTransfer],
        now: Timestamp,
    ) -> Vec<TransferResult> {
        let mut results: Vec<TransferResult> = Vec::with_capacity(batch.len());
        let mut start = 0;
        while start < batch.len() {
            let Some(end) = batch[start..]
                .iter()
                .position(|t| !t.linked)
                .map(|p| start + p)
            else {
                // The chain is never closed: refuse all of it without applying anything.
                for _ in start..batch.len() - 1 {
                    results.push(Err(TransferError::LinkedEventFailed));
                }
                results.push(Err(TransferError::LinkedEventChainOpen));
                break;
            };
            let mut undo = Vec::new();
            let mut failure = None;
            for (offset, transfer) in batch[start..=end].iter().enumerate() {
                match self.apply(transfer, now, &mut undo) {
                    Ok(outcome) => results.push(Ok(outcome)),
                    Err(error) => {
                        failure = Some((start + offset, error));
                        break;
                    }
                }
            }
            if let Some((failed_at, error)) = failure {
                self.rollback(undo);
                results.truncate(start);
                for i in start..=end {
                    results.push(Err(if i == failed_at {
                        error
                    } else {
                        TransferError::LinkedEventFailed
                    }));
                }
            }
            start = end + 1;
        }
        debug_assert_eq!(results.len(), batch.len());
        results
    }

    /// Expires a pending transfer whose timeout passed at `now`, returning its reservation to
    /// the debit account. Idempotent: expiring it again reports [`Outcome::AlreadyExisted`].
    pub fn expire(&mut self, pending_id: TransferId, now: Timestamp) -> TransferResult {
        let id = expiry_id(pending_id);
        if let Some(existing) = self.transfers.get(&id) {
            debug_assert_eq!(existing.kind, TransferKind::Expiry);
            return Ok(Outcome::AlreadyExisted);
        }
        let pending = self.pending_to_resolve(pending_id, None)?;
        match pending.expires_at() {
            Some(at) if at <= now => {}
            _ => return Err(TransferError::PendingTransferNotPending),
        }
        let mut undo = Vec::new();
        let result = self.resolve(
            id,
            &pending,
            None,
            pending.code,
            0,
            TransferKind::Expiry,
            now,
            &mut undo,
        );
        if result.is_err() {
            self.rollback(undo);
        }
        result
    }

    fn rollback(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Account(previous) => {
                    self.accounts.insert(previous.id(), previous);
                }
                Undo::NewAccount(id) => {
                    self.accounts.remove(&id);
                    self.new_accounts.retain(|a| *a != id);
                }
                Undo::Pending(id, Some(previous)) => {
                    self.pending.insert(id, previous);
                }
                Undo::Pending(id, None) => {
                    self.pending.remove(&id);
                }
                Undo::MarkedAccount(id) => {
                    self.dirty_accounts.remove(&id);
                }
                Undo::MarkedPending(id) => {
                    self.dirty_pending.remove(&id);
                }
                Undo::NewTransfer(id) => {
                    self.transfers.remove(&id);
                    let popped = self.new_transfers.pop();
                    debug_assert_eq!(popped, Some(id), "transfers are undone in reverse order");
                }
            }
        }
    }

    fn apply(&mut self, t: &NewTransfer, now: Timestamp, undo: &mut Vec<Undo>) -> TransferResult {
        if t.id.is_nil() {
            return Err(TransferError::IdMustNotBeZero);
        }
        if t.pending_id() == Some(t.id) {
            return Err(TransferError::PendingIdMustBeDifferent);
        }
        if let Some(existing) = self.transfers.get(&t.id) {
            // A retried "post everything" matches only if everything was posted.
            let pending_amount = t
                .pending_id()
                .and_then(|p| self.transfers.get(&p))
                .map(|p| p.amount);
            return if same_request(existing, t, pending_amount) {
                Ok(Outcome::AlreadyExisted)
            } else {
                Err(TransferError::ExistsWithDifferentFields)
            };
        }
        match t.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            } => self.open(t, debit, credit, amount, 0, TransferKind::Single, now, undo),
            TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            } => {
                if timeout_secs > MAX_PENDING_TIMEOUT_SECS {
                    return Err(TransferError::TimeoutTooLong);
                }
                self.open(
                    t,
                    debit,
                    credit,
                    amount,
                    timeout_secs,
                    TransferKind::Pending,
                    now,
                    undo,
                )
            }
            TransferOp::Post { pending_id, amount } => {
                let pending = self.pending_to_resolve(pending_id, Some(now))?;
                if pending.ledger != t.ledger {
                    return Err(TransferError::LedgerMismatch);
                }
                let amount = amount.unwrap_or(pending.amount);
                if amount.is_zero() {
                    return Err(TransferError::AmountMustNotBeZero);
                }
                if amount > pending.amount {
                    return Err(TransferError::ExceedsPendingTransferAmount);
                }
                self.resolve(
                    t.id,
                    &pending,
                    Some(amount),
                    t.code,
                    t.user_data,
                    TransferKind::Post,
                    now,
                    undo,
                )
            }
            TransferOp::Void { pending_id } => {
                let pending = self.pending_to_resolve(pending_id, Some(now))?;
                if pending.ledger != t.ledger {
                    return Err(TransferError::LedgerMismatch);
                }
                self.resolve(
                    t.id,
                    &pending,
                    None,
                    t.code,
                    t.user_data,
                    TransferKind::Void,
                    now,
                    undo,
                )
            }
        }
    }

    /// Applies a single or pending transfer.
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        t: &NewTransfer,
        debit_id: AccountId,
        credit_id: AccountId,
        amount: Piconero,
        timeout_secs: u32,
        kind: TransferKind,
        now: Timestamp,
        undo: &mut Vec<Undo>,
    ) -> TransferResult {
        if amount.is_zero() {
            return Err(TransferError::AmountMustNotBeZero);
        }
        if debit_id == credit_id {
            return Err(TransferError::AccountsMustBeDifferent);
        }
        let debit = *self
            .accounts
            .get(&debit_id)
            .ok_or(TransferError::DebitAccountNotFound)?;
        let credit = *self
            .accounts
            .get(&credit_id)
            .ok_or(TransferError::CreditAccountNotFound)?;
        if debit.ledger() != t.ledger || credit.ledger() != t.ledger {
            return Err(TransferError::LedgerMismatch);
        }
        let pending = kind == TransferKind::Pending;
        let new_debit = change(&debit, |b| {
            let side = if pending {
                &mut b.debits_pending
            } else {
                &mut b.debits_posted
            };
            *side = add(*side, amount)?;
            Ok(())
        })?;
        let new_credit = change(&credit, |b| {
            let side = if pending {
                &mut b.credits_pending
            } else {
                &mut b.credits_posted
            };
            *side = add(*side, amount)?;
            Ok(())
        })?;
        // A hold must stay postable: posting moves its whole amount into the posted counter,
        // so pending + posted on each side must fit the counter limit now.
        if !within_counter_limit(&new_debit) || !within_counter_limit(&new_credit) {
            return Err(TransferError::Overflow);
        }
        if !new_debit.satisfies_flags() {
            return Err(TransferError::ExceedsCredits);
        }
        if !new_credit.satisfies_flags() {
            return Err(TransferError::ExceedsDebits);
        }
        let transfer = Transfer {
            id: t.id,
            debit_account_id: debit_id,
            credit_account_id: credit_id,
            amount,
            pending_id: None,
            timeout_secs,
            ledger: t.ledger,
            code: t.code,
            kind,
            user_data: t.user_data,
            timestamp: now,
        };
        self.commit_accounts(new_debit, new_credit, undo);
        if pending {
            undo.push(Undo::Pending(
                t.id,
                self.pending.insert(t.id, PendingStatus::Pending),
            ));
            self.mark_pending(t.id, undo);
        }
        self.record(transfer, undo);
        Ok(Outcome::Created)
    }

    /// The pending transfer `pending_id`, if it can still be posted or voided. `now` is checked
    /// against its expiry unless it is `None` (the expiry job checks that itself).
    fn pending_to_resolve(
        &self,
        pending_id: TransferId,
        now: Option<Timestamp>,
    ) -> Result<Transfer, TransferError> {
        let pending = *self
            .transfers
            .get(&pending_id)
            .ok_or(TransferError::PendingTransferNotFound)?;
        if pending.kind != TransferKind::Pending {
            return Err(TransferError::PendingTransferNotPending);
        }
        match self.pending.get(&pending_id) {
            Some(PendingStatus::Pending) => {}
            Some(PendingStatus::Posted) => return Err(TransferError::PendingTransferAlreadyPosted),
            Some(PendingStatus::Voided) => return Err(TransferError::PendingTransferAlreadyVoided),
            Some(PendingStatus::Expired) => return Err(TransferError::PendingTransferExpired),
            None => return Err(TransferError::PendingTransferNotFound),
        }
        if let (Some(now), Some(expires_at)) = (now, pending.expires_at())
            && expires_at <= now
        {
            return Err(TransferError::PendingTransferExpired);
        }
        Ok(pending)
    }

    /// Posts (`posted = Some(amount)`) or releases (`None`) a pending transfer.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &mut self,
        id: TransferId,
        pending: &Transfer,
        posted: Option<Piconero>,
        code: TransferCode,
        user_data: u128,
        kind: TransferKind,
        now: Timestamp,
        undo: &mut Vec<Undo>,
    ) -> TransferResult {
        let debit = *self
            .accounts
            .get(&pending.debit_account_id)
            .ok_or(TransferError::DebitAccountNotFound)?;
        let credit = *self
            .accounts
            .get(&pending.credit_account_id)
            .ok_or(TransferError::CreditAccountNotFound)?;
        let reserved = pending.amount;
        let posted_amount = posted.unwrap_or(Piconero::ZERO);
        let new_debit = change(&debit, |b| {
            b.debits_pending = b
                .debits_pending
                .checked_sub(reserved)
                .map_err(|_| TransferError::Overflow)?;
            b.debits_posted = add(b.debits_posted, posted_amount)?;
            Ok(())
        })?;
        let new_credit = change(&credit, |b| {
            b.credits_pending = b
                .credits_pending
                .checked_sub(reserved)
                .map_err(|_| TransferError::Overflow)?;
            b.credits_posted = add(b.credits_posted, posted_amount)?;
            Ok(())
        })?;
        // Posting at most the reserved amount cannot break a flag that held with the
        // reservation in place; check anyway, the cost is nothing next to a wrong balance.
        assert!(
            new_debit.satisfies_flags(),
            "resolving a pending transfer broke the debit account's flags"
        );
        assert!(
            new_credit.satisfies_flags(),
            "resolving a pending transfer broke the credit account's flags"
        );
        let status = match kind {
            TransferKind::Post => PendingStatus::Posted,
            TransferKind::Void => PendingStatus::Voided,
            TransferKind::Expiry => PendingStatus::Expired,
            TransferKind::Single | TransferKind::Pending => {
                unreachable!("resolve takes post, void or expiry")
            }
        };
        let transfer = Transfer {
            id,
            debit_account_id: pending.debit_account_id,
            credit_account_id: pending.credit_account_id,
            amount: posted.unwrap_or(reserved),
            pending_id: Some(pending.id),
            timeout_secs: 0,
            ledger: pending.ledger,
            code,
            kind,
            user_data,
            timestamp: now,
        };
        self.commit_accounts(new_debit, new_credit, undo);
        undo.push(Undo::Pending(
            pending.id,
            self.pending.insert(pending.id, status),
        ));
        self.mark_pending(pending.id, undo);
        self.record(transfer, undo);
        Ok(Outcome::Created)
    }

    fn commit_accounts(&mut self, debit: Account, credit: Account, undo: &mut Vec<Undo>) {
        for account in [debit, credit] {
            let previous = self.accounts.insert(account.id(), account);
            match previous {
                Some(previous) => undo.push(Undo::Account(previous)),
                None => undo.push(Undo::NewAccount(account.id())),
            }
            if self.dirty_accounts.insert(account.id()) {
                undo.push(Undo::MarkedAccount(account.id()));
            }
        }
    }

    fn mark_pending(&mut self, id: TransferId, undo: &mut Vec<Undo>) {
        if self.dirty_pending.insert(id) {
            undo.push(Undo::MarkedPending(id));
        }
    }

    fn record(&mut self, transfer: Transfer, undo: &mut Vec<Undo>) {
        debug_assert!(
            !self.transfers.contains_key(&transfer.id),
            "a transfer id is recorded once"
        );
        self.transfers.insert(transfer.id, transfer);
        self.new_transfers.push(transfer.id);
        undo.push(Undo::NewTransfer(transfer.id));
    }
}

/// The id of the transfer that records the expiry of `pending_id`, derived from it so that
/// expiring the same hold twice is idempotent.
pub fn expiry_id(pending_id: TransferId) -> TransferId {
    TransferId::derive(
        &crate::ids::namespace::EXPIRY_TRANSFER,
        pending_id.as_uuid().as_bytes(),
    )
}

/// `a + b` within the storable range of a counter.
fn add(a: Piconero, b: Piconero) -> Result<Piconero, TransferError> {
    let sum = a.checked_add(b).map_err(|_| TransferError::Overflow)?;
    if sum.as_u64() > MAX_ACCOUNT_COUNTER {
        return Err(TransferError::Overflow);
    }
    Ok(sum)
}

/// Whether both sides of an account, pending plus posted, fit the storable counter range.
fn within_counter_limit(account: &Account) -> bool {
    let b = account.balances();
    let limit = u128::from(MAX_ACCOUNT_COUNTER);
    let sum = |x: Piconero, y: Piconero| u128::from(x.as_u64()) + u128::from(y.as_u64());
    sum(b.debits_pending, b.debits_posted) <= limit
        && sum(b.credits_pending, b.credits_posted) <= limit
}

/// A copy of `account` with its balances changed by `f`.
fn change(
    account: &Account,
    f: impl FnOnce(&mut Balances) -> Result<(), TransferError>,
) -> Result<Account, TransferError> {
    let mut balances = account.balances();
    f(&mut balances)?;
    Ok(Account::from_parts(
        account.id(),
        account.ledger(),
        account.code(),
        account.flags(),
        balances,
        account.created_at(),
    ))
}

/// Whether a stored transfer is what `request` asks for, so a retry is a no-op.
fn same_request(
    existing: &Transfer,
    request: &NewTransfer,
    pending_amount: Option<Piconero>,
) -> bool {
    let common = existing.ledger == request.ledger
        && existing.code == request.code
        && existing.user_data == request.user_data;
    common
        && match request.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            } => {
                existing.kind == TransferKind::Single
                    && existing.debit_account_id == debit
                    && existing.credit_account_id == credit
                    && existing.amount == amount
            }
            TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            } => {
                existing.kind == TransferKind::Pending
                    && existing.debit_account_id == debit
                    && existing.credit_account_id == credit
                    && existing.amount == amount
                    && existing.timeout_secs == timeout_secs
            }
            TransferOp::Post { pending_id, amount } => {
                existing.kind == TransferKind::Post
                    && existing.pending_id == Some(pending_id)
                    && Some(existing.amount) == amount.or(pending_amount)
            }
            TransferOp::Void { pending_id } => {
                existing.kind == TransferKind::Void && existing.pending_id == Some(pending_id)
            }
        }
}
