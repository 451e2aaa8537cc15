//! The market's offers: create, update, pause, resume, delete (owner only), read, search.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use pupero_api as wire;
use pupero_core::offer::{
    OfferCursor, OfferFilter, OfferQuery, OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow,
    PriceSort, Side, TradeLimits,
};
use pupero_core::price::Pricing;
use pupero_core::{CurrencyCode, NewOffer, Offer, OfferId, Piconero, Price, Scope};
use pupero_market::offers::{Listing, OfferChange};
use uuid::Uuid;

use super::auth::NoContent;
use super::pages::JsonBytes;
use super::{Auth, Tag};
use crate::app::{AppState, Principal};
use crate::error::ApiError;

pub use pupero_api::{FeeScheduleView, OfferPageView, OfferRequest, OfferView, PaymentMethodView};

/// The offers resource.
pub struct OffersApi;

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

/// Parses a request into a new offer.
fn parse(body: &OfferRequest) -> Result<NewOffer, ApiError> {
    let pricing = match (body.price, body.margin_percent) {
        (Some(p), None) => Pricing::Fixed(p),
        (None, Some(m)) => Pricing::Margin(m),
        _ => {
            return Err(ApiError::validation(
                "give exactly one of price and margin_percent",
            ));
        }
    };
    Ok(NewOffer {
        side: body.side.into(),
        currency: body.currency,
        payment_method: body.payment_method,
        payment_details: PaymentDetails::parse(body.payment_details.as_deref().unwrap_or(""))
            .map_err(invalid)?,
        pricing,
        limits: TradeLimits::new(body.min_amount, body.max_amount).map_err(invalid)?,
        payment_window: PaymentWindow::from_minutes(body.payment_window_minutes)
            .map_err(invalid)?,
        terms: OfferTerms::parse(body.terms.as_deref().unwrap_or("")).map_err(invalid)?,
        visibility: body.visibility.into(),
    })
}

fn view(offer: &Offer, maker: &str, effective: Option<Price>, limits: TradeLimits) -> OfferView {
    let spec = offer.spec();
    let (price, margin) = match spec.pricing {
        Pricing::Fixed(p) => (Some(p), None),
        Pricing::Margin(m) => (None, Some(m)),
    };
    OfferView {
        id: *offer.id().as_uuid(),
        owner_id: *offer.owner().as_uuid(),
        maker: maker.to_owned(),
        side: spec.side.into(),
        currency: spec.currency,
        payment_method: spec.payment_method.code().to_owned(),
        payment_details: spec.payment_details.as_str().to_owned(),
        price,
        margin_percent: margin,
        effective_price: effective,
        min_amount: limits.min(),
        max_amount: limits.max(),
        payment_window_minutes: spec.payment_window.minutes(),
        terms: spec.terms.as_str().to_owned(),
        visibility: spec.visibility.into(),
        status: offer.status().into(),
        created_at_ms: offer.created_at().as_unix_ms(),
        updated_at_ms: offer.updated_at().as_unix_ms(),
    }
}

/// An offer as its owner `maker` just changed it: its limits as set.
fn own_view(offer: &Offer, maker: &str) -> OfferView {
    view(offer, maker, None, offer.limits())
}

fn listing_view(listing: &Listing) -> OfferView {
    view(
        &listing.offer,
        &listing.maker,
        listing.price,
        listing.limits,
    )
}

