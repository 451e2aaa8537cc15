//! Exact fiat amounts, prices and margins.
//!
//! Every value here is a [`Decimal`] with a bounded number of fractional digits and a bounded
//! magnitude, parsed from a strict decimal string and printed back in a canonical form (trailing
//! fractional zeros trimmed, as [`Piconero`] does). Nothing is ever a float.
//!
//! Conversions between XMR and fiat run on the decimals' integer mantissas in `u128` with
//! checked arithmetic. That is exact: `Decimal`'s own multiplication silently rounds once a
//! product outgrows its 96-bit mantissa, and its division rounds at 28 digits, either of which
//! could move a result across a rounding boundary.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::money::Piconero;

/// Fractional digits a [`FiatAmount`] may have. The same for every currency, to keep things
/// simple: currencies with fewer minor units (JPY, KRW, CLP, ...) just use fewer.
pub const FIAT_MAX_DECIMALS: u32 = 2;

/// The largest [`FiatAmount`], in whole currency units. One trillion covers any single trade in
/// any listed currency, including those with the smallest units (VND, IDR); more is a typo.
pub const FIAT_AMOUNT_MAX: u64 = 1_000_000_000_000;

/// Fractional digits a [`Price`] may have: enough for a price in BTC-like units or a tiny
/// currency unit without losing precision that matters.
pub const PRICE_MAX_DECIMALS: u32 = 8;

/// The largest [`Price`], in fiat per XMR. About 2,500 times the 2024 price of XMR in VND, the
/// smallest listed currency unit; a larger price is a typo. It also keeps price × piconero
/// (at most 10^19 × 1.8·10^19 in the smallest units) inside `u128`.
pub const PRICE_MAX: u64 = 100_000_000_000;

/// Fractional digits a [`MarginPercent`] may have (hundredths of a percent).
pub const MARGIN_MAX_DECIMALS: u32 = 2;

/// The lowest margin, in percent: selling at half the market price is already a mistake.
pub const MARGIN_PERCENT_MIN: i64 = -50;

/// The highest margin, in percent: twice the market price.
pub const MARGIN_PERCENT_MAX: i64 = 100;

/// The longest decimal string parsed here. `"1000000000000.00"` is 16 characters; the rest
/// allows leading zeros, while anything longer is garbage or an attack on the parser.
pub(crate) const MAX_DECIMAL_STRING_LEN: usize = 32;

/// Decimal digits of a piconero in XMR: piconero is XMR at scale 12 (see
/// [`crate::money::XMR_DECIMALS`]).
const XMR_SCALE: u32 = 12;

/// Price units (10^-8 fiat per XMR) times piconero (10^-12 XMR) are 10^-20 fiat; this many of
/// them make one hundredth of fiat, the [`FiatAmount`] unit.
const PRICE_TIMES_PICONERO_PER_FIAT_UNIT: u128 =
    10u128.pow(PRICE_MAX_DECIMALS + XMR_SCALE - FIAT_MAX_DECIMALS);

/// A margin of zero in hundredths of a percent is this factor's numerator over itself.
const MARGIN_FACTOR_ONE: u128 = 100 * 10u128.pow(MARGIN_MAX_DECIMALS);

/// The ISO 4217 codes [`CurrencyCode::parse`] accepts, sorted. Common fiat currencies only:
/// no precious metals, testing or fund codes.
pub const SUPPORTED_CURRENCIES: [&str; 42] = [
    "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EGP",
    "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "JPY", "KES", "KRW", "MXN", "MYR", "NGN",
    "NOK", "NZD", "PEN", "PHP", "PLN", "RON", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "UAH",
    "USD", "VND", "ZAR",
];

/// An ISO 4217 alphabetic currency code from [`SUPPORTED_CURRENCIES`], such as `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CurrencyCode(&'static str);

impl CurrencyCode {
    /// Parses exactly three ASCII uppercase letters naming a supported currency. Lowercase,
    /// whitespace and unknown codes are refused; callers normalise case before, if they want to.
    pub fn parse(s: &str) -> Result<CurrencyCode> {
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::InvalidDecimal(
                "currency code must be three uppercase letters",
            ));
        }
        SUPPORTED_CURRENCIES
            .binary_search(&s)
            .map(|i| CurrencyCode(SUPPORTED_CURRENCIES[i]))
            .map_err(|_| Error::InvalidDecimal("unsupported currency code"))
    }

    /// The three-letter code.
    pub const fn as_str(&self) -> &'static str {
        self.0
    }

    /// Digits of the currency's minor unit (ISO 4217): none for the peso of Chile, the yen,
    /// the won and the dong, two for every other supported currency. Fiat amounts of a trade
    /// are rounded to it and shown with exactly this many decimals.
    pub fn minor_digits(&self) -> u32 {
        match self.0 {
            "CLP" | "JPY" | "KRW" | "VND" => 0,
            _ => FIAT_MAX_DECIMALS,
        }
    }
}

