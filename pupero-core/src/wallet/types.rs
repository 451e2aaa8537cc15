//! The values the [`WalletRpc`](super::WalletRpc) port speaks in.

use std::fmt;

use crate::address::MoneroAddress;
use crate::money::Piconero;

/// Where an output lands in a wallet: the account (`major`) and the subaddress within it
/// (`minor`). Index 0 of an account is its primary address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubaddressIndex {
    /// The account.
    pub account: u32,
    /// The subaddress within the account.
    pub index: u32,
}

/// A subaddress the wallet made, with where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subaddress {
    /// The address to pay, parsed for the wallet's network.
    pub address: MoneroAddress,
    /// Its account and index; store this to recognise the deposits it receives.
    pub index: SubaddressIndex,
}

/// A transaction id (its hash): 32 bytes, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Txid([u8; 32]);

impl Txid {
    /// The txid the bytes make.
    pub const fn from_bytes(bytes: [u8; 32]) -> Txid {
        Txid(bytes)
    }

    /// Parses exactly 64 hex characters (either case); `None` otherwise.
    pub fn from_hex(s: &str) -> Option<Txid> {
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let high = hex_value(pair[0])?;
            let low = hex_value(pair[1])?;
            *byte = (high << 4) | low;
        }
        Some(Txid(bytes))
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Prints 64 lowercase hex characters, as `monero-wallet-rpc` and block explorers do.
impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Txid({self})")
    }
}

impl serde::Serialize for Txid {
    /// Serializes as the hex string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Txid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Txid, D::Error> {
        let text = String::deserialize(d)?;
        Txid::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
    }
}

/// What identifies one credit of a deposit scanner: a transaction and the subaddress it paid.
///
/// `monero-wallet-rpc` reports incoming money per transaction *and* per subaddress: one
/// transaction paying two subaddresses gives two [`IncomingTransfer`]s, and several outputs of
/// one transaction to the same subaddress give one, whose amount is their sum (the single
/// outputs are in [`IncomingTransfer::output_amounts`]). So `(txid, subaddress)` is unique in
/// the wallet's view and stays the same when the transaction moves from the pool into a block;
/// no output index is needed (and `get_transfers` gives none). Credit each key once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DepositKey {
    /// The transaction.
    pub txid: Txid,
    /// The subaddress it paid.
    pub subaddress: SubaddressIndex,
}

/// Money a transaction brought to one subaddress of the wallet, as the wallet sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingTransfer {
    /// The transaction.
    pub txid: Txid,
    /// The subaddress it paid.
    pub subaddress: SubaddressIndex,
    /// The total paid to that subaddress by the transaction.
    pub amount: Piconero,
    /// The outputs making up `amount`, in the wallet's order (usually one).
    pub output_amounts: Vec<Piconero>,
    /// The height of the block holding the transaction; `None` while it waits in the pool.
    pub height: Option<u64>,
    /// Blocks on top of (and including) the one holding it; 0 in the pool.
    pub confirmations: u64,
    /// Whether the wallet cannot spend it yet. Ordinary transfers unlock 10 blocks after they
    /// are mined, block rewards 60.
    pub locked: bool,
    /// The unlock time the sender set: 0 for none, below 500 000 000 a block height, above a
    /// unix time in seconds. A deposit with a non-zero unlock time deserves care: the money
    /// cannot be spent before then.
    pub unlock_time: u64,
    /// Whether the daemon saw another transaction spending the same inputs (only meaningful
    /// in the pool): never credit such a transfer before it is mined.
    pub double_spend_seen: bool,
    /// Whether it is a block reward mined to the wallet rather than a transfer.
    pub coinbase: bool,
}

impl IncomingTransfer {
    /// The key a deposit scanner credits it under.
    pub fn key(&self) -> DepositKey {
        DepositKey {
            txid: self.txid,
            subaddress: self.subaddress,
        }
    }

    /// Whether it is still in the pool (not mined).
    pub fn in_pool(&self) -> bool {
        self.height.is_none()
    }
}

/// How much a transaction pays for being mined soon. `monero-wallet-rpc` accepts any number
/// here, and numbers above 4 silently multiply the fee (a hundredfold and more); this type
/// keeps to the wallet's four levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// The wallet's default (`0`): normal, or lower when blocks are not full.
    #[default]
    Default,
    /// `unimportant` (`1`): the lowest fee.
    Unimportant,
    /// `normal` (`2`).
    Normal,
    /// `elevated` (`3`).
    Elevated,
    /// `priority` (`4`): the highest fee.
    Highest,
}

