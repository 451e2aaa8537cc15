# Shared helpers of Pupero's scripts: install what is missing, start what is down.
# Sourced, not run. Every function is idempotent: on a machine that has everything it only checks.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Reuse one target directory outside the clone, so a fresh clone does not rebuild everything.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pupero-target}"

# The MariaDB account the test suite uses; it may only touch databases named pupero_*.
MARIADB_TEST_USER=pupero_test
MARIADB_TEST_PASSWORD=pupero_test
export PUPERO_TEST_MARIADB_URL="${PUPERO_TEST_MARIADB_URL:-mysql://${MARIADB_TEST_USER}:${MARIADB_TEST_PASSWORD}@127.0.0.1:3306}"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    log "cargo is missing: install Rust ${RUST_VERSION:-1.95} or newer (https://rustup.rs) and run again"
    exit 1
  fi
  rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >/dev/null 2>&1 || true
}

ensure_nextest() {
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install --locked cargo-nextest >/dev/null
  fi
}

wait_for_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

ensure_mariadb() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server mariadb-client
  fi
  if ! wait_for_port 127.0.0.1 3306 1; then
    log "starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_for_port 127.0.0.1 3306 30 || { log "MariaDB did not start"; exit 1; }
  fi
  # A dedicated account limited to pupero_* databases; root keeps whatever auth it has.
  as_root mariadb -uroot <<SQL
