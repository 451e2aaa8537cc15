//! Getting back into an account: password-reset links and e-mail verification.

use serde::Serialize;

use crate::{Client, Error, SecondFactor};

#[derive(Serialize)]
struct ResetRequest<'a> {
    login: &'a str,
}

#[derive(Serialize)]
struct ResetConfirmation<'a> {
    token: &'a str,
    new_password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
}

#[derive(Serialize)]
struct Verification<'a> {
    token: &'a str,
}

impl Client {
    /// Asks for a password-reset link for the account that `login` (username or e-mail
    /// address) names. The link goes to the account's verified e-mail address, if it has one;
    /// the server answers the same either way.
    pub async fn request_password_reset(&self, login: &str) -> Result<(), Error> {
        self.request(
            reqwest::Method::POST,
            "/api/v1/auth/password-reset",
            Some(&ResetRequest { login }),
            false,
        )
        .await
        .map(drop)
    }

    /// Sets a new password with the token of a reset link (the `token` parameter of the
    /// link), with the second factor when the account has 2FA on. Every session of the
    /// account ends and every API key is revoked: log in again with the new password. The
    /// error's code is `INVALID_TOKEN` for a link that is no longer good, `TOTP_REQUIRED` or
    /// `INVALID_TOTP` for a missing or wrong second factor (the link stays good then).
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
        second_factor: Option<SecondFactor<'_>>,
    ) -> Result<(), Error> {
        let (totp_code, recovery_code) = SecondFactor::fields(second_factor);
        let body = ResetConfirmation {
            token,
            new_password,
            totp_code,
            recovery_code,
        };
        self.request(
            reqwest::Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Some(&body),
            false,
        )
        .await
        .map(drop)
    }

    /// Verifies an e-mail address with the token of the link sent to it (the `token`
    /// parameter of the link). The error's code is `INVALID_TOKEN` for a link that is no
    /// longer good.
    pub async fn verify_email(&self, token: &str) -> Result<(), Error> {
        self.request(
            reqwest::Method::POST,
            "/api/v1/auth/verify-email",
            Some(&Verification { token }),
            false,
        )
        .await
        .map(drop)
    }

    /// Sends a new verification link to the caller's e-mail address; earlier links stop
    /// working. The error's code is `NO_EMAIL` without an address, `EMAIL_ALREADY_VERIFIED`
    /// when it is verified.
    pub async fn send_email_verification(&self) -> Result<(), Error> {
        self.request(
            reqwest::Method::POST,
            "/api/v1/me/email/verification",
            None::<&()>,
            true,
        )
        .await
        .map(drop)
    }
}
