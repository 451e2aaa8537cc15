//! What only the operator at the machine may do (`pupero admin …`), such as creating the
//! first admin or resetting the password of someone without a verified address. Never
//! reachable over HTTP.

use pupero_core::ledger::NewAccount;
use pupero_core::{AccountId, EmailAddress, Password, Role, UserId, Username};

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::recovery::PasswordChangeKind;
use crate::two_factor::{SecondFactorProof, SecondFactorRefusal};

/// Why a user could not be created from the command line.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// A value is invalid.
    #[error("{0}")]
    Invalid(#[from] pupero_core::Error),
    /// The username or e-mail is taken, or storage failed.
    #[error("{0}")]
    Refused(#[from] crate::Error),
}

/// Creates a user with `role` directly in the database ([`Market::create_user`]), audited as
/// made on the command line.
pub async fn create_user(
    state: &Market,
    username: &str,
    email: Option<&str>,
    password: &str,
    role: Role,
) -> Result<UserId, CreateUserError> {
    let username = Username::parse(username)?;
    let email = email.map(EmailAddress::parse).transpose()?;
    let password = Password::parse(password)?;
    let user = state
        .create_user(&username, email.as_ref(), &password, role)
        .await?;
    state
        .audit(
            AuditEntry::of(AuditEvent::Registered, Some(user))
                .detail(format!("command line, role={}", role.as_str())),
        )
        .await;
    Ok(user)
}

/// Why a password could not be reset from the command line.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// No such user (or the account was deleted).
    #[error("no user named {0}")]
    NoSuchUser(String),
    /// The new password is against the policy.
    #[error("{0}")]
    Invalid(#[from] pupero_core::Error),
    /// 2FA is on and its code (or a recovery code) is missing or wrong, or its lockout holds.
    #[error("{0}")]
    SecondFactor(String),
    /// Storage, hashing or the lockout failed (the log has the cause).
    #[error("the reset failed ({0}); see the log")]
    Failed(String),
}

impl From<crate::Error> for ResetPasswordError {
    fn from(error: crate::Error) -> ResetPasswordError {
        ResetPasswordError::Failed(error.code().to_owned())
    }
}

impl From<crate::store::StoreError> for ResetPasswordError {
    fn from(error: crate::store::StoreError) -> ResetPasswordError {
        ResetPasswordError::Failed(crate::error::chain(&error))
    }
}

/// Sets a new password for `username`, for people who cannot use a reset link (no verified
/// address): the operator checks who asks, out of band, and types it at the machine. When the
/// account has 2FA on, its code or a recovery code is required as well, as for a reset by
/// mail: whoever talks the operator round must still hold the second factor. Like every
/// password change it ends every session and API key and every reset link, is audited
/// (`password_reset`, "command line") and told to the verified address.
pub async fn reset_password(
    state: &Market,
    username: &str,
    new_password: &str,
    proof: SecondFactorProof<'_>,
) -> Result<(), ResetPasswordError> {
    let password = Password::parse(new_password)?;
    let user = state
        .store
        .user_by_username(username)
        .await?
        .ok_or_else(|| ResetPasswordError::NoSuchUser(username.to_owned()))?;
    if let Err(refusal) = state.check_second_factor(user.id, proof).await? {
        let hint = match refusal {
            SecondFactorRefusal::Required => {
                "2FA is on for this account: give --totp-code CODE or --recovery-code CODE"
            }
            SecondFactorRefusal::Invalid => refusal.message(),
        };
        return Err(ResetPasswordError::SecondFactor(hint.to_owned()));
    }
    state
        .replace_password(
            user.id,
            &password,
            PasswordChangeKind::ResetByOperator,
            None,
            None,
            None,
        )
        .await?;
    Ok(())
}

/// Namespace of the dev faucet's account id.
const DEV_FAUCET_ACCOUNT: u128 = 0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_d5f0;

/// Why XMR could not be credited from the command line.
#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    /// Only a development server has a faucet: real balances come from real deposits.
    #[error("crediting is refused in production mode: balances come from deposits")]
    Production,
    /// No such user.
    #[error("no user named {0}")]
    NoSuchUser(String),
    /// A value is invalid.
    #[error("{0}")]
    Invalid(#[from] pupero_core::Error),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] pupero_ledger::Error),
}

/// Credits `xmr` to `username` from a development faucet (an equity account that may go
/// negative), so that a local server can be tried without a Monero wallet. Refused in
/// production mode. Written to the ledger as an `adjustment` and to the audit log.
pub async fn credit_dev(state: &Market, username: &str, xmr: &str) -> Result<(), CreditError> {
    use pupero_core::ledger::{
        AccountCode, AccountFlags, LedgerId, NewTransfer, TransferCode, TransferOp,
    };
    if state.settings.mode != crate::settings::Mode::Dev {
        return Err(CreditError::Production);
    }
    let amount = pupero_core::Piconero::from_xmr_str(xmr)?;
    let user = state
        .store
        .user_by_username(username)
        .await?
        .ok_or_else(|| CreditError::NoSuchUser(username.to_owned()))?;
    let faucet = AccountId::from_u128(DEV_FAUCET_ACCOUNT);
    state
        .ledger
        .create_account(NewAccount {
            id: faucet,
            ledger: LedgerId::XMR,
            code: AccountCode::Equity,
            flags: AccountFlags::NONE,
        })
        .await?;
    // The balance event commits with the credit, as every balance change's does.
    let event = crate::events::NewEvent {
        user: user.id,
        kind: crate::events::EventKind::BalanceChanged,
        trade: None,
        payload: serde_json::json!({ "cause": "dev_credit" }),
    };
    state
        .ledger
        .transfer_attached(
            vec![NewTransfer::xmr(
                pupero_core::TransferId::new_v7(),
                TransferOp::Single {
                    debit: faucet,
                    credit: AccountId::user_xmr(user.id),
                    amount,
                },
                TransferCode::Adjustment,
            )],
            crate::events::EventsAttachment {
                events: vec![event],
                now: state.now(),
            },
        )
        .await?;
    state.events.notify([user.id]);
    state
        .audit(
            AuditEntry::of(AuditEvent::DevCredit, Some(user.id))
                .detail(format!("command line, {} XMR", amount.to_xmr_string())),
        )
        .await;
    Ok(())
}
