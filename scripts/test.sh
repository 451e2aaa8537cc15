#!/usr/bin/env bash
# Sets up everything the tests need on this machine (packages, services, accounts) and runs
# the whole suite: formatting, lints, the API documentation's links, and every test against
# SQLite and the real MariaDB, and the wallet's against a private Monero regtest network, the
# withdrawal queue's against the real RabbitMQ, the mail tests' against a real SMTP server
# (aiosmtpd), the Matrix bridge's against a real homeserver (Synapse) and the website's in
# Debian's Chromium (with axe-core checking each page), the alert rules with promtool and a
# real Prometheus scraping a server; then the API contract (scripts/contract.sh): the committed
# OpenAPI document linted, Python and TypeScript clients generated from it running a trade,
# and Schemathesis, on a real server; and the compose files, merged and checked by
# docker-compose without a daemon; and the image, its runtime stage built and run by a private
# Docker daemon (deploy/check_image.sh).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p pupero-ledger   # extra arguments go to `cargo nextest run`
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Tests must fail, not skip, when a service they need is missing.
export PUPERO_REQUIRE_SERVICES=1
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi

ensure_rust
ensure_nextest
ensure_mariadb
ensure_rabbitmq
ensure_monero
ensure_browser
ensure_axe
ensure_aiosmtpd
ensure_synapse
ensure_compose
ensure_docker
ensure_prometheus
drop_test_databases

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "tests"
cargo nextest run --workspace --locked --profile ci "$@"
log "doc tests"
cargo test --workspace --doc --locked --quiet
log "cargo doc: no broken link, none to a private item"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
log "compose files: base, dev and prod overlays, ports and required secrets"
# Debian's Python, which has the YAML module docker-compose itself needs.
/usr/bin/python3 "$ROOT/deploy/check_compose.py"
log "image: the Dockerfile's runtime stage built and run by a private Docker daemon"
"$ROOT/deploy/check_image.sh"
log "API contract: lint, generated Python and TypeScript clients, Schemathesis"
"$ROOT/scripts/contract.sh"
drop_test_databases
log "all checks passed"
