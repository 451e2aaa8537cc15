//! Running trades: opening one on an offer, applying each step, expiring the unpaid.
//!
//! The rules are the core's state machine ([`Trade::open`], [`Trade::apply`]); this module
//! loads what they need, and commits the trade row, its events and its idempotency key in the
//! ledger writer's transaction that moves the escrow ([`SqlLedger::transfer_attached`]): a
//! trade never exists without its escrow, and a step happens once. Two requests racing for one
//! step meet at the compare-and-set on the trade's version: one wins, the other re-reads the
//! trade and is told why its step no longer applies.
//!
//! [`SqlLedger::transfer_attached`]: pupero_ledger::SqlLedger::transfer_attached

use async_trait::async_trait;
use pupero_core::ledger::NewTransfer;
use pupero_core::limits::{MAX_TRADE_EXPIRIES_PER_PASS, max_open_trades};
use pupero_core::offer::{OfferStatus, Side};
use pupero_core::price::{PriceOracle, Pricing};
use pupero_core::{
    AccountId, Caller, Offer, OfferId, OpenTrade, Party, Piconero, Price, Resolution, StepUp,
    Trade, TradeAction, TradeError, TradeId, TradeState, UserId,
};
use pupero_ledger::{Attachment, AttachmentError, Batches, Engine, Expect};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::Market;
use crate::audit::{AuditEntry, AuditEvent};
use crate::error::{Error, ErrorKind};
use crate::events::{EventBatch, EventKind, NewEvent};
use crate::store::{
    NewMatrixJob, StoreError, TradeCursor, TradeRequest, TradeRow, insert_request_statement,
    insert_trade_statement, matrix_job_statement, update_trade_statement,
};
use crate::two_factor::{SecondFactor, SecondFactorProof};

/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 100;

/// Longest dispute reason, in characters.
pub const MAX_DISPUTE_REASON_CHARS: usize = 2_000;

/// Times a step is retried after losing a compare-and-set to a concurrent step.
const MAX_STEP_ATTEMPTS: u32 = 3;

/// Times a trade's opening is decided again after its offer changed under it.
const MAX_OPEN_ATTEMPTS: u32 = 3;

/// The phases of a group's trade statements (see [`pupero_ledger::Statement::phase`]):
/// idempotency keys, then new trades, then steps, then what the Matrix bridge mirrors. A new
/// trade thus counts its taker's open trades before the group's steps close any of them: it may
/// be refused where counting later would have let it in (the refusal is then decided again),
/// never let in past the limit.
const PHASE_KEYS: u8 = 0;
const PHASE_OPENS: u8 = 1;
const PHASE_STEPS: u8 = 2;
const PHASE_MIRROR: u8 = 3;

/// Abort codes of the attachments.
const ABORT_REPLAY: &str = "replay";
/// The offer could not be traded on, or the taker has too many open trades.
const ABORT_OPEN_REFUSED: &str = "open_refused";
const ABORT_TRADE_CHANGED: &str = "trade_changed";

/// A client's `Idempotency-Key`: 1–100 visible ASCII characters, unique per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header's value.
    pub fn parse(s: &str) -> Result<IdempotencyKey, Error> {
        if s.is_empty()
            || s.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !s.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::validation(format!(
                "Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(IdempotencyKey(s.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A step asked of a trade, with what the server keeps beside the state machine.
#[derive(Debug, Clone)]
pub struct Step {
    /// The action.
    pub action: TradeAction,
    /// Why: the reason of a dispute, or the moderator's note on a resolution.
    pub reason: Option<String>,
}

/// Who asks for a step: a caller, with the second factor they sent (used only when the step
/// needs it), or the expiry job.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A user, as authenticated.
    Caller(&'a Caller, SecondFactorProof<'a>),
    /// The background job that expires unpaid trades.
    ExpiryJob,
}

impl Actor<'_> {
    fn user(&self) -> Option<UserId> {
        match self {
            Actor::Caller(caller, _) => Some(caller.user()),
            Actor::ExpiryJob => None,
        }
    }
}

/// The price a taker accepted: opening fails with `PRICE_CHANGED` when the offer's price is
/// now worse for the taker than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedPrice(pub Price);

/// A moderator's note on a resolution: text as a chat message takes it (trimmed, 1–2000
/// characters, nothing invisible), since both parties read it.
pub fn parse_note(note: &str) -> Result<String, Error> {
    pupero_core::chat::MessageBody::parse(note)
        .map(|body| body.as_str().to_owned())
        .map_err(|e| Error::validation(format!("note: {e}")))
}

/// A dispute's reason: at most [`MAX_DISPUTE_REASON_CHARS`] characters of text (empty is
/// fine), nothing invisible.
pub fn parse_reason(reason: &str) -> Result<String, Error> {
    if reason.chars().count() > MAX_DISPUTE_REASON_CHARS {
        return Err(Error::validation(format!(
            "the reason is limited to {MAX_DISPUTE_REASON_CHARS} characters"
        )));
    }
    pupero_core::text::check(reason, pupero_core::text::Lines::Many)
        .map_err(|e| Error::validation(format!("reason: {e}")))?;
    Ok(reason.to_owned())
}

/// The platform's fee account: what it collected, and what open trades hold for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeAccount {
    /// The ledger account.
    pub account: AccountId,
    /// Fees collected (posted).
    pub collected: Piconero,
    /// Fees held in open trades' escrow.
    pub pending: Piconero,
}

