//! The market's settings: what its services need, whoever serves them. The `pupero` binary
//! loads them (with its HTTP settings) from a file and the environment; an embedding service
//! builds them in code, starting from [`MarketSettings::for_database`].

use std::fmt;

use serde::Deserialize;

use pupero_core::limits::{
    DEFAULT_DEPOSIT_CONFIRMATIONS, DEFAULT_SWEEP_BELOW, DEFAULT_SWEEP_MIN_OUTPUTS,
};
use pupero_core::sweep::SweepPolicy;
use pupero_core::{DepositPolicy, FeeSchedule, Network};

use crate::ratelimit::RateLimitSettings;

/// Everything the market's services need.
#[derive(Debug, Clone)]
pub struct MarketSettings {
    /// Development or production.
    pub mode: Mode,
    /// `sqlite://…` (embedded default) or `mysql://…`/`mariadb://…`.
    pub database_url: String,
    /// Whether opening applies the schema's migrations (the default) or, after a separate
    /// `pupero migrate` step, only checks them.
    pub migrations: pupero_ledger::Migrations,
    /// Key that encrypts secrets at rest (2FA secrets): 32 bytes as 64 hex characters or base64.
    /// Losing it makes every stored 2FA secret unreadable.
    pub data_key: Secret,
    /// Session lifetime.
    pub refresh_token_ttl_secs: u64,
    /// Rate limits and the login lockout (the defaults of `crate::ratelimit`; tests shrink them).
    pub rate_limits: RateLimitSettings,
    /// The HTTP JSON source of market prices: a URL where `{currency}` and `{currency_lower}`
    /// stand for the currency code. Without it, only prices set by admins exist.
    pub price_url: Option<String>,
    /// Where the price sits in the source's JSON: a JSON pointer (`/monero/{currency_lower}`) or
    /// a dotted path (`data.rates.{currency}`); empty means the whole document.
    pub price_field: Option<String>,
    /// Age after which a market price is stale and margin offers are hidden.
    pub price_max_age_secs: u64,
    /// Trade fees in basis points: the maker's and the taker's (`PUPERO_MAKER_FEE_BPS`,
    /// `PUPERO_TAKER_FEE_BPS`; at most 10%).
    pub fees: FeeSchedule,
    /// The Monero network (`PUPERO_MONERO_NETWORK`: `mainnet`, `testnet` (the default),
    /// `stagenet`, or `regtest`, a private test chain whose addresses are mainnet's).
    pub monero_network: MoneroNetwork,
    /// The platform's wallet (`PUPERO_WALLET_RPC_URL`); without one, deposits and withdrawals
    /// are refused with `WALLET_UNAVAILABLE`.
    pub wallet: Option<WalletSettings>,
    /// When deposits are credited (`PUPERO_DEPOSIT_CONFIRMATIONS`, default 10).
    pub deposits: DepositPolicy,
    /// When and what the sweeper consolidates in the platform's wallet.
    pub sweep: SweepSettings,
    /// The RabbitMQ queue of withdrawal messages (`PUPERO_RABBITMQ_URL`); without one, an
    /// in-process queue fed from the database outbox.
    pub rabbitmq: Option<RabbitSettings>,
    /// Whether a serving process also runs the wallet jobs — deposit scans, the withdrawal
    /// worker and the sweeper (`PUPERO_WALLET_WORKER=on|off`, default on). Off when a separate
    /// `pupero worker` process runs them.
    pub wallet_worker: bool,
    /// Seconds a wallet worker's lease lasts unless renewed (`PUPERO_WORKER_LEASE_SECS`,
    /// default 30, at least 6). The holder renews it every third of that, during its wallet
    /// calls too, and gives it back when it stops cleanly; after a crash, a standby takes
    /// over when it runs out: at most this long after the holder died (see `crate::lease`).
    pub worker_lease_secs: u64,
    /// Development only: a named point where the wallet worker stops dead, for crash tests
    /// (`PUPERO_FAILPOINT`, e.g. `withdrawal.after_sign`); refused in production.
    pub failpoint: Option<String>,
    /// Outgoing mail: the relay, the sender, and where links in mails point.
    pub mail: MailSettings,
    /// The Matrix bridge of trade chats (`PUPERO_MATRIX_*`); off (nothing contacts Matrix)
    /// without it.
    pub matrix: Option<MatrixSettings>,
}

