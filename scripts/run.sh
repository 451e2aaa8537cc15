#!/usr/bin/env bash
# Sets up and runs Pupero on this machine. For now Pupero is its ledger: this builds the `pupero`
# binary and runs its demo on the embedded SQLite database in ./data (no services needed).
#
#   scripts/run.sh                         # embedded SQLite in ./data/pupero.db
#   PUPERO_DATABASE_URL=mysql://user:pass@127.0.0.1/pupero scripts/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_rust
export PUPERO_DATABASE_URL="${PUPERO_DATABASE_URL:-sqlite://$ROOT/data/pupero.db}"
exec cargo run --release --locked -p pupero-server --bin pupero -- demo "$@"
