//! Sweeps: consolidating the hot wallet's small outputs, and what that costs the platform.
//!
//! Every deposit leaves one output in the wallet. A withdrawal paid from many small outputs
//! is heavy and expensive, and may not fit one transaction, so the sweeper spends the small
//! unlocked outputs of the platform's account ([`SweepPolicy`]) into one output of its own
//! primary address. Nothing leaves the platform but the network fee, which is the platform's
//! expense: [`fee_plan`] moves it out of the hot wallet into the network-fee account, never
//! out of a user's balance.
//!
//! A sweep transaction is built without relaying it and recorded (`signed`) before it is
//! relayed; its fee is booked in the database transaction that moves it to `broadcast`, under
//! a transfer id derived from its txid ([`fee_transfer_id`]), so the fee is booked exactly
//! once whatever crashes in between ([`SweepState`]). Which step is legal from which state,
//! and what it books, is [`Sweep::apply`]'s to say; the store only moves the row from its
//! state to the next with compare-and-set.

use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::{
    MAX_REFUNDABLE_RELAY_ATTEMPTS, MAX_SWEEP_MIN_OUTPUTS, MAX_SWEEP_RELAY_ATTEMPTS,
    MIN_SWEEP_MIN_OUTPUTS, SWEEP_ABANDON_AFTER_SECS,
};
use crate::wallet::{OwnedOutput, Txid};
use crate::{AccountId, Piconero, Timestamp, TransferId};

/// Where a sweep transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepState {
    /// Built and signed, its metadata stored; perhaps relayed (a crash or a lost answer may
    /// hide it), its fee not booked yet.
    Signed,
    /// Relayed; its fee is booked.
    Broadcast,
    /// Mined. Final.
    Confirmed,
    /// Certainly never broadcast, or dropped by the network before its fee was booked; nothing
    /// was booked. Final.
    Failed,
}

impl SweepState {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SweepState::Signed => "signed",
            SweepState::Broadcast => "broadcast",
            SweepState::Confirmed => "confirmed",
            SweepState::Failed => "failed",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<SweepState> {
        [
            SweepState::Signed,
            SweepState::Broadcast,
            SweepState::Confirmed,
            SweepState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Whether the sweeper may move a sweep from this state to `next`. Only `signed →
    /// broadcast` books the fee.
    pub fn may_become(self, next: SweepState) -> bool {
        use SweepState::{Broadcast, Confirmed, Failed, Signed};
        matches!(
            (self, next),
            (Signed, Broadcast) | (Signed, Failed) | (Broadcast, Confirmed)
        )
    }

    /// Whether it is final.
    pub fn is_final(self) -> bool {
        matches!(self, SweepState::Confirmed | SweepState::Failed)
    }

    /// Whether a sweep in this state may be relayed, again or for the first time: while
    /// `signed` or `broadcast`, since the same signed transaction can never be paid twice.
    /// Never once `confirmed`, and never once `failed`: nothing was booked for it, and the
    /// wallet may already spend its inputs again.
    pub fn may_relay(self) -> bool {
        matches!(self, SweepState::Signed | SweepState::Broadcast)
    }
}

/// A step of a sweep transaction, given to [`Sweep::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepEvent {
    /// It reached the network, relayed now or found by the wallet after a crash:
    /// `signed → broadcast`, its fee booked ([`fee_plan`]).
    Broadcast,
    /// It was mined: `broadcast → confirmed`. Nothing is booked.
    Confirmed,
    /// The wallet reports it relayed and then dropped by the network before its fee was
    /// booked: `signed → failed`. Nothing was paid, and nothing is booked.
    Dropped,
    /// The wallet certainly refused its relay: `signed → failed`, nothing booked.
    Refused {
        /// Relays tried so far, the refused one included. More than
        /// [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] is refused: an earlier relay may have reached
        /// the network.
        relay_attempts: u64,
    },
    /// Its relays keep ending in an unknown outcome and the wallet does not know it: given up
    /// ([`abandon_sweep`]), `signed → failed`, nothing booked.
    Abandoned {
        /// Relays tried so far, the last one included.
        relay_attempts: u64,
    },
}

impl SweepEvent {
    /// The stable name of the step, for errors and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            SweepEvent::Broadcast => "broadcast",
            SweepEvent::Confirmed => "confirmed",
            SweepEvent::Dropped => "dropped",
            SweepEvent::Refused { .. } => "refused",
            SweepEvent::Abandoned { .. } => "abandoned",
        }
    }

    /// The state the step leads to, wherever it starts.
    const fn target(&self) -> SweepState {
        match self {
            SweepEvent::Broadcast => SweepState::Broadcast,
            SweepEvent::Confirmed => SweepState::Confirmed,
            SweepEvent::Dropped | SweepEvent::Refused { .. } | SweepEvent::Abandoned { .. } => {
                SweepState::Failed
            }
        }
    }
}

