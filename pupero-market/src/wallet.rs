//! A user's own wallet, read: their balance and statement, their withdrawals with their
//! transactions, their deposits, and what a withdrawal would cost them now.
//!
//! Lists are pages, newest first, with a cursor made from the last row of a page and parsed
//! back here, and nowhere else.

use pupero_core::limits::MIN_WITHDRAWAL;
use pupero_core::withdrawal::WithdrawalAmount;
use pupero_core::{Piconero, Timestamp, UserId};
use uuid::Uuid;

use crate::Market;
use crate::admin::{is_full, page_size};
use crate::error::Error;
use crate::store::{
    DepositRow, MAX_DEPOSITS_PER_PAGE, MAX_WITHDRAWALS_PER_PAGE, WithdrawalRow, WithdrawalTxRow,
};
use crate::trades::IdempotencyKey;
use crate::two_factor::SecondFactorProof;

/// Deposits or withdrawals per page when the caller does not say.
pub const DEFAULT_WALLET_PAGE: u32 = 20;

/// A withdrawal as its owner sees it: with its transaction once built.
#[derive(Debug, Clone)]
pub struct OwnWithdrawal {
    /// The withdrawal.
    pub withdrawal: WithdrawalRow,
    /// Its transaction, once built (one pays up to 15 withdrawals of different users).
    pub tx: Option<WithdrawalTxRow>,
}

/// A page of a user's withdrawals, newest first.
#[derive(Debug, Clone)]
pub struct WithdrawalPage {
    /// The withdrawals.
    pub withdrawals: Vec<OwnWithdrawal>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of a user's deposits, newest first.
#[derive(Debug, Clone)]
pub struct DepositPage {
    /// The deposits.
    pub deposits: Vec<DepositRow>,
    /// Confirmations after which a deposit is credited.
    pub confirmations_required: u64,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// What a withdrawal costs a user now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeEstimate {
    /// The wallet's network fee for a withdrawal to one address; `None` when it cannot say.
    pub fee: Option<Piconero>,
    /// Held with a withdrawal on top of its amount.
    pub fee_reserve: Piconero,
    /// The smallest amount a withdrawal sends.
    pub min_amount: Piconero,
    /// The user's available balance.
    pub available: Piconero,
    /// The largest amount a withdrawal can ask now, if any.
    pub max_amount: Option<Piconero>,
    /// About what a withdrawal of everything sends now, if anything.
    pub all_amount: Option<Piconero>,
    /// With an amount asked: what a withdrawal of it holds now (the amount and the fee
    /// reserve, or the whole available balance for everything).
    pub total: Option<Piconero>,
    /// With an amount asked: whether the available balance covers it.
    pub covered: Option<bool>,
}

/// A withdrawals cursor, `<requested_at_ms>.<id>` of the previous page's last withdrawal.
fn parse_withdrawal_cursor(cursor: Option<&str>) -> Result<Option<(Timestamp, Uuid)>, Error> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || Error::validation("invalid cursor");
    let (at, id) = cursor.split_once('.').ok_or_else(invalid)?;
    Ok(Some((
        Timestamp::parse_unix_ms(at).map_err(|_| invalid())?,
        id.parse::<Uuid>().map_err(|_| invalid())?,
    )))
}

/// A deposits cursor, `<first_seen_ms>.<txid>` of the previous page's last deposit.
fn parse_deposit_cursor(cursor: Option<&str>) -> Result<Option<(Timestamp, String)>, Error> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || Error::validation("invalid cursor");
    let (at, txid) = cursor.split_once('.').ok_or_else(invalid)?;
    let at = Timestamp::parse_unix_ms(at).map_err(|_| invalid())?;
    if pupero_wallet::Txid::from_hex(txid).is_none() {
        return Err(invalid());
    }
    Ok(Some((at, txid.to_ascii_lowercase())))
}

impl Market {
    /// `withdrawal` with its transaction, once built.
    async fn with_tx(&self, withdrawal: WithdrawalRow) -> Result<OwnWithdrawal, Error> {
        let tx = match withdrawal.tx {
            Some(id) => self.store.withdrawal_tx(id).await?,
            None => None,
        };
        Ok(OwnWithdrawal { withdrawal, tx })
    }

