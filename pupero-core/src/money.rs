//! XMR amounts as integer piconero.
//!
//! One XMR is 10^12 piconero, Monero's atomic unit. Amounts are never floating point:
//! arithmetic is checked, and the decimal XMR form is parsed and printed exactly.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Piconero in one XMR.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// Digits after the decimal point in an XMR amount: one per power of ten in [`PICONERO_PER_XMR`].
pub const XMR_DECIMALS: usize = 12;

/// The longest decimal XMR string we parse. `u64::MAX` piconero is 18446744.073709551615 XMR,
/// 21 characters; anything much longer is garbage or an attack on the parser.
pub(crate) const MAX_XMR_STRING_LEN: usize = 32;

/// An amount of XMR in piconero (10^-12 XMR).
///
/// The field is private and there are no `Add`/`Sub` impls: every operation that can overflow
/// or underflow is a `checked_*` method returning a [`Result`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Piconero(u64);

impl Piconero {
    /// Zero XMR.
    pub const ZERO: Piconero = Piconero(0);
    /// The largest representable amount.
    pub const MAX: Piconero = Piconero(u64::MAX);
    /// One XMR.
    pub const ONE_XMR: Piconero = Piconero(PICONERO_PER_XMR);

    /// An amount of `piconero` atomic units.
    pub const fn new(piconero: u64) -> Self {
        Piconero(piconero)
    }

    /// The amount in atomic units.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or [`Error::AmountOverflow`].
    pub fn checked_add(self, other: Piconero) -> Result<Piconero> {
        self.0
            .checked_add(other.0)
            .map(Piconero)
            .ok_or(Error::AmountOverflow)
    }

    /// `self - other`, or [`Error::AmountOverflow`] when `other > self`.
    pub fn checked_sub(self, other: Piconero) -> Result<Piconero> {
        self.0
            .checked_sub(other.0)
            .map(Piconero)
            .ok_or(Error::AmountOverflow)
    }

    /// `self * factor`, or [`Error::AmountOverflow`].
    pub fn checked_mul(self, factor: u64) -> Result<Piconero> {
        self.0
            .checked_mul(factor)
            .map(Piconero)
            .ok_or(Error::AmountOverflow)
    }

    /// The amount times `numerator / denominator`, rounded down, computed without overflow
    /// in between (128-bit intermediate). Used for fees in basis points.
    pub fn mul_div_floor(self, numerator: u64, denominator: u64) -> Result<Piconero> {
        if denominator == 0 {
            return Err(Error::AmountOverflow);
        }
        let wide = u128::from(self.0) * u128::from(numerator) / u128::from(denominator);
        u64::try_from(wide)
            .map(Piconero)
            .map_err(|_| Error::AmountOverflow)
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Piconero) -> Piconero {
        Piconero(self.0.min(other.0))
    }

