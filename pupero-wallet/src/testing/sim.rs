//! [`SimWallet`]: a deterministic, in-memory [`WalletRpc`] for simulations of the deposit
//! scanner, the withdrawal worker and the sweeper, with faults injected from a seeded RNG.
//!
//! It keeps a tiny chain (blocks, a pool, outputs and what spends them) and, apart from it, the
//! wallet's memory (its outgoing transactions, the outputs it spent in the pool, its
//! subaddresses), which a restart resets to what was last [`store`](WalletRpc::store)d, as a
//! crashed `monero-wallet-rpc` does. It follows the real wallet where the money is at stake:
//! - a built transaction reserves nothing and has no effect until relayed; two builds may pick
//!   the same outputs, and the second relay is then refused as a double spend with the
//!   wallet's uncertain "Failed to commit tx.";
//! - relaying the same metadata again is a no-op returning the same txid;
//! - relayed transactions stay on the chain across restarts; a restarted wallet does not know
//!   its own unstored transactions while they wait in the pool (`outgoing_transfer` is `None`,
//!   their inputs look unspent) and finds them again once mined;
//! - a transaction evicted from the pool ([`SimWallet::evict`]) is `Failed`.
//!
//! Ordinary outputs unlock after [`TRANSFER_UNLOCK_BLOCKS`](super::TRANSFER_UNLOCK_BLOCKS)
//! confirmations; the fee is [`SIM_FEE_BASE`] plus [`SIM_FEE_PER_OUTPUT`] per output, whatever
//! the priority.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use pupero_core::{MoneroAddress, Network, Piconero};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::TRANSFER_UNLOCK_BLOCKS;
use crate::error::codes;
use crate::{
    Balance, BuiltTransfer, Error, IncomingTransfer, MAX_DESTINATIONS, OutgoingState,
    OutgoingStatus, OwnedOutput, Priority, Refreshed, Result, SentTransfer, Subaddress,
    SubaddressIndex, TxMetadata, Txid, WalletRpc,
};

/// The fee of every simulated transaction, before its outputs.
pub const SIM_FEE_BASE: Piconero = Piconero::new(30_000_000);

/// What each output adds to a simulated transaction's fee.
pub const SIM_FEE_PER_OUTPUT: Piconero = Piconero::new(10_000_000);

/// How many subaddresses [`SimWallet`] can make: its addresses are drawn from a fixed set.
pub const SIM_MAX_SUBADDRESSES: u32 = 10_000;

/// How many blocks [`SimWallet::fund`] mines: until the deposit unlocks.
const FUND_BLOCKS: u64 = TRANSFER_UNLOCK_BLOCKS;

/// The prefix of simulated transaction metadata (hex of "SIM").
const METADATA_PREFIX: &str = "53494d";

/// How often each fault strikes a call, each a probability from 0 to 1. The RNG is seeded, so
/// a run is reproducible.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultPlan {
    /// The call does everything, then its answer is lost: [`Error::Timeout`].
    pub lose_response_after_success: f64,
    /// The wallet cannot be reached: [`Error::Unavailable`], nothing happens.
    pub unavailable: f64,
    /// The request is lost before the wallet acts: [`Error::Timeout`], nothing happens.
    pub timeout_before_effect: f64,
    /// The wallet process restarts before the call, forgetting what was not stored; the call
    /// gets [`Error::Unavailable`].
    pub restart: f64,
    /// The calls the faults strike, by their `monero-wallet-rpc` method (`relay_tx`,
    /// `transfer`, `store`, `get_transfer_by_txid`...); empty: every call. Aiming the faults
    /// at a few calls reaches rare sequences (a lost relay, then a restart, then a refused
    /// relay) far more often than spreading them.
    pub only: &'static [&'static str],
}

/// An output on the simulated chain.
#[derive(Debug, Clone)]
struct ChainOutput {
    amount: Piconero,
    /// The wallet's subaddress it pays, `None` for anyone else's.
    owner: Option<SubaddressIndex>,
    /// The address it pays.
    address: MoneroAddress,
    txid: Txid,
}

/// A signed transaction: built by the wallet, or paid to it from outside.
#[derive(Debug, Clone)]
struct SimTx {
    /// Outputs it spends (indices into `Chain::outputs`); none for an outside deposit.
    inputs: Vec<usize>,
    /// What it pays, in order (change last, for the wallet's own transactions).
    payments: Vec<(MoneroAddress, Piconero)>,
    /// How many of `payments` are destinations (the rest is change).
    destinations: usize,
    fee: Piconero,
}

#[derive(Debug, Default)]
struct Chain {
    /// Blocks so far.
    height: u64,
    outputs: Vec<ChainOutput>,
    /// Every relayed transaction, with its block (`None` in the pool).
    relayed: BTreeMap<Txid, Option<u64>>,
    /// Transactions that left the pool without being mined.
    evicted: BTreeSet<Txid>,
    /// Output index → the relayed transaction spending it (pool or mined).
    spent_by: BTreeMap<usize, Txid>,
    /// Output indices each relayed transaction created.
    created: BTreeMap<Txid, Vec<usize>>,
}

impl Chain {
    fn block_of(&self, txid: &Txid) -> Option<u64> {
        self.relayed.get(txid).copied().flatten()
    }

    fn confirmations(&self, block: u64) -> u64 {
        self.height.saturating_sub(block)
    }
}

/// The wallet process's memory: what a restart loses unless stored.
#[derive(Debug, Clone, Default)]
struct Memory {
    /// Subaddresses made in account 0 (index 0 is the primary address).
    subaddresses: u32,
    /// Outgoing transactions it relayed.
    outgoing: BTreeSet<Txid>,
}

#[derive(Debug)]
struct State {
    network: Network,
    rng: StdRng,
    faults: FaultPlan,
    chain: Chain,
    /// Every transaction ever signed, by txid: metadata is self-contained, so it survives
    /// restarts.
    signed: BTreeMap<Txid, SimTx>,
    live: Memory,
    stored: Memory,
    next_tx: u64,
    scanned_height: u64,
    restarts: u64,
    /// The wallet's addresses made so far, by index (derived from its keys, so never
    /// forgotten: a restarted wallet makes the same address for the same index).
    addresses: Vec<MoneroAddress>,
    /// The index of each address in `addresses`.
    owners: BTreeMap<String, u32>,
}

/// A deterministic in-memory wallet with a tiny chain and injected faults. See the module
/// documentation for what it models.
#[derive(Debug)]
pub struct SimWallet {
    state: Mutex<State>,
}

