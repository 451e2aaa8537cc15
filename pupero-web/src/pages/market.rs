//! The market (buy/sell tabs, filters, cursor pages), an offer with its open-trade form, the
//! review step, opening the trade, and the maker's own offers.

use askama::Template;
use poem::handler;
use poem::web::{Form, Path, Query};
use pupero_sdk::{
    CurrencyCode, MarginPercent, OfferRequest, OfferSearch, OfferView, OpenTradeRequest,
    PaymentMethod, Piconero, Price, Side, Text, Visibility,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    Chrome, Failure, PageResult, api_message, idempotency_key, redirect, redirect_with, render,
    urlencode,
};
use crate::format;
use crate::guard::Ctx;
use crate::i18n::Tr;

/// Offers per market page: enough to compare at a glance, in at most 30 KB of HTML (a test
/// holds the page to it), one round trip over Tor.
const OFFERS_PER_PAGE: u32 = 50;

/// One offer as a card of the market or a line of "my offers".
pub(crate) struct OfferCard {
    /// Offer id.
    pub(crate) id: Uuid,
    /// "Sell XMR" / "Buy XMR", from the taker's side.
    pub(crate) action: String,
    /// Price per XMR with the currency, or a dash without a fresh quote.
    pub(crate) price: String,
    /// The margin, when the price follows the market.
    pub(crate) margin: Option<String>,
    /// Smallest and largest trade, in XMR.
    pub(crate) limits: String,
    /// Payment method code.
    pub(crate) method: String,
    /// Payment window.
    pub(crate) window: String,
    /// Currency code.
    pub(crate) currency: String,
    /// Status (my offers).
    pub(crate) status: String,
    /// Whether it is paused (my offers).
    pub(crate) paused: bool,
}

impl OfferCard {
    fn new(offer: &OfferView, t: Tr) -> OfferCard {
        let l = t.locale;
        OfferCard {
            id: offer.id,
            // The maker sells: the taker buys.
            action: t.t(match offer.side {
                Side::Sell => "offer-action-buy",
                Side::Buy => "offer-action-sell",
            }),
            price: offer.effective_price.or(offer.price).map_or_else(
                || t.t("offer-no-price"),
                |p| format::fiat(&p.to_string(), offer.currency, l),
            ),
            margin: offer
                .margin_percent
                .map(|m| format!("{} %", format::decimal(&signed(&m.to_string()), l))),
            limits: format!(
                "{} – {}",
                format::xmr_unit(offer.min_amount, l),
                format::xmr_unit(offer.max_amount, l)
            ),
            method: offer.payment_method.clone(),
            window: t.n("minutes", u64::from(offer.payment_window_minutes)),
            currency: offer.currency.as_str().to_owned(),
            status: t.t(&format!("offer-status-{}", offer.status.as_str())),
            paused: offer.status == pupero_sdk::OfferStatus::Paused,
        }
    }
}

