//! Ids as newtypes, so a user id can never be passed where an account id is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::Timestamp;
use crate::error::{Error, Result};

pub(crate) mod namespace;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random, time-ordered id (UUIDv7).
            pub fn new_v7() -> Self {
                $name(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                $name(id)
            }

            /// The id from its 128-bit value.
            pub const fn from_u128(v: u128) -> Self {
                $name(Uuid::from_u128(v))
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The 128-bit value of the id.
            pub const fn as_u128(&self) -> u128 {
                self.0.as_u128()
            }

            /// Whether this is the all-zero id, which is never valid.
            pub fn is_nil(&self) -> bool {
                self.0.is_nil()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Uuid::try_parse(s)
                    .map($name)
                    .map_err(|_| Error::InvalidId(concat!("not a valid ", stringify!($name))))
            }
        }
    };
}

uuid_id!(
    /// A person's account on Pupero.
    UserId
);
uuid_id!(
    /// A ledger account. Its id is chosen by the caller, so creating it is idempotent.
    AccountId
);
uuid_id!(
    /// A ledger transfer. The id is the idempotency key: creating the same transfer twice
    /// is a no-op, creating another transfer under the same id is a conflict.
    TransferId
);
uuid_id!(
    /// An offer on the market: what a maker posts and a taker opens trades on.
    OfferId
);
uuid_id!(
    /// A trade between a seller and a buyer, opened by a taker on an offer.
    TradeId
);
uuid_id!(
    /// A message of a trade's chat. Time-ordered (UUIDv7), so a chat reads in id order.
    MessageId
);

/// The platform's fee account: one fixed id, so every process finds it without a lookup.
const PLATFORM_FEES_ACCOUNT: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_f0e5);

/// The hot wallet's account: the XMR the platform's wallet holds for its users.
const HOT_WALLET_ACCOUNT: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_c0a1);

/// The network fees the platform paid itself (consolidating its wallet's outputs).
const NETWORK_FEES_ACCOUNT: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_f0e6);

impl AccountId {
    /// The platform's XMR fee account, credited with trade fees.
    pub const fn platform_fees() -> AccountId {
        AccountId(PLATFORM_FEES_ACCOUNT)
    }

    /// The hot wallet: an asset, debited by every credited deposit and credited by every
    /// withdrawal sent, so its balance is what the ledger says the wallet holds.
    pub const fn hot_wallet() -> AccountId {
        AccountId(HOT_WALLET_ACCOUNT)
    }

    /// The network fees the platform paid from its own pocket: an expense.
    pub const fn network_fees() -> AccountId {
        AccountId(NETWORK_FEES_ACCOUNT)
    }

    /// The XMR balance account of `user`, derived from the user id so that creating the
    /// account is idempotent and needs no lookup table.
    pub fn user_xmr(user: UserId) -> AccountId {
        AccountId(Uuid::new_v5(
            &namespace::USER_XMR_ACCOUNT,
            user.as_uuid().as_bytes(),
        ))
    }
}

impl TransferId {
    /// A transfer id derived deterministically from a namespace and a caller's key, so a
    /// retried request maps to the same transfer (UUIDv5-style, SHA-1 over the name).
    pub fn derive(namespace: &Uuid, name: &[u8]) -> Self {
        TransferId(Uuid::new_v5(namespace, name))
    }

    /// As [`TransferId::derive`], behind `at`: the first 48 bits are `at`'s milliseconds, as in
    /// a UUIDv7, the version is 8 (a layout of our own), and the other 74 bits are the name's
    /// hash. Ids derived this way sort by `at`, so the transfers a group commit creates land on
    /// the last pages of the ledger's indexes on transfer ids instead of on one page each.
    /// Their version keeps them apart from every version-5 (derived) and version-7 (random)
    /// id; two names derived at the same millisecond still differ in 74 hash bits. A time past
    /// 2^48 ms (the year 10889) wraps: the id stays valid, only its order is lost.
    pub fn derive_at(namespace: &Uuid, name: &[u8], at: Timestamp) -> Self {
        let mut bytes = *Uuid::new_v5(namespace, name).as_bytes();
        let millis = at.as_unix_ms().to_be_bytes();
        bytes[..6].copy_from_slice(&millis[2..]);
        // The version nibble; the variant bits are already RFC 9562's, from version 5.
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        TransferId(Uuid::from_bytes(bytes))
    }
}

