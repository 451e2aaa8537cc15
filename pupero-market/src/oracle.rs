//! Adapters of the [`PriceOracle`] port: prices set by admins ([`StoredPrices`]), an HTTP JSON
//! source with a cache ([`HttpJsonOracle`]), and the two combined ([`MarketPrices`]), which is
//! what the server uses.
//!
//! Freshness is never decided here: every adapter returns its latest quote with the instant it
//! was observed, and `pupero_core::price::effective_price` applies the age limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pupero_core::{Clock, CurrencyCode, Price, PriceOracle, Quote, Timestamp};
use serde_json::Value;

use pupero_core::UserId;

use crate::audit::{AuditEntry, AuditEvent};
use crate::error::Error;
use crate::store::{PRICE_SOURCE_ADMIN, Store, StoreError};

/// How long a fetched price (or a failed fetch) is reused before the source is asked again. A
/// minute follows the market closely enough and keeps far below public APIs' rate limits.
pub const PRICE_CACHE_TTL_SECS: u64 = 60;

/// The longest a price request may take, connection included. Requests run while a caller
/// waits, so a hung source must not hold them long.
pub const PRICE_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest price response read. A price document is a few hundred bytes; a whole-market
/// ticker a few dozen kilobytes.
pub const MAX_PRICE_RESPONSE_BYTES: usize = 256 * 1024;

/// Significant digits a JSON number may have and still be read exactly. JSON numbers are read
/// as `f64` (the `arbitrary_precision` feature of `serde_json` would change number handling for
/// every crate in the build); any decimal of at most 15 significant digits survives the round
/// trip through `f64` and its shortest printed form unchanged, so such numbers are exact. Longer
/// ones may not be and are refused: such a source must send prices as JSON strings.
const MAX_EXACT_FLOAT_DIGITS: usize = 15;

