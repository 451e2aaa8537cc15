//! Monero addresses, parsed for one network.
//!
//! A [`MoneroAddress`] is only ever built by [`MoneroAddress::parse`], which checks the base58
//! encoding, the exact length for the address kind, the Keccak checksum, that both public keys
//! are points on the curve, and that the network byte is the one the caller expects. Code that
//! holds a `MoneroAddress` never has to ask again whether it is safe to send XMR to it.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Characters in a standard address or subaddress: 1 network byte, two 32-byte public keys and a
/// 4-byte checksum (69 bytes) in Monero's block base58 (8 bytes → 11 characters, 5 → 7).
const STANDARD_ADDRESS_LEN: usize = 95;

/// Characters in an integrated address: a standard address plus an 8-byte payment id (77 bytes).
const INTEGRATED_ADDRESS_LEN: usize = 106;

/// The longest string [`MoneroAddress::parse`] looks at. Integrated addresses are the longest
/// kind; checking the length first keeps the base58 decoder and the curve arithmetic away from
/// arbitrarily large input. Also the maximum length to declare on request fields.
pub const MAX_ADDRESS_LEN: usize = INTEGRATED_ADDRESS_LEN;

/// A Monero network.
///
/// The network decides the address prefixes. A `monerod --regtest` node and the wallets attached
/// to it use the **mainnet** prefixes, so a regtest deployment is configured as [`Network::Mainnet`]
/// as far as addresses are concerned.
///
/// There is deliberately no `Default`: sending to an address of the wrong network loses money,
/// so every caller names the network it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The real network (and regtest, which shares its address prefixes).
    Mainnet,
    /// The public test network.
    Testnet,
    /// The staging network.
    Stagenet,
}

impl Network {
    /// The lowercase name used in configuration and JSON: `"mainnet"`, `"testnet"`, `"stagenet"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
            Network::Stagenet => "stagenet",
        }
    }

    fn to_monero(self) -> monero::Network {
        match self {
            Network::Mainnet => monero::Network::Mainnet,
            Network::Testnet => monero::Network::Testnet,
            Network::Stagenet => monero::Network::Stagenet,
        }
    }
}

/// Prints the lowercase name, as [`Network::as_str`].
impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses exactly `"mainnet"`, `"testnet"` or `"stagenet"` (lowercase, as serde does).
impl FromStr for Network {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mainnet" => Ok(Network::Mainnet),
            "testnet" => Ok(Network::Testnet),
            "stagenet" => Ok(Network::Stagenet),
            _ => Err(Error::InvalidAddress("unknown network")),
        }
    }
}

/// What kind of address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// A primary (standard) address.
    Standard,
    /// A subaddress.
    Subaddress,
    /// A standard address with an embedded 8-byte payment id.
    Integrated,
}

/// A valid Monero address of a known network.
///
/// Holds the address exactly as given, which is its canonical base58 form: every check that
/// could reject it ran in [`MoneroAddress::parse`]. It serializes as that string; there is no
/// `Deserialize`, because parsing needs the network the deployment runs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MoneroAddress {
    text: String,
    network: Network,
    kind: AddressKind,
    payment_id: Option<[u8; 8]>,
}

