#!/usr/bin/env bash
# Sets up and runs Pupero on this machine, with real Monero: installs what is missing (the
# Debian package `monero`), starts a private regtest chain (`monerod --regtest --offline`) and
# the platform's `monero-wallet-rpc` under ./data/regtest, creates the platform wallet, mines
# spendable coins into it, builds the `pupero` binary (release) and serves the API in
# development mode on an embedded SQLite database in ./data, and the website over it. Ctrl-C
# stops everything; the chain, the wallet and the database stay for the next run.
#
#   scripts/run.sh                     # the website on http://127.0.0.1:5000, the API on
#                                      # http://127.0.0.1:8000 (docs at /docs)
#   scripts/run.sh mine [BLOCKS]       # in another terminal: mine blocks (confirms deposits
#                                      # and withdrawals; default 10)
#   PUPERO_RUN_MONERO=0 scripts/run.sh # no wallet: deposits/withdrawals 503
#   PUPERO_RUN_WEB=0 scripts/run.sh    # the API without the website
#   PUPERO_DATABASE_URL=mysql://user:pass@127.0.0.1/pupero scripts/run.sh
#   PUPERO_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/%2f scripts/run.sh
#   scripts/run.sh demo                # the ledger's escrow flow, printed (scratch database)
#   scripts/run.sh admin create-user --username root --role admin   # any `pupero` command,
#                                      # on the same database as the server
#
# SIGINT (Ctrl-C) or SIGTERM stops everything this script started: `pupero web` and `pupero
# serve` first, then monero-wallet-rpc and monerod. Settings: PUPERO_WEB_LISTEN (the website's
# address, 127.0.0.1:5000; plain HTTP on loopback, so its session cookie is not `Secure`), PUPERO_RUN_DATA (default ./data: the database and
# the regtest chain and wallet), PUPERO_DEV_MONEROD_PORT (18081), PUPERO_DEV_MONEROD_P2P_PORT
# (18080), PUPERO_DEV_WALLET_RPC_PORT (18083), PUPERO_BIN (a built `pupero` to run instead of
# building one).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DATA_DIR="${PUPERO_RUN_DATA:-$ROOT/data}"
REGTEST_DIR="$DATA_DIR/regtest"
MONEROD_RPC_PORT="${PUPERO_DEV_MONEROD_PORT:-18081}"
MONEROD_P2P_PORT="${PUPERO_DEV_MONEROD_P2P_PORT:-18080}"
WALLET_RPC_PORT="${PUPERO_DEV_WALLET_RPC_PORT:-18083}"
WALLET_NAME=platform
# Coinbase outputs unlock after 60 blocks: 80 leaves 20 spendable rewards.
FUNDING_BLOCKS=80

daemon_rpc() { # method [params-json]
  curl -sf --max-time 60 "http://127.0.0.1:$MONEROD_RPC_PORT/json_rpc" \
    -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"$1\",\"params\":${2:-{\}}}"
}

wallet_rpc() { # method [params-json]
  curl -sf --max-time 120 --digest -u "$(cat "$REGTEST_DIR/rpc-login")" \
    "http://127.0.0.1:$WALLET_RPC_PORT/json_rpc" -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"$1\",\"params\":${2:-{\}}}"
}

json_field() { # field: reads JSON on stdin, prints result.<field>
  python3 -c "import json,sys; print(json.load(sys.stdin)['result']['$1'])"
}

