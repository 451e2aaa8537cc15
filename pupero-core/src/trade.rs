//! The trade state machine: what each step of a trade may do, and what it does to the ledger.
//!
//! A taker opens a trade on an offer; the price is fixed then. [`Trade::open`] returns the new
//! trade in [`TradeState::Escrowed`] together with the ledger plan that holds the seller's XMR:
//! the server writes both in one database transaction, so a trade never exists without its
//! escrow. Every later step is a [`TradeAction`] given to [`Trade::apply`], which consumes the
//! trade and returns the next one (its `version` one higher, for the server's compare-and-set)
//! and the ledger plan of that step.
//!
//! ```text
//!   Escrowed ──MarkPaid(buyer)──▶ Paid ──Release(seller)──▶ Released
//!      │  │                        │
//!      │  └─Cancel(buyer) / Cancel(seller, window over) / Expire(window over)──▶ Cancelled | Expired
//!      │                           │
//!      └─Dispute(party, window over)──▶ Disputed ◀──Dispute(party)
//!                                     │
//!                                     └─Resolve(moderator)──▶ Resolved
//! ```
//!
//! # Money
//!
//! Fees are in basis points of the trade `amount` (the XMR sold, before fees): the maker pays
//! [`FeeSchedule::maker_bps`], the taker [`FeeSchedule::taker_bps`]. The seller's fee is paid on
//! top; the buyer's fee is taken out of what the buyer receives. So the seller funds
//! `amount + seller_fee`, and on release the buyer receives `amount − buyer_fee` and the
//! platform's fee account `seller_fee + buyer_fee`: what leaves the seller is exactly what
//! arrives at the other two.
//!
//! Escrow is two pending transfers from the seller, created as one linked chain: the *escrow
//! hold* to the buyer for `amount − buyer_fee`, and the *fee hold* to the fee account for
//! `seller_fee + buyer_fee` (absent when the fees are zero, because the ledger refuses zero
//! amounts). Releasing posts both holds; cancelling or expiring voids both. A moderator's
//! resolution moves the escrow too: [`Resolution::ToBuyer`] posts both like a release,
//! [`Resolution::ToSeller`] voids both (the platform refunds its fee: the trade did not happen),
//! and [`Resolution::Split`] posts part of the escrow hold to the buyer and the fee hold in full
//! (the trade did happen, in part); the rest of the escrow hold returns to the seller.
//!
//! The holds have no ledger timeout (`timeout_secs = 0`): a hold that expired on its own while
//! the buyer had paid, or while a moderator looked at a dispute, would hand the seller back XMR
//! the buyer may be owed. Expiry is the trade's decision, made by a background job through
//! [`TradeAction::Expire`] with an injected clock.
//!
//! Every transfer id is derived from the trade id and a name (the hold, or the step and the
//! hold), so retrying a step after a crash creates the same transfers, which the ledger treats
//! as already done.
//!
//! # Who may do what
//!
//! [`Trade::authorize`] is the one place that decides whether a [`Caller`] may ask for an
//! action (a party with the `trade` scope for a party's step; a moderator's session, never a
//! key, to resolve a dispute) and what second factor the step needs ([`StepUp`]): releasing
//! escrow and resolving a dispute move money out of someone's reach. The server authorizes,
//! applies and checks the second factor against the *same* trade it then writes with
//! compare-and-set, so that a step allowed on one state is never applied to another.
//!
//! What this module does not check, because it needs storage: that the offer exists and the
//! amount is within its limits, and the second factor itself.

use std::fmt;
use std::str::FromStr;

use crate::access::{Caller, StepUp};
use crate::clock::Timestamp;
use crate::fiat::{CurrencyCode, FiatAmount, Price};
use crate::ids::{AccountId, OfferId, TradeId, TransferId, UserId};
use crate::ledger::{NewTransfer, TransferCode, TransferOp};
use crate::limits::MAX_FEE_BPS;
use crate::money::Piconero;
use crate::offer::PaymentWindow;
use crate::user::{Role, Scope};

/// Basis points in a whole: 10,000 bps = 100%.
const BPS_PER_WHOLE: u64 = 10_000;

/// Name of the escrow hold (seller → buyer) in transfer ids.
const ESCROW_HOLD: &str = "escrow";
/// Name of the fee hold (seller → platform fee account) in transfer ids.
const FEE_HOLD: &str = "fee";

/// Where a trade is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeState {
    /// Opened: the seller's XMR is held in escrow; the buyer has not paid yet.
    Escrowed,
    /// The buyer says the fiat payment is sent; waiting for the seller to confirm.
    Paid,
    /// The seller confirmed receipt: escrow went to the buyer and the fee account. Terminal.
    Released,
    /// Called off before payment: escrow went back to the seller. Terminal.
    Cancelled,
    /// The payment window passed unpaid and the expiry job closed it: escrow went back. Terminal.
    Expired,
    /// A party raised a dispute; a moderator decides.
    Disputed,
    /// A moderator resolved the dispute and escrow moved accordingly. Terminal.
    Resolved,
}

impl TradeState {
    /// Every state, in the order of a trade's life.
    pub const ALL: [TradeState; 7] = [
        TradeState::Escrowed,
        TradeState::Paid,
        TradeState::Released,
        TradeState::Cancelled,
        TradeState::Expired,
        TradeState::Disputed,
        TradeState::Resolved,
    ];

    /// The stable stored name of the state.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeState::Escrowed => "escrowed",
            TradeState::Paid => "paid",
            TradeState::Released => "released",
            TradeState::Cancelled => "cancelled",
            TradeState::Expired => "expired",
            TradeState::Disputed => "disputed",
            TradeState::Resolved => "resolved",
        }
    }

    /// The state from its stored name.
    pub fn parse(s: &str) -> crate::Result<TradeState> {
        TradeState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(crate::Error::InvalidId("unknown trade state"))
    }

    /// Whether no action can move the trade out of this state: its escrow is fully settled.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            TradeState::Released
                | TradeState::Cancelled
                | TradeState::Expired
                | TradeState::Resolved
        )
    }
}

impl fmt::Display for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TradeState {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<TradeState> {
        TradeState::parse(s)
    }
}

/// One side of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// Gives XMR, receives fiat.
    Seller,
    /// Gives fiat, receives XMR.
    Buyer,
}

/// Why the trade state machine refused to open a trade or to apply an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TradeError {
    /// A trade for zero XMR.
    #[error("amount must not be zero")]
    ZeroAmount,
    /// The buyer and the seller are the same user.
    #[error("buyer and seller must be different users")]
    SelfTrade,
    /// A fee above [`MAX_FEE_BPS`].
    #[error("fee must be at most 1000 basis points")]
    FeeTooHigh,
    /// The amount plus fees does not fit in a piconero amount.
    #[error("amount too large")]
    AmountTooLarge,
    /// The fiat value of the amount is above the largest fiat amount.
    #[error("fiat amount too large")]
    FiatAmountTooLarge,
    /// The fiat value of the amount rounds to zero (below the currency's smallest unit).
    #[error("the amount is worth less than the currency's smallest unit")]
    FiatAmountTooSmall,
    /// The action is not possible in the trade's current state.
    #[error("cannot {action} a trade that is {from}")]
    InvalidTransition {
        /// The state the trade is in.
        from: TradeState,
        /// The refused action, as [`TradeAction::name`].
        action: &'static str,
    },
    /// The action becomes possible only later (when the payment window is over).
    #[error("not before {until:?}")]
    TooEarly {
        /// When the action becomes possible.
        until: Timestamp,
    },
    /// The user is neither the buyer nor the seller.
    #[error("not a party to this trade")]
    NotAParty,
    /// The user is a party, but the other side is the one who may take this action.
    #[error("the {} may not {action} this trade", side.as_str())]
    WrongParty {
        /// The side of the user who tried.
        side: Party,
        /// The refused action, as [`TradeAction::name`].
        action: &'static str,
    },
    /// A moderator cannot resolve a dispute about their own trade.
    #[error("a moderator cannot resolve their own trade")]
    ModeratorIsAParty,
    /// Resolving a dispute needs a moderator's logged-in session (never an API key).
    #[error("resolving a dispute needs a moderator's logged-in session")]
    NotAModerator,
    /// The caller's API key lacks the scope the step needs.
    #[error("this API key lacks the {} scope", .0.as_str())]
    MissingScope(Scope),
    /// A split must give each side something and the buyer less than the escrow hold.
    #[error("split must give the buyer more than zero and less than the escrow")]
    InvalidSplit,
}

impl TradeError {
    /// Whether the action does not fit the trade's state or the time (a conflict, not a fault).
    pub const fn is_invalid_transition(&self) -> bool {
        matches!(
            self,
            TradeError::InvalidTransition { .. } | TradeError::TooEarly { .. }
        )
    }

    /// Whether the user may not take this action on this trade.
    pub const fn is_forbidden(&self) -> bool {
        matches!(
            self,
            TradeError::NotAParty
                | TradeError::WrongParty { .. }
                | TradeError::ModeratorIsAParty
                | TradeError::NotAModerator
                | TradeError::MissingScope(_)
        )
    }

