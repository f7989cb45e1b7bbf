#!/usr/bin/env bash
# The Windows build and its tests under Wine, on Debian 12 (see issue 19 and
# "Windows" in ARCHITECTURE.md):
#  1. installs the packages: Debian's Rust 1.96 with std's source (the
#     workspace's rustup toolchain has no Windows std here, so std is built
#     with -Zbuild-std), mingw-w64's C compiler and linker, and Wine;
#  2. cross-builds tether-agent.exe and tether.exe for x86_64-pc-windows-gnu;
#  3. runs both binaries' --version/--help under Wine;
#  4. cross-builds the unit tests of the crates that build for Windows
#     (proto, screen codec, PKI, audit, os) and runs them under Wine;
#  5. smoke test: the Windows agent under Wine answers the Linux controller
#     (`tether info` and `tether net`, QUIC with mutual TLS on loopback).
# Wine 8 lacks bcryptprimitives.dll's ProcessPrng, which Rust's std imports;
# a stand-in built here from bcryptprimitives.c sits beside every .exe run.
#
# Usage: bash packaging/windows/test.sh        (from anywhere; needs root
# for apt-get only when a package is missing)
# Environment: WIN_TARGET_DIR (default target/windows) is the cargo target
# directory of the Windows build; LINUX_TETHER is the Linux controller to
# use (default: built with the normal toolchain into target/).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=$SECONDS
say() { echo "windows/test.sh: $*"; }

# 1. Packages.
packages=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 jq)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)

# 2. The Windows build: Debian's rustc and cargo (not rustup's on PATH).
target=x86_64-pc-windows-gnu
win_dir=${WIN_TARGET_DIR:-$root/target/windows}
export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=$win_dir
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
wcargo() { /usr/bin/cargo "$@" --locked -Zbuild-std=std,panic_abort --target "$target"; }
say "cross-building tether-agent.exe and tether.exe"
wcargo build -p tether-agent -p tether
bin=$win_dir/$target/debug
x86_64-w64-mingw32-gcc -shared -O2 -o "$bin/bcryptprimitives.dll" \
  packaging/windows/bcryptprimitives.c -ladvapi32

# 3. Wine, in a private prefix.
WINEPREFIX=$(mktemp -d /tmp/tether-wine.XXXXXX)
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null || true
  WINEPREFIX=$WINEPREFIX wineserver -k 2>/dev/null || /usr/lib/wine/wineserver -k 2>/dev/null || true
  rm -rf "$WINEPREFIX" "${smoke:-}"
}
trap cleanup EXIT
run_wine() { "$wine" "$@"; }
say "binaries under Wine"
run_wine "$bin/tether-agent.exe" --version | grep -q '^tether-agent '
run_wine "$bin/tether-agent.exe" --help | grep -q 'check-config'
run_wine "$bin/tether.exe" --help | grep -q 'pki'

# 4. Unit tests of the crates that build for Windows.
say "cross-building unit tests"
tests=$(wcargo test --no-run --lib --tests -p tether-proto -p tether-screen-codec -p tether-pki \
  -p tether-audit -p tether-os --message-format=json |
  jq -r 'select(.reason == "compiler-artifact" and .executable != null) | .executable')
failed=0
for exe in $tests; do
  cp "$bin/bcryptprimitives.dll" "$(dirname "$exe")/"
  name=$(basename "$exe")
  if out=$(run_wine "$exe" -q 2>&1); then
    say "ok   $name: $(grep -o '[0-9]* passed.*' <<<"$out" | tail -n 1)"
  else
    failed=1
    say "FAIL $name"
    echo "$out" | tail -n 40
  fi
done
((failed == 0)) || { say "unit tests FAILED under Wine"; exit 1; }

# 5. Smoke test: Linux controller, Windows agent under Wine.
if [[ -n ${LINUX_TETHER:-} ]]; then
  tether=$LINUX_TETHER
else
  say "building the Linux controller"
  env -u RUSTC -u RUSTC_BOOTSTRAP -u CARGO_TARGET_DIR cargo build --locked -p tether
  tether=$root/target/debug/tether
fi
smoke=$(mktemp -d /tmp/tether-wine-smoke.XXXXXX)
"$tether" pki init --org "Wine Test" --pki-dir "$smoke/pki" >/dev/null
"$tether" pki issue-agent wine-agent --ip 127.0.0.1 --pki-dir "$smoke/pki" >/dev/null
"$tether" pki issue-tech wine-tech --tier 2 --pki-dir "$smoke/pki" >/dev/null
# Wine sees the Linux root as drive Z:.
w() { echo "Z:$1" | tr / '\\\\'; }
port=$((20000 + RANDOM % 20000))
cat >"$smoke/agent.toml" <<EOF
name = "wine-agent"
listen = "127.0.0.1:$port"
control_socket = '\\\\.\\pipe\\tether-wine-test-$port'

[tls]
cert = '$(w "$smoke/pki/agents/wine-agent.crt")'
key = '$(w "$smoke/pki/agents/wine-agent.key")'
ca = '$(w "$smoke/pki/ca.crt")'
crl = '$(w "$smoke/pki/crl.pem")'

[audit]
path = '$(w "$smoke/audit.jsonl")'
EOF
say "starting the Windows agent under Wine on 127.0.0.1:$port"
run_wine "$bin/tether-agent.exe" run --config "$(w "$smoke/agent.toml")" 2>"$smoke/agent.log" &
agent_pid=$!
as_tech=(--cert "$smoke/pki/techs/wine-tech.crt" --key "$smoke/pki/techs/wine-tech.key"
  --ca "$smoke/pki/ca.crt" --crl "$smoke/pki/crl.pem" --server-name wine-agent
  --ticket WINE-1 --timeout 20)
up=0
for _ in $(seq 1 120); do
  if grep -q "listening on" "$smoke/agent.log" 2>/dev/null; then up=1; break; fi
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.5
done
if ((up == 0)); then
  say "the Windows agent did not start listening; its log:"
  cat "$smoke/agent.log"
  exit 1
fi
info=$("$tether" "${as_tech[@]}" info "127.0.0.1:$port" --json)
jq -e '.system.host.os_name | test("windows"; "i")' <<<"$info" >/dev/null ||
  { say "info does not report Windows: $info"; exit 1; }
say "ok   tether info: $(jq -r '.system.host | .hostname + ", " + .os_name + " " + .os_version' <<<"$info")"
net=$("$tether" "${as_tech[@]}" net "127.0.0.1:$port" --json) || true
jq -e '.verdict.summary | length > 0' <<<"$net" >/dev/null ||
  { say "net answered nothing usable: $net"; cat "$smoke/agent.log"; exit 1; }
say "ok   tether net: $(jq -r '.verdict.summary' <<<"$net")"
grep -q '"request":"info"' "$smoke/audit.jsonl" ||
  { say "the agent's audit log lacks the info request"; exit 1; }
say "ok   the audit log under Wine records the requests"
say "PASSED in $((SECONDS - started)) s"