impl MoneroAddress {
    /// Parses `s` as an address of `network`.
    ///
    /// Fails with [`Error::InvalidAddress`] and one of these stable reasons:
    /// - `"empty"`, `"too long"` (over [`MAX_ADDRESS_LEN`]),
    ///   `"leading or trailing whitespace"`;
    /// - `"bad length/encoding"`: not base58, or not the exact length of its kind;
    /// - `"unknown network byte"`: the prefix is no Monero address prefix;
    /// - `"bad checksum"`: the Keccak checksum does not match, usually a typo;
    /// - `"invalid public key"`: a key is not a curve point. The `monero` crate checks the keys
    ///   before the checksum, so a typo inside a key can also end up here;
    /// - `"wrong network"`: a valid address, but of another network.
    pub fn parse(s: &str, network: Network) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::InvalidAddress("empty"));
        }
        if s.len() > MAX_ADDRESS_LEN {
            return Err(Error::InvalidAddress("too long"));
        }
        if s.trim() != s {
            return Err(Error::InvalidAddress("leading or trailing whitespace"));
        }
        if s.len() != STANDARD_ADDRESS_LEN && s.len() != INTEGRATED_ADDRESS_LEN {
            return Err(Error::InvalidAddress("bad length/encoding"));
        }
        let decoded = monero::Address::from_str(s).map_err(reason)?;
        let (kind, payment_id, expected_len) = match decoded.addr_type {
            monero::AddressType::Standard => (AddressKind::Standard, None, STANDARD_ADDRESS_LEN),
            monero::AddressType::SubAddress => {
                (AddressKind::Subaddress, None, STANDARD_ADDRESS_LEN)
            }
            monero::AddressType::Integrated(id) => (
                AddressKind::Integrated,
                Some(id.to_fixed_bytes()),
                INTEGRATED_ADDRESS_LEN,
            ),
        };
        // The crate ignores bytes after the checksum, so a standard address followed by one
        // more base58 block would decode; the exact length per kind refuses it.
        if s.len() != expected_len {
            return Err(Error::InvalidAddress("bad length/encoding"));
        }
        if decoded.network != network.to_monero() {
            return Err(Error::InvalidAddress("wrong network"));
        }
        // Block base58 with per-block overflow checks is a bijection, so the input is canonical.
        debug_assert_eq!(decoded.to_string(), s, "address is not in canonical form");
        Ok(MoneroAddress {
            text: s.to_owned(),
            network,
            kind,
            payment_id,
        })
    }

    /// The network the address belongs to.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Whether it is a standard address, a subaddress or an integrated address.
    pub fn kind(&self) -> AddressKind {
        self.kind
    }

    /// The address in its base58 form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The 8-byte payment id of an integrated address; `None` for other kinds.
    pub fn payment_id(&self) -> Option<[u8; 8]> {
        self.payment_id
    }

    /// The address that receives what is sent here: an integrated address pays the standard
    /// address it is built on (its keys without the payment id); any other is itself.
    pub fn receiving_address(&self) -> MoneroAddress {
        if self.kind != AddressKind::Integrated {
            return self.clone();
        }
        let decoded = monero::Address::from_str(&self.text).expect("it parsed before");
        let standard = monero::Address::standard(
            self.network.to_monero(),
            decoded.public_spend,
            decoded.public_view,
        );
        MoneroAddress {
            text: standard.to_string(),
            network: self.network,
            kind: AddressKind::Standard,
            payment_id: None,
        }
    }
}

/// A stable reason for each way the `monero` crate refuses an address.
fn reason(e: monero::util::address::Error) -> Error {
    use monero::util::address::Error as E;
    Error::InvalidAddress(match e {
        E::InvalidChecksum => "bad checksum",
        E::InvalidMagicByte | E::Network(_) => "unknown network byte",
        E::InvalidFormat => "invalid public key",
        E::InvalidPaymentId => "bad payment id",
        E::Base58(_) | E::Encoding(_) => "bad length/encoding",
    })
}

