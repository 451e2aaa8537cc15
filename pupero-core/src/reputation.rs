//! Reputation: the feedback the parties leave each other after a trade, and the numbers of a
//! public profile computed from completed trades.
//!
//! A trade is *completed* when its escrow went somewhere by agreement or by a moderator's
//! decision: [`TradeState::Released`] or [`TradeState::Resolved`]. Cancelled and expired
//! trades moved no money between the parties and count for nothing.
//!
//! The rating score is the share of positive ratings among positive and negative ones, in whole
//! percent rounded down — so 100 means not a single negative rating — and absent while there
//! is none of either. Neutral ratings are counted and shown but do not move the score.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::limits::MAX_FEEDBACK_COMMENT_CHARS;
use crate::text::{self, Lines};
use crate::trade::{Trade, TradeState};

/// What one party thinks of the other after a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rating {
    /// Would trade again.
    Positive,
    /// Nothing to praise or blame.
    Neutral,
    /// Something went wrong.
    Negative,
}

impl Rating {
    /// Every rating.
    pub const ALL: [Rating; 3] = [Rating::Positive, Rating::Neutral, Rating::Negative];

    /// The stable name: `positive`, `neutral` or `negative`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rating::Positive => "positive",
            Rating::Neutral => "neutral",
            Rating::Negative => "negative",
        }
    }

    /// The rating from its stable name.
    pub fn parse(s: &str) -> Result<Rating> {
        Rating::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(Error::InvalidText(
                "the rating must be positive, neutral or negative",
            ))
    }
}

/// The comment of a feedback: trimmed, possibly empty, at most [`MAX_FEEDBACK_COMMENT_CHARS`]
/// characters, several lines, nothing that [`text::check`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackComment(String);

impl FeedbackComment {
    /// Parses a comment as typed; surrounding whitespace is dropped.
    pub fn parse(s: &str) -> Result<FeedbackComment> {
        let text = s.trim();
        if text.chars().count() > MAX_FEEDBACK_COMMENT_CHARS {
            return Err(Error::InvalidText(
                "a feedback comment is limited to 500 characters",
            ));
        }
        text::check(text, Lines::Many)?;
        Ok(FeedbackComment(text.to_owned()))
    }

    /// The text (may be empty).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// The error message names the limit.
const _: () = assert!(MAX_FEEDBACK_COMMENT_CHARS == 500);

impl Trade {
    /// Whether the trade completed: released by the seller or resolved by a moderator. Only
    /// completed trades take feedback and count in a profile's numbers.
    pub fn is_completed(&self) -> bool {
        is_completed(self.state())
    }
}

/// Whether a trade in `state` completed (see [`Trade::is_completed`]).
pub const fn is_completed(state: TradeState) -> bool {
    matches!(state, TradeState::Released | TradeState::Resolved)
}

/// How many ratings of each kind a user received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackCounts {
    /// Positive ratings.
    pub positive: u64,
    /// Neutral ratings.
    pub neutral: u64,
    /// Negative ratings.
    pub negative: u64,
}

impl FeedbackCounts {
    /// Adds `count` ratings of kind `rating` (saturating: a count cannot wrap).
    pub fn add(&mut self, rating: Rating, count: u64) {
        let slot = match rating {
            Rating::Positive => &mut self.positive,
            Rating::Neutral => &mut self.neutral,
            Rating::Negative => &mut self.negative,
        };
        *slot = slot.saturating_add(count);
    }

    /// The score: positive ratings in percent of positive and negative ones, rounded down (100
    /// only without a single negative); `None` while there is neither.
    pub fn score_percent(&self) -> Option<u8> {
        let rated = u128::from(self.positive) + u128::from(self.negative);
        if rated == 0 {
            return None;
        }
        let percent = u128::from(self.positive) * 100 / rated;
        debug_assert!(percent <= 100);
        u8::try_from(percent).ok()
    }
}

/// The median of `values` (for an even count, the mean of the middle two, rounded down);
/// `None` when there are none.
pub fn median(mut values: Vec<u64>) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    let upper = values[mid];
    if values.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = values[mid - 1];
    debug_assert!(lower <= upper);
    // Without overflow: lower + (upper − lower) / 2.
    Some(lower + (upper - lower) / 2)
}

