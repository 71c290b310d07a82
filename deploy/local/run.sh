#!/usr/bin/env bash
# The quick start's "run" command: sets up what is missing, builds, and runs vidkryto's
# end-to-end demo. Extra arguments go to `vidkryto demo`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VIDKRYTO_ROOT"
cargo run --release --locked -p vidkryto -- demo "$@"
