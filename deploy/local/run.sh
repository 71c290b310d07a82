#!/usr/bin/env bash
# The quick start's "run" command: sets up what is missing (a pinned nats-server, a running
# PostgreSQL), builds, and runs `vidkryto dev`: a whole federation on loopback (a nats-server,
# the association on the database vidkryto_dev, the five most populous hromadas' nodes, and
# simulated civic activity) until Ctrl-C. Extra arguments go to `vidkryto dev`
# (e.g. `--nodes 50 --rate 100`, `--dir .vidkryto-dev/federation` to keep the state; see
# `--help`). `./deploy/local/run.sh demo [--signatures N]` runs the one-log demo instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VIDKRYTO_ROOT"
cargo build --release --locked -p vidkryto
vidkryto="${CARGO_TARGET_DIR:-target}/release/vidkryto"
if [ "${1:-}" = "demo" ]; then
  shift
  exec "$vidkryto" demo "$@"
fi
# exec: Ctrl-C and SIGTERM reach vidkryto itself, which stops everything in order.
exec "$vidkryto" dev "$@"
