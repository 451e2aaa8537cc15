//! Named limits. Every bound in Pupero lives here with the reason for its value.

/// Most transfers one `create_transfers` call may carry. Bounds the SQL statements built per
/// batch (a row has 14 parameters; MariaDB allows 65,535 per statement, SQLite 32,766) and the
/// time one group commit holds the write lock.
pub const MAX_TRANSFERS_PER_BATCH: usize = 1_000;

/// Most accounts one `create_accounts` call may carry, for the same reasons.
pub const MAX_ACCOUNTS_PER_BATCH: usize = 1_000;

/// Most transfers one group commit applies. Larger groups amortise the fsync further but hold
/// the write lock longer; past a few thousand the gain is gone.
pub const MAX_TRANSFERS_PER_GROUP_COMMIT: usize = 2_000;

/// Longest a pending (two-phase) transfer may stay open before it expires: 30 days. Escrow
/// holds for trades and withdrawals resolve in hours; anything longer is a bug.
pub const MAX_PENDING_TIMEOUT_SECS: u32 = 30 * 24 * 60 * 60;

/// Largest page of account history a caller may ask for.
pub const MAX_HISTORY_PAGE_SIZE: u32 = 200;

/// Page size when the caller does not say.
pub const DEFAULT_HISTORY_PAGE_SIZE: u32 = 50;

/// Most pending ledger transfers one expiry sweep of the ledger voids (those whose own
/// `timeout_secs` ran out); the job runs again for the rest. Not the expiry of trades, which
/// is [`MAX_TRADE_EXPIRIES_PER_PASS`]: trade holds have no ledger timeout.
pub const MAX_EXPIRIES_PER_SWEEP: u32 = 500;

/// Most trades one pass of the trade expiry job closes (unpaid trades whose payment window is
/// over); the next pass, a few seconds later, takes the rest. Each expiry is its own ledger
/// transaction (the escrow voided, the trade row and its events), so the bound keeps one pass
/// from holding the ledger writer for long when many windows end at once, after an outage.
pub const MAX_TRADE_EXPIRIES_PER_PASS: u32 = 256;

/// Largest value any account counter may reach. Counters are stored as signed 64-bit SQL
/// `BIGINT`, so a transfer that would push one past `i64::MAX` piconero (about 9.2 million XMR)
/// is refused with an overflow instead of failing at the storage edge. Operator accounts with
/// very long histories can be rolled over into fresh accounts long before that.
pub const MAX_ACCOUNT_COUNTER: u64 = 9_223_372_036_854_775_807;

/// Largest integer a store keeps: sequence numbers and unix-millisecond times are signed 64-bit
/// SQL `BIGINT`. A cursor or parameter naming a larger one was never issued, and is refused where
/// it is parsed (see [`parse_stored_integer`]) instead of failing in SQL.
pub const MAX_STORED_INTEGER: u64 = 9_223_372_036_854_775_807;

/// Digits in [`MAX_STORED_INTEGER`]: a longer string of digits is out of range before any
/// arithmetic.
const MAX_STORED_INTEGER_DIGITS: usize = 19;

/// `s` as a stored integer, as a client sends one back (a cursor, a sequence number): ASCII
/// digits only — no sign, space, exponent or fraction — and at most [`MAX_STORED_INTEGER`].
pub fn parse_stored_integer(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > MAX_STORED_INTEGER_DIGITS || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok().filter(|n| *n <= MAX_STORED_INTEGER)
}

/// Smallest minimum trade an offer may set: 0.001 XMR. Below that, the network fee of the
/// withdrawal that follows a trade is a large share of it, and tiny trades only add disputes.
pub const MIN_TRADE_AMOUNT_PICONERO: u64 = 1_000_000_000;

/// Largest maximum trade an offer may set: 1,000 XMR. It bounds what one escrow holds for one
/// trade, and so what one fraudulent trade can put at stake; larger deals can be split.
pub const MAX_TRADE_AMOUNT_PICONERO: u64 = 1_000 * 1_000_000_000_000;

/// Shortest payment window, in minutes: a fiat payment cannot reliably be made and marked as
/// sent in less.
pub const MIN_PAYMENT_WINDOW_MINUTES: u32 = 15;

/// Longest payment window, in minutes (one day): the seller's XMR sits in escrow for that long,
/// and slow methods (cash by mail) are settled with a longer window, not an open-ended one.
pub const MAX_PAYMENT_WINDOW_MINUTES: u32 = 24 * 60;

/// Longest offer terms text, in characters: a page of conditions is plenty, and the text is
/// shown in every offer view.
pub const MAX_OFFER_TERMS_CHARS: usize = 2_000;