impl Priority {
    /// The number `monero-wallet-rpc` takes.
    pub const fn as_u32(self) -> u32 {
        match self {
            Priority::Default => 0,
            Priority::Unimportant => 1,
            Priority::Normal => 2,
            Priority::Elevated => 3,
            Priority::Highest => 4,
        }
    }
}

/// A transfer the wallet built, signed and handed to its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentTransfer {
    /// The transaction; with it the transfer can be found again in the wallet and on chain.
    pub txid: Txid,
    /// What the destination receives.
    pub amount: Piconero,
    /// The network fee, paid by the wallet on top of `amount`.
    pub fee: Piconero,
    /// The transaction's secret key (hex; longer when it has additional keys for
    /// subaddresses). With the txid and the destination it proves the payment
    /// (`check_tx_key`); it does not let anyone spend. Keep it with the withdrawal.
    pub tx_key: String,
}

/// A wallet balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Everything the wallet holds, locked or not, including its own change in flight.
    pub total: Piconero,
    /// What it can spend now.
    pub unlocked: Piconero,
}

/// What a [`refresh`](super::WalletRpc::refresh) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// New blocks the wallet scanned.
    pub blocks_fetched: u64,
    /// Whether any of them paid the wallet.
    pub received_money: bool,
}

/// The most destinations one transaction pays. A Monero transaction has at most 16 outputs
/// (the bulletproof aggregation limit, `BULLETPROOF_MAX_OUTPUTS`) and one of them is the
/// change; asking for more makes the wallet split the payment into several transactions, which
/// the worker could not relay atomically.
pub const MAX_DESTINATIONS: usize = 15;

/// A signed transaction the wallet built but did not broadcast, as `monero-wallet-rpc`
/// serializes it (`tx_metadata`, hex). Relaying it is idempotent: it is one transaction with
/// fixed key images, so it can be paid at most once however often it is relayed.
///
/// It holds the transaction's secret keys (payment proofs, not spending), so `Debug` shows
/// only its length.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TxMetadata(String);

impl TxMetadata {
    /// The metadata, if `hex` is a non-empty, even number of hex digits (stored lowercase).
    pub fn from_hex(hex: &str) -> Option<TxMetadata> {
        let valid = !hex.is_empty()
            && hex.len().is_multiple_of(2)
            && hex.bytes().all(|digit| hex_value(digit).is_some());
        valid.then(|| TxMetadata(hex.to_ascii_lowercase()))
    }

    /// The hex text, as the wallet's `relay_tx` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TxMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxMetadata({} hex digits)", self.0.len())
    }
}

impl serde::Serialize for TxMetadata {
    /// Serializes as the hex string, to be stored with a withdrawal.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TxMetadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TxMetadata, D::Error> {
        let text = String::deserialize(d)?;
        TxMetadata::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected hex digits"))
    }
}

/// A transaction the wallet built and signed: what a withdrawal worker persists *before*
/// relaying it, so that after a crash it can relay the same transaction again (a no-op if it
/// was already relayed) instead of building a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTransfer {
    /// The transaction's id, known before it is broadcast.
    pub txid: Txid,
    /// What each destination receives, in the order asked for.
    pub amounts: Vec<Piconero>,
    /// The network fee, paid by the wallet on top of the amounts.
    pub fee: Piconero,
    /// The transaction's secret key (hex), for payment proofs (`check_tx_key`).
    pub tx_key: String,
    /// The signed transaction, for [`relay`](super::WalletRpc::relay).
    pub tx_metadata: TxMetadata,
    /// The transaction's weight in bytes, when the wallet reports it.
    pub weight: Option<u64>,
}

impl BuiltTransfer {
    /// The sum of the amounts (what leaves the wallet besides the fee).
    ///
    /// # Errors
    /// [`crate::Error::AmountOverflow`] if the amounts add up beyond `u64` (the wallet would
    /// not build such a transaction).
    pub fn total(&self) -> crate::Result<Piconero> {
        self.amounts
            .iter()
            .try_fold(Piconero::ZERO, |sum, amount| sum.checked_add(*amount))
    }
}

