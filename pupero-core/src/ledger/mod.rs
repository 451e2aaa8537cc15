//! The double-entry ledger model, after TigerBeetle.
//!
//! Money lives in [`Account`]s of one [`LedgerId`] (one ledger per asset; XMR for now). It
//! moves only by immutable [`Transfer`]s, each debiting one account and crediting another by
//! the same amount, so per ledger Σ debits = Σ credits always holds. Each account keeps four
//! counters — `debits_pending`, `debits_posted`, `credits_pending`, `credits_posted` — and
//! [`AccountFlags`] can forbid an account from going below zero.
//!
//! A transfer is either posted at once or *pending* (two-phase): it reserves the amount until
//! a later transfer posts it (fully or partly), voids it, or it expires after its timeout.
//! Escrow for trades and holds for withdrawals are pending transfers.
//!
//! A transfer's id is its idempotency key: creating it again with the same fields succeeds
//! without effect ([`Outcome::AlreadyExisted`]); with different fields it fails with
//! [`TransferError::ExistsWithDifferentFields`]. Transfers marked `linked` succeed or fail
//! together with the next one in the batch.
//!
//! [`LedgerBook`] applies these rules to an in-memory working set; the [`LedgerStore`] port is
//! what storage adapters implement around it.

mod book;
mod port;
#[cfg(test)]
mod tests;

pub use book::{Changes, LedgerBook, expiry_id};
pub use port::{
    HistoryCursor, HistoryPage, HistoryQuery, LedgerStore, Movement, MovementPage, MovementStatus,
};

use crate::clock::Timestamp;
use crate::ids::{AccountId, TransferId};
use crate::money::Piconero;

/// A ledger: the set of accounts of one asset. Transfers never cross ledgers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerId(u32);

impl LedgerId {
    /// The XMR ledger, in piconero.
    pub const XMR: LedgerId = LedgerId(1);

    /// A ledger id from its number; zero is reserved as "none".
    pub const fn new(id: u32) -> Option<LedgerId> {
        if id == 0 { None } else { Some(LedgerId(id)) }
    }

