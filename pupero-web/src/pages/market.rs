//! The market (buy/sell tabs, filters, cursor pages), an offer with its open-trade form, the
//! review step, opening the trade, and the maker's own offers.

use askama::Template;
use poem::handler;
use poem::web::{Form, Path, Query};
use pupero_sdk::{
    CurrencyCode, FeeSchedule, MarginPercent, OfferRequest, OfferSearch, OfferView,
    OpenTradeRequest, Party, PaymentMethod, Piconero, Price, Side, Text, Visibility,
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
use crate::reputation::Reputation;

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
    /// The maker's username.
    pub(crate) maker: String,
    /// The maker's profile page.
    pub(crate) maker_href: String,
    /// What the maker's record says (the market's cards).
    pub(crate) reputation: Option<String>,
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
            maker: offer.maker.clone(),
            maker_href: format!("/u/{}", urlencode(&offer.maker)),
            reputation: None,
        }
    }

    /// With the maker's record: completed trades, and the share of positive ratings.
    fn with_reputation(mut self, reputation: Option<&Reputation>, t: Tr) -> OfferCard {
        self.reputation = reputation.map(|r| {
            let trades = t.n("offer-maker-trades", r.completed_trades);
            match r.score_percent {
                Some(score) => t.a(
                    "offer-maker-score",
                    &[
                        ("trades", &trades),
                        (
                            "score",
                            &format::percent_bps(u16::from(score) * 100, t.locale),
                        ),
                    ],
                ),
                None => trades,
            }
        });
        self
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
    let reputations = ctx
        .web
        .reputations
        .of(&api, page.items.iter().map(|o| o.maker.as_str()))
        .await;
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
        offers: page
            .items
            .iter()
            .map(|o| OfferCard::new(o, t).with_reputation(reputations.get(&o.maker), t))
            .collect(),
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
    /// The visitor's fee, with its rate.
    fee: String,
    /// What the visitor receives (buying) or has held from their balance (selling).
    total_label: String,
    total: String,
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
    let public = ctx.public();
    let (offer, fees) = tokio::try_join!(public.offer(parse_id(&id)?), public.fee_schedule())?;
    let typed = q.amount.unwrap_or_default();
    let Some(amount) = format::parse_xmr(&typed) else {
        return offer_page(&ctx, &offer, typed, Some(ctx.t.t("market-bad-amount")));
    };
    if amount.as_u64() < offer.min_amount.as_u64() || amount.as_u64() > offer.max_amount.as_u64() {
        return offer_page(&ctx, &offer, typed, Some(ctx.t.t("offer-outside-limits")));
    }
    review_page(&ctx, &offer, fees, amount, None)
}

fn review_page(
    ctx: &Ctx,
    offer: &OfferView,
    fees: FeeSchedule,
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
    // The maker posted the offer; the visitor takes it. The same computation opens the trade.
    let maker = match offer.side {
        Side::Sell => Party::Seller,
        Side::Buy => Party::Buyer,
    };
    let Ok(trade_fees) = fees.trade_fees(amount, maker) else {
        return offer_page(
            ctx,
            offer,
            amount.to_xmr_string(),
            Some(t.t("offer-outside-limits")),
        );
    };
    let rate = format::percent_bps(fees.taker_bps(), l);
    let (fee, total_label, total) = match offer.side {
        Side::Sell => (
            trade_fees.buyer_fee,
            "review-you-receive",
            trade_fees.buyer_receives(amount),
        ),
        Side::Buy => (
            trade_fees.seller_fee,
            "review-you-hold",
            trade_fees.seller_pays(amount),
        ),
    };
    let Some(total) = total else {
        return offer_page(
            ctx,
            offer,
            amount.to_xmr_string(),
            Some(t.t("offer-outside-limits")),
        );
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
        fee: if fee.is_zero() {
            t.t("review-no-fee")
        } else {
            t.a(
                "review-fee",
                &[("fee", &format::xmr_unit(fee, l)), ("rate", &rate)],
            )
        },
        total_label: t.t(total_label),
        total: format::xmr_unit(total, l),
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
            let public = ctx.public();
            let (offer, fees) = tokio::try_join!(public.offer(offer_id), public.fee_schedule())?;
            review_page(&ctx, &offer, fees, amount, Some(api_message(ctx.t, &e)))
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

/// What the offer form holds, as typed, so that a refused form comes back filled in; `step`
/// is the button pressed: `publish` on the preview, `edit` to go back to the form, nothing
/// (the form's own button) for the preview.
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
    step: Option<String>,
}

/// What is wrong with a form: the message, and the field it is about when it is about one (the
/// summary links to the field, and the field is marked invalid and described by the message).
pub(crate) struct FormError {
    /// The field's id.
    field: Option<&'static str>,
    /// What to do about it.
    message: String,
}

impl FormError {
    /// A message about the form as a whole.
    fn whole(message: String) -> FormError {
        FormError {
            field: None,
            message,
        }
    }
}

#[derive(Template)]
#[template(path = "new_offer.html")]
struct NewOfferPage {
    c: Chrome,
    f: OfferForm,
    methods: Vec<MethodOption>,
    errors: Vec<FormError>,
    /// Where the form goes: `/offers/new` or `/offers/{id}/edit`.
    action: String,
    /// Editing an offer: side and currency are fixed.
    editing: bool,
}

impl NewOfferPage {
    /// Whether an error is about `field`.
    fn invalid(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == Some(field))
    }
}