    /// Whether the request itself was malformed (amounts, window, fees, split).
    pub const fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            TradeError::ZeroAmount
                | TradeError::SelfTrade
                | TradeError::FeeTooHigh
                | TradeError::AmountTooLarge
                | TradeError::FiatAmountTooLarge
                | TradeError::FiatAmountTooSmall
                | TradeError::InvalidSplit
        )
    }
}

/// Trading fees in basis points of the trade amount, each at most [`MAX_FEE_BPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeeSchedule {
    maker_bps: u16,
    taker_bps: u16,
}

impl FeeSchedule {
    /// No fees.
    pub const FREE: FeeSchedule = FeeSchedule {
        maker_bps: 0,
        taker_bps: 0,
    };

    /// A schedule charging the offer's maker `maker_bps` and the taker `taker_bps`.
    pub const fn new(maker_bps: u16, taker_bps: u16) -> Result<FeeSchedule, TradeError> {
        if maker_bps > MAX_FEE_BPS || taker_bps > MAX_FEE_BPS {
            return Err(TradeError::FeeTooHigh);
        }
        Ok(FeeSchedule {
            maker_bps,
            taker_bps,
        })
    }

    /// The maker's fee in basis points.
    pub const fn maker_bps(&self) -> u16 {
        self.maker_bps
    }

    /// The taker's fee in basis points.
    pub const fn taker_bps(&self) -> u16 {
        self.taker_bps
    }

    /// The seller's fee in basis points when the seller is (`true`) or is not the offer's maker.
    pub const fn seller_bps(&self, seller_is_maker: bool) -> u16 {
        if seller_is_maker {
            self.maker_bps
        } else {
            self.taker_bps
        }
    }

    /// The largest trade amount a seller with `available` XMR can escrow when their fee is
    /// `seller_bps`: the largest `a` with `a + fee(a) ≤ available`. The market lists exactly
    /// this as a sell offer's maximum, so what is listed can be taken and one piconero more
    /// cannot.
    pub fn max_escrowable(available: Piconero, seller_bps: u16) -> Piconero {
        debug_assert!(
            seller_bps <= MAX_FEE_BPS,
            "a schedule is bounded when built"
        );
        let debit = |a: u64| -> Option<u64> {
            let fee = Self::fee(Piconero::new(a), seller_bps).ok()?;
            a.checked_add(fee.as_u64())
        };
        let whole = u128::from(BPS_PER_WHOLE);
        // a + a·bps/10000 ≤ available at this estimate; flooring the fee lets at most two
        // more piconero fit, which the loop finds.
        let estimate = u128::from(available.as_u64()) * whole / (whole + u128::from(seller_bps));
        let mut best = u64::try_from(estimate).unwrap_or(u64::MAX);
        debug_assert!(debit(best).is_some_and(|d| d <= available.as_u64()));
        while let Some(next) = best.checked_add(1)
            && debit(next).is_some_and(|d| d <= available.as_u64())
        {
            best = next;
        }
        debug_assert!(debit(best).is_some_and(|d| d <= available.as_u64()));
        Piconero::new(best)
    }

    /// The fees of a trade of `amount` whose offer was posted by `maker`: what a trade opened
    /// now would charge, the one computation behind [`Trade::open`] and every fee shown before
    /// a trade opens.
    pub fn trade_fees(&self, amount: Piconero, maker: Party) -> Result<TradeFees, TradeError> {
        let (seller_bps, buyer_bps) = match maker {
            Party::Seller => (self.maker_bps, self.taker_bps),
            Party::Buyer => (self.taker_bps, self.maker_bps),
        };
        Ok(TradeFees {
            seller_fee: Self::fee(amount, seller_bps)?,
            buyer_fee: Self::fee(amount, buyer_bps)?,
        })
    }

    /// The fee of `bps` basis points on `amount`, rounded down (in the user's favour).
    fn fee(amount: Piconero, bps: u16) -> Result<Piconero, TradeError> {
        debug_assert!(bps <= MAX_FEE_BPS, "a schedule is bounded when built");
        let fee = amount
            .mul_div_floor(u64::from(bps), BPS_PER_WHOLE)
            .map_err(|_| TradeError::AmountTooLarge)?;
        // At most 10% of the amount, rounded down: always strictly less than a non-zero amount.
        debug_assert!(amount.is_zero() || fee < amount);
        Ok(fee)
    }
}

/// The fees of one trade ([`FeeSchedule::trade_fees`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeFees {
    /// The seller's fee, paid on top of the amount.
    pub seller_fee: Piconero,
    /// The buyer's fee, taken out of what the buyer receives.
    pub buyer_fee: Piconero,
}

impl TradeFees {
    /// What the seller's escrow holds: the amount and the seller's fee.
    pub fn seller_pays(&self, amount: Piconero) -> Option<Piconero> {
        amount.checked_add(self.seller_fee).ok()
    }

    /// What the buyer receives on release: the amount less the buyer's fee.
    pub fn buyer_receives(&self, amount: Piconero) -> Option<Piconero> {
        amount.checked_sub(self.buyer_fee).ok()
    }
}

/// Everything needed to open a trade. The server fills it from the offer and the request once
/// it has checked the offer's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTrade {
    /// The new trade's id (the server makes one, so this module stays deterministic).
    pub id: TradeId,
    /// The offer the trade is opened on.
    pub offer: OfferId,
    /// Who gives XMR.
    pub seller: UserId,
    /// Who gives fiat.
    pub buyer: UserId,
    /// Which side posted the offer; the other side is the taker.
    pub maker: Party,
    /// The XMR sold, before fees.
    pub amount: Piconero,
    /// The price, fixed now for the life of the trade.
    pub price: Price,
    /// The fiat currency of the price.
    pub currency: CurrencyCode,
    /// How long the buyer has to pay.
    pub window: PaymentWindow,
    /// The fees in force now.
    pub fees: FeeSchedule,
    /// The platform's fee account, credited with the fees.
    pub fee_account: AccountId,
}

/// How a moderator settles a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// The buyer gets what a release would give; the platform keeps its fee.
    ToBuyer,
    /// Everything the seller put in escrow returns, fee included.
    ToSeller,
    /// The buyer gets `to_buyer` (more than zero, less than the escrow hold); the platform keeps
    /// its fee; the rest of the escrow hold returns to the seller.
    Split {
        /// What the buyer receives, net.
        to_buyer: Piconero,
    },
}

impl Resolution {
    /// The stable stored name of the outcome (the split amount is stored next to it).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Resolution::ToBuyer => "to_buyer",
            Resolution::ToSeller => "to_seller",
            Resolution::Split { .. } => "split",
        }
    }
}

/// A step someone (or the expiry job) asks of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeAction {
    /// The buyer says the fiat payment is sent.
    MarkPaid {
        /// Who asks.
        by: UserId,
    },
    /// The seller confirms receipt of the payment; escrow goes to the buyer.
    Release {
        /// Who asks.
        by: UserId,
    },
    /// A party calls the trade off: the buyer any time before paying, the seller only once the
    /// payment window passed unpaid.
    Cancel {
        /// Who asks.
        by: UserId,
    },
    /// The expiry job closes a trade whose payment window passed unpaid.
    Expire,
    /// A party raises a dispute: once paid, or once the payment window passed.
    Dispute {
        /// Who asks.
        by: UserId,
    },
    /// A moderator settles a dispute.
    Resolve {
        /// The moderator (the server checks the role; here only that they are not a party).
        by_moderator: UserId,
        /// How the escrow is settled.
        outcome: Resolution,
    },
}

impl TradeAction {
    /// The stable name of the action, used in errors and transfer ids.
    pub const fn name(&self) -> &'static str {
        match self {
            TradeAction::MarkPaid { .. } => "mark_paid",
            TradeAction::Release { .. } => "release",
            TradeAction::Cancel { .. } => "cancel",
            TradeAction::Expire => "expire",
            TradeAction::Dispute { .. } => "dispute",
            TradeAction::Resolve { .. } => "resolve",
        }
    }
}

/// A trade between a seller and a buyer. Fields are private: a trade is made only by
/// [`Trade::open`] and changed only by [`Trade::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    id: TradeId,
    offer: OfferId,
    seller: UserId,
    buyer: UserId,
    maker: Party,
    amount: Piconero,
    seller_fee: Piconero,
    buyer_fee: Piconero,
    price: Price,
    currency: CurrencyCode,
    fiat_amount: FiatAmount,
    window: PaymentWindow,
    opened_at: Timestamp,
    paid_at: Option<Timestamp>,
    closed_at: Option<Timestamp>,
    state: TradeState,
    resolution: Option<Resolution>,
    version: u64,
    transfer_names: TransferNames,
}

/// How a trade names its ledger transfers. The names are chosen when the trade opens and kept
/// with it, so that every step finds the holds its opening made, whatever version of the
/// server applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferNames {
    /// The hash of the trade id and the step ([`TransferId::derive`]): trades opened before
    /// time-ordered names.
    Hashed,
    /// The same hash behind the trade's opening time ([`TransferId::derive_at`]): the
    /// transfers of trades opened about the same time sit together in the ledger's indexes
    /// on transfer ids, so a group commit writes a few of their pages instead of one a
    /// transfer.
    TimeOrdered,
}