/// Why a step of a sweep was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SweepTransitionError {
    /// The step is not possible from the sweep's state (another pass moved it, or it never
    /// could).
    #[error("a {} sweep cannot be {event}", from.as_str())]
    Invalid {
        /// The state it is in.
        from: SweepState,
        /// The refused step, as [`SweepEvent::name`].
        event: &'static str,
    },
    /// A refusal after more than [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] relays: an earlier
    /// attempt's outcome was unknown and the sweep may be in the pool.
    #[error("relayed {relay_attempts} times: the sweep may have been broadcast")]
    MayHaveBeenBroadcast {
        /// Relays tried, the refused one included.
        relay_attempts: u64,
    },
    /// Too few relays, or too soon, to give the sweep up ([`abandon_sweep`]).
    #[error(
        "not abandoned before {MAX_SWEEP_RELAY_ATTEMPTS} relays and {SWEEP_ABANDON_AFTER_SECS} s"
    )]
    TooEarlyToAbandon,
}

impl SweepTransitionError {
    /// Whether the sweep's state does not allow the step at all (rather than the step's own
    /// terms refusing it): after losing a race, re-read the sweep.
    pub const fn is_invalid_transition(&self) -> bool {
        matches!(self, SweepTransitionError::Invalid { .. })
    }
}

/// A sweep transaction as its state machine sees it: its txid, its fee, where it stands and
/// when it was built. Made by [`Sweep::signed`] (or [`Sweep::restore`] from storage) and
/// changed only by [`Sweep::apply`].
///
/// ```text
///   signed ──broadcast──▶ broadcast ──confirmed──▶ confirmed
///     │
///     └──dropped / refused{1} / abandoned──▶ failed
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    txid: Txid,
    fee: Piconero,
    state: SweepState,
    created_at: Timestamp,
}

impl Sweep {
    /// A sweep transaction built (and not relayed) at `now`, paying network fee `fee`:
    /// `signed`. Record it before the first relay.
    pub fn signed(txid: Txid, fee: Piconero, now: Timestamp) -> Sweep {
        Sweep {
            txid,
            fee,
            state: SweepState::Signed,
            created_at: now,
        }
    }

    /// A stored sweep: transaction `txid` paying `fee`, in `state`, built at `created_at`.
    pub fn restore(txid: Txid, fee: Piconero, state: SweepState, created_at: Timestamp) -> Sweep {
        Sweep {
            txid,
            fee,
            state,
            created_at,
        }
    }

