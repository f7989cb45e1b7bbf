#!/usr/bin/env bash
# The Windows build and its tests under Wine, on Debian 12 (see issue 19 and
# "Windows" in ARCHITECTURE.md):
#  1. installs the packages: Debian's Rust 1.96 with std's source (the
#     workspace's rustup toolchain has no Windows std here, so std is built
#     with -Zbuild-std), mingw-w64's C compiler and linker, and Wine;
#  2. cross-builds tether-agent.exe and tether.exe for x86_64-pc-windows-gnu;
#  3. runs both binaries' --version/--help under Wine;
#  4. cross-builds the unit tests of the crates that build for Windows
#     (proto, screen codec, PKI, audit, os, restore, tickets) and runs them
#     under Wine (os's include the ACL read-back of private files);
#  5. `tether.exe pki init`, `pki issue-tech`, `ticket open` and `ticket
#     export` under Wine: keys, ticket store and export made private (what
#     Wine makes of their ACL: no access for others), certificates not; a
#     store others may read and an export directory others may write are
#     refused; the default store is in
#     %LOCALAPPDATA%;
#  6. smoke test: the Windows agent under Wine answers the Linux controller
#     over QUIC with mutual TLS on loopback: `net`, `doctor`, `audit`, and
#     a request the technician's tier may not make, refused and audited;
#     then `tether-agent sessions list` reaches it over its named pipe;
#  7. the other way round: the Windows controller under Wine asks the
#     Linux agent for `net`, and the agent's audit log records it.
#  8. the Windows agent as a service under Wine's service control manager
#     (packaging/windows/service-test.sh: install, start, answer, stop,
#     uninstall).
# Two Wine gaps are bridged for these tests only, never in what ships:
#  - Wine 8 lacks bcryptprimitives.dll's ProcessPrng, which Rust's std
#    imports: a stand-in built here from bcryptprimitives.c sits beside
#    every .exe run;
#  - quinn-udp fails to open its socket under Wine (getsockopt IPV6_V6ONLY
#    on an IPv4 socket: WSAEOPNOTSUPP; IP_RECVECN: WSAENOPROTOOPT): the
#    agent and controller run in steps 6 and 7 are built again with
#    quinn-udp-wine.patch applied to a copy of quinn-udp (Cargo.lock is put
#    back afterwards).
# Not run under Wine because Wine lacks what they call (they crash the
# agent there): `info` (PDH counters: PdhEnumObjectsW) and `ps` (sysinfo's
# logon-session list).
#
# Usage: bash packaging/windows/test.sh        (from anywhere; needs root
# for apt-get only when a package is missing)
# Environment: WIN_TARGET_DIR (default target/windows) is the cargo target
# directory of the Windows build; LINUX_TETHER and LINUX_AGENT are the Linux
# controller and agent to use (default: both built with the normal
# toolchain into target/; tests/run.sh passes the ones it built).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=$SECONDS
say() { echo "windows/test.sh: $*"; }

# 1. Packages.
packages=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 jq)
bash packaging/apt-install.sh "${packages[@]}"
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
out=$win_dir/$target/debug
bin=$win_dir/dist
mkdir -p "$bin"
cp "$out/tether-agent.exe" "$out/tether.exe" "$bin/"
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
# Each output whole before it is searched (grep -q in a pipe could cut it).
expect() {
  local pattern=$1 text
  shift
  text=$(run_wine "$@")
  grep -q -- "$pattern" <<<"$text" || { say "$* printed no $pattern: $text"; exit 1; }
}
expect '^tether-agent ' "$bin/tether-agent.exe" --version
expect 'check-config' "$bin/tether-agent.exe" --help
expect 'pki' "$bin/tether.exe" --help
say "ok   --version and --help of both binaries"

