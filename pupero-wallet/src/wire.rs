//! The JSON of `monero-wallet-rpc` (and the daemon's `generateblocks`): request and response
//! bodies, and their conversion into the port's types. No I/O: the tests decode responses
//! recorded from the real wallet (`fixtures/`).
//!
//! Amounts are JSON integers in piconero and are read as `u64` only: a number with a fraction or
//! an exponent, a negative one or one above `u64::MAX` is an invalid response, never rounded.

use std::collections::HashSet;

use pupero_core::{AddressKind, MoneroAddress, Network, Piconero};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Effect, codes, from_rpc};
use crate::{
    Balance, BuiltTransfer, Error, IncomingTransfer, OutgoingState, OutgoingStatus, OwnedOutput,
    Refreshed, Result, SentTransfer, Subaddress, SubaddressIndex, TxMetadata, Txid,
};

/// A JSON-RPC 2.0 request.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a, P> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: P,
}

impl<'a, P: Serialize> Request<'a, P> {
    pub(crate) fn new(id: u64, method: &'a str, params: P) -> Self {
        Request {
            jsonrpc: "2.0",
            id,
            method,
            params,
        }
    }
}

/// A JSON-RPC 2.0 response: a result or an error.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Debug, Deserialize)]
struct ErrorObject {
    code: i64,
    #[serde(default)]
    message: String,
}

/// The result of a JSON-RPC response body, or the error it carries, classified for a call with
/// `effect`.
pub(crate) fn decode<T: DeserializeOwned>(method: &str, body: &[u8], effect: Effect) -> Result<T> {
    let envelope: Envelope<T> = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidResponse(format!("{method}: {e}")))?;
    match (envelope.error, envelope.result) {
        (Some(error), _) => Err(from_rpc(error.code, error.message, effect)),
        (None, Some(result)) => Ok(result),
        (None, None) => Err(Error::InvalidResponse(format!(
            "{method}: neither result nor error"
        ))),
    }
}

fn invalid(what: impl Into<String>) -> Error {
    Error::InvalidResponse(what.into())
}

// ---- requests ------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub(crate) struct CreateAddressParams<'a> {
    pub(crate) account_index: u32,
    pub(crate) label: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct GetAddressParams {
    pub(crate) account_index: u32,
    pub(crate) address_index: [u32; 1],
}

/// `rescan_blockchain`, keeping what the wallet knows of spent outputs (`hard` would drop
/// that too).
#[derive(Debug, Serialize)]
pub(crate) struct RescanParams {
    pub(crate) hard: bool,
}

/// `get_address_index`.
#[derive(Debug, Serialize)]
pub(crate) struct GetAddressIndexParams<'a> {
    pub(crate) address: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct AccountParams {
    pub(crate) account_index: u32,
}

/// `get_transfers` for incoming money: confirmed (`in`) and unconfirmed (`pool`).
#[derive(Debug, Serialize)]
pub(crate) struct GetTransfersParams {
    #[serde(rename = "in")]
    incoming: bool,
    pool: bool,
    account_index: u32,
    filter_by_height: bool,
    /// Exclusive: the wallet returns transfers in blocks *above* it.
    min_height: u64,
}

impl GetTransfersParams {
    /// Incoming transfers of `account` in blocks at or above `min_height` (inclusive, unlike
    /// the wallet's own parameter), and the pool.
    pub(crate) fn incoming(account: u32, min_height: u64) -> Self {
        GetTransfersParams {
            incoming: true,
            pool: true,
            account_index: account,
            filter_by_height: min_height > 0,
            min_height: min_height.saturating_sub(1),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Destination<'a> {
    pub(crate) amount: u64,
    pub(crate) address: &'a str,
}

/// `transfer`: with `do_not_relay` and `get_tx_metadata` it builds without broadcasting.
#[derive(Debug, Serialize)]
pub(crate) struct TransferParams<'a> {
    pub(crate) destinations: Vec<Destination<'a>>,
    pub(crate) account_index: u32,
    pub(crate) priority: u32,
    pub(crate) get_tx_key: bool,
    pub(crate) do_not_relay: bool,
    pub(crate) get_tx_metadata: bool,
}

/// `relay_tx`.
#[derive(Debug, Serialize)]
pub(crate) struct RelayTxParams<'a> {
    pub(crate) hex: &'a str,
}

/// `get_transfer_by_txid`.
#[derive(Debug, Serialize)]
pub(crate) struct GetTransferByTxidParams {
    pub(crate) txid: String,
}

/// `sweep_all` from every subaddress of an account, of the outputs below an amount.
#[derive(Debug, Serialize)]
pub(crate) struct SweepAllParams<'a> {
    pub(crate) address: &'a str,
    pub(crate) account_index: u32,
    pub(crate) subaddr_indices_all: bool,
    pub(crate) priority: u32,
    pub(crate) below_amount: u64,
    pub(crate) get_tx_keys: bool,
    pub(crate) do_not_relay: bool,
    pub(crate) get_tx_metadata: bool,
}

/// `incoming_transfers`: the wallet's outputs (not transfers, despite the name).
#[derive(Debug, Serialize)]
pub(crate) struct IncomingTransfersParams {
    transfer_type: &'static str,
    account_index: u32,
}

