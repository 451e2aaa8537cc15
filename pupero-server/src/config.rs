//! Typed settings: defaults, then a TOML file (`PUPERO_CONFIG`), then `PUPERO_*` environment
//! variables (a `.env` file in the working directory is read into the environment first).
//! Validated once at start-up; production mode refuses to start without real secrets.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use pupero_core::limits::{
    DEFAULT_DEPOSIT_CONFIRMATIONS, DEFAULT_SWEEP_BELOW, DEFAULT_SWEEP_MIN_OUTPUTS,
};
use pupero_core::sweep::SweepPolicy;
use pupero_core::{DepositPolicy, FeeSchedule, Piconero};
use pupero_market::ratelimit::RateLimitSettings;
pub use pupero_market::settings::*;

/// Values that are never accepted as secrets in production, whatever their length.
const KNOWN_DEFAULT_SECRETS: &[&str] = &["changeme", "change_this_password", "secret", "dev"];

/// Placeholder words at least this long are refused wherever they appear in a secret; shorter
/// ones only as words of their own.
const MIN_PLACEHOLDER_SUBSTRING: usize = 6;

/// Secrets shorter than this (in bytes) are refused: a JWT HMAC key should carry at least
/// 256 bits of entropy.
pub const MIN_SECRET_LEN: usize = 32;

/// How long an access token lives: short, because it cannot be recalled except by session
/// revocation, which every request checks anyway.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;

/// Largest request body accepted, in bytes. Pupero's requests are small JSON documents.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Event streams (SSE) open at once in the whole process by default: each holds a connection
/// and a task, and a wake-up costs one read per stream of the user.
pub const DEFAULT_MAX_EVENT_STREAMS: u32 = 2_048;

/// Seconds a client may take to send a request head by default: a head is one packet or a few,
/// so even a slow mobile or Tor link sends it in a second or two, while each slow sender holds a
/// connection and a task for the whole bound.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;

/// Seconds a client may take to send a whole request body by default: a body is at most
/// `max_body_bytes` (64 KiB by default) of JSON, which a 56 kbit/s link sends in ten seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 15;

/// Seconds a keep-alive connection may wait for its next request by default: longer than the
/// 60 s after which common reverse proxies and load balancers drop their idle upstream
/// connections, so that a proxy never sends a request on a connection the server is closing.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 75;

/// Seconds a response may wait for a client that does not read it by default: a reader on a
/// working link drains a socket buffer in far less; a stalled one only holds the connection.
pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 30;

/// Connections open at once from one client address by default: a browser opens at most six
/// to a host and a user at most four event streams, so this leaves room for a dozen people
/// behind one NAT while one address cannot take the server's connections for itself.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 64;

/// Connections open at once in all by default: room for every event stream
/// ([`DEFAULT_MAX_EVENT_STREAMS`]) and as many ordinary connections again. Each is a socket
/// (a file descriptor: keep `ulimit -n` above this) and a task.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4_096;

/// The longest connection timeout accepted, in seconds: longer bounds only let slow or idle
/// clients hold connections; they are not what keeps event streams open (nothing cuts a
/// response that is being read).
pub const MAX_CONNECTION_TIMEOUT_SECS: u64 = 60 * 60;

/// Everything Pupero's server needs to start: the market's settings and the HTTP server's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What this process serves (`PUPERO_ROLE`, or `serve --role`; default `all`).
    pub role: crate::roles::Role,
    /// The bearer token `/metrics` asks for (`PUPERO_METRICS_TOKEN`); without one, no metrics.
    pub metrics_token: Option<Secret>,
    /// What the market's services need.
    pub market: MarketSettings,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// HMAC key of access tokens.
    pub jwt_secret: Secret,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// How long clients may take and how many connections they may hold.
    pub connections: ConnectionSettings,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (none by default: the
    /// header is then ignored, since any client can send it).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Event streams open at once, all users together (`PUPERO_MAX_EVENT_STREAMS`); one more is
    /// refused with 429 `STREAM_LIMIT`.
    pub max_event_streams: u32,
}

/// Bounds on client connections, so that none stays open forever (see `crate::http_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Seconds a request head may take, from the connection's opening or from the first byte
    /// of a later request (`PUPERO_HEADER_TIMEOUT_SECS`, default 10); then the connection is
    /// closed.
    pub header_timeout_secs: u64,
    /// Seconds a request body may take, all of it (`PUPERO_BODY_TIMEOUT_SECS`, default 15);
    /// then the answer is 408 `REQUEST_TIMEOUT` and the connection is closed.
    pub body_timeout_secs: u64,
    /// Seconds a keep-alive connection may wait for its next request (`PUPERO_IDLE_TIMEOUT_SECS`,
    /// default 75). Never counts while a response, such as an event stream, is being sent.
    pub idle_timeout_secs: u64,
    /// Seconds a response may wait for a client that does not read it
    /// (`PUPERO_WRITE_TIMEOUT_SECS`, default 30); then the connection is dropped.
    pub write_timeout_secs: u64,
    /// Connections open at once from one client address, an IPv6 client's being its /64
    /// (`PUPERO_MAX_CONNECTIONS_PER_ADDRESS`, default 64); one more is closed at once. Trusted
    /// proxies (`PUPERO_TRUSTED_PROXIES`) are exempt, since every client arrives through them.
    pub max_per_address: u32,
    /// Connections open at once in all (`PUPERO_MAX_CONNECTIONS`, default 4096); one more is
    /// closed at once.
    pub max_total: u32,
}

