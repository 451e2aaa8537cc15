//! Offers, stored whole and rebuilt through the core's parsers (a row that no longer parses is
//! corrupt, never silently accepted).

use super::convert::{amount, ms, parsed, sql_amount, time};
use super::{Store, StoreError, lock_row_in};
use pupero_core::offer::{
    OfferStatus, OfferTerms, PaymentDetails, PaymentMethod, PaymentWindow, Side, TradeLimits,
    Visibility,
};
use pupero_core::price::Pricing;
use pupero_core::{
    CurrencyCode, MarginPercent, NewOffer, Offer, OfferId, Price, Timestamp, UserId,
};

const OFFER_COLUMNS: &str = "id, owner_id, side, currency, payment_method, payment_details, pricing_kind, \
     pricing_value, min_piconero, max_piconero, window_minutes, terms, visibility, status, created_at_ms, updated_at_ms";

/// Offers read by one statement when a process catches up with the market's changes.
const MAX_OFFERS_PER_READ: usize = 500;

/// An offer's columns and its revision.
#[derive(sqlx::FromRow)]
struct RevisedOffer {
    #[sqlx(flatten)]
    offer: OfferColumns,
    revision: i64,
}

fn corrupt(_: pupero_core::Error) -> StoreError {
    StoreError::Corrupt("offer row")
}

fn pricing_to_sql(p: Pricing) -> (&'static str, String) {
    match p {
        Pricing::Fixed(price) => ("fixed", price.to_string()),
        Pricing::Margin(margin) => ("margin", margin.to_string()),
    }
}

/// An offer's columns ([`OFFER_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct OfferColumns {
    id: String,
    owner_id: String,
    side: String,
    currency: String,
    payment_method: String,
    payment_details: String,
    pricing_kind: String,
    pricing_value: String,
    min_piconero: i64,
    max_piconero: i64,
    window_minutes: i64,
    terms: String,
    visibility: String,
    status: String,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl TryFrom<OfferColumns> for Offer {
    type Error = StoreError;

    fn try_from(c: OfferColumns) -> Result<Offer, StoreError> {
        const ROW: &str = "offer row";
        let pricing = match c.pricing_kind.as_str() {
            "fixed" => Pricing::Fixed(Price::parse(&c.pricing_value).map_err(corrupt)?),
            "margin" => Pricing::Margin(MarginPercent::parse(&c.pricing_value).map_err(corrupt)?),
            _ => return Err(StoreError::Corrupt("pricing kind")),
        };
        let window = u32::try_from(c.window_minutes).map_err(|_| StoreError::Corrupt("window"))?;
        let spec = NewOffer {
            side: Side::parse(&c.side).map_err(corrupt)?,
            currency: CurrencyCode::parse(&c.currency).map_err(corrupt)?,
            payment_method: PaymentMethod::parse(&c.payment_method).map_err(corrupt)?,
            payment_details: PaymentDetails::parse(&c.payment_details).map_err(corrupt)?,
            pricing,
            limits: TradeLimits::new(amount(c.min_piconero, ROW)?, amount(c.max_piconero, ROW)?)
                .map_err(corrupt)?,
            payment_window: PaymentWindow::from_minutes(window).map_err(corrupt)?,
            terms: OfferTerms::parse(&c.terms).map_err(corrupt)?,
            visibility: Visibility::parse(&c.visibility).map_err(corrupt)?,
        };
        Ok(Offer::restore(
            parsed::<OfferId>(&c.id, ROW)?,
            parsed::<UserId>(&c.owner_id, ROW)?,
            spec,
            OfferStatus::parse(&c.status).map_err(corrupt)?,
            time(c.created_at_ms, ROW)?,
            time(c.updated_at_ms, ROW)?,
        ))
    }
}

