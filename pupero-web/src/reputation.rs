//! Makers' reputation on offer cards, read from their public profiles and kept for a while, so
//! that a market page asks the API for a profile only the first time a maker appears on it in
//! [`REPUTATION_MAX_AGE`].

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a maker's reputation is shown without being read again.
pub const REPUTATION_MAX_AGE: Duration = Duration::from_secs(60);

/// Most makers whose reputation is kept: a few hundred bytes each.
pub const MAX_REPUTATIONS: usize = 10_000;

/// What a card says of its maker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reputation {
    /// Completed trades, as seller or buyer.
    pub completed_trades: u64,
    /// Positive ratings in percent of the rated trades; `None` without ratings.
    pub score_percent: Option<u8>,
}

/// Reputations read recently, by username.
#[derive(Default)]
pub struct Reputations {
    held: Mutex<HashMap<String, (Instant, Reputation)>>,
}

impl Reputations {
    /// The reputation of each of `makers` that could be read: kept ones as they are, the others
    /// read from the API at once. A maker whose profile cannot be read has none (the page
    /// still shows their offer).
    pub async fn of<'a>(
        &self,
        api: &pupero_sdk::Client,
        makers: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, Reputation> {
        let mut known = HashMap::new();
        let mut missing = Vec::new();
        {
            let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            for maker in makers {
                if known.contains_key(maker) || missing.contains(&maker) {
                    continue;
                }
                match held.get(maker) {
                    Some((at, r)) if at.elapsed() < REPUTATION_MAX_AGE => {
                        known.insert(maker.to_owned(), *r);
                    }
                    _ => missing.push(maker),
                }
            }
        }
        if missing.is_empty() {
            return known;
        }
        let read =
            futures_util::future::join_all(missing.iter().map(|m| api.public_profile(m))).await;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() + missing.len() > MAX_REPUTATIONS {
            held.retain(|_, (at, _)| at.elapsed() < REPUTATION_MAX_AGE);
            if held.len() + missing.len() > MAX_REPUTATIONS {
                held.clear();
            }
        }
        let now = Instant::now();
        for (maker, profile) in missing.into_iter().zip(read) {
            let Ok(profile) = profile else { continue };
            let reputation = Reputation {
                completed_trades: profile.stats.completed_trades,
                score_percent: profile.stats.score_percent,
            };
            held.insert(maker.to_owned(), (now, reputation));
            known.insert(maker.to_owned(), reputation);
        }
        known
    }
}