pub(crate) fn request_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How the state machine's refusals leave the API.
pub fn trade_error(error: TradeError) -> Error {
    let message = error.to_string();
    match error {
        TradeError::InvalidTransition { .. } => Error::new(ErrorKind::InvalidTransition, message),
        TradeError::TooEarly { .. } => Error::new(ErrorKind::TooEarly, message),
        TradeError::NotAParty => Error::not_found("no such trade"),
        TradeError::WrongParty { .. } => Error::new(ErrorKind::WrongParty, message),
        TradeError::ModeratorIsAParty | TradeError::NotAModerator | TradeError::MissingScope(_) => {
            Error::forbidden(message)
        }
        TradeError::SelfTrade => Error::new(ErrorKind::SelfTrade, message),
        TradeError::ZeroAmount
        | TradeError::FeeTooHigh
        | TradeError::AmountTooLarge
        | TradeError::FiatAmountTooLarge
        | TradeError::FiatAmountTooSmall
        | TradeError::InvalidSplit => Error::validation(message),
    }
}

fn idempotency_reused() -> Error {
    Error::new(
        ErrorKind::IdempotencyKeyReused,
        "this Idempotency-Key was used for a different request",
    )
}

fn trade_event(trade: &Trade, kind: EventKind, users: &[UserId]) -> Vec<NewEvent> {
    users
        .iter()
        .map(|user| NewEvent {
            user: *user,
            kind,
            trade: Some(trade.id()),
            payload: serde_json::json!({
                "trade_id": trade.id().to_string(),
                "state": trade.state().as_str(),
                "version": trade.version(),
            }),
        })
        .collect()
}

fn balance_events(trade: &Trade, cause: EventKind, users: &[UserId]) -> Vec<NewEvent> {
    users
        .iter()
        .map(|user| NewEvent {
            user: *user,
            kind: EventKind::BalanceChanged,
            trade: Some(trade.id()),
            payload: serde_json::json!({
                "trade_id": trade.id().to_string(),
                "cause": cause.as_str(),
            }),
        })
        .collect()
}

/// The events a step emits: the step to both parties, then a balance change to both whenever
/// the step moved money. Each party's balance shows it: the seller's held and available
/// amounts, the buyer's incoming (escrow to them) and available ones — so opening, releasing,
/// cancelling, expiring and resolving change both; marking paid and disputing change neither.
fn step_events(next: &Trade) -> Vec<NewEvent> {
    let both = [next.seller(), next.buyer()];
    let (kind, moves_money) = match next.state() {
        TradeState::Escrowed => (EventKind::TradeOpened, true),
        TradeState::Paid => (EventKind::TradePaid, false),
        TradeState::Released => (EventKind::TradeReleased, true),
        TradeState::Cancelled => (EventKind::TradeCancelled, true),
        TradeState::Expired => (EventKind::TradeExpired, true),
        TradeState::Disputed => (EventKind::TradeDisputed, false),
        TradeState::Resolved => (EventKind::TradeResolved, true),
    };
    let mut events = trade_event(next, kind, &both);
    if moves_money {
        events.extend(balance_events(next, kind, &both));
    }
    events
}

