#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, formatting, lints,
# a build of every binary (the end-to-end tests run the real ones), tests,
# then the Debian packages built, installed, run and purged on this machine,
# then the Windows build tested under Wine (packaging/windows/test.sh), and
# last the crates that can be type-checked for macOS (packaging/macos/check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh
cargo fmt --all -- --check
cargo build --workspace --locked --all-targets
cargo clippy --workspace --locked --all-targets -- -D warnings
cargo test --workspace --locked
# Needs root (dpkg -i), as CI has; prints its own PASSED/FAILED.
if [[ $(id -u) == 0 ]]; then
  bash packaging/test-packages.sh
else
  echo "run.sh: skipping packaging/test-packages.sh: it installs packages and needs root"
fi
# The Windows build and its tests under Wine, with the controller and the
# agent built above for the Linux side; prints its own PASSED.
LINUX_TETHER=target/debug/tether LINUX_AGENT=target/debug/tether-agent \
  bash packaging/windows/test.sh
# The crates that type-check for macOS keep doing so (README, "macOS").
bash packaging/macos/check.sh