impl OfferForm {
    fn get<'a>(field: &'a Option<String>, default: &'a str) -> &'a str {
        field.as_deref().unwrap_or(default)
    }

    /// The fields typed, by name.
    fn fields(&self) -> Vec<(&'static str, String)> {
        [
            ("side", &self.side),
            ("currency", &self.currency),
            ("method", &self.method),
            ("details", &self.details),
            ("pricing", &self.pricing),
            ("price", &self.price),
            ("margin", &self.margin),
            ("min", &self.min),
            ("max", &self.max),
            ("window", &self.window),
            ("terms", &self.terms),
            ("visibility", &self.visibility),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }

    /// The form of an existing offer, for editing it.
    fn of(offer: &OfferView) -> OfferForm {
        let fixed = offer.price.is_some();
        OfferForm {
            side: Some(offer.side.as_str().to_owned()),
            currency: Some(offer.currency.as_str().to_owned()),
            method: Some(offer.payment_method.clone()),
            details: Some(offer.payment_details.clone()),
            pricing: Some(if fixed { "fixed" } else { "margin" }.to_owned()),
            price: offer.price.map(|p| p.to_string()),
            margin: offer.margin_percent.map(|m| m.to_string()),
            min: Some(offer.min_amount.to_xmr_string()),
            max: Some(offer.max_amount.to_xmr_string()),
            window: Some(offer.payment_window_minutes.to_string()),
            terms: Some(offer.terms.clone()),
            visibility: Some(offer.visibility.as_str().to_owned()),
            step: None,
        }
    }

    /// The request it stands for, or the messages of what is wrong.
    fn parse(&self, t: Tr) -> Result<OfferRequest, Vec<FormError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str, field: Option<&'static str>| {
            if !ok {
                errors.push(FormError {
                    field,
                    message: t.t(key),
                });
            }
        };
        let decimal = |s: &Option<String>| s.as_deref().unwrap_or("").trim().replace(',', ".");
        let side = Side::parse(Self::get(&self.side, "sell"));
        check(side.is_some(), "offer-form-bad-side", None);
        let currency =
            CurrencyCode::parse(&Self::get(&self.currency, "").trim().to_ascii_uppercase());
        check(currency.is_ok(), "market-bad-currency", Some("currency"));
        let method = PaymentMethod::parse(Self::get(&self.method, ""));
        check(method.is_ok(), "offer-form-bad-method", Some("method"));
        let fixed = Self::get(&self.pricing, "fixed") == "fixed";
        let (price, margin) = if fixed {
            let price = Price::parse(&decimal(&self.price)).ok();
            check(price.is_some(), "offer-form-bad-price", Some("price"));
            (price, None)
        } else {
            let margin = MarginPercent::parse(&decimal(&self.margin)).ok();
            check(margin.is_some(), "offer-form-bad-margin", Some("margin"));
            (None, margin)
        };
        let min = format::parse_xmr(Self::get(&self.min, ""));
        let max = format::parse_xmr(Self::get(&self.max, ""));
        check(
            min.is_some() && max.is_some(),
            "offer-form-bad-limits",
            Some("min"),
        );
        let window = Self::get(&self.window, "").trim().parse::<u32>().ok();
        check(window.is_some(), "offer-form-bad-window", Some("window"));
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
                    errors.push(FormError::whole(t.t("api-validation")));
                }
                Err(errors)
            }
        }
    }
}

/// Which offer a form is for: a new one, or one being edited.
#[derive(Clone, Copy)]
enum Target {
    New,
    Edit(Uuid),
}

impl Target {
    fn action(self) -> String {
        match self {
            Target::New => "/offers/new".to_owned(),
            Target::Edit(id) => format!("/offers/{id}/edit"),
        }
    }
}