impl TransferNames {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferNames::Hashed => "hashed",
            TransferNames::TimeOrdered => "time_ordered",
        }
    }

    /// The value of a stored name.
    pub fn parse(s: &str) -> Option<TransferNames> {
        match s {
            "hashed" => Some(TransferNames::Hashed),
            "time_ordered" => Some(TransferNames::TimeOrdered),
            _ => None,
        }
    }
}

/// How one hold is settled by a step.
#[derive(Debug, Clone, Copy)]
enum Settle {
    /// Post all of it, or part of it.
    Post(Option<Piconero>, TransferCode),
    /// Void it.
    Void(TransferCode),
}

impl Trade {
    /// Opens a trade at `now`: the trade in [`TradeState::Escrowed`] and the linked chain of
    /// pending transfers that holds the seller's XMR. Write both in one database transaction.
    pub fn open(
        params: OpenTrade,
        now: Timestamp,
    ) -> Result<(Trade, Vec<NewTransfer>), TradeError> {
        if params.amount.is_zero() {
            return Err(TradeError::ZeroAmount);
        }
        if params.seller == params.buyer {
            return Err(TradeError::SelfTrade);
        }
        let TradeFees {
            seller_fee,
            buyer_fee,
        } = params.fees.trade_fees(params.amount, params.maker)?;
        let fiat_amount = params
            .price
            .fiat_in(params.amount, params.currency)
            .map_err(|_| TradeError::FiatAmountTooLarge)?;
        // Paying nothing for something is no trade: it would also let the buyer mark "paid"
        // without paying, and nobody could tell a dispute's fiat side.
        if fiat_amount == FiatAmount::ZERO {
            return Err(TradeError::FiatAmountTooSmall);
        }
        let trade = Trade {
            id: params.id,
            offer: params.offer,
            seller: params.seller,
            buyer: params.buyer,
            maker: params.maker,
            amount: params.amount,
            seller_fee,
            buyer_fee,
            price: params.price,
            currency: params.currency,
            fiat_amount,
            window: params.window,
            opened_at: now,
            paid_at: None,
            closed_at: None,
            state: TradeState::Escrowed,
            resolution: None,
            version: 0,
            transfer_names: TransferNames::TimeOrdered,
        };
        // The seller must be able to fund amount + fee: refuse amounts whose total overflows.
        let seller_debit = trade.seller_debit()?;
        let plan = trade.escrow_plan(params.fee_account)?;
        debug_assert!(plan.iter().all(|t| !t.id.is_nil()));
        debug_assert_eq!(
            Some(seller_debit.as_u64()),
            plan.iter()
                .map(|t| match t.op {
                    TransferOp::Pending { amount, .. } => amount.as_u64(),
                    _ => unreachable!("escrow is pending transfers only"),
                })
                .try_fold(0u64, u64::checked_add),
            "escrow holds add up to what the seller funds"
        );
        Ok((trade, plan))
    }

    /// Applies `action` at `now`: the next trade (version one higher) and the ledger plan of the
    /// step, empty when no money moves. Persist the trade with compare-and-set on the old
    /// [`Trade::version`] in the same database transaction as the plan.
    pub fn apply(
        self,
        action: TradeAction,
        now: Timestamp,
    ) -> Result<(Trade, Vec<NewTransfer>), TradeError> {
        let invalid = TradeError::InvalidTransition {
            from: self.state,
            action: action.name(),
        };
        if self.state.is_terminal() {
            return Err(invalid);
        }
        let window_over = now >= self.payment_deadline();
        let too_early = TradeError::TooEarly {
            until: self.payment_deadline(),
        };
        let name = action.name();
        let (next, plan) = match action {
            TradeAction::MarkPaid { by } => {
                self.require_side(by, Party::Buyer, name)?;
                // Allowed after the window too, until the trade is actually expired or
                // cancelled: a late payment is still a payment, and compare-and-set decides
                // the race with the expiry job.
                if self.state != TradeState::Escrowed {
                    return Err(invalid);
                }
                (TradeState::Paid, Vec::new())
            }
            TradeAction::Release { by } => {
                self.require_side(by, Party::Seller, name)?;
                if self.state != TradeState::Paid {
                    return Err(invalid);
                }
                let plan = self.settle_plan(
                    name,
                    Settle::Post(None, TransferCode::TradeRelease),
                    Settle::Post(None, TransferCode::TradeFee),
                );
                (TradeState::Released, plan)
            }
            TradeAction::Cancel { by } => {
                let side = self.side_of(by)?;
                if self.state != TradeState::Escrowed {
                    return Err(invalid);
                }
                if side == Party::Seller && !window_over {
                    return Err(too_early);
                }
                (TradeState::Cancelled, self.refund_plan(name))
            }
            TradeAction::Expire => {
                if self.state != TradeState::Escrowed {
                    return Err(invalid);
                }
                if !window_over {
                    return Err(too_early);
                }
                (TradeState::Expired, self.refund_plan(name))
            }
            TradeAction::Dispute { by } => {
                self.side_of(by)?;
                match self.state {
                    TradeState::Paid => {}
                    TradeState::Escrowed if window_over => {}
                    TradeState::Escrowed => return Err(too_early),
                    _ => return Err(invalid),
                }
                (TradeState::Disputed, Vec::new())
            }
            TradeAction::Resolve {
                by_moderator,
                outcome,
            } => {
                if by_moderator == self.seller || by_moderator == self.buyer {
                    return Err(TradeError::ModeratorIsAParty);
                }
                if self.state != TradeState::Disputed {
                    return Err(invalid);
                }
                let code = TransferCode::DisputeResolution;
                let plan = match outcome {
                    Resolution::ToBuyer => self.settle_plan(
                        name,
                        Settle::Post(None, code),
                        Settle::Post(None, TransferCode::TradeFee),
                    ),
                    Resolution::ToSeller => {
                        self.settle_plan(name, Settle::Void(code), Settle::Void(code))
                    }
                    Resolution::Split { to_buyer } => {
                        if to_buyer.is_zero() || to_buyer >= self.to_buyer()? {
                            return Err(TradeError::InvalidSplit);
                        }
                        self.settle_plan(
                            name,
                            Settle::Post(Some(to_buyer), code),
                            Settle::Post(None, TransferCode::TradeFee),
                        )
                    }
                };
                let mut next = self.transition(TradeState::Resolved, now);
                next.resolution = Some(outcome);
                return Ok((next, plan));
            }
        };
        Ok((self.transition(next, now), plan))
    }

    /// The trade moved to `state` at `now`, one version later.
    fn transition(mut self, state: TradeState, now: Timestamp) -> Trade {
        debug_assert!(!self.state.is_terminal(), "terminal states never move");
        debug_assert_ne!(self.state, state);
        if state == TradeState::Paid {
            self.paid_at = Some(now);
        }
        if state.is_terminal() {
            self.closed_at = Some(now);
        }
        self.state = state;
        self.version = self
            .version
            .checked_add(1)
            .expect("a trade takes a handful of steps, never 2^64");
        self
    }

    /// The side `user` is on, or [`TradeError::NotAParty`].
    pub fn side_of(&self, user: UserId) -> Result<Party, TradeError> {
        debug_assert_ne!(self.seller, self.buyer);
        if user == self.seller {
            Ok(Party::Seller)
        } else if user == self.buyer {
            Ok(Party::Buyer)
        } else {
            Err(TradeError::NotAParty)
        }
    }

    fn require_side(
        &self,
        user: UserId,
        side: Party,
        action: &'static str,
    ) -> Result<(), TradeError> {
        let actual = self.side_of(user)?;
        if actual == side {
            Ok(())
        } else {
            Err(TradeError::WrongParty {
                side: actual,
                action,
            })
        }
    }

    /// The pending transfers that hold the escrow, as a linked chain.
    fn escrow_plan(&self, fee_account: AccountId) -> Result<Vec<NewTransfer>, TradeError> {
        let seller = AccountId::user_xmr(self.seller);
        let mut plan = vec![NewTransfer::xmr(
            self.escrow_transfer_id(),
            TransferOp::Pending {
                debit: seller,
                credit: AccountId::user_xmr(self.buyer),
                amount: self.to_buyer()?,
                timeout_secs: 0,
            },
            TransferCode::TradeEscrow,
        )];
        let fee = self.fee_total()?;
        if !fee.is_zero() {
            plan.push(NewTransfer::xmr(
                self.fee_transfer_id(),
                TransferOp::Pending {
                    debit: seller,
                    credit: fee_account,
                    amount: fee,
                    timeout_secs: 0,
                },
                TransferCode::TradeFee,
            ));
        }
        Ok(self.chain(plan))
    }

    /// Voids every hold: the seller gets back all of the escrow, fee included.
    fn refund_plan(&self, step: &str) -> Vec<NewTransfer> {
        let code = TransferCode::TradeRefund;
        self.settle_plan(step, Settle::Void(code), Settle::Void(code))
    }

    /// Settles the escrow hold and (when there is one) the fee hold, as a linked chain.
    fn settle_plan(&self, step: &str, escrow: Settle, fee: Settle) -> Vec<NewTransfer> {
        let mut plan = vec![self.settle(step, ESCROW_HOLD, self.escrow_transfer_id(), escrow)];
        if self.has_fee_hold() {
            plan.push(self.settle(step, FEE_HOLD, self.fee_transfer_id(), fee));
        }
        self.chain(plan)
    }

