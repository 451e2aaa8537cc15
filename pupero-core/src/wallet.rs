//! The hot wallet's port: [`WalletRpc`], what a custodial exchange asks of its Monero wallet,
//! the values it speaks in, and [`WalletError`], classified by what an error means for the
//! money. The adapter over `monero-wallet-rpc` is `pupero-wallet`'s `HttpWalletRpc`; a
//! deterministic in-memory wallet for simulations is its `testing::SimWallet`.
//!
//! The exchange gives each user a deposit [`Subaddress`], scans
//! [`incoming_transfers`](WalletRpc::incoming_transfers) for deposits (crediting each
//! [`DepositKey`] once), and pays withdrawals in three steps that survive a crash at any point:
//! [`build_transfer`](WalletRpc::build_transfer) (signed, not broadcast; persist the
//! [`BuiltTransfer`]), [`relay`](WalletRpc::relay) (idempotent: the same metadata is the same
//! transaction) and [`store`](WalletRpc::store) (the wallet file, so a restarted wallet still
//! knows the transaction). [`outgoing_transfer`](WalletRpc::outgoing_transfer) follows a
//! payment from the pool to its confirmations.
//!
//! # The unknown-outcome rule
//! An error after a request that can broadcast ([`WalletRpc::transfer`], [`WalletRpc::relay`],
//! [`WalletRpc::sweep_below`] with relaying) is not a failure unless
//! [`WalletError::is_definitely_not_sent`] says so. Otherwise the transaction may be in the
//! pool: relay the persisted metadata again (a no-op if it is already there) or look it up,
//! and never build a second transaction for the same payment.

mod error;
mod types;

use async_trait::async_trait;

pub use error::{Result, WalletError};
pub use types::{
    Balance, BuiltTransfer, DepositKey, IncomingTransfer, MAX_DESTINATIONS, OutgoingState,
    OutgoingStatus, OwnedOutput, Priority, Refreshed, SentTransfer, Subaddress, SubaddressIndex,
    TxMetadata, Txid,
};

use crate::address::MoneroAddress;
use crate::money::Piconero;

/// The hot wallet, as the exchange uses it. Every call naming an `account` works in that wallet
/// account (Pupero uses account 0).
///
/// The wallet serves one request at a time; adapters queue calls and give each its own
/// timeout. See the module documentation for how to read errors after calls that broadcast.
#[async_trait]
pub trait WalletRpc: Send + Sync {
    /// The primary address of `account`. Also a check at start-up that the wallet is on the
    /// configured network: an address of another network is [`WalletError::InvalidResponse`].
    async fn primary_address(&self, account: u32) -> Result<MoneroAddress>;

    /// A new subaddress in `account`, labelled `label` in the wallet. Every call makes a new
    /// one, even with a label used before: the caller stores the returned index (one deposit
    /// subaddress per user) rather than asking again. [`store`](WalletRpc::store) before
    /// handing it out: a wallet restarted without saving makes the same index (and address)
    /// again for the next caller.
    async fn create_subaddress(&self, account: u32, label: &str) -> Result<Subaddress>;

    /// How many addresses `account` has made: its primary address (index 0) and every
    /// subaddress after it. A wallet restored from its seed counts again from 1, whatever it
    /// had made before, and watches only a look-ahead past its count: the caller brings it
    /// back with [`create_subaddress`](WalletRpc::create_subaddress), then
    /// [`rescan`](WalletRpc::rescan)s.
    async fn subaddress_count(&self, account: u32) -> Result<u32>;

    /// The address at `index` of `account`, which must be below
    /// [`subaddress_count`](WalletRpc::subaddress_count) (else the wallet refuses).
    async fn subaddress(&self, account: u32, index: u32) -> Result<MoneroAddress>;

    /// Scans the chain again from the wallet's restore height, seeing outputs paid to
    /// subaddresses made since it first scanned those blocks. What only the wallet knew
    /// (destinations and keys of its own transactions) is lost; the chain keeps the rest.
    async fn rescan(&self) -> Result<()>;

    /// Money received by `account`: transfers mined in blocks at or above `min_height`, then
    /// every transfer waiting in the pool (whatever `min_height`), one entry per transaction
    /// and subaddress (see [`DepositKey`]). Confirmations grow as blocks are mined, so a
    /// scanner asks from the height of its oldest deposit still waiting for confirmations and
    /// credits each key once. Call [`refresh`](WalletRpc::refresh) first to see the newest
    /// blocks. Transfers the wallet sent to itself (its own subaddresses included) are not
    /// listed.
    async fn incoming_transfers(
        &self,
        account: u32,
        min_height: u64,
    ) -> Result<Vec<IncomingTransfer>>;