async fn offer_form_page(
    ctx: &Ctx,
    target: Target,
    f: OfferForm,
    errors: Vec<FormError>,
) -> PageResult {
    let methods = ctx.public().payment_methods().await?;
    let chosen = f.method.clone();
    let title = match target {
        Target::New => "new-offer-title",
        Target::Edit(_) => "edit-offer-title",
    };
    render(NewOfferPage {
        c: Chrome::new(ctx, title),
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
        action: target.action(),
        editing: matches!(target, Target::Edit(_)),
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
    offer_form_page(&ctx, Target::New, form, Vec::new()).await
}

/// The form of one of the user's offers, filled in.
#[handler]
pub(crate) async fn edit_offer(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let id = parse_id(&id)?;
    // Only one's own offers: another maker's is public to read but not here to edit.
    let mine = ctx.client()?.my_offers().await?;
    let offer = mine.iter().find(|o| o.id == id).ok_or(Failure::NotFound)?;
    offer_form_page(&ctx, Target::Edit(id), OfferForm::of(offer), Vec::new()).await
}

/// The offer as it will read, before it is published or saved.
#[derive(Template)]
#[template(path = "offer_preview.html")]
struct PreviewPage {
    c: Chrome,
    /// The form's fields, carried to the publish and change buttons.
    hidden: Vec<(&'static str, String)>,
    action: String,
    side: String,
    currency: String,
    method: String,
    price: String,
    limits: String,
    window: String,
    details: String,
    terms: String,
    visibility: String,
    editing: bool,
}

fn preview_page(ctx: &Ctx, target: Target, f: OfferForm, offer: &OfferRequest) -> PageResult {
    let t = ctx.t;
    let l = t.locale;
    let price = match (&offer.price, &offer.margin_percent) {
        (Some(p), _) => format::fiat(&p.to_string(), offer.currency, l),
        (None, Some(m)) => t.a(
            "preview-margin",
            &[(
                "margin",
                &format!("{} %", format::decimal(&signed(&m.to_string()), l)),
            )],
        ),
        (None, None) => t.t("offer-no-price"),
    };
    let (title, editing) = match target {
        Target::New => ("preview-title", false),
        Target::Edit(_) => ("preview-edit-title", true),
    };
    render(PreviewPage {
        c: Chrome::new(ctx, title),
        action: target.action(),
        side: t.t(match offer.side {
            Side::Sell => "new-offer-sell",
            Side::Buy => "new-offer-buy",
        }),
        currency: offer.currency.as_str().to_owned(),
        method: offer.payment_method.code().to_owned(),
        price,
        limits: format!(
            "{} – {}",
            format::xmr_unit(offer.min_amount, l),
            format::xmr_unit(offer.max_amount, l)
        ),
        window: t.n("minutes", u64::from(offer.payment_window_minutes)),
        details: offer
            .payment_details
            .as_ref()
            .map_or_else(String::new, |d| d.as_str().to_owned()),
        terms: offer
            .terms
            .as_ref()
            .map_or_else(String::new, |d| d.as_str().to_owned()),
        visibility: t.t(match offer.visibility {
            Visibility::Unlisted => "new-offer-unlisted",
            _ => "new-offer-public",
        }),
        hidden: f.fields(),
        editing,
    })
}

/// The form sent: back to the form (`edit`, or with what is wrong), the preview, or, from the
/// preview (`publish`), the offer posted or saved.
async fn offer_submitted(ctx: &Ctx, target: Target, form: OfferForm) -> PageResult {
    let client = ctx.client()?;
    if form.step.as_deref() == Some("edit") {
        return offer_form_page(ctx, target, form, Vec::new()).await;
    }
    let request = match form.parse(ctx.t) {
        Ok(request) => request,
        Err(errors) => return offer_form_page(ctx, target, form, errors).await,
    };
    if form.step.as_deref() != Some("publish") {
        return preview_page(ctx, target, form, &request);
    }
    let result = match target {
        Target::New => client.create_offer(&request).await.map(|_| "offer-created"),
        Target::Edit(id) => client
            .update_offer(id, &request)
            .await
            .map(|_| "offer-saved"),
    };
    match result {
        Ok(flash) => Ok(redirect_with(ctx, "/offers/mine", flash)),
        Err(e) if e.is_transport() || e.is_server_error() || e.is_unauthorized() => Err(e.into()),
        Err(e) if e.is_not_found() || e.is_forbidden() => Err(e.into()),
        Err(e) => {
            let message = api_message(ctx.t, &e);
            offer_form_page(ctx, target, form, vec![FormError::whole(message)]).await
        }
    }
}

/// The new-offer form sent.
#[handler]
pub(crate) async fn create_offer(ctx: Ctx, Form(form): Form<OfferForm>) -> PageResult {
    offer_submitted(&ctx, Target::New, form).await
}

/// The edit form of an offer sent.
#[handler]
pub(crate) async fn update_offer(
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<OfferForm>,
) -> PageResult {
    let id = parse_id(&id)?;
    offer_submitted(&ctx, Target::Edit(id), form).await
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
