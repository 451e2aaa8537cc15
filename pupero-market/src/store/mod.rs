//! The server's own tables — users, sessions, refresh tokens — on the same database as the
//! ledger, with their own migrations.

use pupero_core::{EmailAddress, Role, Timestamp, UserId, Username};
use pupero_ledger::Engine;
use pupero_ledger::Migrations;
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use uuid::Uuid;

mod convert;
pub(crate) use convert::ms;
use convert::{parsed, time, unsigned};

mod admin;
mod deposits;
mod sweeps;
mod withdrawals;
pub use deposits::{
    DepositAddressRow, DepositRef, DepositRow, MAX_DEPOSITS_PER_PAGE, MAX_PENDING_PER_SCAN,
    SeenDeposit, SightingChange, mark_deposit_credited_in, mark_deposit_gone_in,
    record_sighting_in, sighting_unchanged,
};
pub use sweeps::{SweepRow, move_sweep_in};
pub use withdrawals::{
    MAX_WITHDRAWALS_PER_PAGE, TOPIC_REDRIVE, TOPIC_WITHDRAWAL, WithdrawalRow, WithdrawalTxRow,
    fail_requested_in, insert_withdrawal_in, move_tx_in,
};
mod chat;
mod events;
mod gauges;
mod offers;
mod trades;

pub use chat::{
    FeedbackCursor, FeedbackRow, MessageRow, ProfileNumbers, insert_feedback_in, insert_message_in,
    lock_trade_in, message_count_in, other_senders_in,
};

pub use gauges::Gauges;
pub use trades::{
    MAX_TRADES_PER_PAGE, OpenCheck, TradeCursor, TradeRequest, TradeRow, insert_request_statement,
    insert_trade_statement, open_check_in, trade_exists_in, update_trade_statement,
};

pub use admin::{EmailChange, EmailTaken};
mod matrix;
pub use matrix::{
    DueMatrixJob, MatrixJob, MatrixLinkRow, NewMatrixJob, insert_inbound_in, insert_matrix_job_in,
    matrix_job_statement,
};
mod recovery;
pub use recovery::{DueMail, NewMail, NewPassword, NewToken, TokenPurpose, insert_mail_in};
mod prices;

pub use prices::PRICE_SOURCE_ADMIN;
mod throttle;

pub use throttle::{MAX_THROTTLE_KEY_LEN, ThrottleState, ThrottleWrite};
mod totp;

pub use totp::{SetupOutcome, TotpRow};

/// The columns of [`UserColumns`], for every query of whole users.
pub(crate) const USER_COLUMNS: &str =
    "id, username, email, email_verified_at_ms, password_hash, role, disabled, created_at_ms";

/// Connections of the server's pool: requests are short, and SQLite serialises writers anyway.
const MAX_CONNECTIONS: u32 = 16;

/// The most values bound in one `IN (…)` list: both engines take far more, but a statement per
/// bounded chunk keeps their plans and packets small.
pub(crate) const MAX_IN_LIST: usize = 500;

/// The server's migrations table, apart from the ledger's.
const MIGRATIONS_TABLE: &str = "_pupero_server_migrations";

mod api_keys;
pub use api_keys::{
    ApiKeyRow, ApiKeyState, CreateApiKeyRefusal, LAST_USED_RESOLUTION_MS,
    MAX_ACTIVE_API_KEYS_PER_USER, MAX_LISTED_API_KEYS, NewApiKey,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");

/// Storage failed. Never a refusal: those are values in the return types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Opening or migrating failed.
    #[error("opening the database failed")]
    Open(#[from] pupero_ledger::Error),
    /// A stored value is invalid.
    #[error("stored data is invalid: {0}")]
    Corrupt(&'static str),
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The id.
    pub id: UserId,
    /// The username as chosen.
    pub username: String,
    /// The e-mail address, if given.
    pub email: Option<String>,
    /// Whether the holder showed they read `email` (by a link sent to it); only a verified
    /// address receives password-reset links.
    pub email_verified: bool,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// The role.
    pub role: Role,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// Why a user could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateUserRefusal {
    /// The username (case-insensitively) belongs to someone else.
    UsernameTaken,
    /// The e-mail address belongs to someone else.
    EmailTaken,
}

/// What a refresh token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Valid and now used; a new token was stored in the same session.
    Rotated {
        /// The session.
        session: Uuid,
        /// Its user.
        user: UserId,
    },
    /// Already used once: stolen or replayed. The whole session is now revoked.
    Reused,
    /// Unknown, expired or of a revoked session.
    Invalid,
}

/// What an access token's session says about its bearer, checked on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    /// Whether the session is revoked or expired.
    pub ended: bool,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// The user's current role (not the one at login).
    pub role: Role,
}

