//! [`WalletError`]: what can go wrong asking the wallet, classified by what it means for the
//! money.

/// Convenience alias for results whose error is [`WalletError`].
pub type Result<T, E = WalletError> = std::result::Result<T, E>;

/// What can go wrong asking the wallet, classified by what the caller may conclude.
///
/// Every error is exactly one of two kinds, and a withdrawal worker must keep them apart:
/// - **definitely not sent** ([`is_definitely_not_sent`](WalletError::is_definitely_not_sent)):
///   the wallet was not reached, or it refused before anything was broadcast. Building again
///   is safe.
/// - **unknown outcome** ([`is_unknown_outcome`](WalletError::is_unknown_outcome)): the
///   request may have had its effect. After a `transfer`, a `relay` or a relaying sweep this
///   never means "failed": the transaction may be in the pool. Relay the same persisted
///   metadata again, or look the txid up with `outgoing_transfer`; never build a new
///   transaction for the same payment.
///
/// For a read, both kinds just mean "ask again later". Callers branch on the classifiers or on
/// the variant; the `Display` text is for people and logs, not an interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The wallet could not be reached (connection refused, no route, a login it refused) or
    /// could not reach its daemon before doing anything. Nothing happened.
    #[error("wallet unavailable: {0}")]
    Unavailable(String),
    /// The request was sent (or may have been) but no complete answer came back in time: a
    /// timeout, a connection lost while sending or while reading the answer. **The outcome is
    /// unknown**: the wallet may have done everything asked.
    #[error("no answer from the wallet (outcome unknown): {0}")]
    Timeout(String),
    /// The wallet refused the request with an error that has no variant of its own. Nothing
    /// was sent.
    #[error("wallet refused ({code}): {message}")]
    Rejected {
        /// The wallet's JSON-RPC error code.
        code: i64,
        /// The wallet's message.
        message: String,
    },
    /// The wallet failed while handing a transaction to its daemon (`relay_tx`, or the relay
    /// step of a `transfer` or sweep). `monero-wallet-rpc` gives the same error whether the
    /// daemon refused the transaction (a double spend) or its answer was lost after it took the
    /// transaction, so **the outcome is unknown**.
    #[error("relay failed, outcome unknown ({code}): {message}")]
    RelayUncertain {
        /// The wallet's JSON-RPC error code.
        code: i64,
        /// The wallet's message.
        message: String,
    },
    /// The wallet does not hold enough (unlocked) money for the amounts and the fee. Nothing
    /// was sent.
    #[error("insufficient funds in the wallet ({code}): {message}")]
    InsufficientFunds {
        /// The wallet's JSON-RPC error code.
        code: i64,
        /// The wallet's message.
        message: String,
    },
    /// A destination is not an address of the wallet's network, or the request is malformed
    /// (no destination, too many). Nothing was sent.
    #[error("invalid destination: {0}")]
    InvalidAddress(String),
    /// The answer is not what the wallet should send: not JSON, a missing field, an amount that
    /// is not an unsigned integer, an address of another network, inconsistent figures. The
    /// wallet did answer, so after a mutating call **the outcome is unknown** (it may have done
    /// what was asked and described it oddly).
    #[error("invalid wallet response: {0}")]
    InvalidResponse(String),
}

/// The wallet's JSON-RPC code for "no connection to daemon" (`monero-wallet-rpc`).
const NO_DAEMON_CONNECTION: i64 = -38;

/// The wallet's JSON-RPC code for "no such transaction".
const WRONG_TXID: i64 = -8;

