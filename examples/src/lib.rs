//! What the examples share: a market bot's two roles, built only on `pupero-sdk`, so that the
//! `market_bot` example and its test run the same code.
//!
//! A *maker* keeps one sell offer posted and releases the trades whose payment it confirmed; a
//! *taker* takes the best sell offer and marks the trade paid once it has paid. Confirming a
//! fiat payment is the bot owner's business (a bank API, a person); here it is a callback.

use pupero_sdk::{
    Client, CurrencyCode, Error, OfferRequest, OfferSearch, OpenTradeRequest, PaymentMethod,
    Piconero, Price, Side, TradeSide, TradeState, TradeView, Visibility,
};
use uuid::Uuid;

/// The maker's offer: sells XMR for EUR by SEPA at a fixed price.
pub fn maker_offer(price: Price, min: Piconero, max: Piconero) -> OfferRequest {
    OfferRequest {
        side: Side::Sell,
        currency: CurrencyCode::parse("EUR").expect("a supported currency"),
        payment_method: PaymentMethod::parse("SEPA").expect("a catalogue method"),
        payment_details: Some("IBAN in the trade chat".into()),
        price: Some(price),
        margin_percent: None,
        min_amount: min,
        max_amount: max,
        payment_window_minutes: 60,
        terms: Some("Put the trade id in the payment reference.".into()),
        visibility: Visibility::Public,
    }
}

/// One round of the maker: posts `offer` if none is open, then releases every paid trade
/// where it sells and `payment_arrived` says the fiat is there. Returns the released trades.
pub async fn maker_round(
    client: &Client,
    offer: &OfferRequest,
    payment_arrived: impl Fn(&TradeView) -> bool,
) -> Result<Vec<Uuid>, Error> {
    if client.my_offers().await?.is_empty() {
        client.create_offer(offer).await?;
    }
    let mut released = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .trades(Some(TradeState::Paid), None, cursor.as_deref())
            .await?;
        for trade in &page.items {
            if trade.your_side == Some(TradeSide::Seller) && payment_arrived(trade) {
                // The trade id as idempotency key: a retry after a timeout releases once.
                let key = format!("release-{}", trade.id);
                client.release_trade(trade.id, None, Some(&key)).await?;
                released.push(trade.id);
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(released),
        }
    }
}

/// The taker: opens a trade for `amount` XMR on the cheapest EUR sell offer that accepts it,
/// calls `pay` with the trade (which pays the fiat, outside Pupero), then marks it paid.
/// `None` when no offer fits.
pub async fn take_best_offer(
    client: &Client,
    amount: Piconero,
    pay: impl Fn(&TradeView),
) -> Result<Option<TradeView>, Error> {
    let search = OfferSearch {
        side: Some(Side::Sell),
        currency: Some(CurrencyCode::parse("EUR").expect("a supported currency")),
        amount: Some(amount),
        limit: Some(1),
        ..OfferSearch::default()
    };
    let Some(best) = client
        .search_offers(&search)
        .await?
        .items
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(price) = best.effective_price else {
        return Ok(None);
    };
    // The price shown is the price agreed: if the maker changes it meanwhile, the trade is
    // refused rather than opened at another price.
    let request = OpenTradeRequest {
        offer_id: best.id,
        amount,
        price,
    };
    // A fresh key per attempt; a retry of this very call would reuse it.
    let key = format!("open-{}", Uuid::new_v4());
    let trade = client.open_trade(&request, Some(&key)).await?;
    pay(&trade);
    let key = format!("paid-{}", trade.id);
    Ok(Some(client.mark_trade_paid(trade.id, Some(&key)).await?))
}
