#!/usr/bin/env bash
# The main job on an embedded default: builds Tether, then `tether demo`
# creates a throw-away PKI, starts an agent on 127.0.0.1, queries it as a
# tier-1 technician, shows a denied request and prints the audit log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh
# Build both binaries: the demo starts the agent found beside `tether`.
cargo build --release --locked --bins
exec cargo run --release --locked --quiet --bin tether -- demo "$@"