/// Prints the base58 address.
impl fmt::Display for MoneroAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for MoneroAddress {
    /// Serializes as the base58 string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Produced by monero-wallet-rpc v0.18.0.0 (`--offline`, in mainnet mode as used with regtest,
    // and with `--testnet` / `--stagenet`): `get_address`, `create_address` (account 0) and
    // `make_integrated_address` with payment id 0123456789abcdef. An independent implementation,
    // so these also check that the `monero` crate agrees with the reference wallet.
    const MAIN_STANDARD: &str = "457E8ukatW579iRxQcYPyB5Yc8xDXoxvxgvqCmvtrgRWDUkmsMEWTDaVaCo3RQvYETeNH2irL5W51FezqLPm34iy8D4oH1h";
    const MAIN_SUB: &str = "8BU7wuneBfsiqquZn4ptKL2UmzN5TSCUu9CzNweLaW77A5GhXdvNNiqSUHMAwjo9AQ6ewHdiGp4FZ9Wtcfvjn3ikSHtNH2j";
    const MAIN_INTEGRATED: &str = "4Eou9ia5Vmb79iRxQcYPyB5Yc8xDXoxvxgvqCmvtrgRWDUkmsMEWTDaVaCo3RQvYETeNH2irL5W51FezqLPm34iyBYDsvSJngQcU5PVL8p";
    // The same wallet, `make_integrated_address` with a random payment id (e678859afd57d375).
    const MAIN_INTEGRATED_RANDOM: &str = "4Eou9ia5Vmb79iRxQcYPyB5Yc8xDXoxvxgvqCmvtrgRWDUkmsMEWTDaVaCo3RQvYETeNH2irL5W51FezqLPm34iyBguwQz3rhPGEEyAtjp";
    const TEST_STANDARD: &str = "A2YtTWyDQcZSVK23n6tRNKFpXzNdBqsoSdiKema3qbem542XdwjBmpPMmnoMCFXauDNEwJ4qdy6GLELaqet7KKqN4Xyy3WZ";
    const TEST_SUB: &str = "BcYga5cNpRM6haSLzPcDsb5fJGCYZj1gGAzEj9QFc2keEjGpoEb5Uyq6siUXZvDEkVAaqT5VUAwcUNisVwdyrFSeHNkMJHB";
    const TEST_INTEGRATED: &str = "ACFZUKni1t5SVK23n6tRNKFpXzNdBqsoSdiKema3qbem542XdwjBmpPMmnoMCFXauDNEwJ4qdy6GLELaqet7KKqN6BnMUc71Dr4U5QhUxL";
    const STAGE_STANDARD: &str = "51w1d8A9QdohKEuhSjkkwsfJdopaUdkyLXrYFUEy5krvMYTpVFWgfAdRboxFdvykQRDYjSbffHefuJXUTyf4FRLFMhbnCM5";
    const STAGE_SUB: &str = "77MiPFb4Yz777GWaNT6dNHHj42EMGUFr34GP7uXMB8BxdfTG81ZcFFFWgbgKP5iGFrWHVjCraX4f1NKgphorh3peDhVtYdV";
    const STAGE_INTEGRATED: &str = "5Bdgdvye1uKhKEuhSjkkwsfJdopaUdkyLXrYFUEy5krvMYTpVFWgfAdRboxFdvykQRDYjSbffHefuJXUTyf4FRLFXcNbbJZyeWgU3t5jit";

    /// The Monero project's general donation address (mainnet, standard).
    const DONATION: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

    // Crafted with the `monero` and `base58-monero` crates in a scratch program, from the
    // donation address's keys.
    /// The donation address followed by 8 zero bytes: the crate alone would accept it.
    const DONATION_WITH_TRAILING_BLOCK: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVPqB7NG313E71111111";
    /// Mainnet prefix and a correct checksum, but a spend key that is not a curve point.
    const NOT_A_POINT: &str = "41hXDGBj59K1LUkzM5qLs31LUkzM5qLs31LUkzM5qLs31PxJ1deYATnGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGNPfbYL";
    /// Prefix byte 7, which is no network's, with a correct checksum.
    const UNKNOWN_PREFIX: &str = "2DSr6x5KkmaBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGMU1bHv";
    /// The integrated-address prefix on a 69-byte (standard-length) body, with a correct checksum.
    const INTEGRATED_PREFIX_SHORT_BODY: &str = "4DrvGduF3ynBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGNymPD8";

