//! Pupero's domain, with no I/O.
//!
//! This crate owns the types that carry Pupero's rules — [`Piconero`] amounts,
//! [`MoneroAddress`]es, exact fiat decimals, ids, the [`Clock`] — and the double-entry
//! ledger model in [`ledger`]: accounts, transfers, two-phase holds and the in-memory
//! [`ledger::LedgerBook`] that decides whether a batch of transfers is valid, and the state
//! machines that say what each step does to the ledger: of a trade in [`trade`], of a
//! withdrawal in [`withdrawal`], of a sweep in [`sweep`]. Every derived id has its namespace in
//! one list (`ids::namespace`) and its derivation next to its type. It also
//! defines the *ports*, small traits such as [`ledger::LedgerStore`] that the adapter
//! crates (`pupero-ledger`, `pupero-wallet`, `pupero-server`) implement.
//!
//! The market lives in [`offer`] (offers, their parsed fields, search queries and cursors) and
//! [`price`] (market quotes, the [`price::PriceOracle`] port and the effective price of an offer).
//! What the parties say sits in [`chat`] (a trade's messages, and when its chat is open) and
//! [`reputation`] (feedback after a trade, and the numbers of a public profile); what any text
//! written by a person may contain is the one rule of [`text`].
//! The hot wallet's port is [`wallet::WalletRpc`], with its error [`wallet::WalletError`];
//! consolidating its small outputs is [`sweep`], and comparing it with what the platform owes
//! is [`reconciliation`].
//!
//! Nothing here touches a database, a socket, a queue or an async runtime; time is an input.
#![deny(missing_docs)]

pub mod access;
pub mod address;
pub mod chat;
pub mod clock;
pub mod deposit;
pub mod error;
pub mod fiat;
pub mod ids;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod offer;
#[cfg(feature = "openapi")]
mod openapi;
pub mod price;
pub mod reconciliation;
pub mod reputation;
pub mod sweep;
pub mod text;
pub mod trade;
pub mod user;
pub mod wallet;
pub mod withdrawal;

pub use access::{Caller, Credential, StepUp};
pub use address::{AddressKind, MoneroAddress, Network};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use deposit::{DepositPolicy, DepositStatus, Sighting};
pub use error::{Error, Result};
pub use fiat::{CurrencyCode, FiatAmount, MarginPercent, Price};
pub use ids::{AccountId, MessageId, OfferId, TradeId, TransferId, UserId};
pub use money::{Piconero, SignedPiconero};
pub use offer::{
    NewOffer, Offer, OfferCursor, OfferFilter, OfferQuery, OfferStatus, OfferTerms, OfferUpdate,
    PaymentDetails, PaymentMethod, PaymentWindow, PriceSort, Side, TradeLimits, Visibility,
};
pub use price::{EffectivePrice, PriceOracle, PriceUnavailable, Pricing, Quote};
pub use reputation::{FeedbackComment, FeedbackCounts, Rating};
pub use trade::{
    CorruptTrade, FeeSchedule, OpenTrade, Party, Resolution, Trade, TradeAction, TradeError,
    TradeFees, TradeRecord, TradeState, TransferNames,
};
pub use user::{EmailAddress, Password, Role, Scope, Scopes, TotpCode, Username};
pub use wallet::{WalletError, WalletRpc};
pub use withdrawal::{Withdrawal, WithdrawalEvent, WithdrawalState};