impl Default for ConnectionSettings {
    fn default() -> ConnectionSettings {
        ConnectionSettings {
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            write_timeout_secs: DEFAULT_WRITE_TIMEOUT_SECS,
            max_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_total: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Why the settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A value is wrong.
    #[error("invalid setting {name}: {message}")]
    Invalid {
        /// The setting, as its environment variable.
        name: &'static str,
        /// Why.
        message: String,
    },
}

/// The shape of the TOML file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    mode: Option<Mode>,
    listen: Option<String>,
    database_url: Option<String>,
    jwt_secret: Option<Secret>,
    data_key: Option<Secret>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    write_timeout_secs: Option<u64>,
    max_connections_per_address: Option<u64>,
    max_connections: Option<u64>,
    price_url: Option<String>,
    price_field: Option<String>,
    price_max_age_secs: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    maker_fee_bps: Option<u64>,
    taker_fee_bps: Option<u64>,
    monero_network: Option<String>,
    wallet_rpc_url: Option<String>,
    wallet_rpc_login: Option<Secret>,
    wallet_account: Option<u64>,
    deposit_scan_secs: Option<u64>,
    deposit_watch_ms: Option<u64>,
    deposit_confirmations: Option<u64>,
    max_event_streams: Option<u64>,
    rabbitmq_url: Option<Secret>,
    rabbitmq_queue: Option<String>,
    wallet_worker: Option<String>,
    worker_lease_secs: Option<u64>,
    sweep_interval_secs: Option<u64>,
    sweep_below: Option<String>,
    sweep_min_outputs: Option<u64>,
    smtp_url: Option<Secret>,
    mail_from: Option<String>,
    public_url: Option<String>,
}

impl Settings {
    /// Loads settings from `.env`, the file named by `PUPERO_CONFIG` and the environment.
    pub fn load() -> Result<Settings, ConfigError> {
        // A missing .env is normal; a malformed one is reported by the values it fails to set.
        let _ = dotenvy::dotenv();
        Settings::from_sources(std::env::var("PUPERO_CONFIG").ok().as_deref(), |name| {
            std::env::var(name).ok()
        })
    }

    /// As [`Settings::load`], with `overrides` taking the place of the variables they name
    /// (a command line's flags).
    pub fn load_with(overrides: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let _ = dotenvy::dotenv();
        Settings::from_sources(std::env::var("PUPERO_CONFIG").ok().as_deref(), |name| {
            overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| std::env::var(name).ok())
        })
    }

