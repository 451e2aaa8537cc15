//! Passwords (Argon2id on the blocking pool) and secrets that stand for people: opaque refresh
//! tokens, API keys and mail tokens, stored as hashes.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use pupero_core::Password;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Argon2id memory cost in KiB (OWASP's first recommended configuration: 19 MiB, 2 passes,
/// 1 lane).
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
const ARGON2_ITERATIONS: u32 = 2;
/// Argon2id lanes.
const ARGON2_LANES: u32 = 1;

/// Hashes computed at once. Each takes 19 MiB and a core for tens of milliseconds; more in
/// parallel than there are cores only queues inside the blocking pool and costs memory.
const MAX_CONCURRENT_HASHES: usize = 4;

/// Bytes of randomness in a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;

/// Hashes and verifies passwords, bounded in concurrency, off the async threads.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the user does not exist, so that a
    /// login costs the same either way.
    dummy_hash: Arc<str>,
}

/// Why password hashing failed (never "wrong password": that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .unwrap_or_else(|e| panic!("constant Argon2 parameters are valid: {e}"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One Argon2id hash with Pupero's parameters, on the calling thread (blocking). The pool's
/// [`PasswordHasherPool::hash`] is what request handlers use; this is for benchmarks and tools.
pub fn hash_blocking(password: &[u8]) -> Result<String, HashError> {
    argon2()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

impl PasswordHasherPool {
    /// A pool; computes the dummy hash once.
    pub async fn new() -> Result<PasswordHasherPool, HashError> {
        let random: [u8; 32] = rand::random();
        let dummy = tokio::task::spawn_blocking(move || hash_blocking(&random))
            .await
            .map_err(|e| HashError(e.to_string()))??;
        Ok(PasswordHasherPool {
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_HASHES)),
            dummy_hash: dummy.into(),
        })
    }

    /// The PHC string of a new Argon2id hash of `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let password = password.expose().to_vec();
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    /// Whether `password` matches `stored` (a PHC string). With `None` (no such user) it
    /// verifies against a dummy hash and answers `false`, taking the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let exists = stored.is_some();
        let hash: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.as_bytes().to_vec();
        let matched = tokio::task::spawn_blocking(move || {
            argon2().verify_password(&password, hash.as_str()).is_ok()
        })
        .await
        .map_err(|e| HashError(e.to_string()))?;
        Ok(exists && matched)
    }
}

/// A new opaque refresh token: `prt_` and 256 random bits, URL-safe base64.
pub fn new_refresh_token() -> String {
    let bytes: [u8; REFRESH_TOKEN_BYTES] = rand::random();
    format!(
        "prt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Bytes of randomness in an API key.
const API_KEY_BYTES: usize = 32;

/// How every API key starts, so that people and secret scanners recognise one.
pub const API_KEY_MARKER: &str = "pk_";

/// Characters of an API key shown in lists: the marker and 8 more (48 of its 256 random bits),
/// enough to tell keys apart, far too few to help guess one.
pub const API_KEY_PREFIX_CHARS: usize = 11;

/// Length of every API key: the marker and 32 bytes in unpadded base64 (43 characters).
pub const API_KEY_CHARS: usize = 46;

/// A new API key: `pk_` and 256 random bits, URL-safe base64. Stored only as [`token_hash`].
pub fn new_api_key() -> String {
    let bytes: [u8; API_KEY_BYTES] = rand::random();
    format!(
        "{API_KEY_MARKER}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The part of an API key shown in lists.
pub fn api_key_prefix(key: &str) -> &str {
    key.get(..API_KEY_PREFIX_CHARS).unwrap_or(key)
}

/// Whether `key` has the shape of an API key, checked before any database lookup.
pub fn looks_like_api_key(key: &str) -> bool {
    key.len() == API_KEY_CHARS
        && key.strip_prefix(API_KEY_MARKER).is_some_and(|random| {
            random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// How every token sent by mail starts (e-mail verification and password-reset links), so
/// that people and secret scanners recognise one.
pub const MAIL_TOKEN_MARKER: &str = "pmt_";

/// Bytes of randomness in a token sent by mail: as much as a session's refresh token, since a
/// reset link opens the account while it lasts.
const MAIL_TOKEN_BYTES: usize = 32;

/// Length of every mail token: the marker and 32 bytes in unpadded base64 (43 characters).
const MAIL_TOKEN_CHARS: usize = 47;

/// A one-time token sent by mail: `pmt_` and 256 random bits, URL-safe base64 (no character
/// of it needs escaping in a link). Stored only as [`token_hash`]; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MailToken(String);

impl MailToken {
    /// A new random token.
    pub fn generate() -> MailToken {
        let bytes: [u8; MAIL_TOKEN_BYTES] = rand::random();
        MailToken(format!(
            "{MAIL_TOKEN_MARKER}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// A token as a client sent it back, if it has the shape of one: checked before any
    /// database lookup, so that no other text reaches one.
    pub fn parse(text: &str) -> Option<MailToken> {
        let shaped = text.len() == MAIL_TOKEN_CHARS
            && text.strip_prefix(MAIL_TOKEN_MARKER).is_some_and(|random| {
                random
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        shaped.then(|| MailToken(text.to_owned()))
    }

    /// The token itself, for the link in the mail.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored of it.
    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl std::fmt::Debug for MailToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailToken(***)")
    }
}

/// What is stored of an opaque token: its SHA-256, hex. The tokens carry 256 bits of
/// randomness, so a fast hash is enough (no dictionary to attack), and a lookup by hash works.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_one_shape() {
        let key = new_api_key();
        assert!(looks_like_api_key(&key), "{key}");
        assert_ne!(key, new_api_key());
        assert_eq!(api_key_prefix(&key).len(), API_KEY_PREFIX_CHARS);
        assert!(key.starts_with(api_key_prefix(&key)));
        for bad in [
            "",
            "pk_",
            "prt_x",
            &key[1..],
            &format!("{key}x"),
            &key.replace("pk_", "pk-"),
        ] {
            assert!(!looks_like_api_key(bad), "{bad}");
        }
        let mut not_base64 = key.clone();
        not_base64.replace_range(5..6, "+");
        assert!(!looks_like_api_key(&not_base64));
    }

    #[test]
    fn mail_tokens_have_one_shape_and_never_print() {
        let token = MailToken::generate();
        assert_eq!(token.expose().len(), MAIL_TOKEN_CHARS);
        assert_eq!(MailToken::parse(token.expose()), Some(token.clone()));
        assert_ne!(token, MailToken::generate());
        assert_eq!(token.hash(), token_hash(token.expose()));
        assert_eq!(format!("{token:?}"), "MailToken(***)");
        let text = token.expose();
        for bad in [
            "",
            "pmt_",
            &text[1..],
            &format!("{text}x"),
            &text.replace("pmt_", "pk__"),
            &format!("{}+", &text[..MAIL_TOKEN_CHARS - 1]),
            &format!("{}é", &text[..MAIL_TOKEN_CHARS - 2]),
        ] {
            assert_eq!(MailToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
