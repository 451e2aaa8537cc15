//! Withdrawals: XMR a user sends from their balance to an address of their own.
//!
//! A request holds the amount and the most the network fee may be, as two linked pending
//! ledger transfers from the user to the hot wallet ([`hold_plan`]). That fee reserve comes
//! from the wallet's fee estimate ([`FeeQuote`]); a request for [`WithdrawalAmount::Everything`]
//! holds the whole available balance ([`FeeQuote::holds`]). The wallet worker then builds and
//! signs the transaction without relaying it (`signed`), relays it (`broadcast`) and settles
//! the holds with the real fee ([`settle_plan`]: the amount in full, the fee hold in part, the
//! rest back to the user, or for a withdrawal of everything to its destination, so that the
//! balance ends at zero), until the chain confirms it (`confirmed`). Only a transaction that
//! was certainly never broadcast is refunded ([`refund_plan`], `failed`). Transfer ids derive
//! from the withdrawal id, so every plan is idempotent; the withdrawal id itself derives from
//! the user and their idempotency key ([`withdrawal_id`]).
//!
//! Which step is legal from which state, and which plan it moves, is decided here and only
//! here: [`Withdrawal::apply`] takes a [`WithdrawalEvent`] and returns the withdrawal after it
//! with the step's ledger plan, and [`WithdrawalState::after`] gives the next state alone (for
//! the transaction paying withdrawals, which moves with them). The store then moves each row
//! from its state to the next with compare-and-set, in the database transaction of the plan.

use uuid::Uuid;

use crate::ids::namespace;
use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::{
    FEE_RESERVE_FACTOR, MAX_REFUNDABLE_RELAY_ATTEMPTS, MAX_WITHDRAWAL_FEE, MIN_WITHDRAWAL,
    STUCK_BROADCAST_SECS, STUCK_REQUESTED_SECS, STUCK_SIGNED_SECS,
};
use crate::{AccountId, Piconero, TransferId, UserId};

/// Where a withdrawal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WithdrawalState {
    /// Held in the ledger, waiting for the wallet worker.
    Requested,
    /// The transaction is built and signed, its metadata stored; not yet relayed.
    Signed,
    /// Relayed to the network; the holds are settled with the real fee.
    Broadcast,
    /// Mined. Final.
    Confirmed,
    /// Certainly never broadcast; the holds are voided and the user refunded. Final.
    Failed,
}

impl WithdrawalState {
    /// Every state, in the order a withdrawal moves through them.
    pub const ALL: [WithdrawalState; 5] = [
        WithdrawalState::Requested,
        WithdrawalState::Signed,
        WithdrawalState::Broadcast,
        WithdrawalState::Confirmed,
        WithdrawalState::Failed,
    ];

    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WithdrawalState::Requested => "requested",
            WithdrawalState::Signed => "signed",
            WithdrawalState::Broadcast => "broadcast",
            WithdrawalState::Confirmed => "confirmed",
            WithdrawalState::Failed => "failed",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<WithdrawalState> {
        [
            WithdrawalState::Requested,
            WithdrawalState::Signed,
            WithdrawalState::Broadcast,
            WithdrawalState::Confirmed,
            WithdrawalState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Whether the worker may move it from this state to `next`.
    pub fn may_become(self, next: WithdrawalState) -> bool {
        use WithdrawalState::{Broadcast, Confirmed, Failed, Requested, Signed};
        matches!(
            (self, next),
            (Requested, Signed)
                | (Requested, Failed)
                | (Signed, Broadcast)
                | (Signed, Failed)
                | (Broadcast, Confirmed)
        )
    }

    /// Whether it is final.
    pub fn is_final(self) -> bool {
        matches!(self, WithdrawalState::Confirmed | WithdrawalState::Failed)
    }

    /// Whether the transaction of a withdrawal (or a transaction paying withdrawals) in this
    /// state may be relayed, again or for the first time: while `signed` or `broadcast`, since
    /// the same signed transaction can never pay twice. Never once `confirmed` (mined), and
    /// never once `failed`: its withdrawals were refunded, and relaying it would send money
    /// their owners already got back. `requested` has no transaction.
    pub fn may_relay(self) -> bool {
        matches!(self, WithdrawalState::Signed | WithdrawalState::Broadcast)
    }

    /// The state `event` moves a withdrawal in this state to: the one decision of which step
    /// is legal from where, for a withdrawal ([`Withdrawal::apply`]) and for the transaction
    /// paying withdrawals, which moves with them. The store then moves the row from this
    /// state to the returned one with compare-and-set.
    ///
    /// # Errors
    /// [`WithdrawalTransitionError::Invalid`] when this state does not allow the step
    /// ([`WithdrawalState::may_become`]); [`WithdrawalTransitionError::MayHaveBeenBroadcast`]
    /// for a refusal after more than [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] relays.
    pub fn after(
        self,
        event: &WithdrawalEvent,
    ) -> Result<WithdrawalState, WithdrawalTransitionError> {
        let next = event.target();
        if !self.may_become(next) {
            return Err(WithdrawalTransitionError::Invalid {
                from: self,
                event: event.name(),
            });
        }
        if let WithdrawalEvent::Refused { relay_attempts } = *event
            && relay_attempts > MAX_REFUNDABLE_RELAY_ATTEMPTS
        {
            return Err(WithdrawalTransitionError::MayHaveBeenBroadcast { relay_attempts });
        }
        Ok(next)
    }
}

/// The id of the withdrawal `user` requests with idempotency key `key`: the same key from the
/// same user always names the same withdrawal, so a retried request (across restarts and
/// upgrades alike) finds the one it made instead of paying twice.
pub fn withdrawal_id(user: UserId, key: &str) -> Uuid {
    namespace::keyed(&namespace::WITHDRAWAL_ID, user.as_uuid(), key)
}

/// A step of a withdrawal, given to [`Withdrawal::apply`] (and, for the transaction paying
/// withdrawals, to [`WithdrawalState::after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalEvent {
    /// A transaction paying it is built and signed, and recorded before any relay:
    /// `requested → signed`. No money moves.
    Signed {
        /// The transaction paying it (the platform's id of it, not the network's txid).
        tx: Uuid,
        /// Its share of the transaction's fee ([`split_fee`]): at most its fee reserve, or
        /// the transaction is never relayed.
        fee: Piconero,
    },
    /// Its transaction reached the network, relayed now or found by the wallet after a crash:
    /// `signed → broadcast`, the holds settled with its fee share ([`settle_plan`]).
    Broadcast,
    /// Its transaction was mined: `broadcast → confirmed`. No money moves.
    Confirmed,
    /// The wallet certainly did not send it: it refused to build a transaction for it
    /// (`requested → failed`, with no relay), or refused the first and only relay of its
    /// transaction (`signed → failed`). Both holds are voided ([`refund_plan`]).
    Refused {
        /// Relays of its transaction tried so far, the refused one included; 0 when none was
        /// built. More than [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] is refused: an earlier relay
        /// may have reached the network.
        relay_attempts: u64,
    },
}

impl WithdrawalEvent {
    /// The stable name of the step, for errors and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            WithdrawalEvent::Signed { .. } => "signed",
            WithdrawalEvent::Broadcast => "broadcast",
            WithdrawalEvent::Confirmed => "confirmed",
            WithdrawalEvent::Refused { .. } => "refused",
        }
    }

    /// The state the step leads to, wherever it starts.
    const fn target(&self) -> WithdrawalState {
        match self {
            WithdrawalEvent::Signed { .. } => WithdrawalState::Signed,
            WithdrawalEvent::Broadcast => WithdrawalState::Broadcast,
            WithdrawalEvent::Confirmed => WithdrawalState::Confirmed,
            WithdrawalEvent::Refused { .. } => WithdrawalState::Failed,
        }
    }
}