    /// Builds, signs and relays in one call: sends `amount` to `destination` from `account`,
    /// paying the fee on top. Prefer [`build_transfer`](WalletRpc::build_transfer) and
    /// [`relay`](WalletRpc::relay) for withdrawals: after an unknown outcome here there is no
    /// metadata to relay again, only the wallet's history to search.
    async fn transfer(
        &self,
        account: u32,
        destination: &MoneroAddress,
        amount: Piconero,
        priority: Priority,
    ) -> Result<SentTransfer>;

    /// Builds and signs one transaction from `account` paying each `(address, amount)` of
    /// `destinations` (1 to [`MAX_DESTINATIONS`]), the fee on top, and broadcasts nothing. The
    /// wallet does not reserve the inputs it picked: build the next transaction only after
    /// this one is relayed or abandoned, or both may spend the same outputs and the second
    /// relay fails. A transaction built and never relayed has no effect, so whatever the
    /// error (even a lost answer), nothing was broadcast and building again is safe.
    async fn build_transfer(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<BuiltTransfer>;

    /// The network fee a transaction from `account` paying `destinations` would pay now. The
    /// wallet builds and signs it as [`build_transfer`](WalletRpc::build_transfer) does and
    /// throws it away: nothing is kept, reserved or broadcast. As costly as a build (ring
    /// members from the daemon, the signatures), so callers keep the answer for a while. The
    /// wallet needs unlocked money for the amounts and the fee, or answers
    /// [`WalletError::InsufficientFunds`].
    async fn estimate_fee(
        &self,
        account: u32,
        destinations: &[(MoneroAddress, Piconero)],
        priority: Priority,
    ) -> Result<Piconero>;

    /// Where `address` lives in the wallet, if the wallet owns it: the primary address of an
    /// account, any subaddress the wallet made or watches (its look-ahead), or an integrated
    /// address built on a primary address (which pays that primary address). `None` for an
    /// address of anyone else.
    async fn address_index(&self, address: &MoneroAddress) -> Result<Option<SubaddressIndex>>;

    /// Broadcasts a transaction built by [`build_transfer`](WalletRpc::build_transfer) (or a
    /// sweep built without relaying) and returns its txid.
    ///
    /// Relaying the same metadata twice cannot pay twice: it is the same transaction (same
    /// txid, same key images), and the daemon never accepts two transactions spending one key
    /// image. A second relay while the transaction is in the pool, or after it was mined,
    /// answers the same txid. But after it was mined, `monero-wallet-rpc` records a pending
    /// copy, finds it missing from the pool two refreshes later, marks it failed and its
    /// inputs unspent: its balance is then too high until a `rescan_spent`, and a transfer
    /// spending those inputs fails. So relay again only a transaction that
    /// [`outgoing_transfer`](WalletRpc::outgoing_transfer) does not know (after a
    /// [`refresh`](WalletRpc::refresh)): never relayed, or relayed before a restart that
    /// forgot it while it waited in the pool.
    ///
    /// An error that is not [`WalletError::is_definitely_not_sent`] (a timeout,
    /// [`WalletError::RelayUncertain`]) leaves the transaction possibly in the pool.
    async fn relay(&self, tx_metadata: &TxMetadata) -> Result<Txid>;

    /// What the wallet knows of the outgoing transaction `txid`: in the pool, confirmed or
    /// failed, with its amount and fee; `None` when it knows no outgoing transaction of that
    /// id (never relayed, or relayed before a restart that forgot it and not yet mined).
    async fn outgoing_transfer(&self, txid: Txid) -> Result<Option<OutgoingStatus>>;

    /// Consolidates: spends every unlocked output of `account` (all its subaddresses) below
    /// `below` to `destination` (the wallet's own primary address, for a sweeper), in as many
    /// transactions as needed, each paying its own fee out of the amount. With
    /// `do_not_relay` nothing is broadcast and the metadata can be relayed later; otherwise
    /// the transactions are relayed (their metadata is still returned). Nothing to sweep is
    /// an empty list.
    async fn sweep_below(
        &self,
        account: u32,
        below: Piconero,
        destination: &MoneroAddress,
        priority: Priority,
        do_not_relay: bool,
    ) -> Result<Vec<BuiltTransfer>>;

    /// The outputs of `account` not spent yet, locked or not: a sweeper counts the small
    /// unlocked ones to decide when to consolidate.
    async fn unspent_outputs(&self, account: u32) -> Result<Vec<OwnedOutput>>;

    /// Saves the wallet file. A wallet process that stops without saving forgets what it did
    /// since the last save (its relayed transactions stay on the chain, where a rescan finds
    /// them once mined): call it after every relay.
    async fn store(&self) -> Result<()>;

    /// The balance of `account`.
    async fn balance(&self, account: u32) -> Result<Balance>;

    /// The wallet's height: how many blocks it has scanned, i.e. one more than the height of
    /// the newest block it knows.
    async fn height(&self) -> Result<u64>;

    /// Scans the daemon's new blocks and pool now, rather than at the wallet's next automatic
    /// refresh.
    async fn refresh(&self) -> Result<Refreshed>;
}
