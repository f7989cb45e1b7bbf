#!/usr/bin/env bash
# What of the workspace type-checks for macOS from Debian (issue 19, scope
# 6; README "macOS"): `cargo check --target x86_64-apple-darwin` per crate
# with Debian's Rust 1.96 (std's source built with -Zbuild-std, as for
# Windows) and clang as the target's C compiler. No Apple SDK exists here,
# so crates whose dependencies compile C against the C library (ring,
# bundled SQLite) or probe a system library (zstd through pkg-config) stop
# in those build scripts; nothing links, so no linker is needed.
# Prints one line per crate; exits 1 if a crate listed in CHECKING fails.
# Usage: bash packaging/macos/check.sh   (target dir: target/macos)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash packaging/apt-install.sh rustc-web cargo-web rust-web-src clang llvm
export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=${MAC_TARGET_DIR:-$PWD/target/macos}
export CC_x86_64_apple_darwin=clang AR_x86_64_apple_darwin=llvm-ar
# The crates that check today; keep them so.
CHECKING=(tether-proto tether-os tether-audit tether-input tether-testkit)
BLOCKED=(tether-screen-codec tether-pki tether-diag tether-transport tether-restore tether-tickets
  tether-capture tether-client tether-view tether-agent tether)
failed=0
log=$(mktemp)
for crate in "${CHECKING[@]}" "${BLOCKED[@]}"; do
  if nice -n 10 /usr/bin/cargo check --locked -q -p "$crate" -Zbuild-std=std,panic_abort \
    --target x86_64-apple-darwin >"$log" 2>&1; then
    echo "checks   $crate"
  else
    why=$(grep -m1 -o 'failed to run custom build command for `[^`]*`\|error\[E[0-9]*\].*' "$log" || true)
    echo "blocked  $crate: ${why:-see the cargo output}"
    [[ " ${CHECKING[*]} " == *" $crate "* ]] && { failed=1; tail -n 30 "$log"; }
  fi
done
rm -f "$log"
exit "$failed"