impl IncomingTransfersParams {
    /// The unspent outputs of `account`, locked or not.
    pub(crate) fn available(account: u32) -> Self {
        IncomingTransfersParams {
            transfer_type: "available",
            account_index: account,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct NoParams {}

// ---- responses -----------------------------------------------------------------------------

/// `create_address`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateAddressResult {
    address: String,
    address_index: u32,
}

impl CreateAddressResult {
    pub(crate) fn into_subaddress(self, account: u32, network: Network) -> Result<Subaddress> {
        let address = parse_address(&self.address, network)?;
        if address.kind() != AddressKind::Subaddress || self.address_index == 0 {
            return Err(invalid(format!(
                "create_address: {} at index {} is not a subaddress",
                self.address, self.address_index
            )));
        }
        Ok(Subaddress {
            address,
            index: SubaddressIndex {
                account,
                index: self.address_index,
            },
        })
    }
}

/// `get_address`.
#[derive(Debug, Deserialize)]
pub(crate) struct GetAddressResult {
    address: String,
}

impl GetAddressResult {
    pub(crate) fn into_address(self, network: Network) -> Result<MoneroAddress> {
        parse_address(&self.address, network)
    }
}

/// `get_address` with its list of subaddresses: every one of the account when no index is
/// asked, else those asked.
#[derive(Debug, Deserialize)]
pub(crate) struct GetAddressesResult<A> {
    pub(crate) addresses: Vec<A>,
}

/// One subaddress of a [`GetAddressesResult`].
#[derive(Debug, Deserialize)]
pub(crate) struct WireAddress {
    address: String,
    address_index: u32,
}

impl GetAddressesResult<WireAddress> {
    /// The one address asked for, which must be at `index`.
    pub(crate) fn into_only(self, index: u32, network: Network) -> Result<MoneroAddress> {
        match self.addresses.as_slice() {
            [one] if one.address_index == index => parse_address(&one.address, network),
            _ => Err(invalid(format!(
                "get_address: asked for index {index}, got {} entries",
                self.addresses.len()
            ))),
        }
    }
}

fn parse_address(text: &str, network: Network) -> Result<MoneroAddress> {
    MoneroAddress::parse(text, network).map_err(|e| {
        invalid(format!(
            "the wallet's address {text:?} is not a {network} address ({e}); is the wallet on another network?"
        ))
    })
}

/// `get_address_index`: the account and index of an address the wallet owns.
#[derive(Debug, Deserialize)]
pub(crate) struct GetAddressIndexResult {
    index: WireIndex,
}

impl GetAddressIndexResult {
    pub(crate) fn into_index(self) -> SubaddressIndex {
        SubaddressIndex {
            account: self.index.major,
            index: self.index.minor,
        }
    }
}

/// What `get_address_index` answers (code -2, as for an address that does not parse) for a
/// valid address the wallet does not own.
const NOT_OWNED: &str = "Address doesn't belong to the wallet";

/// Whether a `get_address_index` error only says the address is not the wallet's.
pub(crate) fn is_not_owned(error: &Error) -> bool {
    matches!(error, Error::InvalidAddress(message) if message == NOT_OWNED)
}

/// `get_height`.
#[derive(Debug, Deserialize)]
pub(crate) struct HeightResult {
    pub(crate) height: u64,
}

/// `get_balance`.
#[derive(Debug, Deserialize)]
pub(crate) struct BalanceResult {
    balance: u64,
    unlocked_balance: u64,
}

impl BalanceResult {
    pub(crate) fn into_balance(self) -> Result<Balance> {
        if self.unlocked_balance > self.balance {
            return Err(invalid(format!(
                "get_balance: unlocked {} above total {}",
                self.unlocked_balance, self.balance
            )));
        }
        Ok(Balance {
            total: Piconero::new(self.balance),
            unlocked: Piconero::new(self.unlocked_balance),
        })
    }
}

/// `refresh`.
#[derive(Debug, Deserialize)]
pub(crate) struct RefreshResult {
    blocks_fetched: u64,
    received_money: bool,
}

impl From<RefreshResult> for Refreshed {
    fn from(r: RefreshResult) -> Refreshed {
        Refreshed {
            blocks_fetched: r.blocks_fetched,
            received_money: r.received_money,
        }
    }
}

/// `transfer`.
#[derive(Debug, Deserialize)]
pub(crate) struct TransferResult {
    amount: u64,
    fee: u64,
    tx_hash: String,
    #[serde(default)]
    tx_key: String,
    /// Empty unless asked for (`get_tx_metadata`).
    #[serde(default)]
    tx_metadata: String,
    #[serde(default)]
    weight: Option<u64>,
}

impl TransferResult {
    /// The sent transfer, checked against the amount that was asked for.
    pub(crate) fn into_sent(self, requested: Piconero) -> Result<SentTransfer> {
        let txid = Txid::from_hex(&self.tx_hash)
            .ok_or_else(|| invalid(format!("transfer: bad tx_hash {:?}", self.tx_hash)))?;
        if self.amount != requested.as_u64() {
            return Err(invalid(format!(
                "transfer {txid}: sent {} instead of {requested}",
                self.amount
            )));
        }
        Ok(SentTransfer {
            txid,
            amount: requested,
            fee: Piconero::new(self.fee),
            tx_key: self.tx_key,
        })
    }

    /// The fee of a transaction built only for it (`do_not_relay`, no metadata), checked
    /// against the amounts asked for (the wallet reports their sum).
    pub(crate) fn into_fee(self, requested: &[Piconero]) -> Result<Piconero> {
        let total = requested
            .iter()
            .try_fold(Piconero::ZERO, |sum, amount| sum.checked_add(*amount))
            .map_err(|_| invalid("transfer: the amounts overflow"))?;
        if self.amount != total.as_u64() {
            return Err(invalid(format!(
                "transfer: estimated for {} instead of {total}",
                self.amount
            )));
        }
        Ok(Piconero::new(self.fee))
    }

    /// The built transaction, checked against the amounts asked for (the wallet reports
    /// their sum).
    pub(crate) fn into_built(self, requested: &[Piconero]) -> Result<BuiltTransfer> {
        let txid = Txid::from_hex(&self.tx_hash)
            .ok_or_else(|| invalid(format!("transfer: bad tx_hash {:?}", self.tx_hash)))?;
        let total = requested
            .iter()
            .try_fold(Piconero::ZERO, |sum, amount| sum.checked_add(*amount))
            .map_err(|_| invalid(format!("transfer {txid}: the amounts overflow")))?;
        if self.amount != total.as_u64() {
            return Err(invalid(format!(
                "transfer {txid}: built for {} instead of {total}",
                self.amount
            )));
        }
        let tx_metadata = TxMetadata::from_hex(&self.tx_metadata)
            .ok_or_else(|| invalid(format!("transfer {txid}: no tx_metadata")))?;
        Ok(BuiltTransfer {
            txid,
            amounts: requested.to_vec(),
            fee: Piconero::new(self.fee),
            tx_key: self.tx_key,
            tx_metadata,
            weight: self.weight,
        })
    }
}

/// `relay_tx`.
#[derive(Debug, Deserialize)]
pub(crate) struct RelayTxResult {
    tx_hash: String,
}

impl RelayTxResult {
    pub(crate) fn into_txid(self) -> Result<Txid> {
        Txid::from_hex(&self.tx_hash)
            .ok_or_else(|| invalid(format!("relay_tx: bad tx_hash {:?}", self.tx_hash)))
    }
}

/// `sweep_all`: one list entry per transaction.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SweepAllResult {
    #[serde(default)]
    tx_hash_list: Vec<String>,
    #[serde(default)]
    tx_key_list: Vec<String>,
    #[serde(default)]
    amount_list: Vec<u64>,
    #[serde(default)]
    fee_list: Vec<u64>,
    #[serde(default)]
    weight_list: Vec<u64>,
    #[serde(default)]
    tx_metadata_list: Vec<String>,
}

impl SweepAllResult {
    pub(crate) fn into_built(self) -> Result<Vec<BuiltTransfer>> {
        let count = self.tx_hash_list.len();
        let lengths = [
            self.tx_key_list.len(),
            self.amount_list.len(),
            self.fee_list.len(),
            self.tx_metadata_list.len(),
        ];
        if lengths.iter().any(|&n| n != count)
            || !(self.weight_list.is_empty() || self.weight_list.len() == count)
        {
            return Err(invalid(format!(
                "sweep_all: {count} transactions but lists of {lengths:?}"
            )));
        }
        let mut weights = self.weight_list.into_iter();
        let mut built = Vec::with_capacity(count);
        for ((((hash, tx_key), amount), fee), metadata) in self
            .tx_hash_list
            .into_iter()
            .zip(self.tx_key_list)
            .zip(self.amount_list)
            .zip(self.fee_list)
            .zip(self.tx_metadata_list)
        {
            let txid = Txid::from_hex(&hash)
                .ok_or_else(|| invalid(format!("sweep_all: bad tx_hash {hash:?}")))?;
            let tx_metadata = TxMetadata::from_hex(&metadata)
                .ok_or_else(|| invalid(format!("sweep_all {txid}: no tx_metadata")))?;
            built.push(BuiltTransfer {
                txid,
                amounts: vec![Piconero::new(amount)],
                fee: Piconero::new(fee),
                tx_key,
                tx_metadata,
                weight: weights.next(),
            });
        }
        Ok(built)
    }
}

/// The messages of `sweep_all` (code -4) when there is nothing to sweep: no unlocked output
/// at all, or none below the amount.
const NOTHING_TO_SWEEP: [&str; 2] = [
    "No unlocked balance in the specified",
    "The smallest amount found is not below the specified threshold",
];

/// Whether a `sweep_all` error only says there was nothing to sweep.
pub(crate) fn found_nothing_to_sweep(error: &Error) -> bool {
    match error {
        Error::Rejected { code, message } | Error::RelayUncertain { code, message } => {
            *code == codes::GENERIC_TRANSFER_ERROR
                && NOTHING_TO_SWEEP.iter().any(|m| message.starts_with(m))
        }
        _ => false,
    }
}

/// `get_transfer_by_txid`: every entry of the wallet with that txid (an outgoing transaction
/// and, for a payment to itself, the incoming side; a transaction relayed again after it was
/// mined has a stale `pending` entry beside its `out` one).
#[derive(Debug, Deserialize)]
pub(crate) struct GetTransferByTxidResult {
    transfer: Option<HistoryEntry>,
    #[serde(default)]
    transfers: Vec<HistoryEntry>,
}

#[derive(Debug, Deserialize)]
struct HistoryEntry {
    txid: String,
    #[serde(rename = "type")]
    kind: String,
    amount: u64,
    #[serde(default)]
    fee: u64,
    #[serde(default)]
    height: u64,
    #[serde(default)]
    confirmations: Option<u64>,
    #[serde(default)]
    destinations: Vec<WireDestination>,
}

#[derive(Debug, Deserialize)]
struct WireDestination {
    amount: u64,
}

impl GetTransferByTxidResult {
    /// The outgoing side of `txid`, preferring what is settled: mined, else in the pool, else
    /// failed. `None` when the wallet only received money in it.
    pub(crate) fn into_outgoing(self, txid: Txid) -> Result<Option<OutgoingStatus>> {
        let entries = if self.transfers.is_empty() {
            self.transfer.into_iter().collect()
        } else {
            self.transfers
        };
        let mut best: Option<(u8, OutgoingStatus)> = None;
        for entry in entries {
            let entry_txid = Txid::from_hex(&entry.txid).ok_or_else(|| {
                invalid(format!("get_transfer_by_txid: bad txid {:?}", entry.txid))
            })?;
            if entry_txid != txid {
                return Err(invalid(format!(
                    "get_transfer_by_txid: asked for {txid}, got {entry_txid}"
                )));
            }
            let what = |reason: &str| invalid(format!("get_transfer_by_txid: {txid}: {reason}"));
            let (rank, state) = match entry.kind.as_str() {
                "out" => {
                    let confirmations = entry
                        .confirmations
                        .ok_or_else(|| what("mined transfer without confirmations"))?;
                    if entry.height == 0 {
                        return Err(what("mined transfer without a height"));
                    }
                    let state = OutgoingState::Confirmed {
                        height: entry.height,
                        confirmations,
                    };
                    (3, state)
                }
                "pending" => (2, OutgoingState::Pool),
                "failed" => (1, OutgoingState::Failed),
                "in" | "pool" | "block" => continue,
                other => return Err(what(&format!("unexpected type {other:?}"))),
            };
            let amount = if entry.destinations.is_empty() {
                Piconero::new(entry.amount)
            } else {
                entry
                    .destinations
                    .iter()
                    .try_fold(Piconero::ZERO, |sum, d| {
                        sum.checked_add(Piconero::new(d.amount))
                    })
                    .map_err(|_| what("destination amounts overflow"))?
            };
            let status = OutgoingStatus {
                txid,
                state,
                amount,
                fee: Piconero::new(entry.fee),
            };
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, status));
            }
        }
        Ok(best.map(|(_, status)| status))
    }
}