/// Most sessions listed to their owner: far more than anyone uses at once, since a login
/// that stops being refreshed expires.
pub const MAX_LISTED_SESSIONS: u32 = 100;

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its id.
    pub id: Uuid,
    /// When it was started (the login).
    pub created: Timestamp,
    /// When its token was last refreshed (its start if never).
    pub last_active: Timestamp,
    /// When it ends unless refreshed.
    pub expires: Timestamp,
    /// The address it was started from, when known.
    pub client_ip: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionInfoColumns {
    id: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    client_ip: Option<String>,
    last_active_at_ms: Option<i64>,
}

/// The server's tables.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// Counts this process's writes that change what the market lists (offers, accounts,
    /// prices), for the order book to notice them at once.
    market_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A storage failure inside a ledger attachment: a database error stays one (so the writer can
/// retry a deadlock); anything else is reported through it.
impl From<StoreError> for pupero_ledger::AttachmentError {
    fn from(error: StoreError) -> pupero_ledger::AttachmentError {
        pupero_ledger::AttachmentError::Database(error.into_sqlx())
    }
}

impl StoreError {
    /// The error as the ledger writer takes it: a database error stays one (so the writer can
    /// retry a deadlock); anything else is reported through it.
    pub(crate) fn into_sqlx(self) -> sqlx::Error {
        match self {
            StoreError::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        }
    }
}

impl Store {
    /// Opens the pool and applies the server's migrations (or checks them).
    pub async fn open(url: &str, migrations: Migrations) -> Result<Store, StoreError> {
        let (engine, pool) = pupero_ledger::open_pool(url, MAX_CONNECTIONS).await?;
        pupero_ledger::migrate_with(
            engine,
            &pool,
            &SQLITE_MIGRATIONS,
            &MYSQL_MIGRATIONS,
            MIGRATIONS_TABLE,
            migrations,
        )
        .await?;
        Ok(Store {
            pool,
            engine,
            market_changes: std::sync::Arc::default(),
        })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// How many writes of this process changed what the market lists; it grows after each
    /// such write commits.
    pub fn market_changes(&self) -> u64 {
        self.market_changes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Counts a committed write that changes what the market lists.
    fn market_changed(&self) {
        self.market_changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Creates a user, unless the username or e-mail is taken.
    pub async fn create_user(
        &self,
        id: UserId,
        username: &Username,
        email: Option<&EmailAddress>,
        password_hash: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<Result<(), CreateUserRefusal>, StoreError> {
        if let Some(refusal) = self.taken(username, email).await? {
            return Ok(Err(refusal));
        }
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, username_key, email, password_hash, role, disabled, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(id.to_string())
        .bind(username.as_str().to_owned())
        .bind(username.key())
        .bind(email.map(|e| e.as_str().to_owned()))
        .bind(password_hash.to_owned())
        .bind(role.as_str())
        .bind(ms(now)?)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(Ok(())),
            // Someone registered the same name between the check and the insert.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Err(self
                .taken(username, email)
                .await?
                .unwrap_or(CreateUserRefusal::UsernameTaken))),
            Err(e) => Err(e.into()),
        }
    }

    async fn taken(
        &self,
        username: &Username,
        email: Option<&EmailAddress>,
    ) -> Result<Option<CreateUserRefusal>, StoreError> {
        let by_name = sqlx::query("SELECT id FROM users WHERE username_key = ?")
            .bind(username.key())
            .fetch_optional(&self.pool)
            .await?;
        if by_name.is_some() {
            return Ok(Some(CreateUserRefusal::UsernameTaken));
        }
        if let Some(email) = email {
            let by_email = sqlx::query("SELECT id FROM users WHERE email = ?")
                .bind(email.as_str().to_owned())
                .fetch_optional(&self.pool)
                .await?;
            if by_email.is_some() {
                return Ok(Some(CreateUserRefusal::EmailTaken));
            }
        }
        Ok(None)
    }

    /// The user whose username (any case) or e-mail address is `login`.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query_as::<_, UserColumns>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users \
             WHERE (username_key = ? OR email = ?) AND deleted_at_ms IS NULL"
        )))
        // Usernames are ASCII and so is their column, which MariaDB refuses to compare with
        // other text: a login that is not ASCII is an e-mail address or nothing (NULL matches
        // no row).
        .bind(login.is_ascii().then(|| login.to_ascii_lowercase()))
        .bind(login.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::try_from).transpose()
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query_as::<_, UserColumns>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::try_from).transpose()
    }

    /// Starts a session for `user`, from `client`, with its first refresh token.
    pub async fn create_session(
        &self,
        session: Uuid,
        user: UserId,
        refresh_hash: &str,
        client: Option<std::net::IpAddr>,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at_ms, expires_at_ms, client_ip) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session.to_string())
        .bind(user.to_string())
        .bind(ms(now)?)
        .bind(ms(expires)?)
        .bind(client.map(|ip| ip.to_string()))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at_ms) VALUES (?, ?, ?)",
        )
        .bind(refresh_hash.to_owned())
        .bind(session.to_string())
        .bind(ms(now)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses the refresh token with hash `old_hash` once, storing `new_hash` in its place. A token
    /// used a second time revokes its whole session.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        let row = sqlx::query_as::<_, RefreshColumns>(
            "SELECT t.used_at_ms, s.id AS session_id, s.user_id, s.expires_at_ms, s.revoked_at_ms \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?",
        )
        .bind(old_hash.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(RefreshColumns {
            used_at_ms: used,
            session_id: session_text,
            user_id: user_text,
            expires_at_ms: expires,
            revoked_at_ms: revoked,
        }) = row
        else {
            return Ok(Rotation::Invalid);
        };
        if used.is_some() {
            sqlx::query("UPDATE sessions SET revoked_at_ms = ?, revoked_reason = 'refresh_reuse' WHERE id = ? AND revoked_at_ms IS NULL")
                .bind(ms(now)?)
                .bind(session_text)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Rotation::Reused);
        }
        if revoked.is_some() || expires <= ms(now)? {
            return Ok(Rotation::Invalid);
        }
        // Compare-and-set: of two concurrent uses, exactly one marks the token used.
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(old_hash.to_owned())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            return Ok(Rotation::Reused);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at_ms) VALUES (?, ?, ?)",
        )
        .bind(new_hash.to_owned())
        .bind(session_text.clone())
        .bind(ms(now)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let session = parsed(&session_text, "session id")?;
        let user = parsed(&user_text, "user id")?;
        Ok(Rotation::Rotated { session, user })
    }

    /// Ends a session; its access and refresh tokens stop working at once.
    pub async fn revoke_session(
        &self,
        session: Uuid,
        reason: &'static str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? WHERE id = ? AND revoked_at_ms IS NULL")
            .bind(ms(now)?)
            .bind(reason)
            .bind(session.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The live sessions of `user` (neither ended nor expired), the most recently started
    /// first, at most [`MAX_LISTED_SESSIONS`].
    pub async fn live_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = sqlx::query_as::<_, SessionInfoColumns>(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.created_at_ms, s.expires_at_ms, s.client_ip, \
             (SELECT MAX(t.created_at_ms) FROM refresh_tokens t WHERE t.session_id = s.id) \
             AS last_active_at_ms \
             FROM sessions s WHERE s.user_id = ? AND s.revoked_at_ms IS NULL \
             AND s.expires_at_ms > ? ORDER BY s.created_at_ms DESC, s.id LIMIT {MAX_LISTED_SESSIONS}"
        )))
        .bind(user.to_string())
        .bind(ms(now)?)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let created = time(row.created_at_ms, "a session's start")?;
                Ok(SessionInfo {
                    id: parsed(&row.id, "session id")?,
                    created,
                    last_active: match row.last_active_at_ms {
                        Some(at) => time(at, "a session's last refresh")?,
                        None => created,
                    },
                    expires: time(row.expires_at_ms, "a session's expiry")?,
                    client_ip: row.client_ip,
                })
            })
            .collect()
    }

    /// Ends `session` if it is a live session of `user`; whether it was.
    pub async fn revoke_own_session(
        &self,
        user: UserId,
        session: Uuid,
        reason: &'static str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? \
             WHERE id = ? AND user_id = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?",
        )
        .bind(ms(now)?)
        .bind(reason)
        .bind(session.to_string())
        .bind(user.to_string())
        .bind(ms(now)?)
        .execute(&self.pool)
        .await?;
        Ok(ended.rows_affected() == 1)
    }

    /// The state of `session` of `user`, or `None` when it does not exist or is someone else's.
    pub async fn session_state(
        &self,
        session: Uuid,
        user: UserId,
        now: Timestamp,
    ) -> Result<Option<SessionState>, StoreError> {
        let row = sqlx::query_as::<_, SessionColumns>(
            "SELECT s.expires_at_ms, s.revoked_at_ms, u.disabled, u.role FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?",
        )
        .bind(session.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionState {
            ended: row.revoked_at_ms.is_some() || row.expires_at_ms <= ms(now)?,
            disabled: convert::flag(row.disabled, "disabled")?,
            role: role_of(&row.role)?,
        }))
    }
}