CREATE USER IF NOT EXISTS '${MARIADB_TEST_USER}'@'localhost' IDENTIFIED BY '${MARIADB_TEST_PASSWORD}';
CREATE USER IF NOT EXISTS '${MARIADB_TEST_USER}'@'127.0.0.1' IDENTIFIED BY '${MARIADB_TEST_PASSWORD}';
GRANT ALL PRIVILEGES ON \`pupero\_%\`.* TO '${MARIADB_TEST_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`pupero\_%\`.* TO '${MARIADB_TEST_USER}'@'127.0.0.1';
SQL
}

# monerod and monero-wallet-rpc for the wallet tests' private regtest network; the tests start
# (and stop) their own processes, so nothing is left running here.
ensure_monero() {
  if ! command -v monerod >/dev/null 2>&1 || ! command -v monero-wallet-rpc >/dev/null 2>&1; then
    apt_install monero
  fi
}

# Debian's Chromium and its WebDriver for the website's browser tests (which start chromedriver
# themselves), and a font so pages render the same on a bare machine.
ensure_browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver fonts-dejavu-core
  fi
}

# Prometheus and promtool (Debian's): the alert rules are checked and unit-tested, and a real
# Prometheus scrapes a test server. Only the binaries are used; no service is started.
ensure_prometheus() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
  log "installing prometheus"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

# docker-compose (Debian's, v1) validates the compose files without a Docker daemon.
ensure_compose() {
  command -v docker-compose >/dev/null 2>&1 && return 0
  log "installing docker-compose"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  # Without its recommended docker.io: no daemon is needed to validate.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
}

# Debian's Docker daemon (dockerd, containerd, runc), unpacked into a folder outside the clone
# rather than installed, so that nothing starts a system daemon: deploy/check_image.sh starts its
# own, on a private socket, to build the image and run it. No registry is needed.
DOCKER_DIR="${PUPERO_DOCKER_DIR:-$HOME/.cache/pupero-docker}"
ensure_docker() {
  export PUPERO_DOCKER_BIN="$DOCKER_DIR/root/usr/bin:$DOCKER_DIR/root/usr/sbin"
  [ -x "$DOCKER_DIR/root/usr/sbin/dockerd" ] && [ -x "$DOCKER_DIR/root/usr/bin/containerd" ] && return 0
  log "unpacking Debian's docker.io, containerd and runc"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  rm -rf "$DOCKER_DIR" && mkdir -p "$DOCKER_DIR/debs"
  # apt warns that its sandbox user cannot write here; the download itself works.
  (cd "$DOCKER_DIR/debs" && apt-get download -qq docker.io containerd runc 2>&1 | grep -v unsandboxed >&2 || true)
  ls "$DOCKER_DIR"/debs/docker.io_*.deb "$DOCKER_DIR"/debs/containerd_*.deb "$DOCKER_DIR"/debs/runc_*.deb >/dev/null
  local deb
  for deb in "$DOCKER_DIR"/debs/*.deb; do dpkg -x "$deb" "$DOCKER_DIR/root"; done
  rm -rf "$DOCKER_DIR/debs"
}

# axe-core, the accessibility checker the browser tests inject into every page they visit,
# installed with `npm ci` from the lockfile committed beside the tests into a folder outside the
# clone; the tests find it through PUPERO_AXE_JS (or at this default place).
AXE_LOCK_DIR="$ROOT/pupero-web/tests/browser/axe"
AXE_DIR="${PUPERO_AXE_DIR:-$HOME/.cache/pupero-axe}"
ensure_axe() {
  export PUPERO_AXE_JS="$AXE_DIR/node_modules/axe-core/axe.min.js"
  # Installed, and from this very lockfile: nothing to do.
  if [ -f "$PUPERO_AXE_JS" ] && cmp -s "$AXE_LOCK_DIR/package-lock.json" "$AXE_DIR/package-lock.json"; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  local version
  version=$(sed -n 's/.*"axe-core": "\(.*\)".*/\1/p' "$AXE_LOCK_DIR/package.json")
  log "installing axe-core $version"
  mkdir -p "$AXE_DIR"
  cp "$AXE_LOCK_DIR/package.json" "$AXE_LOCK_DIR/package-lock.json" "$AXE_DIR/"
  (cd "$AXE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  [ -f "$PUPERO_AXE_JS" ] || { log "axe-core did not install"; exit 1; }
}

# RabbitMQ for the withdrawal queue's tests (guest/guest on localhost, the package default).
ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    apt_install rabbitmq-server
  fi
  if ! wait_for_port 127.0.0.1 5672 1; then
    # The node may be up with its application stopped (an interrupted broker-restart test).
    if as_root rabbitmqctl -q ping >/dev/null 2>&1; then
      log "starting the RabbitMQ application"
      as_root rabbitmqctl -q start_app >/dev/null
    else
      log "starting RabbitMQ"
      as_root rabbitmq-server -detached >/dev/null 2>&1 || true
    fi
    wait_for_port 127.0.0.1 5672 90 || { log "RabbitMQ did not start"; exit 1; }
  fi
}

# aiosmtpd, the real SMTP server the mail tests start on a free loopback port (they read what
# it receives). Pinned, in a virtual environment of its own so that no system Python changes;
# the tests find it through PUPERO_TEST_SMTP_PYTHON (or at this default place).
AIOSMTPD_VERSION=1.4.6
SMTP_VENV="${PUPERO_SMTP_VENV:-$HOME/.cache/pupero-smtp-venv}"
ensure_aiosmtpd() {
  export PUPERO_TEST_SMTP_PYTHON="$SMTP_VENV/bin/python"
  ensure_venv_package "$SMTP_VENV" aiosmtpd "$AIOSMTPD_VERSION"
}

# Installs PyPI's `package==version` into the virtual environment `dir`, unless it is there.
ensure_venv_package() { # dir package version
  local dir=$1 package=$2 version=$3
  if "$dir/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('$package') != '$version')" 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3
  # Debian's python3 needs python3-venv for `-m venv`; a failed try leaves a half-made folder.
  if ! python3 -m venv --clear "$dir" >/dev/null 2>&1; then
    apt_install python3-venv
    python3 -m venv --clear "$dir"
  fi
  log "installing $package $version"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version"
}

# Synapse, the real Matrix homeserver the chat bridge's tests start on a free loopback port
# (SQLite, no federation, an application service registered). Pinned, in a virtual environment
# of its own (about 250 MB); the tests find it through PUPERO_TEST_SYNAPSE_PYTHON (or at this
# default place).
SYNAPSE_VERSION=1.163.2
SYNAPSE_VENV="${PUPERO_SYNAPSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pupero-synapse-venv}"
ensure_synapse() {
  export PUPERO_TEST_SYNAPSE_PYTHON="$SYNAPSE_VENV/bin/python"
  ensure_venv_package "$SYNAPSE_VENV" matrix-synapse "$SYNAPSE_VERSION"
}

drop_test_databases() {
  local dbs
  dbs=$(as_root mariadb -uroot -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'pupero\\_t\\_%' OR schema_name LIKE 'pupero\\_bench\\_%'")
  for db in $dbs; do
    as_root mariadb -uroot -e "DROP DATABASE IF EXISTS \`$db\`"
  done
}