    fn settle(&self, step: &str, hold: &str, pending_id: TransferId, how: Settle) -> NewTransfer {
        let id = self.transfer_id(&[step, hold]);
        match how {
            Settle::Post(amount, code) => {
                debug_assert!(amount.is_none_or(|a| !a.is_zero()));
                NewTransfer::xmr(id, TransferOp::Post { pending_id, amount }, code)
            }
            Settle::Void(code) => NewTransfer::xmr(id, TransferOp::Void { pending_id }, code),
        }
    }

    /// Tags every transfer with the trade id and links all but the last, so a plan is applied
    /// all or nothing.
    fn chain(&self, plan: Vec<NewTransfer>) -> Vec<NewTransfer> {
        let last = plan.len().saturating_sub(1);
        plan.into_iter()
            .enumerate()
            .map(|(i, t)| {
                let t = t.with_user_data(self.id.as_u128());
                if i < last { t.linked() } else { t }
            })
            .collect()
    }

    /// A transfer id derived from the trade id and `parts` (what the transfer is for), so the
    /// same step of the same trade always maps to the same transfer.
    fn transfer_id(&self, parts: &[&str]) -> TransferId {
        let mut name = self.id.as_uuid().as_bytes().to_vec();
        for part in parts {
            debug_assert!(!part.contains(':'), "parts are separated by ':'");
            name.push(b':');
            name.extend_from_slice(part.as_bytes());
        }
        let namespace = &crate::ids::namespace::TRADE_TRANSFER;
        match self.transfer_names {
            TransferNames::Hashed => TransferId::derive(namespace, &name),
            TransferNames::TimeOrdered => TransferId::derive_at(namespace, &name, self.opened_at),
        }
    }

    /// The trade's id.
    pub fn id(&self) -> TradeId {
        self.id
    }
    /// The offer it was opened on.
    pub fn offer(&self) -> OfferId {
        self.offer
    }
    /// Who gives XMR.
    pub fn seller(&self) -> UserId {
        self.seller
    }
    /// Who gives fiat.
    pub fn buyer(&self) -> UserId {
        self.buyer
    }
    /// The user who posted the offer.
    pub fn maker(&self) -> UserId {
        match self.maker {
            Party::Seller => self.seller,
            Party::Buyer => self.buyer,
        }
    }
    /// Which side posted the offer.
    pub fn maker_side(&self) -> Party {
        self.maker
    }
    /// The XMR sold, before fees.
    pub fn amount(&self) -> Piconero {
        self.amount
    }
    /// The seller's fee, paid on top of the amount.
    pub fn seller_fee(&self) -> Piconero {
        self.seller_fee
    }
    /// The buyer's fee, taken out of what the buyer receives.
    pub fn buyer_fee(&self) -> Piconero {
        self.buyer_fee
    }
    /// The price, fixed when the trade opened.
    pub fn price(&self) -> Price {
        self.price
    }
    /// The fiat currency.
    pub fn currency(&self) -> CurrencyCode {
        self.currency
    }
    /// What the buyer pays in fiat: the amount at the price, to the cent.
    pub fn fiat_amount(&self) -> FiatAmount {
        self.fiat_amount
    }
    /// How long the buyer has to pay.
    pub fn window(&self) -> PaymentWindow {
        self.window
    }
    /// When the trade opened (and the escrow was taken).
    pub fn opened_at(&self) -> Timestamp {
        self.opened_at
    }
    /// How it names its ledger transfers.
    pub fn transfer_names(&self) -> TransferNames {
        self.transfer_names
    }
    /// When the buyer marked the payment sent.
    pub fn paid_at(&self) -> Option<Timestamp> {
        self.paid_at
    }
    /// When the trade reached a terminal state.
    pub fn closed_at(&self) -> Option<Timestamp> {
        self.closed_at
    }
    /// Where the trade is.
    pub fn state(&self) -> TradeState {
        self.state
    }
    /// How a moderator settled it, once resolved.
    pub fn resolution(&self) -> Option<Resolution> {
        self.resolution
    }
    /// Incremented by every step; the server updates the stored trade only where the version is
    /// still the one it read, so each step happens once.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// When the payment window ends: from then the seller may cancel, either party may
    /// dispute, and the expiry job may expire an unpaid trade.
    pub fn payment_deadline(&self) -> Timestamp {
        self.opened_at.plus_secs(self.window.secs())
    }
    /// The id of the escrow hold (seller → buyer).
    pub fn escrow_transfer_id(&self) -> TransferId {
        self.transfer_id(&["hold", ESCROW_HOLD])
    }
    /// The id of the fee hold (seller → fee account); it exists only when
    /// [`Trade::fee_total`] is not zero.
    pub fn fee_transfer_id(&self) -> TransferId {
        self.transfer_id(&["hold", FEE_HOLD])
    }
    /// Whether the trade has a fee hold.
    pub fn has_fee_hold(&self) -> bool {
        !self.seller_fee.is_zero() || !self.buyer_fee.is_zero()
    }
    /// What the buyer receives on release: `amount − buyer_fee`. Never zero.
    pub fn to_buyer(&self) -> Result<Piconero, TradeError> {
        let net = self
            .amount
            .checked_sub(self.buyer_fee)
            .map_err(|_| TradeError::AmountTooLarge)?;
        debug_assert!(!net.is_zero(), "a fee is less than the amount");
        Ok(net)
    }
    /// What the platform earns on release: `seller_fee + buyer_fee`.
    pub fn fee_total(&self) -> Result<Piconero, TradeError> {
        self.seller_fee
            .checked_add(self.buyer_fee)
            .map_err(|_| TradeError::AmountTooLarge)
    }
    /// What the seller puts in escrow: `amount + seller_fee` = to the buyer + fees.
    pub fn seller_debit(&self) -> Result<Piconero, TradeError> {
        let total = self
            .amount
            .checked_add(self.seller_fee)
            .map_err(|_| TradeError::AmountTooLarge)?;
        debug_assert_eq!(
            self.to_buyer()?.checked_add(self.fee_total()?).ok(),
            Some(total),
            "what the seller funds is what the buyer and the platform receive"
        );
        Ok(total)
    }
}

/// A trade's fields as stored, for the storage layer: [`Trade::record`] writes one,
/// [`Trade::restore`] checks one and rebuilds the trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    /// See [`Trade::id`].
    pub id: TradeId,
    /// See [`Trade::offer`].
    pub offer: OfferId,
    /// See [`Trade::seller`].
    pub seller: UserId,
    /// See [`Trade::buyer`].
    pub buyer: UserId,
    /// See [`Trade::maker_side`].
    pub maker: Party,
    /// See [`Trade::amount`].
    pub amount: Piconero,
    /// See [`Trade::seller_fee`].
    pub seller_fee: Piconero,
    /// See [`Trade::buyer_fee`].
    pub buyer_fee: Piconero,
    /// See [`Trade::price`].
    pub price: Price,
    /// See [`Trade::currency`].
    pub currency: CurrencyCode,
    /// See [`Trade::fiat_amount`].
    pub fiat_amount: FiatAmount,
    /// See [`Trade::window`].
    pub window: PaymentWindow,
    /// See [`Trade::opened_at`].
    pub opened_at: Timestamp,
    /// See [`Trade::paid_at`].
    pub paid_at: Option<Timestamp>,
    /// See [`Trade::closed_at`].
    pub closed_at: Option<Timestamp>,
    /// See [`Trade::state`].
    pub state: TradeState,
    /// See [`Trade::resolution`].
    pub resolution: Option<Resolution>,
    /// See [`Trade::version`].
    pub version: u64,
    /// See [`Trade::transfer_names`].
    pub transfer_names: TransferNames,
}