impl TradeId {
    /// The id of the trade `taker` opens with idempotency key `key`: the same key from the
    /// same taker always names the same trade, so a retried request finds the trade it
    /// opened instead of opening another. Another taker's same key names another trade.
    pub fn derive(taker: UserId, key: &str) -> TradeId {
        TradeId(namespace::keyed(&namespace::TRADE_ID, taker.as_uuid(), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let id = AccountId::new_v7();
        let back: AccountId = id.to_string().parse().unwrap();
        assert_eq!(id, back);
        assert!("nope".parse::<UserId>().is_err());
    }

    /// A user id as a client would have it, for pinned derivations.
    fn pinned_user() -> UserId {
        "0190a4b2-7c3d-7e5f-8a1b-2c3d4e5f6071".parse().unwrap()
    }

    #[test]
    fn trade_ids_derive_as_they_always_did() {
        // Computed with the formula the server used before the derivation moved here:
        // UUIDv5(…0003, taker bytes ++ key bytes). A client retrying across an upgrade must
        // get the same trade.
        let taker = pinned_user();
        let mut name = taker.as_uuid().as_bytes().to_vec();
        name.extend_from_slice(b"order-42");
        let old = Uuid::new_v5(
            &Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0003),
            &name,
        );
        let id = TradeId::derive(taker, "order-42");
        assert_eq!(*id.as_uuid(), old);
        assert_eq!(id.to_string(), "0d496e07-6fd1-5b5b-9425-9c8894341cb3");
        assert_eq!(TradeId::derive(taker, "order-42"), id);
        assert_ne!(TradeId::derive(taker, "order-43"), id);
        assert_ne!(TradeId::derive(UserId::from_u128(1), "order-42"), id);
    }

    #[test]
    fn time_ordered_transfer_ids_are_pinned_and_sort_by_time() {
        let ns = Uuid::from_u128(7);
        let at = Timestamp::from_unix_ms(0x0190_a4b2_7c3d);
        let id = TransferId::derive_at(&ns, b"name", at);
        assert_eq!(id.to_string(), "0190a4b2-7c3d-86c9-bfea-40d17221aace");
        assert_eq!(id.as_uuid().get_version_num(), 8);
        assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122);
        let hashed = TransferId::derive(&ns, b"name");
        // Below the time and the version, less the variant's two bits.
        let hash_bits: u128 = ((1 << 76) - 1) & !(0b11 << 62);
        assert_eq!(
            id.as_u128() & hash_bits,
            hashed.as_u128() & hash_bits,
            "the rest is the name's hash"
        );
        assert_eq!(TransferId::derive_at(&ns, b"name", at), id);
        assert_ne!(TransferId::derive_at(&ns, b"other", at), id);
        assert!(TransferId::derive_at(&ns, b"other", at.plus_ms(1)) > id);
        assert!(TransferId::derive_at(&ns, b"name", at.plus_ms(1)) > id);
    }

    #[test]
    fn account_ids_are_pinned() {
        assert_eq!(
            AccountId::user_xmr(pinned_user()).to_string(),
            "e8456c28-b289-5ed9-9df4-afb54db5bdcc"
        );
        // The fixed accounts are version-4 UUIDs: no version-5 derivation makes one.
        for fixed in [
            AccountId::platform_fees(),
            AccountId::hot_wallet(),
            AccountId::network_fees(),
        ] {
            assert_eq!(fixed.as_uuid().get_version_num(), 4, "{fixed:?}");
        }
    }

    #[test]
    fn derived_ids_are_stable() {
        let ns = Uuid::from_u128(7);
        assert_eq!(
            TransferId::derive(&ns, b"k1"),
            TransferId::derive(&ns, b"k1")
        );
        assert_ne!(
            TransferId::derive(&ns, b"k1"),
            TransferId::derive(&ns, b"k2")
        );
    }
}
