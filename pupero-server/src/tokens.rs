//! Access tokens: short-lived HS256 JWTs naming a user and a session. The session is checked
//! on every request, so a token stops working when its session ends.

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use pupero_core::{Timestamp, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `typ` claim of access tokens; no other kind of token is ever accepted as one.
pub const ACCESS_TOKEN_TYPE: &str = "access";

/// The issuer claim of Pupero's tokens.
const ISSUER: &str = "pupero";

/// Clock skew tolerated when checking an access token's expiry.
const JWT_LEEWAY_SECS: u64 = 5;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: Uuid,
    /// The session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    /// Unique token id.
    pub jti: Uuid,
    /// Always [`ACCESS_TOKEN_TYPE`].
    pub typ: String,
    /// Issuer, always `pupero`.
    pub iss: String,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Expires at, unix seconds.
    pub exp: u64,
}

/// Signs and checks access tokens (HS256 only).
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Past its expiry.
    Expired,
    /// Anything else: bad signature, other algorithm, wrong type or issuer, malformed.
    Invalid,
}

impl TokenSigner {
    /// A signer with the HMAC `secret` and token lifetime.
    pub fn new(secret: &[u8], ttl_secs: u64) -> TokenSigner {
        // Pinning the algorithm list refuses `alg: none` and every algorithm but HS256.
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = JWT_LEEWAY_SECS;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    /// A new access token for `user` in `session`, and its expiry.
    pub fn issue(
        &self,
        user: UserId,
        session: Uuid,
        now: Timestamp,
    ) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let iat = now.as_unix_ms() / 1000;
        let claims = AccessClaims {
            sub: *user.as_uuid(),
            sid: session,
            jti: Uuid::new_v4(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
            iss: ISSUER.to_owned(),
            iat,
            exp: iat + self.ttl_secs,
        };
        let token = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.encoding,
        )?;
        Ok((token, self.ttl_secs))
    }

    /// The claims of a valid access token.
    pub fn check(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })?;
        if data.claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenRejection::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", 60);
        let now = Timestamp::from_unix_ms(
            u64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap(),
        );
        let user = UserId::new_v7();
        let (token, _) = signer.issue(user, Uuid::new_v4(), now).unwrap();
        assert_eq!(signer.check(&token).unwrap().sub, *user.as_uuid());
        let other = TokenSigner::new(b"another key another key another!", 60);
        assert_eq!(other.check(&token).unwrap_err(), TokenRejection::Invalid);
        let mut tampered = token.clone();
        tampered.pop();
        assert_eq!(
            signer.check(&tampered).unwrap_err(),
            TokenRejection::Invalid
        );
        let old = Timestamp::from_unix_ms(now.as_unix_ms() - 3_600_000);
        let (expired, _) = signer.issue(user, Uuid::new_v4(), old).unwrap();
        assert_eq!(signer.check(&expired).unwrap_err(), TokenRejection::Expired);
    }
}
