//! The Matrix bridge's tables: linked accounts, trade rooms, the outbox of what is mirrored to
//! Matrix, and the homeserver's events already taken in (see `crate::matrix`).

use pupero_core::{Timestamp, TradeId, UserId};
use pupero_ledger::Statement;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::convert::{parsed, time, time_opt, unsigned};
use super::{Store, StoreError, ms};

/// What a row of the outbox asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixJob {
    /// A chat message, sent as its author's Matrix user.
    Message,
    /// A notice of the bridge's own: a trade's step, or an answer in a link's room.
    Notice,
    /// The trade is disputed: the moderators are invited, then the notice.
    Dispute,
    /// The trade's chat closed: the room becomes read-only, then the notice.
    Close,
    /// A link was asked for: a room with the Matrix account, where it is to answer the code.
    Link,
}

impl MatrixJob {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatrixJob::Message => "message",
            MatrixJob::Notice => "notice",
            MatrixJob::Dispute => "dispute",
            MatrixJob::Close => "close",
            MatrixJob::Link => "link",
        }
    }

    fn parse(s: &str) -> Result<MatrixJob, StoreError> {
        [
            MatrixJob::Message,
            MatrixJob::Notice,
            MatrixJob::Dispute,
            MatrixJob::Close,
            MatrixJob::Link,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
        .ok_or(StoreError::Corrupt("matrix outbox kind"))
    }
}

/// A row of the outbox, as written.
#[derive(Debug, Clone)]
pub struct NewMatrixJob {
    /// Its id: the Matrix transaction id of what it sends.
    pub id: Uuid,
    /// What it asks for.
    pub job: MatrixJob,
    /// The trade whose room it is about, if any.
    pub trade: Option<TradeId>,
    /// The author of a message; the user of a link.
    pub user: Option<UserId>,
    /// The text.
    pub body: Option<String>,
}

