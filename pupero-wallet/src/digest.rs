//! HTTP digest access authentication (RFC 7616, RFC 2617) as `monero-wallet-rpc --rpc-login`
//! asks for it: algorithm MD5, `qop=auth`. No I/O: [`DigestAuth`] reads challenges and writes
//! `Authorization` headers; the client decides when to send them.
//!
//! The wallet offers two challenges in one 401 (`MD5` and `MD5-sess`, the same nonce); we
//! answer the MD5 one. A nonce is reused for later requests with a growing nonce count (`nc`),
//! so a login costs one extra round trip only for the first request and when the wallet
//! forgets the nonce (it then answers 401 again, and the client retries once).

use std::fmt::Write as _;

use md5::{Digest as _, Md5};

/// A user name and password for the wallet RPC server. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcLogin {
    username: String,
    password: String,
}

impl RpcLogin {
    /// The login `username:password` as given to `--rpc-login`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> RpcLogin {
        RpcLogin {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for RpcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcLogin")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A digest challenge (`WWW-Authenticate: Digest ...`) we can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    /// Whether the server offers `qop=auth`; without it the RFC 2069 form is used.
    qop_auth: bool,
}

impl Challenge {
    /// The first MD5 digest challenge among `headers` (the values of `WWW-Authenticate`).
    /// `MD5-sess`, other algorithms and other schemes are skipped.
    pub(crate) fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        headers.into_iter().find_map(Challenge::parse)
    }

    fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut algorithm = None;
        for (name, value) in parameters(rest)? {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => opaque = Some(value),
                "qop" => qop = Some(value),
                "algorithm" => algorithm = Some(value),
                _ => {}
            }
        }
        let md5 = algorithm.is_none_or(|a| a.eq_ignore_ascii_case("MD5"));
        if !md5 {
            return None;
        }
        let qop_auth = match qop {
            None => false,
            Some(list) => {
                let offered = list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"));
                if !offered {
                    return None;
                }
                true
            }
        };
        Some(Challenge {
            realm: realm?,
            nonce: nonce?,
            opaque,
            qop_auth,
        })
    }
}

/// `name=value` and `name="quoted value"` pairs separated by commas; `None` if malformed.
fn parameters(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_owned();
        let after = after.trim_start();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => value.push(chars.next()?.1),
                    (_, c) => value.push(c),
                }
            };
            (value, &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        pairs.push((name, value));
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(pairs)
}

/// The login and the challenge last answered, with its nonce count.
#[derive(Debug)]
pub(crate) struct DigestAuth {
    login: RpcLogin,
    challenge: Option<Challenge>,
    nonce_count: u32,
}

impl DigestAuth {
    pub(crate) fn new(login: RpcLogin) -> DigestAuth {
        DigestAuth {
            login,
            challenge: None,
            nonce_count: 0,
        }
    }

    /// Takes a new challenge (from a 401), restarting the nonce count.
    pub(crate) fn challenged(&mut self, challenge: Challenge) {
        self.challenge = Some(challenge);
        self.nonce_count = 0;
    }

    /// Forgets the challenge (after the server refused the answer to it).
    pub(crate) fn forget(&mut self) {
        self.challenge = None;
    }

    /// The `Authorization` header for the next request, if a challenge is known.
    pub(crate) fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let challenge = self.challenge.as_ref()?;
        self.nonce_count = self.nonce_count.wrapping_add(1);
        let cnonce = format!("{:032x}", rand::random::<u128>());
        Some(authorization(
            &self.login,
            challenge,
            method,
            uri,
            self.nonce_count,
            &cnonce,
        ))
    }
}

