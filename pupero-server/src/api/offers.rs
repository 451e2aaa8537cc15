//! The market's offers: create, update, pause, resume, delete (owner only), read, search.

use super::text::Text;
use std::collections::HashMap;
use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use pupero_core::ledger::LedgerStore;
use pupero_core::limits::max_open_offers;
use pupero_core::offer::{
    OfferCursor, OfferFilter, OfferQuery, OfferStatus, OfferTerms, OfferUpdate, PAYMENT_METHODS,
    PaymentDetails, PaymentMethod, PaymentWindow, PriceSort, Side, TradeLimits, Visibility,
};
use pupero_core::price::{PriceOracle, Pricing, Quote};
use pupero_core::{
    AccountId, CurrencyCode, MarginPercent, NewOffer, Offer, OfferId, Piconero, Price, Scope,
    UserId,
};
use uuid::Uuid;

use super::auth::NoContent;
use super::{Auth, Tag};
use crate::app::AppState;
use crate::error::{ApiError, codes};

/// The offers resource.
pub struct OffersApi {
    pub(crate) state: Arc<AppState>,
}

/// A payment method of the catalogue.
#[derive(Debug, Object)]
pub struct PaymentMethodView {
    /// Stable code, e.g. `SEPA`.
    pub code: String,
    /// Display name.
    pub name: String,
}

/// A new offer, or the full new state of one being edited.
#[derive(Debug, Object)]
pub struct OfferRequest {
    /// `sell` (the maker sells XMR) or `buy`. Fixed once created.
    pub side: Text,
    /// ISO 4217 code, e.g. `EUR`. Fixed once created.
    pub currency: Text,
    /// A code from `GET /api/v1/payment-methods`.
    pub payment_method: Text,
    /// Free details about the payment (bank, region...), at most 300 characters.
    #[oai(default)]
    pub payment_details: Text,
    /// A fixed price in fiat per XMR, as a decimal string. Exactly one of `price` and
    /// `margin_percent`.
    pub price: Option<Text>,
    /// A margin in percent over the market price, e.g. `"2.5"` or `"-1"`.
    pub margin_percent: Option<Text>,
    /// Smallest trade, decimal XMR.
    pub min_amount: Text,
    /// Largest trade, decimal XMR.
    pub max_amount: Text,
    /// Minutes the buyer has to pay, 15–1440.
    pub payment_window_minutes: u32,
    /// The maker's terms, at most 2000 characters.
    #[oai(default)]
    pub terms: Text,
    /// `public` (listed) or `unlisted` (by link only).
    pub visibility: Text,
}

/// An offer as the API shows it.
#[derive(Debug, Object)]
pub struct OfferView {
    /// Offer id.
    pub id: Uuid,
    /// The maker's user id.
    pub owner_id: Uuid,
    /// `sell` or `buy`, from the maker's side.
    pub side: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Payment method code.
    pub payment_method: String,
    /// Payment details.
    pub payment_details: String,
    /// Fixed price, if the offer has one.
    pub price: Option<String>,
    /// Margin over the market, if the offer follows it.
    pub margin_percent: Option<String>,
    /// The price a trade opened now would get, when known (a margin needs a fresh quote).
    pub effective_price: Option<String>,
    /// Smallest trade, decimal XMR.
    pub min_amount: String,
    /// Largest trade, decimal XMR.
    pub max_amount: String,
    /// Payment window in minutes.
    pub payment_window_minutes: u32,
    /// Terms.
    pub terms: String,
    /// `public` or `unlisted`.
    pub visibility: String,
    /// `active`, `paused` or `deleted`.
    pub status: String,
    /// Creation, unix milliseconds.
    pub created_at_ms: u64,
    /// Last change, unix milliseconds.
    pub updated_at_ms: u64,
}

