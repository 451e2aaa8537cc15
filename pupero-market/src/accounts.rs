//! Accounts: creating a user (the one place it happens, for registration and the operator
//! alike), registering over the API, what the owner reads of their account (profile, balance,
//! statement) and what anyone reads of it (the public profile), and deleting it.

use std::collections::HashMap;
use std::net::IpAddr;

use pupero_core::ledger::{Cause, HistoryQuery, LedgerStore, MovementPage, NewAccount};
use pupero_core::{
    AccountId, EmailAddress, Password, Piconero, Role, TransferId, UserId, Username,
};

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::feedback::ProfileStats;
use crate::store::{CreateUserRefusal, UserRow};
use crate::two_factor::SecondFactorProof;

/// A registration, parsed.
#[derive(Debug)]
pub struct Registration {
    /// The name people see.
    pub username: Username,
    /// Where recovery links go, if given; a verification link is sent to it.
    pub email: Option<EmailAddress>,
    /// The password, hashed before it is stored.
    pub password: Password,
}

/// A user's XMR balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// What can be spent, traded or withdrawn now.
    pub available: Piconero,
    /// Held by open trades (escrow) and withdrawals in progress.
    pub held: Piconero,
    /// Arriving, not yet spendable.
    pub incoming: Piconero,
}

/// A page of a user's statement: the movements of their balance account, newest first.
#[derive(Debug)]
pub struct Statement {
    /// The user's balance account, to tell money in from money out.
    pub account: AccountId,
    /// The movements, and where the next page starts.
    pub page: MovementPage,
    /// The transaction of each deposit on the page, by its transfer.
    pub txids: HashMap<TransferId, String>,
}

/// What anyone may see of a user.
#[derive(Debug)]
pub struct PublicProfile {
    /// The user.
    pub user: UserRow,
    /// Their trading record.
    pub stats: ProfileStats,
}

/// An account deletion, asked for by its owner.
#[derive(Debug, Clone, Copy)]
pub struct AccountDeletion<'a> {
    /// The current password.
    pub password: &'a str,
    /// The second factor, when 2FA is on.
    pub proof: SecondFactorProof<'a>,
    /// Give up a remainder too small to withdraw, and close the account.
    pub forfeit_remainder: bool,
}

impl Market {
    /// Creates a user with `role`: their balance account, then the user. `USERNAME_TAKEN` or
    /// `EMAIL_TAKEN` when another has the name or address. Nothing is audited here: who
    /// creates says how ([`Market::register`], `operator::create_user`).
    pub async fn create_user(
        &self,
        username: &Username,
        email: Option<&EmailAddress>,
        password: &Password,
        role: Role,
    ) -> Result<UserId, Error> {
        let hash = self
            .hasher
            .hash(password)
            .await
            .map_err(|e| Error::internal(&e))?;
        let user = UserId::new_v7();
        // The balance account first: its id derives from the user's, so creating it is
        // idempotent, and an account without a user is harmless where the reverse is not.
        let created = self
            .ledger
            .create_accounts(&[NewAccount::user_xmr(AccountId::user_xmr(user))])
            .await?;
        if let Some(Err(e)) = created.first() {
            return Err(Error::internal(e));
        }
        match self
            .store
            .create_user(user, username, email, &hash, role, self.now())
            .await?
        {
            Ok(()) => Ok(user),
            Err(CreateUserRefusal::UsernameTaken) => {
                Err(Error::new(ErrorKind::UsernameTaken, "username is taken"))
            }
            Err(CreateUserRefusal::EmailTaken) => {
                Err(Error::new(ErrorKind::EmailTaken, "e-mail address is taken"))
            }
        }
    }

