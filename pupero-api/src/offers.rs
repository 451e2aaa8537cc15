//! Requests and responses of `offers` (see the server's `api::offers`).

use crate::*;
use pupero_core::{CurrencyCode, MarginPercent, PaymentMethod, Piconero, Price};
use uuid::Uuid;

/// A payment method of the catalogue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PaymentMethodView {
    /// Stable code, e.g. `SEPA`.
    pub code: PaymentMethod,
    /// Display name.
    pub name: String,
}

/// The platform's trading fees, in basis points (1/100 of a percent) of a trade's amount.
/// The seller's fee is paid on top of the escrow; the buyer's is taken out of what the buyer
/// receives. Who is which depends on who posted the offer: its maker or the taker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FeeScheduleView {
    /// The fee of the offer's maker.
    pub maker_bps: u16,
    /// The fee of the user who takes the offer.
    pub taker_bps: u16,
}

/// A new offer, or the full new state of one being edited.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct OfferRequest {
    /// `sell` (the maker sells XMR) or `buy`. Fixed once created.
    pub side: crate::Side,
    /// ISO 4217 code, e.g. `EUR`. Fixed once created.
    pub currency: CurrencyCode,
    /// A code from `GET /api/v1/payment-methods`.
    pub payment_method: PaymentMethod,
    /// Free details about the payment (bank, region...), at most 300 characters; none if
    /// absent.
    #[cfg_attr(feature = "openapi", oai(validator(max_length = 300)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_details: Option<Text>,
    /// A fixed price in fiat per XMR. Exactly one of `price` and `margin_percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// A margin in percent over the market price, e.g. `"2.5"` or `"-1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin_percent: Option<MarginPercent>,
    /// Smallest trade.
    pub min_amount: Piconero,
    /// Largest trade.
    pub max_amount: Piconero,
    /// Minutes the buyer has to pay.
    #[cfg_attr(
        feature = "openapi",
        oai(validator(minimum(value = "15"), maximum(value = "1440")))
    )]
    pub payment_window_minutes: u32,
    /// The maker's terms, at most 2000 characters; none if absent.
    #[cfg_attr(feature = "openapi", oai(validator(max_length = 2000)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Text>,
    /// `public` (listed) or `unlisted` (by link only).
    pub visibility: crate::Visibility,
}

/// An offer as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct OfferView {
    /// Offer id.
    pub id: Uuid,
    /// The maker's user id.
    pub owner_id: Uuid,
    /// The maker's username (their public profile: `GET /api/v1/users/{username}`).
    pub maker: String,
    /// From the maker's side.
    pub side: crate::Side,
    /// ISO 4217 code.
    pub currency: CurrencyCode,
    /// Payment method code.
    pub payment_method: String,
    /// Payment details.
    pub payment_details: String,
    /// Fixed price, if the offer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Margin over the market, if the offer follows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin_percent: Option<MarginPercent>,
    /// The price a trade opened now would get, when known (a margin needs a fresh quote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_price: Option<Price>,
    /// Smallest trade.
    pub min_amount: Piconero,
    /// Largest trade.
    pub max_amount: Piconero,
    /// Payment window in minutes.
    pub payment_window_minutes: u32,
    /// Terms.
    pub terms: String,
    /// Who sees it.
    pub visibility: crate::Visibility,
    /// Whether it can be taken.
    pub status: crate::OfferStatus,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: u64,
}

/// A page of the market, best price first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
pub struct OfferPageView {
    /// The offers; `min_amount`/`max_amount` are what can be traded now.
    pub items: Vec<OfferView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
