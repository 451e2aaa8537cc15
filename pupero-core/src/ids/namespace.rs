//! Every UUID namespace Pupero derives ids in, listed once.
//!
//! A derived id is a UUIDv5 of a namespace and a name (or, for a trade's transfers, the same
//! hash behind a time: [`crate::TransferId::derive_at`]), so the same request, step or deposit
//! always maps to the same id and retrying it is a no-op. The values are stored in ids on
//! disk and in clients' retries: none of them may ever change, and a new kind of derived id
//! gets a new namespace here, never a reused one within its id space (the tests list them
//! all by id space and check it).
//!
//! Each derivation is a function next to the type it makes; nothing derives by hand:
//!
//! | namespace | id space | derived by |
//! |---|---|---|
//! | [`USER_XMR_ACCOUNT`] | ledger accounts | `AccountId::user_xmr` |
//! | [`TRADE_TRANSFER`] | ledger transfers | a trade's holds and steps (`trade`; behind the trade's opening time, `TransferId::derive_at`, for trades opened since `TransferNames::TimeOrdered`) |
//! | [`DEPOSIT_TRANSFER`] | ledger transfers | `deposit::deposit_transfer_id` |
//! | [`WITHDRAWAL_TRANSFER`] | ledger transfers | a withdrawal's holds and steps, a forfeit (`withdrawal`) |
//! | [`SWEEP_TRANSFER`] | ledger transfers | `sweep::fee_transfer_id` |
//! | [`EXPIRY_TRANSFER`] | ledger transfers | `ledger::expiry_id` |
//! | [`TRADE_ID`] | trades | `TradeId::derive` |
//! | [`WITHDRAWAL_ID`] | withdrawals | `withdrawal::withdrawal_id` |
//!
//! [`TRADE_ID`] has the value of [`DEPOSIT_TRANSFER`]. That is history, not design: the two
//! were chosen apart and collided. It is harmless, because a trade id and a transfer id never
//! share a table (nor a lookup), so equal UUIDs in the two spaces cannot be confused; and it is
//! kept, because changing it would give a client retrying a trade request across an upgrade a
//! new trade instead of the one it already opened.
//!
//! The fixed ids of the platform's own ledger accounts (fees, hot wallet, network fees) are
//! not namespaces; they sit with [`crate::AccountId`]. They are version-4 UUIDs, so no
//! version-5 derivation can produce one.

use uuid::Uuid;

/// The ledger account holding a user's XMR, named by the user id.
pub(crate) const USER_XMR_ACCOUNT: Uuid =
    Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0001);

/// The transfers of a trade, named by the trade id and the step and hold.
pub(crate) const TRADE_TRANSFER: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0002);

/// The transfer crediting a deposit, named by its transaction and subaddress.
pub(crate) const DEPOSIT_TRANSFER: Uuid =
    Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0003);

/// The transfers of a withdrawal, named by the withdrawal id and the step and hold (and the
/// forfeit of a closed account, named by the user id).
pub(crate) const WITHDRAWAL_TRANSFER: Uuid =
    Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0004);

/// The transfer booking a sweep's network fee, named by the sweep's txid.
pub(crate) const SWEEP_TRANSFER: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0006);

/// The transfer recording the expiry of a pending transfer, named by the pending transfer's id.
pub(crate) const EXPIRY_TRANSFER: Uuid = Uuid::from_u128(0x5f1c_0e6a_9d3b_4f0e_8a52_7c1d_e0b4_e701);

/// A trade opened with an idempotency key, named by the taker and the key. Equal to
/// [`DEPOSIT_TRANSFER`] by history; see the module's documentation.
pub(crate) const TRADE_ID: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0003);

/// A withdrawal, named by the user who asked and their idempotency key.
pub(crate) const WITHDRAWAL_ID: Uuid = Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0005);