/// A stored trade that no trade could have become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent trade record: {0}")]
pub struct CorruptTrade(pub &'static str);

impl Trade {
    /// The trade's fields, for storage.
    pub fn record(&self) -> TradeRecord {
        TradeRecord {
            id: self.id,
            offer: self.offer,
            seller: self.seller,
            buyer: self.buyer,
            maker: self.maker,
            amount: self.amount,
            seller_fee: self.seller_fee,
            buyer_fee: self.buyer_fee,
            price: self.price,
            currency: self.currency,
            fiat_amount: self.fiat_amount,
            window: self.window,
            opened_at: self.opened_at,
            paid_at: self.paid_at,
            closed_at: self.closed_at,
            state: self.state,
            resolution: self.resolution,
            version: self.version,
            transfer_names: self.transfer_names,
        }
    }

    /// Rebuilds a stored trade, refusing records that break what [`Trade::open`] and
    /// [`Trade::apply`] guarantee (a row edited by hand is corrupt, never trusted).
    pub fn restore(r: TradeRecord) -> Result<Trade, CorruptTrade> {
        let check =
            |ok: bool, what: &'static str| if ok { Ok(()) } else { Err(CorruptTrade(what)) };
        check(r.seller != r.buyer, "seller is the buyer")?;
        check(!r.amount.is_zero(), "zero amount")?;
        check(
            r.seller_fee < r.amount && r.buyer_fee < r.amount,
            "fee not below the amount",
        )?;
        check(
            r.price.fiat_in(r.amount, r.currency).ok() == Some(r.fiat_amount),
            "fiat amount is not price × amount",
        )?;
        check(
            r.closed_at.is_some() == r.state.is_terminal(),
            "closing time and state disagree",
        )?;
        check(
            r.resolution.is_some() == (r.state == TradeState::Resolved),
            "resolution and state disagree",
        )?;
        check(
            r.paid_at.is_some() || !matches!(r.state, TradeState::Paid | TradeState::Released),
            "paid state without a payment time",
        )?;
        check(
            r.paid_at.is_none_or(|t| t >= r.opened_at)
                && r.closed_at.is_none_or(|t| t >= r.opened_at),
            "times before the opening",
        )?;
        if let Some(Resolution::Split { to_buyer }) = r.resolution {
            check(
                !to_buyer.is_zero() && to_buyer < r.amount,
                "split outside the escrow",
            )?;
        }
        let trade = Trade {
            id: r.id,
            offer: r.offer,
            seller: r.seller,
            buyer: r.buyer,
            maker: r.maker,
            amount: r.amount,
            seller_fee: r.seller_fee,
            buyer_fee: r.buyer_fee,
            price: r.price,
            currency: r.currency,
            fiat_amount: r.fiat_amount,
            window: r.window,
            opened_at: r.opened_at,
            paid_at: r.paid_at,
            closed_at: r.closed_at,
            state: r.state,
            resolution: r.resolution,
            version: r.version,
            transfer_names: r.transfer_names,
        };
        trade
            .seller_debit()
            .map_err(|_| CorruptTrade("amount and fee overflow"))?;
        Ok(trade)
    }

    /// The actions `caller` could take at `now` (the expiry job's excepted), for clients to
    /// show the right buttons: those [`Trade::authorize`] allows and [`Trade::apply`] accepts.
    pub fn available_actions(&self, caller: &Caller, now: Timestamp) -> Vec<&'static str> {
        let user = caller.user();
        let candidates = [
            TradeAction::MarkPaid { by: user },
            TradeAction::Release { by: user },
            TradeAction::Cancel { by: user },
            TradeAction::Dispute { by: user },
            TradeAction::Resolve {
                by_moderator: user,
                outcome: Resolution::ToSeller,
            },
        ];
        candidates
            .into_iter()
            .filter(|action| {
                self.authorize(caller, action).is_ok() && self.clone().apply(*action, now).is_ok()
            })
            .map(|action| action.name())
            .collect()
    }

    /// Whether `caller` may see this trade: its parties always; a moderator's session once it
    /// is (or was) disputed. Anyone else is told it does not exist.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        let party = self.side_of(caller.user()).is_ok();
        let disputed = matches!(self.state, TradeState::Disputed | TradeState::Resolved);
        party || (disputed && caller.is_session() && caller.acts_as(Role::Moderator))
    }

    /// Whether `caller` may ask for `action` on this trade, and what they must show before it
    /// is applied. Whether the action fits the trade's state is [`Trade::apply`]'s to say;
    /// call both on the same trade, the one then written with compare-and-set.
    ///
    /// A caller who may not see the trade ([`Trade::visible_to`]) is not a party to it. A
    /// party's step needs the caller to be that party and the `trade` scope; releasing needs
    /// the seller's second factor. Resolving needs a moderator's session and the moderator's
    /// second factor. The expiry job's
    /// [`TradeAction::Expire`] is nobody's to ask for.
    pub fn authorize(&self, caller: &Caller, action: &TradeAction) -> Result<StepUp, TradeError> {
        let by = match *action {
            TradeAction::MarkPaid { by }
            | TradeAction::Release { by }
            | TradeAction::Cancel { by }
            | TradeAction::Dispute { by } => by,
            TradeAction::Resolve { by_moderator, .. } => by_moderator,
            TradeAction::Expire => return Err(TradeError::NotAParty),
        };
        if by != caller.user() {
            return Err(TradeError::NotAParty);
        }
        // Whoever may not see the trade is told it does not exist, before anything else, so
        // that no refusal tells a stranger which trade ids exist.
        if !self.visible_to(caller) {
            return Err(TradeError::NotAParty);
        }
        match action {
            TradeAction::Resolve { .. } => {
                if !(caller.is_session() && caller.acts_as(Role::Moderator)) {
                    return Err(TradeError::NotAModerator);
                }
                Ok(StepUp::SecondFactor)
            }
            _ => {
                self.side_of(by)?;
                if !caller.has_scope(Scope::Trade) {
                    return Err(TradeError::MissingScope(Scope::Trade));
                }
                Ok(match action {
                    TradeAction::Release { .. } => StepUp::SecondFactor,
                    _ => StepUp::None,
                })
            }
        }
    }
}

