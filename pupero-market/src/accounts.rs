//! Accounts: creating a user (the one place it happens, for registration and the operator
//! alike) and registering over the API.

use pupero_core::ledger::{LedgerStore, NewAccount};
use pupero_core::{AccountId, EmailAddress, Password, Role, UserId, Username};

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::store::CreateUserRefusal;

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