fn md5_hex(text: &str) -> String {
    let hash = Md5::digest(text.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in hash {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Quotes a header parameter value.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `Authorization` header answering `challenge` for `method uri`.
fn authorization(
    login: &RpcLogin,
    challenge: &Challenge,
    method: &str,
    uri: &str,
    nonce_count: u32,
    cnonce: &str,
) -> String {
    let ha1 = md5_hex(&format!(
        "{}:{}:{}",
        login.username, challenge.realm, login.password
    ));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let nc = format!("{nonce_count:08x}");
    let response = if challenge.qop_auth {
        md5_hex(&format!(
            "{ha1}:{}:{nc}:{cnonce}:auth:{ha2}",
            challenge.nonce
        ))
    } else {
        md5_hex(&format!("{ha1}:{}:{ha2}", challenge.nonce))
    };
    let mut header = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, algorithm=MD5, response={}",
        quoted(&login.username),
        quoted(&challenge.realm),
        quoted(&challenge.nonce),
        quoted(uri),
        quoted(&response),
    );
    if challenge.qop_auth {
        let _ = write!(header, ", qop=auth, nc={nc}, cnonce={}", quoted(cnonce));
    }
    if let Some(opaque) = &challenge.opaque {
        let _ = write!(header, ", opaque={}", quoted(opaque));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of parameter `name` in an `Authorization` header.
    fn param<'a>(header: &'a str, name: &str) -> &'a str {
        let start = header
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("{name} in {header}"))
            + name.len()
            + 2;
        let rest = &header[start..];
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        let end = rest.find(['"', ',']).unwrap_or(rest.len());
        &rest[..end]
    }

    #[test]
    fn rfc_2617_example() {
        // RFC 2617, section 3.5.
        let challenge = Challenge::pick([
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        ])
        .unwrap();
        let login = RpcLogin::new("Mufasa", "Circle Of Life");
        let header = authorization(&login, &challenge, "GET", "/dir/index.html", 1, "0a4f113b");
        assert_eq!(
            param(&header, "response"),
            "6629fae49393a05397450978507c4ef1"
        );
        assert_eq!(param(&header, "nc"), "00000001");
        assert_eq!(param(&header, "qop"), "auth");
        assert_eq!(param(&header, "opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
    }

    #[test]
    fn rfc_7616_md5_example() {
        // RFC 7616, section 3.9.1.
        let challenge = Challenge::pick([
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        ])
        .unwrap();
        let login = RpcLogin::new("Mufasa", "Circle of Life");
        let header = authorization(
            &login,
            &challenge,
            "GET",
            "/dir/index.html",
            1,
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert_eq!(
            param(&header, "response"),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn picks_the_md5_challenge_of_monero_wallet_rpc() {
        // The two headers of a 401 from monero-wallet-rpc 0.18, in the order it sends them.
        let sess = r#"Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="71+OeWhrFWVbJo3hD1y+zA==",stale=false"#;
        let md5 = r#"Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="71+OeWhrFWVbJo3hD1y+zA==",stale=false"#;
        let expected = Challenge {
            realm: "monero-rpc".into(),
            nonce: "71+OeWhrFWVbJo3hD1y+zA==".into(),
            opaque: None,
            qop_auth: true,
        };
        assert_eq!(Challenge::pick([sess, md5]), Some(expected.clone()));
        assert_eq!(Challenge::pick([md5, sess]), Some(expected));
        assert_eq!(Challenge::pick([sess]), None);
        assert_eq!(Challenge::pick([r#"Basic realm="x""#]), None);
        assert_eq!(
            Challenge::pick([r#"Digest realm="x", qop="auth-int", nonce="n""#]),
            None
        );
        assert_eq!(Challenge::pick([r#"Digest realm="x""#]), None, "no nonce");
        assert_eq!(
            Challenge::pick([r#"Digest realm="x, nonce=n"#]),
            None,
            "unclosed quote"
        );
    }

    #[test]
    fn the_nonce_count_grows_until_a_new_challenge() {
        let mut auth = DigestAuth::new(RpcLogin::new("user", "pass"));
        assert_eq!(auth.authorization("POST", "/json_rpc"), None);
        let challenge =
            Challenge::pick([r#"Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="abc""#])
                .unwrap();
        auth.challenged(challenge.clone());
        let first = auth.authorization("POST", "/json_rpc").unwrap();
        let second = auth.authorization("POST", "/json_rpc").unwrap();
        assert_eq!(param(&first, "nc"), "00000001");
        assert_eq!(param(&second, "nc"), "00000002");
        assert_ne!(param(&first, "cnonce"), param(&second, "cnonce"));
        assert_eq!(param(&first, "uri"), "/json_rpc");
        auth.challenged(challenge);
        let again = auth.authorization("POST", "/json_rpc").unwrap();
        assert_eq!(param(&again, "nc"), "00000001");
        auth.forget();
        assert_eq!(auth.authorization("POST", "/json_rpc"), None);
    }

    #[test]
    fn debug_hides_the_password() {
        let login = RpcLogin::new("user", "hunter2");
        assert!(!format!("{login:?}").contains("hunter2"));
        assert_eq!(login.username(), "user");
    }
}
