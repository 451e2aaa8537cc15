//! The market's offers.

use uuid::Uuid;

use crate::{Client, Error};

pub use pupero_api::{OfferRequest, OfferView};
/// The wire type `PaymentMethodView`, by the name this SDK gave it first.
pub type PaymentMethodInfo = pupero_api::PaymentMethodView;
/// The wire type `OfferPageView`, by the name this SDK gave it first.
pub type OfferPage = pupero_api::OfferPageView;

/// Market search filters; every field optional.
#[derive(Debug, Clone, Default)]
pub struct OfferSearch<'a> {
    /// `sell` or `buy`.
    pub side: Option<&'a str>,
    /// ISO 4217 code.
    pub currency: Option<&'a str>,
    /// Payment method code.
    pub payment_method: Option<&'a str>,
    /// Only offers accepting this amount, decimal XMR.
    pub amount: Option<&'a str>,
    /// `asc` or `desc`.
    pub sort: Option<&'a str>,
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
        for (key, value) in [
            ("side", search.side),
            ("currency", search.currency),
            ("payment_method", search.payment_method),
            ("amount", search.amount),
            ("sort", search.sort),
            ("cursor", search.cursor),
        ] {
            if let Some(v) = value {
                pairs.push((key, v.to_owned()));
            }
        }
        if let Some(limit) = search.limit {
            pairs.push(("limit", limit.to_string()));
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
