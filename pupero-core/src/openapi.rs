//! OpenAPI schemas for the domain's values that travel as JSON strings (feature `openapi`).
//!
//! A request field of one of these types is parsed by the domain's own parser as the body is
//! read: a value the parser refuses never reaches a handler, and the schema published for it
//! (pattern, length, allowed values, example) is built from the same limits the parser
//! applies. Only a JSON string is accepted: a JSON number would reach us already rounded.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use crate::fiat::PRICE_MAX;
use crate::fiat::{
    FIAT_MAX_DECIMALS, MARGIN_MAX_DECIMALS, MAX_DECIMAL_STRING_LEN, PRICE_MAX_DECIMALS,
    SUPPORTED_CURRENCIES,
};
use crate::money::{MAX_XMR_STRING_LEN, XMR_DECIMALS};
use crate::offer::{PAYMENT_METHODS, PaymentMethod};
use crate::user::{EMAIL_MAX_LEN, USERNAME_MAX_LEN, USERNAME_MIN_LEN};
use crate::{
    CurrencyCode, EmailAddress, FiatAmount, MarginPercent, Piconero, Price, SignedPiconero,
    Username,
};

/// The schema of a decimal string with at most `decimals` fractional digits.
fn decimal_schema(
    description: &'static str,
    signed: bool,
    decimals: u32,
    max_length: usize,
    example: &str,
) -> MetaSchema {
    let sign = if signed { "-?" } else { "" };
    MetaSchema {
        description: Some(description),
        pattern: Some(format!("^{sign}[0-9]+(\\.[0-9]{{1,{decimals}}})?$")),
        min_length: Some(1),
        max_length: Some(max_length),
        example: Some(Value::from(example)),
        ..MetaSchema::new("string")
    }
}

macro_rules! string_type {
    ($ty:ty, $name:literal, $schema:expr, $parse:expr, $print:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;

            type RawValueType = Self;

            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(text) => {
                        ($parse)(text.as_str()).map_err(|e: crate::Error| ParseError::custom(e))
                    }
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(text: &str) -> ParseResult<Self> {
                ($parse)(text).map_err(|e: crate::Error| ParseError::custom(e))
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(($print)(self)))
            }
        }
    };
}

string_type!(
    Piconero,
    "xmr",
    decimal_schema(
        "An amount of XMR as an exact decimal string (1 XMR = 10^12 piconero).",
        false,
        u32::try_from(XMR_DECIMALS).unwrap_or(12),
        MAX_XMR_STRING_LEN,
        "1.5",
    ),
    Piconero::from_xmr_str,
    |v: &Piconero| v.to_xmr_string()
);

/// A price: more than zero, at most [`PRICE_MAX`], at most [`PRICE_MAX_DECIMALS`] decimals.
fn price_schema() -> MetaSchema {
    let max = PRICE_MAX.to_string();
    let below = max.len() - 1;
    MetaSchema {
        description: Some("A price in fiat per XMR, as an exact decimal string, more than zero."),
        pattern: Some(format!(
            "^(?=.*[1-9])0*([0-9]{{1,{below}}}(\\.[0-9]{{1,{PRICE_MAX_DECIMALS}}})?|{max}(\\.0{{1,{PRICE_MAX_DECIMALS}}})?)$"
        )),
        min_length: Some(1),
        max_length: Some(MAX_DECIMAL_STRING_LEN),
        example: Some(Value::from("150.25")),
        ..MetaSchema::new("string")
    }
}

string_type!(
    SignedPiconero,
    "signed_xmr",
    decimal_schema(
        "A signed amount of XMR as an exact decimal string, `-` first below zero.",
        true,
        u32::try_from(XMR_DECIMALS).unwrap_or(12),
        MAX_XMR_STRING_LEN + 1,
        "-0.25",
    ),
    SignedPiconero::from_xmr_str,
    |v: &SignedPiconero| v.to_xmr_string()
);

string_type!(Price, "price", price_schema(), Price::parse, |v: &Price| v
    .to_string());