/// Longest free payment details text, in characters (bank name, region, "no third parties").
/// Account numbers belong in the trade chat, not on a public offer.
pub const MAX_PAYMENT_DETAILS_CHARS: usize = 300;

/// Largest page of offers a search may return: one screen of a market view, and a bound on the
/// work per request since margin offers are priced at read time.
pub const MAX_OFFER_PAGE_SIZE: u32 = 100;

/// Page size of an offer search when the caller does not say.
pub const DEFAULT_OFFER_PAGE_SIZE: u32 = 20;

/// Default age after which a market quote is stale and margin offers are hidden: 15 minutes.
/// XMR moves a few percent in an hour on busy days; trading at an older price hurts one side.
pub const DEFAULT_QUOTE_MAX_AGE_SECS: u64 = 15 * 60;

/// Open (active or paused) offers an established account may have. Enough for every currency
/// and method a real trader serves; more is market spam and search load.
pub const MAX_OPEN_OFFERS_PER_USER: u32 = 20;

/// Open offers a new account may have: new accounts are where spam and scams come from, and a
/// handful of offers is enough to build a trading history.
pub const MAX_OPEN_OFFERS_NEW_ACCOUNT: u32 = 3;

/// Age below which an account is new: one week, long enough that throwaway accounts made for
/// one scam cannot flood the market at once.
pub const NEW_ACCOUNT_AGE_SECS: u64 = 7 * 24 * 60 * 60;

/// Trades an established account may have open at once. Each one is a payment window someone
/// must watch; more than this is a bot or a problem.
pub const MAX_OPEN_TRADES_PER_USER: u32 = 10;

/// Trades a new account may have open at once, to bound what one fresh account can tie up in
/// escrow and in counterparties' time.
pub const MAX_OPEN_TRADES_NEW_ACCOUNT: u32 = 2;

/// Whether an account `account_age_secs` old is still new.
pub const fn is_new_account(account_age_secs: u64) -> bool {
    account_age_secs < NEW_ACCOUNT_AGE_SECS
}

/// Open offers an account `account_age_secs` old may have.
pub const fn max_open_offers(account_age_secs: u64) -> u32 {
    if is_new_account(account_age_secs) {
        MAX_OPEN_OFFERS_NEW_ACCOUNT
    } else {
        MAX_OPEN_OFFERS_PER_USER
    }
}

/// Open trades an account `account_age_secs` old may have.
pub const fn max_open_trades(account_age_secs: u64) -> u32 {
    if is_new_account(account_age_secs) {
        MAX_OPEN_TRADES_NEW_ACCOUNT
    } else {
        MAX_OPEN_TRADES_PER_USER
    }
}

/// Longest chat message, in characters: a few paragraphs, enough for payment instructions and
/// an explanation for a moderator; longer texts are pasted in several messages.
pub const MAX_CHAT_MESSAGE_CHARS: usize = 2_000;

/// How long a trade's chat stays open after the trade ended (released, cancelled, expired,
/// resolved): 7 days, time enough to sort out a late bank transfer or a question about the
/// release; after that the conversation is an archive, kept with the trade.
pub const CHAT_GRACE_SECS: u64 = 7 * 24 * 60 * 60;

/// Messages one trade's chat may hold. A real trade needs a few dozen; the bound keeps one
/// chat's reads and the search for its participants small whatever a party does.
pub const MAX_CHAT_MESSAGES_PER_TRADE: u32 = 1_000;

/// Largest page of chat messages a caller may ask for.
pub const MAX_CHAT_PAGE_SIZE: u32 = 100;

/// Page size of a chat when the caller does not say.
pub const DEFAULT_CHAT_PAGE_SIZE: u32 = 50;

/// Longest feedback comment, in characters: a sentence or two about the trade partner, shown
/// on their public profile.
pub const MAX_FEEDBACK_COMMENT_CHARS: usize = 500;

/// Largest page of a user's feedback a caller may ask for.
pub const MAX_FEEDBACK_PAGE_SIZE: u32 = 100;

/// Page size of a user's feedback when the caller does not say.
pub const DEFAULT_FEEDBACK_PAGE_SIZE: u32 = 20;

/// Releases the median release time of a profile is taken over: the seller's most recent
/// ones. Bounds the rows a profile view reads, and recent behaviour is what a buyer cares
/// about.
pub const MAX_RELEASE_TIME_SAMPLES: u32 = 1_000;

