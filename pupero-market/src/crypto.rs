//! Encryption of secrets at rest (2FA secrets, queued mails): XChaCha20-Poly1305 under the data key.
//!
//! A sealed value is `base64(nonce || ciphertext || tag)` with a fresh random 192-bit nonce per
//! encryption (random nonces of that size never collide in practice). The associated data binds
//! it to its purpose and its user, so a ciphertext copied into another user's row, or into
//! another column, does not decrypt.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use pupero_core::UserId;

use crate::settings::DATA_KEY_LEN;

/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

/// Largest sealed text accepted for opening: far above any secret Pupero stores, it bounds the
/// work a corrupt row can cause.
const MAX_SEALED_LEN: usize = 4096;

/// What a sealed value is for; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A user's TOTP secret.
    TotpSecret,
    /// A mail waiting in the outbox: its links open the account while they last.
    Mail,
}

impl Purpose {
    const fn label(self) -> &'static str {
        match self {
            Purpose::TotpSecret => "pupero/totp-secret/v1",
            Purpose::Mail => "pupero/mail/v1",
        }
    }
}

/// A sealed value could not be opened: wrong key, wrong user or purpose, or altered.
#[derive(Debug, thiserror::Error)]
#[error("cannot decrypt a stored secret (wrong data key, or the value was altered or moved)")]
pub struct OpenError;

/// Seals and opens secrets with the data key. `Debug` never shows the key.
#[derive(Clone)]
pub struct DataCipher {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for DataCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataCipher(***)")
    }
}

fn associated_data(purpose: Purpose, user: UserId) -> Vec<u8> {
    format!("{}:{user}", purpose.label()).into_bytes()
}

impl DataCipher {
    /// A cipher under `key`.
    pub fn new(key: &[u8; DATA_KEY_LEN]) -> DataCipher {
        DataCipher {
            cipher: XChaCha20Poly1305::new(&Key::from(*key)),
        }
    }

    /// Encrypts `plaintext` for `user` and `purpose`: `base64(nonce || ciphertext)`.
    pub fn seal(&self, purpose: Purpose, user: UserId, plaintext: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(purpose, user);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption fails only for messages of gigabytes.
            .unwrap_or_else(|e| panic!("sealing a small secret cannot fail: {e}"));
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Decrypts a value sealed for `user` and `purpose`.
    pub fn open(&self, purpose: Purpose, user: UserId, sealed: &str) -> Result<Vec<u8>, OpenError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(OpenError);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce_bytes, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce_array = <[u8; NONCE_LEN]>::try_from(nonce_bytes).map_err(|_| OpenError)?;
        let aad = associated_data(purpose, user);
        self.cipher
            .decrypt(
                &XNonce::from(nonce_array),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> DataCipher {
        DataCipher::new(&rand::random())
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let cipher = cipher();
        let user = UserId::new_v7();
        let a = cipher.seal(Purpose::TotpSecret, user, b"twenty bytes secret!");
        let b = cipher.seal(Purpose::TotpSecret, user, b"twenty bytes secret!");
        assert_ne!(a, b, "random nonce per encryption");
        assert!(!a.contains("twenty"));
        for sealed in [&a, &b] {
            assert_eq!(
                cipher.open(Purpose::TotpSecret, user, sealed).unwrap(),
                b"twenty bytes secret!"
            );
        }
    }

    #[test]
    fn wrong_key_user_or_tampering_fail() {
        let cipher = cipher();
        let user = UserId::new_v7();
        let sealed = cipher.seal(Purpose::TotpSecret, user, b"secret");
        assert!(
            DataCipher::new(&rand::random())
                .open(Purpose::TotpSecret, user, &sealed)
                .is_err(),
            "another key"
        );
        assert!(
            cipher
                .open(Purpose::TotpSecret, UserId::new_v7(), &sealed)
                .is_err(),
            "moved to another user"
        );
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let tampered = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert!(
                cipher.open(Purpose::TotpSecret, user, &tampered).is_err(),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        for garbage in ["", "not base64!", "AAAA", &"A".repeat(MAX_SEALED_LEN + 4)] {
            assert!(cipher.open(Purpose::TotpSecret, user, garbage).is_err());
        }
    }
}