/// `incoming_transfers`. The wallet leaves the list out when it is empty.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct IncomingTransfersResult {
    #[serde(default)]
    transfers: Vec<OutputEntry>,
}

#[derive(Debug, Deserialize)]
struct OutputEntry {
    amount: u64,
    spent: bool,
    unlocked: bool,
    subaddr_index: WireIndex,
}

impl IncomingTransfersResult {
    pub(crate) fn into_outputs(self, account: u32) -> Result<Vec<OwnedOutput>> {
        let mut outputs = Vec::with_capacity(self.transfers.len());
        for entry in self.transfers {
            if entry.subaddr_index.major != account {
                return Err(invalid(format!(
                    "incoming_transfers: an output of account {} instead of {account}",
                    entry.subaddr_index.major
                )));
            }
            if entry.spent {
                continue;
            }
            outputs.push(OwnedOutput {
                amount: Piconero::new(entry.amount),
                subaddress: SubaddressIndex {
                    account,
                    index: entry.subaddr_index.minor,
                },
                unlocked: entry.unlocked,
            });
        }
        Ok(outputs)
    }
}

/// `get_transfers`. The wallet leaves a list out when it is empty.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GetTransfersResult {
    #[serde(default, rename = "in")]
    incoming: Vec<TransferEntry>,
    #[serde(default)]
    pool: Vec<TransferEntry>,
}