# 4. Unit tests of the crates that build for Windows.
say "cross-building unit tests"
executables() { jq -r 'select(.reason == "compiler-artifact" and .executable != null) | .executable'; }
# tether-restore's windows_links (Wine 8 makes no symlinks or junctions)
# and nested (its exhaustive faults take over 20 minutes under Wine) run on
# Windows only. (tether-tickets' integration tests are Unix-only: they need
# PostgreSQL.)
tests=$(wcargo test --no-run --lib --tests -p tether-proto -p tether-screen-codec -p tether-pki \
  -p tether-audit -p tether-os -p tether-restore -p tether-tickets --message-format=json |
  jq -c 'select(.reason == "compiler-artifact" and .executable != null)
    | select(.target.name != "windows_links" and .target.name != "nested")' | executables)
failed=0
for exe in $tests; do
  cp "$bin/bcryptprimitives.dll" "$(dirname "$exe")/"
  name=$(basename "$exe")
  if result=$(run_wine "$exe" -q 2>&1); then
    say "ok   $name: $(grep -o '[0-9]* passed.*' <<<"$result" | tail -n 1)"
  else
    failed=1
    say "FAIL $name"
    echo "$result" | tail -n 40
  fi
done
((failed == 0)) || { say "unit tests FAILED under Wine"; exit 1; }

# 5. The PKI made by the Windows controller. Wine keeps no ACL: it turns
# the DACL a file is created with into Unix mode bits (see README,
# "Windows"), so what it enforced shows in the mode on disk.
# Wine sees the Linux root as drive Z:.
w() { echo "Z:$1" | tr / '\\\\'; }
pki_test=$(mktemp -d /tmp/tether-wine-pki.XXXXXX)
trap 'rm -rf "$pki_test"; cleanup' EXIT
made=$(run_wine "$bin/tether.exe" pki init --org "Wine Test" --pki-dir "$(w "$pki_test/pki")")
made+=$(run_wine "$bin/tether.exe" pki issue-tech wine-tech --tier 1 --pki-dir "$(w "$pki_test/pki")")
private="readable by you, SYSTEM and Administrators only"
[[ $(grep -c "$private" <<<"$made") == 2 ]] || { say "pki did not say the keys are private: $made"; exit 1; }
for file in pki pki/ca.key pki/techs pki/techs/wine-tech.key pki/ca.crt pki/techs/wine-tech.crt; do
  mode=$(stat -c %a "$pki_test/$file")
  case $file in
    *.crt) [[ $mode == *4 ]] || { say "$file is mode $mode: a certificate is public"; exit 1; } ;;
    *) [[ $mode == *0 ]] || { say "$file is mode $mode under Wine: others may use it"; exit 1; } ;;
  esac
done
say "ok   tether.exe pki init, issue-tech: keys and their directories private, certificates not"
desk() {
  run_wine "$bin/tether.exe" --cert "$(w "$pki_test/pki/techs/wine-tech.crt")" \
    --db "$(w "$pki_test/desk/tickets.db")" "$@"
}
desk ticket open 'VPN drops' --requester Ada --host ws-042 --category network --priority P2 \
  >/dev/null 2>&1 || { say "tether.exe ticket open failed"; exit 1; }
desk ticket export T-1 "$(w "$pki_test/out")" >/dev/null ||
  { say "tether.exe ticket export failed"; exit 1; }
for file in desk desk/tickets.db out out/T-1.md; do
  mode=$(stat -c %a "$pki_test/$file")
  [[ $mode == *0 ]] || { say "$file is mode $mode under Wine: others may use it"; exit 1; }
done
chmod o+w "$pki_test/out"
if refused=$(desk ticket export T-1 "$(w "$pki_test/out")" --force 2>&1); then
  say "exported into a directory others may write"
  exit 1
fi
grep -q "others may use it (S-1-1-0" <<<"$refused" || { say "the refusal says: $refused"; exit 1; }
chmod o+r "$pki_test/desk/tickets.db"
if refused=$(desk ticket list 2>&1); then say "a store others may read was opened"; exit 1; fi
grep -q "others may use it (S-1-1-0" <<<"$refused" || { say "the refusal says: $refused"; exit 1; }
rm -rf "$pki_test"
say "ok   tether.exe ticket open, export: private; a store others may read, an export directory others may write: refused"
run_wine "$bin/tether.exe" ticket list >/dev/null 2>&1 || { say "tether.exe ticket list failed"; exit 1; }
compgen -G "$WINEPREFIX/drive_c/users/*/AppData/Local/tether/tickets.db" >/dev/null ||
  { say "the default ticket store is not in %LOCALAPPDATA%\\tether"; exit 1; }
