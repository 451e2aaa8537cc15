//! API keys: only their SHA-256 is stored, with the user's scopes for them.

use pupero_core::{Role, Scopes, Timestamp, UserId};
use uuid::Uuid;

use super::convert::{flag, ms, parsed, time, time_opt};
use super::{Store, StoreError, lock_row_in, role_of};

/// Keys in use (not revoked) per user. A bot or two per user and a spare for rotation fit many
/// times over; the bound keeps the list short and a stolen session from minting keys in bulk.
pub const MAX_ACTIVE_API_KEYS_PER_USER: u32 = 20;

/// Rows of one key list: every key in use (at most [`MAX_ACTIVE_API_KEYS_PER_USER`]) and the
/// most recent revoked ones, so that the list stays bounded however many keys were revoked.
pub const MAX_LISTED_API_KEYS: u32 = 50;

/// `last_used_at_ms` is written at most once per this interval per key: a bot polling several
/// times a second must not turn every read into a write.
pub const LAST_USED_RESOLUTION_MS: u64 = 60_000;

/// A new key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    /// The key's id.
    pub id: Uuid,
    /// The owner.
    pub user: UserId,
    /// The owner's label for it.
    pub name: &'a str,
    /// The key's first characters, shown in lists.
    pub prefix: &'a str,
    /// SHA-256 of the key, hex.
    pub key_hash: &'a str,
    /// What it may do.
    pub scopes: Scopes,
}

/// A key as listed to its owner: never the key itself.
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    /// The key's id.
    pub id: Uuid,
    /// The owner's label.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// What it may do.
    pub scopes: Scopes,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used, to a resolution of [`LAST_USED_RESOLUTION_MS`].
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// What a presented key says about its bearer, checked on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyState {
    /// The key's id.
    pub id: Uuid,
    /// The owner.
    pub user: UserId,
    /// What it may do.
    pub scopes: Scopes,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
    /// Whether the owner is disabled.
    pub disabled: bool,
    /// The owner's current role.
    pub role: Role,
}

/// Why a key could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateApiKeyRefusal {
    /// The user already has [`MAX_ACTIVE_API_KEYS_PER_USER`] keys in use.
    TooMany,
}

fn scopes_from(bits: i64) -> Result<Scopes, StoreError> {
    u8::try_from(bits)
        .ok()
        .and_then(Scopes::from_bits)
        .ok_or(StoreError::Corrupt("api key scopes"))
}

/// A key's columns as listed.
#[derive(sqlx::FromRow)]
struct ApiKeyColumns {
    id: String,
    name: String,
    prefix: String,
    scopes: i64,
    created_at_ms: i64,
    last_used_at_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<ApiKeyColumns> for ApiKeyRow {
    type Error = StoreError;

    fn try_from(c: ApiKeyColumns) -> Result<ApiKeyRow, StoreError> {
        Ok(ApiKeyRow {
            id: parsed(&c.id, "api key id")?,
            name: c.name,
            prefix: c.prefix,
            scopes: scopes_from(c.scopes)?,
            created_at: time(c.created_at_ms, "api key time")?,
            last_used_at: time_opt(c.last_used_at_ms, "api key time")?,
            revoked_at: time_opt(c.revoked_at_ms, "api key time")?,
        })
    }
}

/// A key's columns with its owner's, as checked on every request.
#[derive(sqlx::FromRow)]
struct ApiKeyStateColumns {
    id: String,
    user_id: String,
    scopes: i64,
    revoked_at_ms: Option<i64>,
    last_used_at_ms: Option<i64>,
    disabled: i64,
    role: String,
}

impl TryFrom<ApiKeyStateColumns> for ApiKeyState {
    type Error = StoreError;

