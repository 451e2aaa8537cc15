//! Requests and responses of `trades` (see the server's `api::trades`).

use crate::*;
use pupero_core::{CurrencyCode, Piconero, Price};
use uuid::Uuid;

/// A request to open a trade.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct OpenTradeRequest {
    /// The offer to trade on.
    pub offer_id: Uuid,
    /// The XMR to trade, within the offer's limits (before fees).
    pub amount: Piconero,
    /// The price (fiat per XMR) the taker accepted, as the offer showed it. If the offer's
    /// price is now worse for the taker (higher when buying XMR, lower when selling it), the
    /// trade is not opened: 409 `PRICE_CHANGED`.
    pub price: Price,
}

/// One party of a trade.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TradeParty {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
}

/// A trade as its parties (and, once disputed, moderators) see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct TradeView {
    /// Trade id.
    pub id: Uuid,
    /// The offer it was opened on.
    pub offer_id: Uuid,
    /// Where the trade is.
    pub state: crate::TradeState,
    /// The caller's side; absent for a moderator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub your_side: Option<TradeSide>,
    /// Which side posted the offer.
    pub maker_side: TradeSide,
    /// Who gives XMR.
    pub seller: TradeParty,
    /// Who gives fiat.
    pub buyer: TradeParty,
    /// XMR traded, before fees.
    pub amount: Piconero,
    /// The seller's fee, paid on top of the amount.
    pub seller_fee: Piconero,
    /// The buyer's fee, taken from what the buyer receives.
    pub buyer_fee: Piconero,
    /// What the seller has in escrow: amount + seller fee.
    pub escrowed: Piconero,
    /// What the buyer receives on release: amount − buyer fee.
    pub buyer_receives: Piconero,
    /// Fiat per XMR, fixed when the trade opened.
    pub price: Price,
    /// ISO 4217 code.
    pub currency: CurrencyCode,
    /// The fiat the buyer pays.
    pub fiat_amount: String,
    /// Payment method code.
    pub payment_method: String,
    /// Payment details from the offer.
    pub payment_details: String,
    /// The maker's terms.
    pub terms: String,
    /// Minutes the buyer has to pay.
    pub payment_window_minutes: u32,
    /// Opening time, unix ms.
    pub opened_at_ms: u64,
    /// When the payment window ends, unix ms.
    pub payment_deadline_ms: u64,
    /// When the buyer marked it paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at_ms: Option<u64>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<u64>,
    /// Who disputed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disputed_by: Option<Uuid>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_reason: Option<String>,
    /// A moderator's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Outcome>,
    /// For a split: what the buyer received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_to_buyer: Option<Piconero>,
    /// The moderator's note explaining the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_note: Option<String>,
    /// Increases with every step.
    pub version: u64,
    /// The steps the caller may take now.
    pub actions: Vec<crate::TradeAction>,
}

/// A page of trades, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct TradePage {
    /// The trades.
    pub items: Vec<TradeView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Releasing the escrow: the second factor when 2FA is on.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct ReleaseRequest {
    /// The authenticator app's current code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// Or one unused recovery code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// Raising a dispute.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DisputeRequest {
    /// What went wrong, for the moderator (at most 2000 characters); none if absent.
    #[cfg_attr(feature = "openapi", oai(validator(max_length = 2000)))]
    pub reason: Option<Text>,
}

/// A moderator's decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct ResolveRequest {
    /// `to_buyer` (as a release), `to_seller` (everything back, fee included) or `split`.
    pub outcome: Outcome,
    /// For `split`: the XMR the buyer receives, decimal, more than zero and less than
    /// `buyer_receives`; the rest returns to the seller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_buyer: Option<Piconero>,
    /// Why, for the parties and the audit log.
    #[cfg_attr(feature = "openapi", oai(validator(min_length = 1, max_length = 2000)))]
    pub note: Text,
    /// The moderator's current 2FA code, when 2FA is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<Text>,
    /// Or one unused recovery code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Text>,
}

/// The platform's fee account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FeeAccountView {
    /// Ledger account id.
    pub account_id: Uuid,
    /// Fees collected (posted), decimal XMR.
    pub collected: String,
    /// Fees held in open trades' escrow, decimal XMR.
    pub pending: String,
}
