//! Market prices.

use serde::{Deserialize, Serialize};

use crate::{Client, Error};

/// The market price of XMR in one currency.
#[derive(Debug, Clone, Deserialize)]
pub struct MarketPrice {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// Fiat per XMR, an exact decimal string.
    pub price: String,
    /// When the price was observed, unix milliseconds.
    pub observed_at_ms: u64,
    /// Whether the price is recent enough for offers priced by a margin.
    pub fresh: bool,
}

/// Every known market price.
#[derive(Debug, Clone, Deserialize)]
pub struct MarketPriceList {
    /// By currency.
    pub items: Vec<MarketPrice>,
}

#[derive(Serialize)]
struct PriceChange<'a> {
    price: &'a str,
}

impl Client {
    /// Every known market price (no login needed).
    pub async fn prices(&self) -> Result<MarketPriceList, Error> {
        self.send(reqwest::Method::GET, "/api/v1/prices", None::<&()>, false)
            .await
    }

    /// The market price of `currency` (no login needed); not found when there is none.
    pub async fn price(&self, currency: &str) -> Result<MarketPrice, Error> {
        let path = format!("/api/v1/prices/{}", crate::urlencode(currency));
        self.send(reqwest::Method::GET, &path, None::<&()>, false)
            .await
    }

    /// Sets the market price of `currency` to `price` fiat per XMR (admins).
    pub async fn admin_set_price(&self, currency: &str, price: &str) -> Result<(), Error> {
        let path = format!("/api/v1/admin/prices/{}", crate::urlencode(currency));
        self.no_content(reqwest::Method::PUT, &path, Some(&PriceChange { price }))
            .await
    }
}
