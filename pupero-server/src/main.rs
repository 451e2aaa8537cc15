//! The `pupero` binary: parses the command line, loads settings, runs the library, maps the
//! outcome to an exit code.

use std::process::ExitCode;

use pupero_server::{AppState, Settings};

const USAGE: &str = "usage: pupero <command>

Commands:
  serve [--role R]   run the HTTP API (settings: PUPERO_* variables, .env, PUPERO_CONFIG file);
                     with a role, only its part of it, on its port unless PUPERO_LISTEN says
                     otherwise: auth (8001), offers (8002), ledger (8003), wallet (8004, the
                     only one beside `all` that runs the wallet jobs); default all (8000).
                     gateway (8000): one address in front of the four, routing each path to
                     its role (PUPERO_UPSTREAM_AUTH, _OFFERS, _LEDGER, _WALLET: host:port,
                     or several separated by commas, taken in turn; by default their ports
                     on 127.0.0.1); it needs no database or secret
  worker [--listen ADDR]
                     run the wallet jobs without the HTTP API: deposit scans, the outbox
                     publisher, the withdrawal worker and the sweeper (then run serve
                     with PUPERO_WALLET_WORKER=off); with --listen, answer /healthz,
                     /readyz and /metrics (the wallet jobs' series) at ADDR
  migrate            apply the database's migrations and exit: the separate step before
                     servers started with PUPERO_MIGRATE=check (required on a Galera
                     cluster, where the migration lock holds on one node only)
  healthcheck [URL]  exit 0 if URL (default http://PUPERO_LISTEN/readyz) answers 200 within
                     5 s, else 1: a container's HEALTHCHECK, with no curl in the image
  backup --to FILE   copy the SQLite database, while it serves, into the new FILE (one
                     consistent snapshot); MariaDB is backed up with its own tools
  openapi            print the OpenAPI document (YAML)
  matrix-registration --url URL
                     print the Matrix application-service registration for the homeserver
                     (PUPERO_MATRIX_HOMESERVER_URL, _SERVER_NAME, _AS_TOKEN, _HS_TOKEN;
                     _SENDER, _USER_PREFIX, _ROOM_PREFIX): URL is where it reaches Pupero
  web [--listen ADDR] [--api URL] [--origin URL]... [--insecure-dev-cookies]
                     run the website (default 127.0.0.1:5000) over the API at URL
                     (default http://127.0.0.1:8000); --origin names another origin
                     forms may come from (a public URL, an onion address);
                     --insecure-dev-cookies drops `Secure` from the session cookie for
                     plain HTTP, on a loopback address only; each call names the visitor's
                     address in X-Forwarded-For, which the API believes when the website's
                     address is in its PUPERO_TRUSTED_PROXIES
  admin create-user --username NAME [--email ADDRESS] [--role user|moderator|admin]
                     create a user directly in the database (the first admin is made this
                     way); the password is read from the first line of standard input
  admin reset-password --username NAME [--totp-code CODE | --recovery-code CODE]
                     set a new password for someone who cannot use a reset link; the
                     password is read from the first line of standard input; with 2FA on,
                     the account's code or a recovery code is required; every session and
                     API key of the account ends
  admin credit --username NAME --amount XMR
                     dev mode only: credit XMR from a development faucet, to try trades
                     without a Monero wallet
  demo [--database URL]
                     run a trade's escrow flow on the ledger and print the balances (on a
                     scratch database unless one is named; refused in production)

Settings (environment): PUPERO_MODE=dev|production, PUPERO_LISTEN (127.0.0.1:8000),
PUPERO_DATABASE_URL (sqlite:///absolute/path.db | mysql://user:pass@host/db; default
pupero.db in PUPERO_DATA_DIR, else ~/.local/share/pupero), PUPERO_MIGRATE=apply|check
(apply: migrate on start, the default; check: refuse a database `migrate` has not brought up
to date),
PUPERO_JWT_SECRET (required in production), PUPERO_DATA_KEY (32 bytes, hex or base64;
encrypts 2FA secrets; required in production), PUPERO_LOG (tracing filter, e.g. info),
PUPERO_LOG_FORMAT=json for one JSON object per log line, PUPERO_SMTP_URL
(smtp://host:port | smtps://user:pass@host; required in production, else mails are logged),
PUPERO_MAIL_FROM, PUPERO_PUBLIC_URL (where links in mails point; both required in
production).";

fn main() -> ExitCode {
    match pupero_server::runtime() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PUPERO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal; a log file or journal gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // One JSON object per line for log shippers; readable text otherwise.
    if std::env::var("PUPERO_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]).await,
        Some("worker") => worker(&args[1..]).await,
        Some("migrate") => migrate().await,
        Some("backup") => backup(&args[1..]).await,
        Some("healthcheck") => return healthcheck(args.get(1).map(String::as_str)).await,
        Some("openapi") => openapi().await,
        Some("matrix-registration") => matrix_registration(&args[1..]),
        Some("web") => web(&args[1..]).await,
        Some("demo") => demo(&args[1..]).await,
        Some("admin") => admin(&args[1..]).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn gateway(
    signalled: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let var = |name: &str| std::env::var(name).ok();
    let listen = var("PUPERO_LISTEN")
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned())
        .parse()
        .map_err(|_| anyhow::anyhow!("PUPERO_LISTEN: not an address"))?;
    let upstreams =
        pupero_server::gateway::Upstreams::from_vars(var).map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(role = "gateway", "starting");
    pupero_server::gateway::serve(
        listen,
        upstreams,
        pupero_server::config::ConnectionSettings::default(),
        signalled,
        |_| {},
    )
    .await?;
    Ok(())
}

async fn migrate() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    ensure_sqlite_dir(&settings.market.database_url)?;
    pupero_market::migrate(&settings.market.database_url).await?;
    tracing::info!(database = %redact(&settings.market.database_url), "migrated");
    Ok(())
}

/// Prints the application-service registration for the homeserver, from this configuration's
/// `PUPERO_MATRIX_*` settings: the same tokens and namespaces, and `url` where the homeserver
/// reaches Pupero.
fn matrix_registration(args: &[String]) -> anyhow::Result<()> {
    let [flag, url] = args else {
        anyhow::bail!("usage: pupero matrix-registration --url URL");
    };
    anyhow::ensure!(
        flag == "--url",
        "usage: pupero matrix-registration --url URL"
    );
    let settings = Settings::load()?;
    let Some(m) = settings.market.matrix else {
        anyhow::bail!("the Matrix bridge is not configured: set the PUPERO_MATRIX_* variables");
    };
    let server = m.server_name.replace('.', "\\.");
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    println!(
        "id: pupero\nurl: {}\nas_token: {}\nhs_token: {}\nsender_localpart: {}\nrate_limited: false\n\
         namespaces:\n  users:\n    - exclusive: true\n      regex: {}\n  aliases:\n    - exclusive: true\n      regex: {}\n  rooms: []",
        quote(url),
        quote(m.as_token.expose()),
        quote(m.hs_token.expose()),
        quote(&m.sender_localpart),
        quote(&format!("@{}.*:{server}", m.user_prefix)),
        quote(&format!("#{}.*:{server}", m.room_prefix)),
    );
    Ok(())
}

async fn backup(args: &[String]) -> anyhow::Result<()> {
    let [flag, to] = args else {
        anyhow::bail!("usage: pupero backup --to FILE");
    };
    anyhow::ensure!(flag == "--to", "usage: pupero backup --to FILE");
    let settings = Settings::load()?;
    pupero_market::backup(&settings.market.database_url, std::path::Path::new(to)).await?;
    tracing::info!(to = %to, "backed up");
    Ok(())
}

/// Exits 0 when `url` (by default this configuration's own `/readyz`) answers 200.
async fn healthcheck(url: Option<&str>) -> ExitCode {
    let url = match url {
        Some(url) => url.to_owned(),
        None => {
            let listen =
                std::env::var("PUPERO_LISTEN").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
            format!("http://{listen}/readyz")
        }
    };
    match probe(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Longest a health check waits for its answer.
const HEALTHCHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

async fn probe(url: &str) -> anyhow::Result<()> {
    // The process's TLS provider, for an https:// URL: ring, as everywhere in Pupero.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::builder()
        .timeout(HEALTHCHECK_TIMEOUT)
        .build()?
        .get(url)
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::OK,
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

async fn serve(args: &[String]) -> anyhow::Result<()> {
    let signalled = shutdown_signal();
    let settings = match args {
        [flag, role] if flag == "--role" && role == "gateway" => return gateway(signalled).await,
        [] => Settings::load()?,
        [flag, role] if flag == "--role" => Settings::load_with(&[("PUPERO_ROLE", role)])?,
        _ => anyhow::bail!("usage: pupero serve [--role all|gateway|auth|offers|ledger|wallet]"),
    };
    ensure_sqlite_dir(&settings.market.database_url)?;
    tracing::info!(mode = ?settings.market.mode, role = settings.role.as_str(), database = %redact(&settings.market.database_url), "starting");
    let state = AppState::open(settings).await?;
    let shutdown = async {
        signalled.await;
        tracing::info!("shutting down");
    };
    pupero_server::serve(state, shutdown, |_| {}).await?;
    Ok(())
}

async fn worker(args: &[String]) -> anyhow::Result<()> {
    let signalled = shutdown_signal();
    let listen: Option<std::net::SocketAddr> = match args {
        [] => None,
        [flag, address] if flag == "--listen" => Some(address.parse()?),
        _ => anyhow::bail!("usage: pupero worker [--listen ADDR]"),
    };
    let mut settings = Settings::load()?;
    if settings.market.wallet.is_none() {
        anyhow::bail!("the wallet worker needs a wallet: set PUPERO_WALLET_RPC_URL");
    }
    // This process is the worker, whatever the serving processes are told.
    settings.market.wallet_worker = true;
    ensure_sqlite_dir(&settings.market.database_url)?;
    tracing::info!(database = %redact(&settings.market.database_url), "starting the wallet worker");
    let market = pupero_market::Market::open(settings.market.clone()).await?;
    let jobs = pupero_market::jobs::spawn_wallet_jobs(market.clone());
    let served = match listen {
        // Its health and metrics (the wallet jobs' series), and no resource of the API.
        Some(address) => {
            settings.listen = address;
            settings.role = pupero_server::roles::Role::Worker;
            let state = AppState::serving(settings, market.clone());
            pupero_server::serve_http(state, signalled, |_| {}).await
        }
        None => {
            signalled.await;
            Ok(())
        }
    };
    tracing::info!("shutting down");
    pupero_market::jobs::stop_jobs(&market, jobs).await;
    Ok(served?)
}

/// Where `pupero web` listens unless told: the seed's port, on this machine only.
const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:5000";

/// The API `pupero web` calls unless told: `pupero serve`'s default address.
const DEFAULT_WEB_API: &str = "http://127.0.0.1:8000";

async fn web(args: &[String]) -> anyhow::Result<()> {
    let signalled = shutdown_signal();
    let mut listen: std::net::SocketAddr = DEFAULT_WEB_LISTEN.parse()?;
    let mut api = DEFAULT_WEB_API.to_owned();
    let mut config = pupero_web::WebConfig::new();
    let mut flags = args.iter();
    while let Some(flag) = flags.next() {
        if flag == "--insecure-dev-cookies" {
            config.insecure_dev_cookies = true;
            continue;
        }
        let value = flags
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value.parse()?,
            "--api" => api = value.clone(),
            "--origin" => config.origins.push(value.trim_end_matches('/').to_owned()),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    if config.insecure_dev_cookies && !listen.ip().is_loopback() {
        anyhow::bail!("--insecure-dev-cookies is for a loopback address only");
    }
    let app = pupero_web::app(config, &api)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, api = %api, "website listening");
    // The API's bounds on connections hold for the website too.
    let connections = pupero_server::config::ConnectionSettings::default();
    let slots = pupero_server::http_server::ConnectionSlots::new(&connections, &[]);
    let shutdown = async {
        signalled.await;
        tracing::info!("shutting down");
    };
    pupero_server::http_server::serve_connections(
        listener,
        app,
        connections,
        slots,
        shutdown,
        pupero_server::SHUTDOWN_GRACE,
    )
    .await?;
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called, not when it
/// is first awaited: a signal that comes while the server is still starting then stops it
/// cleanly (giving the worker lease back) instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    async move {
        let interrupted = async {
            match interrupt.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupted => {}
            () = terminated => {}
        }
    }
}

async fn admin(args: &[String]) -> anyhow::Result<()> {
    let rest = match args.split_first().map(|(c, r)| (c.as_str(), r)) {
        Some(("create-user", rest)) => rest,
        Some(("credit", rest)) => return credit(rest).await,
        Some(("reset-password", rest)) => return reset_password(rest).await,
        _ => anyhow::bail!(
            "usage: pupero admin create-user --username NAME [--email ADDRESS] [--role ROLE]\n       pupero admin reset-password --username NAME [--totp-code CODE | --recovery-code CODE]\n       pupero admin credit --username NAME --amount XMR"
        ),
    };
    let (mut username, mut email, mut role) = (None, None, pupero_core::Role::User);
    let mut flags = rest.iter();
    while let Some(flag) = flags.next() {
        let value = flags
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--username" => username = Some(value.clone()),
            "--email" => email = Some(value.clone()),
            "--role" => role = pupero_core::Role::parse(value)?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let username = username.ok_or_else(|| anyhow::anyhow!("--username is required"))?;
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let settings = Settings::load()?;
    existing_database(&settings.market.database_url)?;
    let market = pupero_market::Market::open(settings.market).await?;
    let user =
        pupero_market::operator::create_user(&market, &username, email.as_deref(), password, role)
            .await?;
    println!("created {username} ({user}) with role {}", role.as_str());
    Ok(())
}

async fn reset_password(args: &[String]) -> anyhow::Result<()> {
    let (mut username, mut totp_code, mut recovery_code) = (None, None, None);
    let mut flags = args.iter();
    while let Some(flag) = flags.next() {
        let value = flags
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--username" => username = Some(value.clone()),
            "--totp-code" => totp_code = Some(value.clone()),
            "--recovery-code" => recovery_code = Some(value.clone()),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let username = username.ok_or_else(|| anyhow::anyhow!("--username is required"))?;
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let settings = Settings::load()?;
    ensure_sqlite_dir(&settings.market.database_url)?;
    let market = pupero_market::Market::open(settings.market).await?;
    let proof = pupero_market::two_factor::SecondFactorProof::new(
        totp_code.as_deref(),
        recovery_code.as_deref(),
    );
    pupero_market::operator::reset_password(&market, &username, password, proof).await?;
    println!("reset the password of {username}; every session and API key of the account ended");
    Ok(())
}

async fn credit(args: &[String]) -> anyhow::Result<()> {
    let (mut username, mut amount) = (None, None);
    let mut flags = args.iter();
    while let Some(flag) = flags.next() {
        let value = flags
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--username" => username = Some(value.clone()),
            "--amount" => amount = Some(value.clone()),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let username = username.ok_or_else(|| anyhow::anyhow!("--username is required"))?;
    let amount = amount.ok_or_else(|| anyhow::anyhow!("--amount is required"))?;
    let settings = Settings::load()?;
    existing_database(&settings.market.database_url)?;
    let market = pupero_market::Market::open(settings.market).await?;
    pupero_market::operator::credit_dev(&market, &username, &amount).await?;
    println!("credited {amount} XMR to {username}");
    Ok(())
}

async fn openapi() -> anyhow::Result<()> {
    print!("{}", pupero_server::app::openapi_yaml());
    Ok(())
}

async fn demo(args: &[String]) -> anyhow::Result<()> {
    // The demo writes made-up users and balances: never into the live database, unless asked
    // for a database by name, and never in production.
    if Settings::load()?.market.mode == pupero_server::config::Mode::Production {
        anyhow::bail!("the demo is refused in production mode");
    }
    let scratch;
    let url = match args {
        [] => {
            scratch = tempfile_dir()?;
            format!("sqlite://{}/demo.db", scratch.display())
        }
        [flag, url] if flag == "--database" => url.clone(),
        _ => anyhow::bail!("usage: pupero demo [--database URL]"),
    };
    ensure_sqlite_dir(&url)?;
    eprintln!("demo database: {}", redact(&url));
    pupero_server::demo::run(&url).await?;
    Ok(())
}

/// The admin commands act on the server's database: a SQLite file that does not exist means
/// they are looking in the wrong place (another working directory, another setting), and
/// creating a new database there would only hide that.
fn existing_database(url: &str) -> anyhow::Result<()> {
    eprintln!("database: {}", redact(url));
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
        if !path.exists() {
            anyhow::bail!(
                "no database at {}: start the server first (scripts/run.sh), or set PUPERO_DATABASE_URL to the server's",
                path.display()
            );
        }
    }
    Ok(())
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pupero-openapi-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