/// Why a step of a withdrawal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalTransitionError {
    /// The step is not possible from the withdrawal's state (another worker moved it, or it
    /// never could).
    #[error("a {} withdrawal cannot be {event}", from.as_str())]
    Invalid {
        /// The state it is in.
        from: WithdrawalState,
        /// The refused step, as [`WithdrawalEvent::name`].
        event: &'static str,
    },
    /// A refusal after more than [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] relays: an earlier attempt's
    /// outcome was unknown and the transaction may be in the pool, so nothing is refunded.
    #[error(
        "relayed {relay_attempts} times: the transaction may have been broadcast, so it is not refunded"
    )]
    MayHaveBeenBroadcast {
        /// Relays tried, the refused one included.
        relay_attempts: u64,
    },
    /// A fee share above the withdrawal's reserve: such a transaction is never relayed.
    #[error(
        "a fee share of {} XMR is above the reserve of {} XMR",
        fee.to_xmr_string(),
        reserve.to_xmr_string()
    )]
    FeeAboveReserve {
        /// The fee share asked.
        fee: Piconero,
        /// The withdrawal's fee reserve.
        reserve: Piconero,
    },
}

impl WithdrawalTransitionError {
    /// Whether the withdrawal's state does not allow the step at all (rather than the step's
    /// own terms refusing it): after losing a race, re-read the withdrawal.
    pub const fn is_invalid_transition(&self) -> bool {
        matches!(self, WithdrawalTransitionError::Invalid { .. })
    }
}

/// Why a withdrawal needs an operator's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stuck {
    /// Requested longer than [`STUCK_REQUESTED_SECS`].
    NotBuilt,
    /// Signed longer than [`STUCK_SIGNED_SECS`].
    NotRelayed,
    /// Broadcast longer than [`STUCK_BROADCAST_SECS`].
    NotMined,
}

impl Stuck {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stuck::NotBuilt => "not_built",
            Stuck::NotRelayed => "not_relayed",
            Stuck::NotMined => "not_mined",
        }
    }

    /// Whether a withdrawal in `state` since `secs` seconds is stuck, and how.
    pub fn of(state: WithdrawalState, secs: u64) -> Option<Stuck> {
        let (stuck, limit) = match state {
            WithdrawalState::Requested => (Stuck::NotBuilt, STUCK_REQUESTED_SECS),
            WithdrawalState::Signed => (Stuck::NotRelayed, STUCK_SIGNED_SECS),
            WithdrawalState::Broadcast => (Stuck::NotMined, STUCK_BROADCAST_SECS),
            WithdrawalState::Confirmed | WithdrawalState::Failed => return None,
        };
        (secs >= limit).then_some(stuck)
    }
}

/// A refused withdrawal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalError {
    /// Below [`MIN_WITHDRAWAL`].
    #[error("the smallest withdrawal is {} XMR", MIN_WITHDRAWAL.to_xmr_string())]
    TooSmall,
    /// Amount and maximum fee overflow.
    #[error("amount too large")]
    TooLarge,
    /// A withdrawal of everything from a balance that does not cover the smallest withdrawal
    /// and the network fee.
    #[error(
        "the available balance of {} XMR does not cover the smallest withdrawal of {} XMR and the network fee of about {} XMR",
        available.to_xmr_string(),
        MIN_WITHDRAWAL.to_xmr_string(),
        fee.to_xmr_string()
    )]
    BalanceTooSmall {
        /// The available balance.
        available: Piconero,
        /// The least network fee expected.
        fee: Piconero,
    },
}

impl WithdrawalError {
    /// Whether the balance, rather than the request, is the reason: the same request may
    /// succeed with more money.
    pub fn is_insufficient_funds(self) -> bool {
        matches!(self, WithdrawalError::BalanceTooSmall { .. })
    }
}

/// What a withdrawal request asks the destination to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalAmount {
    /// Exactly this; the network fee is charged on top.
    Exactly(Piconero),
    /// The whole available balance less the network fee: the balance ends at exactly zero.
    Everything,
}

impl WithdrawalAmount {
    /// How a request asks for everything: `"all"`.
    pub const ALL: &'static str = "all";

    /// Parses [`WithdrawalAmount::ALL`] or a decimal XMR amount.
    ///
    /// # Errors
    /// [`crate::Error::InvalidAmount`] for anything else.
    pub fn parse(s: &str) -> crate::Result<WithdrawalAmount> {
        if s == WithdrawalAmount::ALL {
            return Ok(WithdrawalAmount::Everything);
        }
        Piconero::from_xmr_str(s).map(WithdrawalAmount::Exactly)
    }

    /// The request, if some balance could pay it: an exact amount at least [`MIN_WITHDRAWAL`]
    /// that can be held with the largest reserve.
    ///
    /// # Errors
    /// [`WithdrawalError::TooSmall`] or [`WithdrawalError::TooLarge`].
    pub fn check(self) -> Result<WithdrawalAmount, WithdrawalError> {
        if let WithdrawalAmount::Exactly(amount) = self {
            if amount < MIN_WITHDRAWAL {
                return Err(WithdrawalError::TooSmall);
            }
            amount
                .checked_add(MAX_WITHDRAWAL_FEE)
                .map_err(|_| WithdrawalError::TooLarge)?;
        }
        Ok(self)
    }

    /// The request in a stable form, for telling a retried request from another one: the
    /// piconero, or `all`.
    pub fn canonical(self) -> String {
        match self {
            WithdrawalAmount::Exactly(amount) => amount.as_u64().to_string(),
            WithdrawalAmount::Everything => WithdrawalAmount::ALL.to_owned(),
        }
    }
}

/// What the network fee of a withdrawal is expected to be now, and the reserve a request
/// holds for it: [`FEE_RESERVE_FACTOR`] times the wallet's estimate, at most
/// [`MAX_WITHDRAWAL_FEE`] (and that without an estimate), never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeQuote {
    estimate: Option<Piconero>,
    reserve: Piconero,
}

impl FeeQuote {
    /// The quote for the wallet's fee `estimate` of a transaction paying one destination now,
    /// `None` when the wallet could not say.
    pub fn new(estimate: Option<Piconero>) -> FeeQuote {
        let reserve = estimate.map_or(MAX_WITHDRAWAL_FEE, |fee| {
            fee.checked_mul(FEE_RESERVE_FACTOR)
                .unwrap_or(MAX_WITHDRAWAL_FEE)
                .min(MAX_WITHDRAWAL_FEE)
        });
        // A hold of nothing holds nothing: the ledger refuses transfers of zero.
        let reserve = if reserve.is_zero() {
            Piconero::new(1)
        } else {
            reserve
        };
        assert!(reserve <= MAX_WITHDRAWAL_FEE, "the reserve is capped");
        assert!(!reserve.is_zero(), "the reserve is a hold");
        FeeQuote { estimate, reserve }
    }

    /// The wallet's estimate, if it gave one.
    pub fn estimate(self) -> Option<Piconero> {
        self.estimate
    }

    /// The fee reserve a withdrawal of an exact amount holds.
    pub fn reserve(self) -> Piconero {
        self.reserve
    }

    /// The least fee a withdrawal must be able to pay: the estimate (within the reserve), or
    /// the reserve without one.
    fn least_fee(self) -> Piconero {
        self.estimate
            .map_or(self.reserve, |fee| fee.min(self.reserve))
    }

