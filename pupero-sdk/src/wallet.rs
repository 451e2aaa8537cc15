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
    /// XMR the address receives, decimal; the network fee is charged on top.
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

/// A withdrawal.
#[derive(Debug, Clone, Deserialize)]
pub struct Withdrawal {
    /// Withdrawal id.
    pub id: uuid::Uuid,
    /// `requested`, `signed`, `broadcast`, `confirmed` or `failed` (refunded).
    pub state: String,
    /// The destination.
    pub address: String,
    /// XMR it receives.
    pub amount: String,
    /// The fee reserve held with it.
    pub max_fee: String,
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