// The limits agree with each other; checked when compiling.
const _: () = {
    assert!(MAX_OPEN_OFFERS_NEW_ACCOUNT <= MAX_OPEN_OFFERS_PER_USER);
    assert!(MAX_OPEN_TRADES_NEW_ACCOUNT <= MAX_OPEN_TRADES_PER_USER);
    assert!(MIN_TRADE_AMOUNT_PICONERO > 0);
    assert!(MIN_TRADE_AMOUNT_PICONERO <= MAX_TRADE_AMOUNT_PICONERO);
    assert!(MIN_PAYMENT_WINDOW_MINUTES <= MAX_PAYMENT_WINDOW_MINUTES);
    assert!(DEFAULT_OFFER_PAGE_SIZE <= MAX_OFFER_PAGE_SIZE);
    assert!(DEFAULT_CHAT_PAGE_SIZE <= MAX_CHAT_PAGE_SIZE);
    assert!(DEFAULT_FEEDBACK_PAGE_SIZE <= MAX_FEEDBACK_PAGE_SIZE);
    assert!(MAX_RELEASE_TIME_SAMPLES > 0);
    assert!(MAX_TRADE_EXPIRIES_PER_PASS > 0);
    assert!(MAX_REFUNDABLE_RELAY_ATTEMPTS < MAX_SWEEP_RELAY_ATTEMPTS);
};

/// Highest trading fee, maker or taker: 1,000 basis points (10%). A guard against a
/// misconfigured fee schedule, far above any sensible fee.
pub const MAX_FEE_BPS: u16 = 1_000;

/// Confirmations after which a deposit is credited by default: the ten blocks (about twenty
/// minutes) after which Monero itself lets the receiver spend the output.
pub const DEFAULT_DEPOSIT_CONFIRMATIONS: u64 = 10;

/// The most confirmations an operator may require (about 33 hours of blocks).
pub const MAX_DEPOSIT_CONFIRMATIONS: u64 = 1_000;

/// Blocks below the last scanned height (and below the oldest pending deposit) that every
/// deposit scan reads again, so a chain reorganisation up to this depth is noticed. Monero's
/// deepest reorganisations in practice are a few blocks; this is ten times that.
pub const REORG_MARGIN_BLOCKS: u64 = 30;

/// The smallest withdrawal: 0.0001 XMR. Smaller ones cost more in fees than they are worth
/// and make dust outputs for the receiver.
pub const MIN_WITHDRAWAL: crate::Piconero = crate::Piconero::new(100_000_000);

/// The largest fee reserve a withdrawal holds, and so the most network fee it may be charged:
/// 0.01 XMR. The reserve is [`FEE_RESERVE_FACTOR`] times the wallet's estimate, this at most,
/// and this when the wallet gives no estimate. Monero's dynamic fee for a two-output
/// transaction is far below it on mainnet, but rises with the block reward and congestion (a
/// young regtest chain asks about 0.0026); a transaction whose share would be higher than a
/// withdrawal's reserve is not relayed and waits.
pub const MAX_WITHDRAWAL_FEE: crate::Piconero = crate::Piconero::new(10_000_000_000);

/// The fee reserve of a withdrawal is this many times the wallet's fee for a transaction
/// paying one destination now. A batched withdrawal pays a share of one transaction's fee,
/// which is less than that (measured on regtest: 0.00114 a share of three against 0.00261
/// alone); the rest is headroom for what moves between the request and the build: the
/// per-byte fee follows the median block weight and reward, which change slowly, and a
/// transaction that needs more inputs than the estimate picked (each adds about a third of a
/// two-input transaction's weight). Twice the estimate covers five inputs against the two the
/// wallet prefers; more waits, as does a withdrawal under a congestion that raises the
/// wallet's default priority.
pub const FEE_RESERVE_FACTOR: u64 = 2;

/// How long a fee estimate of the wallet serves withdrawal requests. Building the estimate
/// costs the single-threaded wallet a whole transaction (ring members from the daemon, the
/// signatures), and the fee changes at most once a block (two minutes).
pub const FEE_ESTIMATE_MAX_AGE_SECS: u64 = 60;

/// How long a wallet that gave no fee estimate (no unlocked coins, busy, down) is not asked
/// again: requests meanwhile hold the largest reserve rather than each wait out a timeout.
pub const FEE_ESTIMATE_RETRY_SECS: u64 = 10;

/// The most times the worker builds a transaction paying a withdrawal of everything before it
/// gives up until its next pass: such a withdrawal's amount is its hold less its fee share,
/// known only once built, and building again for the new amount almost always costs the
/// same fee (the fee depends on the inputs, which hardly depend on the amount).
pub const MAX_BUILDS_FOR_EVERYTHING: u32 = 3;

