#!/usr/bin/env bash
# Sets up and runs Pupero on this machine: builds the `pupero` binary (release) and serves the
# API in development mode on an embedded SQLite database in ./data (no other service needed).
#
#   scripts/run.sh                                   # http://127.0.0.1:8000, docs at /docs
#   PUPERO_DATABASE_URL=mysql://user:pass@127.0.0.1/pupero scripts/run.sh
#   scripts/run.sh demo                              # the ledger's escrow flow, printed
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_rust
export PUPERO_DATABASE_URL="${PUPERO_DATABASE_URL:-sqlite://$ROOT/data/pupero.db}"
export PUPERO_LISTEN="${PUPERO_LISTEN:-127.0.0.1:8000}"
cargo build --release --locked -p pupero-server --bin pupero
if [ "${1:-serve}" = "serve" ]; then
  log "Pupero API on http://$PUPERO_LISTEN (Swagger UI: http://$PUPERO_LISTEN/docs); Ctrl-C stops it"
fi
exec "$CARGO_TARGET_DIR/release/pupero" "${@:-serve}"
