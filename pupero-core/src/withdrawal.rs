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
//! from the withdrawal id, so every plan is idempotent.

use uuid::Uuid;

use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::{
    FEE_RESERVE_FACTOR, MAX_WITHDRAWAL_FEE, MIN_WITHDRAWAL, STUCK_BROADCAST_SECS,
    STUCK_REQUESTED_SECS, STUCK_SIGNED_SECS,
};
use crate::{AccountId, Piconero, TransferId};

/// Namespace of the ledger transfers of withdrawals.
const WITHDRAWAL_TRANSFER_NAMESPACE: Uuid =
    Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0004);

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
pub fn forfeit_plan(user: crate::UserId, amount: Piconero) -> Option<NewTransfer> {
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
    TransferId::derive(&WITHDRAWAL_TRANSFER_NAMESPACE, &name)
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
}
