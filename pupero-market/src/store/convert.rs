//! The storage edge, said once for every table: stored values to domain types and back.
//!
//! Rows are read into `#[derive(sqlx::FromRow)]` structs (the `*Columns` of each module) whose
//! fields are the plain types the `Any` driver decodes on both engines: text, `i64` (every
//! integer column, flags included: no engine's boolean type decodes through `Any`) and
//! `Option` of those. Each becomes its domain row through `TryFrom`, with the helpers below;
//! a stored value that no domain type accepts is [`StoreError::Corrupt`], never used.

use std::str::FromStr;

use pupero_core::{Piconero, Timestamp};

use super::StoreError;

/// A value parsed from its stored text: an id, or the name of a state or kind.
pub(crate) fn parsed<T: FromStr>(text: &str, what: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(what))
}

/// An unsigned column (stored as `BIGINT`).
pub(crate) fn unsigned(v: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

/// A 32-bit unsigned column (wallet account and subaddress indices, counts, minutes).
pub(crate) fn small(v: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

/// An amount of piconero.
pub(crate) fn amount(v: i64, what: &'static str) -> Result<Piconero, StoreError> {
    Piconero::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

/// A unix-milliseconds column.
pub(crate) fn time(v: i64, what: &'static str) -> Result<Timestamp, StoreError> {
    Timestamp::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

/// A nullable unix-milliseconds column.
pub(crate) fn time_opt(
    v: Option<i64>,
    what: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    v.map(|v| time(v, what)).transpose()
}

/// A flag, stored as an integer 0 or 1 (the schema checks it).
pub(crate) fn flag(v: i64, what: &'static str) -> Result<bool, StoreError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Corrupt(what)),
    }
}

/// A non-negative sum read as text (`CAST(COALESCE(SUM(x), 0) AS CHAR)`), exactly: MariaDB
/// sums integers as DECIMAL, which the `Any` driver does not decode.
pub(crate) fn sum(text: &str, what: &'static str) -> Result<u64, StoreError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::Corrupt(what));
    }
    text.parse().map_err(|_| StoreError::Corrupt(what))
}

/// A count and a sum of amounts, read together (`COUNT(*) AS n, CAST(COALESCE(SUM(…), 0) AS
/// CHAR) AS total`).
#[derive(sqlx::FromRow)]
pub(crate) struct CountAndSum {
    n: i64,
    total: String,
}

impl CountAndSum {
    /// The count, and the sum as an amount.
    pub(crate) fn parts(self) -> Result<(u64, Piconero), StoreError> {
        Ok((
            unsigned(self.n, "count")?,
            Piconero::new(sum(&self.total, "sum")?),
        ))
    }
}

/// A timestamp as the `BIGINT` unix milliseconds it is stored as.
pub(crate) fn ms(t: Timestamp) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|_| StoreError::Corrupt("timestamp out of range"))
}

/// An unsigned value as the `BIGINT` it is stored in.
pub(crate) fn i64_of(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

/// An amount as the `BIGINT` it is stored in.
pub(crate) fn sql_amount(p: Piconero) -> Result<i64, StoreError> {
    i64_of(p.as_u64(), "amount out of range")
}

/// A reason why a withdrawal or a sweep failed, as its `failure` column holds it: at most
/// [`MAX_FAILURE_REASON_CHARS`](pupero_core::limits::MAX_FAILURE_REASON_CHARS) characters (the
/// whole error goes to the log).
pub(crate) fn failure_reason(text: &str) -> String {
    text.chars()
        .take(pupero_core::limits::MAX_FAILURE_REASON_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_out_of_range_are_corrupt() {
        assert_eq!(unsigned(7, "x").unwrap(), 7);
        assert!(unsigned(-1, "x").is_err());
        assert!(small(i64::from(u32::MAX) + 1, "x").is_err());
        assert!(amount(-5, "x").is_err());
        assert!(time(-1, "x").is_err());
        assert_eq!(time_opt(None, "x").unwrap(), None);
        assert!(flag(1, "x").unwrap() && !flag(0, "x").unwrap());
        assert!(flag(2, "x").is_err());
        assert_eq!(sum("18446744073709551615", "x").unwrap(), u64::MAX);
        for bad in ["", "-1", "1.5", "18446744073709551616"] {
            assert!(sum(bad, "x").is_err(), "{bad:?}");
        }
        assert!(parsed::<uuid::Uuid>("nope", "x").is_err());
        assert!(i64_of(u64::MAX, "x").is_err());
        assert_eq!(failure_reason(&"é".repeat(300)).chars().count(), 200);
    }
}