/// Where a call fails before, or after, doing its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    LoseResponse,
}

impl SimWallet {
    /// A wallet on `network`'s addresses with an empty chain and no faults.
    pub fn new(network: Network) -> SimWallet {
        SimWallet::with_faults(network, 0, FaultPlan::default())
    }

    /// A wallet whose calls fail as `plan` says, drawn from an RNG seeded with `seed`.
    ///
    /// # Panics
    /// When a probability of `plan` is not between 0 and 1.
    pub fn with_faults(network: Network, seed: u64, plan: FaultPlan) -> SimWallet {
        for p in [
            plan.lose_response_after_success,
            plan.unavailable,
            plan.timeout_before_effect,
            plan.restart,
        ] {
            assert!((0.0..=1.0).contains(&p), "probability {p} out of range");
        }
        let memory = Memory {
            subaddresses: 1,
            outgoing: BTreeSet::new(),
        };
        let primary = sim_address(network, 0);
        let owners = BTreeMap::from([(primary.as_str().to_owned(), 0)]);
        SimWallet {
            state: Mutex::new(State {
                network,
                rng: StdRng::seed_from_u64(seed),
                faults: plan,
                chain: Chain::default(),
                signed: BTreeMap::new(),
                live: memory.clone(),
                stored: memory,
                next_tx: 0,
                scanned_height: 0,
                restarts: 0,
                addresses: vec![primary],
                owners,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this wallet's state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the fault plan (e.g. to none, to let a simulation settle).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.lock().faults = plan;
    }

    /// Mines `blocks` blocks; the first holds every transaction of the pool. Returns the
    /// chain's height.
    pub fn mine(&self, blocks: u64) -> u64 {
        let mut state = self.lock();
        if blocks == 0 {
            return state.chain.height;
        }
        let block = state.chain.height;
        for mined in state.chain.relayed.values_mut() {
            if mined.is_none() {
                *mined = Some(block);
            }
        }
        state.chain.height = state.chain.height.saturating_add(blocks);
        state.chain.height
    }

    /// The chain's height (its number of blocks).
    pub fn chain_height(&self) -> u64 {
        self.lock().chain.height
    }

    /// Someone outside pays `amount` to `address` (one of the wallet's, or anyone's): a
    /// transaction in the pool. Returns its txid.
    ///
    /// # Panics
    /// When `address` is of another network.
    pub fn deposit(&self, address: &MoneroAddress, amount: Piconero) -> Txid {
        let mut state = self.lock();
        assert_eq!(address.network(), state.network, "deposit to {address}");
        let txid = state.new_txid();
        let tx = SimTx {
            inputs: Vec::new(),
            payments: vec![(address.clone(), amount)],
            destinations: 1,
            fee: Piconero::ZERO,
        };
        state.signed.insert(txid, tx);
        state.broadcast(txid);
        txid
    }

    /// Deposits `amount` to the primary address and mines it until it unlocks.
    pub fn fund(&self, amount: Piconero) -> Txid {
        let primary = self.lock().addresses[0].clone();
        let txid = self.deposit(&primary, amount);
        self.mine(FUND_BLOCKS);
        txid
    }

    /// The daemon drops `txid` from its pool without mining it (the wallet then reports it
    /// `Failed` and its inputs are spendable again). Returns whether it was in the pool.
    pub fn evict(&self, txid: Txid) -> bool {
        let mut state = self.lock();
        if state.chain.relayed.get(&txid) != Some(&None) {
            return false;
        }
        state.chain.relayed.remove(&txid);
        state.chain.evicted.insert(txid);
        state.chain.spent_by.retain(|_, by| *by != txid);
        true
    }

    /// The wallet process restarts: it forgets everything not stored. The chain stays.
    pub fn restart(&self) {
        self.lock().restart();
    }

    /// How often the wallet restarted (asked or injected).
    pub fn restarts(&self) -> u64 {
        self.lock().restarts
    }

    /// The transactions in the pool.
    pub fn pool(&self) -> Vec<Txid> {
        let state = self.lock();
        state
            .chain
            .relayed
            .iter()
            .filter(|(_, block)| block.is_none())
            .map(|(txid, _)| *txid)
            .collect()
    }

    /// Every transaction relayed (in the pool or mined), outside deposits included.
    pub fn relayed(&self) -> Vec<Txid> {
        self.lock().chain.relayed.keys().copied().collect()
    }

    /// What `address` received on the chain (pool included), by transaction: the ground truth
    /// against which a simulation checks that each withdrawal paid exactly once.
    pub fn received_by(&self, address: &MoneroAddress) -> Vec<(Txid, Piconero)> {
        let state = self.lock();
        let mut received: BTreeMap<Txid, Piconero> = BTreeMap::new();
        for output in &state.chain.outputs {
            if &output.address == address && state.chain.relayed.contains_key(&output.txid) {
                let sum = received.entry(output.txid).or_insert(Piconero::ZERO);
                *sum = sum.checked_add(output.amount).expect("simulated sums fit");
            }
        }
        received.into_iter().collect()
    }

    /// Draws the faults of one call, in a fixed order; `Err` when the call fails before any
    /// effect.
    fn begin(&self, method: &str) -> Result<Fault> {
        let mut state = self.lock();
        let plan = state.faults;
        if !plan.only.is_empty() && !plan.only.contains(&method) {
            return Ok(Fault::None);
        }
        if state.rng.random_bool(plan.restart) {
            state.restart();
            return Err(Error::Unavailable(format!(
                "{method}: the wallet restarted"
            )));
        }
        if state.rng.random_bool(plan.unavailable) {
            return Err(Error::Unavailable(format!("{method}: connection refused")));
        }
        if state.rng.random_bool(plan.timeout_before_effect) {
            return Err(Error::Timeout(format!(
                "{method}: no answer (request lost)"
            )));
        }
        if state.rng.random_bool(plan.lose_response_after_success) {
            return Ok(Fault::LoseResponse);
        }
        Ok(Fault::None)
    }

    /// Runs `work` under the faults drawn for `method`.
    fn call<T>(&self, method: &str, work: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let fault = self.begin(method)?;
        let outcome = work(&mut self.lock());
        match fault {
            Fault::None => outcome,
            Fault::LoseResponse => Err(Error::Timeout(format!(
                "{method}: the answer was lost after the wallet acted"
            ))),
        }
    }
}

impl State {
    fn restart(&mut self) {
        self.live = self.stored.clone();
        self.restarts = self.restarts.saturating_add(1);
    }

    fn new_txid(&mut self) -> Txid {
        self.next_tx = self.next_tx.saturating_add(1);
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&self.next_tx.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.rng.random::<u64>().to_be_bytes());
        Txid::from_bytes(bytes)
    }

    /// The wallet's address at `index` of account 0 (0: primary).
    fn address(&mut self, index: u32) -> MoneroAddress {
        let wanted = usize::try_from(index).expect("index fits");
        while self.addresses.len() <= wanted {
            let next = u32::try_from(self.addresses.len()).expect("bounded");
            let address = sim_address(self.network, next);
            self.owners.insert(address.as_str().to_owned(), next);
            self.addresses.push(address);
        }
        self.addresses[wanted].clone()
    }

    /// The wallet's subaddress index of `address`, if it is one of its addresses. Every
    /// address it ever made is recognised, also after a restart that forgot making it, as the
    /// real wallet's subaddress lookahead does.
    fn owner_of(&self, address: &MoneroAddress) -> Option<SubaddressIndex> {
        self.owners
            .get(address.as_str())
            .map(|index| SubaddressIndex {
                account: 0,
                index: *index,
            })
    }

    /// Puts a signed transaction in the pool: its inputs become spent, its outputs exist.
    fn broadcast(&mut self, txid: Txid) {
        let tx = self.signed.get(&txid).expect("signed").clone();
        for input in &tx.inputs {
            self.chain.spent_by.insert(*input, txid);
        }
        let mut created = Vec::with_capacity(tx.payments.len());
        for (address, amount) in &tx.payments {
            created.push(self.chain.outputs.len());
            let owner = self.owner_of(address);
            self.chain.outputs.push(ChainOutput {
                amount: *amount,
                owner,
                address: address.clone(),
                txid,
            });
        }
        self.chain.created.insert(txid, created);
        self.chain.relayed.insert(txid, None);
        self.chain.evicted.remove(&txid);
    }

    /// Whether the wallet sent `txid` (it spends the wallet's outputs).
    fn is_own(&self, txid: &Txid) -> bool {
        self.signed
            .get(txid)
            .is_some_and(|tx| !tx.inputs.is_empty())
    }

    /// Whether the wallet sees output `index` as spent: by a mined transaction, or by one in
    /// the pool it remembers relaying.
    fn wallet_sees_spent(&self, index: usize) -> bool {
        self.chain
            .spent_by
            .get(&index)
            .is_some_and(|by| self.chain.block_of(by).is_some() || self.live.outgoing.contains(by))
    }

    /// Whether the wallet sees output `index` (its own): mined, or change of a pool
    /// transaction it remembers.
    fn wallet_sees(&self, index: usize) -> bool {
        let output = &self.chain.outputs[index];
        output.owner.is_some()
            && (self.chain.block_of(&output.txid).is_some()
                || self.live.outgoing.contains(&output.txid))
    }

    fn unlocked(&self, index: usize) -> bool {
        let txid = self.chain.outputs[index].txid;
        self.chain
            .block_of(&txid)
            .is_some_and(|block| self.chain.confirmations(block) >= TRANSFER_UNLOCK_BLOCKS)
    }

    /// The wallet's unspent outputs, oldest first.
    fn unspent(&self) -> Vec<usize> {
        (0..self.chain.outputs.len())
            .filter(|i| self.wallet_sees(*i) && !self.wallet_sees_spent(*i))
            .collect()
    }

    /// Builds and signs a transaction paying `payments` (destinations) from the unlocked
    /// outputs in `candidates`, change to the primary address. Nothing is reserved.
    fn build(
        &mut self,
        payments: Vec<(MoneroAddress, Piconero)>,
        candidates: Vec<usize>,
        sweep: bool,
    ) -> Result<(Txid, SimTx)> {
        let wanted = payments
            .iter()
            .try_fold(Piconero::ZERO, |sum, (_, amount)| sum.checked_add(*amount))
            .map_err(|_| not_possible("amounts overflow"))?;
        let outputs = u64::try_from(payments.len()).unwrap_or(u64::MAX);
        let fee = SIM_FEE_PER_OUTPUT
            .checked_mul(outputs.saturating_add(1))
            .and_then(|f| f.checked_add(SIM_FEE_BASE))
            .map_err(|_| not_possible("fee overflows"))?;
        let needed = wanted
            .checked_add(fee)
            .map_err(|_| not_possible("amount and fee overflow"))?;
        let mut inputs = Vec::new();
        let mut gathered = Piconero::ZERO;
        let mut unlocked: Vec<usize> = candidates
            .into_iter()
            .filter(|i| self.unlocked(*i))
            .collect();
        // Largest first: fewest inputs.
        unlocked.sort_by_key(|i| std::cmp::Reverse(self.chain.outputs[*i].amount));
        for index in unlocked {
            if !sweep && gathered >= needed {
                break;
            }
            gathered = gathered
                .checked_add(self.chain.outputs[index].amount)
                .map_err(|_| not_possible("inputs overflow"))?;
            inputs.push(index);
        }
        let mut payments = payments;
        let destinations = payments.len();
        if sweep {
            // One destination, which receives everything but the fee.
            let swept = gathered
                .checked_sub(fee)
                .map_err(|_| not_possible("the outputs do not cover the fee"))?;
            payments[0].1 = swept;
        } else {
            if gathered < needed {
                let total = self
                    .unspent()
                    .iter()
                    .try_fold(Piconero::ZERO, |sum, i| {
                        sum.checked_add(self.chain.outputs[*i].amount)
                    })
                    .unwrap_or(Piconero::MAX);
                let (code, message) = if total < wanted {
                    (codes::NOT_ENOUGH_MONEY, "not enough money")
                } else if total < needed {
                    (codes::TX_NOT_POSSIBLE, "tx not possible")
                } else {
                    (
                        codes::NOT_ENOUGH_UNLOCKED_MONEY,
                        "not enough unlocked money",
                    )
                };
                return Err(Error::InsufficientFunds {
                    code,
                    message: message.to_owned(),
                });
            }
            let change = gathered
                .checked_sub(needed)
                .expect("gathered covers what is needed");
            if !change.is_zero() {
                payments.push((self.address(0), change));
            }
        }
        let txid = self.new_txid();
        let tx = SimTx {
            inputs,
            payments,
            destinations,
            fee,
        };
        self.signed.insert(txid, tx.clone());
        Ok((txid, tx))
    }

    /// Relays the signed transaction `txid`, as `relay_tx` does.
    fn relay(&mut self, txid: Txid) -> Result<Txid> {
        if self.chain.relayed.contains_key(&txid) {
            // The same transaction again: the daemon already has it.
            self.live.outgoing.insert(txid);
            return Ok(txid);
        }
        let tx = self.signed.get(&txid).expect("signed").clone();
        let double_spend = tx
            .inputs
            .iter()
            .any(|i| self.chain.spent_by.contains_key(i));
        if double_spend {
            return Err(Error::RelayUncertain {
                code: codes::GENERIC_TRANSFER_ERROR,
                message: "Failed to commit tx.".to_owned(),
            });
        }
        self.broadcast(txid);
        self.live.outgoing.insert(txid);
        Ok(txid)
    }

    fn built(&self, txid: Txid, tx: &SimTx) -> BuiltTransfer {
        let amounts = tx.payments[..tx.destinations]
            .iter()
            .map(|(_, amount)| *amount)
            .collect();
        let mut metadata = String::from(METADATA_PREFIX);
        metadata.push_str(&txid.to_string());
        BuiltTransfer {
            txid,
            amounts,
            fee: tx.fee,
            tx_key: format!("{:064x}", self.next_tx),
            tx_metadata: TxMetadata::from_hex(&metadata).expect("hex"),
            weight: Some(1_500),
        }
    }

    fn check_network(&self, address: &MoneroAddress) -> Result<()> {
        if address.network() == self.network {
            return Ok(());
        }
        Err(Error::InvalidAddress(format!(
            "{address} is not a {} address",
            self.network
        )))
    }

    /// Refuses what no transaction pays: no destination, too many, an amount of zero.
    fn check_destinations(destinations: &[(MoneroAddress, Piconero)]) -> Result<()> {
        if destinations.is_empty() || destinations.len() > MAX_DESTINATIONS {
            return Err(Error::InvalidAddress(format!(
                "{} destinations",
                destinations.len()
            )));
        }
        if destinations.iter().any(|(_, amount)| amount.is_zero()) {
            return Err(Error::Rejected {
                code: codes::ZERO_AMOUNT,
                message: "destination amount is zero".to_owned(),
            });
        }
        Ok(())
    }

    fn check_account(account: u32) -> Result<()> {
        if account == 0 {
            return Ok(());
        }
        Err(Error::Rejected {
            code: codes::ACCOUNT_INDEX_OUT_OF_BOUNDS,
            message: "account index is out of bound".to_owned(),
        })
    }

    fn outgoing(&self, txid: Txid) -> Option<OutgoingStatus> {
        let tx = self.signed.get(&txid)?;
        if !self.is_own(&txid) {
            return None;
        }
        let block = self.chain.relayed.get(&txid);
        let remembered = self.live.outgoing.contains(&txid);
        let state = match block {
            Some(Some(height)) => OutgoingState::Confirmed {
                height: *height,
                confirmations: self.chain.confirmations(*height),
            },
            Some(None) if remembered => OutgoingState::Pool,
            None if remembered && self.chain.evicted.contains(&txid) => OutgoingState::Failed,
            // Unstored and still in the pool, or never relayed: the wallet does not know it.
            _ => return None,
        };
        let amount = if remembered {
            tx.payments[..tx.destinations]
                .iter()
                .try_fold(Piconero::ZERO, |sum, (_, a)| sum.checked_add(*a))
                .ok()?
        } else {
            // Found again on the chain: what left the wallet, without its change and fee.
            let spent = tx.inputs.iter().try_fold(Piconero::ZERO, |sum, i| {
                sum.checked_add(self.chain.outputs[*i].amount)
            });
            let kept = self
                .chain
                .created
                .get(&txid)
                .into_iter()
                .flatten()
                .try_fold(Piconero::ZERO, |sum, i| {
                    let output = &self.chain.outputs[*i];
                    if output.owner.is_some() {
                        sum.checked_add(output.amount)
                    } else {
                        Ok(sum)
                    }
                });
            spent
                .ok()?
                .checked_sub(kept.ok()?)
                .and_then(|a| a.checked_sub(tx.fee))
                .ok()?
        };
        Some(OutgoingStatus {
            txid,
            state,
            amount,
            fee: tx.fee,
        })
    }
}

fn not_possible(why: &str) -> Error {
    Error::InsufficientFunds {
        code: codes::TX_NOT_POSSIBLE,
        message: format!("tx not possible: {why}"),
    }
}

/// The simulated wallet's address `index` of account 0: made from fixed keys, valid for
/// `network` (index 0 a standard address, the others subaddresses).
fn sim_address(network: Network, index: u32) -> MoneroAddress {
    let key = |n: u64| {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let secret = monero::PrivateKey::from_slice(&bytes).expect("a small scalar");
        monero::PublicKey::from_private_key(&secret)
    };
    let net = match network {
        Network::Mainnet => monero::Network::Mainnet,
        Network::Testnet => monero::Network::Testnet,
        Network::Stagenet => monero::Network::Stagenet,
    };
    let spend = key(u64::from(index).saturating_add(2));
    let view = key(1);
    let address = if index == 0 {
        monero::Address::standard(net, spend, view)
    } else {
        monero::Address::subaddress(net, spend, view)
    };
    MoneroAddress::parse(&address.to_string(), network).expect("a valid address")
}

/// The `n`th address of someone outside every [`SimWallet`]: a standard address of `network`
/// made from fixed keys that no simulated wallet uses, so deposits to it are nobody's and a
/// simulation can check what it received with [`SimWallet::received_by`].
pub fn outside_address(network: Network, n: u32) -> MoneroAddress {
    let key = |k: u64| {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&k.to_le_bytes());
        // The top byte keeps these scalars apart from the wallet's (small) ones.
        bytes[30] = 0x5a;
        let secret = monero::PrivateKey::from_slice(&bytes).expect("a canonical scalar");
        monero::PublicKey::from_private_key(&secret)
    };
    let net = match network {
        Network::Mainnet => monero::Network::Mainnet,
        Network::Testnet => monero::Network::Testnet,
        Network::Stagenet => monero::Network::Stagenet,
    };
    let address = monero::Address::standard(net, key(u64::from(n)), key(u64::from(n)));
    MoneroAddress::parse(&address.to_string(), network).expect("a valid address")
}

/// Parses simulated metadata back into its txid.
fn metadata_txid(metadata: &TxMetadata) -> Option<Txid> {
    metadata
        .as_str()
        .strip_prefix(METADATA_PREFIX)
        .and_then(Txid::from_hex)
}

#[async_trait]
impl WalletRpc for SimWallet {
    async fn primary_address(&self, account: u32) -> Result<MoneroAddress> {
        self.call("get_address", |state| {
            State::check_account(account)?;
            Ok(state.address(0))
        })
    }