/// A page of the market, best price first.
#[derive(Debug, Object)]
pub struct OfferPageView {
    /// The offers; `min_amount`/`max_amount` are what can be traded now.
    pub items: Vec<OfferView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `201 Created`.
#[derive(ApiResponse)]
pub enum Created {
    /// The new offer.
    #[oai(status = 201)]
    Offer(Json<OfferView>),
}

fn invalid(e: pupero_core::Error) -> ApiError {
    ApiError::validation(e.to_string())
}

fn xmr(s: &str) -> Result<Piconero, ApiError> {
    Piconero::from_xmr_str(s).map_err(invalid)
}

/// Parses a request into a new offer.
fn parse(body: &OfferRequest) -> Result<NewOffer, ApiError> {
    let pricing = match (&body.price, &body.margin_percent) {
        (Some(p), None) => Pricing::Fixed(Price::parse(p).map_err(invalid)?),
        (None, Some(m)) => Pricing::Margin(MarginPercent::parse(m).map_err(invalid)?),
        _ => {
            return Err(ApiError::validation(
                "give exactly one of price and margin_percent",
            ));
        }
    };
    Ok(NewOffer {
        side: Side::parse(&body.side).map_err(invalid)?,
        currency: CurrencyCode::parse(&body.currency).map_err(invalid)?,
        payment_method: PaymentMethod::parse(&body.payment_method).map_err(invalid)?,
        payment_details: PaymentDetails::parse(&body.payment_details).map_err(invalid)?,
        pricing,
        limits: TradeLimits::new(xmr(&body.min_amount)?, xmr(&body.max_amount)?)
            .map_err(invalid)?,
        payment_window: PaymentWindow::from_minutes(body.payment_window_minutes)
            .map_err(invalid)?,
        terms: OfferTerms::parse(&body.terms).map_err(invalid)?,
        visibility: Visibility::parse(&body.visibility).map_err(invalid)?,
    })
}

fn view(offer: &Offer, effective: Option<Price>, limits: TradeLimits) -> OfferView {
    let spec = offer.spec();
    let (price, margin) = match spec.pricing {
        Pricing::Fixed(p) => (Some(p.to_string()), None),
        Pricing::Margin(m) => (None, Some(m.to_string())),
    };
    OfferView {
        id: *offer.id().as_uuid(),
        owner_id: *offer.owner().as_uuid(),
        side: spec.side.as_str().to_owned(),
        currency: spec.currency.as_str().to_owned(),
        payment_method: spec.payment_method.code().to_owned(),
        payment_details: spec.payment_details.as_str().to_owned(),
        price,
        margin_percent: margin,
        effective_price: effective.map(|p| p.to_string()),
        min_amount: limits.min().to_xmr_string(),
        max_amount: limits.max().to_xmr_string(),
        payment_window_minutes: spec.payment_window.minutes(),
        terms: spec.terms.as_str().to_owned(),
        visibility: spec.visibility.as_str().to_owned(),
        status: offer.status().as_str().to_owned(),
        created_at_ms: offer.created_at().as_unix_ms(),
        updated_at_ms: offer.updated_at().as_unix_ms(),
    }
}

impl OffersApi {
    /// The market quotes of `currencies`, for pricing margin offers. A currency without a
    /// quote (or whose feed fails) simply has none: its margin offers are hidden, fixed ones
    /// are not affected.
    async fn quotes(&self, currencies: impl IntoIterator<Item = CurrencyCode>) -> Vec<Quote> {
        let mut wanted: Vec<CurrencyCode> = currencies.into_iter().collect();
        wanted.sort_by_key(|c| c.as_str());
        wanted.dedup();
        let mut quotes = Vec::with_capacity(wanted.len());
        for currency in wanted {
            match self.state.market.prices.quote(currency).await {
                Ok(Some(quote)) => quotes.push(quote),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(currency = currency.as_str(), error = %crate::error::chain(&e), "no market price")
                }
            }
        }
        quotes
    }

    /// How old a quote may be before margin offers priced on it are hidden.
    fn max_quote_age_secs(&self) -> u64 {
        self.state.settings.market.price_max_age_secs
    }

    /// Available balances of `owners`, for sell offers' listability.
    async fn available(&self, owners: &[UserId]) -> Result<HashMap<UserId, Piconero>, ApiError> {
        // Makers often have several offers: look each up once, in batches the ledger accepts.
        let mut ids: Vec<AccountId> = owners.iter().map(|u| AccountId::user_xmr(*u)).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut by_account: HashMap<AccountId, Piconero> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(pupero_core::limits::MAX_ACCOUNTS_PER_BATCH) {
            by_account.extend(
                self.state
                    .market
                    .ledger
                    .lookup_accounts(chunk)
                    .await?
                    .into_iter()
                    .map(|a| (a.id(), a.available().unwrap_or(Piconero::ZERO))),
            );
        }
        Ok(owners
            .iter()
            .map(|u| {
                (
                    *u,
                    by_account
                        .get(&AccountId::user_xmr(*u))
                        .copied()
                        .unwrap_or(Piconero::ZERO),
                )
            })
            .collect())
    }

