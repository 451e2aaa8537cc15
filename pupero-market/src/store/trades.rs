//! Trades and their idempotency keys. Rows are rebuilt through [`Trade::restore`], so a row no
//! trade could have become is reported corrupt, never used.
//!
//! Reads go through the store's pool; every write of a trade row happens in the ledger writer's
//! transaction (the `*_in` functions take its connection), together with the escrow it moves.

use pupero_core::offer::{PaymentMethod, PaymentWindow};
use pupero_core::{
    CurrencyCode, FiatAmount, OfferId, Party, Price, Resolution, Timestamp, Trade, TradeId,
    TradeRecord, TradeState, TransferNames, UserId,
};
use pupero_ledger::Statement;
use pupero_ledger::dialect::placeholders;
use sqlx::AnyConnection;

use super::convert::{
    amount, flag, i64_of, ms, parsed, small, sql_amount, time, time_opt, unsigned,
};
use super::{Store, StoreError};

/// Trades one listing returns at most.
pub const MAX_TRADES_PER_PAGE: u32 = 100;

const TRADE_COLUMNS: &str = "t.id, t.offer_id, t.seller_id, t.buyer_id, t.maker_side, t.amount_piconero, \
     t.seller_fee_piconero, t.buyer_fee_piconero, t.price, t.currency, t.fiat_amount, t.window_minutes, \
     t.payment_method, t.payment_details, t.terms, t.state, t.resolution, t.split_piconero, t.disputed_by, \
     t.dispute_reason, t.resolved_by, t.resolution_note, t.opened_at_ms, t.deadline_ms, t.paid_at_ms, t.closed_at_ms, t.version, t.transfer_names";

/// The select of trades with their parties' usernames.
fn select_trades(condition: &str) -> String {
    format!(
        "SELECT {TRADE_COLUMNS}, s.username AS seller_name, b.username AS buyer_name FROM trades t \
         JOIN users s ON s.id = t.seller_id JOIN users b ON b.id = t.buyer_id WHERE {condition}"
    )
}

/// A trade with what the server keeps beside the state machine: the payment instructions
/// copied from the offer when the trade opened, and who disputed or resolved it.
#[derive(Debug, Clone)]
pub struct TradeRow {
    /// The trade.
    pub trade: Trade,
    /// The offer's payment method when the trade opened.
    pub payment_method: PaymentMethod,
    /// The offer's payment details when the trade opened.
    pub payment_details: String,
    /// The offer's terms when the trade opened.
    pub terms: String,
    /// Who raised the dispute, and why.
    pub dispute: Option<(UserId, String)>,
    /// The moderator who resolved it, and their note to the parties.
    pub resolved_by: Option<(UserId, String)>,
    /// The seller's username (filled when read).
    pub seller_name: String,
    /// The buyer's username (filled when read).
    pub buyer_name: String,
}

/// What an idempotency key was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRequest {
    /// The trade it opened or acted on.
    pub trade: TradeId,
    /// The action's stable name (`open`, `mark_paid`, ...).
    pub action: String,
    /// SHA-256 of the request, to tell a retry from a different request with the same key.
    pub request_hash: String,
}

/// Where a listing of trades continues: after the trade opened at `opened_at` with `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeCursor {
    /// Opening time of the last trade of the previous page.
    pub opened_at: Timestamp,
    /// Its id (ties are broken by id).
    pub id: TradeId,
}