    const ALL: [(&str, Network, AddressKind); 10] = [
        (MAIN_STANDARD, Network::Mainnet, AddressKind::Standard),
        (MAIN_SUB, Network::Mainnet, AddressKind::Subaddress),
        (MAIN_INTEGRATED, Network::Mainnet, AddressKind::Integrated),
        (DONATION, Network::Mainnet, AddressKind::Standard),
        (TEST_STANDARD, Network::Testnet, AddressKind::Standard),
        (TEST_SUB, Network::Testnet, AddressKind::Subaddress),
        (TEST_INTEGRATED, Network::Testnet, AddressKind::Integrated),
        (STAGE_STANDARD, Network::Stagenet, AddressKind::Standard),
        (STAGE_SUB, Network::Stagenet, AddressKind::Subaddress),
        (STAGE_INTEGRATED, Network::Stagenet, AddressKind::Integrated),
    ];

    const NETWORKS: [Network; 3] = [Network::Mainnet, Network::Testnet, Network::Stagenet];

    /// Parses `input` for `network` and compares the outcome: the kind, or the error reason.
    fn check(
        input: &str,
        network: Network,
        expected: std::result::Result<AddressKind, &'static str>,
    ) {
        let got = MoneroAddress::parse(input, network).map(|a| a.kind());
        let expected = expected.map_err(Error::InvalidAddress);
        assert_eq!(got, expected, "parsing {input:?} for {network}");
    }

    #[test]
    fn parses_every_kind_on_every_network() {
        for (text, network, kind) in ALL {
            check(text, network, Ok(kind));
            let address = MoneroAddress::parse(text, network).unwrap();
            assert_eq!(address.network(), network);
            assert_eq!(address.as_str(), text);
            assert_eq!(address.to_string(), text);
        }
    }

    #[test]
    fn rejects_valid_addresses_of_other_networks() {
        for (text, network, _) in ALL {
            for other in NETWORKS.into_iter().filter(|n| *n != network) {
                check(text, other, Err("wrong network"));
            }
        }
    }