/// Writes a new trade with its events (and its idempotency key) in the escrow's transaction.
struct OpenAttachment {
    row: TradeRow,
    /// The revision of the offer the trade was decided on.
    offer_revision: i64,
    taker: UserId,
    max_open_trades: u32,
    request: Option<(IdempotencyKey, TradeRequest)>,
    /// What the Matrix bridge mirrors, when it is on.
    matrix: Option<NewMatrixJob>,
}

#[async_trait]
impl Attachment for OpenAttachment {
    async fn run(
        &self,
        _: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        let trade = &self.row.trade;
        let now = trade.opened_at();
        if let Some((key, request)) = &self.request {
            batches.defer(
                insert_request_statement(self.taker, key.as_str(), request, now)
                    .map_err(AttachmentError::from)?
                    .expect(Expect::Unique(ABORT_REPLAY))
                    .phase(PHASE_KEYS),
            );
        }
        // The offer's state and the taker's limit are decided by the insert itself, inside the
        // writer's transaction, where both are exact for this process.
        batches.defer(
            insert_trade_statement(
                &self.row,
                self.offer_revision,
                self.taker,
                self.max_open_trades,
            )
            .map_err(AttachmentError::from)?
            .expect(Expect::OneRow(ABORT_OPEN_REFUSED))
            .phase(PHASE_OPENS),
        );
        batches
            .get::<EventBatch>()
            .push(&step_events(trade), now)
            .map_err(AttachmentError::from)?;
        if let Some(job) = &self.matrix {
            batches.defer(
                matrix_job_statement(job, now)
                    .map_err(AttachmentError::from)?
                    .phase(PHASE_MIRROR),
            );
        }
        Ok(())
    }
}

/// Moves a trade one step (compare-and-set on its version) with its events and idempotency
/// key, in the transaction of the step's ledger plan.
struct StepAttachment {
    next: Trade,
    dispute: Option<(UserId, String)>,
    resolved_by: Option<(UserId, String)>,
    request: Option<(UserId, IdempotencyKey, TradeRequest)>,
    /// The actor allowed the step for having no second factor to show: the write checks it.
    without_second_factor: Option<UserId>,
    now: pupero_core::Timestamp,
    /// What the Matrix bridge mirrors, when it is on.
    matrix: Option<NewMatrixJob>,
}

#[async_trait]
impl Attachment for StepAttachment {
    async fn run(
        &self,
        _: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        if let Some((user, key, request)) = &self.request {
            batches.defer(
                insert_request_statement(*user, key.as_str(), request, self.now)
                    .map_err(AttachmentError::from)?
                    .expect(Expect::Unique(ABORT_REPLAY))
                    .phase(PHASE_KEYS),
            );
        }
        batches.defer(
            update_trade_statement(
                &self.next,
                self.dispute.as_ref(),
                self.resolved_by.as_ref(),
                self.without_second_factor,
            )
            .map_err(AttachmentError::from)?
            .expect(Expect::OneRow(ABORT_TRADE_CHANGED))
            .phase(PHASE_STEPS),
        );
        batches
            .get::<EventBatch>()
            .push(&step_events(&self.next), self.now)
            .map_err(AttachmentError::from)?;
        if let Some(job) = &self.matrix {
            batches.defer(
                matrix_job_statement(job, self.now)
                    .map_err(AttachmentError::from)?
                    .phase(PHASE_MIRROR),
            );
        }
        Ok(())
    }
}

impl Market {
    /// The trade `id` as `caller` may see it ([`Trade::visible_to`]): anyone else gets 404, as
    /// if it did not exist.
    pub async fn visible_trade(&self, id: TradeId, caller: &Caller) -> Result<TradeRow, Error> {
        self.store
            .trade(id)
            .await?
            .filter(|row| row.trade.visible_to(caller))
            .ok_or_else(|| Error::not_found("no such trade"))
    }

    /// The trades of `user`, newest first, optionally only those in `state`: at most `limit`
    /// after `after`.
    pub async fn trades_of(
        &self,
        user: UserId,
        state: Option<TradeState>,
        after: Option<TradeCursor>,
        limit: u32,
    ) -> Result<Vec<TradeRow>, Error> {
        let states: Vec<TradeState> = state.into_iter().collect();
        Ok(self.store.trades_of(user, &states, after, limit).await?)
    }