    /// The ledger's number.
    pub const fn as_u32(self) -> u32 {
        self.0
    }
}

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)*
        }

        impl $name {
            /// Every code, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stored number of the code.
            pub const fn as_u16(self) -> u16 {
                match self { $($name::$variant => $value,)* }
            }

            /// A stable machine-readable name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl TryFrom<u16> for $name {
            type Error = crate::Error;
            fn try_from(v: u16) -> crate::Result<Self> {
                match v {
                    $($value => Ok($name::$variant),)*
                    _ => Err(crate::Error::InvalidId(concat!("unknown ", stringify!($name)))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum!(
    /// What an account is for. Decides its normal side and which flags it carries.
    AccountCode {
        /// A person's XMR balance: a liability of the platform, credit-normal, never negative.
        UserXmr = 1 => "user_xmr",
        /// Fees the platform earned: credit-normal, never negative.
        PlatformFees = 2 => "platform_fees",
        /// The XMR the platform's wallet holds on chain: an asset, debit-normal. Deposits
        /// debit it, withdrawals credit it.
        HotWallet = 3 => "hot_wallet",
        /// On-chain network fees the platform paid: an expense, debit-normal.
        NetworkFees = 4 => "network_fees",
        /// Operator equity and corrections (opening balances, write-offs), credit-normal.
        Equity = 5 => "equity",
    }
);

code_enum!(
    /// Why money moved. Stored with every transfer and shown in history.
    TransferCode {
        /// An on-chain deposit credited to a user.
        Deposit = 1 => "deposit",
        /// A seller's XMR moved into escrow for a trade (pending).
        TradeEscrow = 2 => "trade_escrow",
        /// Escrow released to the buyer.
        TradeRelease = 3 => "trade_release",
        /// Escrow returned to the seller (trade cancelled or expired).
        TradeRefund = 4 => "trade_refund",
        /// A trading fee taken by the platform.
        TradeFee = 5 => "trade_fee",
        /// A user's XMR held for a withdrawal (pending: amount + maximum network fee).
        WithdrawalHold = 6 => "withdrawal_hold",
        /// A withdrawal sent on chain.
        Withdrawal = 7 => "withdrawal",
        /// The network fee of a withdrawal charged to the user.
        WithdrawalFee = 8 => "withdrawal_fee",
        /// A network fee the platform paid itself (consolidation).
        NetworkFee = 9 => "network_fee",
        /// A moderator's or admin's correcting entry.
        Adjustment = 10 => "adjustment",
        /// A dispute resolution moving escrow.
        DisputeResolution = 11 => "dispute_resolution",
    }
);

/// Constraints on an account's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccountFlags(u16);

impl AccountFlags {
    /// No constraint: the account may go either way (operator accounts).
    pub const NONE: AccountFlags = AccountFlags(0);
    /// `debits_pending + debits_posted <= credits_posted`: a credit-normal account (a user's
    /// balance) that can never be overdrawn, counting money held by pending transfers.
    pub const DEBITS_MUST_NOT_EXCEED_CREDITS: AccountFlags = AccountFlags(1 << 1);
    /// `credits_pending + credits_posted <= debits_posted`: a debit-normal account (the hot
    /// wallet) that can never pay out more than came in.
    pub const CREDITS_MUST_NOT_EXCEED_DEBITS: AccountFlags = AccountFlags(1 << 2);

    const KNOWN: u16 = (1 << 1) | (1 << 2);

    /// The stored bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Flags from stored bits; unknown bits are refused.
    pub fn from_bits(bits: u16) -> Option<AccountFlags> {
        (bits & !Self::KNOWN == 0).then_some(AccountFlags(bits))
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: AccountFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub const fn union(self, other: AccountFlags) -> AccountFlags {
        AccountFlags(self.0 | other.0)
    }
}

/// A request to create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAccount {
    /// The id, chosen by the caller; creating the same account twice is a no-op.
    pub id: AccountId,
    /// The asset's ledger.
    pub ledger: LedgerId,
    /// What the account is for.
    pub code: AccountCode,
    /// Balance constraints.
    pub flags: AccountFlags,
}

impl NewAccount {
    /// A user's XMR balance account, which can never go below zero.
    pub fn user_xmr(id: AccountId) -> NewAccount {
        NewAccount {
            id,
            ledger: LedgerId::XMR,
            code: AccountCode::UserXmr,
            flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
        }
    }

    /// The hot wallet's asset account ([`AccountId::hot_wallet`]). It carries no flag: the
    /// wallet may hold more than the ledger knows of (its own mined or donated coins) and
    /// reconciliation, not a balance rule, compares the two.
    pub fn hot_wallet() -> NewAccount {
        NewAccount {
            id: AccountId::hot_wallet(),
            ledger: LedgerId::XMR,
            code: AccountCode::HotWallet,
            flags: AccountFlags::NONE,
        }
    }

    /// The network-fee expense account ([`AccountId::network_fees`]).
    pub fn network_fees() -> NewAccount {
        NewAccount {
            id: AccountId::network_fees(),
            ledger: LedgerId::XMR,
            code: AccountCode::NetworkFees,
            flags: AccountFlags::NONE,
        }
    }

    /// The platform's fee account ([`AccountId::platform_fees`]): trade fees are credited to it,
    /// and it can never be spent below zero either.
    pub fn platform_fees() -> NewAccount {
        NewAccount {
            id: AccountId::platform_fees(),
            ledger: LedgerId::XMR,
            code: AccountCode::PlatformFees,
            flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
        }
    }
}

/// An account with its balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    id: AccountId,
    ledger: LedgerId,
    code: AccountCode,
    flags: AccountFlags,
    balances: Balances,
    created_at: Timestamp,
}

/// The four counters of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    /// Sum of pending transfers debiting the account.
    pub debits_pending: Piconero,
    /// Sum of posted transfers debiting the account.
    pub debits_posted: Piconero,
    /// Sum of pending transfers crediting the account.
    pub credits_pending: Piconero,
    /// Sum of posted transfers crediting the account.
    pub credits_posted: Piconero,
}

impl Account {
    /// Rebuilds an account from storage. Only adapters should call this.
    pub fn from_parts(
        id: AccountId,
        ledger: LedgerId,
        code: AccountCode,
        flags: AccountFlags,
        balances: Balances,
        created_at: Timestamp,
    ) -> Account {
        Account {
            id,
            ledger,
            code,
            flags,
            balances,
            created_at,
        }
    }

    /// The account's id.
    pub fn id(&self) -> AccountId {
        self.id
    }
    /// The account's ledger.
    pub fn ledger(&self) -> LedgerId {
        self.ledger
    }
    /// What the account is for.
    pub fn code(&self) -> AccountCode {
        self.code
    }
    /// The account's constraints.
    pub fn flags(&self) -> AccountFlags {
        self.flags
    }
    /// The four counters.
    pub fn balances(&self) -> Balances {
        self.balances
    }
    /// When the account was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// What a credit-normal account (a user's) can spend now:
    /// `credits_posted − debits_posted − debits_pending`. Money arriving in pending credits is
    /// not yet spendable. `None` when that is below zero, which a constrained account never is.
    pub fn available(&self) -> Option<Piconero> {
        let b = self.balances;
        b.credits_posted
            .checked_sub(b.debits_posted)
            .ok()?
            .checked_sub(b.debits_pending)
            .ok()
    }

    /// What a credit-normal account holds posted, ignoring pending transfers.
    pub fn posted(&self) -> Option<Piconero> {
        let b = self.balances;
        b.credits_posted.checked_sub(b.debits_posted).ok()
    }

    /// Whether the account's counters obey its flags.
    pub fn satisfies_flags(&self) -> bool {
        let b = self.balances;
        let within = |out: [Piconero; 2], inn: Piconero| {
            u128::from(out[0].as_u64()) + u128::from(out[1].as_u64()) <= u128::from(inn.as_u64())
        };
        (!self
            .flags
            .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            || within([b.debits_pending, b.debits_posted], b.credits_posted))
            && (!self
                .flags
                .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
                || within([b.credits_pending, b.credits_posted], b.debits_posted))
    }
}

/// What a transfer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOp {
    /// Moves `amount` from `debit` to `credit` at once.
    Single {
        /// The account debited.
        debit: AccountId,
        /// The account credited.
        credit: AccountId,
        /// How much.
        amount: Piconero,
    },
    /// Reserves `amount` from `debit` for `credit` until posted, voided or expired.
    Pending {
        /// The account debited when posted.
        debit: AccountId,
        /// The account credited when posted.
        credit: AccountId,
        /// How much is reserved.
        amount: Piconero,
        /// Seconds until the hold expires on its own; 0 means never.
        timeout_secs: u32,
    },
    /// Posts a pending transfer: `amount` (all of it when `None`) moves; any rest is released.
    Post {
        /// The pending transfer to post.
        pending_id: TransferId,
        /// How much of it to post, at most its amount; `None` posts all of it.
        amount: Option<Piconero>,
    },
    /// Voids a pending transfer: the reserved amount returns to the debit account.
    Void {
        /// The pending transfer to void.
        pending_id: TransferId,
    },
}

/// A request to create a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTransfer {
    /// The id and idempotency key.
    pub id: TransferId,
    /// What it does.
    pub op: TransferOp,
    /// The ledger (asset) it moves.
    pub ledger: LedgerId,
    /// Why money moves.
    pub code: TransferCode,
    /// An opaque link to the business object behind it (trade, withdrawal, deposit).
    pub user_data: u128,
    /// Whether this transfer succeeds or fails together with the next one in the batch.
    pub linked: bool,
}