/// Where an outgoing transaction stands, as the wallet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingState {
    /// Relayed and waiting in the daemon's pool.
    Pool,
    /// Mined.
    Confirmed {
        /// The height of the block holding it.
        height: u64,
        /// Blocks on top of (and including) that block.
        confirmations: u64,
    },
    /// The wallet gave up on it: it left the pool without being mined (a double spend, or
    /// dropped by the daemon). Its inputs are spendable again.
    Failed,
}

/// An outgoing transaction the wallet knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingStatus {
    /// The transaction.
    pub txid: Txid,
    /// Where it stands.
    pub state: OutgoingState,
    /// What it paid its destinations (the sum; a sweep to the wallet itself included). A wallet
    /// that lost its record of the transaction (restarted before `store`) and found it again on
    /// the chain knows only what left it, without the change.
    pub amount: Piconero,
    /// The network fee it paid.
    pub fee: Piconero,
}

/// An output the wallet owns and has not spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedOutput {
    /// Its amount.
    pub amount: Piconero,
    /// The subaddress that received it.
    pub subaddress: SubaddressIndex,
    /// Whether it can be spent now (ordinary outputs unlock 10 blocks after they are mined).
    pub unlocked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXID: &str = "dd616f18c2c3433bd979a101cfcf35ef48b0e25e2d86ad490464b3e82ea046a4";

    #[test]
    fn txid_round_trips_as_lowercase_hex() {
        let txid = Txid::from_hex(TXID).unwrap();
        assert_eq!(txid.to_string(), TXID);
        assert_eq!(Txid::from_hex(&TXID.to_uppercase()), Some(txid));
        assert_eq!(txid.as_bytes()[0], 0xdd);
        assert_eq!(txid.as_bytes()[31], 0xa4);
        assert_eq!(Txid::from_bytes(*txid.as_bytes()), txid);
        assert_eq!(format!("{txid:?}"), format!("Txid({TXID})"));
        let json = serde_json::to_string(&txid).unwrap();
        assert_eq!(json, format!("\"{TXID}\""));
        assert_eq!(serde_json::from_str::<Txid>(&json).unwrap(), txid);
    }

    #[test]
    fn txid_refuses_anything_but_64_hex_digits() {
        for bad in [
            "",
            &TXID[..63],
            &format!("{TXID}0"),
            &format!("{}g", &TXID[..63]),
            &format!(" {}", &TXID[..63]),
            &format!("{}é", &TXID[..62]),
        ] {
            assert_eq!(Txid::from_hex(bad), None, "{bad:?}");
        }
        assert!(serde_json::from_str::<Txid>("\"abc\"").is_err());
    }

    #[test]
    fn priorities_are_the_wallets_numbers() {
        let all = [
            Priority::Default,
            Priority::Unimportant,
            Priority::Normal,
            Priority::Elevated,
            Priority::Highest,
        ];
        let numbers: Vec<u32> = all.iter().map(|p| p.as_u32()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        assert_eq!(Priority::default(), Priority::Default);
    }

    #[test]
    fn tx_metadata_is_hex_and_debug_hides_it() {
        let metadata = TxMetadata::from_hex("01AB").unwrap();
        assert_eq!(metadata.as_str(), "01ab");
        assert_eq!(format!("{metadata:?}"), "TxMetadata(4 hex digits)");
        for bad in ["", "0", "0g", "01 2"] {
            assert_eq!(TxMetadata::from_hex(bad), None, "{bad:?}");
        }
        let json = serde_json::to_string(&metadata).unwrap();
        assert_eq!(json, "\"01ab\"");
        assert_eq!(serde_json::from_str::<TxMetadata>(&json).unwrap(), metadata);
        assert!(serde_json::from_str::<TxMetadata>("\"xyz\"").is_err());
    }

    #[test]
    fn a_built_transfer_adds_its_amounts() {
        let built = BuiltTransfer {
            txid: Txid::from_bytes([1; 32]),
            amounts: vec![Piconero::new(2), Piconero::new(3)],
            fee: Piconero::new(1),
            tx_key: String::new(),
            tx_metadata: TxMetadata::from_hex("00").unwrap(),
            weight: None,
        };
        assert_eq!(built.total().unwrap(), Piconero::new(5));
        let overflowing = BuiltTransfer {
            amounts: vec![Piconero::MAX, Piconero::new(1)],
            ..built
        };
        assert!(overflowing.total().is_err());
    }
}
