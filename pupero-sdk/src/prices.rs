//! Market prices.

use serde::Serialize;

use crate::{Client, Error};

pub use pupero_api::{MarketPrice, MarketPriceList};

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