    /// Builds settings from an optional TOML file and a variable lookup (the environment, or a
    /// map in tests).
    pub fn from_sources(
        file: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(Path::new(path)).map_err(|source| {
                    ConfigError::Read {
                        path: path.to_owned(),
                        source,
                    }
                })?;
                toml::from_str::<FileSettings>(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => FileSettings::default(),
        };

        let mode = match var("PUPERO_MODE") {
            Some(v) => match v.as_str() {
                "dev" => Mode::Dev,
                "production" => Mode::Production,
                other => {
                    return Err(invalid(
                        "PUPERO_MODE",
                        format!("expected dev or production, got {other:?}"),
                    ));
                }
            },
            None => from_file.mode.unwrap_or(Mode::Dev),
        };
        let role = match var("PUPERO_ROLE") {
            None => crate::roles::Role::All,
            Some(name) => crate::roles::Role::parse(&name).ok_or_else(|| {
                invalid(
                    "PUPERO_ROLE",
                    format!("expected all, auth, offers, ledger or wallet, got {name:?}"),
                )
            })?,
        };
        let listen_text = var("PUPERO_LISTEN")
            .or(from_file.listen)
            .unwrap_or_else(|| format!("127.0.0.1:{}", role.default_port()));
        let listen = listen_text
            .parse()
            .map_err(|_| invalid("PUPERO_LISTEN", format!("not an address: {listen_text:?}")))?;
        let database_url = var("PUPERO_DATABASE_URL")
            .or(from_file.database_url)
            .map_or_else(
                || default_database_url(&var),
                |url| absolute_sqlite_url(&url),
            )
            .map_err(|e| invalid("PUPERO_DATABASE_URL", e))?;
        pupero_ledger::Engine::from_url(&database_url).map_err(|_| {
            invalid(
                "PUPERO_DATABASE_URL",
                "expected sqlite:, mysql: or mariadb:".to_owned(),
            )
        })?;

        let jwt_secret = match var("PUPERO_JWT_SECRET")
            .map(Secret::new)
            .or(from_file.jwt_secret)
        {
            Some(secret) => secret,
            None if mode == Mode::Dev => Secret::new(random_secret()),
            None => {
                return Err(invalid(
                    "PUPERO_JWT_SECRET",
                    "required in production mode".to_owned(),
                ));
            }
        };
        if mode == Mode::Production {
            check_secret("PUPERO_JWT_SECRET", &jwt_secret)?;
        }

        let data_key = match var("PUPERO_DATA_KEY")
            .map(Secret::new)
            .or(from_file.data_key)
        {
            Some(key) => key,
            None if mode == Mode::Dev => Secret::new(random_data_key()),
            None => {
                return Err(invalid(
                    "PUPERO_DATA_KEY",
                    "required in production mode".to_owned(),
                ));
            }
        };
        let key_bytes = decode_data_key(data_key.expose()).ok_or_else(|| {
            invalid(
                "PUPERO_DATA_KEY",
                format!("must be {DATA_KEY_LEN} bytes as 64 hex characters or base64"),
            )
        })?;
        if mode == Mode::Production {
            if key_bytes.iter().all(|b| *b == key_bytes[0]) {
                return Err(invalid(
                    "PUPERO_DATA_KEY",
                    "looks like a default or placeholder value".to_owned(),
                ));
            }
            // One key, one purpose: a leaked token key must not also open the stored secrets.
            if data_key.expose() == jwt_secret.expose() {
                return Err(invalid(
                    "PUPERO_DATA_KEY",
                    "must differ from PUPERO_JWT_SECRET".to_owned(),
                ));
            }
        }

        let number = |name: &'static str,
                      file_value: Option<u64>,
                      default: u64|
         -> Result<u64, ConfigError> {
            match var(name) {
                Some(v) => v
                    .parse()
                    .map_err(|_| invalid(name, format!("not a number: {v:?}"))),
                None => Ok(file_value.unwrap_or(default)),
            }
        };
        let access_token_ttl_secs = number(
            "PUPERO_ACCESS_TOKEN_TTL_SECS",
            from_file.access_token_ttl_secs,
            DEFAULT_ACCESS_TOKEN_TTL_SECS,
        )?;
        let refresh_token_ttl_secs = number(
            "PUPERO_REFRESH_TOKEN_TTL_SECS",
            from_file.refresh_token_ttl_secs,
            DEFAULT_REFRESH_TOKEN_TTL_SECS,
        )?;
        let max_body_bytes = number(
            "PUPERO_MAX_BODY_BYTES",
            from_file.max_body_bytes.and_then(|v| u64::try_from(v).ok()),
            u64::try_from(DEFAULT_MAX_BODY_BYTES).unwrap_or(u64::MAX),
        )?;
        if access_token_ttl_secs == 0 || access_token_ttl_secs > 24 * 60 * 60 {
            return Err(invalid(
                "PUPERO_ACCESS_TOKEN_TTL_SECS",
                "must be between 1 s and 1 day".to_owned(),
            ));
        }
        if refresh_token_ttl_secs < access_token_ttl_secs {
            return Err(invalid(
                "PUPERO_REFRESH_TOKEN_TTL_SECS",
                "must not be shorter than the access token's".to_owned(),
            ));
        }
        let timeout = |name: &'static str, file: Option<u64>, default: u64| {
            let secs = number(name, file, default)?;
            if secs == 0 || secs > MAX_CONNECTION_TIMEOUT_SECS {
                return Err(invalid(
                    name,
                    format!("must be between 1 and {MAX_CONNECTION_TIMEOUT_SECS} seconds"),
                ));
            }
            Ok(secs)
        };
        let connection_count = |name: &'static str, file: Option<u64>, default: u32| {
            u32::try_from(number(name, file, u64::from(default))?)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(name, "must be between 1 and 4294967295".to_owned()))
        };
        let connections = ConnectionSettings {
            header_timeout_secs: timeout(
                "PUPERO_HEADER_TIMEOUT_SECS",
                from_file.header_timeout_secs,
                DEFAULT_HEADER_TIMEOUT_SECS,
            )?,
            body_timeout_secs: timeout(
                "PUPERO_BODY_TIMEOUT_SECS",
                from_file.body_timeout_secs,
                DEFAULT_BODY_TIMEOUT_SECS,
            )?,
            idle_timeout_secs: timeout(
                "PUPERO_IDLE_TIMEOUT_SECS",
                from_file.idle_timeout_secs,
                DEFAULT_IDLE_TIMEOUT_SECS,
            )?,
            write_timeout_secs: timeout(
                "PUPERO_WRITE_TIMEOUT_SECS",
                from_file.write_timeout_secs,
                DEFAULT_WRITE_TIMEOUT_SECS,
            )?,
            max_per_address: connection_count(
                "PUPERO_MAX_CONNECTIONS_PER_ADDRESS",
                from_file.max_connections_per_address,
                DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            )?,
            max_total: connection_count(
                "PUPERO_MAX_CONNECTIONS",
                from_file.max_connections,
                DEFAULT_MAX_CONNECTIONS,
            )?,
        };
        let price_max_age_secs = number(
            "PUPERO_PRICE_MAX_AGE_SECS",
            from_file.price_max_age_secs,
            pupero_core::limits::DEFAULT_QUOTE_MAX_AGE_SECS,
        )?;
        let price_url = var("PUPERO_PRICE_URL")
            .or(from_file.price_url)
            .filter(|url| !url.is_empty());
        if let Some(url) = &price_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "PUPERO_PRICE_URL",
                "expected an http:// or https:// URL".to_owned(),
            ));
        }
        let price_field = var("PUPERO_PRICE_FIELD").or(from_file.price_field);
        let proxies: Vec<String> = match var("PUPERO_TRUSTED_PROXIES") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            None => from_file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    invalid(
                        "PUPERO_TRUSTED_PROXIES",
                        format!("not an IP address: {p:?}"),
                    )
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, ConfigError>>()?;
        let fee = |name: &'static str, file: Option<u64>, default: u16| {
            let bps = number(name, file, u64::from(default))?;
            u16::try_from(bps).map_err(|_| invalid(name, "too large".to_owned()))
        };
        let fees = FeeSchedule::new(
            fee(
                "PUPERO_MAKER_FEE_BPS",
                from_file.maker_fee_bps,
                DEFAULT_MAKER_FEE_BPS,
            )?,
            fee(
                "PUPERO_TAKER_FEE_BPS",
                from_file.taker_fee_bps,
                DEFAULT_TAKER_FEE_BPS,
            )?,
        )
        .map_err(|e| invalid("PUPERO_MAKER_FEE_BPS", e.to_string()))?;
        let network_name = var("PUPERO_MONERO_NETWORK")
            .or(from_file.monero_network)
            .unwrap_or_else(|| MoneroNetwork::Testnet.as_str().to_owned());
        let monero_network = MoneroNetwork::parse(&network_name).ok_or_else(|| {
            invalid(
                "PUPERO_MONERO_NETWORK",
                format!("expected mainnet, testnet, stagenet or regtest, got {network_name:?}"),
            )
        })?;
        let wallet = match var("PUPERO_WALLET_RPC_URL")
            .or(from_file.wallet_rpc_url)
            .filter(|url| !url.is_empty())
        {
            None => None,
            Some(rpc_url) => {
                if !(rpc_url.starts_with("http://") || rpc_url.starts_with("https://")) {
                    return Err(invalid(
                        "PUPERO_WALLET_RPC_URL",
                        "expected an http:// or https:// URL".to_owned(),
                    ));
                }
                let rpc_login = var("PUPERO_WALLET_RPC_LOGIN")
                    .map(Secret::new)
                    .or(from_file.wallet_rpc_login)
                    .filter(|login| !login.expose().is_empty());
                if let Some(login) = &rpc_login
                    && !login.expose().contains(':')
                {
                    return Err(invalid(
                        "PUPERO_WALLET_RPC_LOGIN",
                        "expected user:password".to_owned(),
                    ));
                }
                let account = number("PUPERO_WALLET_ACCOUNT", from_file.wallet_account, 0)?;
                let scan_interval_secs = number(
                    "PUPERO_DEPOSIT_SCAN_SECS",
                    from_file.deposit_scan_secs,
                    DEFAULT_DEPOSIT_SCAN_SECS,
                )?;
                if scan_interval_secs == 0 {
                    return Err(invalid(
                        "PUPERO_DEPOSIT_SCAN_SECS",
                        "must be at least 1".to_owned(),
                    ));
                }
                let watch_interval_ms = number(
                    "PUPERO_DEPOSIT_WATCH_MS",
                    from_file.deposit_watch_ms,
                    DEFAULT_DEPOSIT_WATCH_MS,
                )?;
                if watch_interval_ms != 0 && watch_interval_ms < MIN_DEPOSIT_WATCH_MS {
                    return Err(invalid(
                        "PUPERO_DEPOSIT_WATCH_MS",
                        format!("must be 0 (off) or at least {MIN_DEPOSIT_WATCH_MS}"),
                    ));
                }
                Some(WalletSettings {
                    rpc_url,
                    rpc_login,
                    account: u32::try_from(account)
                        .map_err(|_| invalid("PUPERO_WALLET_ACCOUNT", "too large".to_owned()))?,
                    scan_interval_secs,
                    watch_interval_ms,
                })
            }
        };
        let deposits = DepositPolicy::new(number(
            "PUPERO_DEPOSIT_CONFIRMATIONS",
            from_file.deposit_confirmations,
            DEFAULT_DEPOSIT_CONFIRMATIONS,
        )?)
        .map_err(|e| invalid("PUPERO_DEPOSIT_CONFIRMATIONS", e.to_string()))?;
        let sweep_interval_secs = number(
            "PUPERO_SWEEP_INTERVAL_SECS",
            from_file.sweep_interval_secs,
            DEFAULT_SWEEP_INTERVAL_SECS,
        )?;
        if sweep_interval_secs != 0 && sweep_interval_secs < MIN_SWEEP_INTERVAL_SECS {
            return Err(invalid(
                "PUPERO_SWEEP_INTERVAL_SECS",
                format!("must be 0 (off) or at least {MIN_SWEEP_INTERVAL_SECS}"),
            ));
        }
        let sweep_below = match var("PUPERO_SWEEP_BELOW").or(from_file.sweep_below) {
            Some(text) => Piconero::from_xmr_str(text.trim())
                .map_err(|e| invalid("PUPERO_SWEEP_BELOW", format!("{e}: {text:?}")))?,
            None => DEFAULT_SWEEP_BELOW,
        };
        let sweep_min_outputs = number(
            "PUPERO_SWEEP_MIN_OUTPUTS",
            from_file.sweep_min_outputs,
            u64::from(DEFAULT_SWEEP_MIN_OUTPUTS),
        )?;
        let sweep_min_outputs = u32::try_from(sweep_min_outputs)
            .map_err(|_| invalid("PUPERO_SWEEP_MIN_OUTPUTS", "too large".to_owned()))?;
        let sweep_policy = SweepPolicy::new(sweep_below, sweep_min_outputs).map_err(|e| {
            let name = match e {
                pupero_core::sweep::SweepPolicyError::ZeroThreshold => "PUPERO_SWEEP_BELOW",
                pupero_core::sweep::SweepPolicyError::MinOutputs => "PUPERO_SWEEP_MIN_OUTPUTS",
            };
            invalid(name, e.to_string())
        })?;
        let max_event_streams = number(
            "PUPERO_MAX_EVENT_STREAMS",
            from_file.max_event_streams,
            u64::from(DEFAULT_MAX_EVENT_STREAMS),
        )?;
        let max_event_streams = u32::try_from(max_event_streams)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                invalid(
                    "PUPERO_MAX_EVENT_STREAMS",
                    "must be between 1 and 4294967295".to_owned(),
                )
            })?;
        let rabbitmq = match var("PUPERO_RABBITMQ_URL")
            .map(Secret::new)
            .or(from_file.rabbitmq_url)
            .filter(|url| !url.expose().is_empty())
        {
            None => None,
            Some(url) => {
                if !(url.expose().starts_with("amqp://") || url.expose().starts_with("amqps://")) {
                    return Err(invalid(
                        "PUPERO_RABBITMQ_URL",
                        "expected an amqp:// or amqps:// URL".to_owned(),
                    ));
                }
                let queue = var("PUPERO_RABBITMQ_QUEUE")
                    .or(from_file.rabbitmq_queue)
                    .unwrap_or_else(|| DEFAULT_RABBITMQ_QUEUE.to_owned());
                if queue.is_empty()
                    || queue.len() > 200
                    || !queue
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
                {
                    return Err(invalid(
                        "PUPERO_RABBITMQ_QUEUE",
                        "expected 1 to 200 letters, digits or . _ - :".to_owned(),
                    ));
                }
                let kind = match var("PUPERO_RABBITMQ_QUEUE_TYPE").as_deref() {
                    None | Some("classic") => QueueKind::Classic,
                    Some("quorum") => QueueKind::Quorum,
                    Some(other) => {
                        return Err(invalid(
                            "PUPERO_RABBITMQ_QUEUE_TYPE",
                            format!("expected classic or quorum, got {other:?}"),
                        ));
                    }
                };
                Some(RabbitSettings { url, queue, kind })
            }
        };
        let wallet_worker = match var("PUPERO_WALLET_WORKER")
            .or(from_file.wallet_worker)
            .as_deref()
        {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(invalid(
                    "PUPERO_WALLET_WORKER",
                    format!("expected on or off, got {other:?}"),
                ));
            }
        };
        let migrations = match var("PUPERO_MIGRATE").as_deref() {
            None | Some("apply") => pupero_ledger::Migrations::Apply,
            Some("check") => pupero_ledger::Migrations::Check,
            Some(other) => {
                return Err(invalid(
                    "PUPERO_MIGRATE",
                    format!("expected apply or check, got {other:?}"),
                ));
            }
        };
        let worker_lease_secs = number(
            "PUPERO_WORKER_LEASE_SECS",
            from_file.worker_lease_secs,
            DEFAULT_WORKER_LEASE_SECS,
        )?;
        if worker_lease_secs < MIN_WORKER_LEASE_SECS {
            return Err(invalid(
                "PUPERO_WORKER_LEASE_SECS",
                format!("must be at least {MIN_WORKER_LEASE_SECS}"),
            ));
        }
        let failpoint = var("PUPERO_FAILPOINT").filter(|f| !f.is_empty());
        if let Some(point) = &failpoint {
            if mode == Mode::Production {
                return Err(invalid(
                    "PUPERO_FAILPOINT",
                    "failpoints exist for crash tests and are refused in production".to_owned(),
                ));
            }
            if !FAILPOINTS.contains(&point.as_str()) {
                return Err(invalid(
                    "PUPERO_FAILPOINT",
                    format!("expected one of {}", FAILPOINTS.join(", ")),
                ));
            }
        }
        let mail = mail_settings(
            mode,
            listen,
            &var,
            from_file.smtp_url,
            from_file.mail_from,
            from_file.public_url,
        )?;
        Ok(Settings {
            market: MarketSettings {
                mode,
                database_url,
                migrations,
                data_key,
                refresh_token_ttl_secs,
                rate_limits: RateLimitSettings::default(),
                price_url,
                price_field,
                price_max_age_secs,
                fees,
                monero_network,
                // The auth, offers and ledger roles serve nothing of the wallet's: without it,
                // their readiness does not hang on a wallet they never call.
                wallet: wallet.filter(|_| role.runs_wallet_jobs()),
                deposits,
                sweep: SweepSettings {
                    interval_secs: sweep_interval_secs,
                    policy: sweep_policy,
                },
                rabbitmq,
                // Only the wallet role (or `all`) talks to the wallet.
                wallet_worker: wallet_worker && role.runs_wallet_jobs(),
                worker_lease_secs,
                failpoint,
                mail,
                matrix: matrix_settings(mode, &var)?,
            },
            listen,
            jwt_secret,
            access_token_ttl_secs,
            max_body_bytes: usize::try_from(max_body_bytes)
                .map_err(|_| invalid("PUPERO_MAX_BODY_BYTES", "too large".to_owned()))?,
            connections,
            trusted_proxies,
            max_event_streams,
            role,
            metrics_token: var("PUPERO_METRICS_TOKEN")
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        })
    }

    /// Settings for tests: dev mode, the given database, a random JWT secret and data key,
    /// listening on a free port of 127.0.0.1.
    pub fn for_database(database_url: impl Into<String>) -> Settings {
        Settings {
            market: MarketSettings::for_database(database_url),
            role: crate::roles::Role::All,
            metrics_token: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            jwt_secret: Secret::new(random_secret()),
            access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connections: ConnectionSettings::default(),
            trusted_proxies: Vec::new(),
            max_event_streams: DEFAULT_MAX_EVENT_STREAMS,
        }
    }
}

