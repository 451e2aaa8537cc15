#!/usr/bin/env bash
# Builds the runtime stage of the Dockerfile with a real Docker daemon and runs the image:
#
# - the daemon is Debian's dockerd, started here on a private socket and data directory (vfs
#   storage, no bridge, no iptables) and stopped at the end;
# - with no registry to pull from, the stage is built on a stand-in for the distroless base made
#   of the same Debian 12 files (glibc, libgcc, CA certificates, the `nonroot` user 65532), and
#   its `builder` is an image holding the `pupero` binary this checkout built; the compiling
#   stages above it (cargo-chef on rust:1-bookworm) need a registry and are not built here;
# - then, as an operator would: `migrate` into a fresh named volume, `serve` in production mode
#   on it, the image's own HEALTHCHECK turning healthy, `/readyz` answering, the process and the
#   database belonging to 65532, the website (`web`) from the same image healthy in front of it,
#   and `docker stop` ending both cleanly.
#
#   deploy/check_image.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

ensure_docker
export PATH="$PUPERO_DOCKER_BIN:$PATH"

# Bounds, not pauses: every wait polls its condition until it holds or the deadline passes.
DAEMON_DEADLINE_SECS=60
HEALTHY_DEADLINE_SECS=90
STOP_DEADLINE_SECS=30

WORK=$(mktemp -d /tmp/pupero-image.XXXXXX)
SOCKET="unix://$WORK/docker.sock"
docker() { command docker -H "$SOCKET" "$@"; }

cleanup() {
  set +e
  if [ -f "$WORK/dockerd.pid" ]; then
    docker rm -f pupero-check-api pupero-check-web >/dev/null 2>&1
    local pid
    pid=$(cat "$WORK/dockerd.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 $((STOP_DEADLINE_SECS * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  # Whatever the daemon left mounted under its folders, then the folders.
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  log "image check failed: $*"
  for c in pupero-check-api pupero-check-web; do
    docker logs --tail 40 "$c" 2>&1 | sed "s/^/  $c: /" >&2 || true
  done
  tail -20 "$WORK/dockerd.log" | sed 's/^/  dockerd: /' >&2 || true
  exit 1
}

# Polls a command until it succeeds, for at most $1 seconds.
wait_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

log "image: starting a private Docker daemon"
dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  -H "$SOCKET" --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false \
  --userland-proxy=false >"$WORK/dockerd.log" 2>&1 &
wait_until "$DAEMON_DEADLINE_SECS" docker version >/dev/null 2>&1 || fail "dockerd did not answer"

log "image: building the binary, the stand-in base and the Dockerfile's runtime stage"
cargo build --locked --quiet --bin pupero
BINARY="$CARGO_TARGET_DIR/debug/pupero"

# The stand-in base: what distroless cc-debian12:nonroot holds and the binary needs.
BASE="$WORK/base"
mkdir -p "$BASE/etc/ssl/certs" "$BASE/tmp" "$BASE/home/nonroot"
chmod 1777 "$BASE/tmp"
for lib in $(ldd "$BINARY" | grep -o '/[^ ]*'); do
  cp --parents -L "$lib" "$BASE/"
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$BASE/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$BASE/etc/group"
cp /etc/ssl/certs/ca-certificates.crt "$BASE/etc/ssl/certs/"
printf 'FROM scratch\nCOPY . /\n' >"$BASE/Dockerfile"
docker build -q -t pupero-check/runtime-base "$BASE" >/dev/null || fail "the stand-in base did not build"

# The `builder` stage's output, as the Dockerfile's builder leaves it: /out/pupero, /out/data.
BUILT="$WORK/builder"
mkdir -p "$BUILT/out/data"
touch "$BUILT/out/data/.keep"
strip -o "$BUILT/out/pupero" "$BINARY"
printf 'FROM scratch\nCOPY out /out\n' >"$BUILT/Dockerfile"
docker build -q -t pupero-check/builder "$BUILT" >/dev/null || fail "the binary's image did not build"

# The Dockerfile's last stage, verbatim, after a `builder` that is the image above.
RUNTIME="$WORK/runtime"
mkdir -p "$RUNTIME"
{
  echo "ARG RUNTIME_IMAGE"
  echo "FROM pupero-check/builder AS builder"
  awk '/^FROM /{stage=""} {stage = stage $0 "\n"} END {printf "%s", stage}' Dockerfile
} >"$RUNTIME/Dockerfile"
grep -q '^FROM \${RUNTIME_IMAGE}' "$RUNTIME/Dockerfile" || fail "the Dockerfile's last stage is not FROM \${RUNTIME_IMAGE}"
docker build -q --build-arg RUNTIME_IMAGE=pupero-check/runtime-base -t pupero:check "$RUNTIME" >/dev/null ||
  fail "the runtime stage did not build"

[ "$(docker image inspect -f '{{.Config.User}}' pupero:check)" = "65532:65532" ] || fail "the image does not run as 65532"
docker image inspect -f '{{json .Config.Healthcheck.Test}}' pupero:check | grep -q '"healthcheck"' ||
  fail "the image has no HEALTHCHECK through \`pupero healthcheck\`"

log "image: migrate into a fresh volume, serve in production mode, the website in front"
SECRETS=(
  -e PUPERO_MODE=production
  -e "PUPERO_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  -e "PUPERO_DATA_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  -e PUPERO_SMTP_URL=smtp://127.0.0.1:25
  -e "PUPERO_MAIL_FROM=Pupero <noreply@pupero.example>"
  -e PUPERO_PUBLIC_URL=https://pupero.example
)
docker volume create pupero-check-data >/dev/null
docker run --rm --network none -v pupero-check-data:/data "${SECRETS[@]}" pupero:check migrate >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; fail "\`migrate\` failed on a fresh volume"; }

