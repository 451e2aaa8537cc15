//! How the wallet's answers and failures become a [`WalletError`](crate::Error): the codes of
//! `monero-wallet-rpc` Pupero tells apart, and what each means for the call that got it.

use crate::Error;

/// Error codes of `monero-wallet-rpc` (its `wallet_rpc_server_error_codes.h`) that Pupero
/// tells apart. Every other code is kept in [`Error::Rejected`] or [`Error::RelayUncertain`].
pub mod codes {
    /// Unknown failure (an exception the wallet did not expect).
    pub const UNKNOWN_ERROR: i64 = -1;
    /// The address does not parse for the wallet's network.
    pub const WRONG_ADDRESS: i64 = -2;
    /// The daemon is busy (syncing) and refused the request.
    pub const DAEMON_IS_BUSY: i64 = -3;
    /// A generic failure while building or sending a transfer. With the daemon down it reads
    /// "failed to get output distribution"; from `relay_tx` it is always "Failed to commit
    /// tx.", whether the daemon refused the transaction or its answer was lost.
    pub const GENERIC_TRANSFER_ERROR: i64 = -4;
    /// A malformed payment id.
    pub const WRONG_PAYMENT_ID: i64 = -5;
    /// A transfer type (of `incoming_transfers`) it does not know.
    pub const TRANSFER_TYPE: i64 = -6;
    /// The call is not allowed (a restricted RPC server).
    pub const DENIED: i64 = -7;
    /// No transfer with that txid.
    pub const WRONG_TXID: i64 = -8;
    /// No wallet is open.
    pub const NOT_OPEN: i64 = -13;
    /// The account index does not exist in the wallet.
    pub const ACCOUNT_INDEX_OUT_OF_BOUNDS: i64 = -14;
    /// The subaddress index does not exist in the account.
    pub const ADDRESS_INDEX_OUT_OF_BOUNDS: i64 = -15;
    /// "tx not possible": the money does not cover the amount and the fee (also an amount
    /// whose sum overflows).
    pub const TX_NOT_POSSIBLE: i64 = -16;
    /// "not enough money": the whole balance, locked or not, is below the amount.
    pub const NOT_ENOUGH_MONEY: i64 = -17;
    /// The transaction would be too large.
    pub const TX_TOO_LARGE: i64 = -18;
    /// Too few outputs on the chain to pick ring members from (a young chain).
    pub const NOT_ENOUGH_OUTS_TO_MIX: i64 = -19;
    /// A destination list that is empty.
    pub const ZERO_DESTINATION: i64 = -20;
    /// `relay_tx`: the metadata does not parse ("Failed to parse tx metadata.").
    pub const BAD_TX_METADATA: i64 = -27;
    /// "not enough unlocked money": the balance covers the amount, but not its unlocked part.
    pub const NOT_ENOUGH_UNLOCKED_MONEY: i64 = -37;
    /// The wallet cannot reach its daemon.
    pub const NO_DAEMON_CONNECTION: i64 = -38;
    /// A destination amount is zero.
    pub const ZERO_AMOUNT: i64 = -46;
    /// JSON-RPC: the body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON-RPC: not a valid request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// JSON-RPC: the method does not exist.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// JSON-RPC: the parameters do not parse.
    pub const INVALID_PARAMS: i64 = -32602;
}

/// What a call can do, which decides what its failures mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads only: a failure of any kind changed nothing.
    Read,
    /// Changes the wallet (a subaddress, its file, its scan) or builds without broadcasting:
    /// a lost answer leaves the change unknown, but nothing reaches the network.
    Write,
    /// May broadcast a transaction: `transfer`, `relay_tx`, a relaying `sweep_all`.
    Broadcast,
}

/// Codes a broadcasting call can only get *before* it hands anything to the daemon: the
/// wallet refused the request or could not build the transaction. Any other error of such a
/// call may come from the relay step itself, whose outcome the wallet does not know.
const REFUSED_BEFORE_BROADCAST: [i64; 20] = [
    codes::WRONG_ADDRESS,
    codes::DAEMON_IS_BUSY,
    codes::WRONG_PAYMENT_ID,
    codes::TRANSFER_TYPE,
    codes::DENIED,
    codes::NOT_OPEN,
    codes::ACCOUNT_INDEX_OUT_OF_BOUNDS,
    codes::ADDRESS_INDEX_OUT_OF_BOUNDS,
    codes::TX_NOT_POSSIBLE,
    codes::NOT_ENOUGH_MONEY,
    codes::TX_TOO_LARGE,
    codes::NOT_ENOUGH_OUTS_TO_MIX,
    codes::ZERO_DESTINATION,
    codes::BAD_TX_METADATA,
    codes::NOT_ENOUGH_UNLOCKED_MONEY,
    codes::ZERO_AMOUNT,
    codes::PARSE_ERROR,
    codes::INVALID_REQUEST,
    codes::METHOD_NOT_FOUND,
    codes::INVALID_PARAMS,
];

/// The error for a JSON-RPC error object the wallet answered to a call with `effect`.
pub(crate) fn from_rpc(code: i64, message: String, effect: Effect) -> Error {
    match code {
        codes::NOT_ENOUGH_MONEY | codes::NOT_ENOUGH_UNLOCKED_MONEY | codes::TX_NOT_POSSIBLE => {
            Error::InsufficientFunds { code, message }
        }
        codes::WRONG_ADDRESS => Error::InvalidAddress(message),
        _ if effect == Effect::Broadcast && !REFUSED_BEFORE_BROADCAST.contains(&code) => {
            Error::RelayUncertain { code, message }
        }
        _ => Error::Rejected { code, message },
    }
}

/// The error for a request that did not get a complete HTTP answer. A connection that could
/// not be opened sent nothing; any later failure (while sending, waiting or reading) may come
/// after the wallet received the request, so for a call that changes anything the outcome is
/// unknown.
pub(crate) fn from_transport(method: &str, error: &reqwest::Error, effect: Effect) -> Error {
    let detail = format!("{method}: {}", error_chain(error));
    if error.is_connect() {
        Error::Unavailable(detail)
    } else if error.is_timeout() || effect != Effect::Read {
        Error::Timeout(detail)
    } else {
        Error::Unavailable(detail)
    }
}

/// The error's message with its causes, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_a_broadcasting_call_are_certain_only_before_the_relay() {
        let classify = |code, effect| from_rpc(code, "message".into(), effect);
        // Refused while building: nothing was sent.
        for code in [-2, -16, -17, -37, -27, -19, -32601] {
            let error = classify(code, Effect::Broadcast);
            assert!(error.is_definitely_not_sent(), "{code}: {error:?}");
        }
        // `relay_tx` answers -4 for a double spend and for a lost daemon answer alike; -38 may
        // come after the daemon took the transaction.
        for code in [-4, -38, -1, -999] {
            let error = classify(code, Effect::Broadcast);
            assert!(
                matches!(error, Error::RelayUncertain { .. }) && error.is_unknown_outcome(),
                "{code}: {error:?}"
            );
            let error = classify(code, Effect::Write);
            assert!(
                matches!(error, Error::Rejected { .. }) && error.is_definitely_not_sent(),
                "{code}: {error:?}"
            );
        }
        assert!(classify(-17, Effect::Read).is_insufficient_funds());
        assert!(classify(-2, Effect::Broadcast).is_invalid_address());
    }
}