    async fn create_subaddress(&self, account: u32, _label: &str) -> Result<Subaddress> {
        self.call("create_address", |state| {
            State::check_account(account)?;
            let index = state.live.subaddresses;
            if index >= SIM_MAX_SUBADDRESSES {
                return Err(Error::Rejected {
                    code: codes::UNKNOWN_ERROR,
                    message: "the simulation has no more subaddresses".to_owned(),
                });
            }
            state.live.subaddresses = index.saturating_add(1);
            Ok(Subaddress {
                address: state.address(index),
                index: SubaddressIndex { account, index },
            })
        })
    }

    async fn subaddress_count(&self, account: u32) -> Result<u32> {
        self.call("get_address", |state| {
            State::check_account(account)?;
            Ok(state.live.subaddresses)
        })
    }

    async fn subaddress(&self, account: u32, index: u32) -> Result<MoneroAddress> {
        self.call("get_address", |state| {
            State::check_account(account)?;
            if index >= state.live.subaddresses {
                return Err(Error::Rejected {
                    code: codes::UNKNOWN_ERROR,
                    message: "address index is out of bound".to_owned(),
                });
            }
            Ok(state.address(index))
        })
    }

    async fn rescan(&self) -> Result<()> {
        // The simulation's wallet sees every output of its subaddresses whenever they were made.
        self.call("rescan_blockchain", |_| Ok(()))
    }

    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>> {
        self.call("get_transfers", |state| {
            State::check_account(account)?;
            let mut entries: BTreeMap<(Option<u64>, Txid, SubaddressIndex), Vec<Piconero>> =
                BTreeMap::new();
            for output in &state.chain.outputs {
                let Some(owner) = output.owner else { continue };
                let Some(block) = state.chain.relayed.get(&output.txid) else {
                    continue;
                };
                if state.is_own(&output.txid) || block.is_some_and(|b| b < min_height) {
                    continue;
                }
                entries
                    .entry((*block, output.txid, owner))
                    .or_default()
                    .push(output.amount);
            }
            let mut transfers = Vec::with_capacity(entries.len());
            for ((block, txid, subaddress), output_amounts) in entries {
                let amount = output_amounts
                    .iter()
                    .try_fold(Piconero::ZERO, |sum, a| sum.checked_add(*a))
                    .map_err(|_| Error::InvalidResponse("amounts overflow".to_owned()))?;
                let confirmations = block.map_or(0, |b| state.chain.confirmations(b));
                transfers.push(IncomingTransfer {
                    txid,
                    subaddress,
                    amount,
                    output_amounts,
                    height: block,
                    confirmations,
                    locked: confirmations < TRANSFER_UNLOCK_BLOCKS,
                    unlock_time: 0,
                    double_spend_seen: false,
                    coinbase: false,
                });
            }
            // Mined ones by height first, then the pool (`None` sorts first in the map).
            transfers.sort_by_key(|t| (t.height.is_none(), t.height, t.txid, t.subaddress));
            Ok(transfers)
        })
    }

    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> Result<SentTransfer> {
        let _ = priority;
        self.call("transfer", |state| {
            State::check_account(account)?;
            state.check_network(destination)?;
            let candidates = state.unspent();
            let (txid, tx) = state.build(vec![(destination.clone(), amount)], candidates, false)?;
            state.relay(txid)?;
            Ok(SentTransfer {
                txid,
                amount,
                fee: tx.fee,
                tx_key: state.built(txid, &tx).tx_key,
            })
        })
    }