    fn try_from(c: ApiKeyStateColumns) -> Result<ApiKeyState, StoreError> {
        Ok(ApiKeyState {
            id: parsed(&c.id, "api key id")?,
            user: parsed(&c.user_id, "user id")?,
            scopes: scopes_from(c.scopes)?,
            revoked: c.revoked_at_ms.is_some(),
            last_used_at: time_opt(c.last_used_at_ms, "api key time")?,
            disabled: flag(c.disabled, "disabled")?,
            role: role_of(&c.role)?,
        })
    }
}

impl Store {
    /// Stores a new key, unless the user has too many in use already.
    pub async fn create_api_key(
        &self,
        key: &NewApiKey<'_>,
        now: Timestamp,
    ) -> Result<Result<(), CreateApiKeyRefusal>, StoreError> {
        // Count and insert in one write transaction, locking the user's row on MariaDB, so that
        // concurrent requests cannot together pass the limit.
        let mut tx = self.pool.begin_with(self.engine.begin_write()).await?;
        lock_row_in(&mut tx, self.engine, "users", key.user.to_string()).await?;
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at_ms IS NULL",
        )
        .bind(key.user.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if active >= i64::from(MAX_ACTIVE_API_KEYS_PER_USER) {
            return Ok(Err(CreateApiKeyRefusal::TooMany));
        }
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(key.user.to_string())
        .bind(key.name.to_owned())
        .bind(key.prefix.to_owned())
        .bind(key.key_hash.to_owned())
        .bind(i64::from(key.scopes.bits()))
        .bind(ms(now)?)
        .execute(&mut *tx)
        .await?;
        let event = crate::events::NewEvent {
            user: key.user,
            kind: crate::events::EventKind::ApiKeyCreated,
            trade: None,
            payload: serde_json::json!({
                "api_key_id": key.id.to_string(),
                "name": key.name,
                "scopes": key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            }),
        };
        crate::events::insert_events_in(&mut tx, &[event], now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The user's keys, newest first: all in use and the latest revoked ones, at most
    /// [`MAX_LISTED_API_KEYS`].
    pub async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = sqlx::query_as::<_, ApiKeyColumns>(
            "SELECT id, name, prefix, scopes, created_at_ms, last_used_at_ms, revoked_at_ms \
             FROM api_keys WHERE user_id = ? \
             ORDER BY CASE WHEN revoked_at_ms IS NULL THEN 0 ELSE 1 END, created_at_ms DESC, id DESC \
             LIMIT ?",
        )
        .bind(user.to_string())
        .bind(i64::from(MAX_LISTED_API_KEYS))
        .fetch_all(&self.pool)
        .await?;
        let mut keys = rows
            .into_iter()
            .map(ApiKeyRow::try_from)
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The query put the keys in use first so that none is cut off; the list is by age.
        keys.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.id)));
        Ok(keys)
    }

    /// Revokes `user`'s key `id`. False when there is no such key of this user or it was
    /// revoked already.
    pub async fn revoke_api_key(
        &self,
        id: Uuid,
        user: UserId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = ? \
             WHERE id = ? AND user_id = ? AND revoked_at_ms IS NULL",
        )
        .bind(ms(now)?)
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected() == 1)
    }

    /// Whether `user` has a key `id`, revoked or not.
    pub async fn api_key_exists(&self, id: Uuid, user: UserId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT id FROM api_keys WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The key whose SHA-256 is `key_hash`, with its owner's state.
    pub async fn api_key_state(&self, key_hash: &str) -> Result<Option<ApiKeyState>, StoreError> {
        let row = sqlx::query_as::<_, ApiKeyStateColumns>(
            "SELECT k.id, k.user_id, k.scopes, k.revoked_at_ms, k.last_used_at_ms, u.disabled, u.role \
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
        )
        .bind(key_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(ApiKeyState::try_from).transpose()
    }

    /// Records that key `id` was used `now`, unless that was recorded less than
    /// [`LAST_USED_RESOLUTION_MS`] ago.
    pub async fn touch_api_key(&self, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
        let stale_before =
            Timestamp::from_unix_ms(now.as_unix_ms().saturating_sub(LAST_USED_RESOLUTION_MS));
        sqlx::query(
            "UPDATE api_keys SET last_used_at_ms = ? \
             WHERE id = ? AND (last_used_at_ms IS NULL OR last_used_at_ms < ?)",
        )
        .bind(ms(now)?)
        .bind(id.to_string())
        .bind(ms(stale_before)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
