//! Withdrawals: XMR a user sends from their balance to an address of their own.
//!
//! A request holds the amount and the most the network fee may be, as two linked pending
//! ledger transfers from the user to the hot wallet ([`hold_plan`]). The wallet worker then
//! builds and signs the transaction without relaying it (`signed`), relays it (`broadcast`)
//! and settles the holds with the real fee ([`settle_plan`]: the amount in full, the fee hold
//! in part, the rest back to the user), until the chain confirms it (`confirmed`). Only a
//! transaction that was certainly never broadcast is refunded ([`refund_plan`], `failed`).
//! Transfer ids derive from the withdrawal id, so every plan is idempotent.

use uuid::Uuid;

use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::{
    MAX_WITHDRAWAL_FEE, MIN_WITHDRAWAL, STUCK_BROADCAST_SECS, STUCK_REQUESTED_SECS,
    STUCK_SIGNED_SECS,
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
}

/// The amount held for a withdrawal of `amount`: the amount, then the fee reserve.
pub fn held(amount: Piconero) -> Result<(Piconero, Piconero), WithdrawalError> {
    if amount < MIN_WITHDRAWAL {
        return Err(WithdrawalError::TooSmall);
    }
    amount
        .checked_add(MAX_WITHDRAWAL_FEE)
        .map_err(|_| WithdrawalError::TooLarge)?;
    Ok((amount, MAX_WITHDRAWAL_FEE))
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

/// The two linked holds of a withdrawal request: `amount` and the fee reserve, from `user` to
/// the hot wallet, with no ledger timeout (only the worker settles or refunds them).
pub fn hold_plan(
    id: Uuid,
    user: AccountId,
    amount: Piconero,
) -> Result<Vec<NewTransfer>, WithdrawalError> {
    let (amount, max_fee) = held(amount)?;
    Ok(tagged(
        id,
        vec![
            NewTransfer::xmr(
                amount_hold_id(id),
                TransferOp::Pending {
                    debit: user,
                    credit: AccountId::hot_wallet(),
                    amount,
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
                    amount: max_fee,
                    timeout_secs: 0,
                },
                TransferCode::WithdrawalFee,
            ),
        ],
    ))
}

/// Settles a broadcast withdrawal: the amount in full and `fee` of the fee reserve (the rest
/// returns to the user). `fee` is at most the reserve; the caller never relays a transaction
/// whose fee share is larger.
pub fn settle_plan(id: Uuid, fee: Piconero) -> Vec<NewTransfer> {
    assert!(
        fee <= MAX_WITHDRAWAL_FEE,
        "a withdrawal's fee share is within its reserve"
    );
    tagged(
        id,
        vec![
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
        ],
    )
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
        let plans = [
            hold_plan(id, user, amount).unwrap(),
            settle_plan(id, Piconero::new(1)),
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

    #[test]
    fn requests_are_bounded() {
        assert_eq!(
            held(MIN_WITHDRAWAL.checked_sub(Piconero::new(1)).unwrap()),
            Err(WithdrawalError::TooSmall)
        );
        assert_eq!(held(Piconero::MAX), Err(WithdrawalError::TooLarge));
        assert_eq!(
            held(MIN_WITHDRAWAL),
            Ok((MIN_WITHDRAWAL, MAX_WITHDRAWAL_FEE))
        );
    }

    #[test]
    fn a_settled_withdrawal_costs_the_amount_and_the_real_fee() {
        let user = AccountId::user_xmr(UserId::from_u128(1));
        let mut book = book_with(user, xmr("2"));
        let clock = ManualClock::new(Timestamp::from_unix_ms(2));
        let id = Uuid::from_u128(77);
        let hold = hold_plan(id, user, xmr("1.5")).unwrap();
        let held_results = book.create_transfers(&hold, clock.now());
        assert!(held_results.iter().all(Result::is_ok), "{held_results:?}");
        let available = book.account(user).unwrap().available().unwrap();
        assert_eq!(
            available,
            xmr("0.5").checked_sub(MAX_WITHDRAWAL_FEE).unwrap()
        );
        let fee = Piconero::new(30_720_000);
        let settled = book.create_transfers(&settle_plan(id, fee), clock.now());
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
        let again = book.create_transfers(&settle_plan(id, fee), clock.now());
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
    fn a_refund_returns_everything() {
        let user = AccountId::user_xmr(UserId::from_u128(2));
        let mut book = book_with(user, xmr("1"));
        let now = Timestamp::from_unix_ms(2);
        let id = Uuid::from_u128(78);
        let held_results = book.create_transfers(&hold_plan(id, user, xmr("0.9")).unwrap(), now);
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
        let results = book.create_transfers(
            &hold_plan(Uuid::from_u128(79), user, xmr("1")).unwrap(),
            now,
        );
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