impl Store {
    /// Stores a new offer unless its owner already has `max_open` open (active or paused)
    /// offers; `false` then. The count and the insert are one decision: on MariaDB the
    /// owner's user row is locked first, and SQLite's write transaction excludes every other
    /// writer, so concurrent posts cannot pass the limit together.
    pub async fn insert_offer(&self, offer: &Offer, max_open: u32) -> Result<bool, StoreError> {
        let spec = offer.spec();
        let (kind, value) = pricing_to_sql(spec.pricing);
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        lock_row_in(&mut tx, self.engine, "users", offer.owner().to_string()).await?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM offers WHERE owner_id = ? AND status IN ('active', 'paused')",
        )
        .bind(offer.owner().to_string())
        .fetch_one(&mut *tx)
        .await?;
        if open >= i64::from(max_open) {
            return Ok(false);
        }
        let sql = format!(
            "INSERT INTO offers ({OFFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(offer.id().to_string())
            .bind(offer.owner().to_string())
            .bind(spec.side.as_str())
            .bind(spec.currency.as_str())
            .bind(spec.payment_method.code())
            .bind(spec.payment_details.as_str().to_owned())
            .bind(kind)
            .bind(value)
            .bind(sql_amount(spec.limits.min())?)
            .bind(sql_amount(spec.limits.max())?)
            .bind(i64::from(spec.payment_window.minutes()))
            .bind(spec.terms.as_str().to_owned())
            .bind(spec.visibility.as_str())
            .bind(offer.status().as_str())
            .bind(ms(offer.created_at())?)
            .bind(ms(offer.updated_at())?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.market_changed();
        Ok(true)
    }

    /// Writes an offer's changed fields and status, if it still has `previous_updated_at`
    /// (compare-and-set: of two concurrent edits, one wins and the other is told so).
    pub async fn update_offer(
        &self,
        offer: &Offer,
        previous_updated_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let spec = offer.spec();
        let (kind, value) = pricing_to_sql(spec.pricing);
        let done = sqlx::query(
            "UPDATE offers SET payment_method = ?, payment_details = ?, pricing_kind = ?, pricing_value = ?, \
             min_piconero = ?, max_piconero = ?, window_minutes = ?, terms = ?, visibility = ?, status = ?, \
             updated_at_ms = ?, revision = revision + 1 WHERE id = ? AND updated_at_ms = ?",
        )
        .bind(spec.payment_method.code())
        .bind(spec.payment_details.as_str().to_owned())
        .bind(kind)
        .bind(value)
        .bind(sql_amount(spec.limits.min())?)
        .bind(sql_amount(spec.limits.max())?)
        .bind(i64::from(spec.payment_window.minutes()))
        .bind(spec.terms.as_str().to_owned())
        .bind(spec.visibility.as_str())
        .bind(offer.status().as_str())
        .bind(ms(offer.updated_at())?)
        .bind(offer.id().to_string())
        .bind(ms(previous_updated_at)?)
        .execute(&self.pool)
        .await?;
        self.market_changed();
        Ok(done.rows_affected() == 1)
    }

    /// One offer, deleted ones included.
    pub async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError> {
        let sql = format!("SELECT {OFFER_COLUMNS} FROM offers WHERE id = ?");
        let row = sqlx::query_as::<_, OfferColumns>(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(Offer::try_from).transpose()
    }

    /// One offer, deleted ones included, with its revision (which every change of it moves).
    pub async fn offer_with_revision(
        &self,
        id: OfferId,
    ) -> Result<Option<(Offer, i64)>, StoreError> {
        let sql = format!("SELECT {OFFER_COLUMNS}, revision FROM offers WHERE id = ?");
        let row = sqlx::query_as::<_, RevisedOffer>(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((Offer::try_from(r.offer)?, r.revision)))
            .transpose()
    }

    /// A user's open (active or paused) offers, newest first.
    pub async fn open_offers_of(&self, owner: UserId) -> Result<Vec<Offer>, StoreError> {
        let sql = format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE owner_id = ? AND status IN ('active', 'paused') \
             ORDER BY created_at_ms DESC"
        );
        let rows = sqlx::query_as::<_, OfferColumns>(sqlx::AssertSqlSafe(sql))
            .bind(owner.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Offer::try_from).collect()
    }

    /// The revision of every listable offer: active, public, of an enabled account. A process
    /// keeping the market in memory compares them with what it holds.
    pub async fn market_revisions(&self) -> Result<Vec<(OfferId, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT o.id, o.revision FROM offers o JOIN users u ON u.id = o.owner_id \
             WHERE o.status = 'active' AND o.visibility = 'public' AND u.disabled = 0",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, revision)| Ok((parsed::<OfferId>(&id, "offer row")?, revision)))
            .collect()
    }

    /// The usernames of the users `ids` that exist.
    pub async fn usernames(&self, ids: &[UserId]) -> Result<Vec<(UserId, String)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_OFFERS_PER_READ) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT id, username FROM users WHERE id IN ({marks})");
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for (id, username) in query.fetch_all(&self.pool).await? {
                found.push((parsed::<UserId>(&id, "user row")?, username));
            }
        }
        Ok(found)
    }

    /// The offers `ids` that exist, each with its revision, in no order.
    pub async fn offers_with_revisions(
        &self,
        ids: &[OfferId],
    ) -> Result<Vec<(Offer, i64)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_OFFERS_PER_READ) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT {OFFER_COLUMNS}, revision FROM offers WHERE id IN ({marks})");
            let mut query = sqlx::query_as::<_, RevisedOffer>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push((Offer::try_from(row.offer)?, row.revision));
            }
        }
        Ok(found)
    }
}