impl NewTransfer {
    /// A transfer on the XMR ledger with no user data, not linked.
    pub fn xmr(id: TransferId, op: TransferOp, code: TransferCode) -> NewTransfer {
        NewTransfer {
            id,
            op,
            ledger: LedgerId::XMR,
            code,
            user_data: 0,
            linked: false,
        }
    }

    /// The same transfer, linked to the next one in its batch.
    pub fn linked(mut self) -> NewTransfer {
        self.linked = true;
        self
    }

    /// The same transfer, carrying `user_data`.
    pub fn with_user_data(mut self, user_data: u128) -> NewTransfer {
        self.user_data = user_data;
        self
    }

    /// The pending transfer this one posts or voids, if any.
    pub fn pending_id(&self) -> Option<TransferId> {
        match self.op {
            TransferOp::Post { pending_id, .. } | TransferOp::Void { pending_id } => {
                Some(pending_id)
            }
            TransferOp::Single { .. } | TransferOp::Pending { .. } => None,
        }
    }

    /// The accounts named directly by the request (post and void name theirs through the
    /// pending transfer).
    pub fn accounts(&self) -> Option<[AccountId; 2]> {
        match self.op {
            TransferOp::Single { debit, credit, .. }
            | TransferOp::Pending { debit, credit, .. } => Some([debit, credit]),
            TransferOp::Post { .. } | TransferOp::Void { .. } => None,
        }
    }
}

/// The kind of a stored transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// Posted at once.
    Single,
    /// A two-phase hold.
    Pending,
    /// Posts a pending transfer.
    Post,
    /// Voids a pending transfer.
    Void,
    /// Voids a pending transfer because its timeout passed (created by the ledger itself).
    Expiry,
}

