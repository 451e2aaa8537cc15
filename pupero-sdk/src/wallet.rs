//! The caller's Monero: the deposit subaddress and the deposits seen on it.

use serde::Deserialize;
use uuid::Uuid;

use crate::{Client, Error};

/// Where the caller sends XMR to fund their balance.
#[derive(Debug, Clone, Deserialize)]
pub struct DepositAddress {
    /// The caller's own subaddress of the platform wallet; it does not change.
    pub address: String,
    /// `monero:<address>`.
    pub uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
    /// Confirmations after which a deposit is credited.
    pub confirmations_required: u64,
}

/// Money seen arriving on the caller's subaddress.
#[derive(Debug, Clone, Deserialize)]
pub struct Deposit {
    /// The transaction.
    pub txid: String,
    /// XMR received, decimal.
    pub amount: String,
    /// `pending`, `credited` or `gone`.
    pub state: String,
    /// The block holding it; absent in the pool.
    pub height: Option<u64>,
    /// Confirmations when last scanned.
    pub confirmations: u64,
    /// Confirmations after which it is credited.
    pub confirmations_required: u64,
    /// When first seen, unix ms.
    pub first_seen_ms: u64,
    /// When credited, unix ms.
    pub credited_at_ms: Option<u64>,
}

/// A page of deposits, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct DepositPage {
    /// The deposits.
    pub items: Vec<Deposit>,
    /// The next page's cursor; absent on the last.
    pub next_cursor: Option<String>,
}

impl Client {
    /// The caller's deposit subaddress (made on first request).
    pub async fn deposit_address(&self) -> Result<DepositAddress, Error> {
        self.send(
            reqwest::Method::GET,
            "/api/v1/wallet/deposit-address",
            None::<&()>,
            true,
        )
        .await
    }

    /// One page of the caller's deposits, newest first.
    pub async fn deposits(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<DepositPage, Error> {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", crate::urlencode(cursor)));
        }
        let mut path = String::from("/api/v1/wallet/deposits");
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }
}

/// A withdrawal request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WithdrawalRequest {
    /// Where to send the XMR.
    pub address: String,
    /// XMR the address receives, decimal; the network fee is charged on top. Or
    /// [`WithdrawalRequest::ALL`]: everything available less the fee.
    pub amount: String,
    /// The password: needed from a logged-in session when 2FA is off (an API key needs none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The 2FA code, when 2FA is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    /// Or a recovery code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

impl WithdrawalRequest {
    /// The `amount` that asks for everything available, less the network fee: the balance
    /// ends at exactly zero.
    pub const ALL: &'static str = "all";

    /// A request to send `amount` XMR (decimal) to `address`, without a step-up yet.
    pub fn new(address: impl Into<String>, amount: impl Into<String>) -> WithdrawalRequest {
        WithdrawalRequest {
            address: address.into(),
            amount: amount.into(),
            password: None,
            totp_code: None,
            recovery_code: None,
        }
    }

    /// A request to send everything available to `address`, less the network fee.
    pub fn all(address: impl Into<String>) -> WithdrawalRequest {
        WithdrawalRequest::new(address, WithdrawalRequest::ALL)
    }

    /// The same request with the account's password (a session without 2FA needs it).
    pub fn with_password(mut self, password: impl Into<String>) -> WithdrawalRequest {
        self.password = Some(password.into());
        self
    }

    /// The same request with the authenticator app's code (2FA on).
    pub fn with_totp_code(mut self, code: impl Into<String>) -> WithdrawalRequest {
        self.totp_code = Some(code.into());
        self
    }
}

/// What a withdrawal costs now, before asking for one.
#[derive(Debug, Clone, Deserialize)]
pub struct WithdrawalFeeEstimate {
    /// The network fee the wallet would pay now for a withdrawal to one address; absent when
    /// the wallet cannot say. A withdrawal batched with others pays a share, usually less.
    pub fee: Option<String>,
    /// Held with a withdrawal on top of its amount; never charged beyond, the rest returned.
    pub fee_reserve: String,
    /// The smallest amount a withdrawal sends.
    pub min_amount: String,
    /// The caller's available balance.
    pub available: String,
    /// The largest amount a withdrawal can ask now; absent below the smallest.
    pub max_amount: Option<String>,
    /// About what a withdrawal of everything sends now; absent when nothing can be sent.
    pub all_amount: Option<String>,
    /// With an amount asked: what a withdrawal of it holds now.
    pub total: Option<String>,
    /// With an amount asked: whether the available balance covers it.
    pub covered: Option<bool>,
}