/// A user's columns as read ([`USER_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct UserColumns {
    id: String,
    username: String,
    email: Option<String>,
    email_verified_at_ms: Option<i64>,
    password_hash: String,
    role: String,
    disabled: i64,
    created_at_ms: i64,
}

impl TryFrom<UserColumns> for UserRow {
    type Error = StoreError;

    fn try_from(c: UserColumns) -> Result<UserRow, StoreError> {
        Ok(UserRow {
            id: parsed(&c.id, "user id")?,
            username: c.username,
            email: c.email,
            email_verified: c.email_verified_at_ms.is_some(),
            password_hash: c.password_hash,
            role: role_of(&c.role)?,
            disabled: convert::flag(c.disabled, "disabled")?,
            created_at: time(c.created_at_ms, "created_at")?,
        })
    }
}

pub(crate) fn role_of(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).map_err(|_| StoreError::Corrupt("role"))
}

/// A refresh token with its session, as [`Store::rotate_refresh_token`] reads it.
#[derive(sqlx::FromRow)]
struct RefreshColumns {
    used_at_ms: Option<i64>,
    session_id: String,
    user_id: String,
    expires_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

/// A session with its user's state, as [`Store::session_state`] reads it.
#[derive(sqlx::FromRow)]
struct SessionColumns {
    expires_at_ms: i64,
    revoked_at_ms: Option<i64>,
    disabled: i64,
    role: String,
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// Position, for paging.
    pub seq: u64,
    /// When, unix milliseconds.
    pub at: Timestamp,
    /// Who acted.
    pub actor: Option<String>,
    /// Whom it concerns.
    pub subject: Option<String>,
    /// The event's stable name.
    pub event: String,
    /// The client's address.
    pub client_ip: Option<String>,
    /// Free text.
    pub detail: String,
}

impl Store {
    /// Appends to the audit log.
    pub async fn audit(
        &self,
        entry: &crate::audit::AuditEntry,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, entry, now).await
    }
}

