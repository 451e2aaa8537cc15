//! Building the application: state, routes, middleware, the OpenAPI document.

use std::sync::Arc;

use poem::middleware::{NormalizePath, TrailingSlash};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use pupero_core::{Caller, Clock, Role, Scope, Scopes, SystemClock, Timestamp, UserId};
use pupero_ledger::{LedgerOptions, SqlLedger};
use uuid::Uuid;

use crate::api;
use crate::config::{Settings, decode_data_key};
use crate::crypto::DataCipher;
use crate::error::{ApiError, codes};
use crate::ratelimit::RateLimits;
use crate::security::{PasswordHasherPool, TokenRejection, TokenSigner};
use crate::store::Store;

/// Everything a request handler may need, shared by all of them.
pub struct AppState {
    /// The validated settings.
    pub settings: Settings,
    /// Users, sessions, tokens.
    pub store: Store,
    /// The money.
    pub ledger: SqlLedger,
    /// Argon2id, off the async threads.
    pub hasher: PasswordHasherPool,
    /// Access tokens.
    pub tokens: TokenSigner,
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
    /// One worker pass at a time in this process (the lease keeps other processes out).
    pub worker_pass: tokio::sync::Mutex<()>,
    /// What this process knows of the worker lease: whether it holds it, whom it waits for.
    pub lease: crate::lease::LeaseState,
    /// The last readiness report, reused for a moment so that probes cost the wallet and
    /// the broker little.
    pub readiness: crate::api::health::ReadinessCache,
    /// Open event streams, per user and in total.
    pub stream_slots: Arc<crate::events::StreamSlots>,
    /// Open client connections, per address and in total.
    pub connection_slots: Arc<crate::http_server::ConnectionSlots>,
    /// Sends mails from the outbox and makes their links.
    pub mailer: crate::mail::Mailer,
    /// Wakes the mailer (a mail was queued).
    pub mail_wake: tokio::sync::Notify,
}

/// Who is calling, established by a security scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// The role the caller acts with: the user's role right now for a session, always
    /// [`Role::User`] for an API key (keys never carry staff powers).
    pub role: Role,
    /// How the caller proved it.
    pub credential: Credential,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a logged-in session: everything the user may do.
    Session(Uuid),
    /// An API key: only its scopes, and never account management or administration.
    ApiKey {
        /// The key's id.
        id: Uuid,
        /// What it may do.
        scopes: Scopes,
    },
}

impl Principal {
    /// The caller as the core's rules see it.
    pub fn caller(&self) -> Caller {
        match self.credential {
            Credential::Session(_) => Caller::session(self.user, self.role),
            Credential::ApiKey { scopes, .. } => Caller::api_key(self.user, scopes),
        }
    }

    /// Ok when the caller may act within `scope`: any session, or a key that has the scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        match self.credential {
            Credential::Session(_) => Ok(()),
            Credential::ApiKey { scopes, .. } if scopes.contains(scope) => Ok(()),
            Credential::ApiKey { .. } => Err(ApiError::forbidden(format!(
                "this API key lacks the {} scope",
                scope.as_str()
            ))),
        }
    }

    /// The session, for what only a logged-in person may do (logout, password, 2FA, API keys).
    pub fn require_session(&self) -> Result<Uuid, ApiError> {
        match self.credential {
            Credential::Session(session) => Ok(session),
            Credential::ApiKey { .. } => Err(ApiError::forbidden(
                "this needs a logged-in session, not an API key",
            )),
        }
    }

    /// Ok when a logged-in session's user has at least `role`.
    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        self.require_session()?;
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "needs the {} role",
                role.as_str()
            )))
        }
    }
}