/// Prints the three-letter code.
impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Parses with [`CurrencyCode::parse`].
impl FromStr for CurrencyCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CurrencyCode::parse(s)
    }
}

/// An exact, non-negative fiat amount with at most [`FIAT_MAX_DECIMALS`] fractional digits and
/// at most [`FIAT_AMOUNT_MAX`]. The currency is kept next to it by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiatAmount(Decimal);

impl FiatAmount {
    /// Zero.
    pub const ZERO: FiatAmount = FiatAmount(Decimal::ZERO);

    /// The amount as people read it in `currency`: exactly the currency's minor-unit digits
    /// (`"180.30"` euros, `"2500"` yen), never rounded (an amount of a trade already is).
    pub fn display_in(&self, currency: CurrencyCode) -> String {
        let digits = usize::try_from(currency.minor_digits()).unwrap_or(2);
        debug_assert!(self.0.scale() <= currency.minor_digits() || self.0.fract().is_zero());
        format!("{:.digits$}", self.0)
    }

    /// Parses a decimal string such as `"12.5"`, `"0.01"` or `"100"`.
    ///
    /// Accepts ASCII digits with at most one `.` and at most two fractional digits. Rejects
    /// signs, exponents, `NaN`, whitespace, separators, empty parts (`"."`, `"1."`, `".5"`) and
    /// amounts above [`FIAT_AMOUNT_MAX`].
    pub fn parse(s: &str) -> Result<FiatAmount> {
        FiatAmount::from_decimal(parse_decimal(s, FIAT_MAX_DECIMALS, Sign::Unsigned)?)
    }

    /// The amount `d`, if it is non-negative, has at most two fractional digits once trailing
    /// zeros are dropped, and is at most [`FIAT_AMOUNT_MAX`].
    pub fn from_decimal(d: Decimal) -> Result<FiatAmount> {
        let d = d.normalize();
        if d.is_sign_negative() {
            return Err(Error::InvalidDecimal("fiat amount is negative"));
        }
        if d.scale() > FIAT_MAX_DECIMALS {
            return Err(Error::InvalidDecimal(
                "fiat amount has more than 2 decimal places",
            ));
        }
        if d > Decimal::from(FIAT_AMOUNT_MAX) {
            return Err(Error::InvalidDecimal("fiat amount too large"));
        }
        Ok(FiatAmount(d))
    }

    /// The exact amount.
    pub const fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

/// An exact price in fiat per 1 XMR: strictly positive, at most [`PRICE_MAX_DECIMALS`]
/// fractional digits and at most [`PRICE_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Decimal);

impl Price {
    /// Parses a decimal string such as `"150.25"` with the same rules as [`FiatAmount::parse`],
    /// except that up to eight fractional digits are allowed and zero is refused.
    pub fn parse(s: &str) -> Result<Price> {
        Price::from_decimal(parse_decimal(s, PRICE_MAX_DECIMALS, Sign::Unsigned)?)
    }

    /// The price `d`, if it is positive, has at most eight fractional digits once trailing zeros
    /// are dropped, and is at most [`PRICE_MAX`].
    pub fn from_decimal(d: Decimal) -> Result<Price> {
        let d = d.normalize();
        if d.is_sign_negative() || d.is_zero() {
            return Err(Error::InvalidDecimal("price must be positive"));
        }
        if d.scale() > PRICE_MAX_DECIMALS {
            return Err(Error::InvalidDecimal(
                "price has more than 8 decimal places",
            ));
        }
        if d > Decimal::from(PRICE_MAX) {
            return Err(Error::InvalidDecimal("price too large"));
        }
        Ok(Price(d))
    }

    /// The exact price in fiat per XMR.
    pub const fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// The fiat value of `amount` at this price, rounded to the cent **half up** (0.005 → 0.01).
    ///
    /// This is for showing what an XMR amount costs. It can be up to half a cent above the exact
    /// value, so a trade fixed by its fiat amount should compute the XMR with
    /// [`Price::piconero_for`], which never rounds in the buyer's favour. Fails when the result is
    /// above [`FIAT_AMOUNT_MAX`].
    pub fn fiat_for(&self, amount: Piconero) -> Result<FiatAmount> {
        let price = to_units(self.0, PRICE_MAX_DECIMALS)?;
        let exact = price
            .checked_mul(u128::from(amount.as_u64()))
            .ok_or(Error::InvalidDecimal("fiat amount too large"))?;
        let hundredths = div_round_half_up(exact, PRICE_TIMES_PICONERO_PER_FIAT_UNIT)?;
        FiatAmount::from_decimal(from_units(hundredths, FIAT_MAX_DECIMALS)?)
    }