    /// What a request for `asked` holds from an `available` balance. An exact amount holds
    /// itself and the reserve (whether the balance covers them is the ledger's to say). A
    /// withdrawal of everything holds the whole balance: as fee reserve, the reserve or what
    /// the balance has beyond the smallest withdrawal if that is less, but at least the
    /// expected fee; the rest as its amount.
    ///
    /// # Errors
    /// [`WithdrawalError::TooSmall`] below [`MIN_WITHDRAWAL`], [`WithdrawalError::TooLarge`]
    /// when the amount and the reserve overflow, [`WithdrawalError::BalanceTooSmall`] for
    /// everything of a balance below the smallest withdrawal and the expected fee.
    pub fn holds(
        self,
        asked: WithdrawalAmount,
        available: Piconero,
    ) -> Result<Holds, WithdrawalError> {
        let holds = match asked.check()? {
            WithdrawalAmount::Exactly(amount) => Holds {
                amount,
                fee_reserve: self.reserve,
                everything: false,
            },
            WithdrawalAmount::Everything => {
                let too_small = WithdrawalError::BalanceTooSmall {
                    available,
                    fee: self.least_fee(),
                };
                let beyond_minimum = available
                    .checked_sub(MIN_WITHDRAWAL)
                    .map_err(|_| too_small)?;
                let fee_reserve = self.reserve.min(beyond_minimum);
                if fee_reserve < self.least_fee() {
                    return Err(too_small);
                }
                let amount = available.checked_sub(fee_reserve).map_err(|_| too_small)?;
                Holds {
                    amount,
                    fee_reserve,
                    everything: true,
                }
            }
        };
        assert!(
            holds.amount >= MIN_WITHDRAWAL,
            "a withdrawal sends the minimum"
        );
        assert!(!holds.fee_reserve.is_zero(), "the reserve is a hold");
        Ok(holds)
    }

    /// The largest exact amount a request can ask from an `available` balance (the balance
    /// less the reserve); `None` when that is below [`MIN_WITHDRAWAL`].
    pub fn max_amount(self, available: Piconero) -> Option<Piconero> {
        available
            .checked_sub(self.reserve)
            .ok()
            .filter(|amount| *amount >= MIN_WITHDRAWAL)
    }

    /// About what a withdrawal of everything sends from an `available` balance: the balance
    /// less the expected fee; `None` when such a request is refused.
    pub fn everything_sends_about(self, available: Piconero) -> Option<Piconero> {
        self.holds(WithdrawalAmount::Everything, available)
            .ok()
            .and_then(|_| available.checked_sub(self.least_fee()).ok())
    }
}

/// What a withdrawal holds: its amount and its fee reserve, as two linked pending ledger
/// transfers ([`hold_plan`]), and whether it sends everything. A withdrawal of everything
/// sends its amount and whatever its fee share leaves of the reserve, so that nothing of it
/// stays behind; any other sends its amount and gets back the rest of the reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    amount: Piconero,
    fee_reserve: Piconero,
    everything: bool,
}

impl Holds {
    /// The holds of a stored withdrawal: `amount` and `fee_reserve` as held, and whether it
    /// sends everything.
    pub fn new(amount: Piconero, fee_reserve: Piconero, everything: bool) -> Holds {
        Holds {
            amount,
            fee_reserve,
            everything,
        }
    }

    /// The amount held.
    pub fn amount(self) -> Piconero {
        self.amount
    }

    /// The fee reserve held: the most network fee the withdrawal is ever charged.
    pub fn fee_reserve(self) -> Piconero {
        self.fee_reserve
    }

    /// Whether it sends everything it holds but the fee.
    pub fn everything(self) -> bool {
        self.everything
    }

    /// What the destination receives when the withdrawal's share of its transaction's fee is
    /// `fee`; `None` when `fee` is above the reserve (such a transaction is never relayed).
    pub fn sends(self, fee: Piconero) -> Option<Piconero> {
        let rest = self.fee_reserve.checked_sub(fee).ok()?;
        if self.everything {
            self.amount.checked_add(rest).ok()
        } else {
            Some(self.amount)
        }
    }
}

/// The most a person may give up when they close their account: a balance this small may not
/// cover the smallest withdrawal and its fee, and a person must be able to leave without
/// keeping an account open for it. Anything larger is withdrawn, not forfeited.
pub const MAX_FORFEIT: Piconero =
    Piconero::new(MIN_WITHDRAWAL.as_u64() + MAX_WITHDRAWAL_FEE.as_u64());

/// The transfer that gives `amount`, the rest of `user`'s balance, to the platform when they
/// close their account (code `adjustment`), once: its id derives from the user. `None` when
/// there is nothing to give or more than [`MAX_FORFEIT`].
pub fn forfeit_plan(user: UserId, amount: Piconero) -> Option<NewTransfer> {
    (!amount.is_zero() && amount <= MAX_FORFEIT).then(|| {
        NewTransfer::xmr(
            transfer_id(*user.as_uuid(), "forfeit"),
            TransferOp::Single {
                debit: AccountId::user_xmr(user),
                credit: AccountId::platform_fees(),
                amount,
            },
            TransferCode::Adjustment,
        )
    })
}

fn transfer_id(withdrawal: Uuid, part: &str) -> TransferId {
    let mut name = withdrawal.as_bytes().to_vec();
    name.push(b':');
    name.extend_from_slice(part.as_bytes());
    TransferId::derive(&namespace::WITHDRAWAL_TRANSFER, &name)
}

/// The id of the pending transfer holding the amount of withdrawal `id`.
pub fn amount_hold_id(id: Uuid) -> TransferId {
    transfer_id(id, "hold-amount")
}

/// The id of the pending transfer holding the fee reserve of withdrawal `id`.
pub fn fee_hold_id(id: Uuid) -> TransferId {
    transfer_id(id, "hold-fee")
}

/// The two linked holds of a withdrawal request: the amount and the fee reserve, from `user`
/// to the hot wallet, with no ledger timeout (only the worker settles or refunds them).
pub fn hold_plan(id: Uuid, user: AccountId, holds: Holds) -> Vec<NewTransfer> {
    tagged(
        id,
        vec![
            NewTransfer::xmr(
                amount_hold_id(id),
                TransferOp::Pending {
                    debit: user,
                    credit: AccountId::hot_wallet(),
                    amount: holds.amount,
                    timeout_secs: 0,
                },
                TransferCode::Withdrawal,
            )
            .linked(),
            NewTransfer::xmr(
                fee_hold_id(id),
                TransferOp::Pending {
                    debit: user,
                    credit: AccountId::hot_wallet(),
                    amount: holds.fee_reserve,
                    timeout_secs: 0,
                },
                TransferCode::WithdrawalFee,
            ),
        ],
    )
}

/// Settles a broadcast withdrawal of `user` whose share of the transaction's fee is `fee`:
/// the amount in full and `fee` of the fee reserve. The rest of the reserve returns to the
/// user, unless the withdrawal sends everything: then it went to the destination too, and a
/// third transfer takes it from the user (code `withdrawal`), leaving exactly what the user
/// had besides the holds. `fee` is at most the reserve; the caller never relays a
/// transaction whose fee share is larger.
pub fn settle_plan(id: Uuid, user: AccountId, holds: Holds, fee: Piconero) -> Vec<NewTransfer> {
    assert!(
        fee <= holds.fee_reserve,
        "a withdrawal's fee share is within its reserve"
    );
    let rest = holds
        .fee_reserve
        .checked_sub(fee)
        .expect("the fee is within the reserve");
    let mut plan = vec![
        NewTransfer::xmr(
            transfer_id(id, "settle-amount"),
            TransferOp::Post {
                pending_id: amount_hold_id(id),
                amount: None,
            },
            TransferCode::Withdrawal,
        )
        .linked(),
        NewTransfer::xmr(
            transfer_id(id, "settle-fee"),
            TransferOp::Post {
                pending_id: fee_hold_id(id),
                amount: Some(fee),
            },
            TransferCode::WithdrawalFee,
        ),
    ];
    if holds.everything && !rest.is_zero() {
        plan[1].linked = true;
        plan.push(NewTransfer::xmr(
            transfer_id(id, "settle-rest"),
            TransferOp::Single {
                debit: user,
                credit: AccountId::hot_wallet(),
                amount: rest,
            },
            TransferCode::Withdrawal,
        ));
    }
    assert!(
        plan.len() <= 3,
        "at most three transfers settle a withdrawal"
    );
    tagged(id, plan)
}