impl AppState {
    /// Opens the database (ledger and server tables) and prepares the hashers and signers.
    pub async fn open(settings: Settings) -> anyhow::Result<Arc<AppState>> {
        AppState::open_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`AppState::open`], with an injected clock.
    pub async fn open_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<AppState>> {
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
                Some(crate::deposits::PlatformWallet::new(
                    Arc::new(rpc),
                    wallet.account,
                ))
            }
            None => None,
        };
        AppState::open_parts(settings, clock, wallet).await
    }

    /// As [`AppState::open_with_clock`], with `rpc` as the platform's wallet, holding users'
    /// money in `account`, instead of the `monero-wallet-rpc` the settings name (whose URL and
    /// login are then unused). The seam for simulations that bring their own [`WalletRpc`],
    /// such as `pupero_wallet::testing::SimWallet`; servers open through the settings.
    ///
    /// [`WalletRpc`]: pupero_core::wallet::WalletRpc
    pub async fn open_with_wallet(
        settings: Settings,
        clock: Arc<dyn Clock>,
        rpc: Arc<dyn pupero_core::wallet::WalletRpc>,
        account: u32,
    ) -> anyhow::Result<Arc<AppState>> {
        let wallet = crate::deposits::PlatformWallet::new(rpc, account);
        AppState::open_parts(settings, clock, Some(wallet)).await
    }

    async fn open_parts(
        settings: Settings,
        clock: Arc<dyn Clock>,
        wallet: Option<crate::deposits::PlatformWallet>,
    ) -> anyhow::Result<Arc<AppState>> {
        let ledger = SqlLedger::open(
            LedgerOptions::new(settings.database_url.clone()).with_clock(clock.clone()),
        )
        .await?;
        let store = Store::open(&settings.database_url).await?;
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
        let tokens = TokenSigner::new(
            settings.jwt_secret.expose().as_bytes(),
            settings.access_token_ttl_secs,
        );
        let limits = RateLimits::new(&settings.rate_limits, store.clone(), clock.clone());
        let data_key = decode_data_key(settings.data_key.expose())
            .ok_or_else(|| anyhow::anyhow!("PUPERO_DATA_KEY is not 32 bytes of hex or base64"))?;
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
            .map_err(|e| anyhow::anyhow!("PUPERO_SMTP_URL: {e}"))?;
        let stream_slots = crate::events::StreamSlots::new(settings.max_event_streams);
        let connection_slots = crate::http_server::ConnectionSlots::new(
            &settings.connections,
            &settings.trusted_proxies,
        );
        Ok(Arc::new(AppState {
            settings,
            store,
            ledger,
            hasher,
            tokens,
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
            readiness: crate::api::health::ReadinessCache::default(),
            stream_slots,
            connection_slots,
            mailer,
            mail_wake: tokio::sync::Notify::new(),
        }))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Re-checks the password of a logged-in user before a sensitive change (a step-up): 403
    /// `INVALID_CREDENTIALS` when it is wrong, since the session itself is fine.
    ///
    /// Wrong passwords count towards the same per-account lockout as logins
    /// ([`crate::ratelimit::ThrottleKey::account`]) and are audited: a stolen session must not
    /// become a way to guess the password without limit. While the account is locked, 429.
    pub async fn verify_password(&self, user: UserId, password: &str) -> Result<(), ApiError> {
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
                .map_err(|e| ApiError::internal(&e))?;
        if matched {
            self.limits.attempt_succeeded(&key).await?;
            Ok(())
        } else {
            self.audit(crate::audit::AuditEntry::of(
                crate::audit::AuditEvent::PasswordCheckFailed,
                Some(user),
            ))
            .await;
            Err(ApiError::forbidden_code(
                codes::INVALID_CREDENTIALS,
                "wrong password",
            ))
        }
    }

    /// Writes a security event. A failure is logged, never passed to the caller: an audit
    /// outage must not lock people out, and the log line keeps the event.
    pub async fn audit(&self, entry: crate::audit::AuditEntry) {
        if let Err(e) = self.store.audit(&entry, self.now()).await {
            tracing::error!(event = entry.event.as_str(), error = %crate::error::chain(&e), "audit write failed");
        }
    }

    /// The caller behind an access token, checked against its session and user on every call:
    /// a logout, a revoked session or a disabled account stop a token at once.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self
            .tokens
            .check(token)
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => {
                    ApiError::unauthorized(codes::TOKEN_EXPIRED, "access token expired")
                }
                TokenRejection::Invalid => {
                    ApiError::unauthorized(codes::UNAUTHORIZED, "invalid access token")
                }
            })?;
        let user = UserId::from_uuid(claims.sub);
        let state = self
            .store
            .session_state(claims.sid, user, self.now())
            .await?
            .ok_or_else(|| ApiError::unauthorized(codes::UNAUTHORIZED, "invalid access token"))?;
        if state.disabled {
            return Err(ApiError::forbidden_code(
                codes::ACCOUNT_DISABLED,
                "account disabled",
            ));
        }
        if state.ended {
            return Err(ApiError::unauthorized(
                codes::SESSION_REVOKED,
                "session ended; log in again",
            ));
        }
        Ok(Principal {
            user,
            role: state.role,
            credential: Credential::Session(claims.sid),
        })
    }

    /// The caller behind an API key, checked against the key and its user on every call: a
    /// revoked key or a disabled account stops at once. The principal carries only the key's
    /// scopes.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        client_ip: Option<String>,
    ) -> Result<Principal, ApiError> {
        let invalid = || ApiError::unauthorized(codes::UNAUTHORIZED, "invalid API key");
        if !crate::security::looks_like_api_key(key) {
            return Err(invalid());
        }
        let state = self
            .store
            .api_key_state(&crate::security::token_hash(key))
            .await?
            .ok_or_else(invalid)?;
        if state.revoked {
            return Err(ApiError::unauthorized(
                codes::UNAUTHORIZED,
                "API key revoked",
            ));
        }
        if state.disabled {
            return Err(ApiError::forbidden_code(
                codes::ACCOUNT_DISABLED,
                "account disabled",
            ));
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
        Ok(Principal {
            user: state.user,
            role: Caller::api_key(state.user, state.scopes).role(),
            credential: Credential::ApiKey {
                id: state.id,
                scopes: state.scopes,
            },
        })
    }
}

/// The OpenAPI service of every resource.
pub fn openapi(state: &Arc<AppState>) -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(state), "Pupero API", env!("CARGO_PKG_VERSION")).description(
        "Peer-to-peer Monero market with custodial escrow. Amounts are decimal XMR strings.",
    )
}

/// The OpenAPI document as YAML, as committed in `openapi/pupero.yaml`.
pub fn openapi_yaml(state: &Arc<AppState>) -> String {
    openapi(state).spec_yaml()
}

/// The whole HTTP application.
pub fn build(state: Arc<AppState>) -> impl Endpoint {
    let service = openapi(&state);
    let spec_json = service.spec_endpoint();
    let spec_yaml = service.spec_endpoint_yaml();
    let docs = service.swagger_ui();
    let body_limit = crate::middleware::BodyLimit {
        max_bytes: state.settings.max_body_bytes,
        timeout: std::time::Duration::from_secs(state.settings.connections.body_timeout_secs),
    };
    Route::new()
        .nest("/", service)
        .nest("/docs", docs)
        .at("/api/openapi.json", spec_json)
        .at("/api/openapi.yaml", spec_yaml)
        .with(body_limit)
        .with(NormalizePath::new(TrailingSlash::Trim))
        .data(state)
        .with(crate::middleware::RequestId)
        .with(crate::middleware::SecurityHeaders)
}
