//! Two-factor authentication: TOTP (RFC 6238) as standard authenticator apps do it — SHA-1,
//! 6 digits, 30-second steps, one step of clock skew either way — and one-time recovery codes.
//!
//! A code is accepted once: the store keeps the last accepted time step and accepts only later
//! ones, with a compare-and-set, so a code seen by an attacker (shoulder, phishing proxy, log)
//! is worthless once used. Secrets are stored encrypted ([`crate::crypto`]); recovery codes as
//! SHA-256 hashes (they carry 80 random bits, so a fast hash is enough, as for refresh tokens).
//!
//! The owner manages it from a logged-in session: setup gives a new secret, a code of it with
//! the password turns 2FA on (with new recovery codes), and the password with a code turns it
//! off; either change ends the account's other sessions.

use std::net::IpAddr;

use pupero_core::{TotpCode, UserId};
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Secret, Totp, TotpError};
use uuid::Uuid;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::crypto::Purpose;
use crate::error::{Error, ErrorKind};
use crate::security::token_hash;
use crate::store::SetupOutcome;

/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Pupero";

/// Seconds per time step: what authenticator apps use.
const TOTP_STEP_SECS: u64 = 30;

/// Steps of clock drift tolerated either way (RFC 6238 recommends one): a code stays usable for
/// about 90 seconds around its step, enough for a slow typist, short for a thief.
const TOTP_SKEW_STEPS: u16 = 1;

/// Digits per code.
const TOTP_DIGITS: u8 = 6;

/// Recovery codes made at once: enough to survive losing the phone a few times.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Characters of a recovery code, grouped by four for reading: 16 × 5 bits = 80 random bits.
const RECOVERY_CODE_CHARS: usize = 16;

/// Crockford's base32 alphabet: no `i`, `l`, `o`, `u`, so codes read back without confusion.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Longest recovery code input looked at; anything longer is wrong anyway.
const MAX_RECOVERY_CODE_INPUT: usize = 64;

/// Smallest width and height of the QR code picture, in pixels.
const QR_MIN_PIXELS: u32 = 200;

/// A freshly generated secret, in every form the setup screen needs.
pub struct NewSecret {
    /// The raw secret (160 bits), to be sealed and stored.
    pub bytes: Vec<u8>,
    /// The secret in base32, to type into an app by hand.
    pub base32: String,
    /// `otpauth://totp/Pupero:<username>?secret=…&issuer=Pupero…`.
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

fn totp(secret: Vec<u8>, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_step_duration(TOTP_STEP_SECS)
        .with_skew(TOTP_SKEW_STEPS)
        .with_secret(secret)
        .with_issuer(Some(TOTP_ISSUER))
        .with_account_name(account)
        .build()
}

/// A new random secret for `account` (the username), with its URI and QR code.
pub fn new_secret(account: &str) -> Result<NewSecret, TotpError> {
    let bytes = Secret::generate().as_bytes().to_vec();
    let totp = totp(bytes.clone(), account)?;
    let otpauth_uri = totp.to_url()?;
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS)
                .build()
        })
        // An otpauth URI of a 32-character username fits a QR code many times over.
        .unwrap_or_else(|e| panic!("an otpauth URI fits in a QR code: {e}"));
    Ok(NewSecret {
        base32: totp.secret().to_base32(),
        bytes,
        otpauth_uri,
        qr_svg,
    })
}

/// The time step whose code `code` is, within the skew around `unix_secs`; `None` if it is
/// no valid code now.
pub fn code_step(secret: &[u8], code: &TotpCode, unix_secs: u64) -> Option<u64> {
    let totp = totp(secret.to_vec(), "").ok()?;
    totp.check(code.as_str(), unix_secs)
}

/// New recovery codes, `xxxx-xxxx-xxxx-xxxx`, shown to the user once.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let random: [u8; RECOVERY_CODE_CHARS] = rand::random();
            let mut code = String::with_capacity(RECOVERY_CODE_CHARS + 3);
            for (i, byte) in random.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                // 32 divides 256, so masking keeps every character equally likely.
                code.push(char::from(RECOVERY_ALPHABET[usize::from(byte & 31)]));
            }
            code
        })
        .collect()
}

/// What is stored of a recovery code: the SHA-256 of the user and the code's canonical form
/// (lower case, no dashes or spaces, Crockford's look-alikes mapped). `None` when the input
/// cannot be a recovery code.
pub fn recovery_code_hash(user: UserId, code: &str) -> Option<String> {
    if code.len() > MAX_RECOVERY_CODE_INPUT {
        return None;
    }
    let canonical: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    let valid = canonical.len() == RECOVERY_CODE_CHARS
        && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then(|| token_hash(&format!("{user}:{canonical}")))
}

