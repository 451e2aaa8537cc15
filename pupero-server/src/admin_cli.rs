//! `pupero admin …`: what only the operator at the machine may do, such as creating the first
//! admin. Never reachable over HTTP.

use pupero_core::ledger::{LedgerStore, NewAccount};
use pupero_core::{AccountId, EmailAddress, Password, Role, UserId, Username};

use crate::app::AppState;
use crate::audit::{AuditEntry, AuditEvent};
use crate::store::CreateUserRefusal;

/// Why a user could not be created from the command line.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// A value is invalid.
    #[error("{0}")]
    Invalid(#[from] pupero_core::Error),
    /// The username or e-mail is taken.
    #[error("{0:?}")]
    Taken(CreateUserRefusal),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] pupero_ledger::Error),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] crate::security::HashError),
}

/// Creates a user with `role` directly in the database.
pub async fn create_user(
    state: &AppState,
    username: &str,
    email: Option<&str>,
    password: &str,
    role: Role,
) -> Result<UserId, CreateUserError> {
    let username = Username::parse(username)?;
    let email = email.map(EmailAddress::parse).transpose()?;
    let password = Password::parse(password)?;
    let hash = state.hasher.hash(&password).await?;
    let user = UserId::new_v7();
    if let Some(Err(e)) = state
        .ledger
        .create_accounts(&[NewAccount::user_xmr(AccountId::user_xmr(user))])
        .await?
        .first()
    {
        return Err(CreateUserError::Invalid((*e).into()));
    }
    state
        .store
        .create_user(user, &username, email.as_ref(), &hash, role, state.now())
        .await?
        .map_err(CreateUserError::Taken)?;
    state
        .audit(
            AuditEntry::of(AuditEvent::Registered, Some(user))
                .detail(format!("command line, role={}", role.as_str())),
        )
        .await;
    Ok(user)
}