impl TradeCursor {
    /// `<unix ms>_<uuid>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.opened_at.as_unix_ms(), self.id)
    }

    /// Parses [`TradeCursor::encode`].
    pub fn parse(s: &str) -> Option<TradeCursor> {
        let (ms, id) = s.split_once('_')?;
        Some(TradeCursor {
            opened_at: Timestamp::parse_unix_ms(ms).ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// What the trade columns are, in errors.
const ROW: &str = "trade row";

fn corrupt(_: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(ROW)
}

fn sql_version(v: u64) -> Result<i64, StoreError> {
    i64_of(v, ROW)
}

/// A trade's columns with its parties' usernames ([`select_trades`]).
#[derive(sqlx::FromRow)]
struct TradeColumns {
    id: String,
    offer_id: String,
    seller_id: String,
    buyer_id: String,
    maker_side: String,
    amount_piconero: i64,
    seller_fee_piconero: i64,
    buyer_fee_piconero: i64,
    price: String,
    currency: String,
    fiat_amount: String,
    window_minutes: i64,
    payment_method: String,
    payment_details: String,
    terms: String,
    state: String,
    resolution: Option<String>,
    split_piconero: Option<i64>,
    disputed_by: Option<String>,
    dispute_reason: Option<String>,
    resolved_by: Option<String>,
    resolution_note: Option<String>,
    opened_at_ms: i64,
    paid_at_ms: Option<i64>,
    closed_at_ms: Option<i64>,
    version: i64,
    transfer_names: String,
    seller_name: String,
    buyer_name: String,
}

impl TryFrom<TradeColumns> for TradeRow {
    type Error = StoreError;

    /// Rebuilds the trade through [`Trade::restore`], so that a row no trade could have
    /// become is corrupt.
    fn try_from(c: TradeColumns) -> Result<TradeRow, StoreError> {
        let resolution = match (c.resolution.as_deref(), c.split_piconero) {
            (None, _) => None,
            (Some("to_buyer"), _) => Some(Resolution::ToBuyer),
            (Some("to_seller"), _) => Some(Resolution::ToSeller),
            (Some("split"), Some(v)) => Some(Resolution::Split {
                to_buyer: amount(v, ROW)?,
            }),
            _ => return Err(StoreError::Corrupt("trade resolution")),
        };
        let record = TradeRecord {
            id: parsed::<TradeId>(&c.id, ROW)?,
            offer: parsed::<OfferId>(&c.offer_id, ROW)?,
            seller: parsed::<UserId>(&c.seller_id, ROW)?,
            buyer: parsed::<UserId>(&c.buyer_id, ROW)?,
            maker: Party::parse(&c.maker_side).ok_or(StoreError::Corrupt("maker side"))?,
            amount: amount(c.amount_piconero, ROW)?,
            seller_fee: amount(c.seller_fee_piconero, ROW)?,
            buyer_fee: amount(c.buyer_fee_piconero, ROW)?,
            price: Price::parse(&c.price).map_err(corrupt)?,
            currency: CurrencyCode::parse(&c.currency).map_err(corrupt)?,
            fiat_amount: FiatAmount::parse(&c.fiat_amount).map_err(corrupt)?,
            window: PaymentWindow::from_minutes(small(c.window_minutes, ROW)?).map_err(corrupt)?,
            opened_at: time(c.opened_at_ms, ROW)?,
            paid_at: time_opt(c.paid_at_ms, ROW)?,
            closed_at: time_opt(c.closed_at_ms, ROW)?,
            state: TradeState::parse(&c.state).map_err(corrupt)?,
            resolution,
            version: unsigned(c.version, ROW)?,
            transfer_names: TransferNames::parse(&c.transfer_names)
                .ok_or(StoreError::Corrupt("trade transfer names"))?,
        };
        let trade = Trade::restore(record).map_err(|e| {
            tracing::error!(error = %e, "corrupt trade row");
            StoreError::Corrupt(ROW)
        })?;
        let party_note = |by: Option<String>, note: Option<String>| {
            by.map(|by| -> Result<(UserId, String), StoreError> {
                Ok((parsed(&by, ROW)?, note.unwrap_or_default()))
            })
            .transpose()
        };
        Ok(TradeRow {
            trade,
            payment_method: PaymentMethod::parse(&c.payment_method).map_err(corrupt)?,
            payment_details: c.payment_details,
            terms: c.terms,
            dispute: party_note(c.disputed_by, c.dispute_reason)?,
            resolved_by: party_note(c.resolved_by, c.resolution_note)?,
            seller_name: c.seller_name,
            buyer_name: c.buyer_name,
        })
    }
}

/// What an idempotency key was used for, as read.
#[derive(sqlx::FromRow)]
struct TradeRequestColumns {
    trade_id: String,
    action: String,
    request_hash: String,
}

impl TryFrom<TradeRequestColumns> for TradeRequest {
    type Error = StoreError;

    fn try_from(c: TradeRequestColumns) -> Result<TradeRequest, StoreError> {
        Ok(TradeRequest {
            trade: parsed(&c.trade_id, ROW)?,
            action: c.action,
            request_hash: c.request_hash,
        })
    }
}

fn resolution_to_sql(
    r: Option<Resolution>,
) -> Result<(Option<&'static str>, Option<i64>), StoreError> {
    Ok(match r {
        None => (None, None),
        Some(Resolution::Split { to_buyer }) => (Some("split"), Some(sql_amount(to_buyer)?)),
        Some(other) => (Some(other.as_str()), None),
    })
}

/// How many open trades a user has, bound twice to the user's id: as seller plus as buyer (a
/// trade never has one user on both sides). Each half reads only the user's open entries of
/// a `(party, state, ...)` index, so the count costs the same after a user's thousandth trade
/// as after the first; one `seller_id = ? OR buyer_id = ?` scan would read every trade the
/// user ever had wherever the planner reads rows for the OR.
const OPEN_TRADES_OF: &str = "((SELECT COUNT(*) FROM trades WHERE seller_id = ? \
     AND state IN ('escrowed', 'paid', 'disputed')) + (SELECT COUNT(*) FROM trades \
     WHERE buyer_id = ? AND state IN ('escrowed', 'paid', 'disputed')))";

/// The insert of a new trade, for the ledger writer's transaction, on three conditions checked
/// there, where all are exact for this process: its offer is still at `offer_revision` (the
/// offer the trade was decided on), it can be traded on (active, its maker's account
/// enabled), and `taker` is a party of fewer than `max_open_trades` open (escrowed, paid or
/// disputed) trades, counting those inserted before it in the same transaction. It inserts
/// nothing when one fails ([`open_check_in`] tells which).
pub fn insert_trade_statement(
    row: &TradeRow,
    offer_revision: i64,
    taker: UserId,
    max_open_trades: u32,
) -> Result<Statement, StoreError> {
    let t = &row.trade;
    let (resolution, split) = resolution_to_sql(t.resolution())?;
    Ok(Statement::new(format!(
        "INSERT INTO trades (id, offer_id, seller_id, buyer_id, maker_side, amount_piconero, \
         seller_fee_piconero, buyer_fee_piconero, price, currency, fiat_amount, window_minutes, \
         payment_method, payment_details, terms, state, resolution, split_piconero, disputed_by, \
         dispute_reason, resolved_by, resolution_note, opened_at_ms, deadline_ms, paid_at_ms, \
         closed_at_ms, version, transfer_names) \
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
         FROM offers o JOIN users u ON u.id = o.owner_id \
         WHERE o.id = ? AND o.revision = ? AND o.status = 'active' AND u.disabled = 0 \
         AND {OPEN_TRADES_OF} < ?",
    ))
    .bind(t.id().to_string())
    .bind(t.offer().to_string())
    .bind(t.seller().to_string())
    .bind(t.buyer().to_string())
    .bind(t.maker_side().as_str())
    .bind(sql_amount(t.amount())?)
    .bind(sql_amount(t.seller_fee())?)
    .bind(sql_amount(t.buyer_fee())?)
    .bind(t.price().to_string())
    .bind(t.currency().as_str())
    .bind(t.fiat_amount().to_string())
    .bind(i64::from(t.window().minutes()))
    .bind(row.payment_method.code())
    .bind(row.payment_details.clone())
    .bind(row.terms.clone())
    .bind(t.state().as_str())
    .bind(resolution)
    .bind(split)
    .bind(row.dispute.as_ref().map(|(by, _)| by.to_string()))
    .bind(row.dispute.as_ref().map(|(_, why)| why.clone()))
    .bind(row.resolved_by.as_ref().map(|(by, _)| by.to_string()))
    .bind(row.resolved_by.as_ref().map(|(_, note)| note.clone()))
    .bind(ms(t.opened_at())?)
    .bind(ms(t.payment_deadline())?)
    .bind(t.paid_at().map(ms).transpose()?)
    .bind(t.closed_at().map(ms).transpose()?)
    .bind(sql_version(t.version())?)
    .bind(t.transfer_names().as_str())
    .bind(t.offer().to_string())
    .bind(offer_revision)
    .bind(taker.to_string())
    .bind(taker.to_string())
    .bind(i64::from(max_open_trades)))
}

/// The write of `next` over the trade if its stored version is still `next.version() - 1`
/// (compare-and-set), for the ledger writer's transaction: it changes no row when another step
/// won. With `without_second_factor`, it also changes none if that user has 2FA on: a step
/// allowed because the actor had no second factor to show is applied only while that holds.
pub fn update_trade_statement(
    next: &Trade,
    dispute: Option<&(UserId, String)>,
    resolved_by: Option<&(UserId, String)>,
    without_second_factor: Option<UserId>,
) -> Result<Statement, StoreError> {
    let previous = next
        .version()
        .checked_sub(1)
        .ok_or(StoreError::Corrupt("a changed trade has version ≥ 1"))?;
    let (resolution, split) = resolution_to_sql(next.resolution())?;
    // One text whatever the step, so that a group's steps go to SQLite in one call: without a
    // user, the empty id (text, as the column is: MariaDB would compare a NULL bound as a
    // number by converting every id) matches no `user_totp` row, and the condition holds.
    Ok(Statement::new(
        "UPDATE trades SET state = ?, resolution = ?, split_piconero = ?, \
         disputed_by = COALESCE(?, disputed_by), dispute_reason = COALESCE(?, dispute_reason), \
         resolved_by = COALESCE(?, resolved_by), resolution_note = COALESCE(?, resolution_note), \
         paid_at_ms = ?, closed_at_ms = ?, version = ? \
         WHERE id = ? AND version = ? \
         AND NOT EXISTS (SELECT 1 FROM user_totp WHERE user_id = ? AND enabled = 1)",
    )
    .bind(next.state().as_str())
    .bind(resolution)
    .bind(split)
    .bind(dispute.map(|(by, _)| by.to_string()))
    .bind(dispute.map(|(_, why)| why.clone()))
    .bind(resolved_by.map(|(by, _)| by.to_string()))
    .bind(resolved_by.map(|(_, note)| note.clone()))
    .bind(next.paid_at().map(ms).transpose()?)
    .bind(next.closed_at().map(ms).transpose()?)
    .bind(sql_version(next.version())?)
    .bind(next.id().to_string())
    .bind(sql_version(previous)?)
    .bind(without_second_factor.map_or_else(String::new, |user| user.to_string())))
}

/// The record of what an idempotency key did, for the ledger writer's transaction: it violates
/// a unique key if the user already used the key.
pub fn insert_request_statement(
    user: UserId,
    key: &str,
    request: &TradeRequest,
    now: Timestamp,
) -> Result<Statement, StoreError> {
    Ok(Statement::new(
        "INSERT INTO trade_requests (user_id, idem_key, trade_id, action, request_hash, created_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.to_string())
    .bind(key)
    .bind(request.trade.to_string())
    .bind(request.action.clone())
    .bind(request.request_hash.clone())
    .bind(ms(now)?))
}

/// Whether the trade `id` exists, in the ledger writer's transaction.
pub async fn trade_exists_in(conn: &mut AnyConnection, id: TradeId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM trades WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// What opening a trade checks in the ledger writer's transaction, where both answers are exact
/// for this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCheck {
    /// The maker's username if the offer can be traded on (active, and its maker's account
    /// enabled); `None` if it cannot or does not exist.
    pub maker_name: Option<String>,
    /// The offer's revision, if it exists.
    pub revision: Option<i64>,
    /// The open (escrowed, paid or disputed) trades the taker is a party of.
    pub taker_open_trades: u64,
}

/// Whether offer `id` can be traded on, and how many open trades `taker` has: one statement,
/// in the writer's transaction.
pub async fn open_check_in(
    conn: &mut AnyConnection,
    id: OfferId,
    taker: UserId,
) -> Result<OpenCheck, StoreError> {
    let row: Option<(String, i64, String, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT o.status, u.disabled, u.username, o.revision, {OPEN_TRADES_OF} AS open_trades \
         FROM offers o JOIN users u ON u.id = o.owner_id WHERE o.id = ?",
        )))
        .bind(taker.to_string())
        .bind(taker.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some((status, disabled, maker_name, revision, open)) = row else {
        return Ok(OpenCheck {
            maker_name: None,
            revision: None,
            taker_open_trades: 0,
        });
    };
    let takeable = status == "active" && !flag(disabled, "disabled")?;
    Ok(OpenCheck {
        maker_name: takeable.then_some(maker_name),
        revision: Some(revision),
        taker_open_trades: unsigned(open, ROW)?,
    })
}

impl Store {
    /// [`open_check_in`], outside any transaction: why a trade could not open, told after the
    /// fact.
    pub async fn open_check(&self, id: OfferId, taker: UserId) -> Result<OpenCheck, StoreError> {
        let mut conn = self.pool.acquire().await?;
        open_check_in(&mut conn, id, taker).await
    }

    /// One trade.
    pub async fn trade(&self, id: TradeId) -> Result<Option<TradeRow>, StoreError> {
        let row = sqlx::query_as::<_, TradeColumns>(sqlx::AssertSqlSafe(select_trades("t.id = ?")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TradeRow::try_from).transpose()
    }

    /// What `user` did with idempotency key `key`, if anything.
    pub async fn trade_request(
        &self,
        user: UserId,
        key: &str,
    ) -> Result<Option<TradeRequest>, StoreError> {
        let row = sqlx::query_as::<_, TradeRequestColumns>(
            "SELECT trade_id, action, request_hash FROM trade_requests WHERE user_id = ? AND idem_key = ?",
        )
        .bind(user.to_string())
        .bind(key.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TradeRequest::try_from).transpose()
    }

    /// The trades `user` is a party of, newest first, optionally only in `states`.
    pub async fn trades_of(
        &self,
        user: UserId,
        states: &[TradeState],
        after: Option<TradeCursor>,
        limit: u32,
    ) -> Result<Vec<TradeRow>, StoreError> {
        self.list_trades(Some(user), states, after, limit).await
    }

    /// Every trade in `states`, newest first (moderators' queue).
    pub async fn trades_in(
        &self,
        states: &[TradeState],
        after: Option<TradeCursor>,
        limit: u32,
    ) -> Result<Vec<TradeRow>, StoreError> {
        self.list_trades(None, states, after, limit).await
    }

    async fn list_trades(
        &self,
        user: Option<UserId>,
        states: &[TradeState],
        after: Option<TradeCursor>,
        limit: u32,
    ) -> Result<Vec<TradeRow>, StoreError> {
        let mut condition = String::from("1 = 1");
        if user.is_some() {
            condition.push_str(" AND (t.seller_id = ? OR t.buyer_id = ?)");
        }
        if !states.is_empty() {
            condition.push_str(" AND t.state IN (");
            condition.push_str(&placeholders(states.len()));
            condition.push(')');
        }
        if after.is_some() {
            condition.push_str(" AND (t.opened_at_ms < ? OR (t.opened_at_ms = ? AND t.id < ?))");
        }
        let sql = format!(
            "{} ORDER BY t.opened_at_ms DESC, t.id DESC LIMIT ?",
            select_trades(&condition)
        );
        let mut query = sqlx::query_as::<_, TradeColumns>(sqlx::AssertSqlSafe(sql));
        if let Some(user) = user {
            query = query.bind(user.to_string()).bind(user.to_string());
        }
        for state in states {
            query = query.bind(state.as_str());
        }
        if let Some(cursor) = after {
            query = query
                .bind(ms(cursor.opened_at)?)
                .bind(ms(cursor.opened_at)?)
                .bind(cursor.id.to_string());
        }
        let rows = query
            .bind(i64::from(limit.min(MAX_TRADES_PER_PAGE)))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TradeRow::try_from).collect()
    }

    /// Escrowed trades whose payment window ended by `now`, oldest deadline first.
    pub async fn trades_due(&self, now: Timestamp, limit: u32) -> Result<Vec<TradeId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM trades WHERE state = 'escrowed' AND deadline_ms <= ? \
             ORDER BY deadline_ms LIMIT ?",
        )
        .bind(ms(now)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| parsed(id, ROW)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The open-trade count reads a covering range of each party's `(party, state, …)` index,
    /// never the trades themselves: its cost is the user's open trades, not their history.
    #[tokio::test]
    async fn open_trades_are_counted_on_the_index_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
        let store = Store::open(&url, pupero_ledger::Migrations::Apply)
            .await
            .unwrap();
        let user = UserId::new_v7().to_string();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN SELECT {OPEN_TRADES_OF}"
        )))
        .bind(user.clone())
        .bind(user)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
        for index in ["trades_seller_state", "trades_buyer_state"] {
            assert!(
                details
                    .iter()
                    .any(|d| d.contains(&format!("COVERING INDEX {index}"))),
                "{details:?}"
            );
        }
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN trades")),
            "{details:?}"
        );
        store.close().await;
    }

    #[test]
    fn cursors_round_trip() {
        let cursor = TradeCursor {
            opened_at: Timestamp::from_unix_ms(1_700_000_000_123),
            id: TradeId::new_v7(),
        };
        assert_eq!(TradeCursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(TradeCursor::parse("nope"), None);
        assert_eq!(TradeCursor::parse("12_nope"), None);
        // Beyond what a BIGINT holds: never issued, refused here rather than in SQL.
        let id = uuid::Uuid::nil();
        assert_eq!(
            TradeCursor::parse(&format!("9223372036854775808_{id}")),
            None
        );
        assert_eq!(TradeCursor::parse(&format!("-1_{id}")), None);
        assert!(TradeCursor::parse(&format!("9223372036854775807_{id}")).is_some());
    }
}