    /// The fiat value of `amount` at this price in `currency`, rounded **half up** to the
    /// currency's minor unit ([`CurrencyCode::minor_digits`]): what a buyer pays for it.
    pub fn fiat_in(&self, amount: Piconero, currency: CurrencyCode) -> Result<FiatAmount> {
        let digits = currency.minor_digits();
        debug_assert!(digits <= FIAT_MAX_DECIMALS);
        let price = to_units(self.0, PRICE_MAX_DECIMALS)?;
        let exact = price
            .checked_mul(u128::from(amount.as_u64()))
            .ok_or(Error::InvalidDecimal("fiat amount too large"))?;
        let per_minor_unit = 10u128
            .checked_pow(FIAT_MAX_DECIMALS - digits)
            .and_then(|f| f.checked_mul(PRICE_TIMES_PICONERO_PER_FIAT_UNIT))
            .ok_or(Error::InvalidDecimal("fiat amount too large"))?;
        let minor_units = div_round_half_up(exact, per_minor_unit)?;
        FiatAmount::from_decimal(from_units(minor_units, digits)?)
    }

    /// The XMR that `fiat` buys at this price, rounded **down** to whole piconero: the buyer
    /// never gets more XMR than paid for, and one more piconero would cost more than `fiat`.
    pub fn piconero_for(&self, fiat: FiatAmount) -> Result<Piconero> {
        let price = to_units(self.0, PRICE_MAX_DECIMALS)?;
        debug_assert!(price > 0, "a price is positive");
        let fiat = to_units(fiat.0, FIAT_MAX_DECIMALS)?;
        // fiat·10^-2 / (price·10^-8) XMR = fiat·10^18 / price piconero.
        let piconero = fiat
            .checked_mul(PRICE_TIMES_PICONERO_PER_FIAT_UNIT)
            .and_then(|numerator| numerator.checked_div(price))
            .ok_or(Error::InvalidDecimal("XMR amount too large"))?;
        u64::try_from(piconero)
            .map(Piconero::new)
            .map_err(|_| Error::InvalidDecimal("XMR amount too large"))
    }

    /// This price moved by `margin`: price × (1 + margin / 100), rounded to eight fractional
    /// digits **half up**. Fails if the result is above [`PRICE_MAX`]; it is always positive,
    /// because the lowest margin halves the price and half of the smallest price rounds up.
    pub fn with_margin(&self, margin: MarginPercent) -> Result<Price> {
        let price = to_units(self.0, PRICE_MAX_DECIMALS)?;
        let margin_abs = to_units(margin.0.abs(), MARGIN_MAX_DECIMALS)?;
        let factor = if margin.0.is_sign_negative() {
            MARGIN_FACTOR_ONE.checked_sub(margin_abs)
        } else {
            MARGIN_FACTOR_ONE.checked_add(margin_abs)
        }
        .ok_or(Error::InvalidDecimal("margin out of range"))?;
        let moved = price
            .checked_mul(factor)
            .ok_or(Error::InvalidDecimal("price too large"))?;
        let rounded = div_round_half_up(moved, MARGIN_FACTOR_ONE)?;
        Price::from_decimal(from_units(rounded, PRICE_MAX_DECIMALS)?)
    }
}

/// A margin over the market price in percent, such as `2.5` or `-1`: between
/// [`MARGIN_PERCENT_MIN`] and [`MARGIN_PERCENT_MAX`] inclusive, with at most
/// [`MARGIN_MAX_DECIMALS`] fractional digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarginPercent(Decimal);

impl MarginPercent {
    /// No margin: the market price.
    pub const ZERO: MarginPercent = MarginPercent(Decimal::ZERO);

    /// Parses a decimal percent such as `"2.5"`, `"-1"` or `"0"`: an optional leading `-`, then
    /// the same rules as [`FiatAmount::parse`]. A leading `+` is refused; `"-0"` is zero.
    pub fn parse(s: &str) -> Result<MarginPercent> {
        MarginPercent::from_decimal(parse_decimal(s, MARGIN_MAX_DECIMALS, Sign::Signed)?)
    }

    /// The margin `d` percent, if it has at most two fractional digits once trailing zeros are
    /// dropped and lies within the bounds.
    pub fn from_decimal(d: Decimal) -> Result<MarginPercent> {
        let d = d.normalize();
        if d.scale() > MARGIN_MAX_DECIMALS {
            return Err(Error::InvalidDecimal(
                "margin has more than 2 decimal places",
            ));
        }
        if d < Decimal::from(MARGIN_PERCENT_MIN) || d > Decimal::from(MARGIN_PERCENT_MAX) {
            return Err(Error::InvalidDecimal("margin out of range"));
        }
        Ok(MarginPercent(d))
    }