    #[test]
    fn payment_id_only_on_integrated_addresses() {
        let wallet_id = Some([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        for (text, network) in [
            (MAIN_INTEGRATED, Network::Mainnet),
            (TEST_INTEGRATED, Network::Testnet),
            (STAGE_INTEGRATED, Network::Stagenet),
        ] {
            assert_eq!(
                MoneroAddress::parse(text, network).unwrap().payment_id(),
                wallet_id
            );
        }
        let random = MoneroAddress::parse(MAIN_INTEGRATED_RANDOM, Network::Mainnet).unwrap();
        assert_eq!(
            random.payment_id(),
            Some([0xe6, 0x78, 0x85, 0x9a, 0xfd, 0x57, 0xd3, 0x75])
        );
        for (text, network, kind) in ALL {
            if kind != AddressKind::Integrated {
                assert_eq!(
                    MoneroAddress::parse(text, network).unwrap().payment_id(),
                    None
                );
            }
        }
    }

    #[test]
    fn an_integrated_address_pays_its_standard_address() {
        for (integrated, standard, network) in [
            (MAIN_INTEGRATED, MAIN_STANDARD, Network::Mainnet),
            (MAIN_INTEGRATED_RANDOM, MAIN_STANDARD, Network::Mainnet),
            (TEST_INTEGRATED, TEST_STANDARD, Network::Testnet),
            (STAGE_INTEGRATED, STAGE_STANDARD, Network::Stagenet),
        ] {
            let paid = MoneroAddress::parse(integrated, network)
                .unwrap()
                .receiving_address();
            assert_eq!(paid, MoneroAddress::parse(standard, network).unwrap());
        }
        for (address, network, _) in ALL {
            let address = MoneroAddress::parse(address, network).unwrap();
            if address.kind() != AddressKind::Integrated {
                assert_eq!(address.receiving_address(), address);
            }
        }
    }

    #[test]
    fn one_changed_character_is_always_rejected() {
        const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        for (text, network, _) in ALL {
            for i in 0..text.len() {
                let original = &text[i..=i];
                let replacement = if original == "2" { "3" } else { "2" };
                assert!(BASE58.contains(replacement));
                let typo = format!("{}{replacement}{}", &text[..i], &text[i + 1..]);
                assert!(
                    MoneroAddress::parse(&typo, network).is_err(),
                    "accepted {typo:?}"
                );
            }
        }
    }

    #[test]
    fn reports_a_checksum_typo_as_bad_checksum() {
        // The 94th character falls in the last base58 block, which holds the last byte of the
        // view key and the checksum: the keys stay valid and only the checksum disagrees.
        let typo = format!("{}2{}", &DONATION[..93], &DONATION[94..]);
        check(&typo, Network::Mainnet, Err("bad checksum"));
        // Swapping two adjacent characters in the middle of the spend key.
        let mut swapped = DONATION.as_bytes().to_vec();
        swapped.swap(20, 21);
        let swapped = String::from_utf8(swapped).unwrap();
        assert!(MoneroAddress::parse(&swapped, Network::Mainnet).is_err());
    }

    #[test]
    fn rejects_bad_input_with_stable_reasons() {
        let main = Network::Mainnet;
        check("", main, Err("empty"));
        check(&format!("{DONATION}{DONATION}"), main, Err("too long"));
        check(&"4".repeat(10_000), main, Err("too long"));
        check(
            &format!(" {DONATION}"),
            main,
            Err("leading or trailing whitespace"),
        );
        check(
            &format!("{DONATION}\n"),
            main,
            Err("leading or trailing whitespace"),
        );
        check(
            &format!("{}\u{a0}", &DONATION[..94]),
            main,
            Err("leading or trailing whitespace"),
        );
        // Truncated, extended, or not base58 at all.
        check(&DONATION[..94], main, Err("bad length/encoding"));
        check(&DONATION[..60], main, Err("bad length/encoding"));
        check(&MAIN_INTEGRATED[..105], main, Err("bad length/encoding"));
        check(&format!("{DONATION}1"), main, Err("bad length/encoding"));
        check("hello", main, Err("bad length/encoding"));
        check(&"0".repeat(95), main, Err("bad length/encoding"));
        check(&"z".repeat(95), main, Err("bad length/encoding"));
        check(
            &format!("{}l", &DONATION[..94]),
            main,
            Err("bad length/encoding"),
        );
        check(
            &format!("{}é", &DONATION[..93]),
            main,
            Err("bad length/encoding"),
        );
        check(
            DONATION_WITH_TRAILING_BLOCK,
            main,
            Err("bad length/encoding"),
        );
        check(
            INTEGRATED_PREFIX_SHORT_BODY,
            main,
            Err("bad length/encoding"),
        );
        // Well-formed, with correct checksums, but not a usable address.
        check(UNKNOWN_PREFIX, main, Err("unknown network byte"));
        check(NOT_A_POINT, main, Err("invalid public key"));
    }

    #[test]
    fn network_names_round_trip() {
        for network in NETWORKS {
            assert_eq!(network.to_string().parse::<Network>(), Ok(network));
            let json = serde_json::to_string(&network).unwrap();
            assert_eq!(json, format!("\"{network}\""));
        }
        for bad in [
            "",
            "Mainnet",
            "MAINNET",
            "main",
            "regtest",
            " mainnet",
            "mainnet\n",
        ] {
            assert_eq!(
                bad.parse::<Network>(),
                Err(Error::InvalidAddress("unknown network"))
            );
        }
    }

    #[test]
    fn serializes_as_the_string() {
        let address = MoneroAddress::parse(MAIN_SUB, Network::Mainnet).unwrap();
        assert_eq!(
            serde_json::to_string(&address).unwrap(),
            format!("\"{MAIN_SUB}\"")
        );
    }
}