API_PORT=$(free_port)
docker run -d --name pupero-check-api --network host -v pupero-check-data:/data "${SECRETS[@]}" \
  -e PUPERO_LISTEN="127.0.0.1:$API_PORT" -e PUPERO_MIGRATE=check \
  --health-interval 1s --health-start-period 0s pupero:check serve >/dev/null ||
  fail "\`serve\` did not start"

WEB_PORT=$(free_port)
# Docker's --health-cmd runs through a shell the image does not have: the compose file's check
# of the website (exec form) is run with `docker exec` instead.
docker run -d --name pupero-check-web --network host --no-healthcheck pupero:check web \
  --listen "127.0.0.1:$WEB_PORT" --api "http://127.0.0.1:$API_PORT" --origin "http://127.0.0.1:$WEB_PORT" \
  >/dev/null || fail "\`web\` did not start"

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
wait_until "$HEALTHY_DEADLINE_SECS" healthy pupero-check-api || fail "the API container never turned healthy"
web_healthy() { docker exec pupero-check-web /usr/local/bin/pupero healthcheck "http://127.0.0.1:$WEB_PORT/" 2>/dev/null; }
wait_until "$HEALTHY_DEADLINE_SECS" web_healthy || fail "the website's health check never passed"

ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/readyz")
[ "$ready" = 200 ] || fail "/readyz answered $ready"
page=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/")
[ "$page" = 200 ] || fail "the website answered $page"

pid=$(docker inspect -f '{{.State.Pid}}' pupero-check-api)
[ "$(stat -c %u "/proc/$pid")" = 65532 ] || fail "\`serve\` runs as $(stat -c %u "/proc/$pid"), not 65532"
volume=$(docker volume inspect -f '{{.Mountpoint}}' pupero-check-data)
owners=$(find "$volume" -exec stat -c %u {} + | sort -u | tr '\n' ' ')
[ "$owners" = "65532 " ] || fail "the data volume holds files of users $owners"

log "image: docker stop ends both cleanly"
docker stop -t "$STOP_DEADLINE_SECS" pupero-check-web pupero-check-api >/dev/null
for c in pupero-check-api pupero-check-web; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  [ "$code" = 0 ] || fail "$c exited with $code after SIGTERM"
done
log "image: built, migrated, served, healthy and stopped as user 65532"