    /// The margin in percent.
    pub const fn as_decimal(&self) -> Decimal {
        self.0
    }
}

/// Whether a leading `-` is allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    Unsigned,
    Signed,
}

/// Parses `[-]digits[.digits]` with at most `max_decimals` fractional digits. The syntax is
/// checked here rather than by `Decimal::from_str`, which also accepts `+`, `_`, `"1."` and
/// `".5"`. Bounds are left to the caller.
fn parse_decimal(s: &str, max_decimals: u32, sign: Sign) -> Result<Decimal> {
    if s.is_empty() {
        return Err(Error::InvalidDecimal("empty"));
    }
    if s.len() > MAX_DECIMAL_STRING_LEN {
        return Err(Error::InvalidDecimal("too long"));
    }
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(_) if sign == Sign::Unsigned => {
            return Err(Error::InvalidDecimal("must not be negative"));
        }
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (unsigned, ""),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) {
        return Err(Error::InvalidDecimal(
            "expected digits before the decimal point",
        ));
    }
    if unsigned.contains('.') && !all_digits(fraction) {
        return Err(Error::InvalidDecimal(
            "expected digits after the decimal point",
        ));
    }
    let scale = u32::try_from(fraction.len())
        .ok()
        .filter(|&n| n <= max_decimals)
        .ok_or(Error::InvalidDecimal("too many decimal places"))?;
    let mut units: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        // At most MAX_DECIMAL_STRING_LEN digits, below 10^32, so this cannot overflow `i128`.
        units = units * 10 + i128::from(b - b'0');
    }
    let units = if negative { -units } else { units };
    Decimal::try_from_i128_with_scale(units, scale)
        .map(|d| d.normalize())
        .map_err(|_| Error::InvalidDecimal("too large"))
}

/// `d` as a whole number of 10^-`scale` units. `d` must be non-negative with at most `scale`
/// fractional digits, which the types' invariants guarantee.
fn to_units(d: Decimal, scale: u32) -> Result<u128> {
    let extra = scale
        .checked_sub(d.scale())
        .ok_or(Error::InvalidDecimal("too many decimal places"))?;
    let mantissa = u128::try_from(d.mantissa()).map_err(|_| Error::InvalidDecimal("negative"))?;
    10u128
        .checked_pow(extra)
        .and_then(|factor| mantissa.checked_mul(factor))
        .ok_or(Error::InvalidDecimal("too large"))
}

/// `units` 10^-`scale` units as a normalized decimal.
fn from_units(units: u128, scale: u32) -> Result<Decimal> {
    i128::try_from(units)
        .ok()
        .and_then(|n| Decimal::try_from_i128_with_scale(n, scale).ok())
        .map(|d| d.normalize())
        .ok_or(Error::InvalidDecimal("too large"))
}

/// `n / d` rounded to the nearest integer, halves rounded up.
fn div_round_half_up(n: u128, d: u128) -> Result<u128> {
    let quotient = n
        .checked_div(d)
        .ok_or(Error::InvalidDecimal("division by zero"))?;
    let remainder = n % d;
    // `remainder >= d - remainder` is `2 * remainder >= d` without overflowing.
    if remainder >= d - remainder {
        quotient
            .checked_add(1)
            .ok_or(Error::InvalidDecimal("too large"))
    } else {
        Ok(quotient)
    }
}

macro_rules! decimal_string_impls {
    ($name:ident, $what:literal) => {
        #[doc = concat!("Prints the exact ", $what, ", trailing fractional zeros trimmed (`\"12.5\"`, `\"100\"`).")]
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        #[doc = concat!("Parses with [`", stringify!($name), "::parse`].")]
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s)
            }
        }
    };
}

decimal_string_impls!(FiatAmount, "amount");
decimal_string_impls!(Price, "price");
decimal_string_impls!(MarginPercent, "percentage");

/// Serde as strings, through `Display` and `parse`, so JSON clients never see a float and
/// numbers are refused.
macro_rules! serde_as_string {
    ($($name:ident),+) => {$(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )+};
}