/// A withdrawal.
#[derive(Debug, Clone, Deserialize)]
pub struct Withdrawal {
    /// Withdrawal id.
    pub id: uuid::Uuid,
    /// `requested`, `signed`, `broadcast`, `confirmed` or `failed` (refunded).
    pub state: String,
    /// The destination.
    pub address: String,
    /// XMR it receives (for a withdrawal of everything, the least it receives until built).
    pub amount: String,
    /// The fee reserve held with it: the most fee it is charged.
    pub max_fee: String,
    /// Whether it sends everything that was available.
    #[serde(default)]
    pub send_all: bool,
    /// Its share of the real network fee, once built.
    pub fee: Option<String>,
    /// The transaction, once built.
    pub txid: Option<String>,
    /// The transaction's secret key (payment proof), once built.
    pub tx_key: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

/// A page of withdrawals, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct WithdrawalPage {
    /// The withdrawals.
    pub items: Vec<Withdrawal>,
    /// The next page's cursor; absent on the last.
    pub next_cursor: Option<String>,
}

impl Client {
    /// Requests a withdrawal. `idempotency_key` is required by the server: retrying with the
    /// same key and request returns the same withdrawal.
    pub async fn request_withdrawal(
        &self,
        request: &WithdrawalRequest,
        idempotency_key: &str,
    ) -> Result<Withdrawal, Error> {
        self.send_keyed(
            reqwest::Method::POST,
            "/api/v1/wallet/withdrawals",
            Some(request),
            Some(idempotency_key),
        )
        .await
    }

    /// Withdraws everything available to `address`, less the network fee, leaving the
    /// balance at exactly zero: [`Client::request_withdrawal`] of
    /// [`WithdrawalRequest::all`] with the step-up the caller needs (the password from a
    /// session without 2FA, the code with it; an API key needs neither).
    pub async fn withdraw_all(
        &self,
        address: &str,
        password: Option<&str>,
        totp_code: Option<&str>,
        idempotency_key: &str,
    ) -> Result<Withdrawal, Error> {
        let mut request = WithdrawalRequest::all(address);
        request.password = password.map(str::to_owned);
        request.totp_code = totp_code.map(str::to_owned);
        self.request_withdrawal(&request, idempotency_key).await
    }

    /// What a withdrawal costs now: the network fee estimate, the fee reserve and what the
    /// balance allows; with `amount` (decimal XMR, or [`WithdrawalRequest::ALL`]) also what a
    /// withdrawal of it would hold.
    pub async fn withdrawal_fee_estimate(
        &self,
        amount: Option<&str>,
    ) -> Result<WithdrawalFeeEstimate, Error> {
        let path = match amount {
            Some(amount) => format!(
                "/api/v1/wallet/withdrawals/fee-estimate?amount={}",
                crate::urlencode(amount)
            ),
            None => "/api/v1/wallet/withdrawals/fee-estimate".to_owned(),
        };
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }

    /// One of the caller's withdrawals.
    pub async fn withdrawal(&self, id: uuid::Uuid) -> Result<Withdrawal, Error> {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/wallet/withdrawals/{id}"),
            None::<&()>,
            true,
        )
        .await
    }

    /// One page of the caller's withdrawals, newest first.
    pub async fn withdrawals(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<WithdrawalPage, Error> {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", crate::urlencode(cursor)));
        }
        let mut path = String::from("/api/v1/wallet/withdrawals");
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        self.send(reqwest::Method::GET, &path, None::<&()>, true)
            .await
    }
}

/// A withdrawal as admins see it.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminWithdrawal {
    /// Withdrawal id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// `requested`, `signed`, `broadcast`, `confirmed` or `failed`.
    pub state: String,
    /// Why it is stuck (`not_built`, `not_relayed`, `not_mined`), if it is.
    pub stuck: Option<String>,
    /// The destination.
    pub address: String,
    /// XMR it receives.
    pub amount: String,
    /// Its share of the network fee, once built.
    pub fee: Option<String>,
    /// The transaction, once built.
    pub txid: Option<String>,
    /// Times the worker relayed the transaction.
    pub relay_attempts: Option<u64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When requested, unix ms.
    pub requested_at_ms: u64,
    /// When it last changed, unix ms.
    pub updated_at_ms: u64,
}

#[derive(Deserialize)]
struct StuckWithdrawals {
    items: Vec<AdminWithdrawal>,
}

impl Client {
    /// Admin: withdrawals stuck between the ledger and the chain, the longest unchanged first.
    pub async fn admin_stuck_withdrawals(
        &self,
        limit: Option<u32>,
    ) -> Result<Vec<AdminWithdrawal>, Error> {
        let path = match limit {
            Some(limit) => format!("/api/v1/admin/withdrawals/stuck?limit={limit}"),
            None => "/api/v1/admin/withdrawals/stuck".to_owned(),
        };
        let page: StuckWithdrawals = self
            .send(reqwest::Method::GET, &path, None::<&()>, true)
            .await?;
        Ok(page.items)
    }

    /// Admin: asks the wallet worker to re-drive a withdrawal (relay its transaction again if
    /// it is broadcast and not mined).
    pub async fn admin_redrive_withdrawal(&self, id: Uuid) -> Result<AdminWithdrawal, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/admin/withdrawals/{id}/redrive"),
            None::<&()>,
            true,
        )
        .await
    }
}