#[derive(Debug, Deserialize)]
struct TransferEntry {
    txid: String,
    amount: u64,
    #[serde(default)]
    amounts: Vec<u64>,
    /// Absent for pool entries.
    #[serde(default)]
    confirmations: Option<u64>,
    height: u64,
    locked: bool,
    unlock_time: u64,
    #[serde(default)]
    double_spend_seen: bool,
    subaddr_index: WireIndex,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct WireIndex {
    major: u32,
    minor: u32,
}

impl GetTransfersResult {
    /// The incoming transfers of `account` mined at or above `min_height`, then those in the
    /// pool: confirmed ones by height, txid and subaddress, pool ones by txid and subaddress.
    /// A transfer listed both as mined and in the pool (the wallet caught it in between) is
    /// kept as mined. Two mined entries with the same [`DepositKey`](crate::DepositKey) would
    /// break the scanner's key and are refused.
    pub(crate) fn into_incoming(
        self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>> {
        let mut confirmed = Vec::with_capacity(self.incoming.len());
        for entry in self.incoming {
            let transfer = entry.into_transfer(account, false)?;
            if transfer.height.is_some_and(|h| h >= min_height) {
                confirmed.push(transfer);
            }
        }
        confirmed.sort_by_key(|t| (t.height, t.txid, t.subaddress));
        let mut seen = HashSet::with_capacity(confirmed.len());
        for transfer in &confirmed {
            if !seen.insert(transfer.key()) {
                return Err(invalid(format!(
                    "get_transfers: {} to {:?} listed twice",
                    transfer.txid, transfer.subaddress
                )));
            }
        }
        let mut pool = Vec::with_capacity(self.pool.len());
        for entry in self.pool {
            let transfer = entry.into_transfer(account, true)?;
            if seen.insert(transfer.key()) {
                pool.push(transfer);
            }
        }
        pool.sort_by_key(|t| (t.txid, t.subaddress));
        confirmed.extend(pool);
        Ok(confirmed)
    }
}

impl TransferEntry {
    fn into_transfer(self, account: u32, in_pool: bool) -> Result<IncomingTransfer> {
        let txid = Txid::from_hex(&self.txid)
            .ok_or_else(|| invalid(format!("get_transfers: bad txid {:?}", self.txid)))?;
        let what = |reason: &str| invalid(format!("get_transfers: {txid}: {reason}"));
        let coinbase = match (in_pool, self.kind.as_str()) {
            (false, "in") | (true, "pool") => false,
            (false, "block") => true,
            (_, other) => return Err(what(&format!("unexpected type {other:?}"))),
        };
        if self.subaddr_index.major != account {
            return Err(what(&format!(
                "account {} instead of {account}",
                self.subaddr_index.major
            )));
        }
        // The single outputs must add up to the total; 0.18 always lists them.
        let mut sum = Piconero::ZERO;
        for amount in &self.amounts {
            sum = sum
                .checked_add(Piconero::new(*amount))
                .map_err(|_| what("output amounts overflow"))?;
        }
        if !self.amounts.is_empty() && sum.as_u64() != self.amount {
            return Err(what("output amounts do not add up to the amount"));
        }
        let (height, confirmations) = if in_pool {
            if self.height != 0 {
                return Err(what("pool transfer with a height"));
            }
            (None, 0)
        } else {
            let confirmations = self
                .confirmations
                .ok_or_else(|| what("mined transfer without confirmations"))?;
            if self.height == 0 {
                return Err(what("mined transfer without a height"));
            }
            (Some(self.height), confirmations)
        };
        Ok(IncomingTransfer {
            txid,
            subaddress: SubaddressIndex {
                account: self.subaddr_index.major,
                index: self.subaddr_index.minor,
            },
            amount: Piconero::new(self.amount),
            output_amounts: self.amounts.into_iter().map(Piconero::new).collect(),
            height,
            confirmations,
            locked: self.locked,
            unlock_time: self.unlock_time,
            double_spend_seen: self.double_spend_seen,
            coinbase,
        })
    }
}

/// The daemon's `generateblocks` (test support).
#[cfg(feature = "testing")]
#[derive(Debug, Serialize)]
pub(crate) struct GenerateBlocksParams<'a> {
    pub(crate) amount_of_blocks: u64,
    pub(crate) wallet_address: &'a str,
}

#[cfg(feature = "testing")]
#[derive(Debug, Deserialize)]
pub(crate) struct GenerateBlocksResult {
    /// The height of the last block mined.
    pub(crate) height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes as a read does.
    fn decode<T: DeserializeOwned>(method: &str, body: &[u8]) -> Result<T> {
        super::decode(method, body, Effect::Read)
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn txid(hex: &str) -> Txid {
        Txid::from_hex(hex).unwrap()
    }

    const TX_TWO_SUBADDRESSES: &str =
        "dd616f18c2c3433bd979a101cfcf35ef48b0e25e2d86ad490464b3e82ea046a4";
    const TX_POOL_LARGE: &str = "5516a0b29d7bf3b6cbab5e96bd01b136222cbac327c7bf676931513229b2b298";
    const TX_POOL_SMALL: &str = "330cc195d69b12dd30a3ed82002eaa07262ed3328ed0106c3b7a4c264b1ea5b2";
    const TX_COINBASE: &str = "8736b5d481568bd18eda4c7739054271681c6f30c42142c8105f3dc86920ad81";

    fn index(account: u32, index: u32) -> SubaddressIndex {
        SubaddressIndex { account, index }
    }

    #[test]
    fn request_is_json_rpc_2() {
        let request = Request::new(7, "get_transfers", GetTransfersParams::incoming(0, 145));
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": 7,
                "method": "get_transfers",
                "params": {
                    "in": true,
                    "pool": true,
                    "account_index": 0,
                    "filter_by_height": true,
                    "min_height": 144,
                },
            })
        );
        let everything = serde_json::to_value(GetTransfersParams::incoming(3, 0)).unwrap();
        assert_eq!(everything["filter_by_height"], false);
        assert_eq!(everything["min_height"], 0);
        assert_eq!(everything["account_index"], 3);
        let first = serde_json::to_value(GetTransfersParams::incoming(0, 1)).unwrap();
        assert_eq!(first["filter_by_height"], true);
        assert_eq!(first["min_height"], 0);
    }

    #[test]
    fn transfer_request_sends_amounts_as_integers() {
        let params = TransferParams {
            destinations: vec![Destination {
                amount: u64::MAX,
                address: "addr",
            }],
            account_index: 0,
            priority: 4,
            get_tx_key: true,
            do_not_relay: true,
            get_tx_metadata: true,
        };
        let json = serde_json::to_string(&params).unwrap();
        assert_eq!(
            json,
            r#"{"destinations":[{"amount":18446744073709551615,"address":"addr"}],"account_index":0,"priority":4,"get_tx_key":true,"do_not_relay":true,"get_tx_metadata":true}"#
        );
    }

    #[test]
    fn decodes_a_subaddress() {
        let result: CreateAddressResult =
            decode("create_address", &fixture("create_address")).unwrap();
        let subaddress = result.into_subaddress(0, Network::Mainnet).unwrap();
        assert_eq!(subaddress.index, index(0, 3));
        assert_eq!(subaddress.address.kind(), AddressKind::Subaddress);
        assert_eq!(
            subaddress.address.as_str(),
            "891pVr7r7TSSrTQ5AjuxipGxubHnTRhJQC6PCDMfr6hnTtZo942VmXYDgE1h3gk2DQbW1At27znQUDFuw2gJifaZNsSj1gD"
        );
    }

    #[test]
    fn refuses_an_address_of_another_network() {
        let result: CreateAddressResult =
            decode("create_address", &fixture("create_address")).unwrap();
        let error = result.into_subaddress(0, Network::Testnet).unwrap_err();
        assert!(matches!(&error, Error::InvalidResponse(m) if m.contains("another network")));
    }

    #[test]
    fn decodes_height_balance_and_refresh() {
        let height: HeightResult = decode("get_height", &fixture("get_height")).unwrap();
        assert_eq!(height.height, 147);
        let balance: BalanceResult = decode("get_balance", &fixture("get_balance")).unwrap();
        assert_eq!(
            balance.into_balance().unwrap(),
            Balance {
                total: Piconero::new(208_889_474_483_564),
                unlocked: Piconero::new(105_536_306_818_810),
            }
        );
        let refreshed: RefreshResult = decode("refresh", &fixture("refresh")).unwrap();
        assert_eq!(
            Refreshed::from(refreshed),
            Refreshed {
                blocks_fetched: 0,
                received_money: false
            }
        );
    }

    #[test]
    fn decodes_a_sent_transfer() {
        let result: TransferResult = decode("transfer", &fixture("transfer")).unwrap();
        let sent = result.into_sent(Piconero::new(1_234_567_890_123)).unwrap();
        assert_eq!(sent.txid, txid(TX_POOL_LARGE));
        assert_eq!(sent.amount, Piconero::new(1_234_567_890_123));
        assert_eq!(sent.fee, Piconero::new(7_082_900_000));
        assert_eq!(
            sent.tx_key,
            "785cc12bdfdea926b3b95fa30b99fff347f139afa6ef4ebcc396d9b7b73fab0b"
        );
    }

    #[test]
    fn a_transfer_of_another_amount_is_invalid() {
        let result: TransferResult = decode("transfer", &fixture("transfer")).unwrap();
        let error = result.into_sent(Piconero::new(1)).unwrap_err();
        assert!(matches!(error, Error::InvalidResponse(_)), "{error:?}");
    }

    #[test]
    fn decodes_incoming_transfers_per_transaction_and_subaddress() {
        let result: GetTransfersResult =
            decode("get_transfers", &fixture("get_transfers")).unwrap();
        let transfers = result.into_incoming(0, 146).unwrap();
        let summary: Vec<_> = transfers
            .iter()
            .map(|t| {
                (
                    t.txid,
                    t.subaddress,
                    t.amount.as_u64(),
                    t.height,
                    t.confirmations,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                // One transaction, two subaddresses: two transfers, one key each.
                (
                    txid(TX_TWO_SUBADDRESSES),
                    index(0, 1),
                    1_750_000_000_000,
                    Some(146),
                    1
                ),
                (
                    txid(TX_TWO_SUBADDRESSES),
                    index(0, 2),
                    70_000_000_000,
                    Some(146),
                    1
                ),
                (txid(TX_POOL_SMALL), index(0, 1), 1_000, None, 0),
                (txid(TX_POOL_LARGE), index(0, 1), 1_234_567_890_123, None, 0),
            ]
        );
        // Two outputs to subaddress 1 in one transaction: one transfer, their sum.
        assert_eq!(
            transfers[0].output_amounts,
            [
                Piconero::new(250_000_000_000),
                Piconero::new(1_500_000_000_000)
            ]
        );
        assert!(transfers.iter().all(|t| t.locked && !t.coinbase));
        assert!(
            transfers
                .iter()
                .all(|t| t.unlock_time == 0 && !t.double_spend_seen)
        );
        assert!(!transfers[0].in_pool());
        assert!(transfers[2].in_pool());
        let keys: HashSet<_> = transfers.iter().map(IncomingTransfer::key).collect();
        assert_eq!(keys.len(), transfers.len());
    }

    #[test]
    fn min_height_is_inclusive_and_the_pool_always_comes() {
        let coinbase = || -> GetTransfersResult {
            decode("get_transfers", &fixture("get_transfers_coinbase")).unwrap()
        };
        let all = coinbase().into_incoming(0, 145).unwrap();
        assert_eq!(all.len(), 3);
        let reward = &all[0];
        assert_eq!(reward.txid, txid(TX_COINBASE));
        assert!(reward.coinbase);
        assert_eq!(reward.height, Some(145));
        assert_eq!(reward.confirmations, 2);
        assert_eq!(reward.unlock_time, 205);
        assert_eq!(reward.amount, Piconero::new(35_174_676_184_967));
        assert_eq!(reward.subaddress, index(0, 0));
        // Entries below the minimum height are dropped even if the wallet sends them.
        assert_eq!(coinbase().into_incoming(0, 146).unwrap().len(), 2);
        assert!(coinbase().into_incoming(0, 147).unwrap().is_empty());

        let pool_only: GetTransfersResult =
            decode("get_transfers", &fixture("get_transfers_pool_only")).unwrap();
        let pool = pool_only.into_incoming(0, 100_000).unwrap();
        assert_eq!(pool.len(), 2);
        assert!(pool.iter().all(IncomingTransfer::in_pool));
    }

    #[test]
    fn an_empty_result_has_no_lists() {
        let result: GetTransfersResult =
            decode("get_transfers", &fixture("get_transfers_empty")).unwrap();
        assert!(result.into_incoming(0, 0).unwrap().is_empty());
    }

    /// The recorded `get_transfers` body with its first mined entry changed by `edit`.
    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Vec<IncomingTransfer>> {
        let mut body: serde_json::Value =
            serde_json::from_slice(&fixture("get_transfers")).unwrap();
        edit(&mut body["result"]["in"][0]);
        let bytes = serde_json::to_vec(&body).unwrap();
        decode::<GetTransfersResult>("get_transfers", &bytes)?.into_incoming(0, 0)
    }

    fn assert_invalid(outcome: Result<Vec<IncomingTransfer>>, why: &str) {
        match outcome {
            Err(Error::InvalidResponse(message)) => {
                assert!(message.contains(why), "{message:?} should say {why:?}")
            }
            other => panic!("expected an invalid response ({why}), got {other:?}"),
        }
    }

    #[test]
    fn amounts_are_unsigned_integers_only() {
        for amount in [
            serde_json::json!(70_000_000_000.5),
            serde_json::json!(7e10),
            serde_json::json!(-1),
            serde_json::json!("70000000000"),
            serde_json::json!(null),
        ] {
            let outcome = edited(|entry| entry["amount"] = amount.clone());
            assert_invalid(outcome, "get_transfers");
        }
        // One above u64::MAX: serde_json reads it as a float, which a u64 field refuses.
        let body = String::from_utf8(fixture("get_transfers"))
            .unwrap()
            .replacen(
                "\"amount\": 70000000000,",
                "\"amount\": 18446744073709551616,",
                1,
            );
        let outcome = decode::<GetTransfersResult>("get_transfers", body.as_bytes());
        assert!(matches!(outcome, Err(Error::InvalidResponse(_))));
        // u64::MAX itself is a valid amount as far as decoding goes.
        let outcome = edited(|entry| {
            entry["amount"] = serde_json::json!(u64::MAX);
            entry["amounts"] = serde_json::json!([u64::MAX]);
        });
        assert_eq!(outcome.unwrap()[1].amount, Piconero::MAX);
    }

    #[test]
    fn inconsistent_transfers_are_invalid() {
        assert_invalid(
            edited(|e| e["amounts"] = serde_json::json!([1, 2])),
            "do not add up",
        );
        assert_invalid(
            edited(|e| e["amounts"] = serde_json::json!([u64::MAX, 1])),
            "overflow",
        );
        assert_invalid(edited(|e| e["txid"] = serde_json::json!("zz")), "bad txid");
        assert_invalid(edited(|e| e["type"] = serde_json::json!("out")), "type");
        assert_invalid(edited(|e| e["type"] = serde_json::json!("pool")), "type");
        assert_invalid(
            edited(|e| e["subaddr_index"]["major"] = serde_json::json!(1)),
            "account 1",
        );
        assert_invalid(edited(|e| e["height"] = serde_json::json!(0)), "height");
        assert_invalid(
            edited(|e| {
                e.as_object_mut().unwrap().remove("confirmations");
            }),
            "confirmations",
        );
        // The same transaction and subaddress twice among mined transfers.
        assert_invalid(
            edited(|e| {
                e["subaddr_index"]["minor"] = serde_json::json!(1);
                e["amount"] = serde_json::json!(1_750_000_000_000_u64);
                e["amounts"] = serde_json::json!([1_750_000_000_000_u64]);
            }),
            "listed twice",
        );
    }

    #[test]
    fn a_transfer_seen_mined_and_in_the_pool_counts_as_mined() {
        let mut body: serde_json::Value =
            serde_json::from_slice(&fixture("get_transfers")).unwrap();
        let mut pool_copy = body["result"]["in"][0].clone();
        pool_copy["type"] = serde_json::json!("pool");
        pool_copy["height"] = serde_json::json!(0);
        pool_copy.as_object_mut().unwrap().remove("confirmations");
        body["result"]["pool"]
            .as_array_mut()
            .unwrap()
            .push(pool_copy);
        let bytes = serde_json::to_vec(&body).unwrap();
        let transfers = decode::<GetTransfersResult>("get_transfers", &bytes)
            .unwrap()
            .into_incoming(0, 0)
            .unwrap();
        assert_eq!(transfers.len(), 4);
        let mined = transfers
            .iter()
            .filter(|t| t.txid == txid(TX_TWO_SUBADDRESSES))
            .collect::<Vec<_>>();
        assert_eq!(mined.len(), 2);
        assert!(mined.iter().all(|t| t.height == Some(146)));
    }

    /// The error a recorded error response decodes to.
    fn error_of(name: &str) -> Error {
        decode::<serde::de::IgnoredAny>("call", &fixture(name)).unwrap_err()
    }

    #[test]
    fn classifies_the_wallets_errors() {
        for (name, code) in [
            ("error_not_enough_money", -17),
            ("error_not_enough_unlocked_money", -37),
            ("error_tx_not_possible", -16),
        ] {
            let error = error_of(name);
            assert!(error.is_insufficient_funds(), "{name}: {error:?}");
            assert_eq!(error.rpc_code(), Some(code));
        }
        let error = error_of("error_wrong_address");
        assert!(error.is_invalid_address(), "{error:?}");
        let error = error_of("error_no_daemon");
        assert!(error.is_daemon_unreachable(), "{error:?}");
        for (name, code) in [
            ("error_transfer_no_daemon", -4),
            ("error_account_index", -14),
            ("error_method_not_found", -32601),
            ("error_no_daemon", -38),
        ] {
            let error = error_of(name);
            assert!(
                matches!(&error, Error::Rejected { code: c, .. } if *c == code),
                "{name}: {error:?}"
            );
            assert!(!error.is_insufficient_funds() && !error.is_invalid_address());
            assert!(!error.is_transport());
        }
    }

    #[test]
    fn a_body_without_result_or_error_is_invalid() {
        for body in [
            &b"not json"[..],
            br#"{"jsonrpc":"2.0","id":"0"}"#,
            br#"{"jsonrpc":"2.0","id":"0","result":{"height":-1}}"#,
            br#"{"jsonrpc":"2.0","id":"0","result":{"height":1.5}}"#,
            br#"{"jsonrpc":"2.0","id":"0","result":{}}"#,
        ] {
            let outcome = decode::<HeightResult>("get_height", body);
            assert!(
                matches!(outcome, Err(Error::InvalidResponse(_))),
                "{:?}: {outcome:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_unlocked_balance_above_the_total_is_invalid() {
        let body = br#"{"result":{"balance":1,"unlocked_balance":2}}"#;
        let result: BalanceResult = decode("get_balance", body).unwrap();
        assert!(matches!(
            result.into_balance(),
            Err(Error::InvalidResponse(_))
        ));
    }

    const TX_BUILT: &str = "61943b41f2e6b8556c38f265141a4f21ba0688c2dcfa39fb74b25f8c0d0598db";
    const TX_SWEEP: &str = "5e84086c140a8429768310725aafdeae8e18eeabbf6c79280c4bd53473a7f30a";

    #[test]
    fn decodes_a_built_transfer_to_two_destinations() {
        let result: TransferResult = decode("transfer", &fixture("transfer_do_not_relay")).unwrap();
        let amounts = [Piconero::ONE_XMR, Piconero::new(2_500_000_000_000)];
        let built = result.into_built(&amounts).unwrap();
        assert_eq!(built.txid, txid(TX_BUILT));
        assert_eq!(built.amounts, amounts);
        assert_eq!(built.total().unwrap(), Piconero::new(3_500_000_000_000));
        assert_eq!(built.fee, Piconero::new(3_423_600_000));
        assert_eq!(built.weight, Some(2853));
        // Paying a subaddress adds a key per output (two destinations and the change).
        assert_eq!(built.tx_key.len(), 64 * 4);
        assert!(built.tx_metadata.as_str().starts_with("0102"));
        // The wallet reports the sum; another sum is not what was asked for.
        let result: TransferResult = decode("transfer", &fixture("transfer_do_not_relay")).unwrap();
        let error = result.into_built(&[Piconero::ONE_XMR]).unwrap_err();
        assert!(matches!(error, Error::InvalidResponse(_)), "{error:?}");
        // A relayed transfer has no metadata to keep.
        let result: TransferResult = decode("transfer", &fixture("transfer")).unwrap();
        let error = result
            .into_built(&[Piconero::new(1_234_567_890_123)])
            .unwrap_err();
        assert!(matches!(&error, Error::InvalidResponse(m) if m.contains("tx_metadata")));
    }

    #[test]
    fn decodes_a_fee_estimate() {
        // A transaction of 0.0001 XMR to the wallet's own primary address, built and thrown
        // away: two inputs, two outputs.
        let result: TransferResult = decode("transfer", &fixture("transfer_estimate")).unwrap();
        let fee = result.into_fee(&[Piconero::new(100_000_000)]).unwrap();
        assert_eq!(fee, Piconero::new(2_605_200_000));
        let result: TransferResult = decode("transfer", &fixture("transfer_estimate")).unwrap();
        let error = result.into_fee(&[Piconero::ONE_XMR]).unwrap_err();
        assert!(matches!(error, Error::InvalidResponse(_)), "{error:?}");
        let params = TransferParams {
            destinations: vec![Destination {
                amount: 100_000_000,
                address: "a",
            }],
            account_index: 0,
            priority: 0,
            get_tx_key: false,
            do_not_relay: true,
            get_tx_metadata: false,
        };
        let json = serde_json::to_value(params).unwrap();
        assert_eq!(json["do_not_relay"], true);
        assert_eq!(json["get_tx_metadata"], false);
    }

    #[test]
    fn decodes_address_indices() {
        let index_of = |name: &str| {
            decode::<GetAddressIndexResult>("get_address_index", &fixture(name))
                .map(GetAddressIndexResult::into_index)
        };
        assert_eq!(index_of("get_address_index").unwrap(), index(0, 1));
        // An integrated address pays the primary address it is built on.
        assert_eq!(
            index_of("get_address_index_integrated").unwrap(),
            index(0, 0)
        );
        let error = index_of("error_address_not_owned").unwrap_err();
        assert!(is_not_owned(&error), "{error:?}");
        assert!(error.is_definitely_not_sent());
        // An address that does not parse is code -2 too, but not an answer about ownership.
        assert!(!is_not_owned(&error_of("error_wrong_address")));
    }

    #[test]
    fn decodes_a_relay() {
        let result: RelayTxResult = decode("relay_tx", &fixture("relay_tx")).unwrap();
        assert_eq!(result.into_txid().unwrap(), txid(TX_BUILT));
    }

    #[test]
    fn relay_errors_are_uncertain_unless_the_metadata_is_bad() {
        let relay_error = |name| {
            super::decode::<serde::de::IgnoredAny>("relay_tx", &fixture(name), Effect::Broadcast)
                .unwrap_err()
        };
        // A double spend and a lost daemon answer read the same: "Failed to commit tx.".
        let error = relay_error("error_relay_double_spend");
        assert!(
            matches!(&error, Error::RelayUncertain { code: -4, message } if message == "Failed to commit tx."),
            "{error:?}"
        );
        assert!(error.is_unknown_outcome());
        let error = relay_error("error_relay_bad_metadata");
        assert_eq!(error.rpc_code(), Some(codes::BAD_TX_METADATA));
        assert!(error.is_definitely_not_sent(), "{error:?}");
        // A transfer with its daemon gone: it may have failed while relaying.
        let error = relay_error("error_transfer_no_daemon");
        assert!(error.is_unknown_outcome(), "{error:?}");
    }

    #[test]
    fn decodes_outgoing_states() {
        let outgoing = |name: &str, tx: &str| {
            decode::<GetTransferByTxidResult>("get_transfer_by_txid", &fixture(name))
                .unwrap()
                .into_outgoing(txid(tx))
                .unwrap()
                .unwrap()
        };
        let pending = outgoing("get_transfer_by_txid_pending", TX_BUILT);
        assert_eq!(pending.state, OutgoingState::Pool);
        assert_eq!(pending.amount, Piconero::new(3_500_000_000_000));
        assert_eq!(pending.fee, Piconero::new(3_423_600_000));
        let mined = outgoing("get_transfer_by_txid_out", TX_BUILT);
        assert_eq!(
            mined.state,
            OutgoingState::Confirmed {
                height: 81,
                confirmations: 1
            }
        );
        assert_eq!(mined.amount, pending.amount);
        // Relayed again after it was mined: the stale pending entry does not hide the block.
        let again = outgoing("get_transfer_by_txid_relayed_again", TX_BUILT);
        assert_eq!(
            again.state,
            OutgoingState::Confirmed {
                height: 81,
                confirmations: 25
            }
        );
        // A sweep to the wallet itself: its "amount" is 0 (nothing left the wallet), the
        // destination got the swept sum.
        let sweep = outgoing("get_transfer_by_txid_sweep", TX_SWEEP);
        assert_eq!(sweep.amount, Piconero::new(633_291_366_138_415));
        assert_eq!(sweep.fee, Piconero::new(15_252_000_000));
        // Asked for another txid than the wallet answered for.
        let error = decode::<GetTransferByTxidResult>(
            "get_transfer_by_txid",
            &fixture("get_transfer_by_txid_out"),
        )
        .unwrap()
        .into_outgoing(txid(TX_SWEEP))
        .unwrap_err();
        assert!(matches!(error, Error::InvalidResponse(_)));
        // Not found is the wallet's -8.
        assert!(error_of("error_tx_not_found").is_not_found());
    }

    #[test]
    fn a_failed_or_incoming_only_entry() {
        let mut body: serde_json::Value =
            serde_json::from_slice(&fixture("get_transfer_by_txid_pending")).unwrap();
        body["result"]["transfers"][0]["type"] = serde_json::json!("failed");
        let bytes = serde_json::to_vec(&body).unwrap();
        let status = decode::<GetTransferByTxidResult>("get_transfer_by_txid", &bytes)
            .unwrap()
            .into_outgoing(txid(TX_BUILT))
            .unwrap()
            .unwrap();
        assert_eq!(status.state, OutgoingState::Failed);
        body["result"]["transfers"][0]["type"] = serde_json::json!("in");
        let bytes = serde_json::to_vec(&body).unwrap();
        let status = decode::<GetTransferByTxidResult>("get_transfer_by_txid", &bytes)
            .unwrap()
            .into_outgoing(txid(TX_BUILT))
            .unwrap();
        assert_eq!(status, None);
    }

    #[test]
    fn decodes_sweeps() {
        let result: SweepAllResult =
            decode("sweep_all", &fixture("sweep_all_do_not_relay")).unwrap();
        let built = result.into_built().unwrap();
        assert_eq!(built.len(), 1);
        assert_eq!(built[0].amounts, [Piconero::new(633_291_366_138_415)]);
        assert_eq!(built[0].fee, Piconero::new(15_252_000_000));
        assert_eq!(built[0].weight, Some(12710));
        assert_eq!(built[0].tx_key.len(), 64);
        let result: SweepAllResult = decode("sweep_all", &fixture("sweep_all")).unwrap();
        let relayed = result.into_built().unwrap();
        assert_eq!(relayed[0].txid, txid(TX_SWEEP));
        // Lists of different lengths.
        let mut body: serde_json::Value = serde_json::from_slice(&fixture("sweep_all")).unwrap();
        body["result"]["fee_list"] = serde_json::json!([]);
        let bytes = serde_json::to_vec(&body).unwrap();
        let error = decode::<SweepAllResult>("sweep_all", &bytes)
            .unwrap()
            .into_built()
            .unwrap_err();
        assert!(matches!(error, Error::InvalidResponse(_)));
    }

    #[test]
    fn nothing_to_sweep_is_recognised() {
        for name in ["error_sweep_nothing_below", "error_sweep_no_unlocked"] {
            for effect in [Effect::Write, Effect::Broadcast] {
                let error = super::decode::<SweepAllResult>("sweep_all", &fixture(name), effect)
                    .unwrap_err();
                assert!(found_nothing_to_sweep(&error), "{name}: {error:?}");
            }
        }
        assert!(!found_nothing_to_sweep(&error_of(
            "error_relay_double_spend"
        )));
        assert!(!found_nothing_to_sweep(&error_of("error_not_enough_money")));
    }

    #[test]
    fn decodes_store_and_outputs() {
        let _: serde::de::IgnoredAny = decode("store", &fixture("store")).unwrap();
        let body = br#"{"result":{"transfers":[
            {"amount":5,"spent":false,"unlocked":true,"subaddr_index":{"major":0,"minor":2},"frozen":false,"global_index":1,"key_image":"","pubkey":"","tx_hash":"","block_height":3},
            {"amount":7,"spent":true,"unlocked":true,"subaddr_index":{"major":0,"minor":0}},
            {"amount":9,"spent":false,"unlocked":false,"subaddr_index":{"major":0,"minor":0}}]}}"#;
        let outputs = decode::<IncomingTransfersResult>("incoming_transfers", body)
            .unwrap()
            .into_outputs(0)
            .unwrap();
        assert_eq!(
            outputs,
            [
                OwnedOutput {
                    amount: Piconero::new(5),
                    subaddress: index(0, 2),
                    unlocked: true
                },
                OwnedOutput {
                    amount: Piconero::new(9),
                    subaddress: index(0, 0),
                    unlocked: false
                },
            ]
        );
        let empty = decode::<IncomingTransfersResult>("incoming_transfers", br#"{"result":{}}"#);
        assert!(empty.unwrap().into_outputs(0).unwrap().is_empty());
        let other_account = decode::<IncomingTransfersResult>("incoming_transfers", body)
            .unwrap()
            .into_outputs(1);
        assert!(other_account.is_err());
    }
}