/// What a request offers as its second factor: a 2FA code, or instead a recovery code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondFactorProof<'a> {
    /// The authenticator app's current code.
    pub code: Option<&'a str>,
    /// One unused recovery code, instead of `code`.
    pub recovery_code: Option<&'a str>,
}

impl<'a> SecondFactorProof<'a> {
    /// A proof from a request's two optional fields.
    pub fn new(code: Option<&'a str>, recovery_code: Option<&'a str>) -> SecondFactorProof<'a> {
        SecondFactorProof {
            code,
            recovery_code,
        }
    }
}

/// How the second factor was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// The user has no 2FA: nothing to show.
    NotEnabled,
    /// A fresh TOTP code.
    Totp,
    /// A recovery code, now used up.
    RecoveryCode,
}

/// Why the second factor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorRefusal {
    /// 2FA is on and neither a code nor a recovery code was given.
    Required,
    /// The code is wrong, expired or already used; or the recovery code is unknown or used.
    Invalid,
}

impl SecondFactorRefusal {
    /// The error kind of this refusal for a step-up (someone logged in is asked again).
    pub const fn kind(self) -> ErrorKind {
        match self {
            SecondFactorRefusal::Required => ErrorKind::TotpRequired,
            SecondFactorRefusal::Invalid => ErrorKind::InvalidTotp,
        }
    }

    /// The error kind of this refusal at login (nobody is authenticated yet).
    pub const fn login_kind(self) -> ErrorKind {
        match self {
            SecondFactorRefusal::Required => ErrorKind::LoginTotpRequired,
            SecondFactorRefusal::Invalid => ErrorKind::LoginInvalidTotp,
        }
    }

    /// A message for people.
    pub const fn message(self) -> &'static str {
        match self {
            SecondFactorRefusal::Required => {
                "2FA is on: a code from the authenticator app is required"
            }
            SecondFactorRefusal::Invalid => "wrong, expired or already used 2FA code",
        }
    }
}

impl Market {
    /// Checks the second factor of `user` and uses it up: a TOTP code (`code`) or, instead, a
    /// recovery code. Without 2FA it is [`SecondFactor::NotEnabled`] whatever was given.
    ///
    /// Guesses are bounded twice: a per-user rate limit, and the same progressive lockout as
    /// passwords (keyed by the user), counted before the code is checked; 429 when either says
    /// no.
    ///
    /// Every refused code is audited (`second_factor_failed`), wherever it was tried.
    pub async fn check_second_factor(
        &self,
        user: UserId,
        proof: SecondFactorProof<'_>,
    ) -> Result<Result<SecondFactor, SecondFactorRefusal>, Error> {
        let Some(row) = self.store.totp(user).await?.filter(|row| row.enabled) else {
            return Ok(Ok(SecondFactor::NotEnabled));
        };
        if proof.code.is_none() && proof.recovery_code.is_none() {
            return Ok(Err(SecondFactorRefusal::Required));
        }
        self.limits.check_second_factor(user)?;
        let key = crate::ratelimit::ThrottleKey::second_factor(user);
        if let Err(locked) = self.limits.begin_attempt(&key).await {
            self.audit(
                AuditEntry::of(AuditEvent::RateLimited, Some(user))
                    .detail("second factor: locked after failed attempts"),
            )
            .await;
            return Err(locked);
        }
        let outcome = self
            .use_second_factor(user, &row, proof.code, proof.recovery_code)
            .await?;
        match outcome {
            Ok(_) => self.limits.attempt_succeeded(&key).await?,
            Err(refusal) => {
                self.audit(
                    AuditEntry::of(AuditEvent::SecondFactorFailed, Some(user))
                        .detail(refusal.message()),
                )
                .await;
            }
        }
        Ok(outcome)
    }

    async fn use_second_factor(
        &self,
        user: UserId,
        row: &crate::store::TotpRow,
        code: Option<&str>,
        recovery_code: Option<&str>,
    ) -> Result<Result<SecondFactor, SecondFactorRefusal>, Error> {
        match (code, recovery_code) {
            (Some(code), _) => {
                let Ok(code) = TotpCode::parse(code) else {
                    return Ok(Err(SecondFactorRefusal::Invalid));
                };
                let secret = self
                    .data_cipher
                    .open(Purpose::TotpSecret, user, &row.secret_enc)
                    .map_err(|e| Error::internal(&e))?;
                let unix_secs = self.now().as_unix_ms() / 1000;
                let Some(step) = code_step(&secret, &code, unix_secs) else {
                    return Ok(Err(SecondFactorRefusal::Invalid));
                };
                if self.store.totp_use_step(user, step).await? {
                    Ok(Ok(SecondFactor::Totp))
                } else {
                    tracing::warn!(user_id = %user, "2FA code replayed");
                    Ok(Err(SecondFactorRefusal::Invalid))
                }
            }
            (None, Some(recovery_code)) => {
                let Some(hash) = recovery_code_hash(user, recovery_code) else {
                    return Ok(Err(SecondFactorRefusal::Invalid));
                };
                if !self
                    .store
                    .totp_use_recovery_code(user, &hash, self.now())
                    .await?
                {
                    return Ok(Err(SecondFactorRefusal::Invalid));
                }
                let left = self.store.totp_recovery_codes_left(user).await?;
                self.audit(
                    AuditEntry::of(AuditEvent::RecoveryCodeUsed, Some(user))
                        .detail(format!("{left} recovery codes left")),
                )
                .await;
                Ok(Ok(SecondFactor::RecoveryCode))
            }
            (None, None) => Ok(Err(SecondFactorRefusal::Required)),
        }
    }