fn signed(text: &str) -> String {
    if text.starts_with('-') {
        text.to_owned()
    } else {
        format!("+{text}")
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct MarketQuery {
    side: Option<String>,
    currency: Option<String>,
    method: Option<String>,
    amount: Option<String>,
    cursor: Option<String>,
}

struct MethodOption {
    code: String,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "market.html")]
struct MarketPage {
    c: Chrome,
    buying: bool,
    currency: String,
    amount: String,
    methods: Vec<MethodOption>,
    offers: Vec<OfferCard>,
    errors: Vec<String>,
    next: Option<String>,
}

/// The market: offers to buy XMR from (the default tab) or to sell it to.
#[handler]
pub(crate) async fn market(ctx: Ctx, Query(q): Query<MarketQuery>) -> PageResult {
    let t = ctx.t;
    // The visitor's side: buying XMR means the makers who sell.
    let buying = q.side.as_deref() != Some("sell");
    let mut errors = Vec::new();
    let currency_text = q
        .currency
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let currency = currency_text.and_then(|c| {
        let parsed = CurrencyCode::parse(&c.to_ascii_uppercase()).ok();
        if parsed.is_none() {
            errors.push(t.t("market-bad-currency"));
        }
        parsed
    });
    let method_text = q.method.as_deref().filter(|s| !s.is_empty());
    let method = method_text.and_then(|m| PaymentMethod::parse(m).ok());
    let amount_text = q.amount.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let amount = amount_text.and_then(|a| {
        let parsed = format::parse_xmr(a);
        if parsed.is_none() {
            errors.push(t.t("market-bad-amount"));
        }
        parsed
    });
    let search = OfferSearch {
        side: Some(if buying { Side::Sell } else { Side::Buy }),
        currency,
        payment_method: method,
        amount,
        sort: None,
        limit: Some(OFFERS_PER_PAGE),
        cursor: q.cursor.as_deref().filter(|c| !c.is_empty()),
    };
    let api = ctx.public();
    let (page, methods) = tokio::try_join!(api.search_offers(&search), api.payment_methods())?;
    let next = page.next_cursor.map(|cursor| {
        let mut query = format!("side={}", if buying { "buy" } else { "sell" });
        for (key, value) in [
            ("currency", currency_text),
            ("method", method_text),
            ("amount", amount_text),
            ("cursor", Some(cursor.as_str())),
        ] {
            if let Some(value) = value {
                query.push_str(&format!("&{key}={}", urlencode(value)));
            }
        }
        format!("/market?{query}")
    });
    render(MarketPage {
        c: Chrome::new(
            &ctx,
            if buying {
                "market-title-buy"
            } else {
                "market-title-sell"
            },
        ),
        buying,
        currency: currency_text.unwrap_or_default().to_owned(),
        amount: amount_text.unwrap_or_default().to_owned(),
        methods: methods
            .into_iter()
            .map(|m| MethodOption {
                selected: method_text == Some(m.code.code()),
                code: m.code.code().to_owned(),
                name: m.name,
            })
            .collect(),
        offers: page.items.iter().map(|o| OfferCard::new(o, t)).collect(),
        errors,
        next,
    })
}

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferPage {
    c: Chrome,
    card: OfferCard,
    details: String,
    terms: String,
    amount: String,
    error: Option<String>,
}

fn parse_id(id: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(id).map_err(|_| Failure::NotFound)
}

/// One offer and the form to trade on it.
#[handler]
pub(crate) async fn show_offer(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let offer = ctx.public().offer(parse_id(&id)?).await?;
    offer_page(&ctx, &offer, String::new(), None)
}

fn offer_page(ctx: &Ctx, offer: &OfferView, amount: String, error: Option<String>) -> PageResult {
    let card = OfferCard::new(offer, ctx.t);
    let mut c = Chrome::new(ctx, "offer-title");
    c.title = ctx.t.a(
        "offer-heading",
        &[
            ("action", &card.action),
            ("method", &card.method),
            ("currency", &card.currency),
        ],
    );
    render(OfferPage {
        c,
        card,
        details: offer.payment_details.clone(),
        terms: offer.terms.clone(),
        amount,
        error,
    })
}

#[derive(Deserialize)]
pub(crate) struct AmountQuery {
    amount: Option<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    c: Chrome,
    offer_id: Uuid,
    summary: String,
    amount: String,
    amount_exact: String,
    fiat: String,
    price: String,
    price_exact: String,
    method: String,
    window: String,
    key: String,
    error: Option<String>,
}

/// The review step: the exact XMR, the fiat and the price that will be fixed.
#[handler]
pub(crate) async fn review(
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<AmountQuery>,
) -> PageResult {
    ctx.client()?;
    let offer = ctx.public().offer(parse_id(&id)?).await?;
    let typed = q.amount.unwrap_or_default();
    let Some(amount) = format::parse_xmr(&typed) else {
        return offer_page(&ctx, &offer, typed, Some(ctx.t.t("market-bad-amount")));
    };
    if amount.as_u64() < offer.min_amount.as_u64() || amount.as_u64() > offer.max_amount.as_u64() {
        return offer_page(&ctx, &offer, typed, Some(ctx.t.t("offer-outside-limits")));
    }
    review_page(&ctx, &offer, amount, None)
}

fn review_page(
    ctx: &Ctx,
    offer: &OfferView,
    amount: Piconero,
    error: Option<String>,
) -> PageResult {
    let t = ctx.t;
    let l = t.locale;
    let Some(price) = offer.effective_price else {
        return offer_page(
            ctx,
            offer,
            amount.to_xmr_string(),
            Some(t.t("offer-no-price")),
        );
    };
    let fiat = price
        .fiat_in(amount, offer.currency)
        .map(|f| format::fiat(&f.to_string(), offer.currency, l))
        .unwrap_or_else(|_| "—".to_owned());
    let card = OfferCard::new(offer, t);
    let key = match offer.side {
        Side::Sell => "review-summary-buy",
        Side::Buy => "review-summary-sell",
    };
    render(ReviewPage {
        c: Chrome::new(ctx, "review-title"),
        offer_id: offer.id,
        summary: t.a(
            key,
            &[("amount", &format::xmr_unit(amount, l)), ("fiat", &fiat)],
        ),
        amount: format::xmr_unit(amount, l),
        amount_exact: amount.to_xmr_string(),
        fiat,
        price: card.price,
        price_exact: price.to_string(),
        method: card.method,
        window: card.window,
        key: idempotency_key(),
        error,
    })
}

#[derive(Deserialize)]
pub(crate) struct OpenForm {
    amount: String,
    price: String,
    key: String,
}

/// Opens the trade at the reviewed price (the API refuses a worse one), then goes to it.
#[handler]
pub(crate) async fn open_trade(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<OpenForm>,
) -> PageResult {
    let client = ctx.client()?;
    let offer_id = parse_id(&id)?;
    let (Ok(amount), Ok(price)) = (
        Piconero::from_xmr_str(&form.amount),
        Price::parse(&form.price),
    ) else {
        return Err(Failure::NotFound);
    };
    let request = OpenTradeRequest {
        offer_id,
        amount,
        price,
    };
    match client.open_trade(&request, Some(&form.key)).await {
        Ok(trade) => Ok(redirect(&format!("/trades/{}", trade.id))),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(e) => {
            // The offer as it is now (a new price, say), with why the trade did not open.
            let offer = ctx.public().offer(offer_id).await?;
            review_page(&ctx, &offer, amount, Some(api_message(ctx.t, &e)))
        }
    }
}

#[derive(Template)]
#[template(path = "my_offers.html")]
struct MyOffersPage {
    c: Chrome,
    offers: Vec<OfferCard>,
}

/// The user's offers, with pause, resume and delete.
#[handler]
pub(crate) async fn my_offers(ctx: Ctx) -> PageResult {
    let offers = ctx.client()?.my_offers().await?;
    render(MyOffersPage {
        c: Chrome::new(&ctx, "my-offers-title"),
        offers: offers.iter().map(|o| OfferCard::new(o, ctx.t)).collect(),
    })
}

/// What the new-offer form holds, as typed, so that a refused form comes back filled in.
#[derive(Deserialize, Default)]
pub(crate) struct OfferForm {
    side: Option<String>,
    currency: Option<String>,
    method: Option<String>,
    details: Option<String>,
    pricing: Option<String>,
    price: Option<String>,
    margin: Option<String>,
    min: Option<String>,
    max: Option<String>,
    window: Option<String>,
    terms: Option<String>,
    visibility: Option<String>,
}

#[derive(Template)]
#[template(path = "new_offer.html")]
struct NewOfferPage {
    c: Chrome,
    f: OfferForm,
    methods: Vec<MethodOption>,
    errors: Vec<String>,
}

impl OfferForm {
    fn get<'a>(field: &'a Option<String>, default: &'a str) -> &'a str {
        field.as_deref().unwrap_or(default)
    }

    /// The request it stands for, or the messages of what is wrong.
    fn parse(&self, t: Tr) -> Result<OfferRequest, Vec<String>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str| {
            if !ok {
                errors.push(t.t(key));
            }
        };
        let decimal = |s: &Option<String>| s.as_deref().unwrap_or("").trim().replace(',', ".");
        let side = Side::parse(Self::get(&self.side, "sell"));
        check(side.is_some(), "offer-form-bad-side");
        let currency =
            CurrencyCode::parse(&Self::get(&self.currency, "").trim().to_ascii_uppercase());
        check(currency.is_ok(), "market-bad-currency");
        let method = PaymentMethod::parse(Self::get(&self.method, ""));
        check(method.is_ok(), "offer-form-bad-method");
        let fixed = Self::get(&self.pricing, "fixed") == "fixed";
        let (price, margin) = if fixed {
            let price = Price::parse(&decimal(&self.price)).ok();
            check(price.is_some(), "offer-form-bad-price");
            (price, None)
        } else {
            let margin = MarginPercent::parse(&decimal(&self.margin)).ok();
            check(margin.is_some(), "offer-form-bad-margin");
            (None, margin)
        };
        let min = format::parse_xmr(Self::get(&self.min, ""));
        let max = format::parse_xmr(Self::get(&self.max, ""));
        check(min.is_some() && max.is_some(), "offer-form-bad-limits");
        let window = Self::get(&self.window, "").trim().parse::<u32>().ok();
        check(window.is_some(), "offer-form-bad-window");
        let visibility = Visibility::parse(Self::get(&self.visibility, "public"));
        let text = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Text::from)
        };
        match (side, currency, method, min, max, window, visibility) {
            (
                Some(side),
                Ok(currency),
                Ok(payment_method),
                Some(min),
                Some(max),
                Some(window),
                Some(visibility),
            ) if errors.is_empty() => Ok(OfferRequest {
                side,
                currency,
                payment_method,
                payment_details: text(&self.details),
                price,
                margin_percent: margin,
                min_amount: min,
                max_amount: max,
                payment_window_minutes: window,
                terms: text(&self.terms),
                visibility,
            }),
            _ => {
                if errors.is_empty() {
                    errors.push(t.t("api-validation"));
                }
                Err(errors)
            }
        }
    }
}

