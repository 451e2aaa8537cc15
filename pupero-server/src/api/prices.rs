//! Market prices: anyone reads them; admins set a currency's price by hand (when there is no
//! HTTP source, or to correct a broken one).

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use pupero_core::{CurrencyCode, Role};

use super::auth::NoContent;
use super::{SessionAuth, Tag};
use crate::app::AppState;
use crate::client::client_ip;
use crate::error::ApiError;
use pupero_market::oracle::KnownPrice;

pub use pupero_api::{MarketPrice, MarketPriceList, PriceChange};

/// The market resource.
pub struct PricesApi;

fn market_price(known: &KnownPrice) -> MarketPrice {
    let quote = &known.quote;
    MarketPrice {
        currency: quote.currency(),
        price: quote.price(),
        observed_at_ms: quote.observed_at().as_unix_ms(),
        fresh: known.fresh,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Market")]
impl PricesApi {
    /// Every known market price: those set by admins and those recently read from the price
    /// source, the newer of the two per currency.
    #[oai(path = "/prices", method = "get", operation_id = "list_prices")]
    async fn list(&self, app: Data<&Arc<AppState>>) -> Result<Json<MarketPriceList>, ApiError> {
        let prices = app.0.market.market_prices().await?;
        Ok(Json(MarketPriceList {
            items: prices.iter().map(market_price).collect(),
        }))
    }

    /// The market price of one currency; 404 when there is none.
    #[oai(path = "/prices/:currency", method = "get", operation_id = "get_price")]
    async fn get(
        &self,
        app: Data<&Arc<AppState>>,
        currency: Path<CurrencyCode>,
    ) -> Result<Json<MarketPrice>, ApiError> {
        let code = currency.0;
        let known = app.0.market.market_price(code).await?;
        Ok(Json(market_price(&known)))
    }

    /// Sets the market price of a currency, observed now. It replaces the price source's until
    /// the source's next newer quote.
    #[oai(
        path = "/admin/prices/:currency",
        method = "put",
        operation_id = "admin_set_price"
    )]
    async fn set(
        &self,
        app: Data<&Arc<AppState>>,
        req: &Request,
        auth: SessionAuth,
        currency: Path<CurrencyCode>,
        body: Json<PriceChange>,
    ) -> Result<NoContent, ApiError> {
        auth.0.require_role(Role::Admin)?;
        let code = currency.0;
        let price = body.price;
        app.0
            .market
            .set_market_price(auth.0.user, code, price, client_ip(req))
            .await?;
        Ok(NoContent::Done)
    }
}
