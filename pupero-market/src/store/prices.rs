//! Market prices set by admins, one row per currency.

use super::convert::{ms, time};
use super::{Store, StoreError};
use pupero_core::fiat::SUPPORTED_CURRENCIES;
use pupero_core::{CurrencyCode, Price, Quote};

/// The `source` of a price an admin set.
pub const PRICE_SOURCE_ADMIN: &str = "admin";

/// At most one row per supported currency exists, so a listing never needs more.
const MAX_LISTED_PRICES: usize = SUPPORTED_CURRENCIES.len();

/// A market price's columns.
#[derive(sqlx::FromRow)]
struct QuoteColumns {
    currency: String,
    price: String,
    observed_at_ms: i64,
}

impl TryFrom<QuoteColumns> for Quote {
    type Error = StoreError;

    fn try_from(c: QuoteColumns) -> Result<Quote, StoreError> {
        Ok(Quote::new(
            CurrencyCode::parse(&c.currency)
                .map_err(|_| StoreError::Corrupt("market price currency"))?,
            Price::parse(&c.price).map_err(|_| StoreError::Corrupt("market price"))?,
            time(c.observed_at_ms, "market price observed_at_ms")?,
        ))
    }
}

impl Store {
    /// Records `quote` as the market price of its currency, replacing the previous one.
    pub async fn set_market_price(&self, quote: &Quote, source: &str) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO market_prices (currency, price, source, observed_at_ms) VALUES (?, ?, ?, ?){}",
            self.engine
                .upsert("currency", &["price", "source", "observed_at_ms"])
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(quote.currency().to_string())
            .bind(quote.price().to_string())
            .bind(source.to_owned())
            .bind(ms(quote.observed_at())?)
            .execute(&self.pool)
            .await?;
        self.market_changed();
        Ok(())
    }

    /// The market price of `currency`, if one was set.
    pub async fn market_price(&self, currency: CurrencyCode) -> Result<Option<Quote>, StoreError> {
        let row = sqlx::query_as::<_, QuoteColumns>(
            "SELECT currency, price, observed_at_ms FROM market_prices WHERE currency = ?",
        )
        .bind(currency.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Quote::try_from).transpose()
    }

    /// Every market price set, by currency.
    pub async fn market_prices(&self) -> Result<Vec<Quote>, StoreError> {
        let rows = sqlx::query_as::<_, QuoteColumns>(
            "SELECT currency, price, observed_at_ms FROM market_prices ORDER BY currency LIMIT ?",
        )
        .bind(i64::try_from(MAX_LISTED_PRICES).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Quote::try_from).collect()
    }
}