/// The id in `namespace` of what `owner` asked under idempotency key `key`: the owner's 16
/// bytes, then the key's. The owner's part has a fixed length, so no two (owner, key) pairs
/// share a name.
pub(crate) fn keyed(namespace: &Uuid, owner: &Uuid, key: &str) -> Uuid {
    let mut name = Vec::with_capacity(16 + key.len());
    name.extend_from_slice(owner.as_bytes());
    name.extend_from_slice(key.as_bytes());
    Uuid::new_v5(namespace, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which table an id lives in: ids of different spaces are never compared, so only namespaces
    /// of the same space must differ.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum IdSpace {
        /// Ledger accounts.
        Account,
        /// Ledger transfers.
        Transfer,
        /// Trades.
        Trade,
        /// Withdrawals.
        Withdrawal,
    }

    /// Every namespace, with its id space and name.
    const ALL: [(Uuid, IdSpace, &str); 8] = [
        (USER_XMR_ACCOUNT, IdSpace::Account, "user_xmr_account"),
        (TRADE_TRANSFER, IdSpace::Transfer, "trade_transfer"),
        (DEPOSIT_TRANSFER, IdSpace::Transfer, "deposit_transfer"),
        (
            WITHDRAWAL_TRANSFER,
            IdSpace::Transfer,
            "withdrawal_transfer",
        ),
        (SWEEP_TRANSFER, IdSpace::Transfer, "sweep_transfer"),
        (EXPIRY_TRANSFER, IdSpace::Transfer, "expiry_transfer"),
        (TRADE_ID, IdSpace::Trade, "trade_id"),
        (WITHDRAWAL_ID, IdSpace::Withdrawal, "withdrawal_id"),
    ];

    #[test]
    fn namespaces_within_an_id_space_are_distinct() {
        // Every namespace of this file is in the list (split so that this line is not counted).
        let declared = include_str!("namespace.rs")
            .matches(concat!("pub(crate) ", "const "))
            .count();
        assert_eq!(declared, ALL.len(), "a namespace is missing from ALL");
        for (i, (a, space_a, name_a)) in ALL.iter().enumerate() {
            for (b, space_b, name_b) in &ALL[i + 1..] {
                if space_a == space_b {
                    assert_ne!(a, b, "{name_a} and {name_b} share an id space");
                }
                assert_ne!(name_a, name_b);
            }
        }
    }

    #[test]
    fn namespace_values_never_change() {
        // Ids on disk and clients' retries depend on these exact values.
        let expected: [(&str, u128); 8] = [
            (
                "user_xmr_account",
                0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0001,
            ),
            ("trade_transfer", 0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0002),
            (
                "deposit_transfer",
                0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0003,
            ),
            (
                "withdrawal_transfer",
                0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0004,
            ),
            ("sweep_transfer", 0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0006),
            ("expiry_transfer", 0x5f1c_0e6a_9d3b_4f0e_8a52_7c1d_e0b4_e701),
            ("trade_id", 0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0003),
            ("withdrawal_id", 0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0005),
        ];
        for ((namespace, _, name), (expected_name, value)) in ALL.iter().zip(expected) {
            assert_eq!(*name, expected_name);
            assert_eq!(namespace.as_u128(), value, "{name}");
        }
        // The one shared value, across id spaces only (see the module's documentation).
        assert_eq!(TRADE_ID, DEPOSIT_TRANSFER);
    }

    #[test]
    fn keyed_ids_are_the_owner_then_the_key() {
        let owner = Uuid::from_u128(0x0190_a4b2_7c3d_7e5f_8a1b_2c3d_4e5f_6071);
        let mut name = owner.as_bytes().to_vec();
        name.extend_from_slice(b"order-42");
        assert_eq!(
            keyed(&WITHDRAWAL_ID, &owner, "order-42"),
            Uuid::new_v5(&WITHDRAWAL_ID, &name)
        );
        assert_ne!(
            keyed(&WITHDRAWAL_ID, &owner, "order-42"),
            keyed(&WITHDRAWAL_ID, &owner, "order-43")
        );
        assert_ne!(
            keyed(&WITHDRAWAL_ID, &owner, "order-42"),
            keyed(&WITHDRAWAL_ID, &Uuid::from_u128(1), "order-42")
        );
    }
}