impl TransferKind {
    /// The stored number of the kind.
    pub const fn as_u16(self) -> u16 {
        match self {
            TransferKind::Single => 0,
            TransferKind::Pending => 1,
            TransferKind::Post => 2,
            TransferKind::Void => 3,
            TransferKind::Expiry => 4,
        }
    }

    /// The kind from its stored number.
    pub fn from_u16(v: u16) -> Option<TransferKind> {
        Some(match v {
            0 => TransferKind::Single,
            1 => TransferKind::Pending,
            2 => TransferKind::Post,
            3 => TransferKind::Void,
            4 => TransferKind::Expiry,
            _ => return None,
        })
    }
}

/// A transfer as recorded. Immutable: corrections are new transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The id and idempotency key.
    pub id: TransferId,
    /// The account debited.
    pub debit_account_id: AccountId,
    /// The account credited.
    pub credit_account_id: AccountId,
    /// For single and pending transfers the amount moved or reserved; for a post the amount
    /// posted; for a void or expiry the amount released.
    pub amount: Piconero,
    /// The pending transfer posted or voided.
    pub pending_id: Option<TransferId>,
    /// A pending transfer's timeout; 0 otherwise or for none.
    pub timeout_secs: u32,
    /// The ledger (asset).
    pub ledger: LedgerId,
    /// Why money moved.
    pub code: TransferCode,
    /// What kind of transfer.
    pub kind: TransferKind,
    /// An opaque link to the business object.
    pub user_data: u128,
    /// When it was recorded.
    pub timestamp: Timestamp,
}

/// What a transfer is about, read from its code and `user_data`: trades and withdrawals tag
/// every transfer they make with their id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A trade's escrow, release, refund, fee or resolution.
    Trade(crate::TradeId),
    /// A withdrawal's amount or network fee.
    Withdrawal(uuid::Uuid),
    /// An on-chain deposit (its transaction is the deposit's record).
    Deposit,
    /// Anything else: corrections, the platform's own fees.
    Other,
}

impl Transfer {
    /// What the transfer is about.
    pub fn cause(&self) -> Cause {
        let tagged = self.user_data != 0;
        match self.code {
            TransferCode::TradeEscrow
            | TransferCode::TradeRelease
            | TransferCode::TradeRefund
            | TransferCode::TradeFee
            | TransferCode::DisputeResolution
                if tagged =>
            {
                Cause::Trade(crate::TradeId::from_u128(self.user_data))
            }
            TransferCode::WithdrawalHold
            | TransferCode::Withdrawal
            | TransferCode::WithdrawalFee
                if tagged =>
            {
                Cause::Withdrawal(uuid::Uuid::from_u128(self.user_data))
            }
            TransferCode::Deposit => Cause::Deposit,
            _ => Cause::Other,
        }
    }

    /// When a pending transfer expires, if it has a timeout.
    pub fn expires_at(&self) -> Option<Timestamp> {
        (self.kind == TransferKind::Pending && self.timeout_secs > 0)
            .then(|| self.timestamp.plus_secs(u64::from(self.timeout_secs)))
    }
}

/// Where a pending transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingStatus {
    /// Still holding its amount.
    Pending,
    /// Posted (fully or partly) by another transfer.
    Posted,
    /// Voided by another transfer.
    Voided,
    /// Expired after its timeout.
    Expired,
}

impl PendingStatus {
    /// The stored number of the status.
    pub const fn as_u16(self) -> u16 {
        match self {
            PendingStatus::Pending => 1,
            PendingStatus::Posted => 2,
            PendingStatus::Voided => 3,
            PendingStatus::Expired => 4,
        }
    }

    /// The status from its stored number.
    pub fn from_u16(v: u16) -> Option<PendingStatus> {
        Some(match v {
            1 => PendingStatus::Pending,
            2 => PendingStatus::Posted,
            3 => PendingStatus::Voided,
            4 => PendingStatus::Expired,
            _ => return None,
        })
    }
}

/// A successful create: new, or already there with the same fields (an idempotent retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Created now.
    Created,
    /// Created before with the same fields; nothing changed.
    AlreadyExisted,
}