say "ok   tether.exe's default ticket store is in %LOCALAPPDATA%\\tether"

# 6. Smoke test: Linux controller, Windows agent under Wine (built with
# the patched quinn-udp; the lock file is restored even on failure).
say "cross-building the agent and the controller for Wine (quinn-udp patched)"
udp_src=$(/usr/bin/cargo metadata --locked --format-version 1 |
  jq -r '.packages[] | select(.name == "quinn-udp") | .manifest_path' | xargs dirname)
udp_wine=$win_dir/quinn-udp-wine
rm -rf "$udp_wine"
cp -r "$udp_src" "$udp_wine"
patch -s -d "$udp_wine" -p1 <packaging/windows/quinn-udp-wine.patch
cp Cargo.lock "$win_dir/Cargo.lock.orig"
restore_lock() { cp "$win_dir/Cargo.lock.orig" "$root/Cargo.lock"; }
trap 'restore_lock; cleanup' EXIT
/usr/bin/cargo build -Zbuild-std=std,panic_abort --target "$target" -p tether-agent -p tether \
  --config "patch.crates-io.quinn-udp.path=\"$udp_wine\""
restore_lock
wine_bin=$win_dir/wine-agent
mkdir -p "$wine_bin"
cp "$out/tether-agent.exe" "$out/tether.exe" "$bin/bcryptprimitives.dll" "$wine_bin/"

if [[ -n ${LINUX_TETHER:-} ]]; then
  tether=$LINUX_TETHER
  linux_agent=${LINUX_AGENT:-$(dirname "$tether")/tether-agent}
else
  say "building the Linux controller and agent"
  env -u RUSTC -u RUSTC_BOOTSTRAP -u CARGO_TARGET_DIR cargo build --locked -p tether -p tether-agent
  tether=$root/target/debug/tether
  linux_agent=$root/target/debug/tether-agent
fi
smoke=$(mktemp -d /tmp/tether-wine-smoke.XXXXXX)
"$tether" pki init --org "Wine Test" --pki-dir "$smoke/pki" >/dev/null
"$tether" pki issue-agent wine-agent --ip 127.0.0.1 --pki-dir "$smoke/pki" >/dev/null
"$tether" pki issue-tech wine-tech --tier 1 --pki-dir "$smoke/pki" >/dev/null
"$tether" pki issue-tech wine-admin --tier 3 --pki-dir "$smoke/pki" >/dev/null
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
run_wine "$wine_bin/tether-agent.exe" run --config "$(w "$smoke/agent.toml")" 2>"$smoke/agent.log" &
agent_pid=$!
tech() {
  local who=$1
  shift
  "$tether" --cert "$smoke/pki/techs/$who.crt" --key "$smoke/pki/techs/$who.key" \
    --ca "$smoke/pki/ca.crt" --crl "$smoke/pki/crl.pem" --server-name wine-agent \
    --ticket WINE-1 --timeout 30 "$@" "127.0.0.1:$port"
}
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
fail() { say "$1"; echo "--- agent log:"; cat "$smoke/agent.log"; exit 1; }
# net and doctor exit 0-2 by their verdict (OK, WARNING, CRITICAL).
net=$(tech wine-tech net --json) || (($? <= 2)) || fail "net failed: $net"
jq -e '.verdict.summary | length > 0' <<<"$net" >/dev/null || fail "net answered no verdict: $net"
say "ok   tether net (tier 1): $(jq -r '.verdict.summary' <<<"$net")"
doctor=$(tech wine-tech doctor --json) || (($? <= 2)) || fail "doctor failed: $doctor"
jq -e '.findings | length > 0' <<<"$doctor" >/dev/null || fail "doctor found nothing: $doctor"
say "ok   tether doctor (tier 1): $(jq '.findings | length' <<<"$doctor") findings"
if denied=$(tech wine-tech audit 2>&1); then fail "a tier-1 technician read the audit log: $denied"; fi
grep -q "needs tier 3" <<<"$denied" || fail "the refusal does not say why: $denied"
say "ok   tether audit (tier 1): refused"
audit=$(tech wine-admin audit --json -n 50) || fail "audit failed: $audit"
for request in net doctor; do
  jq -e --arg r "$request" 'any(.[]; .request == $r and .outcome == "ok")' <<<"$audit" >/dev/null ||
    fail "the audit log lacks a successful $request: $audit"
