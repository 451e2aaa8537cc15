//! People: usernames, e-mail addresses, passwords and roles, parsed at the edge.

use std::fmt;

use crate::error::{Error, Result};
use crate::text::{self, Lines};

/// Shortest username: three characters keep names readable and hard to confuse.
pub const USERNAME_MIN_LEN: usize = 3;
/// Longest username; it appears in URLs, chat and profile pages.
pub const USERNAME_MAX_LEN: usize = 32;
/// Longest e-mail address (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;
/// Shortest password. Long passphrases beat composition rules (NIST SP 800-63B).
pub const PASSWORD_MIN_LEN: usize = 10;
/// Longest password, in bytes: bounds the work a login request can ask the hasher for.
pub const PASSWORD_MAX_BYTES: usize = 256;

/// Text on the wire: a value of `$ty` travels as its `as_str` and is read back with `parse`.
macro_rules! serde_as_text {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(Username, EmailAddress);

/// A username: 3–32 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit.
/// Unique regardless of case; shown as typed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    pub fn parse(s: &str) -> Result<Username> {
        // The ASCII rule below refuses these too; checked first so that the error names the
        // character the writer may not see.
        text::check(s, Lines::One)?;
        let len = s.chars().count();
        if !(USERNAME_MIN_LEN..=USERNAME_MAX_LEN).contains(&len) {
            return Err(Error::InvalidUser("username must be 3 to 32 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(Error::InvalidUser(
                "username may only contain letters, digits, '_', '-' and '.'",
            ));
        }
        if !s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::InvalidUser(
                "username must start with a letter or digit",
            ));
        }
        Ok(Username(s.to_owned()))
    }

    /// The username as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that must be unique.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

/// An e-mail address, lower-cased. Checked for shape only: the only real check is a mail that
/// arrives.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address of the form `local@domain.tld`. The local part may be non-ASCII
    /// (RFC 6531) but holds nothing that [`text::check`] refuses: the address is shown to
    /// admins.
    pub fn parse(s: &str) -> Result<EmailAddress> {
        if s.len() > EMAIL_MAX_LEN {
            return Err(Error::InvalidUser("invalid e-mail address"));
        }
        text::check(s, Lines::One)?;
        if s.chars().any(char::is_whitespace) {
            return Err(Error::InvalidUser("invalid e-mail address"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(Error::InvalidUser("invalid e-mail address"));
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
        if local.is_empty() || local.contains('@') || !domain_ok {
            return Err(Error::InvalidUser("invalid e-mail address"));
        }
        Ok(EmailAddress(s.to_lowercase()))
    }

    /// The address, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(..)")
    }
}

/// A password that meets the length policy. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks the length policy: at least 10 characters, at most 256 bytes.
    pub fn parse(s: &str) -> Result<Password> {
        if s.chars().count() < PASSWORD_MIN_LEN {
            return Err(Error::InvalidUser(
                "password must be at least 10 characters",
            ));
        }
        if s.len() > PASSWORD_MAX_BYTES {
            return Err(Error::InvalidUser("password must be at most 256 bytes"));
        }
        Ok(Password(s.to_owned()))
    }

    /// The password's bytes, for the hasher.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A six-digit code from an authenticator app (TOTP, RFC 6238). `Debug` never shows it: it is a
/// credential for as long as it is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

/// Digits in a TOTP code: what every common authenticator app shows.
pub const TOTP_CODE_DIGITS: usize = 6;

impl TotpCode {
    /// Parses exactly six ASCII digits; spaces, signs and other digits are refused.
    pub fn parse(s: &str) -> Result<TotpCode> {
        if s.len() != TOTP_CODE_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidUser("a 2FA code is exactly 6 digits"));
        }
        Ok(TotpCode(s.to_owned()))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(***)")
    }
}

/// What a person may do on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Trades, deposits and withdraws their own money.
    User,
    /// Also reads and resolves disputes.
    Moderator,
    /// Also runs the platform: users, roles, audit log.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 3] = [Role::User, Role::Moderator, Role::Admin];

    /// The stable name of the role.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// The role from its stable name.
    pub fn parse(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(Error::InvalidUser("unknown role"))
    }

    /// Whether this role includes everything `other` may do.
    pub fn includes(self, other: Role) -> bool {
        self >= other
    }
}