    /// Applies `event` at `now`: the sweep after it and the ledger plan of the step, which is
    /// the fee's booking ([`fee_plan`]) for `broadcast` and empty otherwise. Persist the state
    /// with compare-and-set from [`Sweep::state`] before the step, in the same database
    /// transaction as the plan.
    ///
    /// # Errors
    /// [`SweepTransitionError::Invalid`] when the state does not allow the step
    /// ([`SweepState::may_become`]), [`SweepTransitionError::MayHaveBeenBroadcast`] for a
    /// refusal after more than [`MAX_REFUNDABLE_RELAY_ATTEMPTS`] relays,
    /// [`SweepTransitionError::TooEarlyToAbandon`] when [`abandon_sweep`] says not yet.
    pub fn apply(
        self,
        event: SweepEvent,
        now: Timestamp,
    ) -> Result<(Sweep, Vec<NewTransfer>), SweepTransitionError> {
        let next = event.target();
        if !self.state.may_become(next) {
            return Err(SweepTransitionError::Invalid {
                from: self.state,
                event: event.name(),
            });
        }
        let plan = match event {
            SweepEvent::Broadcast => fee_plan(&self.txid, self.fee),
            SweepEvent::Confirmed | SweepEvent::Dropped => Vec::new(),
            SweepEvent::Refused { relay_attempts } => {
                if relay_attempts > MAX_REFUNDABLE_RELAY_ATTEMPTS {
                    return Err(SweepTransitionError::MayHaveBeenBroadcast { relay_attempts });
                }
                Vec::new()
            }
            SweepEvent::Abandoned { relay_attempts } => {
                if !abandon_sweep(relay_attempts, self.created_at, now) {
                    return Err(SweepTransitionError::TooEarlyToAbandon);
                }
                Vec::new()
            }
        };
        assert!(
            plan.iter().all(|t| t.code == TransferCode::NetworkFee),
            "a sweep books its network fee and nothing else"
        );
        assert!(
            plan.is_empty() || event == SweepEvent::Broadcast,
            "the fee is booked when the sweep is broadcast, and only then"
        );
        Ok((
            Sweep {
                state: next,
                ..self
            },
            plan,
        ))
    }

    /// Its transaction id.
    pub fn txid(&self) -> &Txid {
        &self.txid
    }

    /// Its network fee: the platform's expense.
    pub fn fee(&self) -> Piconero {
        self.fee
    }

    /// Where it stands.
    pub fn state(&self) -> SweepState {
        self.state
    }

    /// When it was built.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}

/// Whether a `signed` sweep whose relays keep ending in an unknown outcome, and which the
/// wallet still does not know, is given up (`failed`, nothing booked). A signed sweep stops
/// withdrawals from being built (they could spend its inputs), so one the daemon keeps
/// refusing must not stay forever; but only after [`MAX_SWEEP_RELAY_ATTEMPTS`] relays and
/// [`SWEEP_ABANDON_AFTER_SECS`], when a transaction that did reach the network would have
/// been mined and found.
pub fn abandon_sweep(relay_attempts: u64, created_at: Timestamp, now: Timestamp) -> bool {
    relay_attempts >= MAX_SWEEP_RELAY_ATTEMPTS
        && now >= created_at.plus_secs(SWEEP_ABANDON_AFTER_SECS)
}

/// A refused sweep policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SweepPolicyError {
    /// A threshold of zero: the wallet reads it as "no limit" and would sweep everything.
    #[error("the sweep threshold must be above zero")]
    ZeroThreshold,
    /// Fewer or more outputs than the limits allow.
    #[error(
        "the outputs worth a sweep must be between {MIN_SWEEP_MIN_OUTPUTS} and {MAX_SWEEP_MIN_OUTPUTS}"
    )]
    MinOutputs,
}

/// Which outputs the sweeper consolidates, and when it is worth doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPolicy {
    below: Piconero,
    min_outputs: u32,
}

impl SweepPolicy {
    /// Sweep unlocked outputs below `below` once there are at least `min_outputs` of them
    /// (between [`MIN_SWEEP_MIN_OUTPUTS`] and [`MAX_SWEEP_MIN_OUTPUTS`]).
    pub fn new(below: Piconero, min_outputs: u32) -> Result<SweepPolicy, SweepPolicyError> {
        if below.is_zero() {
            return Err(SweepPolicyError::ZeroThreshold);
        }
        if !(MIN_SWEEP_MIN_OUTPUTS..=MAX_SWEEP_MIN_OUTPUTS).contains(&min_outputs) {
            return Err(SweepPolicyError::MinOutputs);
        }
        Ok(SweepPolicy { below, min_outputs })
    }

