//! Requests and responses of `prices` (see the server's `api::prices`).

use pupero_core::{CurrencyCode, Price};

/// A price to set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PriceChange {
    /// Fiat per XMR, a decimal string with at most 8 decimals, e.g. `"150.25"`.
    pub price: Price,
}

/// The market price of XMR in one currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MarketPrice {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: CurrencyCode,
    /// Fiat per XMR, a decimal string.
    pub price: Price,
    /// When the price was observed, unix milliseconds.
    pub observed_at_ms: u64,
    /// Whether the price is recent enough for offers priced by a margin over the market.
    pub fresh: bool,
}

/// Every known market price.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MarketPriceList {
    /// By currency.
    pub items: Vec<MarketPrice>,
}
