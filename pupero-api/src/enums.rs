//! The closed sets of the API: each an enum with its wire names.

use std::fmt;

/// Declares a wire enum: serde and (with `openapi`) poem-openapi names, `ALL`, `as_str` and
/// `parse`, all from one list.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident => $text:tt, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        pub enum $name {
            $(
                $(#[$vdoc])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "openapi", oai(rename = $text))]
                $variant,
            )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The value of a wire name; `None` for any other text.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<$name, UnknownName> {
                $name::parse(text).ok_or(UnknownName(stringify!($name)))
            }
        }
    };
}

/// A name that is not one of a wire enum's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownName(pub &'static str);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a {} value", self.0)
    }
}

impl std::error::Error for UnknownName {}

/// Converts both ways between a wire enum and the domain's enum of the same values, with
/// exhaustive matches: a value added on one side fails to compile until added on the other.
macro_rules! same_values {
    ($wire:ident, $core:path { $($variant:ident),* $(,)? }) => {
        impl From<$core> for $wire {
            fn from(value: $core) -> $wire {
                use $core as C;
                match value {
                    $(C::$variant => $wire::$variant,)*
                }
            }
        }

        impl From<$wire> for $core {
            fn from(value: $wire) -> $core {
                use $core as C;
                match value {
                    $($wire::$variant => C::$variant,)*
                }
            }
        }
    };
}

wire_enum!(
    /// A side of the market, from the offer maker's point of view: `sell` offers XMR for fiat,
    /// `buy` asks for XMR.
    Side {
        /// Gives XMR, receives fiat.
        Sell => "sell",
        /// Gives fiat, receives XMR.
        Buy => "buy",
    }
);
same_values!(Side, pupero_core::Side { Sell, Buy });

wire_enum!(
    /// Who sees an offer: everyone in the market, or only those given its link.
    Visibility {
        /// Listed in the market.
        Public => "public",
        /// Reachable by id only.
        Unlisted => "unlisted",
    }
);
same_values!(Visibility, pupero_core::Visibility { Public, Unlisted });

wire_enum!(
    /// An offer's state.
    OfferStatus {
        /// Takeable.
        Active => "active",
        /// Kept, but not takeable until resumed.
        Paused => "paused",
        /// Gone for good.
        Deleted => "deleted",
    }
);
same_values!(
    OfferStatus,
    pupero_core::OfferStatus {
        Active,
        Paused,
        Deleted
    }
);

wire_enum!(
    /// The order of market offers by effective price.
    PriceSort {
        /// Cheapest first.
        Ascending => "asc",
        /// Dearest first.
        Descending => "desc",
    }
);
same_values!(
    PriceSort,
    pupero_core::PriceSort {
        Ascending,
        Descending
    }
);

wire_enum!(
    /// Where a trade is.
    TradeState {
        /// The seller's XMR is held; the buyer is to pay.
        Escrowed => "escrowed",
        /// The buyer says they paid; the seller is to release.
        Paid => "paid",
        /// The escrow went to the buyer.
        Released => "released",
        /// Cancelled before payment; the escrow went back to the seller.
        Cancelled => "cancelled",
        /// The payment window ended unpaid; the escrow went back to the seller.
        Expired => "expired",
        /// A party asked a moderator to decide.
        Disputed => "disputed",
        /// A moderator decided.
        Resolved => "resolved",
    }
);
same_values!(
    TradeState,
    pupero_core::TradeState {
        Escrowed,
        Paid,
        Released,
        Cancelled,
        Expired,
        Disputed,
        Resolved
    }
);

wire_enum!(
    /// A step the caller may take on a trade now.
    TradeAction {
        /// The buyer: "I paid".
        MarkPaid => "mark_paid",
        /// The seller: "I received the payment; release the escrow".
        Release => "release",
        /// Cancel (the buyer at any time before paying; the seller once the window is over).
        Cancel => "cancel",
        /// Ask a moderator to decide.
        Dispute => "dispute",
        /// A moderator's decision.
        Resolve => "resolve",
    }
);

wire_enum!(
    /// A moderator's decision on a disputed trade.
    Outcome {
        /// The escrow goes to the buyer, as a release.
        ToBuyer => "to_buyer",
        /// Everything goes back to the seller, fee included.
        ToSeller => "to_seller",
        /// The buyer receives a part, the seller the rest.
        Split => "split",
    }
);

impl From<&pupero_core::Resolution> for Outcome {
    fn from(value: &pupero_core::Resolution) -> Outcome {
        match value {
            pupero_core::Resolution::ToBuyer => Outcome::ToBuyer,
            pupero_core::Resolution::ToSeller => Outcome::ToSeller,
            pupero_core::Resolution::Split { .. } => Outcome::Split,
        }
    }
}