    /// The offer `id` if the caller owns it and it is not deleted. Ownership is checked first,
    /// so a stranger is refused the same way whatever state the offer is in.
    async fn owned(&self, auth: &Auth, id: Uuid) -> Result<Offer, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let offer = self
            .state
            .market
            .store
            .offer(OfferId::from_uuid(id))
            .await?
            .ok_or_else(|| ApiError::not_found("no such offer"))?;
        if !offer.is_owned_by(principal.user) {
            return Err(ApiError::forbidden("only the offer's owner may change it"));
        }
        if offer.status() == OfferStatus::Deleted {
            return Err(ApiError::not_found("no such offer"));
        }
        Ok(offer)
    }

    /// Stores `next` in place of `previous` (compare-and-set on the last change).
    async fn save(&self, previous: &Offer, next: Offer) -> Result<Json<OfferView>, ApiError> {
        if next != *previous
            && !self
                .state
                .market
                .store
                .update_offer(&next, previous.updated_at())
                .await?
        {
            return Err(ApiError::conflict(
                codes::OFFER_CHANGED,
                "the offer changed meanwhile; read it again",
            ));
        }
        let limits = next.limits();
        Ok(Json(view(&next, None, limits)))
    }
}

#[OpenApi(tag = "Tag::Offers")]
impl OffersApi {
    /// The payment methods offers may use. Public.
    #[oai(
        path = "/api/v1/payment-methods",
        method = "get",
        operation_id = "payment_methods"
    )]
    async fn payment_methods(&self) -> Json<Vec<PaymentMethodView>> {
        Json(
            PAYMENT_METHODS
                .iter()
                .map(|m| PaymentMethodView {
                    code: m.code.to_owned(),
                    name: m.name.to_owned(),
                })
                .collect(),
        )
    }

    /// Posts an offer (sessions, or API keys with the `trade` scope). New accounts may have
    /// fewer open offers.
    #[oai(
        path = "/api/v1/offers",
        method = "post",
        operation_id = "create_offer"
    )]
    async fn create(&self, auth: Auth, body: Json<OfferRequest>) -> Result<Created, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let spec = parse(&body)?;
        let state = &self.state;
        let user = state
            .market
            .store
            .user_by_id(principal.user)
            .await?
            .ok_or_else(|| ApiError::not_found("no such user"))?;
        let now = state.now();
        let age_secs = now
            .as_unix_ms()
            .saturating_sub(user.created_at.as_unix_ms())
            / 1000;
        let offer = Offer::create(OfferId::new_v7(), principal.user, spec, now);
        if !state
            .market
            .store
            .insert_offer(&offer, max_open_offers(age_secs))
            .await?
        {
            return Err(ApiError::conflict(
                codes::OFFER_LIMIT,
                "too many open offers; pause or delete one",
            ));
        }
        let limits = offer.limits();
        Ok(Created::Offer(Json(view(&offer, None, limits))))
    }

    /// The caller's open offers.
    #[oai(path = "/api/v1/me/offers", method = "get", operation_id = "my_offers")]
    async fn mine(&self, auth: Auth) -> Result<Json<Vec<OfferView>>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let offers = self
            .state
            .market
            .store
            .open_offers_of(principal.user)
            .await?;
        Ok(Json(
            offers.iter().map(|o| view(o, None, o.limits())).collect(),
        ))
    }

    /// One offer, by its link (unlisted ones too). Public.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "get",
        operation_id = "get_offer"
    )]
    async fn get(&self, id: Path<Uuid>) -> Result<Json<OfferView>, ApiError> {
        let offer = self
            .state
            .market
            .store
            .offer(OfferId::from_uuid(id.0))
            .await?
            .filter(|o| o.status() != OfferStatus::Deleted)
            .ok_or_else(|| ApiError::not_found("no such offer"))?;
        let quotes = self.quotes([offer.currency()]).await;
        let effective = offer
            .effective_price(quotes.first(), self.state.now(), self.max_quote_age_secs())
            .ok()
            .map(|p| p.price());
        // What a taker can take now, as the market lists it; the limits as set when the maker
        // cannot cover even the minimum (the offer is then not takeable at all).
        let available = self.available(&[offer.owner()]).await?;
        let maker_available = available
            .get(&offer.owner())
            .copied()
            .unwrap_or(Piconero::ZERO);
        let limits = offer
            .takeable_limits(maker_available, self.state.settings.market.fees)
            .unwrap_or_else(|| offer.limits());
        Ok(Json(view(&offer, effective, limits)))
    }

    /// Changes an offer: the full new state (side and currency must stay). Owner only.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "put",
        operation_id = "update_offer"
    )]
    async fn update(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<OfferRequest>,
    ) -> Result<Json<OfferView>, ApiError> {
        let offer = self.owned(&auth, id.0).await?;
        let spec = parse(&body)?;
        if spec.side != offer.side() || spec.currency != offer.currency() {
            return Err(ApiError::validation(
                "an offer's side and currency never change; post a new offer",
            ));
        }
        let now = self.state.now();
        let changes = [
            OfferUpdate::Pricing(spec.pricing),
            OfferUpdate::Limits(spec.limits),
            OfferUpdate::PaymentMethod {
                method: spec.payment_method,
                details: spec.payment_details.clone(),
            },
            OfferUpdate::PaymentWindow(spec.payment_window),
            OfferUpdate::Terms(spec.terms.clone()),
            OfferUpdate::Visibility(spec.visibility),
        ];
        let mut next = offer.clone();
        for change in changes {
            next = next
                .update(change, now)
                .map_err(|e| ApiError::conflict(codes::OFFER_STATE, e.to_string()))?;
        }
        self.save(&offer, next).await
    }

    /// Pauses an offer: it stays, unlisted and untakeable, until resumed. Owner only.
    #[oai(
        path = "/api/v1/offers/:id/pause",
        method = "post",
        operation_id = "pause_offer"
    )]
    async fn pause(&self, auth: Auth, id: Path<Uuid>) -> Result<Json<OfferView>, ApiError> {
        let offer = self.owned(&auth, id.0).await?;
        let next = offer
            .clone()
            .pause(self.state.now())
            .map_err(|e| ApiError::conflict(codes::OFFER_STATE, e.to_string()))?;
        self.save(&offer, next).await
    }

    /// Resumes a paused offer. Owner only.
    #[oai(
        path = "/api/v1/offers/:id/resume",
        method = "post",
        operation_id = "resume_offer"
    )]
    async fn resume(&self, auth: Auth, id: Path<Uuid>) -> Result<Json<OfferView>, ApiError> {
        let offer = self.owned(&auth, id.0).await?;
        let next = offer
            .clone()
            .resume(self.state.now())
            .map_err(|e| ApiError::conflict(codes::OFFER_STATE, e.to_string()))?;
        self.save(&offer, next).await
    }

    /// Deletes an offer. Owner only.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "delete",
        operation_id = "delete_offer"
    )]
    async fn delete(&self, auth: Auth, id: Path<Uuid>) -> Result<NoContent, ApiError> {
        let offer = self.owned(&auth, id.0).await?;
        let next = offer.clone().delete(self.state.now());
        self.save(&offer, next).await?;
        Ok(NoContent::Done)
    }

    /// The market: active public offers that can be taken now, best price first. Public.
    #[oai(
        path = "/api/v1/offers",
        method = "get",
        operation_id = "search_offers"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        /// `sell` or `buy` (the maker's side).
        side: Query<Option<String>>,
        /// ISO 4217 code.
        currency: Query<Option<String>>,
        /// Payment method code.
        payment_method: Query<Option<String>>,
        /// Only offers that accept this amount, decimal XMR.
        amount: Query<Option<String>>,
        /// `asc` or `desc` by effective price (default: best for the side).
        sort: Query<Option<String>>,
        /// Offers per page, 1–100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<OfferPageView>, ApiError> {
        let filter = OfferFilter {
            side: side
                .0
                .as_deref()
                .map(Side::parse)
                .transpose()
                .map_err(invalid)?,
            currency: currency
                .0
                .as_deref()
                .map(CurrencyCode::parse)
                .transpose()
                .map_err(invalid)?,
            payment_method: payment_method
                .0
                .as_deref()
                .map(PaymentMethod::parse)
                .transpose()
                .map_err(invalid)?,
            amount: amount.0.as_deref().map(xmr).transpose()?,
        };
        let sort = sort
            .0
            .as_deref()
            .map(PriceSort::parse)
            .transpose()
            .map_err(invalid)?;
        let after = cursor
            .0
            .as_deref()
            .map(OfferCursor::parse)
            .transpose()
            .map_err(invalid)?;
        let query = OfferQuery::new(filter, sort, limit.0, after).map_err(invalid)?;
        let candidates = self
            .state
            .market
            .store
            .market_candidates(filter.side, filter.currency)
            .await?;
        let owners: Vec<UserId> = candidates.iter().map(Offer::owner).collect();
        let available = self.available(&owners).await?;
        let quotes = self.quotes(candidates.iter().map(Offer::currency)).await;
        let page = pupero_core::offer::search(
            &candidates,
            |owner| available.get(&owner).copied().unwrap_or(Piconero::ZERO),
            self.state.settings.market.fees,
            &quotes,
            &query,
            self.state.now(),
            self.max_quote_age_secs(),
        );
        Ok(Json(OfferPageView {
            items: page
                .offers
                .iter()
                .map(|l| view(l.offer, Some(l.price.price()), l.limits))
                .collect(),
            next_cursor: page.next.map(|c| c.to_string()),
        }))
    }
}