    /// The dispute queue: disputed trades, newest first, at most `limit` after `after`. Who
    /// may read it is the caller's to check (moderators).
    pub async fn disputed_trades(
        &self,
        after: Option<TradeCursor>,
        limit: u32,
    ) -> Result<Vec<TradeRow>, Error> {
        Ok(self
            .store
            .trades_in(&[TradeState::Disputed], after, limit)
            .await?)
    }

    /// The platform's fee account. Who may read it is the caller's to check (admins).
    pub async fn fee_account(&self) -> Result<FeeAccount, Error> {
        let account = AccountId::platform_fees();
        let balances = self
            .ledger
            .account(account)
            .await?
            .ok_or_else(|| Error::not_found("no fee account"))?
            .balances();
        Ok(FeeAccount {
            account,
            collected: balances
                .credits_posted
                .checked_sub(balances.debits_posted)
                .unwrap_or(Piconero::ZERO),
            pending: balances.credits_pending,
        })
    }

    /// What `user` already did with `key`: the trade, if it was this same request; an error if
    /// the key was used for another.
    async fn replayed(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        hash: &str,
    ) -> Result<Option<TradeRow>, Error> {
        match self.store.trade_request(user, key.as_str()).await? {
            None => Ok(None),
            Some(request) if request.request_hash == hash => {
                let row = self.store.trade(request.trade).await?.ok_or_else(|| {
                    Error::internal(&StoreError::Corrupt("idempotency key of no trade"))
                })?;
                Ok(Some(row))
            }
            Some(_) => Err(idempotency_reused()),
        }
    }