wire_enum!(
    /// Which party of a trade someone is.
    TradeSide {
        /// Gives XMR.
        Seller => "seller",
        /// Gives fiat.
        Buyer => "buyer",
    }
);
same_values!(TradeSide, pupero_core::Party { Seller, Buyer });

wire_enum!(
    /// Who wrote a chat message.
    SenderRole {
        /// The trade's seller.
        Seller => "seller",
        /// The trade's buyer.
        Buyer => "buyer",
        /// A moderator of the dispute.
        Moderator => "moderator",
    }
);

wire_enum!(
    /// A feedback rating.
    Rating {
        /// Went well.
        Positive => "positive",
        /// Neither.
        Neutral => "neutral",
        /// Went badly.
        Negative => "negative",
    }
);
same_values!(
    Rating,
    pupero_core::Rating {
        Positive,
        Neutral,
        Negative
    }
);

wire_enum!(
    /// What an account may do beyond trading.
    Role {
        /// Trades.
        User => "user",
        /// Also resolves disputes.
        Moderator => "moderator",
        /// Also runs the platform.
        Admin => "admin",
    }
);
same_values!(
    Role,
    pupero_core::Role {
        User,
        Moderator,
        Admin
    }
);

wire_enum!(
    /// What an API key may do.
    Scope {
        /// Read the account, its trades and the market.
        Read => "read",
        /// Offers, trades, chat and feedback.
        Trade => "trade",
        /// Withdrawals.
        Withdraw => "withdraw",
    }
);
same_values!(
    Scope,
    pupero_core::Scope {
        Read,
        Trade,
        Withdraw
    }
);

wire_enum!(
    /// What an event reports: the SSE `event:` field and the listing's `kind`.
    EventKind {
        /// A trade was opened (the caller is a party).
        TradeOpened => "trade_opened",
        /// The buyer marked a trade paid.
        TradePaid => "trade_paid",
        /// The seller released a trade's escrow.
        TradeReleased => "trade_released",
        /// A trade was cancelled.
        TradeCancelled => "trade_cancelled",
        /// A trade's payment window ended unpaid.
        TradeExpired => "trade_expired",
        /// A trade was disputed.
        TradeDisputed => "trade_disputed",
        /// A moderator resolved a trade.
        TradeResolved => "trade_resolved",
        /// A chat message arrived.
        ChatMessage => "chat_message",
        /// The caller's balance changed.
        BalanceChanged => "balance_changed",
        /// The caller received feedback.
        FeedbackReceived => "feedback_received",
        /// An API key was created on the account.
        ApiKeyCreated => "api_key_created",
        /// A deposit was seen on chain.
        DepositSeen => "deposit_seen",
        /// A deposit has more confirmations.
        DepositConfirmations => "deposit_confirmations",
        /// A deposit was credited.
        DepositCredited => "deposit_credited",
        /// A deposit left the chain before it was credited.
        DepositGone => "deposit_gone",
        /// A withdrawal's transaction was signed.
        WithdrawalSigned => "withdrawal_signed",
        /// A withdrawal was broadcast.
        WithdrawalBroadcast => "withdrawal_broadcast",
        /// A withdrawal is confirmed.
        WithdrawalConfirmed => "withdrawal_confirmed",
        /// A withdrawal failed and was refunded.
        WithdrawalFailed => "withdrawal_failed",
    }
);

wire_enum!(
    /// Which way money moved, from the caller's side.
    Direction {
        /// In.
        Credit => "credit",
        /// Out.
        Debit => "debit",
    }
);

wire_enum!(
    /// Where a ledger entry is.
    EntryStatus {
        /// Moved for good.
        Completed => "completed",
        /// Held, waiting for its outcome.
        Held => "held",
        /// A hold given back.
        Returned => "returned",
        /// A hold that ran out.
        Expired => "expired",
    }
);
same_values!(
    EntryStatus,
    pupero_core::ledger::MovementStatus {
        Completed,
        Held,
        Returned,
        Expired
    }
);

wire_enum!(
    /// What a ledger entry is about.
    EntryCause {
        /// A trade.
        Trade => "trade",
        /// A deposit.
        Deposit => "deposit",
        /// A withdrawal.
        Withdrawal => "withdrawal",
        /// Anything else (corrections, the development faucet).
        Other => "other",
    }
);