impl OffersApi {
    /// Applies `change` to the offer `id` as the caller, who must own it.
    async fn change(
        &self,
        app: &Data<&Arc<AppState>>,
        principal: &Principal,
        id: Uuid,
        change: OfferChange,
    ) -> Result<Json<OfferView>, ApiError> {
        let offer = app
            .0
            .market
            .change_offer(principal.user, OfferId::from_uuid(id), change)
            .await?;
        let me = app.0.market.profile(principal.user).await?;
        Ok(Json(own_view(&offer, &me.username)))
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
            PaymentMethod::all()
                .map(|m| PaymentMethodView {
                    code: m,
                    name: m.info().name.to_owned(),
                })
                .collect(),
        )
    }

    /// The trading fees a trade opened now would charge. Public, so that fees are known before
    /// a trade opens.
    #[oai(path = "/api/v1/fees", method = "get", operation_id = "fee_schedule")]
    async fn fee_schedule(&self, app: Data<&Arc<AppState>>) -> Json<FeeScheduleView> {
        let fees = app.0.market.fees();
        Json(FeeScheduleView {
            maker_bps: fees.maker_bps(),
            taker_bps: fees.taker_bps(),
        })
    }

    /// Posts an offer (sessions, or API keys with the `trade` scope). New accounts may have
    /// fewer open offers.
    #[oai(
        path = "/api/v1/offers",
        method = "post",
        operation_id = "create_offer"
    )]
    async fn create(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<OfferRequest>,
    ) -> Result<Created, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let spec = parse(&body)?;
        let offer = app.0.market.create_offer(principal.user, spec).await?;
        let me = app.0.market.profile(principal.user).await?;
        Ok(Created::Offer(Json(own_view(&offer, &me.username))))
    }

    /// The caller's open offers.
    #[oai(path = "/api/v1/me/offers", method = "get", operation_id = "my_offers")]
    async fn mine(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<Vec<OfferView>>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Read)?;
        let (offers, me) = tokio::try_join!(
            app.0.market.open_offers_of(principal.user),
            app.0.market.profile(principal.user)
        )?;
        Ok(Json(
            offers.iter().map(|o| own_view(o, &me.username)).collect(),
        ))
    }

    /// One offer, by its link (unlisted ones too). Public.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "get",
        operation_id = "get_offer"
    )]
    async fn get(
        &self,
        app: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<Json<OfferView>, ApiError> {
        let listing = app.0.market.offer_listing(OfferId::from_uuid(id.0)).await?;
        Ok(Json(listing_view(&listing)))
    }

    /// Changes an offer: the full new state (side and currency must stay). Owner only.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "put",
        operation_id = "update_offer"
    )]
    async fn update(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<OfferRequest>,
    ) -> Result<Json<OfferView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        let spec = parse(&body)?;
        self.change(&app, &principal, id.0, OfferChange::Edit(spec))
            .await
    }

    /// Pauses an offer: it stays, unlisted and untakeable, until resumed. Owner only.
    #[oai(
        path = "/api/v1/offers/:id/pause",
        method = "post",
        operation_id = "pause_offer"
    )]
    async fn pause(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Json<OfferView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        self.change(&app, &principal, id.0, OfferChange::Pause)
            .await
    }

    /// Resumes a paused offer. Owner only.
    #[oai(
        path = "/api/v1/offers/:id/resume",
        method = "post",
        operation_id = "resume_offer"
    )]
    async fn resume(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Json<OfferView>, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        self.change(&app, &principal, id.0, OfferChange::Resume)
            .await
    }

    /// Deletes an offer. Owner only.
    #[oai(
        path = "/api/v1/offers/:id",
        method = "delete",
        operation_id = "delete_offer"
    )]
    async fn delete(
        &self,
        app: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<NoContent, ApiError> {
        let principal = auth.principal();
        principal.require_scope(Scope::Trade)?;
        self.change(&app, &principal, id.0, OfferChange::Delete)
            .await?;
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
        app: Data<&Arc<AppState>>,
        /// The maker's side.
        side: Query<Option<wire::Side>>,
        /// ISO 4217 code.
        currency: Query<Option<CurrencyCode>>,
        /// Payment method code.
        payment_method: Query<Option<PaymentMethod>>,
        /// Only offers that accept this amount.
        amount: Query<Option<Piconero>>,
        /// By effective price (default: best for the side).
        sort: Query<Option<wire::PriceSort>>,
        /// Offers per page (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<JsonBytes<OfferPageView>, ApiError> {
        let filter = OfferFilter {
            side: side.0.map(Side::from),
            currency: currency.0,
            payment_method: payment_method.0,
            amount: amount.0,
        };
        let sort = sort.0.map(PriceSort::from);
        let after = cursor
            .0
            .as_deref()
            .map(OfferCursor::parse)
            .transpose()
            .map_err(invalid)?;
        let query = OfferQuery::new(filter, sort, limit.0, after).map_err(invalid)?;
        let market = &app.0.market;
        let version = market.book_version().await?;
        if let Some(page) = app.0.pages.get(&query, version, market.now()) {
            return Ok(page);
        }
        let page = market.search_offers(&query).await?;
        let body = JsonBytes::new(&OfferPageView {
            items: page.listings.iter().map(listing_view).collect(),
            next_cursor: page.next.map(|c| c.to_string()),
        });
        app.0.pages.put(query, page.stamp, &body);
        Ok(body)
    }
}