/// The statement that queues `job`, for a ledger attachment's transaction.
pub fn matrix_job_statement(job: &NewMatrixJob, now: Timestamp) -> Result<Statement, StoreError> {
    Ok(Statement::new(
        "INSERT INTO matrix_outbox (id, kind, trade_id, user_id, body, state, attempts, \
         next_attempt_at_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    )
    .bind(job.id.to_string())
    .bind(job.job.as_str())
    .bind(job.trade.map(|t| t.to_string()))
    .bind(job.user.map(|u| u.to_string()))
    .bind(job.body.clone())
    .bind(ms(now)?)
    .bind(ms(now)?))
}

/// Queues `job` in the transaction on `conn`.
pub async fn insert_matrix_job_in(
    conn: &mut AnyConnection,
    job: &NewMatrixJob,
    now: Timestamp,
) -> Result<(), StoreError> {
    matrix_job_statement(job, now)?
        .query()
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records, in the transaction on `conn`, that the homeserver's event `event_id` was taken in.
/// A unique violation says it was already.
pub async fn insert_inbound_in(
    conn: &mut AnyConnection,
    event_id: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO matrix_inbound (event_id, received_at_ms) VALUES (?, ?)")
        .bind(event_id.to_owned())
        .bind(ms(now).map_err(StoreError::into_sqlx)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A row of the outbox that is due.
#[derive(Debug, Clone)]
pub struct DueMatrixJob {
    /// Its id.
    pub id: Uuid,
    /// What it asks for.
    pub job: MatrixJob,
    /// The trade, if any.
    pub trade: Option<TradeId>,
    /// The user, if any.
    pub user: Option<UserId>,
    /// The text.
    pub body: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

#[derive(sqlx::FromRow)]
struct DueColumns {
    id: String,
    kind: String,
    trade_id: Option<String>,
    user_id: Option<String>,
    body: Option<String>,
    attempts: i64,
    next_attempt_at_ms: i64,
}

/// A Matrix account linked, or being linked, to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixLinkRow {
    /// The Pupero user.
    pub user: UserId,
    /// The Matrix account (`@name:server`).
    pub matrix_user_id: String,
    /// The SHA-256 of the code that account must send, while pending.
    pub code_hash: Option<String>,
    /// Wrong codes sent so far.
    pub attempts: u32,
    /// The room where the code is to be sent, once made.
    pub room_id: Option<String>,
    /// When the pending link lapses.
    pub expires_at: Timestamp,
    /// When it was confirmed; `None` while pending.
    pub linked_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct LinkColumns {
    user_id: String,
    matrix_user_id: String,
    code_hash: Option<String>,
    attempts: i64,
    room_id: Option<String>,
    expires_at_ms: i64,
    linked_at_ms: Option<i64>,
}

const LINK: &str = "matrix link";

impl TryFrom<LinkColumns> for MatrixLinkRow {
    type Error = StoreError;
    fn try_from(c: LinkColumns) -> Result<MatrixLinkRow, StoreError> {
        Ok(MatrixLinkRow {
            user: parsed(&c.user_id, LINK)?,
            matrix_user_id: c.matrix_user_id,
            code_hash: c.code_hash,
            attempts: u32::try_from(unsigned(c.attempts, LINK)?).unwrap_or(u32::MAX),
            room_id: c.room_id,
            expires_at: time(c.expires_at_ms, LINK)?,
            linked_at: time_opt(c.linked_at_ms, LINK)?,
        })
    }
}

const LINK_COLUMNS: &str =
    "user_id, matrix_user_id, code_hash, attempts, room_id, expires_at_ms, linked_at_ms";

impl Store {
    /// The oldest row of the outbox still pending, if it is due at `now`. Rows go out in the
    /// order they were written (a room's messages in their order): a row waiting for its retry
    /// holds back the ones after it.
    pub async fn due_matrix_job(&self, now: Timestamp) -> Result<Option<DueMatrixJob>, StoreError> {
        let row = sqlx::query_as::<_, DueColumns>(
            "SELECT id, kind, trade_id, user_id, body, attempts, next_attempt_at_ms \
             FROM matrix_outbox WHERE state = 'pending' ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(c) = row else { return Ok(None) };
        if c.next_attempt_at_ms > ms(now)? {
            return Ok(None);
        }
        const WHAT: &str = "matrix outbox";
        Ok(Some(DueMatrixJob {
            id: parsed(&c.id, WHAT)?,
            job: MatrixJob::parse(&c.kind)?,
            trade: c.trade_id.map(|t| parsed(&t, WHAT)).transpose()?,
            user: c.user_id.map(|u| parsed(&u, WHAT)).transpose()?,
            body: c.body,
            attempts: u32::try_from(unsigned(c.attempts, WHAT)?).unwrap_or(u32::MAX),
        }))
    }

    /// Claims an attempt at row `id`, seen with `attempts` attempts (compare-and-set), due
    /// again at `retry_at` should it fail or its process die; `false` when another process
    /// claimed it first.
    pub async fn claim_matrix_job(
        &self,
        id: Uuid,
        attempts: u32,
        retry_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE matrix_outbox SET attempts = attempts + 1, next_attempt_at_ms = ? \
             WHERE id = ? AND state = 'pending' AND attempts = ?",
        )
        .bind(ms(retry_at)?)
        .bind(id.to_string())
        .bind(i64::from(attempts))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends row `id`: sent, or given up.
    pub async fn finish_matrix_job(
        &self,
        id: Uuid,
        sent: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE matrix_outbox SET state = ?, done_at_ms = ? WHERE id = ? AND state = 'pending'",
        )
        .bind(if sent { "sent" } else { "failed" })
        .bind(ms(now)?)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Rows of the outbox still pending (for tests and metrics).
    pub async fn pending_matrix_jobs(&self) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM matrix_outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        unsigned(n, "count")
    }

    /// Rows given up (for tests and the log's reader).
    pub async fn failed_matrix_jobs(&self) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM matrix_outbox WHERE state = 'failed'")
                .fetch_one(&self.pool)
                .await?;
        unsigned(n, "count")
    }

    /// Every row ever queued (for tests: with the bridge off there are none).
    pub async fn matrix_jobs_total(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM matrix_outbox")
            .fetch_one(&self.pool)
            .await?;
        unsigned(n, "count")
    }

    /// The room of trade `trade`, once created.
    pub async fn matrix_room(&self, trade: TradeId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT room_id FROM matrix_rooms WHERE trade_id = ?")
                .bind(trade.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The trade whose room is `room_id`.
    pub async fn trade_of_matrix_room(&self, room_id: &str) -> Result<Option<TradeId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT trade_id FROM matrix_rooms WHERE room_id = ?")
                .bind(room_id.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        id.map(|id| parsed(&id, "matrix room")).transpose()
    }

    /// Records trade `trade`'s room, unless another process did.
    pub async fn insert_matrix_room(
        &self,
        trade: TradeId,
        room_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        match sqlx::query(
            "INSERT INTO matrix_rooms (trade_id, room_id, created_at_ms) VALUES (?, ?, ?)",
        )
        .bind(trade.to_string())
        .bind(room_id.to_owned())
        .bind(ms(now)?)
        .execute(&self.pool)
        .await
        {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Trades whose room is open though their chat closed before `before`: at most `limit`.
    pub async fn matrix_rooms_to_close(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<TradeId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT r.trade_id FROM matrix_rooms r JOIN trades t ON t.id = r.trade_id \
             WHERE r.closed_at_ms IS NULL AND t.closed_at_ms IS NOT NULL AND t.closed_at_ms <= ? \
             ORDER BY r.trade_id LIMIT ?",
        )
        .bind(ms(before)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| parsed(id, "matrix room")).collect()
    }

    /// Marks trade `trade`'s room closed and queues `job` (the notice that closes it), in one
    /// transaction; `false` when another process did first.
    pub async fn close_matrix_room(
        &self,
        trade: TradeId,
        job: &NewMatrixJob,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE matrix_rooms SET closed_at_ms = ? WHERE trade_id = ? AND closed_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(trade.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_matrix_job_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// User `user`'s link, pending or confirmed.
    pub async fn matrix_link(&self, user: UserId) -> Result<Option<MatrixLinkRow>, StoreError> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM matrix_links WHERE user_id = ?");
        sqlx::query_as::<_, LinkColumns>(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(MatrixLinkRow::try_from)
            .transpose()
    }

    /// The pending link whose code is to be sent in room `room_id`.
    pub async fn pending_matrix_link_in_room(
        &self,
        room_id: &str,
    ) -> Result<Option<MatrixLinkRow>, StoreError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM matrix_links WHERE room_id = ? AND linked_at_ms IS NULL"
        );
        sqlx::query_as::<_, LinkColumns>(sqlx::AssertSqlSafe(sql))
            .bind(room_id.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .map(MatrixLinkRow::try_from)
            .transpose()
    }

    /// The user that Matrix account `matrix_user_id` is linked to.
    pub async fn user_linked_to(&self, matrix_user_id: &str) -> Result<Option<UserId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM matrix_links WHERE linked_account = ?")
                .bind(matrix_user_id.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        id.map(|id| parsed(&id, LINK)).transpose()
    }

    /// The linked Matrix accounts of `users` (those that have one).
    pub async fn linked_accounts(&self, users: &[UserId]) -> Result<Vec<String>, StoreError> {
        let mut accounts = Vec::new();
        for user in users {
            let account: Option<Option<String>> =
                sqlx::query_scalar("SELECT linked_account FROM matrix_links WHERE user_id = ?")
                    .bind(user.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
            accounts.extend(account.flatten());
        }
        Ok(accounts)
    }

    /// The linked Matrix accounts of every enabled moderator and admin.
    pub async fn linked_moderators(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT l.linked_account FROM matrix_links l JOIN users u ON u.id = l.user_id \
             WHERE l.linked_account IS NOT NULL AND u.role IN ('moderator', 'admin') \
             AND u.disabled = 0 AND u.deleted_at_ms IS NULL ORDER BY l.linked_account",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Starts a link of `user` to `matrix_user_id`, replacing any link they had, and queues
    /// `job` (the room where the code is to be sent), in one transaction.
    pub async fn start_matrix_link(
        &self,
        user: UserId,
        matrix_user_id: &str,
        code_hash: &str,
        expires_at: Timestamp,
        job: &NewMatrixJob,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM matrix_links WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO matrix_links (user_id, matrix_user_id, code_hash, attempts, \
             created_at_ms, expires_at_ms) VALUES (?, ?, ?, 0, ?, ?)",
        )
        .bind(user.to_string())
        .bind(matrix_user_id.to_owned())
        .bind(code_hash.to_owned())
        .bind(ms(now)?)
        .bind(ms(expires_at)?)
        .execute(&mut *tx)
        .await?;
        insert_matrix_job_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the room where `user`'s pending link waits for its code.
    pub async fn set_matrix_link_room(
        &self,
        user: UserId,
        room_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE matrix_links SET room_id = ? WHERE user_id = ? AND linked_at_ms IS NULL",
        )
        .bind(room_id.to_owned())
        .bind(user.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Confirms `link` (compare-and-set on its pending code) with the event that did, and
    /// queues `job` (the answer), in one transaction. `Ok(false)` when it was not pending any
    /// more or its Matrix account is linked to someone else already.
    pub async fn confirm_matrix_link(
        &self,
        link: &MatrixLinkRow,
        event_id: &str,
        job: &NewMatrixJob,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if insert_inbound_in(&mut tx, event_id, now).await.is_err() {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE matrix_links SET linked_account = matrix_user_id, linked_at_ms = ?, \
             code_hash = NULL WHERE user_id = ? AND code_hash = ? AND linked_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(link.user.to_string())
        .bind(link.code_hash.clone())
        .execute(&mut *tx)
        .await;
        match done {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Ok(false),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        insert_matrix_job_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Counts a wrong code sent for `user`'s pending link; returns the attempts now.
    pub async fn count_matrix_link_attempt(&self, user: UserId) -> Result<u32, StoreError> {
        sqlx::query(
            "UPDATE matrix_links SET attempts = attempts + 1 \
             WHERE user_id = ? AND linked_at_ms IS NULL",
        )
        .bind(user.to_string())
        .execute(&self.pool)
        .await?;
        Ok(self
            .matrix_link(user)
            .await?
            .map_or(u32::MAX, |l| l.attempts))
    }

    /// Ends `user`'s link, pending or confirmed; `false` when there was none.
    pub async fn delete_matrix_link(&self, user: UserId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM matrix_links WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