    /// Parses a decimal XMR string such as `"1.5"`, `"0.000000000001"` or `"42"`.
    ///
    /// Accepts ASCII digits with at most one `.` and at most 12 fractional digits. Rejects
    /// signs, exponents, whitespace, separators, empty parts (`"."`, `"1."`, `".5"`) and
    /// amounts above [`Piconero::MAX`].
    pub fn from_xmr_str(s: &str) -> Result<Piconero> {
        if s.is_empty() {
            return Err(Error::InvalidAmount("empty"));
        }
        if s.len() > MAX_XMR_STRING_LEN {
            return Err(Error::InvalidAmount("too long"));
        }
        let (whole, fraction) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) {
            return Err(Error::InvalidAmount(
                "expected digits before the decimal point",
            ));
        }
        let mut total: u64 = 0;
        for b in whole.bytes() {
            total = total
                .checked_mul(10)
                .and_then(|t| t.checked_add(u64::from(b - b'0')))
                .ok_or(Error::InvalidAmount("too large"))?;
        }
        total = total
            .checked_mul(PICONERO_PER_XMR)
            .ok_or(Error::InvalidAmount("too large"))?;
        if let Some(fraction) = fraction {
            if !all_digits(fraction) {
                return Err(Error::InvalidAmount(
                    "expected digits after the decimal point",
                ));
            }
            if fraction.len() > XMR_DECIMALS {
                return Err(Error::InvalidAmount("more than 12 decimal places"));
            }
            let mut frac: u64 = 0;
            for b in fraction.bytes() {
                frac = frac * 10 + u64::from(b - b'0');
            }
            for _ in fraction.len()..XMR_DECIMALS {
                frac *= 10;
            }
            total = total
                .checked_add(frac)
                .ok_or(Error::InvalidAmount("too large"))?;
        }
        Ok(Piconero(total))
    }

    /// The exact decimal XMR form, with trailing fractional zeros trimmed (`"1.5"`, `"0"`).
    pub fn to_xmr_string(self) -> String {
        let whole = self.0 / PICONERO_PER_XMR;
        let frac = self.0 % PICONERO_PER_XMR;
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:012}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Piconero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Piconero({})", self.0)
    }
}

/// Displays the exact decimal XMR amount followed by ` XMR`.
impl fmt::Display for Piconero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} XMR", self.to_xmr_string())
    }
}

/// Parses the decimal XMR form; see [`Piconero::from_xmr_str`].
impl FromStr for Piconero {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Piconero::from_xmr_str(s)
    }
}

impl From<Piconero> for u64 {
    fn from(p: Piconero) -> u64 {
        p.0
    }
}

/// Storage edge: SQL `BIGINT` is signed, so amounts above `i64::MAX` cannot be stored.
impl TryFrom<Piconero> for i64 {
    type Error = Error;
    fn try_from(p: Piconero) -> Result<i64> {
        i64::try_from(p.0).map_err(|_| Error::InvalidAmount("too large to store"))
    }
}

/// Storage edge: a negative `BIGINT` is never a valid amount.
impl TryFrom<i64> for Piconero {
    type Error = Error;
    fn try_from(v: i64) -> Result<Piconero> {
        u64::try_from(v)
            .map(Piconero)
            .map_err(|_| Error::InvalidAmount("negative"))
    }
}

impl serde::Serialize for Piconero {
    /// Serializes as the decimal XMR string, so JSON clients never see a float.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_xmr_string())
    }
}

impl<'de> serde::Deserialize<'de> for Piconero {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Piconero::from_xmr_str(&s).map_err(serde::de::Error::custom)
    }
}

/// A signed amount of XMR, for reports only: a surplus or a deficit, a balance of an account
/// that may go either way. It has no arithmetic: it is made as the difference of two
/// [`Piconero`] amounts and printed, so money never moves through it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SignedPiconero {
    negative: bool,
    magnitude: Piconero,
}

impl SignedPiconero {
    /// Zero.
    pub const ZERO: SignedPiconero = SignedPiconero {
        negative: false,
        magnitude: Piconero::ZERO,
    };

    /// `plus − minus`, exactly (it cannot overflow: both are below 2^64).
    pub fn difference(plus: Piconero, minus: Piconero) -> SignedPiconero {
        match plus.checked_sub(minus) {
            Ok(magnitude) => SignedPiconero {
                negative: false,
                magnitude,
            },
            Err(_) => SignedPiconero {
                negative: true,
                magnitude: Piconero(minus.0 - plus.0),
            },
        }
    }

    /// A positive (or zero) amount.
    pub const fn positive(magnitude: Piconero) -> SignedPiconero {
        SignedPiconero {
            negative: false,
            magnitude,
        }
    }

    /// `−magnitude` (zero stays zero: there is no negative zero).
    pub const fn negative(magnitude: Piconero) -> SignedPiconero {
        SignedPiconero {
            negative: !magnitude.is_zero(),
            magnitude,
        }
    }

