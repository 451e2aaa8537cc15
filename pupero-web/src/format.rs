//! Numbers and times as each language writes them, from integers and decimal strings, never
//! floats: `0.512340000000 XMR` / `0,512340000000 XMR`, `1,234.56 EUR` / `1 234,56 EUR` (a
//! narrow no-break space groups thousands in French), times in UTC with their ISO form for
//! `<time datetime>`.

use pupero_sdk::{CurrencyCode, Piconero};

use crate::i18n::Locale;

/// French groups thousands with U+202F NARROW NO-BREAK SPACE (CLDR).
const FR_GROUP: char = '\u{202F}';
/// And puts a U+00A0 NO-BREAK SPACE between a number and its unit.
const FR_UNIT_SPACE: char = '\u{A0}';

/// An exact XMR amount with all 12 decimals, as confirmation pages show it.
pub fn xmr(amount: Piconero, locale: Locale) -> String {
    let per_xmr = Piconero::ONE_XMR.as_u64();
    let (whole, fraction) = (amount.as_u64() / per_xmr, amount.as_u64() % per_xmr);
    decimal(&format!("{whole}.{fraction:012}"), locale)
}

/// `xmr` followed by the unit.
pub fn xmr_unit(amount: Piconero, locale: Locale) -> String {
    format!("{}{}XMR", xmr(amount, locale), unit_space(locale))
}

/// A decimal string (`1234.5`, `-2.5`) with the language's decimal mark and grouping.
pub fn decimal(text: &str, locale: Locale) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let (group, mark) = match locale {
        Locale::En => (',', '.'),
        Locale::Fr => (FR_GROUP, ','),
    };
    let mut out = String::with_capacity(text.len() + whole.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !fraction.is_empty() {
        out.push(mark);
        out.push_str(fraction);
    }
    out
}

/// Basis points as a percentage in the language's convention: 25 → `0.25%` / `0,25 %`.
pub fn percent_bps(bps: u16, locale: Locale) -> String {
    let whole = bps / 100;
    let hundredths = bps % 100;
    let text = match hundredths {
        0 => whole.to_string(),
        h if h % 10 == 0 => format!("{whole}.{}", h / 10),
        h => format!("{whole}.{h:02}"),
    };
    let number = decimal(&text, locale);
    match locale {
        Locale::En => format!("{number}%"),
        Locale::Fr => format!("{number}\u{a0}%"),
    }
}

/// A fiat amount or price with its ISO code, with at least the currency's minor digits and
/// never fewer of its own: `100.00 EUR` / `100,00 EUR`, `150.125 EUR`, `1 JPY`.
pub fn fiat(text: &str, currency: CurrencyCode, locale: Locale) -> String {
    let minor = usize::try_from(currency.minor_digits()).unwrap_or(2);
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let padded = if fraction.len() >= minor {
        text.to_owned()
    } else {
        format!("{whole}.{fraction:0<minor$}")
    };
    let padded = padded.trim_end_matches('.');
    format!(
        "{}{}{currency}",
        decimal(padded, locale),
        unit_space(locale)
    )
}

fn unit_space(locale: Locale) -> char {
    match locale {
        Locale::En => ' ',
        Locale::Fr => FR_UNIT_SPACE,
    }
}

/// Parses an amount a person typed: `.` or `,` as the decimal mark, no grouping.
pub fn parse_xmr(text: &str) -> Option<Piconero> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() || text.contains(char::is_whitespace) {
        return None;
    }
    Piconero::from_xmr_str(&text).ok()
}

/// The calendar date and time of unix milliseconds, in UTC: `2026-12-03 18:02 UTC`.
pub fn utc(ms: u64) -> String {
    let (y, mo, d, h, mi, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// The ISO 8601 form for `<time datetime>`: `2026-12-03T18:02:05Z`.
pub fn iso(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Years, months, days from days since 1970-01-01 (Howard Hinnant's `civil_from_days`), and
/// the time of day, all in UTC.
fn civil(ms: u64) -> (u64, u64, u64, u64, u64, u64) {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Minutes and seconds: `27:05`; hours too when there are any: `1:02:03`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, en: &str, fr: &str) {
        assert_eq!(decimal(text, Locale::En), en, "{text} in English");
        assert_eq!(decimal(text, Locale::Fr), fr, "{text} in French");
    }

    #[test]
    fn decimals_in_each_language() {
        check("0.512340000000", "0.512340000000", "0,512340000000");
        check("1234.56", "1,234.56", "1\u{202F}234,56");
        check("1234567", "1,234,567", "1\u{202F}234\u{202F}567");
        check("100", "100", "100");
        check("-2.5", "-2.5", "-2,5");
        check("123456.7", "123,456.7", "123\u{202F}456,7");
    }

    #[test]
    fn xmr_amounts_keep_every_decimal() {
        let amount = Piconero::new(512_340_000_000);
        assert_eq!(xmr(amount, Locale::En), "0.512340000000");
        assert_eq!(xmr(amount, Locale::Fr), "0,512340000000");
        assert_eq!(
            xmr_unit(Piconero::new(1), Locale::Fr),
            "0,000000000001\u{A0}XMR"
        );
        assert_eq!(
            xmr(Piconero::new(1_234_000_000_000_001), Locale::En),
            "1,234.000000000001"
        );
    }

    #[test]
    fn fiat_with_its_code() {
        let eur: CurrencyCode = "EUR".parse().unwrap();
        let jpy: CurrencyCode = "JPY".parse().unwrap();
        assert_eq!(fiat("100.00", eur, Locale::En), "100.00 EUR");
        assert_eq!(fiat("75", eur, Locale::En), "75.00 EUR");
        assert_eq!(fiat("150.125", eur, Locale::En), "150.125 EUR");
        assert_eq!(fiat("1100.5", eur, Locale::Fr), "1\u{202F}100,50\u{A0}EUR");
        assert_eq!(fiat("1200", jpy, Locale::En), "1,200 JPY");
    }

    #[test]
    fn rates_in_percent() {
        assert_eq!(percent_bps(100, Locale::En), "1%");
        assert_eq!(percent_bps(25, Locale::En), "0.25%");
        assert_eq!(percent_bps(150, Locale::Fr), "1,5\u{a0}%");
        assert_eq!(percent_bps(5, Locale::Fr), "0,05\u{a0}%");
        assert_eq!(percent_bps(1000, Locale::En), "10%");
    }

    #[test]
    fn typed_amounts() {
        assert_eq!(parse_xmr("0,5"), Some(Piconero::new(500_000_000_000)));
        assert_eq!(parse_xmr(" 1.25 "), Some(Piconero::new(1_250_000_000_000)));
        assert_eq!(parse_xmr("1 000"), None);
        assert_eq!(parse_xmr("1,000.5"), None);
        assert_eq!(parse_xmr(""), None);
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso(1_796_320_925_000), "2026-12-03T18:02:05Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(duration(27 * 60 + 5), "27:05");
        assert_eq!(duration(3723), "1:02:03");
    }
}