/// The median time, in whole seconds, from "paid" to "released" over a seller's releases, each
/// given as `(paid_at, released_at)`; `None` without any. A release recorded before its payment
/// (impossible by the state machine) counts as instant rather than failing the profile.
pub fn median_release_secs(
    releases: impl IntoIterator<Item = (Timestamp, Timestamp)>,
) -> Option<u64> {
    median(
        releases
            .into_iter()
            .map(|(paid, released)| released.as_unix_ms().saturating_sub(paid.as_unix_ms()) / 1_000)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_round_trip() {
        for rating in Rating::ALL {
            assert_eq!(Rating::parse(rating.as_str()), Ok(rating));
        }
        assert!(Rating::parse("Positive").unwrap_err().is_invalid_input());
        assert!(Rating::parse("").unwrap_err().is_invalid_input());
    }

    #[test]
    fn comments() {
        assert_eq!(FeedbackComment::parse("").unwrap().as_str(), "");
        assert_eq!(FeedbackComment::parse("  \n ").unwrap().as_str(), "");
        assert_eq!(
            FeedbackComment::parse(" fast and friendly\nthanks ")
                .unwrap()
                .as_str(),
            "fast and friendly\nthanks"
        );
        let longest = "ß".repeat(MAX_FEEDBACK_COMMENT_CHARS);
        assert_eq!(FeedbackComment::parse(&longest).unwrap().as_str(), longest);
        assert!(FeedbackComment::parse(&format!("{longest}!")).is_err());
        assert!(FeedbackComment::parse("a\u{7f}b").is_err());
        for hidden in [
            "great \u{202E}reverse",
            "a\u{200B}b",
            "\u{2067}x",
            "a\u{2029}b",
        ] {
            let refused = FeedbackComment::parse(hidden).unwrap_err();
            assert!(refused.is_invalid_input(), "{hidden:?}");
            assert!(refused.to_string().starts_with("U+"), "{refused}");
        }
    }

    fn check_score(positive: u64, neutral: u64, negative: u64, expected: Option<u8>) {
        let counts = FeedbackCounts {
            positive,
            neutral,
            negative,
        };
        assert_eq!(counts.score_percent(), expected, "{counts:?}");
    }

    #[test]
    fn scores() {
        check_score(0, 0, 0, None);
        check_score(0, 5, 0, None);
        check_score(1, 0, 0, Some(100));
        check_score(0, 0, 1, Some(0));
        check_score(1, 7, 1, Some(50));
        check_score(2, 0, 1, Some(66));
        check_score(999, 0, 1, Some(99));
        check_score(u64::MAX, 0, 0, Some(100));
        check_score(u64::MAX, u64::MAX, u64::MAX, Some(50));
    }

    #[test]
    fn counts_add_up() {
        let mut counts = FeedbackCounts::default();
        counts.add(Rating::Positive, 2);
        counts.add(Rating::Negative, 1);
        counts.add(Rating::Neutral, 4);
        counts.add(Rating::Positive, u64::MAX);
        assert_eq!(
            counts,
            FeedbackCounts {
                positive: u64::MAX,
                neutral: 4,
                negative: 1
            }
        );
    }

    fn check_median(values: &[u64], expected: Option<u64>) {
        assert_eq!(median(values.to_vec()), expected, "{values:?}");
    }

    #[test]
    fn medians() {
        check_median(&[], None);
        check_median(&[7], Some(7));
        check_median(&[30, 10], Some(20));
        check_median(&[10, 11], Some(10));
        check_median(&[5, 1, 3], Some(3));
        check_median(&[100, 1, 2, 3], Some(2));
        check_median(&[u64::MAX, u64::MAX], Some(u64::MAX));
        check_median(&[u64::MAX - 1, u64::MAX], Some(u64::MAX - 1));
    }

    #[test]
    fn release_times() {
        let t = |secs: u64| Timestamp::from_unix_ms(1_700_000_000_000 + secs * 1_000);
        assert_eq!(median_release_secs([]), None);
        assert_eq!(
            median_release_secs([(t(0), t(60)), (t(100), t(400)), (t(0), t(90))]),
            Some(90)
        );
        // Partial seconds round down; a clock that went backwards counts as zero.
        assert_eq!(
            median_release_secs([(t(0), t(0).plus_ms(1_999)), (t(10), t(5))]),
            Some(0)
        );
    }

    #[test]
    fn completed_trades() {
        for state in TradeState::ALL {
            assert_eq!(
                is_completed(state),
                matches!(state, TradeState::Released | TradeState::Resolved),
                "{state:?}"
            );
        }
        let t0 = Timestamp::from_unix_ms(1_700_000_000_000);
        let (trade, _) = crate::chat::tests::open_trade(t0);
        assert!(!trade.is_completed());
    }
}