    /// Requests a withdrawal ([`Market::request_withdrawal`]) and returns it as its owner
    /// sees it (a replayed request's transaction may be built already); `true` when it is new.
    pub async fn withdraw(
        &self,
        caller: &pupero_core::Caller,
        key: &IdempotencyKey,
        destination: &str,
        amount: &str,
        password: Option<&str>,
        second_factor: SecondFactorProof<'_>,
    ) -> Result<(OwnWithdrawal, bool), Error> {
        let (row, created) = self
            .request_withdrawal(caller, key, destination, amount, password, second_factor)
            .await?;
        Ok((self.with_tx(row).await?, created))
    }

    /// `user`'s withdrawal `id`; 404 for anyone else's.
    pub async fn own_withdrawal(&self, user: UserId, id: Uuid) -> Result<OwnWithdrawal, Error> {
        let row = self
            .store
            .withdrawal(id)
            .await?
            .filter(|w| w.user == user)
            .ok_or_else(|| Error::not_found("no such withdrawal"))?;
        self.with_tx(row).await
    }

    /// `user`'s withdrawals, newest first, `limit` per page (default
    /// [`DEFAULT_WALLET_PAGE`], at most [`MAX_WITHDRAWALS_PER_PAGE`]) after `cursor`.
    pub async fn own_withdrawals(
        &self,
        user: UserId,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<WithdrawalPage, Error> {
        let limit = page_size(limit, DEFAULT_WALLET_PAGE, MAX_WITHDRAWALS_PER_PAGE)?;
        let before = parse_withdrawal_cursor(cursor)?;
        let rows = self.store.withdrawals_of(user, before, limit).await?;
        let next_cursor = rows
            .last()
            .filter(|_| is_full(&rows, limit))
            .map(|r| format!("{}.{}", r.requested_at.as_unix_ms(), r.id));
        let tx_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.tx).collect();
        let txs = self.store.withdrawal_txs(&tx_ids).await?;
        let withdrawals = rows
            .into_iter()
            .map(|withdrawal| {
                // A transaction pays up to 15 withdrawals of different users; each row gets a copy.
                let tx = withdrawal.tx.and_then(|id| txs.get(&id).cloned());
                OwnWithdrawal { withdrawal, tx }
            })
            .collect();
        Ok(WithdrawalPage {
            withdrawals,
            next_cursor,
        })
    }

    /// `user`'s deposits, newest first, `limit` per page (default [`DEFAULT_WALLET_PAGE`], at
    /// most [`MAX_DEPOSITS_PER_PAGE`]) after `cursor`.
    pub async fn own_deposits(
        &self,
        user: UserId,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DepositPage, Error> {
        let limit = page_size(limit, DEFAULT_WALLET_PAGE, MAX_DEPOSITS_PER_PAGE)?;
        let before = parse_deposit_cursor(cursor)?;
        let deposits = self.store.deposits_of(user, before, limit).await?;
        let next_cursor = deposits
            .last()
            .filter(|_| is_full(&deposits, limit))
            .map(|r| format!("{}.{}", r.first_seen.as_unix_ms(), r.key.txid));
        Ok(DepositPage {
            deposits,
            confirmations_required: self.settings.deposits.confirmations(),
            next_cursor,
        })
    }

    /// What a withdrawal costs `user` now: the wallet's fee estimate and the reserve held for
    /// it ([`Market::withdrawal_fee_quote`]) against their available balance; with `asked`,
    /// what a withdrawal of it would hold and whether the balance covers it.
    pub async fn withdrawal_fee_estimate(
        &self,
        user: UserId,
        asked: Option<WithdrawalAmount>,
    ) -> Result<FeeEstimate, Error> {
        let quote = self.withdrawal_fee_quote().await?;
        let available = self.available_balance(user).await?;
        let total = asked.map(|asked| match asked {
            WithdrawalAmount::Exactly(amount) => amount.checked_add(quote.reserve()).ok(),
            WithdrawalAmount::Everything => Some(available),
        });
        let covered = total.map(|t| {
            t.is_some_and(|t| t <= available)
                && asked.is_some_and(|a| quote.holds(a, available).is_ok())
        });
        Ok(FeeEstimate {
            fee: quote.estimate(),
            fee_reserve: quote.reserve(),
            min_amount: MIN_WITHDRAWAL,
            available,
            max_amount: quote.max_amount(available),
            all_amount: quote.everything_sends_about(available),
            total: total.flatten(),
            covered,
        })
    }
}