    /// Whether it is below zero.
    pub const fn is_negative(self) -> bool {
        self.negative
    }

    /// The amount without its sign.
    pub const fn magnitude(self) -> Piconero {
        self.magnitude
    }

    /// The amount, if it is not negative.
    pub const fn non_negative(self) -> Option<Piconero> {
        if self.negative {
            None
        } else {
            Some(self.magnitude)
        }
    }

    /// Parses the decimal XMR form with an optional leading `-` (`"-1.5"`, `"0.25"`); see
    /// [`Piconero::from_xmr_str`]. `"-0"` is zero.
    pub fn from_xmr_str(s: &str) -> Result<SignedPiconero> {
        match s.strip_prefix('-') {
            Some(rest) => Piconero::from_xmr_str(rest).map(SignedPiconero::negative),
            None => Piconero::from_xmr_str(s).map(SignedPiconero::positive),
        }
    }

    /// The exact decimal XMR form, `-` first when negative (`"-0.5"`, `"2"`).
    pub fn to_xmr_string(self) -> String {
        if self.negative {
            format!("-{}", self.magnitude.to_xmr_string())
        } else {
            self.magnitude.to_xmr_string()
        }
    }
}

impl PartialOrd for SignedPiconero {
    fn partial_cmp(&self, other: &SignedPiconero) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SignedPiconero {
    fn cmp(&self, other: &SignedPiconero) -> std::cmp::Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.magnitude.cmp(&other.magnitude),
            (true, true) => other.magnitude.cmp(&self.magnitude),
            (false, true) => std::cmp::Ordering::Greater,
            (true, false) => std::cmp::Ordering::Less,
        }
    }
}

impl fmt::Debug for SignedPiconero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "SignedPiconero({sign}{})", self.magnitude.0)
    }
}

/// Displays the exact decimal XMR amount, signed, followed by ` XMR`.
impl fmt::Display for SignedPiconero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} XMR", self.to_xmr_string())
    }
}

impl serde::Serialize for SignedPiconero {
    /// Serializes as the signed decimal XMR string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_xmr_string())
    }
}

impl<'de> serde::Deserialize<'de> for SignedPiconero {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SignedPiconero::from_xmr_str(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_parse(input: &str, expected: Option<u64>) {
        let got = Piconero::from_xmr_str(input).ok().map(Piconero::as_u64);
        assert_eq!(got, expected, "parsing {input:?}");
    }

    #[test]
    fn parses_exact_decimal_xmr() {
        check_parse("0", Some(0));
        check_parse("1", Some(PICONERO_PER_XMR));
        check_parse("1.5", Some(1_500_000_000_000));
        check_parse("0.000000000001", Some(1));
        check_parse("007.10", Some(7_100_000_000_000));
        check_parse("18446744.073709551615", Some(u64::MAX));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "+1",
            "1e3",
            "1E3",
            " 1",
            "1 ",
            "1,5",
            "1_000",
            "0x10",
            "0.0000000000001",
            "18446744.073709551616",
            "99999999999",
            "1.2.3",
            "NaN",
            "inf",
            "١",
            "1.５",
            "00000000000000000000000000000000001",
        ] {
            check_parse(bad, None);
        }
    }

    #[test]
    fn formats_trimmed() {
        assert_eq!(Piconero::new(0).to_xmr_string(), "0");
        assert_eq!(Piconero::new(1).to_xmr_string(), "0.000000000001");
        assert_eq!(Piconero::new(1_500_000_000_000).to_xmr_string(), "1.5");
        assert_eq!(Piconero::MAX.to_xmr_string(), "18446744.073709551615");
        assert_eq!(Piconero::ONE_XMR.to_string(), "1 XMR");
    }

