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
//! once whatever crashes in between ([`SweepState`]).

use uuid::Uuid;

use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::{MAX_SWEEP_MIN_OUTPUTS, MIN_SWEEP_MIN_OUTPUTS};
use crate::wallet::{OwnedOutput, Txid};
use crate::{AccountId, Piconero, Timestamp, TransferId};

/// Namespace of the ledger transfers booking sweep fees.
const SWEEP_TRANSFER_NAMESPACE: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0006);

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
}

/// Relays of a signed sweep with an unknown outcome before it may be abandoned.
pub const MAX_SWEEP_RELAY_ATTEMPTS: u64 = 10;

/// How old a signed sweep must be before it may be abandoned: long enough that, had any relay
/// reached the network, the transaction would be mined and the wallet would know it (blocks
/// come every two minutes).
pub const SWEEP_ABANDON_AFTER_SECS: u64 = 60 * 60;

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
    TransferId::derive(&SWEEP_TRANSFER_NAMESPACE, txid.as_bytes())
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
}
