//! The caller's Monero: the deposit subaddress and the deposits seen on it.

use serde::Deserialize;
use uuid::Uuid;

use crate::{Client, Error};

pub use pupero_api::{
    AdminWithdrawal, DepositAddress, DepositPage, WithdrawalFeeEstimate, WithdrawalPage,
    WithdrawalRequest,
};
/// The wire type `DepositView`, by the name this SDK gave it first.
pub type Deposit = pupero_api::DepositView;
/// The wire type `WithdrawalView`, by the name this SDK gave it first.
pub type Withdrawal = pupero_api::WithdrawalView;

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
        request.password = password.map(pupero_api::Text::from);
        request.totp_code = totp_code.map(pupero_api::Text::from);
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