/// The Matrix bridge's settings: all of `PUPERO_MATRIX_HOMESERVER_URL`, `_SERVER_NAME`,
/// `_AS_TOKEN` and `_HS_TOKEN`, or none (the bridge is off). Both tokens are secrets: in
/// production they are held to the rules of every secret.
fn matrix_settings(
    mode: Mode,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<MatrixSettings>, ConfigError> {
    const NAMES: [&str; 4] = [
        "PUPERO_MATRIX_HOMESERVER_URL",
        "PUPERO_MATRIX_SERVER_NAME",
        "PUPERO_MATRIX_AS_TOKEN",
        "PUPERO_MATRIX_HS_TOKEN",
    ];
    let values = NAMES.map(|name| var(name).filter(|v| !v.is_empty()));
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [Some(url), Some(server_name), Some(as_token), Some(hs_token)] = values else {
        let missing = NAMES
            .iter()
            .zip(&values)
            .find(|(_, v)| v.is_none())
            .map_or(NAMES[0], |(name, _)| *name);
        return Err(invalid(
            missing,
            "the Matrix bridge needs its homeserver URL, server name and both tokens".to_owned(),
        ));
    };
    let url = url.trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(
            "PUPERO_MATRIX_HOMESERVER_URL",
            "expected an http:// or https:// URL".to_owned(),
        ));
    }
    let (as_token, hs_token) = (Secret::new(as_token), Secret::new(hs_token));
    if mode == Mode::Production {
        check_secret("PUPERO_MATRIX_AS_TOKEN", &as_token)?;
        check_secret("PUPERO_MATRIX_HS_TOKEN", &hs_token)?;
    }
    if as_token.expose() == hs_token.expose() {
        return Err(invalid(
            "PUPERO_MATRIX_HS_TOKEN",
            "must differ from PUPERO_MATRIX_AS_TOKEN".to_owned(),
        ));
    }
    let localpart = |name: &'static str, default: &str| {
        let value = var(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned());
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-".contains(&b))
        {
            return Err(invalid(
                name,
                "lowercase letters, digits and ._=- only".to_owned(),
            ));
        }
        Ok(value)
    };
    Ok(Some(MatrixSettings {
        homeserver_url: url,
        server_name,
        as_token,
        hs_token,
        sender_localpart: localpart(
            "PUPERO_MATRIX_SENDER",
            pupero_market::settings::DEFAULT_MATRIX_SENDER,
        )?,
        user_prefix: localpart(
            "PUPERO_MATRIX_USER_PREFIX",
            pupero_market::settings::DEFAULT_MATRIX_USER_PREFIX,
        )?,
        room_prefix: localpart(
            "PUPERO_MATRIX_ROOM_PREFIX",
            pupero_market::settings::DEFAULT_MATRIX_ROOM_PREFIX,
        )?,
    }))
}