impl WalletError {
    /// A short, stable name of the variant, for metrics and logs: `unavailable`, `timeout`,
    /// `rejected`, `relay_uncertain`, `insufficient_funds`, `invalid_address`,
    /// `invalid_response`.
    pub fn kind(&self) -> &'static str {
        match self {
            WalletError::Unavailable(_) => "unavailable",
            WalletError::Timeout(_) => "timeout",
            WalletError::Rejected { .. } => "rejected",
            WalletError::RelayUncertain { .. } => "relay_uncertain",
            WalletError::InsufficientFunds { .. } => "insufficient_funds",
            WalletError::InvalidAddress(_) => "invalid_address",
            WalletError::InvalidResponse(_) => "invalid_response",
        }
    }

    /// Whether the request certainly had no effect: the wallet was not reached or refused.
    /// Exactly the errors that are not [`is_unknown_outcome`](WalletError::is_unknown_outcome).
    pub fn is_definitely_not_sent(&self) -> bool {
        match self {
            WalletError::Unavailable(_)
            | WalletError::Rejected { .. }
            | WalletError::InsufficientFunds { .. }
            | WalletError::InvalidAddress(_) => true,
            WalletError::Timeout(_)
            | WalletError::RelayUncertain { .. }
            | WalletError::InvalidResponse(_) => false,
        }
    }

    /// Whether the request may have had its effect: for a transfer, relay or relaying sweep,
    /// the transaction may be on its way. Never treat such an error as a failed payment.
    pub fn is_unknown_outcome(&self) -> bool {
        !self.is_definitely_not_sent()
    }

    /// Whether the wallet lacks the (unlocked) money for the amounts and the fee.
    pub fn is_insufficient_funds(&self) -> bool {
        matches!(self, WalletError::InsufficientFunds { .. })
    }

    /// Whether a destination address (or the list of destinations) was refused.
    pub fn is_invalid_address(&self) -> bool {
        matches!(self, WalletError::InvalidAddress(_))
    }

    /// Whether the wallet could not be reached or did not answer: [`WalletError::Unavailable`]
    /// or [`WalletError::Timeout`].
    pub fn is_transport(&self) -> bool {
        matches!(self, WalletError::Unavailable(_) | WalletError::Timeout(_))
    }

    /// Whether the wallet could not be reached at all (nothing happened).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, WalletError::Unavailable(_))
    }

    /// Whether no answer came in time, or it was lost (outcome unknown).
    pub fn is_timeout(&self) -> bool {
        matches!(self, WalletError::Timeout(_))
    }

    /// Whether the wallet answered but cannot reach its daemon (code -38).
    pub fn is_daemon_unreachable(&self) -> bool {
        self.rpc_code() == Some(NO_DAEMON_CONNECTION)
    }

    /// Whether the wallet knows no such transaction (code -8).
    pub fn is_not_found(&self) -> bool {
        self.rpc_code() == Some(WRONG_TXID)
    }

    /// The wallet's JSON-RPC error code, when the wallet answered with an error.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            WalletError::Rejected { code, .. }
            | WalletError::RelayUncertain { code, .. }
            | WalletError::InsufficientFunds { code, .. } => Some(*code),
            WalletError::Unavailable(_)
            | WalletError::Timeout(_)
            | WalletError::InvalidAddress(_)
            | WalletError::InvalidResponse(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<WalletError> {
        let answered = |code| (code, "message".to_owned());
        let (code, message) = answered(-4);
        vec![
            WalletError::Unavailable("refused".into()),
            WalletError::Timeout("30 s".into()),
            WalletError::Rejected {
                code,
                message: message.clone(),
            },
            WalletError::RelayUncertain {
                code,
                message: message.clone(),
            },
            WalletError::InsufficientFunds { code: -17, message },
            WalletError::InvalidAddress("testnet".into()),
            WalletError::InvalidResponse("not JSON".into()),
        ]
    }

    #[test]
    fn every_error_is_either_not_sent_or_unknown() {
        let unknown: Vec<bool> = every_kind()
            .iter()
            .map(WalletError::is_unknown_outcome)
            .collect();
        assert_eq!(unknown, [false, true, false, true, false, false, true]);
        for error in every_kind() {
            assert_ne!(
                error.is_unknown_outcome(),
                error.is_definitely_not_sent(),
                "{error:?}"
            );
        }
    }

    #[test]
    fn classifiers() {
        let errors = every_kind();
        assert!(errors[0].is_transport() && errors[0].is_unavailable());
        assert!(errors[1].is_transport() && errors[1].is_timeout());
        assert!(!errors[2].is_transport());
        assert!(errors[4].is_insufficient_funds());
        assert!(errors[5].is_invalid_address());
        let codes: Vec<Option<i64>> = errors.iter().map(WalletError::rpc_code).collect();
        assert_eq!(
            codes,
            [None, None, Some(-4), Some(-4), Some(-17), None, None]
        );
        let no_daemon = WalletError::Rejected {
            code: -38,
            message: "no connection to daemon".into(),
        };
        assert!(no_daemon.is_daemon_unreachable() && no_daemon.is_definitely_not_sent());
        let not_found = WalletError::Rejected {
            code: -8,
            message: "Transaction not found.".into(),
        };
        assert!(not_found.is_not_found());
        assert!(!errors[2].is_not_found());
    }
}