    /// Step-up check for sensitive actions of a logged-in user (disabling 2FA, releasing
    /// escrow, resolving a dispute, withdrawing, creating an API key, changing the e-mail
    /// address, deleting the account): Ok when 2FA is off or the code (or a recovery
    /// code) is right and unused. Refusals are 403 `TOTP_REQUIRED` or `INVALID_TOTP`: the
    /// session itself is fine, so not 401.
    pub async fn verify_second_factor(
        &self,
        user: UserId,
        proof: SecondFactorProof<'_>,
    ) -> Result<(), Error> {
        match self.check_second_factor(user, proof).await? {
            Ok(_) => Ok(()),
            Err(refusal) => Err(Error::new(refusal.kind(), refusal.message())),
        }
    }
}

impl Market {
    /// The step-up of an action that sends money away (a withdrawal): a session shows the
    /// second factor when 2FA is on, else the password, so that a stolen access token alone
    /// moves nothing out. An API key was made with the password (and the second factor), and
    /// shows the second factor when 2FA is on; it has no password to show.
    pub async fn step_up(
        &self,
        caller: &pupero_core::Caller,
        password: Option<&str>,
        proof: SecondFactorProof<'_>,
    ) -> Result<(), Error> {
        let two_factor = self
            .store
            .totp(caller.user())
            .await?
            .is_some_and(|row| row.enabled);
        if two_factor || !caller.is_session() {
            return self.verify_second_factor(caller.user(), proof).await;
        }
        match password {
            Some(password) => self.verify_password(caller.user(), password).await,
            None => Err(Error::new(
                ErrorKind::PasswordRequired,
                "confirm with your password (or turn on 2FA and use its code)",
            )),
        }
    }
}

/// Whether 2FA is on for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorStatus {
    /// Logins (and sensitive actions) need a code from the authenticator app.
    pub enabled: bool,
    /// Recovery codes not used yet (0 when 2FA is off).
    pub recovery_codes_left: u32,
}

fn already_enabled() -> Error {
    Error::new(
        ErrorKind::TotpAlreadyEnabled,
        "2FA is already on; disable it first",
    )
}

impl Market {
    /// Whether 2FA is on for `user`, and how many recovery codes are left.
    pub async fn two_factor_status(&self, user: UserId) -> Result<TwoFactorStatus, Error> {
        let enabled = self.store.totp(user).await?.is_some_and(|row| row.enabled);
        let recovery_codes_left = if enabled {
            self.store.totp_recovery_codes_left(user).await?
        } else {
            0
        };
        Ok(TwoFactorStatus {
            enabled,
            recovery_codes_left,
        })
    }

    /// Starts 2FA setup for `user` with a new secret, stored sealed and unconfirmed; replaces
    /// a setup not yet confirmed. 409 `TOTP_ALREADY_ENABLED` while 2FA is on.
    pub async fn start_two_factor_setup(&self, user: UserId) -> Result<NewSecret, Error> {
        let row = self
            .store
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        if self.store.totp(user).await?.is_some_and(|r| r.enabled) {
            return Err(already_enabled());
        }
        let new = new_secret(&row.username).map_err(|e| Error::internal(&e))?;
        let sealed = self.data_cipher.seal(Purpose::TotpSecret, user, &new.bytes);
        match self
            .store
            .totp_start_setup(user, &sealed, self.now())
            .await?
        {
            SetupOutcome::Started => Ok(new),
            SetupOutcome::AlreadyEnabled => Err(already_enabled()),
        }
    }