wait_for() { # description command...
  local what=$1 i
  shift
  for ((i = 0; i < 120; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "$what did not come up; see $REGTEST_DIR/*.log"
  exit 1
}

start_monero() {
  ensure_monero
  command -v curl >/dev/null 2>&1 || apt_install curl
  mkdir -p "$REGTEST_DIR/wallets"
  if [ ! -s "$REGTEST_DIR/rpc-login" ]; then
    (umask 077 && printf 'pupero:%s' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$REGTEST_DIR/rpc-login")
  fi
  if daemon_rpc get_info >/dev/null 2>&1; then
    if ! daemon_rpc get_info | grep -q '"nettype": "fakechain"'; then
      log "a monerod that is not on regtest answers on 127.0.0.1:$MONEROD_RPC_PORT; stop it or set PUPERO_DEV_MONEROD_PORT"
      exit 1
    fi
  else
    if wait_for_port 127.0.0.1 "$MONEROD_RPC_PORT" 1; then
      log "127.0.0.1:$MONEROD_RPC_PORT is taken by another program; set PUPERO_DEV_MONEROD_PORT"
      exit 1
    fi
    log "starting monerod --regtest on 127.0.0.1:$MONEROD_RPC_PORT"
    monerod --regtest --keep-fakechain --offline --fixed-difficulty 1 --non-interactive \
      --data-dir "$REGTEST_DIR/monerod" --log-file "$REGTEST_DIR/monerod.log" \
      --rpc-bind-ip 127.0.0.1 --rpc-bind-port "$MONEROD_RPC_PORT" \
      --p2p-bind-ip 127.0.0.1 --p2p-bind-port "$MONEROD_P2P_PORT" --no-igd \
      >"$REGTEST_DIR/monerod.out" 2>&1 &
    echo $! >"$REGTEST_DIR/monerod.pid"
    wait_for monerod daemon_rpc get_info
  fi
  if ! wallet_rpc get_version >/dev/null 2>&1; then
    if wait_for_port 127.0.0.1 "$WALLET_RPC_PORT" 1; then
      log "127.0.0.1:$WALLET_RPC_PORT is taken by another program (another wallet RPC server?); set PUPERO_DEV_WALLET_RPC_PORT"
      exit 1
    fi
    log "starting monero-wallet-rpc on 127.0.0.1:$WALLET_RPC_PORT"
    monero-wallet-rpc --daemon-address "127.0.0.1:$MONEROD_RPC_PORT" --trusted-daemon \
      --rpc-bind-ip 127.0.0.1 --rpc-bind-port "$WALLET_RPC_PORT" \
      --rpc-login "$(cat "$REGTEST_DIR/rpc-login")" --rpc-ssl disabled --daemon-ssl disabled \
      --wallet-dir "$REGTEST_DIR/wallets" --shared-ringdb-dir "$REGTEST_DIR/ringdb" \
      --log-file "$REGTEST_DIR/wallet-rpc.log" --no-dns --non-interactive \
      >"$REGTEST_DIR/wallet-rpc.out" 2>&1 &
    echo $! >"$REGTEST_DIR/wallet-rpc.pid"
    wait_for monero-wallet-rpc wallet_rpc get_version
  fi
  if ! wallet_rpc open_wallet "{\"filename\":\"$WALLET_NAME\",\"password\":\"\"}" | grep -q '"result"'; then
    log "creating the platform wallet"
    wallet_rpc create_wallet "{\"filename\":\"$WALLET_NAME\",\"password\":\"\",\"language\":\"English\"}" >/dev/null
  fi
  local address height
  address=$(wallet_rpc get_address '{"account_index":0}' | json_field address)
  height=$(daemon_rpc get_block_count | json_field count)
  if [ "$height" -lt "$FUNDING_BLOCKS" ]; then
    log "mining $FUNDING_BLOCKS blocks into the platform wallet (spendable after 60)"
    daemon_rpc generateblocks "{\"amount_of_blocks\":$FUNDING_BLOCKS,\"wallet_address\":\"$address\"}" >/dev/null
  fi
  wallet_rpc refresh >/dev/null
  wallet_rpc store >/dev/null
  export PUPERO_MONERO_NETWORK=regtest
  export PUPERO_WALLET_RPC_URL="http://127.0.0.1:$WALLET_RPC_PORT"
  PUPERO_WALLET_RPC_LOGIN="$(cat "$REGTEST_DIR/rpc-login")"
  export PUPERO_WALLET_RPC_LOGIN
  log "platform wallet $address"
}

stop_monero() {
  log "stopping monero-wallet-rpc and monerod (the chain and the wallet are kept)"
  # Both save their state when asked to stop; a plain kill could lose the newest blocks.
  wallet_rpc stop_wallet >/dev/null 2>&1 || true
  curl -sf --max-time 30 -X POST "http://127.0.0.1:$MONEROD_RPC_PORT/stop_daemon" >/dev/null 2>&1 || true
  local name pid i
  for name in wallet-rpc monerod; do
    if [ -s "$REGTEST_DIR/$name.pid" ]; then
      pid=$(cat "$REGTEST_DIR/$name.pid")
      for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill "$pid" 2>/dev/null || true
      rm -f "$REGTEST_DIR/$name.pid"
    fi
  done
}

mine() { # blocks
  local address height
  address=$(wallet_rpc get_address '{"account_index":0}' | json_field address)
  height=$(daemon_rpc generateblocks "{\"amount_of_blocks\":${1:-10},\"wallet_address\":\"$address\"}" | json_field height)
  log "mined ${1:-10} blocks into the platform wallet; the chain's height is now $height"
}

# The `pupero` binary: PUPERO_BIN, or a release build (the first one takes a while).
pupero_bin() {
  if [ -n "${PUPERO_BIN:-}" ]; then
    PUPERO="$PUPERO_BIN"
    return
  fi
  if [ ! -x "$CARGO_TARGET_DIR/release/pupero" ]; then
    log "building pupero (release) in $CARGO_TARGET_DIR: the first build takes about 10-15 minutes on 2 cores and shows each crate as it compiles; later runs take seconds"
  fi
  cargo build --release --locked -p pupero-server --bin pupero
  PUPERO="$CARGO_TARGET_DIR/release/pupero"
}

SERVE_PID=
WEB_PID=
MONERO_STARTED=0

# Stops what this script started, the server first (it may be sending a withdrawal through
# the wallet), then the wallet and the daemon.
stop_all() {
  trap - INT TERM
  if [ -n "$WEB_PID" ] && kill -0 "$WEB_PID" 2>/dev/null; then
    kill -TERM "$WEB_PID" 2>/dev/null || true
    wait "$WEB_PID" 2>/dev/null || true
  fi
  WEB_PID=
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    log "stopping pupero serve"
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  SERVE_PID=
  if [ "$MONERO_STARTED" = "1" ]; then
    MONERO_STARTED=0
    stop_monero
  fi
}

ensure_rust
mkdir -p "$DATA_DIR"
export PUPERO_DATABASE_URL="${PUPERO_DATABASE_URL:-sqlite://$DATA_DIR/pupero.db}"
export PUPERO_LISTEN="${PUPERO_LISTEN:-127.0.0.1:8000}"
# The website, on this machine, passes each visitor's address to the API (X-Forwarded-For):
# believed from loopback only, so that rate limits and the audit log see people, not the site.
export PUPERO_TRUSTED_PROXIES="${PUPERO_TRUSTED_PROXIES:-127.0.0.1,::1}"

case "${1:-serve}" in
  mine)
    mine "${2:-10}"
    exit 0
    ;;
  serve)
    pupero_bin
    trap stop_all EXIT
    trap 'stop_all; exit 0' INT TERM
    if [ "${PUPERO_RUN_MONERO:-1}" = "1" ]; then
      MONERO_STARTED=1
      start_monero
    fi
    log "database: $PUPERO_DATABASE_URL"
    log "Pupero API on http://$PUPERO_LISTEN (Swagger UI: http://$PUPERO_LISTEN/docs); Ctrl-C stops it"
    # In the background, so that a signal to this script is handled at once (bash runs traps
    # only between commands, and `wait` is one).
    "$PUPERO" serve &
    SERVE_PID=$!
    if [ "${PUPERO_RUN_WEB:-1}" = "1" ]; then
      web_listen="${PUPERO_WEB_LISTEN:-127.0.0.1:5000}"
      log "Pupero website on http://$web_listen"
      "$PUPERO" web --listen "$web_listen" --api "http://$PUPERO_LISTEN" --insecure-dev-cookies &
      WEB_PID=$!
    fi
    status=0
    wait "$SERVE_PID" || status=$?
    SERVE_PID=
    exit "$status"
    ;;
  *)
    pupero_bin
    exec "$PUPERO" "$@"
    ;;
esac
