#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, formatting, lints,
# a build of every binary (the end-to-end tests run the real ones), tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh
cargo fmt --all -- --check
cargo build --workspace --locked --all-targets
cargo clippy --workspace --locked --all-targets -- -D warnings
cargo test --workspace --locked