impl MarketSettings {
    /// Settings for tests and embedding: dev mode, the given database, a random data key, no
    /// wallet, no RabbitMQ (the in-process queue), mails to the log.
    pub fn for_database(database_url: impl Into<String>) -> MarketSettings {
        MarketSettings {
            mode: Mode::Dev,
            database_url: database_url.into(),
            migrations: pupero_ledger::Migrations::Apply,
            data_key: Secret::new(random_data_key()),
            refresh_token_ttl_secs: DEFAULT_REFRESH_TOKEN_TTL_SECS,
            rate_limits: RateLimitSettings::default(),
            price_url: None,
            price_field: None,
            price_max_age_secs: pupero_core::limits::DEFAULT_QUOTE_MAX_AGE_SECS,
            fees: FeeSchedule::new(DEFAULT_MAKER_FEE_BPS, DEFAULT_TAKER_FEE_BPS)
                .expect("the default fees are within bounds"),
            monero_network: MoneroNetwork::Testnet,
            wallet: None,
            deposits: DepositPolicy::new(DEFAULT_DEPOSIT_CONFIRMATIONS)
                .expect("the default confirmations are within bounds"),
            sweep: SweepSettings::default(),
            rabbitmq: None,
            wallet_worker: true,
            worker_lease_secs: DEFAULT_WORKER_LEASE_SECS,
            failpoint: None,
            mail: MailSettings::logged("http://127.0.0.1"),
            matrix: None,
        }
    }
}

/// How long a session (its refresh tokens) lives without use.
pub const DEFAULT_REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 60 * 60;

/// The maker's fee by default: 1% of the trade, as the markets this one follows charged.
pub const DEFAULT_MAKER_FEE_BPS: u16 = 100;

/// The taker's fee by default: none.
pub const DEFAULT_TAKER_FEE_BPS: u16 = 0;

/// Bytes of the data key (XChaCha20-Poly1305 takes a 256-bit key).
pub const DATA_KEY_LEN: usize = 32;

/// Whether Pupero runs for development or for real money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Development: missing secrets are generated at random for this process (tokens die with it,
    /// and so does the data key: 2FA secrets stored under it cannot be read after a restart).
    Dev,
    /// Production: every secret must be configured, long, and not a known default.
    Production,
}

/// A secret string. `Debug` and `Display` never show it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself. Call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to reach RabbitMQ.
#[derive(Debug, Clone)]
pub struct RabbitSettings {
    /// `amqp://user:password@host:port/vhost` or `amqps://…`; it holds a password.
    pub url: Secret,
    /// The durable queue of withdrawal messages (`PUPERO_RABBITMQ_QUEUE`, default
    /// `pupero.withdrawals`); its dead letters go to the same name with `.dead` appended.
    pub queue: String,
    /// What kind of queue it is (`PUPERO_RABBITMQ_QUEUE_TYPE`).
    pub kind: QueueKind,
}

/// What kind of RabbitMQ queue carries the withdrawal messages. RabbitMQ refuses to declare a
/// queue again with other arguments: a queue changes kind under a new name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueKind {
    /// A classic durable queue, on one node (the default).
    #[default]
    Classic,
    /// A quorum queue, replicated over a RabbitMQ cluster (classic queues are no longer
    /// mirrored since RabbitMQ 4.0): its dead letters are moved at least once, which a quorum
    /// queue does only while it refuses publishes when full.
    Quorum,
}

/// The Matrix bridge: Pupero is an application service of `homeserver_url` (registered there
/// with the same two tokens and namespaces, see `pupero matrix-registration`).
#[derive(Debug, Clone)]
pub struct MatrixSettings {
    /// The homeserver's client-server API (`PUPERO_MATRIX_HOMESERVER_URL`), e.g.
    /// `http://synapse:8008`.
    pub homeserver_url: String,
    /// The homeserver's name, the part after `:` in its user ids (`PUPERO_MATRIX_SERVER_NAME`).
    pub server_name: String,
    /// What Pupero presents to the homeserver (`PUPERO_MATRIX_AS_TOKEN`).
    pub as_token: Secret,
    /// What the homeserver presents to Pupero when it pushes events (`PUPERO_MATRIX_HS_TOKEN`).
    pub hs_token: Secret,
    /// The bridge's own user, which creates the rooms (`PUPERO_MATRIX_SENDER`, default
    /// `pupero_bot`).
    pub sender_localpart: String,
    /// The start of every Matrix user Pupero makes for its users (`PUPERO_MATRIX_USER_PREFIX`,
    /// default `pupero_`); the registration's user namespace is this prefix.
    pub user_prefix: String,
    /// The start of every trade room's alias (`PUPERO_MATRIX_ROOM_PREFIX`, default `trade_`);
    /// the registration's alias namespace is this prefix.
    pub room_prefix: String,
}

