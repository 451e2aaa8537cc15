//! Market prices and the price an offer trades at.
//!
//! An offer is priced either at a fixed [`Price`] or at a [`MarginPercent`] over the market
//! ([`Pricing`]). The market price of a currency is a [`Quote`] from a [`PriceOracle`] (an
//! admin-set price, an HTTP source...). A quote older than the configured age is stale: a margin
//! offer has no price then ([`PriceUnavailable`]) and is hidden, while fixed offers trade on.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::fiat::{CurrencyCode, FiatAmount, MarginPercent, Price};
use crate::money::Piconero;

/// The market price of XMR in one currency, as observed at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quote {
    currency: CurrencyCode,
    price: Price,
    observed_at: Timestamp,
}

impl Quote {
    /// The quote `price` (fiat per XMR) in `currency`, as observed at `observed_at`.
    pub const fn new(currency: CurrencyCode, price: Price, observed_at: Timestamp) -> Quote {
        Quote {
            currency,
            price,
            observed_at,
        }
    }

    /// The currency the price is in.
    pub const fn currency(&self) -> CurrencyCode {
        self.currency
    }

    /// The market price, in fiat per XMR.
    pub const fn price(&self) -> Price {
        self.price
    }

    /// When the price was observed (by the source, or by the admin who set it).
    pub const fn observed_at(&self) -> Timestamp {
        self.observed_at
    }

    /// Whether the quote is at most `max_age_secs` old at `now`. A quote from the future (clock
    /// skew between the source and this machine) counts as fresh.
    pub fn is_fresh(&self, now: Timestamp, max_age_secs: u64) -> bool {
        now <= self.observed_at.plus_secs(max_age_secs)
    }
}

/// Where the market price of a currency comes from. Adapters: a price set by an admin per
/// currency, an HTTP JSON source with a cache.
#[async_trait]
pub trait PriceOracle: Send + Sync {
    /// The adapter's error: failures to reach or read the source. A source that simply has no
    /// price for the currency answers `Ok(None)`.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The latest known quote for `currency`, fresh or not: staleness is decided in core by
    /// [`effective_price`], so every adapter applies the same rule.
    async fn quote(&self, currency: CurrencyCode) -> Result<Option<Quote>, Self::Error>;
}

/// How an offer is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pricing {
    /// A fixed price in fiat per XMR, whatever the market does.
    Fixed(Price),
    /// The market price moved by a margin in percent (positive: above the market).
    Margin(MarginPercent),
}

impl Pricing {
    /// Whether the price follows the market, and so needs a fresh quote.
    pub const fn follows_market(&self) -> bool {
        matches!(self, Pricing::Margin(_))
    }
}

/// What an effective price was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceBasis {
    /// The offer's fixed price.
    Fixed,
    /// A market quote observed at this instant, moved by the offer's margin.
    Market {
        /// When the quote used was observed.
        observed_at: Timestamp,
    },
}

/// The price an offer trades at right now, in fiat per XMR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EffectivePrice {
    price: Price,
    basis: PriceBasis,
}

impl EffectivePrice {
    /// The price in fiat per XMR.
    pub const fn price(&self) -> Price {
        self.price
    }

    /// What the price was computed from.
    pub const fn basis(&self) -> PriceBasis {
        self.basis
    }

    /// The fiat value of `amount` at this price, rounded to the cent half up; see
    /// [`Price::fiat_for`].
    pub fn fiat_for(&self, amount: Piconero) -> Result<FiatAmount> {
        self.price.fiat_for(amount)
    }

    /// The XMR that `fiat` buys at this price, rounded down; see [`Price::piconero_for`].
    pub fn piconero_for(&self, fiat: FiatAmount) -> Result<Piconero> {
        self.price.piconero_for(fiat)
    }
}

/// Why an offer has no price right now. Such an offer is hidden from the market and cannot be
/// taken until a fresh quote arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PriceUnavailable {
    /// There is no market quote for the currency.
    #[error("no market price for the currency")]
    NoQuote,
    /// The latest market quote is older than the allowed age.
    #[error("the market price is stale")]
    Stale {
        /// When the stale quote was observed.
        observed_at: Timestamp,
    },
    /// The quote given is for another currency than the offer's.
    #[error("the market price is for another currency")]
    WrongCurrency,
    /// The market price moved by the margin is outside the allowed price range.
    #[error("the price with the margin is out of range")]
    OutOfRange,
}

