//! Trades: open, mark paid, release, cancel, dispute, resolve.
//!
//! Every step takes an optional idempotency key: retrying a step with the same key (after a
//! timeout, say) returns the trade without doing anything twice.

use serde::Serialize;
use uuid::Uuid;

use crate::{Client, Error, SecondFactor};

pub use pupero_api::{OpenTradeRequest, TradePage, TradeParty, TradeView};
/// The wire type `FeeAccountView`, by the name this SDK gave it first.
pub type FeeAccount = pupero_api::FeeAccountView;

/// How a moderator settles a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The buyer gets what a release would give.
    ToBuyer,
    /// Everything returns to the seller, fee included.
    ToSeller,
    /// The buyer gets this much (decimal XMR); the rest returns to the seller.
    Split(String),
}

#[derive(Serialize)]
struct ReleaseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

#[derive(Serialize)]
struct DisputeBody<'a> {
    reason: &'a str,
}

#[derive(Serialize)]
struct ResolveBody<'a> {
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_buyer: Option<&'a str>,
    note: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

impl Client {
    /// Opens a trade: the seller's XMR goes into escrow at the offer's current price.
    pub async fn open_trade(
        &self,
        request: &OpenTradeRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        self.send_keyed(
            reqwest::Method::POST,
            "/api/v1/trades",
            Some(request),
            idempotency_key,
        )
        .await
    }

    /// One trade.
    pub async fn trade(&self, id: Uuid) -> Result<TradeView, Error> {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/trades/{id}"),
            None::<&()>,
            true,
        )
        .await
    }

    /// The caller's trades, newest first, optionally in one `state`.
    pub async fn trades(
        &self,
        state: Option<pupero_api::TradeState>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<TradePage, Error> {
        let mut query = Vec::new();
        if let Some(state) = state {
            query.push(format!("state={}", state.as_str()));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", crate::urlencode(cursor)));
        }
        let path = if query.is_empty() {
            "/api/v1/trades".to_owned()
        } else {
            format!("/api/v1/trades?{}", query.join("&"))
        };
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// The buyer says the payment is sent.
    pub async fn mark_trade_paid(
        &self,
        id: Uuid,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        self.send_keyed(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{id}/paid"),
            None::<&()>,
            idempotency_key,
        )
        .await
    }

    /// The seller releases the escrow to the buyer; with the second factor when 2FA is on.
    pub async fn release_trade(
        &self,
        id: Uuid,
        second_factor: Option<SecondFactor<'_>>,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        self.send_keyed(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{id}/release"),
            Some(&ReleaseBody {
                totp_code,
                recovery_code,
            }),
            idempotency_key,
        )
        .await
    }

    /// Cancels the trade (the buyer before paying; the seller once the window passed).
    pub async fn cancel_trade(
        &self,
        id: Uuid,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        self.send_keyed(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{id}/cancel"),
            None::<&()>,
            idempotency_key,
        )
        .await
    }

    /// Raises a dispute.
    pub async fn dispute_trade(
        &self,
        id: Uuid,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        self.send_keyed(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{id}/dispute"),
            Some(&DisputeBody { reason }),
            idempotency_key,
        )
        .await
    }

    /// Settles a dispute (moderators): the outcome, a note for the parties, and the
    /// moderator's second factor when 2FA is on.
    pub async fn resolve_trade(
        &self,
        id: Uuid,
        resolution: &Resolution,
        note: &str,
        second_factor: Option<SecondFactor<'_>>,
        idempotency_key: Option<&str>,
    ) -> Result<TradeView, Error> {
        let (outcome, to_buyer) = match resolution {
            Resolution::ToBuyer => ("to_buyer", None),
            Resolution::ToSeller => ("to_seller", None),
            Resolution::Split(amount) => ("split", Some(amount.as_str())),
        };
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let body = ResolveBody {
            outcome,
            to_buyer,
            note,
            totp_code,
            recovery_code,
        };
        self.send_keyed(
            reqwest::Method::POST,
            &format!("/api/v1/trades/{id}/resolve"),
            Some(&body),
            idempotency_key,
        )
        .await
    }

    /// Disputed trades awaiting a moderator.
    pub async fn disputes(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<TradePage, Error> {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", crate::urlencode(cursor)));
        }
        let path = if query.is_empty() {
            "/api/v1/moderation/disputes".to_owned()
        } else {
            format!("/api/v1/moderation/disputes?{}", query.join("&"))
        };
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// The platform's fee account (admins).
    pub async fn fee_account(&self) -> Result<FeeAccount, Error> {
        self.send(
            reqwest::Method::GET,
            "/api/v1/admin/fees",
            None::<&()>,
            true,
        )
        .await
    }
}
