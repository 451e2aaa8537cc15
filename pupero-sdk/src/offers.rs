//! The market's offers.

use uuid::Uuid;

use crate::{Client, Error};

pub use pupero_api::{OfferRequest, OfferView};
/// The wire type `PaymentMethodView`, by the name this SDK gave it first.
pub type PaymentMethodInfo = pupero_api::PaymentMethodView;
/// The wire type `OfferPageView`, by the name this SDK gave it first.
pub type OfferPage = pupero_api::OfferPageView;

/// Market search filters; every field optional. Typed as the server reads them, so a filter
/// the server would refuse does not compile.
#[derive(Debug, Clone, Default)]
pub struct OfferSearch<'a> {
    /// The maker's side.
    pub side: Option<pupero_api::Side>,
    /// ISO 4217 code.
    pub currency: Option<pupero_core::CurrencyCode>,
    /// Payment method.
    pub payment_method: Option<pupero_core::PaymentMethod>,
    /// Only offers accepting this amount.
    pub amount: Option<pupero_core::Piconero>,
    /// By effective price (default: best for the side).
    pub sort: Option<pupero_api::PriceSort>,
    /// Page size.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<&'a str>,
}

impl Client {
    /// The payment methods offers may use.
    pub async fn payment_methods(&self) -> Result<Vec<PaymentMethodInfo>, Error> {
        self.send(
            reqwest::Method::GET,
            "/api/v1/payment-methods",
            None::<&()>,
            false,
        )
        .await
    }

    /// The trading fees a trade opened now would charge, ready to compute a trade's exact fees
    /// before it opens ([`crate::FeeSchedule::trade_fees`]).
    pub async fn fee_schedule(&self) -> Result<pupero_core::FeeSchedule, Error> {
        let view: pupero_api::FeeScheduleView = self
            .send(reqwest::Method::GET, "/api/v1/fees", None::<&()>, false)
            .await?;
        pupero_core::FeeSchedule::new(view.maker_bps, view.taker_bps)
            .map_err(|e| Error::protocol(format!("the fee schedule: {e}")))
    }

    /// Posts an offer.
    pub async fn create_offer(&self, offer: &OfferRequest) -> Result<OfferView, Error> {
        self.send(reqwest::Method::POST, "/api/v1/offers", Some(offer), true)
            .await
    }

    /// One offer by id.
    pub async fn offer(&self, id: Uuid) -> Result<OfferView, Error> {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/offers/{id}"),
            None::<&()>,
            false,
        )
        .await
    }

    /// The caller's open offers.
    pub async fn my_offers(&self) -> Result<Vec<OfferView>, Error> {
        self.send(reqwest::Method::GET, "/api/v1/me/offers", None::<&()>, true)
            .await
    }

    /// Replaces an offer's terms (side and currency must stay).
    pub async fn update_offer(&self, id: Uuid, offer: &OfferRequest) -> Result<OfferView, Error> {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/v1/offers/{id}"),
            Some(offer),
            true,
        )
        .await
    }

    /// Pauses an offer.
    pub async fn pause_offer(&self, id: Uuid) -> Result<OfferView, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/offers/{id}/pause"),
            None::<&()>,
            true,
        )
        .await
    }

    /// Resumes a paused offer.
    pub async fn resume_offer(&self, id: Uuid) -> Result<OfferView, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/offers/{id}/resume"),
            None::<&()>,
            true,
        )
        .await
    }

    /// Deletes an offer.
    pub async fn delete_offer(&self, id: Uuid) -> Result<(), Error> {
        self.request(
            reqwest::Method::DELETE,
            &format!("/api/v1/offers/{id}"),
            None::<&()>,
            true,
        )
        .await
        .map(drop)
    }

    /// One page of the market.
    pub async fn search_offers(&self, search: &OfferSearch<'_>) -> Result<OfferPage, Error> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let filters = [
            ("side", search.side.map(|v| v.as_str().to_owned())),
            ("currency", search.currency.map(|v| v.as_str().to_owned())),
            (
                "payment_method",
                search.payment_method.map(|v| v.code().to_owned()),
            ),
            ("amount", search.amount.map(|v| v.to_xmr_string())),
            ("sort", search.sort.map(|v| v.as_str().to_owned())),
            ("cursor", search.cursor.map(str::to_owned)),
            ("limit", search.limit.map(|v| v.to_string())),
        ];
        for (key, value) in filters {
            if let Some(v) = value {
                pairs.push((key, v));
            }
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::urlencode(v)))
            .collect();
        let path = if query.is_empty() {
            "/api/v1/offers".to_owned()
        } else {
            format!("/api/v1/offers?{}", query.join("&"))
        };
        self.send(reqwest::Method::GET, &path, None::<&()>, false)
            .await
    }
}