/// The mail settings. In production mode the relay, the sender and the public URL must be
/// configured: mails carry password-reset links, which must neither go to a log (whoever reads
/// it could take over accounts) nor nowhere (people who forgot their password would be locked
/// out of the money they keep here), and links to the listening address reach nobody behind a
/// proxy.
fn mail_settings(
    mode: Mode,
    listen: SocketAddr,
    var: &impl Fn(&str) -> Option<String>,
    file_smtp_url: Option<Secret>,
    file_from: Option<String>,
    file_public_url: Option<String>,
) -> Result<MailSettings, ConfigError> {
    let required = |name: &'static str| {
        invalid(
            name,
            "required in production mode (mails carry password-reset links)".to_owned(),
        )
    };
    let smtp_url = var("PUPERO_SMTP_URL")
        .map(Secret::new)
        .or(file_smtp_url)
        .filter(|url| !url.expose().is_empty());
    match &smtp_url {
        Some(url) => pupero_market::mail::check_smtp_url(url.expose())
            .map_err(|message| invalid("PUPERO_SMTP_URL", message))?,
        None if mode == Mode::Production => return Err(required("PUPERO_SMTP_URL")),
        None => {}
    }
    let from = match var("PUPERO_MAIL_FROM")
        .or(file_from)
        .filter(|from| !from.is_empty())
    {
        Some(text) => text.parse().map_err(|e| {
            invalid(
                "PUPERO_MAIL_FROM",
                format!("expected an address such as `Pupero <noreply@example.org>`: {e}"),
            )
        })?,
        None if mode == Mode::Production => return Err(required("PUPERO_MAIL_FROM")),
        None => MailSettings::logged("").from,
    };
    let public_url = match var("PUPERO_PUBLIC_URL")
        .or(file_public_url)
        .filter(|url| !url.is_empty())
    {
        Some(url) => {
            let url = url.trim_end_matches('/').to_owned();
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .unwrap_or("");
            if host.is_empty() || host.contains(['?', '#', ' ']) || url.len() > MAX_PUBLIC_URL_LEN {
                return Err(invalid(
                    "PUPERO_PUBLIC_URL",
                    format!(
                        "expected an http:// or https:// URL without query or fragment, \
                         at most {MAX_PUBLIC_URL_LEN} characters"
                    ),
                ));
            }
            url
        }
        None if mode == Mode::Production => return Err(required("PUPERO_PUBLIC_URL")),
        None => format!("http://{listen}"),
    };
    Ok(MailSettings {
        smtp_url,
        from,
        public_url,
    })
}

