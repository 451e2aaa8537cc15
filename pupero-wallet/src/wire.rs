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

use crate::error::{Error, Result};
use crate::types::{
    Balance, IncomingTransfer, Refreshed, SentTransfer, Subaddress, SubaddressIndex, Txid,
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

/// The result of a JSON-RPC response body, or the error it carries.
pub(crate) fn decode<T: DeserializeOwned>(method: &str, body: &[u8]) -> Result<T> {
    let envelope: Envelope<T> = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidResponse(format!("{method}: {e}")))?;
    match (envelope.error, envelope.result) {
        (Some(error), _) => Err(Error::from_rpc(error.code, error.message)),
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

#[derive(Debug, Serialize)]
pub(crate) struct TransferParams<'a> {
    pub(crate) destinations: [Destination<'a>; 1],
    pub(crate) account_index: u32,
    pub(crate) priority: u32,
    pub(crate) get_tx_key: bool,
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

fn parse_address(text: &str, network: Network) -> Result<MoneroAddress> {
    MoneroAddress::parse(text, network).map_err(|e| {
        invalid(format!(
            "the wallet's address {text:?} is not a {network} address ({e}); is the wallet on another network?"
        ))
    })
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
            destinations: [Destination {
                amount: u64::MAX,
                address: "addr",
            }],
            account_index: 0,
            priority: 4,
            get_tx_key: true,
        };
        let json = serde_json::to_string(&params).unwrap();
        assert_eq!(
            json,
            r#"{"destinations":[{"amount":18446744073709551615,"address":"addr"}],"account_index":0,"priority":4,"get_tx_key":true}"#
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
                matches!(&error, Error::Rpc { code: c, .. } if *c == code),
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
}
