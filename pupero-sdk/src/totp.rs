//! Two-factor authentication (TOTP): status, setup, confirmation, disabling, and logging in
//! with a code.

use serde::Serialize;

use crate::{Client, Error, Tokens};

pub use pupero_api::{RecoveryCodes, TotpSetup, TotpStatus};

#[derive(Serialize)]
struct LoginRequest<'a> {
    login: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

#[derive(Serialize)]
struct ConfirmRequest<'a> {
    password: &'a str,
    code: &'a str,
}

#[derive(Serialize)]
struct DisableRequest<'a> {
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

/// The second factor sent with a request.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// Six digits from the authenticator app.
    Code(&'a str),
    /// A one-time recovery code.
    RecoveryCode(&'a str),
}

impl<'a> SecondFactor<'a> {
    pub(crate) fn split(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            SecondFactor::Code(code) => (Some(code), None),
            SecondFactor::RecoveryCode(code) => (None, Some(code)),
        }
    }

    /// The request fields of an optional second factor: (`totp_code`, `recovery_code`).
    pub(crate) fn fields(factor: Option<SecondFactor<'a>>) -> (Option<&'a str>, Option<&'a str>) {
        factor.map_or((None, None), SecondFactor::split)
    }
}

impl Client {
    /// Logs in to an account with 2FA, with the authenticator app's current code, and keeps the
    /// session's tokens. (Without 2FA the code is ignored.)
    pub async fn login_with_totp(
        &self,
        login: &str,
        password: &str,
        code: &str,
    ) -> Result<Tokens, Error> {
        self.login_with_second_factor(login, password, SecondFactor::Code(code))
            .await
    }

    /// Logs in with a one-time recovery code instead of a 2FA code.
    pub async fn login_with_recovery_code(
        &self,
        login: &str,
        password: &str,
        recovery_code: &str,
    ) -> Result<Tokens, Error> {
        self.login_with_second_factor(login, password, SecondFactor::RecoveryCode(recovery_code))
            .await
    }

    async fn login_with_second_factor(
        &self,
        login: &str,
        password: &str,
        factor: SecondFactor<'_>,
    ) -> Result<Tokens, Error> {
        let (totp_code, recovery_code) = factor.split();
        let body = LoginRequest {
            login,
            password,
            totp_code,
            recovery_code,
        };
        self.start_session(&body).await
    }

    /// Whether 2FA is on for the logged-in user.
    pub async fn totp_status(&self) -> Result<TotpStatus, Error> {
        self.send(reqwest::Method::GET, "/api/v1/auth/2fa", None::<&()>, true)
            .await
    }

    /// Starts 2FA setup (replacing an unconfirmed one): a new secret, its URI and QR code.
    pub async fn totp_setup(&self) -> Result<TotpSetup, Error> {
        self.send(
            reqwest::Method::POST,
            "/api/v1/auth/2fa/setup",
            None::<&()>,
            true,
        )
        .await
    }

    /// Turns 2FA on with the password and a current code of the setup's secret; returns the
    /// recovery codes. Every other session of the account ends.
    pub async fn totp_confirm(&self, password: &str, code: &str) -> Result<RecoveryCodes, Error> {
        self.send(
            reqwest::Method::POST,
            "/api/v1/auth/2fa/confirm",
            Some(&ConfirmRequest { password, code }),
            true,
        )
        .await
    }

    /// Turns 2FA off; needs the password and a current code or a recovery code.
    pub async fn totp_disable(
        &self,
        password: &str,
        factor: SecondFactor<'_>,
    ) -> Result<(), Error> {
        let (code, recovery_code) = factor.split();
        let body = DisableRequest {
            password,
            code,
            recovery_code,
        };
        self.request(
            reqwest::Method::POST,
            "/api/v1/auth/2fa/disable",
            Some(&body),
            true,
        )
        .await
        .map(drop)
    }
}

impl Error {
    /// 2FA is on and the request lacked a code (`TOTP_REQUIRED`).
    pub fn is_totp_required(&self) -> bool {
        self.code() == Some("TOTP_REQUIRED")
    }

    /// The 2FA code or recovery code was wrong, expired or already used (`INVALID_TOTP`).
    pub fn is_invalid_totp(&self) -> bool {
        self.code() == Some("INVALID_TOTP")
    }
}