/// Why the ledger refused to create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AccountError {
    /// The all-zero id is reserved.
    #[error("id must not be zero")]
    IdMustNotBeZero,
    /// The account exists with another ledger, code or flags.
    #[error("exists with different fields")]
    ExistsWithDifferentFields,
    /// An account cannot be bounded on both sides.
    #[error("flags are mutually exclusive")]
    FlagsAreMutuallyExclusive,
}

/// Why the ledger refused a transfer. Each variant is a stable code, as in TigerBeetle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TransferError {
    /// Another transfer of its linked chain failed, so this one was not applied.
    #[error("a linked transfer failed")]
    LinkedEventFailed,
    /// The batch ended with a transfer marked `linked`: the chain was never closed.
    #[error("linked chain not closed")]
    LinkedEventChainOpen,
    /// The all-zero id is reserved.
    #[error("id must not be zero")]
    IdMustNotBeZero,
    /// A transfer cannot post or void itself.
    #[error("pending id must differ from id")]
    PendingIdMustBeDifferent,
    /// Debit and credit account are the same.
    #[error("accounts must be different")]
    AccountsMustBeDifferent,
    /// Moving zero is refused; it would only clutter history.
    #[error("amount must not be zero")]
    AmountMustNotBeZero,
    /// A pending timeout above [`crate::limits::MAX_PENDING_TIMEOUT_SECS`].
    #[error("timeout too long")]
    TimeoutTooLong,
    /// The debit account does not exist.
    #[error("debit account not found")]
    DebitAccountNotFound,
    /// The credit account does not exist.
    #[error("credit account not found")]
    CreditAccountNotFound,
    /// The transfer's ledger differs from its accounts' ledger.
    #[error("transfer and accounts must share a ledger")]
    LedgerMismatch,
    /// The id exists with other fields: an idempotency key reused for another request.
    #[error("exists with different fields")]
    ExistsWithDifferentFields,
    /// The pending transfer to post or void does not exist.
    #[error("pending transfer not found")]
    PendingTransferNotFound,
    /// The transfer to post or void is not a pending transfer.
    #[error("transfer is not pending")]
    PendingTransferNotPending,
    /// The pending transfer was already posted.
    #[error("pending transfer already posted")]
    PendingTransferAlreadyPosted,
    /// The pending transfer was already voided.
    #[error("pending transfer already voided")]
    PendingTransferAlreadyVoided,
    /// The pending transfer's timeout passed.
    #[error("pending transfer expired")]
    PendingTransferExpired,
    /// A post for more than the pending amount.
    #[error("exceeds pending transfer amount")]
    ExceedsPendingTransferAmount,
    /// The debit account would go below zero (insufficient funds).
    #[error("debits would exceed credits")]
    ExceedsCredits,
    /// The credit account would exceed its debits.
    #[error("credits would exceed debits")]
    ExceedsDebits,
    /// A counter would leave the storable range ([`crate::limits::MAX_ACCOUNT_COUNTER`]).
    #[error("an account counter would overflow")]
    Overflow,
}

impl TransferError {
    /// A stable machine-readable code, e.g. `exceeds_credits`.
    pub const fn code(self) -> &'static str {
        match self {
            TransferError::LinkedEventFailed => "linked_event_failed",
            TransferError::LinkedEventChainOpen => "linked_event_chain_open",
            TransferError::IdMustNotBeZero => "id_must_not_be_zero",
            TransferError::PendingIdMustBeDifferent => "pending_id_must_be_different",
            TransferError::AccountsMustBeDifferent => "accounts_must_be_different",
            TransferError::AmountMustNotBeZero => "amount_must_not_be_zero",
            TransferError::TimeoutTooLong => "timeout_too_long",
            TransferError::DebitAccountNotFound => "debit_account_not_found",
            TransferError::CreditAccountNotFound => "credit_account_not_found",
            TransferError::LedgerMismatch => "ledger_mismatch",
            TransferError::ExistsWithDifferentFields => "exists_with_different_fields",
            TransferError::PendingTransferNotFound => "pending_transfer_not_found",
            TransferError::PendingTransferNotPending => "pending_transfer_not_pending",
            TransferError::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            TransferError::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            TransferError::PendingTransferExpired => "pending_transfer_expired",
            TransferError::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            TransferError::ExceedsCredits => "exceeds_credits",
            TransferError::ExceedsDebits => "exceeds_debits",
            TransferError::Overflow => "overflow",
        }
    }
}

/// The result of one transfer in a batch.
pub type TransferResult = Result<Outcome, TransferError>;

/// The result of one account in a batch.
pub type AccountResult = Result<Outcome, AccountError>;