    /// Turns 2FA on for `user`, logged in as `session`, from `client`: the password first (a
    /// stolen session alone cannot turn 2FA on and lock the owner out), then `code` of the
    /// secret from setup (403 `INVALID_TOTP`; 409 `TOTP_NOT_ENABLED` without a setup). Returns
    /// the new one-time recovery codes, shown once. Every other session ends: it was opened
    /// without the second factor.
    pub async fn enable_two_factor(
        &self,
        user: UserId,
        session: Uuid,
        password: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<String>, Error> {
        self.verify_password(user, password).await?;
        let Some(row) = self.store.totp(user).await? else {
            return Err(Error::new(
                ErrorKind::TotpNotEnabled,
                "start 2FA setup first",
            ));
        };
        if row.enabled {
            return Err(already_enabled());
        }
        let invalid = || Error::new(ErrorKind::InvalidTotp, "wrong or expired 2FA code");
        let code = TotpCode::parse(code).map_err(|_| invalid())?;
        let secret = self
            .data_cipher
            .open(Purpose::TotpSecret, user, &row.secret_enc)
            .map_err(|e| Error::internal(&e))?;
        let step = code_step(&secret, &code, self.now().as_unix_ms() / 1000).ok_or_else(invalid)?;
        let recovery_codes = new_recovery_codes();
        let hashes = recovery_codes
            .iter()
            .map(|c| recovery_code_hash(user, c))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                Error::internal(&std::io::Error::other("a new recovery code does not parse"))
            })?;
        // Enabled only if the secret is still the one the code was checked against: a setup
        // started in between replaced it.
        if !self
            .store
            .totp_enable(user, &row.secret_enc, step, &hashes, self.now())
            .await?
        {
            return Err(invalid());
        }
        tracing::info!(user_id = %user, "2FA enabled");
        // Sessions opened without the second factor end; this one goes on.
        self.store
            .revoke_sessions(user, Some(session), "2fa_changed", self.now())
            .await?;
        self.audit(
            AuditEntry::of(AuditEvent::TotpEnabled, Some(user))
                .from_ip(client.map(|ip| ip.to_string())),
        )
        .await;
        Ok(recovery_codes)
    }

    /// Turns 2FA off for `user`, logged in as `session`, from `client`. Needs the password and
    /// a current code (or a recovery code): a stolen session alone cannot remove the second
    /// factor. 409 `TOTP_NOT_ENABLED` when it is off. Every other session ends.
    pub async fn disable_two_factor(
        &self,
        user: UserId,
        session: Uuid,
        password: &str,
        proof: SecondFactorProof<'_>,
        client: Option<IpAddr>,
    ) -> Result<(), Error> {
        if self.store.user_by_id(user).await?.is_none() {
            return Err(Error::not_found("no such user"));
        }
        if !self.store.totp(user).await?.is_some_and(|r| r.enabled) {
            return Err(Error::new(ErrorKind::TotpNotEnabled, "2FA is off"));
        }
        self.verify_password(user, password).await?;
        self.verify_second_factor(user, proof).await?;
        self.store.totp_disable(user).await?;
        // Whoever else held a session got in under the old rules; they log in again.
        self.store
            .revoke_sessions(user, Some(session), "2fa_changed", self.now())
            .await?;
        tracing::info!(user_id = %user, "2FA disabled");
        self.audit(
            AuditEntry::of(AuditEvent::TotpDisabled, Some(user))
                .from_ip(client.map(|ip| ip.to_string())),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_give_uri_qr_and_checkable_codes() {
        let new = new_secret("alice").unwrap();
        assert_eq!(new.bytes.len(), 20);
        assert!(
            new.otpauth_uri.starts_with("otpauth://totp/Pupero:alice?"),
            "{}",
            new.otpauth_uri
        );
        assert!(new.otpauth_uri.contains(&format!("secret={}", new.base32)));
        assert!(new.otpauth_uri.contains("issuer=Pupero"));
        assert!(new.qr_svg.contains("<svg"));
        assert_eq!(
            Secret::try_from_base32(&new.base32).unwrap().as_bytes(),
            new.bytes.as_slice()
        );

        let now = 1_800_000_000;
        let reference = totp(new.bytes.clone(), "alice").unwrap();
        let step = now / TOTP_STEP_SECS;
        for (offset, expected) in [(0, Some(step)), (30, Some(step + 1)), (-30, Some(step - 1))] {
            let at = now.checked_add_signed(offset).unwrap();
            let code = TotpCode::parse(&reference.generate(at).to_string()).unwrap();
            assert_eq!(code_step(&new.bytes, &code, now), expected, "{offset}");
        }
        let far = TotpCode::parse(&reference.generate(now + 90).to_string()).unwrap();
        assert_eq!(code_step(&new.bytes, &far, now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_canonically() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        let user = UserId::new_v7();
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let hash = recovery_code_hash(user, code).unwrap();
        let typed = code.to_uppercase().replace('-', " ").replace('0', "O");
        assert_eq!(recovery_code_hash(user, &typed), Some(hash.clone()));
        assert_ne!(recovery_code_hash(UserId::new_v7(), code), Some(hash));
        for bad in ["", "abcd-efgh", "uuuu-uuuu-uuuu-uuuu", &"a".repeat(80)] {
            assert_eq!(recovery_code_hash(user, bad), None, "{bad}");
        }
    }
}
