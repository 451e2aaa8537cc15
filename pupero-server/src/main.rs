//! The `pupero` binary: parses the command line, runs the library, maps the outcome to an
//! exit code.

use std::process::ExitCode;

/// Where the embedded database lives when no URL is configured.
const DEFAULT_DATABASE_URL: &str = "sqlite://data/pupero.db";

const USAGE: &str = "usage: pupero demo [--database URL]

Commands:
  demo    run a trade's escrow flow on the ledger and print the balances

Options:
  --database URL   sqlite:///path.db (default: sqlite://data/pupero.db) or mysql://user:pass@host/db
                   (also read from PUPERO_DATABASE_URL)";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PUPERO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut database_url =
        std::env::var("PUPERO_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let command = match args.as_slice() {
        [command] => command.as_str(),
        [command, flag, url] if flag == "--database" => {
            database_url = url.clone();
            command.as_str()
        }
        _ => "help",
    };
    match command {
        "demo" => {
            if let Some(path) = database_url.strip_prefix("sqlite://")
                && let Some(dir) =
                    std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            match pupero_server::demo::run(&database_url).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!(
                        "error: {}",
                        anyhow::Error::from(e)
                            .chain()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(": ")
                    );
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
