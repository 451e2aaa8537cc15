//! The one error type of `pupero-core`.

use crate::ledger::{AccountError, TransferError};
use crate::price::PriceUnavailable;
use crate::text::ForbiddenCharacter;
use crate::trade::TradeError;

/// Convenience alias for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the domain can refuse.
///
/// Callers branch on the classifiers (`is_*`) or on the variant; the `Display` text is for
/// people and logs, not an interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An XMR amount string or integer was not a valid piconero amount.
    #[error("invalid amount: {0}")]
    InvalidAmount(&'static str),
    /// Checked arithmetic on amounts overflowed or went below zero.
    #[error("amount arithmetic overflowed")]
    AmountOverflow,
    /// A Monero address did not parse, had a bad checksum, or is for another network.
    #[error("invalid Monero address: {0}")]
    InvalidAddress(&'static str),
    /// A fiat amount, price, margin or currency code was not valid.
    #[error("invalid decimal: {0}")]
    InvalidDecimal(&'static str),
    /// A username, e-mail address, password, role or 2FA code was not acceptable.
    #[error("{0}")]
    InvalidUser(&'static str),
    /// An id was not a valid id of its kind.
    #[error("invalid id: {0}")]
    InvalidId(&'static str),
    /// An offer field or an offer search parameter was not acceptable.
    #[error("invalid offer: {0}")]
    InvalidOffer(&'static str),
    /// A chat message or a feedback comment was not acceptable (empty, too long, control
    /// characters), or a rating was unknown.
    #[error("invalid text: {0}")]
    InvalidText(&'static str),
    /// Text written by a person held a control, invisible or direction-changing character
    /// (see [`crate::text`]). The message names the character as `U+XXXX`.
    #[error(transparent)]
    ForbiddenCharacter(#[from] ForbiddenCharacter),
    /// The offer is not in a state that allows the change (a deleted offer cannot be edited).
    #[error("offer state: {0}")]
    OfferState(&'static str),
    /// An offer has no price right now: its market quote is missing or stale.
    #[error("price unavailable: {0}")]
    PriceUnavailable(#[from] PriceUnavailable),
    /// The ledger refused to create an account.
    #[error("account refused: {0}")]
    Account(#[from] AccountError),
    /// The ledger refused a transfer.
    #[error("transfer refused: {0}")]
    Transfer(#[from] TransferError),
    /// The trade state machine refused to open a trade or to apply an action.
    #[error("trade refused: {0}")]
    Trade(#[from] TradeError),
}

impl Error {
    /// Whether the error is a refusal because an account does not hold enough money.
    pub fn is_insufficient_funds(&self) -> bool {
        matches!(
            self,
            Error::Transfer(TransferError::ExceedsCredits | TransferError::ExceedsDebits)
        )
    }

    /// Whether the error is an idempotency conflict: the id exists with another body.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Transfer(TransferError::ExistsWithDifferentFields)
                | Error::Account(AccountError::ExistsWithDifferentFields)
        )
    }

    /// Whether the error names something that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::Transfer(
                TransferError::DebitAccountNotFound
                    | TransferError::CreditAccountNotFound
                    | TransferError::PendingTransferNotFound
            )
        )
    }

    /// Whether the error comes from parsing input (a caller's mistake, never the system's).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidAmount(_)
                | Error::InvalidAddress(_)
                | Error::InvalidDecimal(_)
                | Error::InvalidId(_)
                | Error::InvalidUser(_)
                | Error::InvalidOffer(_)
                | Error::InvalidText(_)
                | Error::ForbiddenCharacter(_)
        ) || matches!(self, Error::Trade(e) if e.is_invalid_input())
    }

    /// Whether the error is a trade action that the trade's state (or the time) does not allow.
    pub fn is_invalid_transition(&self) -> bool {
        matches!(self, Error::Trade(e) if e.is_invalid_transition())
    }

    /// Whether the error is a trade action by someone who may not take it.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Error::Trade(e) if e.is_forbidden())
    }

    /// Whether the error refuses a change the object's current state does not allow.
    pub fn is_invalid_state(&self) -> bool {
        matches!(self, Error::OfferState(_))
    }

    /// Whether the error is a temporary lack of something outside the caller's control, such as
    /// a fresh market price; the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::PriceUnavailable(_))
    }
}