impl Party {
    /// The stable stored name: `seller` or `buyer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Party::Seller => "seller",
            Party::Buyer => "buyer",
        }
    }

    /// Parses [`Party::as_str`].
    pub fn parse(s: &str) -> Option<Party> {
        match s {
            "seller" => Some(Party::Seller),
            "buyer" => Some(Party::Buyer),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Data-driven paths with exact piconero figures, replayed against a real [`LedgerBook`],
    //! then a property test over random action sequences.

    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;
    use crate::ledger::{
        AccountCode, AccountFlags, LedgerBook, LedgerId, NewAccount, Outcome, TransferResult,
    };

    const T0: Timestamp = Timestamp::from_unix_ms(1_700_000_000_000);
    const WINDOW_SECS: u32 = 30 * 60;
    /// What the bank gives the seller before each test: 10 XMR.
    const SELLER_FUNDS: u64 = 10_000_000_000_000;
    const ONE_XMR: u64 = 1_000_000_000_000;

    fn seller() -> UserId {
        UserId::from_u128(1)
    }
    fn buyer() -> UserId {
        UserId::from_u128(2)
    }
    fn stranger() -> UserId {
        UserId::from_u128(3)
    }
    fn moderator() -> UserId {
        UserId::from_u128(4)
    }
    fn fee_account() -> AccountId {
        AccountId::from_u128(100)
    }
    fn bank() -> AccountId {
        AccountId::from_u128(200)
    }

    fn params(amount: u64, maker: Party, fees: FeeSchedule) -> OpenTrade {
        OpenTrade {
            id: TradeId::from_u128(42),
            offer: OfferId::from_u128(7),
            seller: seller(),
            buyer: buyer(),
            maker,
            amount: Piconero::new(amount),
            price: Price::parse("150.00").unwrap(),
            currency: CurrencyCode::parse("EUR").unwrap(),
            window: PaymentWindow::from_minutes(WINDOW_SECS / 60).unwrap(),
            fees,
            fee_account: fee_account(),
        }
    }

    /// 0.25% for the maker, 0.5% for the taker.
    fn fees() -> FeeSchedule {
        FeeSchedule::new(25, 50).unwrap()
    }

    /// A book with the four accounts and the seller funded.
    fn book() -> LedgerBook {
        let mut book = LedgerBook::new();
        let account = |id, code, flags| NewAccount {
            id,
            ledger: LedgerId::XMR,
            code,
            flags,
        };
        let accounts = [
            NewAccount::user_xmr(AccountId::user_xmr(seller())),
            NewAccount::user_xmr(AccountId::user_xmr(buyer())),
            account(
                fee_account(),
                AccountCode::PlatformFees,
                AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
            ),
            account(bank(), AccountCode::Equity, AccountFlags::NONE),
        ];
        assert!(
            book.create_accounts(&accounts, T0)
                .iter()
                .all(Result::is_ok)
        );
        let funding = NewTransfer::xmr(
            TransferId::from_u128(1),
            TransferOp::Single {
                debit: bank(),
                credit: AccountId::user_xmr(seller()),
                amount: Piconero::new(SELLER_FUNDS),
            },
            TransferCode::Deposit,
        );
        assert_eq!(
            book.create_transfers(&[funding], T0),
            [Ok(Outcome::Created)]
        );
        book
    }

    fn apply_plan(book: &mut LedgerBook, plan: &[NewTransfer], now: Timestamp) {
        let results = book.create_transfers(plan, now);
        let created: Vec<TransferResult> = plan.iter().map(|_| Ok(Outcome::Created)).collect();
        assert_eq!(results, created, "plan {plan:#?}");
    }

    /// (seller available, seller held, buyer posted, fee account posted)
    fn balances(book: &LedgerBook) -> (u64, u64, u64, u64) {
        let of = |id| book.account(id).expect("account exists");
        let s = of(AccountId::user_xmr(seller()));
        (
            s.available().unwrap().as_u64(),
            s.balances().debits_pending.as_u64(),
            of(AccountId::user_xmr(buyer())).posted().unwrap().as_u64(),
            of(fee_account()).posted().unwrap().as_u64(),
        )
    }

    /// Opens `p` at T0 and applies each step `(seconds after T0, action)`, replaying every plan
    /// in a ledger book. Returns the trade, the book and the result of the last step.
    fn run(
        p: OpenTrade,
        steps: &[(u64, TradeAction)],
    ) -> (Trade, LedgerBook, Result<(), TradeError>) {
        let mut book = book();
        let (mut trade, plan) = Trade::open(p, T0).unwrap();
        apply_plan(&mut book, &plan, T0);
        let mut last = Ok(());
        for &(secs, action) in steps {
            let now = T0.plus_secs(secs);
            match trade.clone().apply(action, now) {
                Ok((next, plan)) => {
                    assert_eq!(next.version(), trade.version() + 1);
                    apply_plan(&mut book, &plan, now);
                    trade = next;
                    last = Ok(());
                }
                Err(e) => last = Err(e),
            }
        }
        (trade, book, last)
    }

    fn mark_paid() -> TradeAction {
        TradeAction::MarkPaid { by: buyer() }
    }
    fn release() -> TradeAction {
        TradeAction::Release { by: seller() }
    }
    fn dispute(by: UserId) -> TradeAction {
        TradeAction::Dispute { by }
    }
    fn resolve(outcome: Resolution) -> TradeAction {
        TradeAction::Resolve {
            by_moderator: moderator(),
            outcome,
        }
    }

    /// [`WINDOW_SECS`] as the `u64` the steps use.
    const AFTER: u64 = 30 * 60;
    const BEFORE: u64 = AFTER - 1;

    #[test]
    fn window_constants_agree() {
        assert_eq!(u64::from(WINDOW_SECS), AFTER);
    }

    #[test]
    fn open_holds_amount_plus_seller_fee() {
        let (trade, plan) = Trade::open(params(ONE_XMR, Party::Seller, fees()), T0).unwrap();
        assert_eq!(trade.state(), TradeState::Escrowed);
        assert_eq!(trade.version(), 0);
        assert_eq!(trade.maker(), seller());
        assert_eq!(trade.seller_fee(), Piconero::new(2_500_000_000));
        assert_eq!(trade.buyer_fee(), Piconero::new(5_000_000_000));
        assert_eq!(trade.seller_debit(), Ok(Piconero::new(1_002_500_000_000)));
        assert_eq!(trade.to_buyer(), Ok(Piconero::new(995_000_000_000)));
        assert_eq!(trade.fee_total(), Ok(Piconero::new(7_500_000_000)));
        assert_eq!(trade.fiat_amount(), FiatAmount::parse("150").unwrap());
        assert_eq!(trade.payment_deadline(), T0.plus_secs(AFTER));
        let seller_acc = AccountId::user_xmr(seller());
        let expected = vec![
            NewTransfer::xmr(
                trade.escrow_transfer_id(),
                TransferOp::Pending {
                    debit: seller_acc,
                    credit: AccountId::user_xmr(buyer()),
                    amount: Piconero::new(995_000_000_000),
                    timeout_secs: 0,
                },
                TransferCode::TradeEscrow,
            )
            .with_user_data(42)
            .linked(),
            NewTransfer::xmr(
                trade.fee_transfer_id(),
                TransferOp::Pending {
                    debit: seller_acc,
                    credit: fee_account(),
                    amount: Piconero::new(7_500_000_000),
                    timeout_secs: 0,
                },
                TransferCode::TradeFee,
            )
            .with_user_data(42),
        ];
        assert_eq!(plan, expected);
        // Opening again (a retry) yields the same transfers, which the ledger takes as done.
        assert_eq!(
            Trade::open(params(ONE_XMR, Party::Seller, fees()), T0)
                .unwrap()
                .1,
            expected
        );
        let (_, book, _) = run(params(ONE_XMR, Party::Seller, fees()), &[]);
        assert_eq!(
            balances(&book),
            (SELLER_FUNDS - 1_002_500_000_000, 1_002_500_000_000, 0, 0)
        );
    }

    #[test]
    fn fees_follow_the_maker() {
        let (trade, _) = Trade::open(params(ONE_XMR, Party::Buyer, fees()), T0).unwrap();
        assert_eq!(trade.maker(), buyer());
        assert_eq!(trade.seller_fee(), Piconero::new(5_000_000_000));
        assert_eq!(trade.buyer_fee(), Piconero::new(2_500_000_000));
        // Fees round down: 0.5% of 199 piconero is 0.995, so nothing.
        // (At a price where 199 piconero are still worth a cent.)
        let mut tiny = params(199, Party::Seller, fees());
        tiny.price = Price::parse("100000000").unwrap();
        let (tiny, plan) = Trade::open(tiny, T0).unwrap();
        assert_eq!(
            (tiny.seller_fee(), tiny.buyer_fee()),
            (Piconero::ZERO, Piconero::ZERO)
        );
        assert!(!tiny.has_fee_hold());
        assert_eq!(plan.len(), 1);
        assert!(!plan[0].linked);
    }

    #[test]
    fn open_refuses_bad_input() {
        let check = |p: OpenTrade, expected: TradeError| {
            assert_eq!(Trade::open(p, T0).unwrap_err(), expected);
            assert!(expected.is_invalid_input());
        };
        check(params(0, Party::Seller, fees()), TradeError::ZeroAmount);
        let mut same = params(ONE_XMR, Party::Seller, fees());
        same.buyer = seller();
        check(same, TradeError::SelfTrade);
        check(
            params(u64::MAX, Party::Seller, fees()),
            TradeError::AmountTooLarge,
        );
        let mut dear = params(10_000 * ONE_XMR, Party::Seller, FeeSchedule::FREE);
        dear.price = Price::parse("100000000000").unwrap();
        check(dear, TradeError::FiatAmountTooLarge);
        // 33 piconero at 150.00 is 0.000000005 EUR: below a cent, so nothing to pay.
        check(
            params(33, Party::Seller, fees()),
            TradeError::FiatAmountTooSmall,
        );
        check(
            params(33_333_333, Party::Seller, fees()),
            TradeError::FiatAmountTooSmall,
        );
        assert!(Trade::open(params(33_333_334, Party::Seller, fees()), T0).is_ok());
        assert_eq!(FeeSchedule::new(1_001, 0), Err(TradeError::FeeTooHigh));
        assert_eq!(FeeSchedule::new(0, 1_001), Err(TradeError::FeeTooHigh));
        assert!(FeeSchedule::new(MAX_FEE_BPS, MAX_FEE_BPS).is_ok());
    }

    #[test]
    fn states_round_trip_through_storage_names() {
        for state in TradeState::ALL {
            assert_eq!(TradeState::parse(state.as_str()), Ok(state));
            assert_eq!(state.to_string().parse::<TradeState>(), Ok(state));
        }
        assert!(TradeState::parse("open").is_err());
        let terminal: Vec<_> = TradeState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                TradeState::Released,
                TradeState::Cancelled,
                TradeState::Expired,
                TradeState::Resolved
            ]
        );
    }

    /// Every legal path, with the balances it ends on:
    /// (seller available, seller held, buyer posted, fee account posted).
    #[test]
    fn legal_paths_move_exact_amounts() {
        let funds = SELLER_FUNDS;
        let refunded = (funds, 0, 0, 0);
        let released = (funds - 1_002_500_000_000, 0, 995_000_000_000, 7_500_000_000);
        type Case = (
            &'static str,
            Vec<(u64, TradeAction)>,
            TradeState,
            (u64, u64, u64, u64),
        );
        let cases: Vec<Case> = vec![
            (
                "happy path",
                vec![(60, mark_paid()), (120, release())],
                TradeState::Released,
                released,
            ),
            (
                "buyer cancels at once",
                vec![(0, TradeAction::Cancel { by: buyer() })],
                TradeState::Cancelled,
                refunded,
            ),
            (
                "seller cancels after the window",
                vec![(AFTER, TradeAction::Cancel { by: seller() })],
                TradeState::Cancelled,
                refunded,
            ),
            (
                "expiry job",
                vec![(AFTER, TradeAction::Expire)],
                TradeState::Expired,
                refunded,
            ),
            (
                "late payment still counts",
                vec![(AFTER + 5, mark_paid()), (AFTER + 9, release())],
                TradeState::Released,
                released,
            ),
            (
                "dispute once paid, to buyer",
                vec![
                    (1, mark_paid()),
                    (2, dispute(seller())),
                    (3, resolve(Resolution::ToBuyer)),
                ],
                TradeState::Resolved,
                released,
            ),
            (
                "dispute once paid, to seller",
                vec![
                    (1, mark_paid()),
                    (2, dispute(buyer())),
                    (3, resolve(Resolution::ToSeller)),
                ],
                TradeState::Resolved,
                refunded,
            ),
            (
                "dispute after the window, split",
                vec![
                    (AFTER, dispute(buyer())),
                    (
                        AFTER + 1,
                        resolve(Resolution::Split {
                            to_buyer: Piconero::new(500_000_000_000),
                        }),
                    ),
                ],
                TradeState::Resolved,
                (
                    funds - 500_000_000_000 - 7_500_000_000,
                    0,
                    500_000_000_000,
                    7_500_000_000,
                ),
            ),
        ];
        for (name, steps, state, expected) in cases {
            let (trade, book, last) = run(params(ONE_XMR, Party::Seller, fees()), &steps);
            assert_eq!(last, Ok(()), "{name}");
            assert_eq!(trade.state(), state, "{name}");
            assert_eq!(Ok(trade.version()), u64::try_from(steps.len()), "{name}");
            assert_eq!(balances(&book), expected, "{name}");
            let (last_secs, _) = steps[steps.len() - 1];
            assert_eq!(trade.closed_at(), Some(T0.plus_secs(last_secs)), "{name}");
        }
    }

    #[test]
    fn paid_and_resolution_are_recorded() {
        let (trade, _, _) = run(
            params(ONE_XMR, Party::Seller, fees()),
            &[
                (60, mark_paid()),
                (70, dispute(buyer())),
                (80, resolve(Resolution::ToSeller)),
            ],
        );
        assert_eq!(trade.paid_at(), Some(T0.plus_secs(60)));
        assert_eq!(trade.resolution(), Some(Resolution::ToSeller));
        assert_eq!(trade.version(), 3);
    }

    /// Every refused step: the steps before it are accepted, the last one is refused.
    #[test]
    fn illegal_steps_are_refused() {
        use TradeError as E;
        let early = E::TooEarly {
            until: T0.plus_secs(AFTER),
        };
        let invalid = |from, action| E::InvalidTransition { from, action };
        let split = |n| {
            resolve(Resolution::Split {
                to_buyer: Piconero::new(n),
            })
        };
        let cases: Vec<(Vec<(u64, TradeAction)>, TradeError)> = vec![
            (vec![(BEFORE, TradeAction::Cancel { by: seller() })], early),
            (vec![(BEFORE, TradeAction::Expire)], early),
            (vec![(BEFORE, dispute(buyer()))], early),
            (
                vec![(1, TradeAction::MarkPaid { by: seller() })],
                E::WrongParty {
                    side: Party::Seller,
                    action: "mark_paid",
                },
            ),
            (
                vec![(1, TradeAction::MarkPaid { by: stranger() })],
                E::NotAParty,
            ),
            (
                vec![(1, mark_paid()), (2, TradeAction::Release { by: buyer() })],
                E::WrongParty {
                    side: Party::Buyer,
                    action: "release",
                },
            ),
            (
                vec![(1, TradeAction::Release { by: seller() })],
                invalid(TradeState::Escrowed, "release"),
            ),
            (
                vec![(1, mark_paid()), (2, mark_paid())],
                invalid(TradeState::Paid, "mark_paid"),
            ),
            (
                vec![(1, mark_paid()), (2, TradeAction::Cancel { by: buyer() })],
                invalid(TradeState::Paid, "cancel"),
            ),
            (
                vec![
                    (1, mark_paid()),
                    (AFTER, TradeAction::Cancel { by: seller() }),
                ],
                invalid(TradeState::Paid, "cancel"),
            ),
            (
                vec![(1, mark_paid()), (AFTER, TradeAction::Expire)],
                invalid(TradeState::Paid, "expire"),
            ),
            (
                vec![(1, mark_paid()), (2, dispute(stranger()))],
                E::NotAParty,
            ),
            (
                vec![(1, mark_paid()), (2, resolve(Resolution::ToBuyer))],
                invalid(TradeState::Paid, "resolve"),
            ),
            (
                vec![(1, mark_paid()), (2, dispute(buyer())), (3, release())],
                invalid(TradeState::Disputed, "release"),
            ),
            (
                vec![
                    (1, mark_paid()),
                    (2, dispute(buyer())),
                    (3, dispute(seller())),
                ],
                invalid(TradeState::Disputed, "dispute"),
            ),
            (
                vec![
                    (1, mark_paid()),
                    (2, dispute(buyer())),
                    (
                        3,
                        TradeAction::Resolve {
                            by_moderator: seller(),
                            outcome: Resolution::ToSeller,
                        },
                    ),
                ],
                E::ModeratorIsAParty,
            ),
            (
                vec![(1, mark_paid()), (2, dispute(buyer())), (3, split(0))],
                E::InvalidSplit,
            ),
            (
                vec![
                    (1, mark_paid()),
                    (2, dispute(buyer())),
                    (3, split(995_000_000_000)),
                ],
                E::InvalidSplit,
            ),
            (
                vec![(1, mark_paid()), (2, release()), (3, dispute(buyer()))],
                invalid(TradeState::Released, "dispute"),
            ),
            (
                vec![(0, TradeAction::Cancel { by: buyer() }), (1, mark_paid())],
                invalid(TradeState::Cancelled, "mark_paid"),
            ),
            (
                vec![(AFTER, TradeAction::Expire), (AFTER, TradeAction::Expire)],
                invalid(TradeState::Expired, "expire"),
            ),
            (
                vec![
                    (1, mark_paid()),
                    (2, dispute(buyer())),
                    (3, resolve(Resolution::ToBuyer)),
                    (4, resolve(Resolution::ToSeller)),
                ],
                invalid(TradeState::Resolved, "resolve"),
            ),
        ];
        for (steps, expected) in cases {
            let (accepted, refused) = steps.split_at(steps.len() - 1);
            let (before, _, last) = run(params(ONE_XMR, Party::Seller, fees()), accepted);
            assert_eq!(last, Ok(()), "{steps:?}");
            let (secs, action) = refused[0];
            let err = before.apply(action, T0.plus_secs(secs)).unwrap_err();
            assert_eq!(err, expected, "{steps:?}");
            assert!(
                err.is_invalid_transition() || err.is_forbidden() || err.is_invalid_input(),
                "{err:?} is classified"
            );
            assert_eq!(
                crate::Error::from(err).is_invalid_transition(),
                err.is_invalid_transition()
            );
        }
    }

    #[test]
    fn inconsistent_records_are_refused() {
        let (paid, _, _) = run(params(ONE_XMR, Party::Seller, fees()), &[(1, mark_paid())]);
        let good = paid.record();
        assert_eq!(Trade::restore(good.clone()).unwrap(), paid);
        let broken: Vec<TradeRecord> = vec![
            TradeRecord {
                buyer: good.seller,
                ..good.clone()
            },
            TradeRecord {
                amount: Piconero::ZERO,
                ..good.clone()
            },
            TradeRecord {
                seller_fee: good.amount,
                ..good.clone()
            },
            TradeRecord {
                fiat_amount: FiatAmount::parse("1").unwrap(),
                ..good.clone()
            },
            TradeRecord {
                state: TradeState::Released,
                ..good.clone()
            },
            TradeRecord {
                paid_at: None,
                ..good.clone()
            },
            TradeRecord {
                resolution: Some(Resolution::ToBuyer),
                ..good.clone()
            },
        ];
        for record in broken {
            assert!(Trade::restore(record.clone()).is_err(), "{record:?}");
        }
    }

    fn session(user: UserId) -> Caller {
        let role = if user == moderator() {
            Role::Moderator
        } else {
            Role::User
        };
        Caller::session(user, role)
    }

    #[test]
    fn available_actions_are_the_ones_that_apply() {
        let (trade, _) = Trade::open(params(ONE_XMR, Party::Seller, fees()), T0).unwrap();
        assert_eq!(
            trade.available_actions(&session(buyer()), T0),
            ["mark_paid", "cancel"]
        );
        assert!(trade.available_actions(&session(seller()), T0).is_empty());
        let late = T0.plus_secs(u64::from(WINDOW_SECS));
        assert_eq!(
            trade.available_actions(&session(seller()), late),
            ["cancel", "dispute"]
        );
        assert!(
            trade
                .available_actions(&session(stranger()), late)
                .is_empty()
        );
        assert!(
            trade
                .available_actions(&session(moderator()), late)
                .is_empty()
        );
        let (disputed, _) = trade.apply(dispute(buyer()), late).unwrap();
        assert_eq!(
            disputed.available_actions(&session(moderator()), late),
            ["resolve"]
        );
        let key = Caller::api_key(moderator(), crate::Scopes::of(&Scope::ALL));
        assert!(disputed.available_actions(&key, late).is_empty());
    }

    #[test]
    fn authorize_decides_who_may_ask_and_the_second_factor() {
        use crate::Scopes;
        let (trade, _) = Trade::open(params(ONE_XMR, Party::Seller, fees()), T0).unwrap();
        let late = T0.plus_secs(u64::from(WINDOW_SECS));
        let (paid, _) = trade.clone().apply(mark_paid(), T0).unwrap();
        let (disputed, _) = paid.clone().apply(dispute(buyer()), late).unwrap();
        let trade_key = |user| Caller::api_key(user, Scopes::of(&[Scope::Trade]));
        let read_key = |user| Caller::api_key(user, Scopes::of(&[Scope::Read]));
        let check =
            |trade: &Trade, caller: Caller, action: TradeAction| trade.authorize(&caller, &action);

        // Releasing always needs the second factor, whatever the state: apply decides the state.
        for t in [&trade, &paid, &disputed] {
            assert_eq!(
                check(t, session(seller()), release()),
                Ok(StepUp::SecondFactor)
            );
            assert_eq!(
                check(t, trade_key(seller()), release()),
                Ok(StepUp::SecondFactor)
            );
        }
        assert_eq!(
            check(&trade, session(buyer()), mark_paid()),
            Ok(StepUp::None)
        );
        assert_eq!(
            check(&trade, read_key(buyer()), mark_paid()),
            Err(TradeError::MissingScope(Scope::Trade))
        );
        assert_eq!(
            check(
                &trade,
                session(stranger()),
                TradeAction::Cancel { by: stranger() }
            ),
            Err(TradeError::NotAParty)
        );
        // Someone asking in another's name.
        assert_eq!(
            check(&paid, session(buyer()), release()),
            Err(TradeError::NotAParty)
        );
        assert_eq!(
            check(&trade, session(seller()), TradeAction::Expire),
            Err(TradeError::NotAParty)
        );

        let resolve_to_buyer = resolve(Resolution::ToBuyer);
        assert_eq!(
            check(&disputed, session(moderator()), resolve_to_buyer),
            Ok(StepUp::SecondFactor)
        );
        // A moderator's key is a plain user's.
        let mod_key = Caller::api_key(moderator(), Scopes::of(&Scope::ALL));
        assert_eq!(
            check(&disputed, mod_key, resolve_to_buyer),
            Err(TradeError::NotAParty)
        );
        assert_eq!(
            check(
                &disputed,
                session(buyer()),
                TradeAction::Resolve {
                    by_moderator: buyer(),
                    outcome: Resolution::ToBuyer
                }
            ),
            Err(TradeError::NotAModerator)
        );
        assert!(!disputed.visible_to(&mod_key));
        // Not disputed: a moderator sees nothing.
        assert_eq!(
            check(&paid, session(moderator()), resolve_to_buyer),
            Err(TradeError::NotAParty)
        );
        assert!(!paid.visible_to(&session(moderator())));
        assert!(disputed.visible_to(&session(moderator())));
        assert!(paid.visible_to(&read_key(buyer())));
        assert!(!paid.visible_to(&session(stranger())));
    }

    #[test]
    fn transition_transfer_ids_are_stable_and_distinct() {
        let (paid, _, _) = run(params(ONE_XMR, Party::Seller, fees()), &[(1, mark_paid())]);
        let (_, a) = paid.clone().apply(release(), T0.plus_secs(2)).unwrap();
        let (_, b) = paid.clone().apply(release(), T0.plus_secs(9)).unwrap();
        assert_eq!(a, b, "a retried release makes the same transfers");
        let (disputed, _) = paid.apply(dispute(buyer()), T0.plus_secs(3)).unwrap();
        let (_, c) = disputed
            .apply(resolve(Resolution::ToBuyer), T0.plus_secs(4))
            .unwrap();
        let ids: HashSet<TransferId> = a.iter().chain(&c).map(|t| t.id).collect();
        assert_eq!(ids.len(), 4, "each step and hold has its own id");
    }

    #[test]
    fn new_trades_name_transfers_by_their_opening_time() {
        let (open, plan) = Trade::open(params(ONE_XMR, Party::Seller, fees()), T0).unwrap();
        assert_eq!(open.transfer_names(), TransferNames::TimeOrdered);
        let (later, _) = Trade::open(
            OpenTrade {
                id: TradeId::from_u128(43),
                ..params(ONE_XMR, Party::Seller, fees())
            },
            T0.plus_ms(1),
        )
        .unwrap();
        for t in &plan {
            assert_eq!(t.id.as_uuid().get_version_num(), 8);
            assert!(t.id < later.escrow_transfer_id(), "ordered by opening time");
        }
        // A step names its transfers by the opening time too, whenever it is applied.
        let (paid, _) = open.apply(mark_paid(), T0.plus_secs(1)).unwrap();
        let (_, release) = paid.apply(release(), T0.plus_secs(3_600)).unwrap();
        for t in &release {
            assert!(t.id < later.escrow_transfer_id());
        }
    }

    #[test]
    fn hashed_trades_name_transfers_as_they_always_did() {
        // A trade opened before time-ordered names: its steps must find the holds its opening
        // made, named UUIDv5(…0002, trade id bytes ++ ":hold:escrow") and so on.
        let (open, _) = Trade::open(params(ONE_XMR, Party::Seller, fees()), T0).unwrap();
        let hashed = Trade::restore(TradeRecord {
            transfer_names: TransferNames::Hashed,
            ..open.record()
        })
        .unwrap();
        let name = |parts: &str| {
            let mut name = TradeId::from_u128(42).as_uuid().as_bytes().to_vec();
            name.extend_from_slice(parts.as_bytes());
            TransferId::derive(
                &uuid::Uuid::from_u128(0x3c1e_57a0_1d5e_4b8f_9a7e_6f00_0000_0002),
                &name,
            )
        };
        assert_eq!(hashed.escrow_transfer_id(), name(":hold:escrow"));
        assert_eq!(hashed.fee_transfer_id(), name(":hold:fee"));
        assert_eq!(
            hashed.escrow_transfer_id().to_string(),
            "3a5af5c8-80dd-534d-b417-85596a639215"
        );
        let (paid, _) = hashed.apply(mark_paid(), T0.plus_secs(1)).unwrap();
        let (_, release) = paid.apply(release(), T0.plus_secs(2)).unwrap();
        assert_eq!(release[0].id, name(":release:escrow"));
        assert!(matches!(
            release[0].op,
            TransferOp::Post { pending_id, .. } if pending_id == name(":hold:escrow")
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Property test: random actions by random people at random times.
    // -----------------------------------------------------------------------------------------

    fn actor(n: u8) -> UserId {
        [seller(), buyer(), stranger(), moderator()][usize::from(n % 4)]
    }

    fn action(kind: u8, who: u8, pick: u8, split: u64, net: u64) -> TradeAction {
        let by = actor(who);
        match kind % 6 {
            0 => TradeAction::MarkPaid { by },
            1 => TradeAction::Release { by },
            2 => TradeAction::Cancel { by },
            3 => TradeAction::Expire,
            4 => TradeAction::Dispute { by },
            _ => TradeAction::Resolve {
                by_moderator: by,
                outcome: match pick % 3 {
                    0 => Resolution::ToBuyer,
                    1 => Resolution::ToSeller,
                    // Sometimes zero or the whole escrow, which must be refused.
                    _ => Resolution::Split {
                        to_buyer: Piconero::new(split % (net + 1)),
                    },
                },
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_actions_keep_money_and_states_sound(
            // From the smallest amount worth a cent at the test price.
            amount in 33_333_334..=SELLER_FUNDS / 2,
            maker_bps in 0..=MAX_FEE_BPS,
            taker_bps in 0..=MAX_FEE_BPS,
            seller_makes in any::<bool>(),
            steps in prop::collection::vec(
                (any::<u8>(), any::<u8>(), any::<u8>(), any::<u64>(), 0..=1_000u64),
                0..24,
            ),
        ) {
            let maker = if seller_makes { Party::Seller } else { Party::Buyer };
            let fees = FeeSchedule::new(maker_bps, taker_bps).unwrap();
            let mut book = book();
            let (mut trade, plan) = Trade::open(params(amount, maker, fees), T0).unwrap();
            apply_plan(&mut book, &plan, T0);
            let net = trade.to_buyer().unwrap().as_u64();
            // The model: the holds and what each received.
            let mut holds: HashMap<TransferId, u64> = HashMap::new();
            for t in &plan {
                let TransferOp::Pending { amount, .. } = t.op else { panic!("{t:?}") };
                holds.insert(t.id, amount.as_u64());
            }
            prop_assert_eq!(holds.values().sum::<u64>(), trade.seller_debit().unwrap().as_u64());
            let mut resolved: HashSet<TransferId> = HashSet::new();
            let (mut seller_out, mut buyer_in, mut fee_in) = (0u64, 0u64, 0u64);
            let mut now = T0;
            for (kind, who, pick, split, advance) in steps {
                now = now.plus_secs(advance * 10);
                let act = action(kind, who, pick, split, net);
                let was_terminal = trade.state().is_terminal();
                match trade.clone().apply(act, now) {
                    Ok((next, plan)) => {
                        prop_assert!(!was_terminal, "{:?} left {:?}", act, trade.state());
                        prop_assert_eq!(next.version(), trade.version() + 1);
                        prop_assert_ne!(next.state(), trade.state());
                        for t in &plan {
                            let pending = t.pending_id().expect("only posts and voids");
                            let held = *holds.get(&pending).expect("only this trade's holds");
                            prop_assert!(resolved.insert(pending), "{:?} resolved twice", pending);
                            if let TransferOp::Post { amount, .. } = t.op {
                                let moved = amount.map_or(held, Piconero::as_u64);
                                prop_assert!(moved <= held);
                                seller_out += moved;
                                if pending == trade.escrow_transfer_id() {
                                    buyer_in += moved;
                                } else {
                                    fee_in += moved;
                                }
                            }
                        }
                        apply_plan(&mut book, &plan, now);
                        trade = next;
                    }
                    Err(e) => {
                        prop_assert!(
                            e.is_invalid_transition() || e.is_forbidden() || e.is_invalid_input(),
                            "{:?}", e
                        );
                        if was_terminal {
                            prop_assert!(
                                matches!(e, TradeError::InvalidTransition { .. }),
                                "{:?}", e
                            );
                        }
                    }
                }
                // What is stored comes back as it was.
                prop_assert_eq!(&Trade::restore(trade.record()).unwrap(), &trade);
                // Conservation, in the model and in the book.
                prop_assert_eq!(seller_out, buyer_in + fee_in);
                let (available, held, buyer_posted, fee_posted) = balances(&book);
                prop_assert_eq!(buyer_posted, buyer_in);
                prop_assert_eq!(fee_posted, fee_in);
                prop_assert_eq!(available + held + seller_out, SELLER_FUNDS);
                if trade.state().is_terminal() {
                    prop_assert_eq!(held, 0, "a closed trade holds nothing");
                    prop_assert_eq!(resolved.len(), holds.len());
                } else {
                    prop_assert!(resolved.is_empty());
                }
            }
        }
    }
}