/// Refunds a withdrawal that was certainly never broadcast: both holds voided.
pub fn refund_plan(id: Uuid) -> Vec<NewTransfer> {
    tagged(
        id,
        vec![
            NewTransfer::xmr(
                transfer_id(id, "refund-amount"),
                TransferOp::Void {
                    pending_id: amount_hold_id(id),
                },
                TransferCode::Withdrawal,
            )
            .linked(),
            NewTransfer::xmr(
                transfer_id(id, "refund-fee"),
                TransferOp::Void {
                    pending_id: fee_hold_id(id),
                },
                TransferCode::WithdrawalFee,
            ),
        ],
    )
}

/// Every transfer of a withdrawal carries its id in `user_data`, so that a statement names
/// the withdrawal each line is about ([`crate::ledger::Transfer::cause`]).
fn tagged(id: Uuid, plan: Vec<NewTransfer>) -> Vec<NewTransfer> {
    plan.into_iter()
        .map(|t| t.with_user_data(id.as_u128()))
        .collect()
}

/// A withdrawal as its state machine sees it: whose it is, what it holds, where it stands and,
/// once signed, the transaction paying it and its share of that transaction's fee. Made only by
/// [`Withdrawal::request`] (or [`Withdrawal::restore`] from storage) and changed only by
/// [`Withdrawal::apply`].
///
/// ```text
///   requested ──signed{tx, fee}──▶ signed ──broadcast──▶ broadcast ──confirmed──▶ confirmed
///       │                            │
///       └──refused{0}──▶ failed ◀──refused{1}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    id: Uuid,
    user: UserId,
    holds: Holds,
    state: WithdrawalState,
    tx: Option<Uuid>,
    fee: Option<Piconero>,
}

/// A withdrawal's fields as stored, for the storage layer: [`Withdrawal::record`] writes one,
/// [`Withdrawal::restore`] checks one and rebuilds the withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawalRecord {
    /// See [`Withdrawal::id`].
    pub id: Uuid,
    /// See [`Withdrawal::user`].
    pub user: UserId,
    /// See [`Withdrawal::holds`].
    pub holds: Holds,
    /// See [`Withdrawal::state`].
    pub state: WithdrawalState,
    /// See [`Withdrawal::tx`].
    pub tx: Option<Uuid>,
    /// See [`Withdrawal::fee`].
    pub fee: Option<Piconero>,
}

/// A stored withdrawal that no withdrawal could have become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent withdrawal record: {0}")]
pub struct CorruptWithdrawal(pub &'static str);

impl Withdrawal {
    /// A new request of `user` holding `holds`, under id `id` ([`withdrawal_id`]): the
    /// withdrawal, `requested`, and its two linked holds ([`hold_plan`]). Write both in one
    /// database transaction.
    pub fn request(id: Uuid, user: UserId, holds: Holds) -> (Withdrawal, Vec<NewTransfer>) {
        let plan = hold_plan(id, AccountId::user_xmr(user), holds);
        assert_eq!(
            plan.len(),
            2,
            "a request holds the amount and the fee reserve"
        );
        let withdrawal = Withdrawal {
            id,
            user,
            holds,
            state: WithdrawalState::Requested,
            tx: None,
            fee: None,
        };
        (withdrawal, plan)
    }

    /// Rebuilds a stored withdrawal, refusing records that break what [`Withdrawal::apply`]
    /// guarantees: a transaction and a fee share together, from `signed` on (kept when a
    /// signed one failed), never above the reserve.
    ///
    /// # Errors
    /// [`CorruptWithdrawal`] naming what is wrong.
    pub fn restore(r: WithdrawalRecord) -> Result<Withdrawal, CorruptWithdrawal> {
        let check = |ok: bool, what: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(CorruptWithdrawal(what))
            }
        };
        check(
            r.tx.is_some() == r.fee.is_some(),
            "transaction and fee share disagree",
        )?;
        let signed = match r.state {
            WithdrawalState::Requested => Some(false),
            WithdrawalState::Signed | WithdrawalState::Broadcast | WithdrawalState::Confirmed => {
                Some(true)
            }
            // Refused before or after it was signed.
            WithdrawalState::Failed => None,
        };
        check(
            signed.is_none_or(|signed| signed == r.tx.is_some()),
            "transaction and state disagree",
        )?;
        check(
            r.fee.is_none_or(|fee| fee <= r.holds.fee_reserve()),
            "fee share above the reserve",
        )?;
        Ok(Withdrawal {
            id: r.id,
            user: r.user,
            holds: r.holds,
            state: r.state,
            tx: r.tx,
            fee: r.fee,
        })
    }

    /// The withdrawal's fields, for storage.
    pub fn record(&self) -> WithdrawalRecord {
        WithdrawalRecord {
            id: self.id,
            user: self.user,
            holds: self.holds,
            state: self.state,
            tx: self.tx,
            fee: self.fee,
        }
    }

    /// Applies `event`: the withdrawal after it and the ledger plan of the step, empty when no
    /// money moves (`signed`, `confirmed`). Persist the state with compare-and-set from
    /// [`Withdrawal::state`] before the step in the same database transaction as the plan.
    /// The plans are [`settle_plan`] with the recorded fee share (`broadcast`) and
    /// [`refund_plan`] (`refused`); their transfer ids derive from the withdrawal id, so a
    /// plan applied twice moves money once.
    ///
    /// # Errors
    /// As [`WithdrawalState::after`], and [`WithdrawalTransitionError::FeeAboveReserve`] for a
    /// fee share above the reserve.
    pub fn apply(
        self,
        event: WithdrawalEvent,
    ) -> Result<(Withdrawal, Vec<NewTransfer>), WithdrawalTransitionError> {
        let next = self.state.after(&event)?;
        debug_assert!(self.state.may_become(next));
        let mut moved = self.clone();
        moved.state = next;
        let plan = match event {
            WithdrawalEvent::Signed { tx, fee } => {
                let reserve = self.holds.fee_reserve();
                if fee > reserve {
                    return Err(WithdrawalTransitionError::FeeAboveReserve { fee, reserve });
                }
                moved.tx = Some(tx);
                moved.fee = Some(fee);
                Vec::new()
            }
            WithdrawalEvent::Broadcast => {
                let fee = self
                    .fee
                    .expect("a signed withdrawal has its fee share (restore checks it)");
                settle_plan(self.id, AccountId::user_xmr(self.user), self.holds, fee)
            }
            WithdrawalEvent::Confirmed => Vec::new(),
            WithdrawalEvent::Refused { .. } => refund_plan(self.id),
        };
        assert!(
            plan.iter().all(|t| t.user_data == self.id.as_u128()),
            "every transfer of a step names its withdrawal"
        );
        assert_eq!(
            plan.is_empty(),
            matches!(
                event,
                WithdrawalEvent::Signed { .. } | WithdrawalEvent::Confirmed
            ),
            "money moves when the holds are settled or voided, and only then"
        );
        Ok((moved, plan))
    }

    /// Its id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whose it is.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// What it holds.
    pub fn holds(&self) -> Holds {
        self.holds
    }

    /// Where it stands.
    pub fn state(&self) -> WithdrawalState {
        self.state
    }

    /// The transaction paying it, once signed.
    pub fn tx(&self) -> Option<Uuid> {
        self.tx
    }

    /// Its share of its transaction's fee, once signed.
    pub fn fee(&self) -> Option<Piconero> {
        self.fee
    }
}