async fn new_offer_page(ctx: &Ctx, f: OfferForm, errors: Vec<String>) -> PageResult {
    let methods = ctx.public().payment_methods().await?;
    let chosen = f.method.clone();
    render(NewOfferPage {
        c: Chrome::new(ctx, "new-offer-title"),
        f,
        methods: methods
            .into_iter()
            .map(|m| MethodOption {
                selected: chosen.as_deref() == Some(m.code.code()),
                code: m.code.code().to_owned(),
                name: m.name,
            })
            .collect(),
        errors,
    })
}

/// The new-offer form.
#[handler]
pub(crate) async fn new_offer(ctx: Ctx) -> PageResult {
    ctx.client()?;
    let form = OfferForm {
        window: Some("30".to_owned()),
        ..OfferForm::default()
    };
    new_offer_page(&ctx, form, Vec::new()).await
}

/// Posts the offer.
#[handler]
pub(crate) async fn create_offer(ctx: Ctx, Form(form): Form<OfferForm>) -> PageResult {
    let client = ctx.client()?;
    let request = match form.parse(ctx.t) {
        Ok(request) => request,
        Err(errors) => return new_offer_page(&ctx, form, errors).await,
    };
    match client.create_offer(&request).await {
        Ok(_) => Ok(redirect_with(&ctx, "/offers/mine", "offer-created")),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(e) => {
            let message = api_message(ctx.t, &e);
            new_offer_page(&ctx, form, vec![message]).await
        }
    }
}

/// Pauses an offer.
#[handler]
pub(crate) async fn pause_offer(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    ctx.client()?.pause_offer(parse_id(&id)?).await?;
    Ok(redirect_with(&ctx, "/offers/mine", "offer-paused"))
}

/// Resumes an offer.
#[handler]
pub(crate) async fn resume_offer(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    ctx.client()?.resume_offer(parse_id(&id)?).await?;
    Ok(redirect_with(&ctx, "/offers/mine", "offer-resumed"))
}

/// Deletes an offer.
#[handler]
pub(crate) async fn delete_offer(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    ctx.client()?.delete_offer(parse_id(&id)?).await?;
    Ok(redirect_with(&ctx, "/offers/mine", "offer-deleted"))
}