fn invalid(name: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { name, message }
}

fn check_secret(name: &'static str, secret: &Secret) -> Result<(), ConfigError> {
    let value = secret.expose();
    if value.len() < MIN_SECRET_LEN {
        return Err(invalid(
            name,
            format!("must be at least {MIN_SECRET_LEN} bytes in production mode"),
        ));
    }
    let lowered = value.to_ascii_lowercase();
    // A long placeholder word anywhere; a short one only as a word of its own: three letters
    // turn up by chance in one random secret out of a few hundred, which must not be refused.
    let placeholder = KNOWN_DEFAULT_SECRETS.iter().any(|d| {
        if d.len() >= MIN_PLACEHOLDER_SUBSTRING {
            lowered.contains(d)
        } else {
            lowered
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word == *d)
        }
    });
    if placeholder || value.bytes().all(|b| b == value.as_bytes()[0]) {
        return Err(invalid(
            name,
            "looks like a default or placeholder value".to_owned(),
        ));
    }
    Ok(())
}

/// The embedded database when none is configured: `pupero.db` in `PUPERO_DATA_DIR`, else in
/// `$XDG_DATA_HOME/pupero`, else `~/.local/share/pupero` — an absolute place, so that `serve`,
/// `worker` and the admin commands meet the same database whatever directory they run in.
fn default_database_url(var: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let dir = match var("PUPERO_DATA_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => match (var("XDG_DATA_HOME"), var("HOME")) {
            (Some(data), _) if !data.is_empty() => std::path::Path::new(&data).join("pupero"),
            (_, Some(home)) => std::path::Path::new(&home).join(".local/share/pupero"),
            _ => return Err("set PUPERO_DATABASE_URL or PUPERO_DATA_DIR (no HOME)".to_owned()),
        },
    };
    absolute_sqlite_url(&format!("sqlite://{}", dir.join("pupero.db").display()))
}