/// The most withdrawals paid by one transaction: Monero allows 16 outputs, one is the change.
pub const MAX_WITHDRAWALS_PER_TX: usize = 15;

/// The most relays a wallet transaction (a withdrawal's or a sweep's) may have been tried and
/// still be given up with nothing paid (the withdrawals refunded, the sweep failed with no fee
/// booked): one, the attempt the wallet certainly refused. After an attempt of unknown outcome
/// (a lost answer, a wallet that restarted) the transaction may be in the pool, and a later
/// relay is refused as its double spend, so a later refusal proves nothing.
pub const MAX_REFUNDABLE_RELAY_ATTEMPTS: u64 = 1;

/// Relays of a signed sweep with an unknown outcome before it may be abandoned: enough that a
/// daemon which kept refusing them is not a passing hiccup.
pub const MAX_SWEEP_RELAY_ATTEMPTS: u64 = 10;

/// How old a signed sweep must be before it may be abandoned: long enough that, had any relay
/// reached the network, the transaction would be mined and the wallet would know it (blocks
/// come every two minutes).
pub const SWEEP_ABANDON_AFTER_SECS: u64 = 60 * 60;

/// Longest stored reason why a withdrawal or a sweep failed, in characters: the `failure`
/// columns are `VARCHAR(200)`, and the full error goes to the log.
pub const MAX_FAILURE_REASON_CHARS: usize = 200;

/// A withdrawal still `requested` after this long is stuck: the wallet cannot pay it (not
/// enough unlocked coins, or a refused destination being retried).
pub const STUCK_REQUESTED_SECS: u64 = 30 * 60;

/// A withdrawal `signed` this long was not relayed: the wallet or the network is down, or the
/// relay's outcome stays unknown.
pub const STUCK_SIGNED_SECS: u64 = 5 * 60;

/// A withdrawal `broadcast` this long is not mined: about 30 blocks; its transaction may have
/// left the pool.
pub const STUCK_BROADCAST_SECS: u64 = 60 * 60;

/// Outputs below this amount are consolidated by the sweeper by default: 1 XMR. Larger ones
/// already pay a typical withdrawal alone; smaller ones (most deposits) would make
/// withdrawals spend many inputs, each adding to the fee and the transaction's weight.
pub const DEFAULT_SWEEP_BELOW: crate::Piconero = crate::Piconero::ONE_XMR;

/// Small unlocked outputs the wallet must hold before a sweep is worth its fee, by default.
pub const DEFAULT_SWEEP_MIN_OUTPUTS: u32 = 10;

/// The fewest small outputs an operator may set as worth a sweep: sweeping one output into one
/// output only pays a fee.
pub const MIN_SWEEP_MIN_OUTPUTS: u32 = 2;

/// The most an operator may set: a wallet with this many small outputs has long needed a sweep.
pub const MAX_SWEEP_MIN_OUTPUTS: u32 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_integers_are_plain_digits_within_bigint() {
        assert_eq!(MAX_STORED_INTEGER, i64::MAX.unsigned_abs());
        assert_eq!(
            MAX_STORED_INTEGER.to_string().len(),
            MAX_STORED_INTEGER_DIGITS
        );
        for (input, expected) in [
            ("0", Some(0)),
            ("42", Some(42)),
            ("007", Some(7)),
            ("9223372036854775807", Some(MAX_STORED_INTEGER)),
            ("9223372036854775808", None),
            ("18446744073709551615", None),
            ("99999999999999999999999", None),
            ("", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1e3", None),
            ("1.0", None),
            ("NaN", None),
            ("０", None),
        ] {
            assert_eq!(parse_stored_integer(input), expected, "{input:?}");
        }
    }

    #[test]
    fn new_accounts_get_the_stricter_limits() {
        let check = |age_secs: u64, offers: u32, trades: u32| {
            assert_eq!(max_open_offers(age_secs), offers, "offers at {age_secs}s");
            assert_eq!(max_open_trades(age_secs), trades, "trades at {age_secs}s");
        };
        check(0, MAX_OPEN_OFFERS_NEW_ACCOUNT, MAX_OPEN_TRADES_NEW_ACCOUNT);
        check(
            NEW_ACCOUNT_AGE_SECS - 1,
            MAX_OPEN_OFFERS_NEW_ACCOUNT,
            MAX_OPEN_TRADES_NEW_ACCOUNT,
        );
        check(
            NEW_ACCOUNT_AGE_SECS,
            MAX_OPEN_OFFERS_PER_USER,
            MAX_OPEN_TRADES_PER_USER,
        );
        check(u64::MAX, MAX_OPEN_OFFERS_PER_USER, MAX_OPEN_TRADES_PER_USER);
    }
}
