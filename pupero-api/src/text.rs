//! `Text`: a request field that is a JSON string, and nothing else.
//!
//! poem-openapi reads a JSON number or boolean into a `String` field as its text, so
//! `{"amount": 1.0000000000000000001}` would arrive as `"1"`: serde_json rounds the number to a
//! binary fraction on the way, and an amount would silently change. Every string field of a
//! request is a `Text` instead, which takes only a JSON string and answers anything else with
//! 400 `VALIDATION`; amounts and prices are then parsed from the exact text the client sent.
//! The schema is the same plain `string`.

#[cfg(feature = "openapi")]
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

#[cfg(feature = "openapi")]
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
#[cfg(feature = "openapi")]
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
#[cfg(feature = "openapi")]
use serde_json::Value;

/// A string field of a request: only a JSON string is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.to_owned())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s)
    }
}

#[cfg(feature = "openapi")]
impl Type for Text {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(feature = "openapi")]
impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Text(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

#[cfg(feature = "openapi")]
impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(all(test, feature = "openapi"))]
mod tests {
    use super::*;

    #[test]
    fn only_json_strings_are_text() {
        let parse = |v: Value| Text::parse_from_json(Some(v)).map(Text::into_string);
        assert_eq!(parse(Value::from("1.5")).ok(), Some("1.5".to_owned()));
        assert_eq!(parse(Value::from("")).ok(), Some(String::new()));
        let float: Value = serde_json::from_str("1.0000000000000000001").unwrap();
        for bad in [
            float,
            Value::from(1),
            Value::from(true),
            Value::Null,
            serde_json::json!(["1"]),
            serde_json::json!({"amount": "1"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
