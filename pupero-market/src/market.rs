//! The market: the state every service shares, opened from [`MarketSettings`].

use std::sync::Arc;

use pupero_core::{Caller, Clock, Offer, OfferId, Scopes, SystemClock, Timestamp, TradeId, UserId};
use pupero_ledger::{LedgerOptions, SqlLedger};
use uuid::Uuid;

use crate::crypto::DataCipher;
use crate::error::{Error, ErrorKind};
use crate::memo::Memo;
use crate::ratelimit::RateLimits;
use crate::security::PasswordHasherPool;
use crate::settings::{MarketSettings, decode_data_key};
use crate::store::Store;

/// The market: what every service and background job shares. Open it once per process
/// ([`Market::open`]); services are its methods, in the modules of this crate.
pub struct Market {
    /// The validated settings.
    pub settings: MarketSettings,
    /// Users, sessions, tokens.
    pub store: Store,
    /// The money.
    pub ledger: SqlLedger,
    /// Argon2id, off the async threads.
    pub hasher: PasswordHasherPool,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// API keys used since start, to audit each key's first use.
    pub api_keys_used: crate::audit::FirstUse,
    /// Rate limits and the login lockout.
    pub limits: RateLimits,
    /// Secrets at rest (2FA secrets), under the data key.
    pub data_cipher: DataCipher,
    /// Market prices: set by admins, or read from the configured HTTP source.
    pub prices: crate::oracle::MarketPrices,
    /// Wakes users' event streams after a commit.
    pub events: crate::events::EventBus,
    /// The platform's Monero wallet, when one is configured.
    pub wallet: Option<crate::deposits::PlatformWallet>,
    /// Where withdrawal messages go and where the wallet worker receives them: RabbitMQ when
    /// configured, else a channel inside this process.
    pub queue: Arc<dyn crate::queue::WorkQueue>,
    /// Wakes the outbox publisher (a withdrawal was requested).
    pub outbox_wake: tokio::sync::Notify,
    /// This process's name in worker leases.
    pub worker_id: Uuid,
    /// The market's offers in memory, for its pages.
    pub book: crate::book::MarketBook,
    /// One worker pass at a time in this process (the lease keeps other processes out).
    pub worker_pass: tokio::sync::Mutex<()>,
    /// What this process's wallet jobs last saw (deposit scans, reconciliation).
    pub wallet_health: crate::wallet_health::WalletHealth,
    /// What this process knows of the worker lease: whether it holds it, whom it waits for.
    pub lease: crate::lease::LeaseState,
    /// Sends mails from the outbox and makes their links.
    pub mailer: crate::mail::Mailer,
    /// Wakes the mailer (a mail was queued).
    pub mail_wake: tokio::sync::Notify,
    /// The Matrix bridge, when configured.
    pub matrix: Option<crate::matrix::Bridge>,
    /// Trades as this process last wrote them: a step starts from here (see
    /// [`Market::step_trade`] for why that stays exact).
    pub(crate) trades_written: Memo<TradeId, crate::store::TradeRow>,
    /// Offers as this process last read them, with their revisions: a trade opens on one of
    /// these, and its insert checks the revision (see [`Market::open_trade`]).
    pub(crate) offers_read: Memo<OfferId, (Offer, i64)>,
    /// What never changes of a user, as read once.
    pub(crate) people: Memo<UserId, UserFacts>,
}

/// Trades a process remembers as it last wrote them, at most: the open trades of a busy market.
const MAX_REMEMBERED_TRADES: usize = 4_096;

/// Offers a process remembers for opening trades on them, at most.
const MAX_REMEMBERED_OFFERS: usize = 4_096;

/// Users whose immutable facts a process remembers, at most (about 100 bytes each).
const MAX_REMEMBERED_USERS: usize = 16_384;

/// What never changes of a user: their username and when they joined.
#[derive(Debug, Clone)]
pub(crate) struct UserFacts {
    /// The username as chosen.
    pub(crate) username: Arc<str>,
    /// When the account was created.
    pub(crate) created_at: Timestamp,
}