/// Locks row `id` of `table` until the caller's write transaction ends, so that what the
/// transaction reads next (a count, a row) and what it writes on it are one decision. Only
/// MariaDB needs it: SQLite's write transaction holds the whole database from its start.
pub(crate) async fn lock_row_in(
    conn: &mut sqlx::AnyConnection,
    engine: Engine,
    table: &'static str,
    id: String,
) -> Result<(), StoreError> {
    if !engine.locks_rows() {
        return Ok(());
    }
    let sql = format!("SELECT id FROM {table} WHERE id = ?{}", engine.lock_rows());
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

/// Appends to the audit log in the caller's transaction.
pub(crate) async fn audit_in(
    conn: &mut sqlx::AnyConnection,
    entry: &crate::audit::AuditEntry,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut detail = entry.detail.clone();
    if detail.len() > crate::audit::MAX_AUDIT_DETAIL_BYTES {
        let cut = (0..=crate::audit::MAX_AUDIT_DETAIL_BYTES)
            .rev()
            .find(|i| detail.is_char_boundary(*i))
            .unwrap_or(0);
        detail.truncate(cut);
    }
    sqlx::query(
            "INSERT INTO audit_log (at_ms, actor_id, subject_id, event, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(ms(now)?)
        .bind(entry.actor.map(|u| u.to_string()))
        .bind(entry.subject.map(|u| u.to_string()))
        .bind(entry.event.as_str())
        .bind(entry.client_ip.clone())
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Audit entries, newest first, before `before` (a `seq`), optionally about one user.
    pub async fn audit_page(
        &self,
        subject: Option<UserId>,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let rows = match subject {
            Some(user) => sqlx::query_as::<_, AuditColumns>(
                "SELECT seq, at_ms, actor_id, subject_id, event, client_ip, detail FROM audit_log \
                     WHERE subject_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            )
            .bind(user.to_string())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?,
            None => sqlx::query_as::<_, AuditColumns>(
                "SELECT seq, at_ms, actor_id, subject_id, event, client_ip, detail FROM audit_log \
                     WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            )
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?,
        };
        rows.into_iter().map(AuditRow::try_from).collect()
    }
}

/// An audit log row as read.
#[derive(sqlx::FromRow)]
struct AuditColumns {
    seq: i64,
    at_ms: i64,
    actor_id: Option<String>,
    subject_id: Option<String>,
    event: String,
    client_ip: Option<String>,
    detail: String,
}

impl TryFrom<AuditColumns> for AuditRow {
    type Error = StoreError;

    fn try_from(c: AuditColumns) -> Result<AuditRow, StoreError> {
        Ok(AuditRow {
            seq: unsigned(c.seq, "audit seq")?,
            at: time(c.at_ms, "audit time")?,
            actor: c.actor_id,
            subject: c.subject_id,
            event: c.event,
            client_ip: c.client_ip,
            detail: c.detail,
        })
    }
}