/// What an API key may do. A key never does more than its scopes; account management (password,
/// 2FA, keys, admin) needs a logged-in session, never a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read balances, history, offers, trades.
    Read,
    /// Post offers, open and act on trades.
    Trade,
    /// Request withdrawals.
    Withdraw,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Trade, Scope::Withdraw];

    /// The stable name of the scope.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Trade => "trade",
            Scope::Withdraw => "withdraw",
        }
    }

    /// The scope from its stable name.
    pub fn parse(s: &str) -> Result<Scope> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or(Error::InvalidUser("unknown scope"))
    }

    const fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Trade => 2,
            Scope::Withdraw => 4,
        }
    }
}

/// A set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// No scope at all.
    pub const NONE: Scopes = Scopes(0);

    /// The set of `scopes`.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |bits, s| bits | s.bit()))
    }

    /// Parses names such as `["read", "trade"]`; empty or unknown names are refused.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Scopes> {
        if names.is_empty() {
            return Err(Error::InvalidUser("at least one scope is required"));
        }
        let scopes = names
            .iter()
            .map(|n| Scope::parse(n.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Scopes::of(&scopes))
    }

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes, in a stable order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The stored bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set from stored bits; unknown bits are refused.
    pub fn from_bits(bits: u8) -> Option<Scopes> {
        (bits & !7 == 0).then_some(Scopes(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in [
            "bob",
            "Alice_99",
            "x.y-z",
            "a23456789012345678901234567890ab",
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "_bob",
            ".bob",
            "bob smith",
            "bób",
            "a234567890123456789012345678901234",
            "bob\n",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Username::parse("BoB").unwrap().key(), "bob");
        for (hidden, code) in [
            ("bob\u{202E}", "U+202E"),
            ("al\u{200B}ice", "U+200B"),
            ("\u{2066}eve", "U+2066"),
            ("bob\u{AD}by", "U+00AD"),
            ("bob\u{3164}", "U+3164"),
        ] {
            let refused = Username::parse(hidden).unwrap_err().to_string();
            assert!(refused.starts_with(code), "{hidden:?}: {refused}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse("Bob@Example.ORG").unwrap().as_str(),
            "bob@example.org"
        );
        for bad in [
            "",
            "bob",
            "@x.org",
            "bob@",
            "bob@org",
            "bob@x..org",
            "bo b@x.org",
            "bob@x.org.",
            "a@b@c.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            EmailAddress::parse("Jürgen@Example.ORG").unwrap().as_str(),
            "jürgen@example.org"
        );
        for hidden in [
            "bob\u{202E}@x.org",
            "b\u{200B}ob@x.org",
            "\u{FEFF}bob@x.org",
        ] {
            assert!(
                matches!(
                    EmailAddress::parse(hidden),
                    Err(Error::ForbiddenCharacter(_))
                ),
                "{hidden:?}"
            );
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough!").is_ok());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("long enough!").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn totp_codes() {
        assert_eq!(TotpCode::parse("012345").unwrap().as_str(), "012345");
        for bad in [
            "",
            "12345",
            "1234567",
            "12 456",
            "+12345",
            "-12345",
            "12345a",
            "１２３４５６",
            " 123456",
            "123456\n",
        ] {
            assert!(TotpCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", TotpCode::parse("123456").unwrap()),
            "TotpCode(***)"
        );
    }

    #[test]
    fn scopes() {
        let s = Scopes::parse(&["read", "withdraw"]).unwrap();
        assert!(
            s.contains(Scope::Read) && s.contains(Scope::Withdraw) && !s.contains(Scope::Trade)
        );
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Scope::Read, Scope::Withdraw]
        );
        assert!(Scopes::parse::<&str>(&[]).is_err());
        assert!(Scopes::parse(&["admin"]).is_err());
        assert_eq!(Scopes::from_bits(s.bits()), Some(s));
        assert_eq!(Scopes::from_bits(8), None);
    }

    #[test]
    fn roles() {
        assert!(Role::Admin.includes(Role::Moderator));
        assert!(!Role::User.includes(Role::Moderator));
        assert_eq!(Role::parse("moderator").unwrap(), Role::Moderator);
        assert!(Role::parse("superadmin").is_err());
    }
}