/// A SQLite URL with a relative path made absolute against the working directory now, so
/// that what is logged and used is one file whatever directory a later command runs in. Other
/// URLs are returned as they are.
fn absolute_sqlite_url(url: &str) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Ok(url.to_owned());
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || std::path::Path::new(path).is_absolute() {
        return Ok(url.to_owned());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
    let absolute = cwd.join(path);
    Ok(match query {
        Some(query) => format!("sqlite://{}?{query}", absolute.display()),
        None => format!("sqlite://{}", absolute.display()),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// What production mode needs for mail.
    const MAIL: [(&str, &str); 3] = [
        (
            "PUPERO_SMTP_URL",
            "smtps://pupero:relay-password@mail.example.org",
        ),
        ("PUPERO_MAIL_FROM", "Pupero <noreply@pupero.example>"),
        ("PUPERO_PUBLIC_URL", "https://pupero.example/"),
    ];

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        // A home directory, as every login has: the default database lives under it.
        Settings::from_sources(None, |name| {
            map.get(name)
                .cloned()
                .or_else(|| (name == "HOME").then(|| "/home/pupero".to_owned()))
        })
    }

    #[test]
    fn the_database_is_always_an_absolute_place() {
        assert_eq!(
            load(&[]).unwrap().market.database_url,
            "sqlite:///home/pupero/.local/share/pupero/pupero.db"
        );
        assert_eq!(
            load(&[("XDG_DATA_HOME", "/srv/data")])
                .unwrap()
                .market
                .database_url,
            "sqlite:///srv/data/pupero/pupero.db"
        );
        assert_eq!(
            load(&[("PUPERO_DATA_DIR", "/var/lib/pupero")])
                .unwrap()
                .market
                .database_url,
            "sqlite:///var/lib/pupero/pupero.db"
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            load(&[("PUPERO_DATABASE_URL", "sqlite://data/p.db?mode=rwc")])
                .unwrap()
                .market
                .database_url,
            format!("sqlite://{}?mode=rwc", cwd.join("data/p.db").display())
        );
        for kept in ["sqlite:///abs/p.db", "mysql://u:p@127.0.0.1/pupero"] {
            assert_eq!(
                load(&[("PUPERO_DATABASE_URL", kept)])
                    .unwrap()
                    .market
                    .database_url,
                kept
            );
        }
    }

    #[test]
    fn the_queue_worker_and_failpoints_are_checked() {
        let s = load(&[]).unwrap();
        assert!(
            s.market.rabbitmq.is_none() && s.market.wallet_worker && s.market.failpoint.is_none()
        );
        assert_eq!(s.market.worker_lease_secs, DEFAULT_WORKER_LEASE_SECS);
        let s = load(&[
            ("PUPERO_RABBITMQ_URL", "amqp://u:p@127.0.0.1:5672/%2f"),
            ("PUPERO_WALLET_WORKER", "off"),
        ])
        .unwrap();
        let rabbit = s.market.rabbitmq.expect("configured");
        assert_eq!(rabbit.queue, DEFAULT_RABBITMQ_QUEUE);
        assert_eq!(format!("{:?}", rabbit.url), "Secret(***)");
        assert!(!s.market.wallet_worker);
        // Only the roles that serve the wallet's resources know the wallet.
        for (role, knows) in [
            ("all", true),
            ("wallet", true),
            ("auth", false),
            ("offers", false),
            ("ledger", false),
        ] {
            let s = load(&[
                ("PUPERO_ROLE", role),
                ("PUPERO_WALLET_RPC_URL", "http://127.0.0.1:18083"),
            ])
            .unwrap();
            assert_eq!(s.market.wallet.is_some(), knows, "{role}");
        }
        for bad in [
            ("PUPERO_RABBITMQ_URL", "http://127.0.0.1:5672"),
            ("PUPERO_WALLET_WORKER", "maybe"),
            ("PUPERO_WORKER_LEASE_SECS", "5"),
            ("PUPERO_FAILPOINT", "nowhere"),
            ("PUPERO_MIGRATE", "later"),
            ("PUPERO_ROLE", "gateway-of-sorts"),
        ] {
            assert!(load(&[bad]).is_err(), "{bad:?}");
        }
        assert_eq!(
            load(&[("PUPERO_MIGRATE", "check")])
                .unwrap()
                .market
                .migrations,
            pupero_ledger::Migrations::Check
        );
        let quorum = load(&[
            ("PUPERO_RABBITMQ_URL", "amqp://127.0.0.1"),
            ("PUPERO_RABBITMQ_QUEUE_TYPE", "quorum"),
        ])
        .unwrap();
        assert_eq!(
            quorum.market.rabbitmq.map(|r| r.kind),
            Some(QueueKind::Quorum)
        );
        assert!(
            load(&[
                ("PUPERO_RABBITMQ_URL", "amqp://127.0.0.1"),
                ("PUPERO_RABBITMQ_QUEUE_TYPE", "mirrored")
            ])
            .is_err()
        );
        assert!(
            load(&[
                ("PUPERO_RABBITMQ_URL", "amqp://127.0.0.1"),
                ("PUPERO_RABBITMQ_QUEUE", "a queue")
            ])
            .is_err()
        );
        assert_eq!(
            load(&[("PUPERO_FAILPOINT", "withdrawal.after_sign")])
                .unwrap()
                .market
                .failpoint
                .as_deref(),
            Some("withdrawal.after_sign")
        );
        let production = [
            ("PUPERO_MODE", "production"),
            ("PUPERO_JWT_SECRET", &random_secret()),
            ("PUPERO_DATA_KEY", &random_data_key()),
            ("PUPERO_FAILPOINT", "withdrawal.after_sign"),
        ]
        .map(|(k, v)| (k, v.to_owned()));
        let mut production: Vec<(&str, &str)> =
            production.iter().map(|(k, v)| (*k, v.as_str())).collect();
        production.extend(MAIL);
        match load(&production) {
            Err(ConfigError::Invalid { name, .. }) => {
                assert_eq!(name, "PUPERO_FAILPOINT", "no failpoints in production");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connection_bounds_have_defaults_and_can_be_set() {
        let defaults = load(&[]).unwrap().connections;
        assert_eq!(defaults, ConnectionSettings::default());
        assert_eq!(
            (
                defaults.header_timeout_secs,
                defaults.body_timeout_secs,
                defaults.idle_timeout_secs,
                defaults.write_timeout_secs,
                defaults.max_per_address,
                defaults.max_total
            ),
            (10, 15, 75, 30, 64, 4_096)
        );
        let set = load(&[
            ("PUPERO_HEADER_TIMEOUT_SECS", "5"),
            ("PUPERO_BODY_TIMEOUT_SECS", "20"),
            ("PUPERO_IDLE_TIMEOUT_SECS", "3600"),
            ("PUPERO_WRITE_TIMEOUT_SECS", "1"),
            ("PUPERO_MAX_CONNECTIONS_PER_ADDRESS", "8"),
            ("PUPERO_MAX_CONNECTIONS", "100"),
        ])
        .unwrap()
        .connections;
        assert_eq!(
            set,
            ConnectionSettings {
                header_timeout_secs: 5,
                body_timeout_secs: 20,
                idle_timeout_secs: 3_600,
                write_timeout_secs: 1,
                max_per_address: 8,
                max_total: 100,
            }
        );
    }

    #[test]
    fn dev_mode_runs_with_nothing_set() {
        let s = load(&[]).unwrap();
        assert_eq!(s.market.mode, Mode::Dev);
        assert!(s.jwt_secret.expose().len() >= MIN_SECRET_LEN);
        assert_eq!(format!("{:?}", s.jwt_secret), "Secret(***)");
    }

    #[test]
    fn production_refuses_missing_short_or_default_secrets() {
        assert!(load(&[("PUPERO_MODE", "production")]).is_err());
        assert!(
            load(&[
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", "short")
            ])
            .is_err()
        );
        let placeholder = "changeme-changeme-changeme-changeme-changeme";
        assert!(
            load(&[
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", placeholder)
            ])
            .is_err()
        );
        assert!(
            load(&[
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", &"a".repeat(64))
            ])
            .is_err()
        );
        // A short placeholder as a word of its own is refused; the same letters inside a
        // random secret are chance, not a placeholder.
        let short = Secret::new("dev-0123456789abcdefghijklmnopqrstuv".to_owned());
        assert!(check_secret("PUPERO_JWT_SECRET", &short).is_err());
        let chance = Secret::new("Xk9DevQ2pL7vTz4Rw1Nc8Bh5Jm3Fs6Gy0Ua2Ed".to_owned());
        assert!(check_secret("PUPERO_JWT_SECRET", &chance).is_ok());
        let good = random_secret();
        let key = random_data_key();
        let mut vars = vec![
            ("PUPERO_MODE", "production"),
            ("PUPERO_JWT_SECRET", good.as_str()),
            ("PUPERO_DATA_KEY", key.as_str()),
        ];
        vars.extend(MAIL);
        assert!(load(&vars).is_ok());
    }

    #[test]
    fn data_key_is_hex_or_base64_and_required_in_production() {
        use base64::Engine as _;
        let dev = load(&[]).unwrap();
        assert!(decode_data_key(dev.market.data_key.expose()).is_some());
        assert_ne!(
            dev.market.data_key.expose(),
            load(&[]).unwrap().market.data_key.expose(),
            "a fresh random key per process in dev mode"
        );
        assert_eq!(format!("{:?}", dev.market.data_key), "Secret(***)");

        let bytes: [u8; DATA_KEY_LEN] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        for text in [&hex, &hex.to_lowercase(), &b64, &b64url] {
            assert_eq!(decode_data_key(text), Some(bytes), "{text}");
        }
        for bad in [
            "",
            "abcd",
            &hex[..62],
            &format!("{hex}00"),
            "zz".repeat(32).as_str(),
        ] {
            assert_eq!(decode_data_key(bad), None, "{bad}");
            match load(&[("PUPERO_DATA_KEY", bad)]) {
                Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, "PUPERO_DATA_KEY"),
                other => panic!("{bad}: {other:?}"),
            }
        }

        let jwt = random_secret();
        let production = |key: Option<&str>| {
            let mut vars = vec![
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", jwt.as_str()),
            ];
            vars.extend(MAIL);
            if let Some(key) = key {
                vars.push(("PUPERO_DATA_KEY", key));
            }
            load(&vars)
        };
        assert!(production(None).is_err(), "required in production");
        assert!(production(Some(&"00".repeat(32))).is_err(), "placeholder");
        assert!(production(Some(&"ab".repeat(32))).is_err(), "placeholder");
        assert!(production(Some(&hex)).is_ok());
        let same = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(
            load(&[
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", &same),
                ("PUPERO_DATA_KEY", &same)
            ])
            .is_err(),
            "the token key is not the data key"
        );
    }

    #[test]
    fn mail_is_logged_in_dev_and_required_in_production() {
        let dev = load(&[("PUPERO_LISTEN", "127.0.0.1:8123")])
            .unwrap()
            .market
            .mail;
        assert!(dev.smtp_url.is_none(), "dev mode logs mails");
        assert_eq!(dev.from.to_string(), DEFAULT_MAIL_FROM);
        assert_eq!(dev.public_url, "http://127.0.0.1:8123");

        let set = load(&MAIL).unwrap().market.mail;
        assert_eq!(format!("{:?}", set.smtp_url), "Some(Secret(***))");
        assert_eq!(set.from.email.to_string(), "noreply@pupero.example");
        assert_eq!(
            set.public_url, "https://pupero.example",
            "no trailing slash"
        );
        let plain = load(&[("PUPERO_SMTP_URL", "smtp://127.0.0.1:2525")])
            .unwrap()
            .market
            .mail;
        assert_eq!(
            plain.smtp_url.as_ref().map(Secret::expose),
            Some("smtp://127.0.0.1:2525")
        );

        let too_long = format!("https://{}", "p".repeat(MAX_PUBLIC_URL_LEN));
        for (name, value) in [
            ("PUPERO_SMTP_URL", "http://mail.example.org"),
            (
                "PUPERO_SMTP_URL",
                "smtp://u:p@mail.example.org?tls=sometimes",
            ),
            ("PUPERO_MAIL_FROM", "not an address"),
            ("PUPERO_PUBLIC_URL", "pupero.example"),
            ("PUPERO_PUBLIC_URL", "https://"),
            ("PUPERO_PUBLIC_URL", "https://pupero.example/?x=1"),
            ("PUPERO_PUBLIC_URL", &too_long),
        ] {
            match load(&[(name, value)]) {
                Err(ConfigError::Invalid { name: n, message }) => {
                    assert_eq!(n, name);
                    assert!(!message.contains("u:p@"), "{message}");
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }

        let jwt = random_secret();
        let key = random_data_key();
        for missing in MAIL.map(|(name, _)| name) {
            let mut vars = vec![
                ("PUPERO_MODE", "production"),
                ("PUPERO_JWT_SECRET", jwt.as_str()),
                ("PUPERO_DATA_KEY", key.as_str()),
            ];
            vars.extend(MAIL.iter().filter(|(name, _)| *name != missing));
            match load(&vars) {
                Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, missing),
                other => panic!("without {missing}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_sweeper_has_defaults_and_can_be_turned_off() {
        let defaults = load(&[]).unwrap().market.sweep;
        assert_eq!(defaults, SweepSettings::default());
        assert_eq!(defaults.interval_secs, 3_600);
        assert_eq!(defaults.policy.below(), Piconero::ONE_XMR);
        assert_eq!(defaults.policy.min_outputs(), 10);
        let set = load(&[
            ("PUPERO_SWEEP_INTERVAL_SECS", "0"),
            ("PUPERO_SWEEP_BELOW", "0.25"),
            ("PUPERO_SWEEP_MIN_OUTPUTS", "4"),
        ])
        .unwrap()
        .market
        .sweep;
        assert_eq!(set.interval_secs, 0);
        assert_eq!(set.policy.below(), Piconero::new(250_000_000_000));
        assert_eq!(set.policy.min_outputs(), 4);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (name, value) in [
            ("PUPERO_MODE", "prod"),
            ("PUPERO_LISTEN", "nowhere"),
            ("PUPERO_DATABASE_URL", "postgres://x"),
            ("PUPERO_ACCESS_TOKEN_TTL_SECS", "0"),
            ("PUPERO_MAX_BODY_BYTES", "-1"),
            ("PUPERO_TRUSTED_PROXIES", "10.0.0.1, proxy.local"),
            ("PUPERO_PRICE_URL", "ftp://prices"),
            ("PUPERO_PRICE_MAX_AGE_SECS", "soon"),
            ("PUPERO_SWEEP_INTERVAL_SECS", "9"),
            ("PUPERO_SWEEP_INTERVAL_SECS", "-1"),
            ("PUPERO_SWEEP_BELOW", "0"),
            ("PUPERO_SWEEP_BELOW", "-1"),
            ("PUPERO_SWEEP_BELOW", "0.0000000000001"),
            ("PUPERO_SWEEP_MIN_OUTPUTS", "1"),
            ("PUPERO_SWEEP_MIN_OUTPUTS", "99999999999"),
            ("PUPERO_HEADER_TIMEOUT_SECS", "0"),
            ("PUPERO_BODY_TIMEOUT_SECS", "3601"),
            ("PUPERO_IDLE_TIMEOUT_SECS", "forever"),
            ("PUPERO_WRITE_TIMEOUT_SECS", "-5"),
            ("PUPERO_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("PUPERO_MAX_CONNECTIONS", "4294967296"),
        ] {
            match load(&[(name, value)]) {
                Err(ConfigError::Invalid { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }
}
