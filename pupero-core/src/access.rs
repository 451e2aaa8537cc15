//! Who is asking: the caller as the server authenticated them, and what that lets them do.
//!
//! The server turns a credential (an access token of a session, or a bot's API key) into a
//! [`Caller`] once per request; every rule that depends on who asks — a trade's steps
//! ([`crate::Trade::authorize`]), seeing a trade, the scopes of a key — reads it from here, so
//! that each rule is decided in one place.

use crate::UserId;
use crate::user::{Role, Scope, Scopes};

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a logged-in session: everything the user's role allows.
    Session,
    /// An API key: only its scopes, and never a staff power.
    ApiKey(Scopes),
}

/// What a caller must show, beyond being allowed, before an action is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// Being allowed is enough.
    None,
    /// The user's second factor (a fresh 2FA code or a recovery code) when they have 2FA on:
    /// the action moves money out of someone's reach, so a stolen session alone must not do it.
    SecondFactor,
}

/// A user making a request, as authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    user: UserId,
    role: Role,
    credential: Credential,
}

impl Caller {
    /// A logged-in session of `user`, whose role is `role` right now.
    pub const fn session(user: UserId, role: Role) -> Caller {
        Caller {
            user,
            role,
            credential: Credential::Session,
        }
    }

    /// An API key of `user` with `scopes`. Whatever the user's role, a key acts as a plain
    /// user: a leaked bot key must never moderate, administer or read disputes.
    pub const fn api_key(user: UserId, scopes: Scopes) -> Caller {
        Caller {
            user,
            role: Role::User,
            credential: Credential::ApiKey(scopes),
        }
    }

    /// The user.
    pub const fn user(&self) -> UserId {
        self.user
    }

    /// The role this caller acts with: the user's for a session, [`Role::User`] for a key.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// How the caller proved it.
    pub const fn credential(&self) -> Credential {
        self.credential
    }

    /// Whether the caller is a logged-in session (not an API key).
    pub const fn is_session(&self) -> bool {
        matches!(self.credential, Credential::Session)
    }

    /// Whether the caller may act within `scope`: any session, or a key that has it.
    pub fn has_scope(&self, scope: Scope) -> bool {
        match self.credential {
            Credential::Session => true,
            Credential::ApiKey(scopes) => scopes.contains(scope),
        }
    }

    /// Whether the caller acts with at least `role` (always false for an API key above
    /// [`Role::User`]).
    pub fn acts_as(&self, role: Role) -> bool {
        self.role.includes(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_carry_staff_powers() {
        let user = UserId::new_v7();
        let all = Scopes::of(&Scope::ALL);
        for role in [Role::User, Role::Moderator, Role::Admin] {
            let session = Caller::session(user, role);
            assert_eq!(session.role(), role);
            assert!(session.is_session());
            assert!(Scope::ALL.iter().all(|s| session.has_scope(*s)));
        }
        let key = Caller::api_key(user, all);
        assert_eq!(key.role(), Role::User);
        assert!(!key.acts_as(Role::Moderator));
        assert!(!key.is_session());
        let read_only = Caller::api_key(user, Scopes::of(&[Scope::Read]));
        assert!(read_only.has_scope(Scope::Read));
        assert!(!read_only.has_scope(Scope::Trade));
        assert!(!read_only.has_scope(Scope::Withdraw));
    }
}