/// Why a price could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The stored prices could not be read.
    #[error("reading stored prices failed")]
    Store(#[from] StoreError),
    /// The source did not answer.
    #[error("price request failed")]
    Request(#[from] reqwest::Error),
    /// The source answered with an error status.
    #[error("price source answered HTTP {0}")]
    Status(u16),
    /// The answer is larger than [`MAX_PRICE_RESPONSE_BYTES`].
    #[error("price response is too large")]
    TooLarge,
    /// The answer is not JSON.
    #[error("price response is not JSON")]
    Json(#[from] serde_json::Error),
    /// The field is missing or not an exact decimal price.
    #[error("price field {field:?}: {reason}")]
    Field {
        /// The field path, with the currency filled in.
        field: String,
        /// Why it is not a price.
        reason: &'static str,
    },
}

/// Prices set by admins, one per currency, as stored.
#[derive(Debug, Clone)]
pub struct StoredPrices {
    store: Store,
}

impl StoredPrices {
    /// The prices in `store`.
    pub fn new(store: Store) -> StoredPrices {
        StoredPrices { store }
    }
}

#[async_trait]
impl PriceOracle for StoredPrices {
    type Error = OracleError;

    async fn quote(&self, currency: CurrencyCode) -> Result<Option<Quote>, OracleError> {
        Ok(self.store.market_price(currency).await?)
    }
}

/// Where an HTTP JSON source keeps its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSource {
    /// The URL; `{currency}` and `{currency_lower}` are replaced by the currency code. Without
    /// them every currency is read from the same document.
    pub url: String,
    /// A JSON pointer (starting with `/`) or a dotted path to the price, with the same
    /// placeholders; empty for the whole document.
    pub field: String,
}

/// What the cache holds for one currency.
#[derive(Debug, Default)]
struct CacheEntry {
    /// The last price read successfully.
    last_good: Option<Quote>,
    /// When the source was last asked, successfully or not.
    asked_at: Option<Timestamp>,
}

/// A price per currency read from an HTTP JSON source, cached for [`PRICE_CACHE_TTL_SECS`].
///
/// A quote is observed when it is fetched, by the injected clock. A failed fetch is logged and
/// the last good quote is kept, so its age alone decides when margin offers stop trading; the
/// source is not asked again before the cache time is over, failure or not.
pub struct HttpJsonOracle {
    source: HttpSource,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// One entry per supported currency at most; each behind its own lock so that concurrent
    /// callers of one currency wait for one request rather than sending their own.
    cache: Mutex<HashMap<CurrencyCode, Arc<tokio::sync::Mutex<CacheEntry>>>>,
}

impl std::fmt::Debug for HttpJsonOracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpJsonOracle")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl HttpJsonOracle {
    /// An oracle reading `source`, with time from `clock`.
    pub fn new(source: HttpSource, clock: Arc<dyn Clock>) -> Result<HttpJsonOracle, OracleError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(PRICE_REQUEST_TIMEOUT)
            .connect_timeout(PRICE_REQUEST_TIMEOUT)
            .build()?;
        Ok(HttpJsonOracle {
            source,
            client,
            clock,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The last good quotes in the cache, without asking the source.
    pub fn cached(&self) -> Vec<Quote> {
        let entries: Vec<_> = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        entries
            .iter()
            .filter_map(|entry| entry.try_lock().ok().and_then(|e| e.last_good))
            .collect()
    }

    fn entry(&self, currency: CurrencyCode) -> Arc<tokio::sync::Mutex<CacheEntry>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(currency)
            .or_default()
            .clone()
    }

    async fn fetch(&self, currency: CurrencyCode) -> Result<Price, OracleError> {
        let url = fill(&self.source.url, currency);
        let mut response = self.client.get(&url).send().await?;
        if !response.status().is_success() {
            return Err(OracleError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_PRICE_RESPONSE_BYTES {
                return Err(OracleError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let document: Value = serde_json::from_slice(&body)?;
        let field = fill(&self.source.field, currency);
        let reason = |reason| OracleError::Field {
            field: field.clone(),
            reason,
        };
        let value = extract(&document, &field).ok_or_else(|| reason("missing"))?;
        price_from_json(value).map_err(reason)
    }
}

#[async_trait]
impl PriceOracle for HttpJsonOracle {
    type Error = OracleError;

    /// The cached quote while the cache time lasts; then a new one from the source. When the
    /// source fails, the last good quote (if any) is returned and the failure logged; only
    /// without any good quote is the failure returned.
    async fn quote(&self, currency: CurrencyCode) -> Result<Option<Quote>, OracleError> {
        let entry = self.entry(currency);
        let mut entry = entry.lock().await;
        let now = self.clock.now();
        if entry
            .asked_at
            .is_some_and(|asked| now < asked.plus_secs(PRICE_CACHE_TTL_SECS) && now >= asked)
        {
            return Ok(entry.last_good);
        }
        entry.asked_at = Some(now);
        match self.fetch(currency).await {
            Ok(price) => {
                let quote = Quote::new(currency, price, now);
                entry.last_good = Some(quote);
                Ok(Some(quote))
            }
            Err(e) if entry.last_good.is_some() => {
                tracing::warn!(currency = currency.as_str(), error = %crate::error::chain(&e), "price source failed; keeping the last price");
                Ok(entry.last_good)
            }
            Err(e) => Err(e),
        }
    }
}

/// The market prices the server uses: the HTTP source when one is configured, and the prices
/// admins set.
///
/// Of the two quotes of a currency, the newer wins, and the admin's on a tie. So an admin can
/// correct a broken or missing feed at once, and the feed takes over again with its next fetch
/// after the correction. A failing source without any good quote is logged and treated as
/// having none.
#[derive(Debug)]
pub struct MarketPrices {
    stored: StoredPrices,
    http: Option<HttpJsonOracle>,
}

impl MarketPrices {
    /// Admin-set prices from `store`, and `http` when configured.
    pub fn new(store: Store, http: Option<HttpJsonOracle>) -> MarketPrices {
        MarketPrices {
            stored: StoredPrices::new(store),
            http,
        }
    }

    /// Every quote known without asking the HTTP source: admin-set prices and the source's
    /// cached ones (the newer per currency), by currency.
    pub async fn known(&self) -> Result<Vec<Quote>, OracleError> {
        let mut by_currency: std::collections::BTreeMap<CurrencyCode, Quote> = self
            .stored
            .store
            .market_prices()
            .await?
            .into_iter()
            .map(|q| (q.currency(), q))
            .collect();
        for quote in self.http.iter().flat_map(HttpJsonOracle::cached) {
            let newer = by_currency
                .get(&quote.currency())
                .is_none_or(|admin| quote.observed_at() > admin.observed_at());
            if newer {
                by_currency.insert(quote.currency(), quote);
            }
        }
        Ok(by_currency.into_values().collect())
    }
}

#[async_trait]
impl PriceOracle for MarketPrices {
    type Error = OracleError;

    async fn quote(&self, currency: CurrencyCode) -> Result<Option<Quote>, OracleError> {
        let admin = self.stored.quote(currency).await?;
        let fetched = match &self.http {
            Some(http) => match http.quote(currency).await {
                Ok(quote) => quote,
                Err(e) => {
                    tracing::warn!(currency = currency.as_str(), error = %crate::error::chain(&e), "price source failed");
                    None
                }
            },
            None => None,
        };
        Ok(match (admin, fetched) {
            (Some(admin), Some(fetched)) if fetched.observed_at() > admin.observed_at() => {
                Some(fetched)
            }
            (admin, fetched) => admin.or(fetched),
        })
    }
}

/// A market price as the market shows it: the quote, and whether it is recent enough for
/// offers priced by a margin over the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPrice {
    /// The quote.
    pub quote: Quote,
    /// Whether margin offers may trade on it now.
    pub fresh: bool,
}

impl crate::Market {
    /// Every known market price: those set by admins and those recently read from the price
    /// source, the newer of the two per currency.
    pub async fn market_prices(&self) -> Result<Vec<KnownPrice>, Error> {
        // The combined oracle fails only when the database does (a failing HTTP source is
        // logged and skipped), so this is an internal error.
        let quotes = self.prices.known().await.map_err(|e| Error::internal(&e))?;
        Ok(quotes.into_iter().map(|q| self.known_price(q)).collect())
    }

    /// The market price of `currency`; not found when there is none.
    pub async fn market_price(&self, currency: CurrencyCode) -> Result<KnownPrice, Error> {
        let quote = self
            .prices
            .quote(currency)
            .await
            .map_err(|e| Error::internal(&e))?
            .ok_or_else(|| Error::not_found("no market price for this currency"))?;
        Ok(self.known_price(quote))
    }

    /// Sets the market price of `currency` to `price`, observed now, as the admin `admin`
    /// (audited). It replaces the price source's until the source's next newer quote.
    pub async fn set_market_price(
        &self,
        admin: UserId,
        currency: CurrencyCode,
        price: Price,
        client_ip: Option<String>,
    ) -> Result<(), Error> {
        let quote = Quote::new(currency, price, self.now());
        self.store
            .set_market_price(&quote, PRICE_SOURCE_ADMIN)
            .await?;
        self.audit(
            AuditEntry::of(AuditEvent::PriceSet, Some(admin))
                .from_ip(client_ip)
                .detail(format!("{currency}={price}")),
        )
        .await;
        Ok(())
    }

    fn known_price(&self, quote: Quote) -> KnownPrice {
        KnownPrice {
            fresh: quote.is_fresh(self.now(), self.settings.price_max_age_secs),
            quote,
        }
    }
}

/// `template` with `{currency}` and `{currency_lower}` replaced by `currency`.
fn fill(template: &str, currency: CurrencyCode) -> String {
    template
        .replace("{currency_lower}", &currency.as_str().to_ascii_lowercase())
        .replace("{currency}", currency.as_str())
}

/// The value at `path` in `document`: a JSON pointer when it starts with `/`, else a dotted path
/// whose segments are object keys or array indexes; empty for the document itself.
fn extract<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(document);
    }
    if path.starts_with('/') {
        return document.pointer(path);
    }
    path.split('.')
        .try_fold(document, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
            _ => None,
        })
}

/// A price from a JSON string (exact decimal text) or number (exact up to
/// [`MAX_EXACT_FLOAT_DIGITS`] significant digits; never rounded into a price).
fn price_from_json(value: &Value) -> Result<Price, &'static str> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => {
            let text = n.to_string();
            let digits = text
                .bytes()
                .take_while(|b| *b != b'e' && *b != b'E')
                .filter(u8::is_ascii_digit)
                .skip_while(|b| *b == b'0')
                .count();
            if digits > MAX_EXACT_FLOAT_DIGITS {
                return Err("number too precise to read exactly; send it as a string");
            }
            text
        }
        _ => return Err("not a number or a decimal string"),
    };
    Price::parse(&text).map_err(|_| "not a valid price")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> CurrencyCode {
        CurrencyCode::parse("EUR").unwrap()
    }

    #[test]
    fn placeholders_take_the_currency() {
        assert_eq!(
            fill("http://x/price?fiat={currency}&c={currency_lower}", eur()),
            "http://x/price?fiat=EUR&c=eur"
        );
        assert_eq!(fill("/monero/{currency_lower}", eur()), "/monero/eur");
        assert_eq!(fill("http://x/all", eur()), "http://x/all");
    }

    #[test]
    fn fields_are_pointers_or_dotted_paths() {
        let doc = serde_json::json!({
            "monero": {"eur": 150.25, "usd": "160.5"},
            "data": [{"rate": "1"}, {"rate": "2"}],
            "a/b": {"c": 3}
        });
        let check = |path: &str, expected: Option<Value>| {
            assert_eq!(extract(&doc, path).cloned(), expected, "{path}");
        };
        check("/monero/eur", Some(serde_json::json!(150.25)));
        check("monero.usd", Some(serde_json::json!("160.5")));
        check("data.1.rate", Some(serde_json::json!("2")));
        check("/data/0/rate", Some(serde_json::json!("1")));
        check("/a~1b/c", Some(serde_json::json!(3)));
        check("", Some(doc.clone()));
        check("monero.gbp", None);
        check("data.x", None);
        check("data.5.rate", None);
        check("monero.eur.deeper", None);
        check("/monero/gbp", None);
    }

    #[test]
    fn prices_are_read_exactly_or_refused() {
        let check = |value: Value, expected: Result<&str, ()>| {
            assert_eq!(
                price_from_json(&value)
                    .map(|p| p.to_string())
                    .map_err(|_| ()),
                expected.map(str::to_owned),
                "{value}"
            );
        };
        check(serde_json::json!("150.25"), Ok("150.25"));
        check(serde_json::json!("0.00000001"), Ok("0.00000001"));
        check(
            serde_json::json!("99999999999.99999999"),
            Ok("99999999999.99999999"),
        );
        check(serde_json::json!(150.25), Ok("150.25"));
        check(serde_json::json!(0.1), Ok("0.1"));
        check(serde_json::json!(160), Ok("160"));
        check(
            serde_json::json!(123_456_789.123_456),
            Ok("123456789.123456"),
        );
        // 17 significant digits cannot be trusted through f64.
        check(serde_json::json!(12_345_678_901.123_456), Err(()));
        check(serde_json::json!("1e3"), Err(()));
        check(serde_json::json!("-5"), Err(()));
        check(serde_json::json!(-5), Err(()));
        check(serde_json::json!("0.000000001"), Err(()));
        check(serde_json::json!(" 150"), Err(()));
        check(serde_json::json!(true), Err(()));
        check(serde_json::json!(null), Err(()));
        check(serde_json::json!({"price": "1"}), Err(()));
    }
}
