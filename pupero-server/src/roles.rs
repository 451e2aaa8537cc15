//! Roles: which part of the API a `pupero serve` process serves (`--role`, `PUPERO_ROLE`), the
//! seed's services on their ports (auth 8001, offers 8002, ledger 8003, wallet 8004) from one
//! binary and one OpenAPI document. [`owner`] is the one routing table: which role serves a
//! path. Every role authenticates every request itself, exactly as `all` does.

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

/// What a `pupero serve` process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Everything, with every job (the default: one process).
    #[default]
    All,
    /// Registration, login, 2FA, the account, API keys, users and the audit log (admins).
    Auth,
    /// Offers, payment methods, public profiles, prices.
    Offers,
    /// Balances and history, trades and their chat, disputes, events, fees.
    Ledger,
    /// Deposits and withdrawals, and the wallet jobs; reconciliation.
    Wallet,
    /// `pupero worker --listen`: the wallet jobs, and no resource of the API; only what every
    /// process answers (`/healthz`, `/readyz`, `/metrics`). Not a `serve` role.
    Worker,
}

impl Role {
    /// Every role but `all`, in port order.
    pub const SERVICES: [Role; 4] = [Role::Auth, Role::Offers, Role::Ledger, Role::Wallet];

    /// `all`, `auth`, `offers`, `ledger` or `wallet`.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::All]
            .into_iter()
            .chain(Role::SERVICES)
            .find(|role| role.as_str() == s)
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Auth => "auth",
            Role::Offers => "offers",
            Role::Ledger => "ledger",
            Role::Wallet => "wallet",
            Role::Worker => "worker",
        }
    }

    /// The port it listens on unless told otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Role::All => 8000,
            Role::Auth => 8001,
            Role::Offers => 8002,
            Role::Ledger => 8003,
            Role::Wallet => 8004,
            // No port of the seed's: `pupero worker --listen` names its address.
            Role::Worker => 8005,
        }
    }

    /// Whether a process of this role answers `path`.
    pub fn serves(self, path: &str) -> bool {
        self == Role::All || owner(path).is_none_or(|owner| owner == self)
    }

    /// Whether a process of this role may run the wallet jobs (deposit scans, withdrawals, the
    /// sweeper): only it talks to the wallet.
    pub fn runs_wallet_jobs(self) -> bool {
        matches!(self, Role::All | Role::Wallet | Role::Worker)
    }
}

/// Path prefixes and the role serving them; the longest prefix that matches whole segments
/// decides.
const ROUTES: &[(&str, Role)] = &[
    ("/api/v1/auth", Role::Auth),
    ("/api/v1/me", Role::Auth),
    ("/api/v1/api-keys", Role::Auth),
    ("/api/v1/admin/users", Role::Auth),
    ("/api/v1/admin/audit", Role::Auth),
    ("/api/v1/me/offers", Role::Offers),
    ("/api/v1/offers", Role::Offers),
    ("/api/v1/payment-methods", Role::Offers),
    ("/api/v1/users", Role::Offers),
    ("/api/v1/prices", Role::Offers),
    ("/api/v1/admin/prices", Role::Offers),
    ("/api/v1/balance", Role::Ledger),
    ("/api/v1/ledger", Role::Ledger),
    ("/api/v1/trades", Role::Ledger),
    ("/api/v1/moderation", Role::Ledger),
    ("/api/v1/events", Role::Ledger),
    ("/api/v1/fees", Role::Ledger),
    ("/api/v1/admin/fees", Role::Ledger),
    ("/api/v1/wallet", Role::Wallet),
    ("/api/v1/admin/withdrawals", Role::Wallet),
    ("/api/v1/admin/reconciliation", Role::Wallet),
    ("/api/v1/me/matrix", Role::Ledger),
    // The homeserver pushes the Matrix bridge's events here: they become trade chat messages.
    ("/_matrix", Role::Ledger),
];

/// The role that serves `path`; `None` for what every process answers itself (`/healthz`,
/// `/readyz`, the documents) or that no role serves.
pub fn owner(path: &str) -> Option<Role> {
    ROUTES
        .iter()
        .filter(|(prefix, _)| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, role)| *role)
}

/// The prefixes of the routing table, for tests that hold it to the OpenAPI document.
pub fn routes() -> impl Iterator<Item = (&'static str, Role)> {
    ROUTES.iter().copied()
}

/// Answers `404 NOT_FOUND` for the paths another role serves.
pub struct ServeRole(pub Role);

impl<E: Endpoint> Middleware<E> for ServeRole {
    type Output = ServeRoleEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        ServeRoleEndpoint(ep, self.0)
    }
}

/// See [`ServeRole`].
pub struct ServeRoleEndpoint<E>(E, Role);

impl<E: Endpoint> Endpoint for ServeRoleEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !self.1.serves(req.uri().path()) {
            return Ok(crate::error::ApiError::not_found(format!(
                "not served by the {} role",
                self.1.as_str()
            ))
            .into_response());
        }
        Ok(self.0.call(req).await?.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_whole_prefix_decides() {
        assert_eq!(owner("/api/v1/me"), Some(Role::Auth));
        assert_eq!(owner("/api/v1/me/offers"), Some(Role::Offers));
        assert_eq!(owner("/api/v1/trades/x/messages"), Some(Role::Ledger));
        assert_eq!(
            owner("/api/v1/admin/withdrawals/x/redrive"),
            Some(Role::Wallet)
        );
        assert_eq!(owner("/api/v1/meta"), None, "whole segments only");
        assert_eq!(owner("/healthz"), None);
        assert!(Role::Offers.serves("/readyz"));
        assert!(!Role::Offers.serves("/api/v1/balance"));
        assert!(Role::All.serves("/api/v1/balance"));
    }

    #[test]
    fn roles_parse_by_name() {
        for role in [Role::All].into_iter().chain(Role::SERVICES) {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("gateway-ish"), None);
    }
}
