//! Requests and responses of `wallet` (see the server's `api::wallet`).

use crate::*;
use pupero_core::Piconero;
use uuid::Uuid;

/// Where the caller sends XMR to fund their balance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DepositAddress {
    /// The caller's own subaddress of the platform wallet; it does not change.
    pub address: String,
    /// `monero:<address>`, for wallets that open payment links.
    pub uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
    /// Confirmations after which a deposit is credited.
    pub confirmations_required: u64,
}

/// Money seen arriving on the caller's subaddress.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct DepositView {
    /// The transaction.
    pub txid: String,
    /// XMR received.
    pub amount: Piconero,
    /// `pending` (waiting for confirmations), `credited`, or `gone` (the transaction left the
    /// chain before it was credited; it is pending again if it comes back).
    pub state: crate::DepositState,
    /// The block holding it; absent while it waits in the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Blocks on top of and including its own, when last scanned.
    pub confirmations: u64,
    /// Confirmations after which it is credited.
    pub confirmations_required: u64,
    /// When it was first seen, unix ms.
    pub first_seen_ms: u64,
    /// When it was credited, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credited_at_ms: Option<u64>,
}

/// A page of deposits, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct DepositPage {
    /// The deposits.
    pub items: Vec<DepositView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A withdrawal request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct WithdrawalRequest {
    /// Where to send the XMR: an address of the platform's network, not one of the
    /// platform's own (its deposit addresses, its primary address or an integrated address
    /// built on it).
    #[cfg_attr(
        feature = "openapi",
        oai(validator(
            min_length = 95,
            max_length = 106,
            pattern = "^[1-9A-HJ-NP-Za-km-z]{95}([1-9A-HJ-NP-Za-km-z]{11})?$"
        ))
    )]
    pub address: Text,
    /// XMR the address receives, decimal; the network fee is charged on top (at most the fee
    /// reserve held with it, `max_fee`, the rest returned once the transaction is sent). Or
    /// `all`: the whole available balance less the network fee, leaving exactly zero.
    #[cfg_attr(
        feature = "openapi",
        oai(validator(max_length = 32, pattern = "^(all|[0-9]+(\\.[0-9]{1,12})?)$"))
    )]
    pub amount: Text,
    /// The account's password: needed from a logged-in session when 2FA is off, so that a
    /// stolen access token alone sends nothing away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Text>,
    /// The authenticator app's current code, when 2FA is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// Or one unused recovery code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// A withdrawal as its owner sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct WithdrawalView {
    /// Withdrawal id.
    pub id: Uuid,
    /// Where it is; `failed` ones are refunded.
    pub state: crate::WithdrawalState,
    /// The destination.
    pub address: String,
    /// XMR it receives. For a withdrawal of everything, until its transaction is built, the
    /// least it receives (what it holds besides the fee reserve).
    pub amount: Piconero,
    /// The network fee reserve held with it: the most fee it is charged.
    pub max_fee: Piconero,
    /// Whether it sends everything that was available (`"amount": "all"`): then it also sends
    /// what its fee leaves of the reserve.
    pub send_all: bool,
    /// Its share of the real network fee, once the transaction is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Piconero>,
    /// The transaction, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// Its secret key, a proof of payment (`check_tx_key`), once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_key: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

/// A page of withdrawals, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct WithdrawalPage {
    /// The withdrawals.
    pub items: Vec<WithdrawalView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What a withdrawal costs now, before asking for one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct WithdrawalFeeEstimate {
    /// The network fee the wallet would pay now for a withdrawal to one address, decimal
    /// XMR; absent when the wallet cannot say (it has no unlocked coins at the moment). A
    /// withdrawal sent with others in one transaction pays a share of its fee, usually less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Piconero>,
    /// Held with a withdrawal on top of its amount: twice the fee, at most 0.01 XMR (and that
    /// without an estimate). A withdrawal is never charged more; what it is not charged comes
    /// back once it is sent.
    pub fee_reserve: Piconero,
    /// The smallest amount a withdrawal sends.
    pub min_amount: Piconero,
    /// The caller's available balance.
    pub available: Piconero,
    /// The largest amount a withdrawal can ask now: the available balance less the fee
    /// reserve; absent when that is below the smallest amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Piconero>,
    /// About what a withdrawal of everything (`"amount": "all"`) sends now: the available
    /// balance less the fee; absent when the balance does not cover the smallest amount and
    /// the fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_amount: Option<Piconero>,
    /// With `amount`: what a withdrawal of it holds now, the amount and the fee reserve (the
    /// whole available balance for `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Piconero>,
    /// With `amount`: whether the available balance covers `total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered: Option<bool>,
}

impl WithdrawalRequest {
    /// The `amount` that asks for everything available, less the network fee: the balance
    /// ends at exactly zero.
    pub const ALL: &'static str = "all";

    /// A request to send `amount` XMR (decimal) to `address`, without a step-up yet.
    pub fn new(address: impl Into<String>, amount: impl Into<String>) -> WithdrawalRequest {
        WithdrawalRequest {
            address: Text::from(address.into()),
            amount: Text::from(amount.into()),
            password: None,
            totp_code: None,
            recovery_code: None,
        }
    }

    /// A request to send everything available to `address`, less the network fee.
    pub fn all(address: impl Into<String>) -> WithdrawalRequest {
        WithdrawalRequest::new(address, WithdrawalRequest::ALL)
    }

    /// The same request with the account's password (a session without 2FA needs it).
    pub fn with_password(mut self, password: impl Into<String>) -> WithdrawalRequest {
        self.password = Some(Text::from(password.into()));
        self
    }

    /// The same request with the authenticator app's code (2FA on).
    pub fn with_totp_code(mut self, code: impl Into<String>) -> WithdrawalRequest {
        self.totp_code = Some(Text::from(code.into()));
        self
    }
}