/// An API key that checked out: whose it is and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHolder {
    /// The key's id.
    pub key: Uuid,
    /// The caller it makes: its user, acting as a plain user, within its scopes.
    pub caller: Caller,
    /// The key's scopes.
    pub scopes: Scopes,
}

/// Applies every migration (the ledger's and the market's) to the database at `url`, and does
/// nothing else: the separate migration step, after which servers may open it with
/// [`pupero_ledger::Migrations::Check`].
pub async fn migrate(url: &str) -> Result<(), OpenError> {
    pupero_ledger::migrate(url).await?;
    Store::open(url, pupero_ledger::Migrations::Apply)
        .await?
        .close()
        .await;
    Ok(())
}

/// Why [`backup`] made no copy.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is MariaDB, whose own tools copy a live server consistently.
    #[error(
        "MariaDB is backed up with its own tools: mariadb-dump --single-transaction, or mariadb-backup with binary logs for point-in-time recovery (docs/operations.md)"
    )]
    NotSqlite,
    /// Something already exists at the destination.
    #[error("{0} exists; a backup never overwrites")]
    Exists(String),
    /// The copy failed.
    #[error("the backup failed")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened.
    #[error("opening the database failed")]
    Open(#[from] pupero_ledger::Error),
}

/// Copies the SQLite database at `url` into the new file `to`, while it serves: one consistent
/// snapshot (SQLite's `VACUUM INTO`, a read transaction), never a copy of files a writer is
/// changing, whose write-ahead log may hold commits the database file does not.
pub async fn backup(url: &str, to: &std::path::Path) -> Result<(), BackupError> {
    let (engine, pool) = pupero_ledger::open_pool(url, 1).await?;
    if engine != pupero_ledger::Engine::Sqlite {
        pool.close().await;
        return Err(BackupError::NotSqlite);
    }
    let dest = to.to_string_lossy().into_owned();
    if to.exists() {
        pool.close().await;
        return Err(BackupError::Exists(dest));
    }
    let copied = sqlx::query("VACUUM INTO ?").bind(dest).execute(&pool).await;
    pool.close().await;
    copied?;
    Ok(())
}

