//! Market prices set by admins, one row per currency.

use pupero_core::fiat::SUPPORTED_CURRENCIES;
use pupero_core::{CurrencyCode, Price, Quote, Timestamp};
use pupero_ledger::Engine;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, ms};

/// The `source` of a price an admin set.
pub const PRICE_SOURCE_ADMIN: &str = "admin";

/// At most one row per supported currency exists, so a listing never needs more.
const MAX_LISTED_PRICES: usize = SUPPORTED_CURRENCIES.len();

fn quote_from_row(row: &AnyRow) -> Result<Quote, StoreError> {
    let currency: String = row.try_get("currency")?;
    let price: String = row.try_get("price")?;
    let observed_at_ms: i64 = row.try_get("observed_at_ms")?;
    Ok(Quote::new(
        CurrencyCode::parse(&currency).map_err(|_| StoreError::Corrupt("market price currency"))?,
        Price::parse(&price).map_err(|_| StoreError::Corrupt("market price"))?,
        Timestamp::try_from(observed_at_ms)
            .map_err(|_| StoreError::Corrupt("market price observed_at_ms"))?,
    ))
}

impl Store {
    /// Records `quote` as the market price of its currency, replacing the previous one.
    pub async fn set_market_price(&self, quote: &Quote, source: &str) -> Result<(), StoreError> {
        // Whole statements per engine: the upsert clauses differ, and static text needs no
        // audit for injection.
        let sql = match self.engine {
            Engine::Sqlite => {
                "INSERT INTO market_prices (currency, price, source, observed_at_ms) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (currency) DO UPDATE SET \
                 price = excluded.price, source = excluded.source, \
                 observed_at_ms = excluded.observed_at_ms"
            }
            Engine::MySql => {
                "INSERT INTO market_prices (currency, price, source, observed_at_ms) \
                 VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE price = VALUES(price), \
                 source = VALUES(source), observed_at_ms = VALUES(observed_at_ms)"
            }
        };
        sqlx::query(sql)
            .bind(quote.currency().to_string())
            .bind(quote.price().to_string())
            .bind(source.to_owned())
            .bind(ms(quote.observed_at())?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The market price of `currency`, if one was set.
    pub async fn market_price(&self, currency: CurrencyCode) -> Result<Option<Quote>, StoreError> {
        let row = sqlx::query(
            "SELECT currency, price, observed_at_ms FROM market_prices WHERE currency = ?",
        )
        .bind(currency.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(quote_from_row).transpose()
    }

    /// Every market price set, by currency.
    pub async fn market_prices(&self) -> Result<Vec<Quote>, StoreError> {
        let rows = sqlx::query(
            "SELECT currency, price, observed_at_ms FROM market_prices ORDER BY currency LIMIT ?",
        )
        .bind(i64::try_from(MAX_LISTED_PRICES).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(quote_from_row).collect()
    }
}