done
jq -e 'any(.[]; .request == "audit-tail" and .outcome == "denied")' <<<"$audit" >/dev/null ||
  fail "the audit log lacks the refused audit-tail: $audit"
say "ok   tether audit (tier 3): the requests above, the refusal included, are on record"
sessions=$(run_wine "$wine_bin/tether-agent.exe" sessions list --json \
  --config "$(w "$smoke/agent.toml")") || fail "sessions list failed: $sessions"
jq -e 'type == "array"' <<<"$sessions" >/dev/null || fail "sessions list answered: $sessions"
say "ok   tether-agent sessions list over the named pipe"

# 7. The Windows controller under Wine, the Linux agent.
lport=$((port + 1))
cat >"$smoke/linux-agent.toml" <<EOF
name = "linux-agent"
listen = "127.0.0.1:$lport"
control_socket = "$smoke/linux-agent.sock"

[tls]
cert = "$smoke/pki/agents/linux-agent.crt"
key = "$smoke/pki/agents/linux-agent.key"
ca = "$smoke/pki/ca.crt"
crl = "$smoke/pki/crl.pem"

[audit]
path = "$smoke/linux-audit.jsonl"
EOF
"$tether" pki issue-agent linux-agent --ip 127.0.0.1 --pki-dir "$smoke/pki" >/dev/null
"$linux_agent" run --config "$smoke/linux-agent.toml" 2>"$smoke/linux-agent.log" &
linux_pid=$!
trap 'kill "$linux_pid" 2>/dev/null || true; restore_lock; cleanup' EXIT
up=0
for _ in $(seq 1 60); do
  if grep -q "listening on" "$smoke/linux-agent.log" 2>/dev/null; then up=1; break; fi
  sleep 0.5
done
((up == 1)) || { say "the Linux agent did not start:"; cat "$smoke/linux-agent.log"; exit 1; }
net=$(run_wine "$wine_bin/tether.exe" --cert "$(w "$smoke/pki/techs/wine-tech.crt")" \
  --key "$(w "$smoke/pki/techs/wine-tech.key")" --ca "$(w "$smoke/pki/ca.crt")" \
  --crl "$(w "$smoke/pki/crl.pem")" --server-name linux-agent --ticket WINE-2 --timeout 30 \
  net --json "127.0.0.1:$lport") || (($? <= 2)) || {
  say "tether.exe net failed: $net"
  cat "$smoke/linux-agent.log"
  exit 1
}
jq -e '.verdict.summary | length > 0' <<<"$net" >/dev/null || { say "tether.exe net: $net"; exit 1; }
recorded=0
for _ in $(seq 1 20); do
  if jq -se 'any(.[]; .request == "net" and .outcome == "ok" and .ticket == "WINE-2")' \
    "$smoke/linux-audit.jsonl" >/dev/null 2>&1; then recorded=1; break; fi
  sleep 0.25
done
((recorded == 1)) ||
  { say "the Linux agent's audit log lacks the request:"; cat "$smoke/linux-audit.jsonl"; exit 1; }
say "ok   tether.exe net (Windows controller under Wine, Linux agent): $(jq -r '.verdict.summary' <<<"$net")"

WINE_AGENT_DIR=$wine_bin LINUX_TETHER=$tether bash packaging/windows/service-test.sh # 8. as a service
say "PASSED in $((SECONDS - started)) s"