impl Market {
    /// Opens the database (ledger and market tables, migrated) and prepares the password
    /// hashers, the wallet client, the queue and the mailer.
    pub async fn open(settings: MarketSettings) -> Result<Arc<Market>, OpenError> {
        Market::open_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Market::open`], with an injected clock.
    pub async fn open_with_clock(
        settings: MarketSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Market>, OpenError> {
        let wallet = match &settings.wallet {
            Some(wallet) => {
                let mut config = pupero_wallet::WalletRpcConfig::new(
                    wallet.rpc_url.clone(),
                    settings.monero_network.addresses(),
                );
                if let Some(login) = &wallet.rpc_login
                    && let Some((user, password)) = login.expose().split_once(':')
                {
                    config = config.with_login(user, password);
                }
                let rpc = pupero_wallet::HttpWalletRpc::with_config(config)?;
                let calls = rpc.stats();
                let mut platform =
                    crate::deposits::PlatformWallet::new(Arc::new(rpc), wallet.account);
                platform.calls = Some(calls);
                Some(platform)
            }
            None => None,
        };
        Market::open_parts(settings, clock, wallet).await
    }

    /// As [`Market::open_with_clock`], with `rpc` as the platform's wallet, holding users'
    /// money in `account`, instead of the `monero-wallet-rpc` the settings name (whose URL and
    /// login are then unused). The seam for simulations that bring their own [`WalletRpc`],
    /// such as `pupero_wallet::testing::SimWallet`; servers open through the settings.
    ///
    /// [`WalletRpc`]: pupero_core::wallet::WalletRpc
    pub async fn open_with_wallet(
        settings: MarketSettings,
        clock: Arc<dyn Clock>,
        rpc: Arc<dyn pupero_core::wallet::WalletRpc>,
        account: u32,
    ) -> Result<Arc<Market>, OpenError> {
        let wallet = crate::deposits::PlatformWallet::new(rpc, account);
        Market::open_parts(settings, clock, Some(wallet)).await
    }

    async fn open_parts(
        settings: MarketSettings,
        clock: Arc<dyn Clock>,
        wallet: Option<crate::deposits::PlatformWallet>,
    ) -> Result<Arc<Market>, OpenError> {
        let ledger = SqlLedger::open(
            LedgerOptions::new(settings.database_url.clone())
                .with_clock(clock.clone())
                .with_migrations(settings.migrations),
        )
        .await?;
        let store = Store::open(&settings.database_url, settings.migrations).await?;
        // Trade fees are credited here; created once, found by its fixed id ever after.
        for account in [
            pupero_core::ledger::NewAccount::platform_fees(),
            pupero_core::ledger::NewAccount::hot_wallet(),
            pupero_core::ledger::NewAccount::network_fees(),
        ] {
            ledger.create_account(account).await?;
        }
        let queue: Arc<dyn crate::queue::WorkQueue> = match &settings.rabbitmq {
            Some(rabbit) => Arc::new(crate::queue::RabbitQueue::new(rabbit.clone())),
            None => Arc::new(crate::queue::InProcessQueue::new()),
        };
        let hasher = PasswordHasherPool::new().await?;
        let limits = RateLimits::new(&settings.rate_limits, store.clone(), clock.clone());
        let data_key = decode_data_key(settings.data_key.expose()).ok_or_else(|| {
            OpenError::Settings("PUPERO_DATA_KEY is not 32 bytes of hex or base64".to_owned())
        })?;
        let data_cipher = DataCipher::new(&data_key);
        let http_prices = match &settings.price_url {
            Some(url) => Some(crate::oracle::HttpJsonOracle::new(
                crate::oracle::HttpSource {
                    url: url.clone(),
                    field: settings.price_field.clone().unwrap_or_default(),
                },
                clock.clone(),
            )?),
            None => None,
        };
        let prices = crate::oracle::MarketPrices::new(store.clone(), http_prices);
        let mailer = crate::mail::Mailer::new(&settings.mail)
            .map_err(|e| OpenError::Settings(format!("PUPERO_SMTP_URL: {e}")))?;
        let matrix = settings
            .matrix
            .clone()
            .map(crate::matrix::Bridge::new)
            .transpose()
            .map_err(|e| OpenError::Settings(format!("the Matrix bridge: {e}")))?;
        let settings_fees = settings.fees;
        let now = clock.now();
        Ok(Arc::new(Market {
            settings,
            store,
            ledger,
            hasher,
            clock,
            api_keys_used: crate::audit::FirstUse::default(),
            limits,
            data_cipher,
            prices,
            events: crate::events::EventBus::default(),
            wallet,
            queue,
            outbox_wake: tokio::sync::Notify::new(),
            worker_id: Uuid::now_v7(),
            worker_pass: tokio::sync::Mutex::new(()),
            lease: crate::lease::LeaseState::default(),
            mailer,
            mail_wake: tokio::sync::Notify::new(),
            book: crate::book::MarketBook::new(settings_fees),
            wallet_health: crate::wallet_health::WalletHealth::new(now),
            matrix,
            trades_written: Memo::new(MAX_REMEMBERED_TRADES),
            offers_read: Memo::new(MAX_REMEMBERED_OFFERS),
            people: Memo::new(MAX_REMEMBERED_USERS),
        }))
    }

    /// Wakes the Matrix bridge's sender, when there is one (a row was queued).
    pub(crate) fn wake_matrix(&self) {
        if let Some(bridge) = &self.matrix {
            bridge.wake.notify_one();
        }
    }

    /// The username and joining time of `user`, read once.
    pub(crate) async fn user_facts(&self, user: UserId) -> Result<UserFacts, Error> {
        if let Some(facts) = self.people.get(&user) {
            return Ok(facts);
        }
        let row = self
            .store
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))?;
        let facts = UserFacts {
            username: Arc::from(row.username),
            created_at: row.created_at,
        };
        self.people.put(user, facts.clone());
        Ok(facts)
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The trading fees a trade opened now charges.
    pub fn fees(&self) -> pupero_core::FeeSchedule {
        self.settings.fees
    }

    /// Re-checks the password of a logged-in user before a sensitive change (a step-up): 403
    /// `INVALID_CREDENTIALS` when it is wrong, since the session itself is fine.
    ///
    /// Wrong passwords count towards the same per-account lockout as logins
    /// ([`crate::ratelimit::ThrottleKey::account`]) and are audited: a stolen session must not
    /// become a way to guess the password without limit. While the account is locked, 429.
    pub async fn verify_password(&self, user: UserId, password: &str) -> Result<(), Error> {
        let key = crate::ratelimit::ThrottleKey::account(user);
        if let Err(locked) = self.limits.begin_attempt(&key).await {
            self.audit(
                crate::audit::AuditEntry::of(crate::audit::AuditEvent::RateLimited, Some(user))
                    .detail("password check: locked after failed attempts"),
            )
            .await;
            return Err(locked);
        }
        let stored = self.store.user_by_id(user).await?;
        let matched = password.len() <= pupero_core::user::PASSWORD_MAX_BYTES
            && self
                .hasher
                .verify(password, stored.as_ref().map(|u| u.password_hash.as_str()))
                .await
                .map_err(|e| Error::internal(&e))?;
        if matched {
            self.limits.attempt_succeeded(&key).await?;
            Ok(())
        } else {
            self.audit(crate::audit::AuditEntry::of(
                crate::audit::AuditEvent::PasswordCheckFailed,
                Some(user),
            ))
            .await;
            Err(Error::new(ErrorKind::WrongPassword, "wrong password"))
        }
    }

    /// Writes a security event. A failure is logged, never passed to the caller: an audit
    /// outage must not lock people out, and the log line keeps the event.
    pub async fn audit(&self, entry: crate::audit::AuditEntry) {
        if let Err(e) = self.store.audit(&entry, self.now()).await {
            tracing::error!(event = entry.event.as_str(), error = %crate::error::chain(&e), "audit write failed");
        }
    }

    /// The caller behind an API key, checked against the key and its user on every call: a
    /// revoked key or a disabled account stops at once. The principal carries only the key's
    /// scopes.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        client_ip: Option<String>,
    ) -> Result<KeyHolder, Error> {
        let invalid = || Error::new(ErrorKind::Unauthorized, "invalid API key");
        if !crate::security::looks_like_api_key(key) {
            return Err(invalid());
        }
        let state = self
            .store
            .api_key_state(&crate::security::token_hash(key))
            .await?
            .ok_or_else(invalid)?;
        if state.revoked {
            return Err(Error::new(ErrorKind::Unauthorized, "API key revoked"));
        }
        if state.disabled {
            return Err(Error::new(ErrorKind::AccountDisabled, "account disabled"));
        }
        let now = self.now();
        let recorded_recently = state
            .last_used_at
            .is_some_and(|t| t.plus_ms(crate::store::LAST_USED_RESOLUTION_MS) > now);
        if !recorded_recently {
            // Bookkeeping only: a failure here must not refuse a valid key.
            if let Err(e) = self.store.touch_api_key(state.id, now).await {
                tracing::warn!(error = %crate::error::chain(&e), "recording API key use failed");
            }
        }
        if self.api_keys_used.first(state.id) {
            self.audit(
                crate::audit::AuditEntry::of(
                    crate::audit::AuditEvent::ApiKeyUsed,
                    Some(state.user),
                )
                .from_ip(client_ip)
                .detail(format!("key {}", state.id)),
            )
            .await;
        }
        Ok(KeyHolder {
            key: state.id,
            caller: Caller::api_key(state.user, state.scopes),
            scopes: state.scopes,
        })
    }
}

/// Why the market could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The ledger's database could not be opened or migrated.
    #[error("ledger: {0}")]
    Ledger(#[from] pupero_ledger::Error),
    /// The market's tables could not be opened or migrated.
    #[error("market tables: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The wallet client could not be built.
    #[error("wallet client: {0}")]
    Wallet(#[from] pupero_core::wallet::WalletError),
    /// The price source's client could not be built.
    #[error("price source: {0}")]
    Prices(#[from] crate::oracle::OracleError),
    /// The password hashers could not start.
    #[error("password hashing: {0}")]
    Hasher(#[from] crate::security::HashError),
    /// A setting cannot be used.
    #[error("{0}")]
    Settings(String),
}