/// The bridge's user unless configured.
pub const DEFAULT_MATRIX_SENDER: &str = "pupero_bot";
/// The namespace of Pupero's Matrix users unless configured.
pub const DEFAULT_MATRIX_USER_PREFIX: &str = "pupero_";
/// The namespace of trade rooms' aliases unless configured.
pub const DEFAULT_MATRIX_ROOM_PREFIX: &str = "trade_";

/// Outgoing mail (verification and password-reset links, security notices).
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The relay (`PUPERO_SMTP_URL`): `smtp://host:port` (plain SMTP, for a relay on the same
    /// machine or network), `smtp://user:password@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:password@host` (TLS from the start); it may hold a password. Without one
    /// (development only) mails are written to the log instead of being sent.
    pub smtp_url: Option<Secret>,
    /// The sender (`PUPERO_MAIL_FROM`), e.g. `Pupero <noreply@pupero.example>`.
    pub from: lettre::message::Mailbox,
    /// Where people open the links of mails (`PUPERO_PUBLIC_URL`, no trailing slash), e.g.
    /// `https://pupero.example`; by default the address the API listens on.
    pub public_url: String,
}

/// The longest public URL accepted: a site's address is short, and every mail must fit the
/// outbox with a link under it.
pub const MAX_PUBLIC_URL_LEN: usize = 200;

/// The sender of mails unless configured: a reserved domain (RFC 2606), so that a development
/// server's mails are never mistaken for real ones.
pub const DEFAULT_MAIL_FROM: &str = "Pupero <noreply@pupero.invalid>";

impl MailSettings {
    /// Development settings: mails go to the log, from [`DEFAULT_MAIL_FROM`], with links to
    /// `public_url`.
    pub fn logged(public_url: impl Into<String>) -> MailSettings {
        MailSettings {
            smtp_url: None,
            from: DEFAULT_MAIL_FROM
                .parse()
                .unwrap_or_else(|e| panic!("the default sender is an address: {e}")),
            public_url: public_url.into(),
        }
    }
}

/// A wallet worker's lease unless configured (see [`MarketSettings::worker_lease_secs`]): renewed
/// every 10 s, so a crashed worker's successor waits at most 30 s, and a database hiccup of
/// up to 20 s costs the holder nothing.
pub const DEFAULT_WORKER_LEASE_SECS: u64 = 30;

/// The shortest lease accepted: renewed every 2 s, it still survives one missed renewal.
/// (A pass need not fit in it: the lease is renewed during the pass.)
pub const MIN_WORKER_LEASE_SECS: u64 = 6;

/// The withdrawal queue's name unless configured.
pub const DEFAULT_RABBITMQ_QUEUE: &str = "pupero.withdrawals";

/// The failpoints the wallet worker knows (see [`MarketSettings::failpoint`]).
pub const FAILPOINTS: [&str; 5] = [
    "withdrawal.after_sign",
    "withdrawal.after_relay",
    "sweep.after_sign",
    "sweep.after_relay",
    "matrix.after_send",
];

/// Which Monero chain the platform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneroNetwork {
    /// Real money.
    Mainnet,
    /// The public test network: the default, so that nothing touches real money by accident.
    Testnet,
    /// The public staging network.
    Stagenet,
    /// A private chain (`monerod --regtest`) for development and tests.
    Regtest,
}

impl MoneroNetwork {
    /// The network whose address prefixes the chain uses.
    pub const fn addresses(self) -> Network {
        match self {
            MoneroNetwork::Mainnet | MoneroNetwork::Regtest => Network::Mainnet,
            MoneroNetwork::Testnet => Network::Testnet,
            MoneroNetwork::Stagenet => Network::Stagenet,
        }
    }

    /// The name in settings.
    pub const fn as_str(self) -> &'static str {
        match self {
            MoneroNetwork::Mainnet => "mainnet",
            MoneroNetwork::Testnet => "testnet",
            MoneroNetwork::Stagenet => "stagenet",
            MoneroNetwork::Regtest => "regtest",
        }
    }

    /// The network named `s` in settings.
    pub fn parse(s: &str) -> Option<MoneroNetwork> {
        [
            MoneroNetwork::Mainnet,
            MoneroNetwork::Testnet,
            MoneroNetwork::Stagenet,
            MoneroNetwork::Regtest,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }
}