    #[test]
    fn checked_arithmetic_refuses_overflow() {
        assert_eq!(
            Piconero::MAX.checked_add(Piconero::new(1)),
            Err(Error::AmountOverflow)
        );
        assert_eq!(
            Piconero::ZERO.checked_sub(Piconero::new(1)),
            Err(Error::AmountOverflow)
        );
        assert_eq!(Piconero::MAX.checked_mul(2), Err(Error::AmountOverflow));
        assert_eq!(
            Piconero::new(10_000).mul_div_floor(25, 10_000),
            Ok(Piconero::new(25))
        );
        assert_eq!(
            Piconero::MAX.mul_div_floor(3, 2),
            Err(Error::AmountOverflow)
        );
    }

    #[test]
    fn storage_edge_is_explicit() {
        assert!(i64::try_from(Piconero::MAX).is_err());
        assert_eq!(i64::try_from(Piconero::new(5)), Ok(5));
        assert!(Piconero::try_from(-1_i64).is_err());
    }

    #[test]
    fn serde_uses_decimal_strings() {
        let json = serde_json::to_string(&Piconero::new(1_500_000_000_000)).unwrap();
        assert_eq!(json, "\"1.5\"");
        let back: Piconero = serde_json::from_str("\"0.25\"").unwrap();
        assert_eq!(back, Piconero::new(250_000_000_000));
        assert!(
            serde_json::from_str::<Piconero>("0.25").is_err(),
            "numbers are refused"
        );
    }

    #[test]
    fn signed_amounts_are_differences_printed_exactly() {
        let check = |plus: u64, minus: u64, text: &str| {
            let d = SignedPiconero::difference(Piconero::new(plus), Piconero::new(minus));
            assert_eq!(d.to_xmr_string(), text, "{plus} - {minus}");
            assert_eq!(SignedPiconero::from_xmr_str(text), Ok(d));
            assert_eq!(d.is_negative(), minus > plus);
            assert_eq!(d.magnitude().as_u64(), plus.abs_diff(minus));
        };
        check(0, 0, "0");
        check(1_500_000_000_000, 0, "1.5");
        check(0, 1, "-0.000000000001");
        check(1, u64::MAX, "-18446744.073709551614");
        check(u64::MAX, 0, "18446744.073709551615");
        assert_eq!(
            SignedPiconero::negative(Piconero::ZERO),
            SignedPiconero::ZERO
        );
        assert_eq!(SignedPiconero::from_xmr_str("-0"), Ok(SignedPiconero::ZERO));
        assert_eq!(SignedPiconero::ZERO.non_negative(), Some(Piconero::ZERO));
        assert_eq!(
            SignedPiconero::negative(Piconero::new(1)).non_negative(),
            None
        );
        for bad in ["", "-", "--1", "+1", "- 1", "1-"] {
            assert!(SignedPiconero::from_xmr_str(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&SignedPiconero::negative(Piconero::ONE_XMR)).unwrap();
        assert_eq!(json, "\"-1\"");
        assert_eq!(
            serde_json::from_str::<SignedPiconero>(&json).unwrap(),
            SignedPiconero::negative(Piconero::ONE_XMR)
        );
    }

    #[test]
    fn signed_amounts_order_as_numbers() {
        let values = ["-2", "-1.5", "-0.000000000001", "0", "0.000000000001", "3"]
            .map(|s| SignedPiconero::from_xmr_str(s).unwrap());
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(v in any::<u64>()) {
            let p = Piconero::new(v);
            prop_assert_eq!(Piconero::from_xmr_str(&p.to_xmr_string()), Ok(p));
        }

        #[test]
        fn add_then_sub_round_trips(a in any::<u64>(), b in any::<u64>()) {
            let (a, b) = (Piconero::new(a), Piconero::new(b));
            if let Ok(sum) = a.checked_add(b) {
                prop_assert_eq!(sum.checked_sub(b), Ok(a));
            } else {
                prop_assert!(u128::from(a.as_u64()) + u128::from(b.as_u64()) > u128::from(u64::MAX));
            }
        }
    }
}
