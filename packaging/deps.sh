#!/usr/bin/env bash
# Installs the system packages building and testing Tether needs on Debian 12:
# - a C compiler and pkg-config (ring and blake3 build a little C);
# - libzstd's headers (the restore store and screen codec link the system libzstd);
# - libxcb's headers for the optional scrap capture backend the agent builds in;
# - for the screen and input tests: Xvfb, xterm (typing target), xdotool and
#   xrandr/xset (to check and change the test displays);
# - for `tether view`: the X11 and xkbcommon libraries its window (winit and
#   softbuffer) loads at run time: libX11, libX11-xcb, libXcursor, libXi,
#   libxkbcommon and libxkbcommon-x11 (keyboard layouts and key events);
# - GNU time, which measures the controller's peak memory in the tests;
# - prometheus, whose promtool checks `tether fleet check --format prometheus`;
# - dpkg-dev, whose dpkg-shlibdeps finds the packages' library dependencies;
# - attr, acl and libcap2-bin: getfattr, getfacl and setcap, which the restore
#   tests compare extended attributes, ACLs and capabilities with;
# - postgresql: the ticket store's PostgreSQL tests and bench start a private
#   server from its initdb and postgres (tether-testkit, feature postgres);
# - fonts-dejavu-core: DejaVu Sans, the font `tether report --chart` draws
#   its text with (and its tests check);
# - for the Windows build and its tests under Wine (packaging/windows/test.sh,
#   which tests/run.sh runs; the list is repeated there so it runs alone):
#   Debian's Rust with std's source (rustc-web, cargo-web, rust-web-src),
#   mingw-w64's C compilers, wine64, and jq, which reads cargo's and the
#   agent's JSON there;
# - clang and llvm: the C compiler and archiver of the macOS type-check
#   (packaging/macos/check.sh, which tests/run.sh runs last).
set -euo pipefail
packages=(gcc pkg-config libzstd-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  xvfb xterm xdotool x11-xserver-utils libx11-6 libx11-xcb1 libxcursor1 libxi6 libxkbcommon0
  libxkbcommon-x11-0 time dpkg-dev prometheus attr acl libcap2-bin postgresql fonts-dejavu-core
  rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 jq
  clang llvm)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# A Rust toolchain at least as new as the workspace's rust-version. A newer
# one already on PATH (rustup's, as on CI) is used as it is; otherwise
# Debian's own: rustc-web/cargo-web from bookworm-security track recent
# Rust releases (plain rustc/cargo in bookworm are too old). rustfmt and
# clippy come along so tests/run.sh works too.
manifest="$(dirname "$0")/../Cargo.toml"
if [[ ! -f $manifest ]]; then
  echo "deps.sh: no Cargo.toml beside packaging/: not checking the Rust toolchain"
  exit 0
fi
required=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$manifest" | head -n 1)
cargo_version() { cargo --version 2>/dev/null | awk '{print $2}'; }
# True when version $1 >= version $2.
at_least() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1) == "$2" ]]; }
have=$(cargo_version || true)
if [[ -n $have ]] && at_least "$have" "$required"; then
  echo "deps.sh: using cargo $have ($(command -v cargo)); the workspace needs $required"
  exit 0
fi
echo "deps.sh: cargo ${have:-is missing}${have:+ is older than $required}: installing Debian's rustc-web, cargo-web, rustfmt-web and rust-web-clippy"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends rustc-web cargo-web rustfmt-web rust-web-clippy
hash -r
have=$(cargo_version || true)
if [[ -z $have ]] || ! at_least "$have" "$required"; then
  echo "deps.sh: error: after installing, cargo is ${have:-still missing} but the workspace needs $required" >&2
  echo "deps.sh: error: is bookworm-security in /etc/apt/sources.list? (or install rustup)" >&2
  exit 1
fi
echo "deps.sh: installed cargo $have ($(command -v cargo))"
