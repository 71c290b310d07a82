#!/usr/bin/env bash
# The quick start's "test" command: sets up what is missing, then runs the whole test suite
# (unit, conformance, golden and system tests) against real PostgreSQL, SQLite and NATS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VIDKRYTO_ROOT"
# A one-off build gains nothing from incremental state, which would add gigabytes to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The house rules first: formatting, lints as errors, and no module cycle in any crate.
cargo fmt --all --check
python3 .ci/module-cycles.py "$VIDKRYTO_ROOT"
cargo clippy --workspace --locked --all-targets -- -D warnings
cargo test --workspace --locked --all-targets "$@"
cargo test --workspace --locked --doc "$@"
