//! Trades: open, mark paid, release, cancel, dispute, resolve.
//!
//! Every step takes an optional idempotency key: retrying a step with the same key (after a
//! timeout, say) returns the trade without doing anything twice.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Client, Error, SecondFactor};

/// Opening a trade on an offer.
#[derive(Debug, Clone, Serialize)]
pub struct OpenTradeRequest {
    /// The offer.
    pub offer_id: Uuid,
    /// The XMR to trade, decimal, before fees.
    pub amount: String,
    /// The price (fiat per XMR) accepted, as the offer showed it: if the offer's price is now
    /// worse, the trade is not opened (`PRICE_CHANGED`).
    pub price: String,
}

/// One party of a trade.
#[derive(Debug, Clone, Deserialize)]
pub struct TradeParty {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
}

/// A trade.
#[derive(Debug, Clone, Deserialize)]
pub struct TradeView {
    /// Trade id.
    pub id: Uuid,
    /// The offer it was opened on.
    pub offer_id: Uuid,
    /// `escrowed`, `paid`, `released`, `cancelled`, `expired`, `disputed` or `resolved`.
    pub state: String,
    /// The caller's side, `seller` or `buyer`; absent for a moderator.
    pub your_side: Option<String>,
    /// Which side posted the offer.
    pub maker_side: String,
    /// Who gives XMR.
    pub seller: TradeParty,
    /// Who gives fiat.
    pub buyer: TradeParty,
    /// XMR traded, before fees.
    pub amount: String,
    /// The seller's fee.
    pub seller_fee: String,
    /// The buyer's fee.
    pub buyer_fee: String,
    /// What the seller has in escrow.
    pub escrowed: String,
    /// What the buyer receives on release.
    pub buyer_receives: String,
    /// Fiat per XMR.
    pub price: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The fiat the buyer pays.
    pub fiat_amount: String,
    /// Payment method code.
    pub payment_method: String,
    /// Payment details.
    pub payment_details: String,
    /// The maker's terms.
    pub terms: String,
    /// Minutes the buyer has to pay.
    pub payment_window_minutes: u32,
    /// Opening time, unix ms.
    pub opened_at_ms: u64,
    /// End of the payment window, unix ms.
    pub payment_deadline_ms: u64,
    /// When marked paid.
    pub paid_at_ms: Option<u64>,
    /// When it ended.
    pub closed_at_ms: Option<u64>,
    /// Who disputed it.
    pub disputed_by: Option<Uuid>,
    /// Why.
    pub dispute_reason: Option<String>,
    /// `to_buyer`, `to_seller` or `split`.
    pub resolution: Option<String>,
    /// For a split: what the buyer received.
    pub resolution_to_buyer: Option<String>,
    /// The moderator's note explaining the decision.
    pub resolution_note: Option<String>,
    /// Increases with every step.
    pub version: u64,
    /// The steps the caller may take now.
    pub actions: Vec<String>,
}

/// A page of trades, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct TradePage {
    /// The trades.
    pub items: Vec<TradeView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

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

/// The platform's fee account.
#[derive(Debug, Clone, Deserialize)]
pub struct FeeAccount {
    /// Ledger account id.
    pub account_id: Uuid,
    /// Fees collected, decimal XMR.
    pub collected: String,
    /// Fees held in open trades' escrow.
    pub pending: String,
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
        state: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<TradePage, Error> {
        let mut query = Vec::new();
        if let Some(state) = state {
            query.push(format!("state={}", crate::urlencode(state)));
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