/// The price an offer in `currency` priced by `pricing` trades at, at `now`.
///
/// A fixed price ignores the market. A margin needs a quote for `currency` at most
/// `max_age_secs` old; without one the offer has no price.
pub fn effective_price(
    pricing: &Pricing,
    currency: CurrencyCode,
    quote: Option<&Quote>,
    now: Timestamp,
    max_age_secs: u64,
) -> Result<EffectivePrice, PriceUnavailable> {
    match *pricing {
        Pricing::Fixed(price) => Ok(EffectivePrice {
            price,
            basis: PriceBasis::Fixed,
        }),
        Pricing::Margin(margin) => {
            let quote = quote.ok_or(PriceUnavailable::NoQuote)?;
            if quote.currency != currency {
                return Err(PriceUnavailable::WrongCurrency);
            }
            if !quote.is_fresh(now, max_age_secs) {
                return Err(PriceUnavailable::Stale {
                    observed_at: quote.observed_at,
                });
            }
            let price = quote
                .price
                .with_margin(margin)
                .map_err(|_| PriceUnavailable::OutOfRange)?;
            Ok(EffectivePrice {
                price,
                basis: PriceBasis::Market {
                    observed_at: quote.observed_at,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EUR: &str = "EUR";
    const MAX_AGE_SECS: u64 = 600;

    fn quote(currency: &str, price: &str, observed_at_secs: u64) -> Quote {
        Quote::new(
            CurrencyCode::parse(currency).unwrap(),
            Price::parse(price).unwrap(),
            Timestamp::EPOCH.plus_secs(observed_at_secs),
        )
    }

    fn fixed(p: &str) -> Pricing {
        Pricing::Fixed(Price::parse(p).unwrap())
    }

    fn margin(m: &str) -> Pricing {
        Pricing::Margin(MarginPercent::parse(m).unwrap())
    }

    /// The effective price of `pricing` in EUR at `now_secs`, as a string, or why there is none.
    fn check(
        pricing: Pricing,
        quote: Option<Quote>,
        now_secs: u64,
        expected: std::result::Result<&str, PriceUnavailable>,
    ) {
        let got = effective_price(
            &pricing,
            CurrencyCode::parse(EUR).unwrap(),
            quote.as_ref(),
            Timestamp::EPOCH.plus_secs(now_secs),
            MAX_AGE_SECS,
        )
        .map(|p| p.price().to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned),
            "{pricing:?} with {quote:?}"
        );
    }

    #[test]
    fn fixed_prices_ignore_the_market() {
        check(fixed("150.25"), None, 0, Ok("150.25"));
        check(
            fixed("150.25"),
            Some(quote(EUR, "100", 0)),
            10_000,
            Ok("150.25"),
        );
        check(
            fixed("150.25"),
            Some(quote("USD", "100", 0)),
            0,
            Ok("150.25"),
        );
    }

    #[test]
    fn margins_apply_to_a_fresh_quote() {
        let q = Some(quote(EUR, "200", 1_000));
        check(margin("0"), q, 1_000, Ok("200"));
        check(margin("2.5"), q, 1_000, Ok("205"));
        check(margin("-1.25"), q, 1_000, Ok("197.5"));
        check(margin("100"), q, 1_000, Ok("400"));
        check(margin("-50"), q, 1_000, Ok("100"));
        // Exactly max_age old is still fresh; a quote from the future too.
        check(margin("1"), q, 1_000 + MAX_AGE_SECS, Ok("202"));
        check(margin("1"), q, 0, Ok("202"));
        // Rounded half up to eight places.
        check(
            margin("0.01"),
            Some(quote(EUR, "0.00000050", 0)),
            0,
            Ok("0.0000005"),
        );
        check(
            margin("1.01"),
            Some(quote(EUR, "0.00000050", 0)),
            0,
            Ok("0.00000051"),
        );
    }

    #[test]
    fn margins_without_a_fresh_quote_have_no_price() {
        let observed_at = Timestamp::EPOCH.plus_secs(1_000);
        check(margin("1"), None, 0, Err(PriceUnavailable::NoQuote));
        check(
            margin("1"),
            Some(quote(EUR, "200", 1_000)),
            1_001 + MAX_AGE_SECS,
            Err(PriceUnavailable::Stale { observed_at }),
        );
        check(
            margin("1"),
            Some(quote("USD", "200", 1_000)),
            1_000,
            Err(PriceUnavailable::WrongCurrency),
        );
        check(
            margin("100"),
            Some(quote(EUR, "100000000000", 0)),
            0,
            Err(PriceUnavailable::OutOfRange),
        );
    }

    #[test]
    fn effective_prices_convert_amounts_exactly() {
        let p = effective_price(
            &margin("10"),
            CurrencyCode::parse(EUR).unwrap(),
            Some(&quote(EUR, "100", 0)),
            Timestamp::EPOCH,
            MAX_AGE_SECS,
        )
        .unwrap();
        assert_eq!(
            p.basis(),
            PriceBasis::Market {
                observed_at: Timestamp::EPOCH
            }
        );
        let half = Piconero::from_xmr_str("0.5").unwrap();
        assert_eq!(p.fiat_for(half).unwrap().to_string(), "55");
        let fiat = FiatAmount::parse("55").unwrap();
        assert_eq!(p.piconero_for(fiat).unwrap(), half);
        // 1 EUR at 110 EUR/XMR is 0.00909090909090... XMR, rounded down.
        let one = FiatAmount::parse("1").unwrap();
        assert_eq!(
            p.piconero_for(one).unwrap().to_xmr_string(),
            "0.00909090909"
        );
    }

    #[test]
    fn freshness_is_inclusive() {
        let q = quote(EUR, "1", 10);
        assert!(q.is_fresh(Timestamp::EPOCH.plus_secs(10), 0));
        assert!(!q.is_fresh(Timestamp::EPOCH.plus_ms(10_001), 0));
        assert!(q.is_fresh(Timestamp::EPOCH.plus_secs(70), 60));
        assert!(!q.is_fresh(Timestamp::EPOCH.plus_secs(71), 60));
    }
}