    /// Opens a trade for `amount` on offer `offer_id`, taken by `caller` at a price no worse
    /// for them than `accepted`. Returns the trade and whether this call created it (`false`:
    /// a replay of the same `Idempotency-Key`). Whether the caller's credential may trade (its
    /// scope) is the caller's to check; taking one's own offer is refused by [`Trade::open`],
    /// like every other rule of a new trade.
    ///
    /// The trade is decided on the offer as this process last read it, and its insert checks
    /// in the writer's transaction that the offer is still at that revision: an offer changed
    /// meanwhile (here or by another process) fails the insert, and the opening is decided
    /// again on the database's offer. A refusal decided on a remembered offer is decided again
    /// on the database's too, so the memory never turns a taker away.
    pub async fn open_trade(
        &self,
        caller: &Caller,
        offer_id: OfferId,
        amount: Piconero,
        accepted: AcceptedPrice,
        key: Option<IdempotencyKey>,
    ) -> Result<(TradeRow, bool), Error> {
        let taker = caller.user();
        let hash = request_hash(&[
            "open",
            &offer_id.to_string(),
            &amount.to_string(),
            &accepted.0.to_string(),
        ]);
        if let Some(key) = &key
            && let Some(row) = self.replayed(taker, key, &hash).await?
        {
            return Ok((row, false));
        }
        let joined = self.user_facts(taker).await?.created_at;
        let mut remembered = self.offers_read.get(&offer_id);
        for _ in 0..MAX_OPEN_ATTEMPTS {
            let from_memory = remembered.is_some();
            let (offer, revision) = match remembered.take() {
                Some(read) => read,
                None => {
                    let read = self
                        .store
                        .offer_with_revision(offer_id)
                        .await?
                        .ok_or_else(|| Error::not_found("no such offer"))?;
                    self.offers_read.put(offer_id, read.clone());
                    read
                }
            };
            let now = self.now();
            let max_open = max_open_trades(now.secs_since(joined));
            let (row, plan) = match self
                .decide_open(caller, &offer, amount, accepted, &key)
                .await
            {
                Ok(decided) => decided,
                Err(_) if from_memory => {
                    self.offers_read.forget(&offer_id);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (seller, buyer, id) = (row.trade.seller(), row.trade.buyer(), row.trade.id());
            let attachment = OpenAttachment {
                row: row.clone(),
                offer_revision: revision,
                taker,
                max_open_trades: max_open,
                request: key.clone().map(|k| {
                    (
                        k,
                        TradeRequest {
                            trade: id,
                            action: "open".to_owned(),
                            request_hash: hash.clone(),
                        },
                    )
                }),
                matrix: self
                    .matrix
                    .as_ref()
                    .map(|_| crate::matrix::step_job(id, TradeState::Escrowed)),
            };
            match self.ledger.transfer_attached(plan, attachment).await {
                Ok(_) => {
                    self.events.notify([seller, buyer]);
                    self.wake_matrix();
                    // The trade as committed: what was written, with the parties' names (a
                    // username never changes).
                    let opened = TradeRow {
                        seller_name: self.username(seller).await?.to_string(),
                        buyer_name: self.username(buyer).await?.to_string(),
                        ..row
                    };
                    self.trades_written.put(id, opened.clone());
                    return Ok((opened, true));
                }
                Err(pupero_ledger::Error::Aborted(ABORT_REPLAY)) => {
                    let key = key.expect("only keyed requests record a key");
                    let row = self.replayed(taker, &key, &hash).await?.ok_or_else(|| {
                        Error::internal(&StoreError::Corrupt("a replayed key is missing"))
                    })?;
                    return Ok((row, false));
                }
                Err(pupero_ledger::Error::Aborted(ABORT_OPEN_REFUSED)) => {
                    // Told after the fact: which condition failed, as far as the database
                    // now says. An offer that changed is read again and the opening decided
                    // again on it.
                    let check = self.store.open_check(offer_id, taker).await?;
                    let offer_moved = check.revision.is_some_and(|now| now != revision);
                    let at_limit = check.taker_open_trades >= u64::from(max_open);
                    if offer_moved || (check.maker_name.is_some() && !at_limit) {
                        // The offer changed, or nothing refuses the trade now (a step of the
                        // same group closed one of the taker's trades): decided again.
                        self.offers_read.forget(&offer_id);
                        continue;
                    }
                    return Err(if check.maker_name.is_some() && at_limit {
                        Error::new(
                            ErrorKind::TradeLimit,
                            "too many open trades; finish one first",
                        )
                    } else {
                        Error::new(ErrorKind::OfferUnavailable, "the offer is no longer active")
                    });
                }
                Err(e) if e.is_insufficient_funds() => {
                    return Err(Error::new(
                        ErrorKind::InsufficientFunds,
                        "the seller's available balance does not cover this trade and its fee",
                    ));
                }
                // The same key raced with a different amount: the escrow id exists, differently.
                Err(e) if e.is_conflict() && key.is_some() => return Err(idempotency_reused()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorKind::OfferChanged,
            "the offer keeps changing; read it again",
        ))
    }

    /// The trade `caller` would open on `offer` for `amount` now, and its escrow plan: every
    /// rule of a new trade that can be decided before the writer's transaction.
    async fn decide_open(
        &self,
        caller: &Caller,
        offer: &Offer,
        amount: Piconero,
        accepted: AcceptedPrice,
        key: &Option<IdempotencyKey>,
    ) -> Result<(TradeRow, Vec<NewTransfer>), Error> {
        let taker = caller.user();
        match offer.status() {
            OfferStatus::Deleted => return Err(Error::not_found("no such offer")),
            OfferStatus::Paused => {
                return Err(Error::new(
                    ErrorKind::OfferUnavailable,
                    "the offer is paused",
                ));
            }
            OfferStatus::Active => {}
        }
        if !offer.limits().contains(amount) {
            return Err(Error::validation(format!(
                "the amount must be between {} and {} XMR",
                offer.limits().min().to_xmr_string(),
                offer.limits().max().to_xmr_string()
            )));
        }
        let now = self.now();
        // Only a margin needs a quote; for a fixed price reading one is a wasted query.
        let quote = match offer.pricing() {
            Pricing::Fixed(_) => None,
            Pricing::Margin(_) => self.prices.quote(offer.currency()).await.ok().flatten(),
        };
        let price = offer
            .effective_price(quote.as_ref(), now, self.settings.price_max_age_secs)
            .map_err(|e| Error::new(ErrorKind::PriceUnavailable, e.to_string()))?
            .price();
        if offer.side().worse_for_taker(price, accepted.0) {
            return Err(Error::new(
                ErrorKind::PriceChanged,
                format!(
                    "the offer's price is now {price} {}, worse than the {} you accepted",
                    offer.currency(),
                    accepted.0
                ),
            ));
        }
        let (seller, buyer, maker) = match offer.side() {
            Side::Sell => (offer.owner(), taker, Party::Seller),
            Side::Buy => (taker, offer.owner(), Party::Buyer),
        };
        let id = match key {
            Some(key) => TradeId::derive(taker, key.as_str()),
            None => TradeId::new_v7(),
        };
        let (trade, plan) = Trade::open(
            OpenTrade {
                id,
                offer: offer.id(),
                seller,
                buyer,
                maker,
                amount,
                price,
                currency: offer.currency(),
                window: offer.payment_window(),
                fees: self.settings.fees,
                fee_account: AccountId::platform_fees(),
            },
            now,
        )
        .map_err(trade_error)?;
        let row = TradeRow {
            trade,
            payment_method: offer.payment_method(),
            payment_details: offer.payment_details().as_str().to_owned(),
            terms: offer.terms().as_str().to_owned(),
            dispute: None,
            resolved_by: None,
            seller_name: String::new(),
            buyer_name: String::new(),
        };
        Ok((row, plan))
    }

    /// Applies `step` to trade `id` for `actor`: the one place that decides whether the actor
    /// may take the step and what second factor it needs ([`Trade::authorize`]), on the same
    /// trade it applies the step to ([`Trade::apply`]) and then writes with compare-and-set. A
    /// step allowed on one state is never applied to another: if the trade changed in
    /// between, the write fails and everything is decided again on the new state.
    pub async fn step_trade(
        &self,
        id: TradeId,
        actor: Actor<'_>,
        step: Step,
        key: Option<IdempotencyKey>,
    ) -> Result<TradeRow, Error> {
        let action = step.action;
        let detail = match action {
            TradeAction::Resolve { outcome, .. } => match outcome {
                pupero_core::Resolution::Split { to_buyer } => format!("split:{to_buyer}"),
                other => other.as_str().to_owned(),
            },
            _ => String::new(),
        };
        let reason = step.reason.clone().unwrap_or_default();
        let hash = request_hash(&[action.name(), &id.to_string(), &detail, &reason]);
        let user = actor.user();
        if let (Some(user), Some(key)) = (user, &key)
            && let Some(row) = self.replayed(user, key, &hash).await?
        {
            return Ok(row);
        }
        // Once shown, the second factor is not asked for again when the step is retried on a
        // newer version of the trade (it is spent).
        let mut second_factor_shown = false;
        let mut assumed_without_second_factor = false;
        let mut remembered = self.trades_written.take(&id);
        let mut attempt = 0;
        while attempt < MAX_STEP_ATTEMPTS {
            let from_cache = remembered.is_some();
            let row = match remembered.take() {
                Some(row) => row,
                None => self
                    .store
                    .trade(id)
                    .await?
                    .ok_or_else(|| Error::not_found("no such trade"))?,
            };
            let now = self.now();
            let decided = match actor {
                Actor::Caller(caller, _) => row.trade.authorize(caller, &action),
                Actor::ExpiryJob => Ok(StepUp::None),
            }
            .and_then(|step_up| {
                let (next, plan) = row.trade.clone().apply(action, now)?;
                Ok((step_up, next, plan))
            });
            let (step_up, next, plan) = match decided {
                Ok(decided) => decided,
                // Refused on the trade as this process wrote it: decided again on the
                // database's, which may have moved on.
                Err(_) if from_cache => continue,
                Err(e) => return Err(trade_error(e)),
            };
            attempt += 1;
            let version = row.trade.version();
            // A step needing the second factor of an actor who has none is written on that
            // condition (checked by the write itself). Asked without a code, the first attempt
            // assumes 2FA is off and lets the write check it; if the write fails, the next
            // attempt asks the database.
            let mut without_second_factor = None;
            if let (StepUp::SecondFactor, Actor::Caller(caller, proof)) = (step_up, actor)
                && !second_factor_shown
            {
                let no_proof = proof.code.is_none() && proof.recovery_code.is_none();
                if no_proof && !assumed_without_second_factor {
                    assumed_without_second_factor = true;
                    without_second_factor = Some(caller.user());
                } else {
                    match self.check_second_factor(caller.user(), proof).await? {
                        Ok(SecondFactor::NotEnabled) => without_second_factor = Some(caller.user()),
                        Ok(SecondFactor::Totp | SecondFactor::RecoveryCode) => {
                            second_factor_shown = true;
                        }
                        Err(refusal) => {
                            return Err(Error::new(refusal.kind(), refusal.message()));
                        }
                    }
                }
            }
            let parties = [next.seller(), next.buyer()];
            let dispute = match action {
                TradeAction::Dispute { by } => Some((by, reason.clone())),
                _ => None,
            };
            let resolved_by = match action {
                TradeAction::Resolve { by_moderator, .. } => Some((by_moderator, reason.clone())),
                _ => None,
            };
            // The trade as the step writes it (the update keeps a dispute or a resolution
            // already recorded), to answer with once committed instead of reading it again.
            let written = TradeRow {
                trade: next.clone(),
                dispute: dispute.clone().or(row.dispute),
                resolved_by: resolved_by.clone().or(row.resolved_by),
                ..row
            };
            let attachment = StepAttachment {
                dispute,
                resolved_by,
                without_second_factor,
                request: match (user, &key) {
                    (Some(user), Some(key)) => Some((
                        user,
                        key.clone(),
                        TradeRequest {
                            trade: id,
                            action: action.name().to_owned(),
                            request_hash: hash.clone(),
                        },
                    )),
                    _ => None,
                },
                matrix: self
                    .matrix
                    .as_ref()
                    .map(|_| crate::matrix::step_job(id, next.state())),
                next,
                now,
            };
            match self.ledger.transfer_attached(plan, attachment).await {
                Ok(_) => {
                    self.events.notify(parties);
                    self.wake_matrix();
                    self.trades_written.put(id, written.clone());
                    return Ok(written);
                }
                Err(pupero_ledger::Error::Aborted(ABORT_REPLAY)) => {
                    let (Some(user), Some(key)) = (user, &key) else {
                        unreachable!("only keyed requests record a key")
                    };
                    return self.replayed(user, key, &hash).await?.ok_or_else(|| {
                        Error::internal(&StoreError::Corrupt("a replayed key is missing"))
                    });
                }
                // Another step won the race (the holds it settles may be settled already):
                // read the trade again and decide everything again on what it is now.
                Err(pupero_ledger::Error::Aborted(ABORT_TRADE_CHANGED)) => {}
                Err(e) if e.is_refused() => {
                    let now_version = self.store.trade(id).await?.map(|r| r.trade.version());
                    if now_version == Some(version) {
                        return Err(e.into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorKind::TradeChanged,
            "the trade keeps changing; read it again",
        ))
    }

    /// Settles the dispute on trade `id` as `caller` with `outcome`, explained by `note` (see
    /// [`parse_note`]), through [`Market::step_trade`]: whether the caller may, and the second
    /// factor `proof` it needs, is [`Trade::authorize`]'s to say. The decision and the note go
    /// to the audit log.
    #[allow(clippy::too_many_arguments)]
    pub async fn resolve_dispute(
        &self,
        id: TradeId,
        caller: &Caller,
        outcome: Resolution,
        note: String,
        proof: SecondFactorProof<'_>,
        key: Option<IdempotencyKey>,
        client_ip: Option<String>,
    ) -> Result<TradeRow, Error> {
        let step = Step {
            action: TradeAction::Resolve {
                by_moderator: caller.user(),
                outcome,
            },
            reason: Some(note.clone()),
        };
        let row = self
            .step_trade(id, Actor::Caller(caller, proof), step, key)
            .await?;
        self.audit(
            AuditEntry::of(AuditEvent::DisputeResolved, Some(caller.user()))
                .from_ip(client_ip)
                .detail(format!("trade {id} {}: {note}", outcome.as_str())),
        )
        .await;
        Ok(row)
    }

    /// Expires the escrowed trades whose payment window is over, at the injected clock's now:
    /// their escrow returns to the seller. Returns how many this sweep expired. A trade paid or
    /// cancelled meanwhile is left as it is.
    pub async fn expire_due_trades(&self) -> Result<u32, Error> {
        let due = self
            .store
            .trades_due(self.now(), MAX_TRADE_EXPIRIES_PER_PASS)
            .await?;
        let mut expired = 0_u32;
        for id in due {
            let step = Step {
                action: TradeAction::Expire,
                reason: None,
            };
            match self.step_trade(id, Actor::ExpiryJob, step, None).await {
                Ok(_) => expired = expired.saturating_add(1),
                Err(e) if e.kind() == ErrorKind::InvalidTransition => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }
}