    /// Registers a plain user from `client` ([`Market::create_user`]), audited; a verification
    /// link goes to the address, if one was given. The per-address limit is checked first, before
    /// the costly hash and the lookups that say whether a name is taken: 429 `RATE_LIMITED`.
    pub async fn register(
        &self,
        registration: Registration,
        client: Option<std::net::IpAddr>,
    ) -> Result<UserId, Error> {
        if let Err(refused) = self.limits.check_register_ip(client) {
            return Err(crate::ratelimit::audit_refusal(
                self,
                client,
                "registration: too many from this address",
                refused,
            )
            .await);
        }
        let client_ip = client.map(|ip| ip.to_string());
        let Registration {
            username,
            email,
            password,
        } = registration;
        match self
            .create_user(&username, email.as_ref(), &password, Role::User)
            .await
        {
            Ok(user) => {
                tracing::info!(user_id = %user, "registered");
                self.audit(AuditEntry::of(AuditEvent::Registered, Some(user)).from_ip(client_ip))
                    .await;
                if let Some(email) = &email {
                    self.send_email_verification_after(user, username.as_str(), email)
                        .await;
                }
                Ok(user)
            }
            Err(e) if e.kind() == ErrorKind::EmailTaken => {
                self.audit(
                    AuditEntry::of(AuditEvent::EmailTaken, None)
                        .from_ip(client_ip)
                        .detail("registration"),
                )
                .await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

impl Market {
    /// The account of `user` as its owner sees it.
    pub async fn profile(&self, user: UserId) -> Result<UserRow, Error> {
        self.store
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))
    }

    /// The XMR balance of `user`: zero before their account has moved any money.
    pub async fn balance(&self, user: UserId) -> Result<Balance, Error> {
        let Some(account) = self.ledger.account(AccountId::user_xmr(user)).await? else {
            return Ok(Balance {
                available: Piconero::ZERO,
                held: Piconero::ZERO,
                incoming: Piconero::ZERO,
            });
        };
        let b = account.balances();
        let available = account.available().ok_or_else(|| {
            Error::internal(&pupero_ledger::Error::InvariantViolated(
                "negative user balance".into(),
            ))
        })?;
        Ok(Balance {
            available,
            held: b.debits_pending,
            incoming: b.credits_pending,
        })
    }

    /// A page of the statement of `user`: every movement of their balance with its cause, a
    /// hold and its outcome as one, and the transaction of each deposit.
    pub async fn statement(&self, user: UserId, query: HistoryQuery) -> Result<Statement, Error> {
        let account = AccountId::user_xmr(user);
        let page = self.ledger.account_movements(account, query).await?;
        let deposits: Vec<_> = page
            .movements
            .iter()
            .filter(|m| m.transfer.cause() == Cause::Deposit)
            .map(|m| m.transfer.id)
            .collect();
        let txids = self.store.deposit_txids(user, &deposits).await?;
        Ok(Statement {
            account,
            page,
            txids,
        })
    }

    /// The public profile of the user named `username` (any case), with their trading record.
    pub async fn public_profile(&self, username: &str) -> Result<PublicProfile, Error> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        let stats = self.profile_stats(user.id).await?;
        Ok(PublicProfile { user, stats })
    }

    /// Deletes the account of `user`, asked for from `client`. The password and the second
    /// factor first; then, when asked to, a remainder too small to withdraw (with nothing held
    /// or incoming) goes to the platform through the ledger, once. Refused with 409
    /// `ACCOUNT_HAS_FUNDS` while the account holds or awaits any money.
    pub async fn delete_account(
        &self,
        user: UserId,
        deletion: AccountDeletion<'_>,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        self.verify_password(user, deletion.password).await?;
        self.verify_second_factor(user, deletion.proof).await?;
        let account_id = AccountId::user_xmr(user);
        let mut detail = String::new();
        if deletion.forfeit_remainder
            && let Some(account) = self.ledger.account(account_id).await?
        {
            let b = account.balances();
            let remainder = account.available().unwrap_or(Piconero::ZERO);
            if b.debits_pending.is_zero()
                && b.credits_pending.is_zero()
                && let Some(forfeit) = pupero_core::withdrawal::forfeit_plan(user, remainder)
            {
                self.ledger.transfer(forfeit).await?;
                detail = format!("forfeited {} XMR", remainder.to_xmr_string());
            }
        }
        if let Some(account) = self.ledger.account(account_id).await? {
            let b = account.balances();
            let empty = account.posted().is_some_and(|p| p.is_zero())
                && b.debits_pending.is_zero()
                && b.credits_pending.is_zero();
            if !empty {
                return Err(Error::new(
                    ErrorKind::AccountHasFunds,
                    "withdraw or trade away every piconero before deleting the account (a \
                     remainder of at most 0.0101 XMR may be given up with forfeit_remainder)",
                ));
            }
        }
        self.store.delete_user(user, self.now()).await?;
        self.audit(
            AuditEntry::of(AuditEvent::AccountDeleted, Some(user))
                .from_ip(client.map(|ip| ip.to_string()))
                .detail(detail),
        )
        .await;
        Ok(())
    }
}