/// Splits the fee of a transaction paying `n` withdrawals: equal shares rounded down, the
/// remainder piconero by piconero to the first ones, so the shares add up to `fee` exactly.
pub fn split_fee(fee: Piconero, n: usize) -> Vec<Piconero> {
    let Ok(n64) = u64::try_from(n) else {
        return Vec::new();
    };
    if n64 == 0 {
        return Vec::new();
    }
    let share = fee.as_u64() / n64;
    let rest = fee.as_u64() % n64;
    (0..n64)
        .map(|i| Piconero::new(share + u64::from(i < rest)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transfer_of_a_withdrawal_names_it() {
        let id = Uuid::from_u128(0x5eed);
        let user = AccountId::user_xmr(crate::UserId::from_u128(1));
        let amount = Piconero::new(1_000_000_000_000);
        let everything = Holds::new(amount, Piconero::new(10), true);
        let plans = [
            hold_plan(id, user, everything),
            settle_plan(id, user, everything, Piconero::new(1)),
            refund_plan(id),
        ];
        for transfer in plans.iter().flatten() {
            assert_eq!(
                crate::ledger::Transfer {
                    id: transfer.id,
                    debit_account_id: user,
                    credit_account_id: AccountId::hot_wallet(),
                    amount,
                    pending_id: None,
                    timeout_secs: 0,
                    ledger: crate::ledger::LedgerId::XMR,
                    code: transfer.code,
                    kind: crate::ledger::TransferKind::Pending,
                    user_data: transfer.user_data,
                    timestamp: crate::Timestamp::EPOCH,
                }
                .cause(),
                crate::ledger::Cause::Withdrawal(id)
            );
        }
    }
    use crate::ledger::{AccountFlags, LedgerBook, NewAccount};
    use crate::{Clock as _, ManualClock, Timestamp, UserId};

    fn book_with(user: AccountId, balance: Piconero) -> LedgerBook {
        let mut book = LedgerBook::new();
        let now = Timestamp::from_unix_ms(1);
        let equity = AccountId::from_u128(9);
        let results = book.create_accounts(
            &[
                NewAccount::user_xmr(user),
                NewAccount::hot_wallet(),
                NewAccount {
                    id: equity,
                    ledger: crate::ledger::LedgerId::XMR,
                    code: crate::ledger::AccountCode::Equity,
                    flags: AccountFlags::NONE,
                },
            ],
            now,
        );
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let funded = book.create_transfers(
            &[NewTransfer::xmr(
                TransferId::new_v7(),
                TransferOp::Single {
                    debit: equity,
                    credit: user,
                    amount: balance,
                },
                TransferCode::Adjustment,
            )],
            now,
        );
        assert!(funded.iter().all(Result::is_ok), "{funded:?}");
        book
    }

    fn xmr(s: &str) -> Piconero {
        Piconero::from_xmr_str(s).unwrap()
    }

    #[test]
    fn states_round_trip_and_move_forward_only() {
        use WithdrawalState::*;
        let all = [Requested, Signed, Broadcast, Confirmed, Failed];
        for s in all {
            assert_eq!(WithdrawalState::parse(s.as_str()), Some(s));
            for t in all {
                let allowed = matches!(
                    (s, t),
                    (Requested, Signed)
                        | (Requested, Failed)
                        | (Signed, Broadcast)
                        | (Signed, Failed)
                        | (Broadcast, Confirmed)
                );
                assert_eq!(s.may_become(t), allowed, "{s:?} -> {t:?}");
            }
        }
        // A broadcast transaction is never refunded.
        assert!(!Broadcast.may_become(Failed));
        assert!(Confirmed.is_final() && Failed.is_final() && !Broadcast.is_final());
    }

    /// The quote of a wallet without an estimate: the largest reserve.
    fn capped() -> FeeQuote {
        FeeQuote::new(None)
    }

    fn exactly(amount: &str) -> Holds {
        capped()
            .holds(WithdrawalAmount::Exactly(xmr(amount)), Piconero::ZERO)
            .unwrap()
    }

    #[test]
    fn requests_are_bounded() {
        let quote = capped();
        let exactly = |amount| quote.holds(WithdrawalAmount::Exactly(amount), Piconero::MAX);
        assert_eq!(
            exactly(MIN_WITHDRAWAL.checked_sub(Piconero::new(1)).unwrap()),
            Err(WithdrawalError::TooSmall)
        );
        assert_eq!(exactly(Piconero::MAX), Err(WithdrawalError::TooLarge));
        assert_eq!(
            exactly(MIN_WITHDRAWAL),
            Ok(Holds::new(MIN_WITHDRAWAL, MAX_WITHDRAWAL_FEE, false))
        );
    }

    #[test]
    fn amounts_parse_as_xmr_or_all() {
        assert_eq!(
            WithdrawalAmount::parse("1.5"),
            Ok(WithdrawalAmount::Exactly(xmr("1.5")))
        );
        assert_eq!(
            WithdrawalAmount::parse("all"),
            Ok(WithdrawalAmount::Everything)
        );
        for bad in ["ALL", " all", "everything", "", "-1", "1e3"] {
            assert!(WithdrawalAmount::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            WithdrawalAmount::Exactly(xmr("1.5")).canonical(),
            "1500000000000"
        );
        assert_eq!(WithdrawalAmount::Everything.canonical(), "all");
        assert_eq!(
            WithdrawalAmount::Exactly(Piconero::new(1)).check(),
            Err(WithdrawalError::TooSmall)
        );
        assert_eq!(
            WithdrawalAmount::Exactly(Piconero::MAX).check(),
            Err(WithdrawalError::TooLarge)
        );
        assert_eq!(
            WithdrawalAmount::Everything.check(),
            Ok(WithdrawalAmount::Everything)
        );
    }

    #[test]
    fn the_reserve_is_twice_the_estimate_within_the_maximum() {
        let estimate = Piconero::new(2_605_200_000);
        let quote = FeeQuote::new(Some(estimate));
        assert_eq!(quote.estimate(), Some(estimate));
        assert_eq!(quote.reserve(), Piconero::new(5_210_400_000));
        // Without an estimate, or with one that would reach beyond it: the maximum.
        assert_eq!(capped().reserve(), MAX_WITHDRAWAL_FEE);
        assert_eq!(capped().estimate(), None);
        let dear = FeeQuote::new(Some(MAX_WITHDRAWAL_FEE));
        assert_eq!(dear.reserve(), MAX_WITHDRAWAL_FEE);
        assert_eq!(
            FeeQuote::new(Some(Piconero::MAX)).reserve(),
            MAX_WITHDRAWAL_FEE
        );
        // Never a hold of nothing.
        assert_eq!(
            FeeQuote::new(Some(Piconero::ZERO)).reserve(),
            Piconero::new(1)
        );
        // What a user may ask with a balance.
        assert_eq!(
            quote.max_amount(xmr("1")),
            Some(xmr("1").checked_sub(quote.reserve()).unwrap())
        );
        assert_eq!(quote.max_amount(quote.reserve()), None);
        assert_eq!(
            quote.everything_sends_about(xmr("1")),
            Some(xmr("1").checked_sub(estimate).unwrap())
        );
        assert_eq!(quote.everything_sends_about(Piconero::ZERO), None);
    }

    #[test]
    fn everything_holds_the_whole_balance() {
        let estimate = Piconero::new(2_605_200_000);
        let quote = FeeQuote::new(Some(estimate));
        // Plenty: the amount and the reserve add up to the balance.
        let holds = quote
            .holds(WithdrawalAmount::Everything, xmr("0.0073948"))
            .unwrap();
        assert!(holds.everything());
        assert_eq!(holds.fee_reserve(), quote.reserve());
        assert_eq!(
            holds.amount().checked_add(holds.fee_reserve()).unwrap(),
            xmr("0.0073948")
        );
        // Less than the minimum and the reserve: the reserve shrinks to what the balance has
        // beyond the minimum, as long as that pays the expected fee.
        let small = MIN_WITHDRAWAL.checked_add(estimate).unwrap();
        let holds = quote.holds(WithdrawalAmount::Everything, small).unwrap();
        assert_eq!(holds.amount(), MIN_WITHDRAWAL);
        assert_eq!(holds.fee_reserve(), estimate);
        for available in [
            Piconero::ZERO,
            MIN_WITHDRAWAL,
            small.checked_sub(Piconero::new(1)).unwrap(),
        ] {
            let refused = quote.holds(WithdrawalAmount::Everything, available);
            assert_eq!(
                refused,
                Err(WithdrawalError::BalanceTooSmall {
                    available,
                    fee: estimate
                })
            );
            assert!(refused.unwrap_err().is_insufficient_funds());
        }
        assert!(!WithdrawalError::TooSmall.is_insufficient_funds());
        // What the destination receives: the amount, and for everything the reserve's rest.
        let holds = quote.holds(WithdrawalAmount::Everything, xmr("1")).unwrap();
        let fee = Piconero::new(1_000);
        assert_eq!(holds.sends(fee), Some(xmr("1").checked_sub(fee).unwrap()));
        assert_eq!(
            holds.sends(quote.reserve().checked_add(Piconero::new(1)).unwrap()),
            None
        );
        let exact = quote
            .holds(WithdrawalAmount::Exactly(xmr("0.5")), Piconero::ZERO)
            .unwrap();
        assert_eq!(exact.sends(fee), Some(xmr("0.5")));
        assert_eq!(exact.sends(quote.reserve()), Some(xmr("0.5")));
    }

    #[test]
    fn a_settled_withdrawal_costs_the_amount_and_the_real_fee() {
        let user = AccountId::user_xmr(UserId::from_u128(1));
        let mut book = book_with(user, xmr("2"));
        let clock = ManualClock::new(Timestamp::from_unix_ms(2));
        let id = Uuid::from_u128(77);
        let holds = exactly("1.5");
        let held_results = book.create_transfers(&hold_plan(id, user, holds), clock.now());
        assert!(held_results.iter().all(Result::is_ok), "{held_results:?}");
        let available = book.account(user).unwrap().available().unwrap();
        assert_eq!(
            available,
            xmr("0.5").checked_sub(MAX_WITHDRAWAL_FEE).unwrap()
        );
        let fee = Piconero::new(30_720_000);
        let plan = settle_plan(id, user, holds, fee);
        assert_eq!(plan.len(), 2);
        let settled = book.create_transfers(&plan, clock.now());
        assert!(settled.iter().all(Result::is_ok), "{settled:?}");
        let user_account = book.account(user).unwrap();
        assert_eq!(
            user_account.available().unwrap(),
            xmr("0.5").checked_sub(fee).unwrap()
        );
        let wallet = book.account(AccountId::hot_wallet()).unwrap();
        assert_eq!(
            wallet.balances().credits_posted,
            xmr("1.5").checked_add(fee).unwrap()
        );
        // Settling again is a no-op: the same ids.
        let again = book.create_transfers(&settle_plan(id, user, holds, fee), clock.now());
        assert!(again.iter().all(Result::is_ok), "{again:?}");
        assert_eq!(
            book.account(user).unwrap().available().unwrap(),
            xmr("0.5").checked_sub(fee).unwrap()
        );
        // And a settled withdrawal can no longer be refunded.
        let refund = book.create_transfers(&refund_plan(id), clock.now());
        assert!(refund.iter().any(Result::is_err), "{refund:?}");
    }

    #[test]
    fn a_withdrawal_of_everything_leaves_exactly_zero() {
        let user = AccountId::user_xmr(UserId::from_u128(4));
        let balance = xmr("0.0073948");
        let mut book = book_with(user, balance);
        let now = Timestamp::from_unix_ms(2);
        let id = Uuid::from_u128(80);
        let quote = FeeQuote::new(Some(Piconero::new(2_605_200_000)));
        let holds = quote.holds(WithdrawalAmount::Everything, balance).unwrap();
        let held_results = book.create_transfers(&hold_plan(id, user, holds), now);
        assert!(held_results.iter().all(Result::is_ok), "{held_results:?}");
        assert_eq!(
            book.account(user).unwrap().available(),
            Some(Piconero::ZERO)
        );
        // The real fee share, below the reserve: the rest of the reserve is sent too.
        let fee = Piconero::new(2_605_200_000);
        let sent = holds.sends(fee).unwrap();
        assert_eq!(sent.checked_add(fee).unwrap(), balance);
        let plan = settle_plan(id, user, holds, fee);
        assert_eq!(plan.len(), 3);
        assert!(plan[0].linked && plan[1].linked && !plan[2].linked);
        for _ in 0..2 {
            // Settling again changes nothing.
            let settled = book.create_transfers(&plan, now);
            assert!(settled.iter().all(Result::is_ok), "{settled:?}");
            let account = book.account(user).unwrap();
            assert_eq!(account.posted(), Some(Piconero::ZERO));
            assert!(account.balances().debits_pending.is_zero());
            let wallet = book.account(AccountId::hot_wallet()).unwrap();
            assert_eq!(wallet.balances().credits_posted, balance);
        }
        // What was booked as sent is what the destination gets, the rest is the fee.
        let booked = |code: TransferCode| {
            plan.iter()
                .filter(|t| t.code == code)
                .map(|t| match t.op {
                    TransferOp::Post { amount: None, .. } => holds.amount(),
                    TransferOp::Post {
                        amount: Some(a), ..
                    }
                    | TransferOp::Single { amount: a, .. } => a,
                    other => panic!("{other:?}"),
                })
                .try_fold(Piconero::ZERO, |sum, a| sum.checked_add(a))
                .unwrap()
        };
        assert_eq!(booked(TransferCode::Withdrawal), sent);
        assert_eq!(booked(TransferCode::WithdrawalFee), fee);

        // A fee share of the whole reserve: nothing is left to send on top.
        let other = AccountId::user_xmr(UserId::from_u128(5));
        let mut book = book_with(other, xmr("1"));
        let holds = quote.holds(WithdrawalAmount::Everything, xmr("1")).unwrap();
        let id = Uuid::from_u128(81);
        let held_results = book.create_transfers(&hold_plan(id, other, holds), now);
        assert!(held_results.iter().all(Result::is_ok), "{held_results:?}");
        let plan = settle_plan(id, other, holds, holds.fee_reserve());
        assert_eq!(plan.len(), 2);
        let settled = book.create_transfers(&plan, now);
        assert!(settled.iter().all(Result::is_ok), "{settled:?}");
        assert_eq!(book.account(other).unwrap().posted(), Some(Piconero::ZERO));
    }

    #[test]
    fn a_refund_returns_everything() {
        let user = AccountId::user_xmr(UserId::from_u128(2));
        let mut book = book_with(user, xmr("1"));
        let now = Timestamp::from_unix_ms(2);
        let id = Uuid::from_u128(78);
        let held_results = book.create_transfers(&hold_plan(id, user, exactly("0.9")), now);
        assert!(held_results.iter().all(Result::is_ok), "{held_results:?}");
        let refunded = book.create_transfers(&refund_plan(id), now);
        assert!(refunded.iter().all(Result::is_ok), "{refunded:?}");
        assert_eq!(book.account(user).unwrap().available().unwrap(), xmr("1"));
    }

    #[test]
    fn a_balance_below_amount_and_reserve_is_refused() {
        let user = AccountId::user_xmr(UserId::from_u128(3));
        let mut book = book_with(user, xmr("1"));
        let now = Timestamp::from_unix_ms(2);
        let results =
            book.create_transfers(&hold_plan(Uuid::from_u128(79), user, exactly("1")), now);
        assert!(results.iter().any(Result::is_err), "{results:?}");
        assert_eq!(book.account(user).unwrap().available().unwrap(), xmr("1"));
    }

    #[test]
    fn fee_shares_add_up() {
        assert_eq!(
            split_fee(Piconero::new(10), 3),
            [4, 3, 3].map(Piconero::new)
        );
        assert_eq!(split_fee(Piconero::new(9), 3), [3, 3, 3].map(Piconero::new));
        assert_eq!(split_fee(Piconero::new(2), 3), [1, 1, 0].map(Piconero::new));
        assert!(split_fee(Piconero::new(5), 0).is_empty());
        for fee in [0_u64, 1, 7, 123_456_789] {
            for n in 1..=15 {
                let shares = split_fee(Piconero::new(fee), n);
                assert_eq!(shares.len(), n);
                assert_eq!(shares.iter().map(|p| p.as_u64()).sum::<u64>(), fee);
            }
        }
    }

    #[test]
    fn stuck_depends_on_the_state_and_its_age() {
        use WithdrawalState::*;
        assert_eq!(Stuck::of(Requested, STUCK_REQUESTED_SECS - 1), None);
        assert_eq!(
            Stuck::of(Requested, STUCK_REQUESTED_SECS),
            Some(Stuck::NotBuilt)
        );
        assert_eq!(
            Stuck::of(Signed, STUCK_SIGNED_SECS),
            Some(Stuck::NotRelayed)
        );
        assert_eq!(Stuck::of(Broadcast, STUCK_BROADCAST_SECS - 1), None);
        assert_eq!(
            Stuck::of(Broadcast, STUCK_BROADCAST_SECS),
            Some(Stuck::NotMined)
        );
        assert_eq!(Stuck::of(Confirmed, u64::MAX), None);
        assert_eq!(Stuck::of(Failed, u64::MAX), None);
    }

    #[test]
    fn withdrawal_ids_derive_as_they_always_did() {
        // Computed with the formula the server used before the derivation moved here:
        // UUIDv5(…0005, user bytes ++ key bytes). A client retrying across an upgrade must get
        // the withdrawal it already requested, never a second one.
        let user: UserId = "0190a4b2-7c3d-7e5f-8a1b-2c3d4e5f6071".parse().unwrap();
        let mut name = user.as_uuid().as_bytes().to_vec();
        name.extend_from_slice(b"order-42");
        let old = Uuid::new_v5(
            &Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0005),
            &name,
        );
        assert_eq!(withdrawal_id(user, "order-42"), old);
        assert_eq!(
            withdrawal_id(user, "order-42").to_string(),
            "fb74a3e6-c545-5289-9c35-37a2946e4148"
        );
        assert_eq!(
            withdrawal_id(user, "withdraw-2026-11-30").to_string(),
            "31711ace-2766-5eb6-805d-68ecca5c3c17"
        );
        assert_ne!(
            withdrawal_id(UserId::from_u128(1), "order-42"),
            withdrawal_id(user, "order-42")
        );
        // The same user and key name another trade than withdrawal.
        assert_ne!(
            *crate::TradeId::derive(user, "order-42").as_uuid(),
            withdrawal_id(user, "order-42")
        );
    }

    const ALL_STATES: [WithdrawalState; 5] = [
        WithdrawalState::Requested,
        WithdrawalState::Signed,
        WithdrawalState::Broadcast,
        WithdrawalState::Confirmed,
        WithdrawalState::Failed,
    ];

    fn machine_user() -> UserId {
        UserId::from_u128(0xA11CE)
    }

    fn machine_tx() -> Uuid {
        Uuid::from_u128(0x7)
    }

    /// A stored withdrawal in `state` holding `holds`, signed with fee share `fee` from
    /// `signed` on (a failed one was signed before it was refused).
    fn stored(state: WithdrawalState, holds: Holds, fee: Piconero) -> Withdrawal {
        let signed = state != WithdrawalState::Requested;
        Withdrawal::restore(WithdrawalRecord {
            id: Uuid::from_u128(0x5eed),
            user: machine_user(),
            holds,
            state,
            tx: signed.then(machine_tx),
            fee: signed.then_some(fee),
        })
        .unwrap()
    }

    /// The events worth trying from any state: each kind, and a refusal on both sides of
    /// the bound.
    fn events(fee: Piconero) -> [WithdrawalEvent; 6] {
        [
            WithdrawalEvent::Signed {
                tx: machine_tx(),
                fee,
            },
            WithdrawalEvent::Broadcast,
            WithdrawalEvent::Confirmed,
            WithdrawalEvent::Refused { relay_attempts: 0 },
            WithdrawalEvent::Refused {
                relay_attempts: MAX_REFUNDABLE_RELAY_ATTEMPTS,
            },
            WithdrawalEvent::Refused {
                relay_attempts: MAX_REFUNDABLE_RELAY_ATTEMPTS + 1,
            },
        ]
    }

    #[test]
    fn every_step_gives_its_state_and_the_plan_the_worker_books() {
        use WithdrawalEvent as E;
        use WithdrawalState::*;
        let fee = Piconero::new(30_720_000);
        for holds in [
            exactly("1.5"),
            capped()
                .holds(WithdrawalAmount::Everything, xmr("1"))
                .unwrap(),
        ] {
            let id = Uuid::from_u128(0x5eed);
            let account = AccountId::user_xmr(machine_user());
            let check = |from: WithdrawalState,
                         event: WithdrawalEvent,
                         expected: Result<
                (WithdrawalState, Vec<NewTransfer>),
                WithdrawalTransitionError,
            >| {
                let got = stored(from, holds, fee)
                    .apply(event)
                    .map(|(w, plan)| (w.state(), plan));
                assert_eq!(got, expected, "{from:?} + {event:?}");
                assert_eq!(
                    from.after(&event),
                    expected.map(|(next, _)| next),
                    "the transaction moves as its withdrawals: {from:?} + {event:?}"
                );
            };
            let invalid = |from: WithdrawalState, event: WithdrawalEvent| {
                Err(WithdrawalTransitionError::Invalid {
                    from,
                    event: event.name(),
                })
            };
            for from in ALL_STATES {
                for event in events(fee) {
                    let expected = match (from, event) {
                        (Requested, E::Signed { .. }) => Ok((Signed, Vec::new())),
                        (Signed, E::Broadcast) => {
                            Ok((Broadcast, settle_plan(id, account, holds, fee)))
                        }
                        (Broadcast, E::Confirmed) => Ok((Confirmed, Vec::new())),
                        (Requested | Signed, E::Refused { relay_attempts })
                            if relay_attempts > MAX_REFUNDABLE_RELAY_ATTEMPTS =>
                        {
                            Err(WithdrawalTransitionError::MayHaveBeenBroadcast { relay_attempts })
                        }
                        (Requested | Signed, E::Refused { .. }) => Ok((Failed, refund_plan(id))),
                        _ => invalid(from, event),
                    };
                    check(from, event, expected);
                }
            }
        }
    }

    #[test]
    fn signing_records_the_transaction_and_a_fee_share_within_the_reserve() {
        let holds = exactly("1");
        let requested = Withdrawal::restore(WithdrawalRecord {
            id: Uuid::from_u128(3),
            user: machine_user(),
            holds,
            state: WithdrawalState::Requested,
            tx: None,
            fee: None,
        })
        .unwrap();
        let (signed, plan) = requested
            .clone()
            .apply(WithdrawalEvent::Signed {
                tx: machine_tx(),
                fee: holds.fee_reserve(),
            })
            .unwrap();
        assert!(plan.is_empty());
        assert_eq!(signed.state(), WithdrawalState::Signed);
        assert_eq!(signed.tx(), Some(machine_tx()));
        assert_eq!(signed.fee(), Some(holds.fee_reserve()));
        assert_eq!(Withdrawal::restore(signed.record()), Ok(signed));
        let above = holds.fee_reserve().checked_add(Piconero::new(1)).unwrap();
        assert_eq!(
            requested.apply(WithdrawalEvent::Signed {
                tx: machine_tx(),
                fee: above
            }),
            Err(WithdrawalTransitionError::FeeAboveReserve {
                fee: above,
                reserve: holds.fee_reserve()
            })
        );
    }

    #[test]
    fn a_request_holds_as_hold_plan_does() {
        let holds = exactly("0.5");
        let id = withdrawal_id(machine_user(), "k");
        let (w, plan) = Withdrawal::request(id, machine_user(), holds);
        assert_eq!(
            plan,
            hold_plan(id, AccountId::user_xmr(machine_user()), holds)
        );
        assert_eq!(w.state(), WithdrawalState::Requested);
        assert_eq!((w.id(), w.user(), w.holds()), (id, machine_user(), holds));
        assert_eq!((w.tx(), w.fee()), (None, None));
    }

    #[test]
    fn inconsistent_records_are_refused() {
        use WithdrawalState::*;
        let holds = exactly("1");
        let record = |state, tx: Option<u128>, fee: Option<Piconero>| WithdrawalRecord {
            id: Uuid::from_u128(4),
            user: machine_user(),
            holds,
            state,
            tx: tx.map(Uuid::from_u128),
            fee,
        };
        let fee = Some(Piconero::new(5));
        for (r, why) in [
            (
                record(Signed, Some(1), None),
                "transaction and fee share disagree",
            ),
            (
                record(Failed, None, fee),
                "transaction and fee share disagree",
            ),
            (
                record(Requested, Some(1), fee),
                "transaction and state disagree",
            ),
            (record(Signed, None, None), "transaction and state disagree"),
            (
                record(Broadcast, None, None),
                "transaction and state disagree",
            ),
            (
                record(Confirmed, None, None),
                "transaction and state disagree",
            ),
            (
                record(
                    Broadcast,
                    Some(1),
                    Some(MAX_WITHDRAWAL_FEE.checked_add(Piconero::new(1)).unwrap()),
                ),
                "fee share above the reserve",
            ),
        ] {
            assert_eq!(Withdrawal::restore(r), Err(CorruptWithdrawal(why)), "{r:?}");
        }
        for r in [
            record(Requested, None, None),
            record(Signed, Some(1), fee),
            record(Confirmed, Some(1), fee),
            record(Failed, None, None),
            record(Failed, Some(1), fee),
        ] {
            assert_eq!(Withdrawal::restore(r).map(|w| w.record()), Ok(r));
        }
    }

    #[test]
    fn every_legal_move_has_a_step_and_relays_only_with_a_live_transaction() {
        let fee = Piconero::new(1);
        for from in ALL_STATES {
            for to in ALL_STATES {
                let reached = events(fee).iter().any(|e| from.after(e) == Ok(to));
                assert_eq!(reached, from.may_become(to), "{from:?} -> {to:?}");
            }
            assert_eq!(
                from.may_relay(),
                matches!(from, WithdrawalState::Signed | WithdrawalState::Broadcast)
            );
        }
    }

    fn event_of(kind: u8, fee: u64, relay_attempts: u64) -> WithdrawalEvent {
        match kind % 4 {
            0 => WithdrawalEvent::Signed {
                tx: machine_tx(),
                fee: Piconero::new(fee),
            },
            1 => WithdrawalEvent::Broadcast,
            2 => WithdrawalEvent::Confirmed,
            _ => WithdrawalEvent::Refused { relay_attempts },
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any steps in any order, from a request: `apply` moves only along `may_become`, the
        /// ledger stays balanced and never overdraws, and the user ends with exactly the
        /// balance, less the amount and fee share once broadcast, or all of it when refused.
        #[test]
        fn apply_agrees_with_may_become_and_keeps_the_money_right(
            balance_xmr in 1u64..=3,
            amount_milli in 1u64..=900,
            everything in proptest::prelude::any::<bool>(),
            steps in proptest::collection::vec(
                // A fee share of zero is left out: the ledger refuses to post zero of a hold.
                (0u8..4, 1u64..=MAX_WITHDRAWAL_FEE.as_u64() + 1, 0u64..=3),
                0..12,
            ),
        ) {
            let user = UserId::from_u128(0xB0B);
            let account = AccountId::user_xmr(user);
            let balance = Piconero::ONE_XMR.checked_mul(balance_xmr).unwrap();
            let mut book = book_with(account, balance);
            let now = Timestamp::from_unix_ms(2);
            let asked = if everything {
                WithdrawalAmount::Everything
            } else {
                WithdrawalAmount::Exactly(Piconero::new(amount_milli * 1_000_000_000))
            };
            let holds = capped().holds(asked, balance).unwrap();
            let (mut w, plan) = Withdrawal::request(Uuid::from_u128(0xF00), user, holds);
            let held = book.create_transfers(&plan, now);
            proptest::prop_assert!(held.iter().all(Result::is_ok), "{:?}", held);
            for (kind, fee, relay_attempts) in steps {
                let event = event_of(kind, fee, relay_attempts);
                let from = w.state();
                match w.clone().apply(event) {
                    Ok((next, plan)) => {
                        proptest::prop_assert!(from.may_become(next.state()));
                        proptest::prop_assert_eq!(from.after(&event), Ok(next.state()));
                        let results = book.create_transfers(&plan, now);
                        proptest::prop_assert!(results.iter().all(Result::is_ok), "{:?}", results);
                        w = next;
                    }
                    Err(e) => {
                        let target = event.target();
                        proptest::prop_assert_eq!(e.is_invalid_transition(), !from.may_become(target));
                    }
                }
                let account = book.account(account).unwrap();
                proptest::prop_assert!(account.available().is_some(), "never overdrawn");
            }
            let ledger_total = |f: fn(&crate::ledger::Balances) -> Piconero| {
                [account, AccountId::hot_wallet(), AccountId::from_u128(9)]
                    .iter()
                    .map(|a| f(&book.account(*a).unwrap().balances()).as_u64())
                    .sum::<u64>()
            };
            proptest::prop_assert_eq!(
                ledger_total(|b| b.debits_posted),
                ledger_total(|b| b.credits_posted)
            );
            proptest::prop_assert_eq!(
                ledger_total(|b| b.debits_pending),
                ledger_total(|b| b.credits_pending)
            );
            let user_account = book.account(account).unwrap();
            let expected = match w.state() {
                WithdrawalState::Requested | WithdrawalState::Signed => balance
                    .checked_sub(holds.amount())
                    .and_then(|b| b.checked_sub(holds.fee_reserve()))
                    .unwrap(),
                WithdrawalState::Broadcast | WithdrawalState::Confirmed => {
                    let fee = w.fee().unwrap();
                    balance
                        .checked_sub(holds.sends(fee).unwrap())
                        .and_then(|b| b.checked_sub(fee))
                        .unwrap()
                }
                WithdrawalState::Failed => balance,
            };
            proptest::prop_assert_eq!(user_account.available(), Some(expected));
        }
    }
}