/// How to reach the platform's `monero-wallet-rpc`.
#[derive(Debug, Clone)]
pub struct WalletSettings {
    /// Its base URL, e.g. `http://127.0.0.1:18083`.
    pub rpc_url: String,
    /// `user:password` of its `--rpc-login` (`PUPERO_WALLET_RPC_LOGIN`), if it asks for one.
    pub rpc_login: Option<Secret>,
    /// The wallet account holding users' money (`PUPERO_WALLET_ACCOUNT`, default 0).
    pub account: u32,
    /// Seconds between full deposit scans (`PUPERO_DEPOSIT_SCAN_SECS`, default 20): the
    /// backstop of the height watch, and what shows deposits waiting in the pool.
    pub scan_interval_secs: u64,
    /// Milliseconds between looks at the wallet's height (`PUPERO_DEPOSIT_WATCH_MS`, default
    /// 1000; 0 turns the watch off): a new block starts a scan at once, so a deposit is
    /// credited about a second after the block that confirms it.
    pub watch_interval_ms: u64,
}

/// Seconds between deposit scans by default: a Monero block comes every two minutes, and the
/// pool is worth showing within seconds.
pub const DEFAULT_DEPOSIT_SCAN_SECS: u64 = 20;

/// Milliseconds between looks at the wallet's height by default: a look is a `refresh` that
/// finds nothing new (a few milliseconds of a local wallet), and a second is well within the
/// two seconds a credit may lag its block.
pub const DEFAULT_DEPOSIT_WATCH_MS: u64 = 1_000;

/// The shortest watch period accepted: more often would keep the wallet, which answers one
/// call at a time, busy with refreshes.
pub const MIN_DEPOSIT_WATCH_MS: u64 = 100;

impl WalletSettings {
    /// A wallet at `rpc_url` without login, account 0, scanned at the default interval.
    pub fn at(rpc_url: impl Into<String>) -> WalletSettings {
        WalletSettings {
            rpc_url: rpc_url.into(),
            rpc_login: None,
            account: 0,
            scan_interval_secs: DEFAULT_DEPOSIT_SCAN_SECS,
            watch_interval_ms: DEFAULT_DEPOSIT_WATCH_MS,
        }
    }
}

/// The sweeper, which consolidates the platform wallet's small outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Seconds between sweep passes (`PUPERO_SWEEP_INTERVAL_SECS`, default 3600); 0 turns the
    /// sweeper off.
    pub interval_secs: u64,
    /// Outputs below `PUPERO_SWEEP_BELOW` XMR (default 1) are swept once there are
    /// `PUPERO_SWEEP_MIN_OUTPUTS` of them (default 10) unlocked.
    pub policy: SweepPolicy,
}

/// Seconds between sweep passes by default: an hour. Deposits arrive a few at a time, and a
/// sweep locks what it consolidates for ten blocks (about twenty minutes).
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 60 * 60;

/// The shortest interval between sweep passes, as for the worker's lease: a pass asks the
/// wallet for every output. Sweeping more often than every few minutes gains nothing, since
/// what one sweep consolidated stays locked for twenty minutes anyway.
pub const MIN_SWEEP_INTERVAL_SECS: u64 = 10;

impl Default for SweepSettings {
    fn default() -> SweepSettings {
        SweepSettings {
            interval_secs: DEFAULT_SWEEP_INTERVAL_SECS,
            policy: SweepPolicy::new(DEFAULT_SWEEP_BELOW, DEFAULT_SWEEP_MIN_OUTPUTS)
                .expect("the default sweep policy is within bounds"),
        }
    }
}

/// 256 random bits, URL-safe base64.
pub fn random_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The data key's bytes from 64 hex characters or base64 (standard or URL-safe, padded or not).
pub fn decode_data_key(text: &str) -> Option<[u8; DATA_KEY_LEN]> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = if text.len() == 2 * DATA_KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..DATA_KEY_LEN)
            .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())?
    };
    <[u8; DATA_KEY_LEN]>::try_from(bytes).ok()
}

/// A random data key, as 64 hex characters.
pub fn random_data_key() -> String {
    let bytes: [u8; DATA_KEY_LEN] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
