//! Requests and responses of the API.

use serde::Serialize;

pub use pupero_api::{Balance, Health, LedgerEntry, LedgerPage, Me, Registered, Tokens};

#[derive(Serialize)]
pub(crate) struct RegisterRequest<'a> {
    pub(crate) username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<&'a str>,
    pub(crate) password: &'a str,
}

#[derive(Serialize)]
pub(crate) struct LoginRequest<'a> {
    pub(crate) login: &'a str,
    pub(crate) password: &'a str,
}

#[derive(Serialize)]
pub(crate) struct RefreshRequest<'a> {
    pub(crate) refresh_token: &'a str,
}