    async fn build_transfer(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<BuiltTransfer> {
        let _ = priority;
        self.call("transfer", |state| {
            State::check_account(account)?;
            State::check_destinations(destinations)?;
            for (address, _) in destinations {
                state.check_network(address)?;
            }
            let candidates = state.unspent();
            let (txid, tx) = state.build(destinations.to_vec(), candidates, false)?;
            Ok(state.built(txid, &tx))
        })
    }

    async fn estimate_fee(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<Piconero> {
        let _ = priority;
        self.call("transfer", |state| {
            State::check_account(account)?;
            State::check_destinations(destinations)?;
            for (address, _) in destinations {
                state.check_network(address)?;
            }
            let candidates = state.unspent();
            let (txid, tx) = state.build(destinations.to_vec(), candidates, false)?;
            // Thrown away: never relayable.
            state.signed.remove(&txid);
            Ok(tx.fee)
        })
    }

    async fn address_index(&self, address: &MoneroAddress) -> Result<Option<SubaddressIndex>> {
        self.call("get_address_index", |state| {
            state.check_network(address)?;
            // An integrated address pays the standard address it is built on.
            Ok(state.owner_of(&address.receiving_address()))
        })
    }

    async fn relay(&self, tx_metadata: &TxMetadata) -> Result<Txid> {
        self.call("relay_tx", |state| {
            let txid = metadata_txid(tx_metadata)
                .filter(|txid| state.signed.contains_key(txid))
                .ok_or_else(|| Error::Rejected {
                    code: codes::BAD_TX_METADATA,
                    message: "Failed to parse tx metadata.".to_owned(),
                })?;
            state.relay(txid)
        })
    }

    async fn outgoing_transfer(&self, txid: Txid) -> Result<Option<OutgoingStatus>> {
        self.call("get_transfer_by_txid", |state| Ok(state.outgoing(txid)))
    }

    async fn sweep_below(
        &self,
        account: u32,
        below: Piconero,
        destination: &MoneroAddress,
        priority: Priority,
        do_not_relay: bool,
    ) -> Result<Vec<BuiltTransfer>> {
        let _ = priority;
        self.call("sweep_all", |state| {
            State::check_account(account)?;
            state.check_network(destination)?;
            let small: Vec<usize> = state
                .unspent()
                .into_iter()
                .filter(|i| state.unlocked(*i) && state.chain.outputs[*i].amount < below)
                .collect();
            let total = small.iter().try_fold(Piconero::ZERO, |sum, i| {
                sum.checked_add(state.chain.outputs[*i].amount)
            });
            let worth_it = total.is_ok_and(|t| t > SIM_FEE_BASE.checked_mul(2).unwrap_or(t));
            if small.is_empty() || !worth_it {
                return Ok(Vec::new());
            }
            let (txid, tx) =
                state.build(vec![(destination.clone(), Piconero::ZERO)], small, true)?;
            if !do_not_relay {
                state.relay(txid)?;
            }
            Ok(vec![state.built(txid, &tx)])
        })
    }

    async fn unspent_outputs(&self, account: u32) -> Result<Vec<OwnedOutput>> {
        self.call("incoming_transfers", |state| {
            State::check_account(account)?;
            Ok(state
                .unspent()
                .into_iter()
                .map(|i| {
                    let output = &state.chain.outputs[i];
                    OwnedOutput {
                        amount: output.amount,
                        subaddress: output.owner.expect("own output"),
                        unlocked: state.unlocked(i),
                    }
                })
                .collect())
        })
    }

    async fn store(&self) -> Result<()> {
        self.call("store", |state| {
            state.stored = state.live.clone();
            Ok(())
        })
    }

    async fn balance(&self, account: u32) -> Result<Balance> {
        self.call("get_balance", |state| {
            State::check_account(account)?;
            let mut total = Piconero::ZERO;
            let mut unlocked = Piconero::ZERO;
            for i in state.unspent() {
                let amount = state.chain.outputs[i].amount;
                total = total
                    .checked_add(amount)
                    .map_err(|_| Error::InvalidResponse("balance overflows".to_owned()))?;
                if state.unlocked(i) {
                    unlocked = unlocked
                        .checked_add(amount)
                        .map_err(|_| Error::InvalidResponse("balance overflows".to_owned()))?;
                }
            }
            Ok(Balance { total, unlocked })
        })
    }

    async fn height(&self) -> Result<u64> {
        self.call("get_height", |state| Ok(state.scanned_height))
    }

    async fn refresh(&self) -> Result<Refreshed> {
        self.call("refresh", |state| {
            let blocks_fetched = state.chain.height.saturating_sub(state.scanned_height);
            state.scanned_height = state.chain.height;
            Ok(Refreshed {
                blocks_fetched,
                received_money: false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xmr(text: &str) -> Piconero {
        Piconero::from_xmr_str(text).unwrap()
    }

    /// Someone else's address (the regtest burn address).
    fn outsider() -> MoneroAddress {
        MoneroAddress::parse(super::super::BURN_ADDRESS, Network::Mainnet).unwrap()
    }

    fn funded() -> SimWallet {
        let wallet = SimWallet::new(Network::Mainnet);
        wallet.fund(xmr("10"));
        wallet
    }

    #[tokio::test]
    async fn build_has_no_effect_until_relayed_and_relaying_twice_pays_once() {
        let wallet = funded();
        let before = wallet.balance(0).await.unwrap();
        assert_eq!(before.unlocked, xmr("10"));
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        // Two outputs: the destination and the change.
        assert_eq!(built.fee, Piconero::new(50_000_000));
        assert_eq!(wallet.balance(0).await.unwrap(), before);
        assert!(wallet.pool().is_empty());
        assert_eq!(wallet.outgoing_transfer(built.txid).await.unwrap(), None);

        assert_eq!(wallet.relay(&built.tx_metadata).await.unwrap(), built.txid);
        assert_eq!(wallet.relay(&built.tx_metadata).await.unwrap(), built.txid);
        assert_eq!(wallet.pool(), [built.txid]);
        let status = wallet.outgoing_transfer(built.txid).await.unwrap().unwrap();
        assert_eq!(status.state, OutgoingState::Pool);
        assert_eq!((status.amount, status.fee), (xmr("1"), built.fee));
        let after = wallet.balance(0).await.unwrap();
        let spent = xmr("1").checked_add(built.fee).unwrap();
        assert_eq!(after.total, before.total.checked_sub(spent).unwrap());
        assert_eq!(
            after.unlocked,
            Piconero::ZERO,
            "the change waits in the pool"
        );

        let height = wallet.mine(3);
        let status = wallet.outgoing_transfer(built.txid).await.unwrap().unwrap();
        assert_eq!(
            status.state,
            OutgoingState::Confirmed {
                height: height - 3,
                confirmations: 3
            }
        );
        assert_eq!(wallet.relay(&built.tx_metadata).await.unwrap(), built.txid);
        assert_eq!(wallet.received_by(&outsider()), [(built.txid, xmr("1"))]);
    }

    #[tokio::test]
    async fn two_builds_from_the_same_outputs_relay_once() {
        let wallet = funded();
        let first = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        let second = wallet
            .build_transfer(0, &[(outsider(), xmr("2"))], Priority::Default)
            .await
            .unwrap();
        assert_ne!(first.txid, second.txid);
        wallet.relay(&second.tx_metadata).await.unwrap();
        let error = wallet.relay(&first.tx_metadata).await.unwrap_err();
        assert!(
            matches!(error, Error::RelayUncertain { code: -4, .. }) && error.is_unknown_outcome(),
            "{error:?}"
        );
        assert_eq!(wallet.received_by(&outsider()), [(second.txid, xmr("2"))]);
        let bad = TxMetadata::from_hex("00").unwrap();
        let error = wallet.relay(&bad).await.unwrap_err();
        assert!(error.is_definitely_not_sent(), "{error:?}");
    }

    #[tokio::test]
    async fn a_fee_estimate_builds_nothing_that_can_be_relayed() {
        let wallet = SimWallet::new(Network::Mainnet);
        let error = wallet
            .estimate_fee(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap_err();
        assert!(error.is_insufficient_funds(), "{error:?}");
        wallet.fund(xmr("10"));
        let before = wallet.balance(0).await.unwrap();
        let fee = wallet
            .estimate_fee(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        assert_eq!(fee, built.fee);
        assert_eq!(wallet.balance(0).await.unwrap(), before);
        assert!(wallet.pool().is_empty());
        // Nothing the estimate made can be relayed: only the built transaction's metadata.
        let estimated =
            TxMetadata::from_hex(&format!("{METADATA_PREFIX}{}", Txid::from_bytes([0; 32])))
                .unwrap();
        assert!(wallet.relay(&estimated).await.is_err());
        let batch = vec![(outsider(), xmr("0.1")); 3];
        assert_eq!(
            wallet
                .estimate_fee(0, &batch, Priority::Default)
                .await
                .unwrap(),
            SIM_FEE_BASE
                .checked_add(SIM_FEE_PER_OUTPUT.checked_mul(4).unwrap())
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_wallet_knows_its_own_addresses() {
        let wallet = SimWallet::new(Network::Mainnet);
        let primary = wallet.primary_address(0).await.unwrap();
        let at = |index| Some(SubaddressIndex { account: 0, index });
        assert_eq!(wallet.address_index(&primary).await.unwrap(), at(0));
        let made = wallet.create_subaddress(0, "x").await.unwrap();
        assert_eq!(wallet.address_index(&made.address).await.unwrap(), at(1));
        let integrated = super::super::integrated_address(&primary, [7; 8]);
        assert_eq!(wallet.address_index(&integrated).await.unwrap(), at(0));
        assert_eq!(wallet.address_index(&outsider()).await.unwrap(), None);
        let elsewhere = super::super::integrated_address(&outsider(), [7; 8]);
        assert_eq!(wallet.address_index(&elsewhere).await.unwrap(), None);
        let testnet = sim_address(Network::Testnet, 0);
        let error = wallet.address_index(&testnet).await.unwrap_err();
        assert!(error.is_invalid_address());
    }

    #[tokio::test]
    async fn refusals() {
        let wallet = SimWallet::new(Network::Mainnet);
        let error = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap_err();
        assert!(error.is_insufficient_funds() && error.is_definitely_not_sent());
        wallet.deposit(&wallet.primary_address(0).await.unwrap(), xmr("5"));
        wallet.mine(1);
        let error = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap_err();
        assert_eq!(error.rpc_code(), Some(codes::NOT_ENOUGH_UNLOCKED_MONEY));
        let too_many = vec![(outsider(), xmr("0.1")); MAX_DESTINATIONS + 1];
        let error = wallet
            .build_transfer(0, &too_many, Priority::Default)
            .await
            .unwrap_err();
        assert!(error.is_invalid_address());
        let testnet = sim_address(Network::Testnet, 0);
        let error = wallet
            .build_transfer(0, &[(testnet, xmr("1"))], Priority::Default)
            .await
            .unwrap_err();
        assert!(error.is_invalid_address());
        let error = wallet.balance(1).await.unwrap_err();
        assert_eq!(error.rpc_code(), Some(codes::ACCOUNT_INDEX_OUT_OF_BOUNDS));
    }

    #[tokio::test]
    async fn a_restart_forgets_what_was_not_stored_but_not_the_chain() {
        let wallet = funded();
        let alice = wallet.create_subaddress(0, "alice").await.unwrap();
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        wallet.relay(&built.tx_metadata).await.unwrap();
        wallet.restart();
        // The relayed transaction is in the pool, but the wallet does not know it, and makes
        // alice's subaddress again.
        assert_eq!(wallet.pool(), [built.txid]);
        assert_eq!(wallet.outgoing_transfer(built.txid).await.unwrap(), None);
        assert_eq!(wallet.balance(0).await.unwrap().total, xmr("10"));
        let again = wallet.create_subaddress(0, "bob").await.unwrap();
        assert_eq!(again, alice);
        // Relaying the persisted metadata again is safe.
        assert_eq!(wallet.relay(&built.tx_metadata).await.unwrap(), built.txid);
        assert_eq!(wallet.pool(), [built.txid]);
        wallet.store().await.unwrap();
        wallet.restart();
        assert_eq!(
            wallet
                .outgoing_transfer(built.txid)
                .await
                .unwrap()
                .unwrap()
                .state,
            OutgoingState::Pool
        );
        assert_eq!(
            wallet
                .create_subaddress(0, "carol")
                .await
                .unwrap()
                .index
                .index,
            2
        );
        assert_eq!(wallet.restarts(), 2);
    }

    #[tokio::test]
    async fn a_forgotten_transaction_is_found_again_once_mined() {
        let wallet = funded();
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        wallet.relay(&built.tx_metadata).await.unwrap();
        wallet.restart();
        // Meanwhile the wallet builds from the same outputs, believing them unspent: the
        // daemon refuses the double spend.
        let other = wallet
            .build_transfer(0, &[(outsider(), xmr("2"))], Priority::Default)
            .await
            .unwrap();
        assert!(
            wallet
                .relay(&other.tx_metadata)
                .await
                .unwrap_err()
                .is_unknown_outcome()
        );
        wallet.mine(1);
        let status = wallet.outgoing_transfer(built.txid).await.unwrap().unwrap();
        assert_eq!(
            status.state,
            OutgoingState::Confirmed {
                height: wallet.chain_height() - 1,
                confirmations: 1
            }
        );
        // Found on the chain: what left the wallet, without change or fee.
        assert_eq!((status.amount, status.fee), (xmr("1"), built.fee));
        let spent = xmr("1").checked_add(built.fee).unwrap();
        assert_eq!(
            wallet.balance(0).await.unwrap().total,
            xmr("10").checked_sub(spent).unwrap()
        );
    }

    #[tokio::test]
    async fn an_evicted_transaction_fails_and_its_inputs_come_back() {
        let wallet = funded();
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .unwrap();
        wallet.relay(&built.tx_metadata).await.unwrap();
        assert!(wallet.evict(built.txid));
        assert!(!wallet.evict(built.txid));
        let status = wallet.outgoing_transfer(built.txid).await.unwrap().unwrap();
        assert_eq!(status.state, OutgoingState::Failed);
        assert_eq!(wallet.balance(0).await.unwrap().unlocked, xmr("10"));
        assert!(wallet.received_by(&outsider()).is_empty());
    }

    #[tokio::test]
    async fn deposits_go_from_the_pool_to_unlocked() {
        let wallet = SimWallet::new(Network::Mainnet);
        let alice = wallet.create_subaddress(0, "alice").await.unwrap();
        let bob = wallet.create_subaddress(0, "bob").await.unwrap();
        let to_alice = wallet.deposit(&alice.address, xmr("1.5"));
        wallet.deposit(&bob.address, xmr("0.25"));
        wallet.deposit(&outsider(), xmr("3"));
        let seen = wallet.incoming_transfers(0, 0).await.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(
            seen.iter()
                .all(|t| t.in_pool() && t.locked && t.confirmations == 0)
        );
        let block = wallet.chain_height();
        wallet.mine(1);
        let seen = wallet.incoming_transfers(0, block).await.unwrap();
        let alice_in = seen.iter().find(|t| t.txid == to_alice).unwrap();
        assert_eq!(alice_in.subaddress, alice.index);
        assert_eq!(
            (alice_in.height, alice_in.confirmations, alice_in.amount),
            (Some(block), 1, xmr("1.5"))
        );
        assert!(
            wallet
                .incoming_transfers(0, block + 1)
                .await
                .unwrap()
                .is_empty()
        );
        wallet.mine(TRANSFER_UNLOCK_BLOCKS - 1);
        let seen = wallet.incoming_transfers(0, 0).await.unwrap();
        assert!(seen.iter().all(|t| !t.locked && t.confirmations == 10));
        assert_eq!(wallet.balance(0).await.unwrap().unlocked, xmr("1.75"));
        assert_eq!(wallet.height().await.unwrap(), 0);
        let refreshed = wallet.refresh().await.unwrap();
        assert_eq!(refreshed.blocks_fetched, wallet.chain_height());
        assert_eq!(wallet.height().await.unwrap(), wallet.chain_height());
    }

    #[tokio::test]
    async fn sweep_below_consolidates_to_the_primary_address() {
        let wallet = SimWallet::new(Network::Mainnet);
        let primary = wallet.primary_address(0).await.unwrap();
        for label in ["a", "b", "c"] {
            let subaddress = wallet.create_subaddress(0, label).await.unwrap();
            wallet.deposit(&subaddress.address, xmr("0.5"));
        }
        wallet.deposit(&primary, xmr("7"));
        wallet.mine(TRANSFER_UNLOCK_BLOCKS);
        assert_eq!(wallet.unspent_outputs(0).await.unwrap().len(), 4);
        let built = wallet
            .sweep_below(0, xmr("1"), &primary, Priority::Default, true)
            .await
            .unwrap();
        assert_eq!(built.len(), 1);
        let fee = built[0].fee;
        assert_eq!(built[0].amounts, [xmr("1.5").checked_sub(fee).unwrap()]);
        assert!(wallet.pool().is_empty());
        wallet.relay(&built[0].tx_metadata).await.unwrap();
        wallet.mine(1);
        let outputs = wallet.unspent_outputs(0).await.unwrap();
        assert_eq!(outputs.len(), 2);
        assert!(outputs.iter().all(|o| o.subaddress.index == 0));
        assert_eq!(
            wallet.balance(0).await.unwrap().total,
            xmr("8.5").checked_sub(fee).unwrap()
        );
        // The consolidated output is locked, and the other is above the threshold.
        let nothing = wallet
            .sweep_below(0, xmr("1"), &primary, Priority::Default, false)
            .await
            .unwrap();
        assert!(nothing.is_empty());
    }

    /// The outcome of a relay under faults: paid (from the chain) and what the caller heard.
    async fn relay_outcomes(plan: FaultPlan) -> Vec<(bool, Option<bool>)> {
        let wallet = funded();
        let mut outcomes = Vec::new();
        for _ in 0..20 {
            wallet.set_faults(FaultPlan::default());
            let built = wallet
                .build_transfer(0, &[(outsider(), Piconero::new(1_000))], Priority::Default)
                .await
                .unwrap();
            wallet.set_faults(plan);
            let heard = wallet.relay(&built.tx_metadata).await;
            let paid = wallet.pool().contains(&built.txid);
            outcomes.push((paid, heard.as_ref().err().map(Error::is_unknown_outcome)));
            wallet.set_faults(FaultPlan::default());
            // Settle: a lost relay is relayed again (a no-op if it went through).
            if wallet
                .outgoing_transfer(built.txid)
                .await
                .unwrap()
                .is_none()
            {
                wallet.relay(&built.tx_metadata).await.unwrap();
            }
            wallet.mine(TRANSFER_UNLOCK_BLOCKS);
        }
        outcomes
    }

    #[test]
    fn outside_addresses_are_distinct_and_nobody_s() {
        let wallet = SimWallet::new(Network::Mainnet);
        let a = outside_address(Network::Mainnet, 0);
        let b = outside_address(Network::Mainnet, 1);
        assert_ne!(a, b);
        assert_eq!(a, outside_address(Network::Mainnet, 0));
        assert_eq!(
            outside_address(Network::Testnet, 0).network(),
            Network::Testnet
        );
        let state = wallet.lock();
        assert!(state.owner_of(&a).is_none() && state.owner_of(&b).is_none());
    }

    #[tokio::test]
    async fn faults_follow_the_plan_and_the_seed() {
        let lose = FaultPlan {
            lose_response_after_success: 1.0,
            ..FaultPlan::default()
        };
        let wallet = SimWallet::with_faults(Network::Mainnet, 7, lose);
        wallet.fund(xmr("10"));
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await;
        assert!(
            built.unwrap_err().is_timeout(),
            "built, but the answer was lost"
        );
        wallet.set_faults(FaultPlan::default());
        assert!(wallet.pool().is_empty(), "a lost build has no effect");

        let outcomes = relay_outcomes(FaultPlan {
            lose_response_after_success: 1.0,
            ..FaultPlan::default()
        })
        .await;
        assert!(
            outcomes.iter().all(|o| *o == (true, Some(true))),
            "{outcomes:?}"
        );
        let outcomes = relay_outcomes(FaultPlan {
            unavailable: 1.0,
            ..FaultPlan::default()
        })
        .await;
        assert!(
            outcomes.iter().all(|o| *o == (false, Some(false))),
            "{outcomes:?}"
        );
        let outcomes = relay_outcomes(FaultPlan {
            timeout_before_effect: 1.0,
            ..FaultPlan::default()
        })
        .await;
        assert!(
            outcomes.iter().all(|o| *o == (false, Some(true))),
            "{outcomes:?}"
        );

        // Faults aimed at one call spare the others.
        let wallet = funded();
        wallet.set_faults(FaultPlan {
            unavailable: 1.0,
            only: &["relay_tx"],
            ..FaultPlan::default()
        });
        let built = wallet
            .build_transfer(0, &[(outsider(), xmr("1"))], Priority::Default)
            .await
            .expect("building is spared");
        assert!(
            wallet
                .relay(&built.tx_metadata)
                .await
                .unwrap_err()
                .is_unavailable()
        );

        // The same seed draws the same faults.
        let mixed = FaultPlan {
            lose_response_after_success: 0.3,
            unavailable: 0.2,
            timeout_before_effect: 0.2,
            restart: 0.1,
            only: &[],
        };
        let run = |seed| async move {
            let wallet = SimWallet::with_faults(Network::Mainnet, seed, mixed);
            let mut heard = Vec::new();
            for _ in 0..50 {
                heard.push(
                    wallet
                        .create_subaddress(0, "x")
                        .await
                        .map(|s| s.index.index),
                );
            }
            (heard, wallet.restarts())
        };
        let (first, restarts) = run(42).await;
        assert_eq!(run(42).await, (first.clone(), restarts));
        assert_ne!(run(43).await.0, first);
        assert!(first.iter().any(Result::is_ok) && first.iter().any(Result::is_err));
    }
}
