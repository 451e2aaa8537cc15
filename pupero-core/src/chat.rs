//! A trade's chat: what a message may say, and when the chat is open.
//!
//! The chat is open while the trade is (escrowed, paid, disputed) and for
//! [`CHAT_GRACE_SECS`] after it ended, so that a late question about the payment or the
//! release still reaches the other side. After that the messages stay with the trade, read
//! only.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::limits::{CHAT_GRACE_SECS, MAX_CHAT_MESSAGE_CHARS};
use crate::text::{self, Lines};
use crate::trade::Trade;

/// The text of a chat message: trimmed, not empty, at most [`MAX_CHAT_MESSAGE_CHARS`]
/// characters, several lines, nothing that [`text::check`] refuses (control characters but
/// newline and tab, invisible and direction-changing characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Parses a message as typed; surrounding whitespace is dropped.
    pub fn parse(s: &str) -> Result<MessageBody> {
        let text = s.trim();
        if text.is_empty() {
            return Err(Error::InvalidText("a message cannot be empty"));
        }
        if text.chars().count() > MAX_CHAT_MESSAGE_CHARS {
            return Err(Error::InvalidText(
                "a message is limited to 2000 characters",
            ));
        }
        text::check(text, Lines::Many)?;
        Ok(MessageBody(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Trade {
    /// Whether the trade's chat takes new messages at `now`: while the trade is open, and for
    /// [`CHAT_GRACE_SECS`] after it ended.
    pub fn chat_open(&self, now: Timestamp) -> bool {
        if !self.state().is_terminal() {
            return true;
        }
        match self.closed_at() {
            Some(closed) => now < closed.plus_secs(CHAT_GRACE_SECS),
            // A settled trade always has its closing time; without one, stay closed.
            None => false,
        }
    }
}

// The error message names the limit.
const _: () = assert!(MAX_CHAT_MESSAGE_CHARS == 2_000);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn check(input: &str, expected: std::result::Result<&str, ()>) {
        let got = MessageBody::parse(input);
        match expected {
            Ok(text) => assert_eq!(got.unwrap().as_str(), text, "{input:?}"),
            Err(()) => assert!(
                got.unwrap_err().is_invalid_input(),
                "{input:?} should be refused"
            ),
        }
    }

    #[test]
    fn message_bodies() {
        check("hello", Ok("hello"));
        check("  paid, ref 1234 \n", Ok("paid, ref 1234"));
        check(
            "line one\nline two\twith a tab",
            Ok("line one\nline two\twith a tab"),
        );
        check("Grüße 👋", Ok("Grüße 👋"));
        check("", Err(()));
        check(" \n\t ", Err(()));
        check("bell\u{7}", Err(()));
        check("esc\u{1b}[2J", Err(()));
        check("nul\0", Err(()));
        check("carriage\rreturn", Err(()));
        check("c1\u{85}control", Err(()));
        check("IBAN DE89\u{202E}4321", Err(()));
        check("zero\u{200B}width", Err(()));
        check("\u{FEFF}bom", Err(()));
        check("isolate \u{2066}1234\u{2069}", Err(()));
        check("line\u{2028}separator", Err(()));
        // Trimmed away before the check: what is stored holds none.
        check("\u{2029}paragraph\u{2028}", Ok("paragraph"));
        let longest = "é".repeat(MAX_CHAT_MESSAGE_CHARS);
        check(&longest, Ok(&longest));
        check(&format!("{longest}x"), Err(()));
        check(&format!("  {longest}  "), Ok(&longest));
    }

    /// A trade of 1 XMR opened at `t0`, and the ids of its seller, buyer and a moderator.
    pub(crate) fn open_trade(t0: Timestamp) -> (Trade, [crate::UserId; 3]) {
        use crate::offer::PaymentWindow;
        use crate::trade::{FeeSchedule, OpenTrade, Party};
        use crate::{AccountId, CurrencyCode, OfferId, Piconero, Price, TradeId, UserId};
        let people = [
            UserId::from_u128(1),
            UserId::from_u128(2),
            UserId::from_u128(3),
        ];
        let params = OpenTrade {
            id: TradeId::from_u128(42),
            offer: OfferId::from_u128(7),
            seller: people[0],
            buyer: people[1],
            maker: Party::Seller,
            amount: Piconero::ONE_XMR,
            price: Price::parse("150").unwrap(),
            currency: CurrencyCode::parse("EUR").unwrap(),
            window: PaymentWindow::from_minutes(30).unwrap(),
            fees: FeeSchedule::new(100, 0).unwrap(),
            fee_account: AccountId::from_u128(100),
        };
        (Trade::open(params, t0).unwrap().0, people)
    }

    #[test]
    fn the_chat_stays_open_for_the_grace_period_after_the_trade_ends() {
        use crate::trade::{Resolution, TradeAction};
        let t0 = Timestamp::from_unix_ms(1_700_000_000_000);
        let (trade, [seller, buyer, moderator]) = open_trade(t0);
        assert!(trade.chat_open(t0));
        assert!(
            trade.chat_open(t0.plus_secs(365 * 24 * 3600)),
            "open while escrowed"
        );
        let paid_at = t0.plus_secs(60);
        let (paid, _) = trade
            .apply(TradeAction::MarkPaid { by: buyer }, paid_at)
            .unwrap();
        assert!(paid.chat_open(paid_at));
        let (disputed, _) = paid
            .clone()
            .apply(TradeAction::Dispute { by: seller }, paid_at.plus_secs(60))
            .unwrap();
        assert!(
            disputed.chat_open(paid_at.plus_secs(30 * 24 * 3600)),
            "open while disputed"
        );

        let closed_at = paid_at.plus_secs(120);
        let (released, _) = paid
            .apply(TradeAction::Release { by: seller }, closed_at)
            .unwrap();
        assert!(released.chat_open(closed_at));
        assert!(released.chat_open(closed_at.plus_ms(CHAT_GRACE_SECS * 1000 - 1)));
        assert!(!released.chat_open(closed_at.plus_secs(CHAT_GRACE_SECS)));

        let resolved_at = paid_at.plus_secs(3600);
        let (resolved, _) = disputed
            .apply(
                TradeAction::Resolve {
                    by_moderator: moderator,
                    outcome: Resolution::ToSeller,
                },
                resolved_at,
            )
            .unwrap();
        assert!(resolved.chat_open(resolved_at.plus_secs(CHAT_GRACE_SECS - 1)));
        assert!(!resolved.chat_open(resolved_at.plus_secs(CHAT_GRACE_SECS)));
    }
}