    /// Outputs below this amount are swept.
    pub fn below(&self) -> Piconero {
        self.below
    }

    /// How many small unlocked outputs make a sweep worth its fee.
    pub fn min_outputs(&self) -> u32 {
        self.min_outputs
    }

    /// How many of `outputs` a sweep would take now: unlocked and below the threshold.
    pub fn small_outputs(&self, outputs: &[OwnedOutput]) -> usize {
        outputs
            .iter()
            .filter(|o| o.unlocked && o.amount < self.below)
            .count()
    }

    /// Whether a sweep of `outputs` is worth it now.
    pub fn worth_sweeping(&self, outputs: &[OwnedOutput]) -> bool {
        let wanted = usize::try_from(self.min_outputs).unwrap_or(usize::MAX);
        self.small_outputs(outputs) >= wanted
    }
}

/// The ledger transfer booking the fee of sweep transaction `txid`: one per transaction, so
/// booking it again is a no-op.
pub fn fee_transfer_id(txid: &Txid) -> TransferId {
    TransferId::derive(&crate::ids::namespace::SWEEP_TRANSFER, txid.as_bytes())
}

/// Books the network fee `fee` of sweep transaction `txid`: from the hot wallet (the coins
/// left it) to the network-fee expense account. Users' accounts are never touched. Empty for
/// a fee of zero (which no real transaction has), since a transfer moves a positive amount.
pub fn fee_plan(txid: &Txid, fee: Piconero) -> Vec<NewTransfer> {
    if fee.is_zero() {
        return Vec::new();
    }
    vec![NewTransfer::xmr(
        fee_transfer_id(txid),
        TransferOp::Single {
            debit: AccountId::network_fees(),
            credit: AccountId::hot_wallet(),
            amount: fee,
        },
        TransferCode::NetworkFee,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::SubaddressIndex;

    fn output(xmr: &str, unlocked: bool) -> OwnedOutput {
        OwnedOutput {
            amount: Piconero::from_xmr_str(xmr).unwrap(),
            subaddress: SubaddressIndex {
                account: 0,
                index: 1,
            },
            unlocked,
        }
    }

    #[test]
    fn states_move_forward_only() {
        use SweepState::{Broadcast, Confirmed, Failed, Signed};
        let all = [Signed, Broadcast, Confirmed, Failed];
        for from in all {
            assert_eq!(SweepState::parse(from.as_str()), Some(from));
            for to in all {
                let allowed = matches!(
                    (from, to),
                    (Signed, Broadcast) | (Signed, Failed) | (Broadcast, Confirmed)
                );
                assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
            }
        }
        assert!(Confirmed.is_final() && Failed.is_final());
        assert!(!Signed.is_final() && !Broadcast.is_final());
        assert_eq!(SweepState::parse("requested"), None);
    }

    #[test]
    fn a_sweep_is_abandoned_only_after_many_relays_and_an_hour() {
        let built = Timestamp::from_unix_ms(1_000_000);
        let later = built.plus_secs(SWEEP_ABANDON_AFTER_SECS);
        assert!(abandon_sweep(MAX_SWEEP_RELAY_ATTEMPTS, built, later));
        assert!(!abandon_sweep(MAX_SWEEP_RELAY_ATTEMPTS - 1, built, later));
        assert!(!abandon_sweep(
            MAX_SWEEP_RELAY_ATTEMPTS,
            built,
            built.plus_secs(SWEEP_ABANDON_AFTER_SECS - 1)
        ));
        assert!(!abandon_sweep(u64::MAX, built, built));
    }

    #[test]
    fn policy_counts_small_unlocked_outputs() {
        let policy = SweepPolicy::new(Piconero::ONE_XMR, 3).unwrap();
        let outputs = [
            output("0.1", true),
            output("0.2", true),
            output("0.999999999999", true),
            output("1", true),
            output("0.3", false),
            output("5", true),
        ];
        assert_eq!(policy.small_outputs(&outputs), 3);
        assert!(policy.worth_sweeping(&outputs));
        assert!(!policy.worth_sweeping(&outputs[1..]));
        assert!(!policy.worth_sweeping(&[]));
    }

    #[test]
    fn policy_refuses_zero_and_out_of_range_counts() {
        assert_eq!(
            SweepPolicy::new(Piconero::ZERO, 10),
            Err(SweepPolicyError::ZeroThreshold)
        );
        for count in [0, 1, MAX_SWEEP_MIN_OUTPUTS + 1] {
            assert_eq!(
                SweepPolicy::new(Piconero::ONE_XMR, count),
                Err(SweepPolicyError::MinOutputs),
                "{count}"
            );
        }
        assert!(SweepPolicy::new(Piconero::new(1), MIN_SWEEP_MIN_OUTPUTS).is_ok());
        assert!(SweepPolicy::new(Piconero::MAX, MAX_SWEEP_MIN_OUTPUTS).is_ok());
    }

    #[test]
    fn the_fee_moves_from_the_hot_wallet_to_network_fees_once_per_txid() {
        let txid = Txid::from_bytes([7; 32]);
        let fee = Piconero::new(30_000_000);
        let plan = fee_plan(&txid, fee);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].id, fee_transfer_id(&txid));
        assert_eq!(plan[0].code, TransferCode::NetworkFee);
        assert_eq!(
            plan[0].op,
            TransferOp::Single {
                debit: AccountId::network_fees(),
                credit: AccountId::hot_wallet(),
                amount: fee,
            }
        );
        assert_eq!(fee_plan(&txid, fee), plan, "the same id every time");
        assert_ne!(
            fee_transfer_id(&Txid::from_bytes([8; 32])),
            fee_transfer_id(&txid)
        );
        assert!(fee_plan(&txid, Piconero::ZERO).is_empty());
    }

    const ALL_STATES: [SweepState; 4] = [
        SweepState::Signed,
        SweepState::Broadcast,
        SweepState::Confirmed,
        SweepState::Failed,
    ];

    fn built() -> Timestamp {
        Timestamp::from_unix_ms(1_000_000)
    }

    /// Late enough to abandon a sweep built at [`built`].
    fn late() -> Timestamp {
        built().plus_secs(SWEEP_ABANDON_AFTER_SECS)
    }

    fn stored(state: SweepState) -> Sweep {
        Sweep::restore(
            Txid::from_bytes([9; 32]),
            Piconero::new(30_000_000),
            state,
            built(),
        )
    }

    /// The events worth trying from any state: each kind, with the guards on both sides.
    fn events() -> [SweepEvent; 7] {
        [
            SweepEvent::Broadcast,
            SweepEvent::Confirmed,
            SweepEvent::Dropped,
            SweepEvent::Refused {
                relay_attempts: MAX_REFUNDABLE_RELAY_ATTEMPTS,
            },
            SweepEvent::Refused {
                relay_attempts: MAX_REFUNDABLE_RELAY_ATTEMPTS + 1,
            },
            SweepEvent::Abandoned {
                relay_attempts: MAX_SWEEP_RELAY_ATTEMPTS,
            },
            SweepEvent::Abandoned {
                relay_attempts: MAX_SWEEP_RELAY_ATTEMPTS - 1,
            },
        ]
    }

    #[test]
    fn every_step_gives_its_state_and_books_the_fee_once() {
        use SweepEvent as E;
        use SweepState::*;
        let txid = Txid::from_bytes([9; 32]);
        let fee = Piconero::new(30_000_000);
        for from in ALL_STATES {
            for event in events() {
                let expected = match (from, event) {
                    (Signed, E::Broadcast) => Ok((Broadcast, fee_plan(&txid, fee))),
                    (Broadcast, E::Confirmed) => Ok((Confirmed, Vec::new())),
                    (Signed, E::Dropped) => Ok((Failed, Vec::new())),
                    (Signed, E::Refused { relay_attempts })
                        if relay_attempts > MAX_REFUNDABLE_RELAY_ATTEMPTS =>
                    {
                        Err(SweepTransitionError::MayHaveBeenBroadcast { relay_attempts })
                    }
                    (Signed, E::Refused { .. }) => Ok((Failed, Vec::new())),
                    (Signed, E::Abandoned { relay_attempts })
                        if relay_attempts < MAX_SWEEP_RELAY_ATTEMPTS =>
                    {
                        Err(SweepTransitionError::TooEarlyToAbandon)
                    }
                    (Signed, E::Abandoned { .. }) => Ok((Failed, Vec::new())),
                    _ => Err(SweepTransitionError::Invalid {
                        from,
                        event: event.name(),
                    }),
                };
                let got = stored(from)
                    .apply(event, late())
                    .map(|(sweep, plan)| (sweep.state(), plan));
                assert_eq!(got, expected, "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn a_sweep_is_abandoned_from_its_own_build_time() {
        let event = SweepEvent::Abandoned {
            relay_attempts: MAX_SWEEP_RELAY_ATTEMPTS,
        };
        let sweep = Sweep::signed(Txid::from_bytes([1; 32]), Piconero::new(5), built());
        assert_eq!(sweep.created_at(), built());
        assert_eq!(sweep.state(), SweepState::Signed);
        let too_soon = built().plus_secs(SWEEP_ABANDON_AFTER_SECS - 1);
        assert_eq!(
            sweep.clone().apply(event, too_soon),
            Err(SweepTransitionError::TooEarlyToAbandon)
        );
        let (failed, plan) = sweep.clone().apply(event, late()).unwrap();
        assert_eq!(failed.state(), SweepState::Failed);
        assert!(plan.is_empty(), "nothing was booked, nothing is undone");
        assert_eq!((failed.txid(), failed.fee()), (sweep.txid(), sweep.fee()));
    }

    #[test]
    fn every_legal_move_has_a_step_and_relays_only_while_live() {
        for from in ALL_STATES {
            for to in ALL_STATES {
                let reached = events().iter().any(|e| {
                    stored(from)
                        .apply(*e, late())
                        .is_ok_and(|(sweep, _)| sweep.state() == to)
                });
                assert_eq!(reached, from.may_become(to), "{from:?} -> {to:?}");
            }
            assert_eq!(
                from.may_relay(),
                matches!(from, SweepState::Signed | SweepState::Broadcast)
            );
        }
    }

    proptest::proptest! {
        /// Any step, with any numbers, from any state: `apply` moves only along `may_become`,
        /// refuses as invalid exactly what `may_become` refuses, and books only on broadcast.
        #[test]
        fn apply_agrees_with_may_become(
            state in 0usize..4,
            kind in 0u8..5,
            relay_attempts in 0u64..=2 * MAX_SWEEP_RELAY_ATTEMPTS,
            secs in 0u64..=2 * SWEEP_ABANDON_AFTER_SECS,
            fee in 0u64..=1_000_000_000,
        ) {
            let from = ALL_STATES[state];
            let event = match kind {
                0 => SweepEvent::Broadcast,
                1 => SweepEvent::Confirmed,
                2 => SweepEvent::Dropped,
                3 => SweepEvent::Refused { relay_attempts },
                _ => SweepEvent::Abandoned { relay_attempts },
            };
            let sweep = Sweep::restore(Txid::from_bytes([3; 32]), Piconero::new(fee), from, built());
            match sweep.apply(event, built().plus_secs(secs)) {
                Ok((next, plan)) => {
                    proptest::prop_assert!(from.may_become(next.state()));
                    proptest::prop_assert_eq!(next.state(), event.target());
                    let booked: u64 = plan
                        .iter()
                        .map(|t| match t.op {
                            TransferOp::Single { amount, .. } => amount.as_u64(),
                            _ => u64::MAX,
                        })
                        .sum();
                    let expected = if event == SweepEvent::Broadcast { fee } else { 0 };
                    proptest::prop_assert_eq!(booked, expected);
                }
                Err(e) => {
                    proptest::prop_assert_eq!(
                        e.is_invalid_transition(),
                        !from.may_become(event.target())
                    );
                }
            }
        }
    }
}