serde_as_string!(CurrencyCode, FiatAmount, Price, MarginPercent);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiat_is_rounded_and_shown_in_the_currency_s_minor_unit() {
        let code = |c: &str| CurrencyCode::parse(c).unwrap();
        let xmr = |s: &str| Piconero::from_xmr_str(s).unwrap();
        let check = |price: &str, amount: &str, currency: &str, shown: &str| {
            let fiat = Price::parse(price)
                .unwrap()
                .fiat_in(xmr(amount), code(currency))
                .unwrap();
            assert_eq!(
                fiat.display_in(code(currency)),
                shown,
                "{amount} at {price} {currency}"
            );
        };
        check("150.25", "1.2", "EUR", "180.30");
        check("150", "1", "EUR", "150.00");
        check("150", "0.000033333", "EUR", "0.00");
        check("150", "0.00003334", "EUR", "0.01");
        check("24000.37", "1", "JPY", "24000");
        check("24000.5", "1", "JPY", "24001");
        check("24000", "0.00002", "JPY", "0");
        check("24000", "0.000021", "JPY", "1");
        check("5000000", "0.75", "VND", "3750000");
        assert_eq!(code("KRW").minor_digits(), 0);
        assert_eq!(code("USD").minor_digits(), 2);
    }
    use crate::money::{PICONERO_PER_XMR, XMR_DECIMALS};
    use proptest::prelude::*;

    /// Parses with `parse` and compares the canonical string, or the error reason.
    fn check<T: fmt::Display>(
        parse: fn(&str) -> Result<T>,
        input: &str,
        expected: std::result::Result<&str, &'static str>,
    ) {
        let got = parse(input).map(|v| v.to_string());
        let expected = expected.map(str::to_owned).map_err(Error::InvalidDecimal);
        assert_eq!(got, expected, "parsing {input:?}");
    }

    fn xmr(s: &str) -> Piconero {
        Piconero::from_xmr_str(s).unwrap()
    }

    fn price(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn fiat(s: &str) -> FiatAmount {
        FiatAmount::parse(s).unwrap()
    }

    fn margin(s: &str) -> MarginPercent {
        MarginPercent::parse(s).unwrap()
    }

    #[test]
    fn constants_agree() {
        assert_eq!(usize::try_from(XMR_SCALE).unwrap(), XMR_DECIMALS);
        assert_eq!(10u64.pow(XMR_SCALE), PICONERO_PER_XMR);
        assert!(
            SUPPORTED_CURRENCIES.is_sorted(),
            "binary search needs a sorted list"
        );
        assert_eq!(PRICE_TIMES_PICONERO_PER_FIAT_UNIT, 10u128.pow(18));
        // Price units times any piconero amount fits in u128.
        let max_price_units = u128::from(PRICE_MAX) * 10u128.pow(PRICE_MAX_DECIMALS);
        assert!(max_price_units.checked_mul(u128::from(u64::MAX)).is_some());
    }

    #[test]
    fn currency_codes() {
        for code in SUPPORTED_CURRENCIES {
            check(CurrencyCode::parse, code, Ok(code));
        }
        for required in ["USD", "EUR", "GBP", "JPY", "VND", "ILS", "AED"] {
            assert!(SUPPORTED_CURRENCIES.contains(&required));
        }
        let shape = Err("currency code must be three uppercase letters");
        for bad in [
            "", "usd", "Usd", "US", "USDT", " USD", "USD ", "U$D", "ÜSD", "12A",
        ] {
            check(CurrencyCode::parse, bad, shape);
        }
        for unknown in ["XAU", "XXX", "ABC", "BTC", "XMR"] {
            check(
                CurrencyCode::parse,
                unknown,
                Err("unsupported currency code"),
            );
        }
        let eur = CurrencyCode::parse("EUR").unwrap();
        assert_eq!(eur.as_str(), "EUR");
        assert_eq!("EUR".parse::<CurrencyCode>(), Ok(eur));
        assert_eq!(serde_json::to_string(&eur).unwrap(), "\"EUR\"");
        assert_eq!(
            serde_json::from_str::<CurrencyCode>("\"EUR\"").unwrap(),
            eur
        );
        assert!(serde_json::from_str::<CurrencyCode>("\"eur\"").is_err());
    }

    #[test]
    fn parses_fiat_amounts() {
        let p = FiatAmount::parse;
        check(p, "0", Ok("0"));
        check(p, "0.00", Ok("0"));
        check(p, "12.5", Ok("12.5"));
        check(p, "12.50", Ok("12.5"));
        check(p, "0.01", Ok("0.01"));
        check(p, "007.10", Ok("7.1"));
        check(p, "100", Ok("100"));
        check(p, "1000000000000", Ok("1000000000000"));
        check(p, "1000000000000.00", Ok("1000000000000"));
        check(p, "00000000000000000000000000000001", Ok("1"));
        check(p, "1000000000000.01", Err("fiat amount too large"));
        check(p, "99999999999999999999999999999999", Err("too large"));
        check(p, "000000000000000000000000000000001", Err("too long"));
        check(p, "", Err("empty"));
        check(p, "0.001", Err("too many decimal places"));
        check(p, "1.000", Err("too many decimal places"));
        check(p, "-1", Err("must not be negative"));
        check(p, "-0", Err("must not be negative"));
        let before = Err("expected digits before the decimal point");
        let after = Err("expected digits after the decimal point");
        for bad in [
            "+1", " 1", "1 ", "1e3", "NaN", "inf", "1,5", "1_000", ".5", ".", "0x10", "١",
        ] {
            check(p, bad, before);
        }
        for bad in ["1.", "1.5 ", "1.2.3", "1.e3", "1.-5", "1.５"] {
            check(p, bad, after);
        }
    }

    #[test]
    fn parses_prices() {
        let p = Price::parse;
        check(p, "150.25", Ok("150.25"));
        check(p, "0.00000001", Ok("0.00000001"));
        check(p, "150.12345678", Ok("150.12345678"));
        check(p, "3.10000000", Ok("3.1"));
        check(p, "100000000000", Ok("100000000000"));
        check(p, "100000000000.00000001", Err("price too large"));
        check(p, "0", Err("price must be positive"));
        check(p, "0.00000000", Err("price must be positive"));
        check(p, "0.000000001", Err("too many decimal places"));
        check(p, "-150", Err("must not be negative"));
        check(p, "1e2", Err("expected digits before the decimal point"));
    }

    #[test]
    fn parses_margins() {
        let p = MarginPercent::parse;
        check(p, "2.5", Ok("2.5"));
        check(p, "-1", Ok("-1"));
        check(p, "0", Ok("0"));
        check(p, "-0", Ok("0"));
        check(p, "-0.00", Ok("0"));
        check(p, "-50", Ok("-50"));
        check(p, "100", Ok("100"));
        check(p, "0.01", Ok("0.01"));
        check(p, "-50.01", Err("margin out of range"));
        check(p, "100.01", Err("margin out of range"));
        check(p, "1.001", Err("too many decimal places"));
        check(p, "+1", Err("expected digits before the decimal point"));
        check(p, "--1", Err("expected digits before the decimal point"));
        check(p, "-", Err("expected digits before the decimal point"));
        check(p, "1-", Err("expected digits before the decimal point"));
        assert_eq!(margin("-0"), MarginPercent::ZERO);
    }

    #[test]
    fn from_decimal_applies_the_same_rules() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(FiatAmount::from_decimal(d("12.500")), Ok(fiat("12.5")));
        assert!(FiatAmount::from_decimal(d("12.505")).is_err());
        assert!(FiatAmount::from_decimal(d("-0.01")).is_err());
        assert_eq!(FiatAmount::from_decimal(d("-0")), Ok(FiatAmount::ZERO));
        assert_eq!(Price::from_decimal(d("1.000000000")), Ok(price("1")));
        assert!(Price::from_decimal(d("0.000000001")).is_err());
        assert!(Price::from_decimal(Decimal::ZERO).is_err());
        assert_eq!(MarginPercent::from_decimal(d("-1.50")), Ok(margin("-1.5")));
        assert!(MarginPercent::from_decimal(d("-100")).is_err());
    }

    #[test]
    fn fiat_for_rounds_half_up_to_the_cent() {
        let check_fiat = |p: &str, amount: &str, expected: &str| {
            assert_eq!(
                price(p).fiat_for(xmr(amount)),
                Ok(fiat(expected)),
                "{amount} XMR at {p}"
            );
        };
        check_fiat("150", "1", "150");
        check_fiat("150", "0", "0");
        check_fiat("150.12345678", "1.5", "225.19"); // 225.18518517
        check_fiat("1", "0.005", "0.01"); // exactly half a cent rounds up...
        check_fiat("1", "0.025", "0.03"); // ...also where banker's rounding would go down
        check_fiat("1", "0.004999999999", "0");
        check_fiat("1", "0.000000000001", "0");
        check_fiat("0.00000001", "18446744.073709551615", "0.18");
        check_fiat("100000000000", "10", "1000000000000");
        assert_eq!(
            price("100000000000").fiat_for(xmr("10.000000000001")),
            Err(Error::InvalidDecimal("fiat amount too large"))
        );
        assert_eq!(
            price("100000000000").fiat_for(Piconero::MAX),
            Err(Error::InvalidDecimal("fiat amount too large"))
        );
    }

    #[test]
    fn piconero_for_rounds_down() {
        let check_xmr = |p: &str, amount: &str, expected: &str| {
            let got = price(p).piconero_for(fiat(amount));
            assert_eq!(got, Ok(xmr(expected)), "{amount} fiat at {p}");
        };
        check_xmr("150", "150", "1");
        check_xmr("150", "0", "0");
        check_xmr("3", "1", "0.333333333333");
        check_xmr("150", "100", "0.666666666666");
        check_xmr("150.12345678", "225.19", "1.500032072469"); // 1.50003207246957...
        check_xmr("100000000000", "0.01", "0"); // worth less than a piconero
        check_xmr("0.00000001", "0.18", "18000000");
        assert_eq!(
            price("0.00000001").piconero_for(fiat("0.19")), // 19,000,000 XMR
            Err(Error::InvalidDecimal("XMR amount too large"))
        );
        assert_eq!(
            price("0.00000001").piconero_for(fiat("1000000000000")),
            Err(Error::InvalidDecimal("XMR amount too large"))
        );
    }

    #[test]
    fn the_round_trip_through_fiat_can_gain_half_a_cent() {
        // Why the property tests bound `piconero_for(fiat_for(x))` by half a cent rather than by
        // `x`: rounding half up, 0.005 XMR at 1 costs 0.01, which buys back 0.01 XMR.
        let p = price("1");
        let paid = p.fiat_for(xmr("0.005")).unwrap();
        assert_eq!(p.piconero_for(paid), Ok(xmr("0.01")));
    }

    #[test]
    fn with_margin_rounds_half_up_to_eight_decimals() {
        let check_margin = |p: &str, m: &str, expected: &str| {
            assert_eq!(
                price(p).with_margin(margin(m)),
                Ok(price(expected)),
                "{p} {m}%"
            );
        };
        check_margin("100", "2.5", "102.5");
        check_margin("100", "-1", "99");
        check_margin("100", "0", "100");
        check_margin("100", "100", "200");
        check_margin("100", "-50", "50");
        check_margin("33.33333333", "1", "33.66666666"); // 33.6666666633
        check_margin("0.00000003", "50", "0.00000005"); // 0.000000045
        check_margin("0.00000001", "-50", "0.00000001"); // half of the smallest price
        check_margin("0.00000001", "-49.99", "0.00000001");
        check_margin("0.00000003", "-50", "0.00000002"); // 0.000000015
        check_margin("0.00000001", "49.99", "0.00000001"); // 0.000000014999
        check_margin("100000000000", "0", "100000000000");
        assert_eq!(
            price("100000000000").with_margin(margin("0.01")),
            Err(Error::InvalidDecimal("price too large"))
        );
    }

    #[test]
    fn serde_uses_strings() {
        assert_eq!(serde_json::to_string(&fiat("12.50")).unwrap(), "\"12.5\"");
        assert_eq!(serde_json::to_string(&price("150.1")).unwrap(), "\"150.1\"");
        assert_eq!(serde_json::to_string(&margin("-2.5")).unwrap(), "\"-2.5\"");
        assert_eq!(
            serde_json::from_str::<FiatAmount>("\"0.25\"").unwrap(),
            fiat("0.25")
        );
        assert_eq!(
            serde_json::from_str::<Price>("\"150\"").unwrap(),
            price("150")
        );
        assert_eq!(
            serde_json::from_str::<MarginPercent>("\"-1\"").unwrap(),
            margin("-1")
        );
        assert!(
            serde_json::from_str::<FiatAmount>("0.25").is_err(),
            "numbers are refused"
        );
        assert!(
            serde_json::from_str::<Price>("150").is_err(),
            "numbers are refused"
        );
        assert!(
            serde_json::from_str::<MarginPercent>("1").is_err(),
            "numbers are refused"
        );
        assert!(serde_json::from_str::<FiatAmount>("\"0.251\"").is_err());
        assert!(serde_json::from_str::<Price>("\"0\"").is_err());
    }

    /// Prices from the smallest to [`PRICE_MAX`], as counts of 10^-8.
    fn any_price() -> impl Strategy<Value = Price> {
        (1..=PRICE_MAX * 10u64.pow(PRICE_MAX_DECIMALS)).prop_map(|units| {
            Price::from_decimal(from_units(u128::from(units), PRICE_MAX_DECIMALS).unwrap()).unwrap()
        })
    }

    /// Fiat amounts from zero to [`FIAT_AMOUNT_MAX`], as counts of hundredths.
    fn any_fiat() -> impl Strategy<Value = FiatAmount> {
        (0..=FIAT_AMOUNT_MAX * 100).prop_map(|units| {
            FiatAmount::from_decimal(from_units(u128::from(units), FIAT_MAX_DECIMALS).unwrap())
                .unwrap()
        })
    }

    /// Prices an order of magnitude around real ones, where the interesting rounding happens.
    fn realistic_price() -> impl Strategy<Value = Price> {
        (1u64..=100_000 * 10u64.pow(PRICE_MAX_DECIMALS)).prop_map(|units| {
            Price::from_decimal(from_units(u128::from(units), PRICE_MAX_DECIMALS).unwrap()).unwrap()
        })
    }

    fn any_margin() -> impl Strategy<Value = MarginPercent> {
        (MARGIN_PERCENT_MIN * 100..=MARGIN_PERCENT_MAX * 100).prop_map(|hundredths| {
            MarginPercent::from_decimal(Decimal::new(hundredths, MARGIN_MAX_DECIMALS)).unwrap()
        })
    }

    fn units(d: Decimal, scale: u32) -> u128 {
        to_units(d, scale).unwrap()
    }

    proptest! {
        #[test]
        fn the_buyer_never_gets_more_xmr_than_paid_for(p in any_price(), f in any_fiat()) {
            if let Ok(bought) = p.piconero_for(f) {
                // Exactly: bought × price ≤ fiat < (bought + 1) × price, in 10^-20 fiat.
                let price_units = units(p.as_decimal(), PRICE_MAX_DECIMALS);
                let fiat_units =
                    units(f.as_decimal(), FIAT_MAX_DECIMALS) * PRICE_TIMES_PICONERO_PER_FIAT_UNIT;
                let bought = u128::from(bought.as_u64());
                prop_assert!(bought * price_units <= fiat_units);
                prop_assert!((bought + 1) * price_units > fiat_units);
            }
        }

        #[test]
        fn the_fiat_value_of_what_fiat_buys_is_at_most_that_fiat(
            p in realistic_price(),
            f in any_fiat(),
        ) {
            // Tiny prices make some amounts unrepresentable in piconero; those are errors.
            if let Ok(bought) = p.piconero_for(f) {
                prop_assert!(p.fiat_for(bought).unwrap() <= f);
            }
        }

        #[test]
        fn fiat_for_is_within_half_a_cent(p in any_price(), x in any::<u64>()) {
            if let Ok(value) = p.fiat_for(Piconero::new(x)) {
                let exact = units(p.as_decimal(), PRICE_MAX_DECIMALS) * u128::from(x);
                let shown = units(value.as_decimal(), FIAT_MAX_DECIMALS)
                    * PRICE_TIMES_PICONERO_PER_FIAT_UNIT;
                let half = PRICE_TIMES_PICONERO_PER_FIAT_UNIT / 2;
                // Half up: exact - half ≤ shown < exact + half... with the half itself going up.
                prop_assert!(shown + half > exact);
                prop_assert!(shown <= exact + half);
            }
        }

        #[test]
        fn buying_back_what_x_costs_gains_at_most_half_a_cent(
            p in realistic_price(),
            x in 0..=1_000_000 * PICONERO_PER_XMR,
        ) {
            if let Ok(value) = p.fiat_for(Piconero::new(x)) {
                let back = u128::from(p.piconero_for(value).unwrap().as_u64());
                let x = u128::from(x);
                let price_units = units(p.as_decimal(), PRICE_MAX_DECIMALS);
                let half = PRICE_TIMES_PICONERO_PER_FIAT_UNIT / 2;
                // What comes back beyond x is worth no more than half a cent.
                prop_assert!(back.saturating_sub(x) * price_units <= half);
            }
        }

        #[test]
        fn fiat_for_is_monotonic(p in any_price(), a in any::<u64>(), b in any::<u64>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            if let Ok(high) = p.fiat_for(Piconero::new(hi)) {
                prop_assert!(p.fiat_for(Piconero::new(lo)).unwrap() <= high);
            }
        }

        #[test]
        fn with_margin_is_exact_to_half_a_unit(p in any_price(), m in any_margin()) {
            let price_units = units(p.as_decimal(), PRICE_MAX_DECIMALS);
            let hundredths = i128::try_from(units(m.as_decimal().abs(), MARGIN_MAX_DECIMALS))
                .unwrap();
            let signed = if m.as_decimal().is_sign_negative() { -hundredths } else { hundredths };
            let factor = u128::try_from(10_000 + signed).unwrap();
            let exact = price_units * factor; // in 10^-12 fiat per XMR
            match p.with_margin(m) {
                Ok(moved) => {
                    let moved = units(moved.as_decimal(), PRICE_MAX_DECIMALS) * 10_000;
                    prop_assert!(moved + 5_000 > exact);
                    prop_assert!(moved <= exact + 5_000);
                }
                Err(e) => {
                    prop_assert_eq!(e, Error::InvalidDecimal("price too large"));
                    prop_assert!(exact > u128::from(PRICE_MAX) * 10u128.pow(12));
                }
            }
        }

        #[test]
        fn zero_margin_keeps_the_price(p in any_price()) {
            prop_assert_eq!(p.with_margin(MarginPercent::ZERO), Ok(p));
        }

        #[test]
        fn display_then_parse_round_trips(p in any_price(), f in any_fiat(), m in any_margin()) {
            prop_assert_eq!(Price::parse(&p.to_string()), Ok(p));
            prop_assert_eq!(FiatAmount::parse(&f.to_string()), Ok(f));
            prop_assert_eq!(MarginPercent::parse(&m.to_string()), Ok(m));
        }
    }
}