wire_enum!(
    /// Why money moved: the code of a ledger transfer.
    TransferCode {
        /// An on-chain deposit credited.
        Deposit => "deposit",
        /// XMR moved into a trade's escrow.
        TradeEscrow => "trade_escrow",
        /// Escrow released to the buyer.
        TradeRelease => "trade_release",
        /// Escrow returned to the seller.
        TradeRefund => "trade_refund",
        /// A trading fee.
        TradeFee => "trade_fee",
        /// XMR held for a withdrawal.
        WithdrawalHold => "withdrawal_hold",
        /// A withdrawal sent on chain.
        Withdrawal => "withdrawal",
        /// A withdrawal's network fee.
        WithdrawalFee => "withdrawal_fee",
        /// A network fee the platform paid itself.
        NetworkFee => "network_fee",
        /// A correcting entry.
        Adjustment => "adjustment",
        /// A dispute resolution.
        DisputeResolution => "dispute_resolution",
    }
);
same_values!(
    TransferCode,
    pupero_core::ledger::TransferCode {
        Deposit,
        TradeEscrow,
        TradeRelease,
        TradeRefund,
        TradeFee,
        WithdrawalHold,
        Withdrawal,
        WithdrawalFee,
        NetworkFee,
        Adjustment,
        DisputeResolution,
    }
);

wire_enum!(
    /// Where a deposit is.
    DepositState {
        /// Waiting for confirmations.
        Pending => "pending",
        /// Credited to the balance.
        Credited => "credited",
        /// Left the chain before it was credited (pending again if it comes back).
        Gone => "gone",
    }
);
same_values!(
    DepositState,
    pupero_core::DepositStatus {
        Pending,
        Credited,
        Gone
    }
);

wire_enum!(
    /// Where a withdrawal is.
    WithdrawalState {
        /// Accepted, its XMR held; waiting for the wallet.
        Requested => "requested",
        /// The transaction is built and signed.
        Signed => "signed",
        /// Sent to the network.
        Broadcast => "broadcast",
        /// Confirmed on chain.
        Confirmed => "confirmed",
        /// Failed; the hold was returned.
        Failed => "failed",
    }
);
same_values!(
    WithdrawalState,
    pupero_core::WithdrawalState {
        Requested,
        Signed,
        Broadcast,
        Confirmed,
        Failed
    }
);

wire_enum!(
    /// Why a withdrawal is stuck.
    Stuck {
        /// Requested 30 minutes ago and not built.
        NotBuilt => "not_built",
        /// Signed 5 minutes ago and not relayed.
        NotRelayed => "not_relayed",
        /// Broadcast an hour ago and not mined.
        NotMined => "not_mined",
    }
);
same_values!(
    Stuck,
    pupero_core::withdrawal::Stuck {
        NotBuilt,
        NotRelayed,
        NotMined
    }
);

wire_enum!(
    /// Whether the wallet covers what the platform owes.
    ReconciliationStatus {
        /// It does.
        Ok => "ok",
        /// It does not.
        Deficit => "deficit",
    }
);
same_values!(
    ReconciliationStatus,
    pupero_core::reconciliation::ReconciliationStatus { Ok, Deficit }
);

wire_enum!(
    /// A dependency the server needs to serve requests.
    Dependency {
        /// The database.
        Database => "database",
        /// The platform's Monero wallet RPC (when configured).
        Wallet => "wallet",
        /// The withdrawal queue (RabbitMQ, when configured).
        Queue => "queue",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_parse() {
        fn check<T>(all: &[T], as_str: fn(&T) -> &'static str, parse: fn(&str) -> Option<T>)
        where
            T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
        {
            for value in all {
                let json = serde_json::to_string(value).unwrap();
                assert_eq!(json, format!("\"{}\"", as_str(value)));
                assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value);
                assert_eq!(parse(as_str(value)).as_ref(), Some(value));
            }
            assert!(parse("").is_none());
        }
        check(Side::ALL, |v| v.as_str(), Side::parse);
        check(TradeState::ALL, |v| v.as_str(), TradeState::parse);
        check(EventKind::ALL, |v| v.as_str(), EventKind::parse);
        check(TransferCode::ALL, |v| v.as_str(), TransferCode::parse);
        check(Scope::ALL, |v| v.as_str(), Scope::parse);
    }

    #[test]
    fn wire_names_are_the_domain_names() {
        for code in pupero_core::ledger::TransferCode::ALL {
            assert_eq!(TransferCode::from(*code).as_str(), code.as_str());
        }
        for &state in &pupero_core::TradeState::ALL {
            assert_eq!(TradeState::from(state).as_str(), state.as_str());
        }
        for &role in &pupero_core::Role::ALL {
            assert_eq!(Role::from(role).as_str(), role.as_str());
        }
        for &scope in &pupero_core::Scope::ALL {
            assert_eq!(Scope::from(scope).as_str(), scope.as_str());
        }
    }
}
