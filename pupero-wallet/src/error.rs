//! The one error type of `pupero-wallet`.

/// Convenience alias for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error codes of `monero-wallet-rpc` (its `wallet_rpc_server_error_codes.h`) that Pupero
/// tells apart. Every other code is kept as [`Error::Rpc`].
pub mod codes {
    /// The address does not parse for the wallet's network.
    pub const WRONG_ADDRESS: i64 = -2;
    /// A generic failure while building or sending a transfer; with the daemon down it reads
    /// "failed to get output distribution".
    pub const GENERIC_TRANSFER_ERROR: i64 = -4;
    /// No transfer with that txid.
    pub const WRONG_TXID: i64 = -8;
    /// The account index does not exist in the wallet.
    pub const ACCOUNT_INDEX_OUT_OF_BOUNDS: i64 = -14;
    /// The subaddress index does not exist in the account.
    pub const ADDRESS_INDEX_OUT_OF_BOUNDS: i64 = -15;
    /// "tx not possible": the money does not cover the amount and the fee (also an amount
    /// whose sum overflows).
    pub const TX_NOT_POSSIBLE: i64 = -16;
    /// "not enough money": the whole balance, locked or not, is below the amount.
    pub const NOT_ENOUGH_MONEY: i64 = -17;
    /// Too few outputs on the chain to pick ring members from (a young chain).
    pub const NOT_ENOUGH_OUTS_TO_MIX: i64 = -19;
    /// "not enough unlocked money": the balance covers the amount, but not its unlocked part.
    pub const NOT_ENOUGH_UNLOCKED_MONEY: i64 = -37;
    /// The wallet cannot reach its daemon.
    pub const NO_DAEMON_CONNECTION: i64 = -38;
    /// A destination amount is zero.
    pub const ZERO_AMOUNT: i64 = -46;
    /// JSON-RPC: the method does not exist.
    pub const METHOD_NOT_FOUND: i64 = -32601;
}

/// What can go wrong talking to the wallet.
///
/// Callers branch on the classifiers (`is_*`) or on the variant; the `Display` text is for
/// people and logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete: connection refused, timeout, HTTP failure. For a
    /// [`transfer`](crate::WalletRpc::transfer) the outcome is then unknown: the wallet may
    /// have sent the transaction before the answer was lost.
    #[error("wallet RPC request failed")]
    Transport(#[from] reqwest::Error),
    /// The wallet answered with an error that has no variant of its own.
    #[error("wallet RPC error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code (see [`codes`]).
        code: i64,
        /// The wallet's message.
        message: String,
    },
    /// The answer is not what the wallet should send: not JSON, a missing field, an amount
    /// that is not an unsigned integer, an address of another network, inconsistent figures.
    #[error("invalid wallet RPC response: {0}")]
    InvalidResponse(String),
    /// The wallet does not hold enough (unlocked) money for the transfer and its fee. Nothing
    /// was sent.
    #[error("insufficient funds in the wallet ({code}: {message})")]
    InsufficientFunds {
        /// [`codes::NOT_ENOUGH_MONEY`], [`codes::NOT_ENOUGH_UNLOCKED_MONEY`] or
        /// [`codes::TX_NOT_POSSIBLE`].
        code: i64,
        /// The wallet's message.
        message: String,
    },
    /// The destination is not an address of the wallet's network. Nothing was sent.
    #[error("invalid destination address: {0}")]
    InvalidAddress(String),
}

impl Error {
    /// The error for a JSON-RPC error object, classified by its code.
    pub(crate) fn from_rpc(code: i64, message: String) -> Error {
        match code {
            codes::NOT_ENOUGH_MONEY | codes::NOT_ENOUGH_UNLOCKED_MONEY | codes::TX_NOT_POSSIBLE => {
                Error::InsufficientFunds { code, message }
            }
            codes::WRONG_ADDRESS => Error::InvalidAddress(message),
            _ => Error::Rpc { code, message },
        }
    }

    /// Whether the wallet lacks the (unlocked) money for a transfer and its fee.
    pub fn is_insufficient_funds(&self) -> bool {
        matches!(self, Error::InsufficientFunds { .. })
    }

    /// Whether a destination address was refused.
    pub fn is_invalid_address(&self) -> bool {
        matches!(self, Error::InvalidAddress(_))
    }

    /// Whether the wallet could not be reached or did not answer in time.
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport(_))
    }

    /// Whether the wallet answered but cannot reach its daemon (code
    /// [`codes::NO_DAEMON_CONNECTION`]).
    pub fn is_daemon_unreachable(&self) -> bool {
        self.rpc_code() == Some(codes::NO_DAEMON_CONNECTION)
    }

    /// The wallet's JSON-RPC error code, when the wallet answered with an error.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            Error::Rpc { code, .. } | Error::InsufficientFunds { code, .. } => Some(*code),
            Error::InvalidAddress(_) | Error::Transport(_) | Error::InvalidResponse(_) => None,
        }
    }
}