string_type!(
    MarginPercent,
    "margin_percent",
    decimal_schema(
        "A margin in percent over the market price, as an exact decimal string.",
        true,
        MARGIN_MAX_DECIMALS,
        MAX_DECIMAL_STRING_LEN,
        "2.5",
    ),
    MarginPercent::parse,
    |v: &MarginPercent| v.to_string()
);

string_type!(
    FiatAmount,
    "fiat_amount",
    decimal_schema(
        "An amount of fiat money, as an exact decimal string.",
        false,
        FIAT_MAX_DECIMALS,
        MAX_DECIMAL_STRING_LEN,
        "225.5",
    ),
    FiatAmount::parse,
    |v: &FiatAmount| v.to_string()
);

string_type!(
    CurrencyCode,
    "currency",
    MetaSchema {
        description: Some("An ISO 4217 currency code the platform supports."),
        enum_items: SUPPORTED_CURRENCIES
            .iter()
            .copied()
            .map(Value::from)
            .collect(),
        example: Some(Value::from("EUR")),
        ..MetaSchema::new("string")
    },
    CurrencyCode::parse,
    |v: &CurrencyCode| v.as_str().to_owned()
);

string_type!(
    Username,
    "username",
    MetaSchema {
        description: Some(
            "A username: ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit.",
        ),
        pattern: Some("^[A-Za-z0-9][A-Za-z0-9_.-]*$".to_owned()),
        min_length: Some(USERNAME_MIN_LEN),
        max_length: Some(USERNAME_MAX_LEN),
        example: Some(Value::from("alice")),
        ..MetaSchema::new("string")
    },
    Username::parse,
    |v: &Username| v.as_str().to_owned()
);

string_type!(
    EmailAddress,
    "email",
    MetaSchema {
        description: Some("An e-mail address, `local@domain.tld`."),
        format: Some("email"),
        pattern: Some("^[^@\\s]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$".to_owned()),
        min_length: Some(5),
        max_length: Some(EMAIL_MAX_LEN),
        example: Some(Value::from("alice@example.com")),
        ..MetaSchema::new("string")
    },
    EmailAddress::parse,
    |v: &EmailAddress| v.as_str().to_owned()
);

string_type!(
    PaymentMethod,
    "payment_method",
    MetaSchema {
        description: Some("A payment method of the catalogue (`GET /api/v1/payment-methods`)."),
        enum_items: PAYMENT_METHODS
            .iter()
            .map(|m| Value::from(m.code))
            .collect(),
        example: Some(Value::from("SEPA")),
        ..MetaSchema::new("string")
    },
    PaymentMethod::parse,
    |v: &PaymentMethod| v.code().to_owned()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_parsed_from_json_strings_only() {
        let one = Piconero::parse_from_json(Some(Value::from("1.5"))).ok();
        assert_eq!(one, Some(Piconero::new(1_500_000_000_000)));
        assert!(Piconero::parse_from_json(Some(Value::from(1.5))).is_err());
        assert!(Piconero::parse_from_json(Some(Value::from("1.0000000000001"))).is_err());
        assert_eq!(
            Piconero::new(1).to_json(),
            Some(Value::from("0.000000000001"))
        );
        assert!(CurrencyCode::parse_from_json(Some(Value::from("eur"))).is_err());
    }

    /// The price pattern accepts exactly what the parser accepts, at its edges.
    #[test]
    fn the_price_pattern_is_the_parser() {
        let schema = price_schema();
        let pattern = schema.pattern.unwrap();
        assert!(
            pattern.starts_with("^(?=.*[1-9])0*([0-9]{1,11}"),
            "{pattern}"
        );
        for ok in [
            "1",
            "0.00000001",
            "99999999999.99999999",
            "100000000000",
            "007.5",
        ] {
            assert!(Price::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0",
            "0.0",
            "100000000000.00000001",
            "0.000000001",
            "-1",
            "1e3",
        ] {
            assert!(Price::parse(bad).is_err(), "{bad}");
        }
    }
}
