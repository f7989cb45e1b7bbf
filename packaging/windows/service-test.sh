#!/usr/bin/env bash
# The agent as a Windows service, under Wine 8's service control manager
# (issue 19; README "Windows service"):
#  0. cross-builds the agent's unit tests and runs the service's (name
#     rules, the command line and its parsing, the log's rotation) under Wine;
#  1. `service install` refuses a broken configuration, registers the
#     service (executable and configuration under paths with spaces, so the
#     command line's quoting is exercised) and refuses a second install;
#     its registry key (Wine's sc has no `qc`) shows the command line,
#     automatic start and LocalSystem;
#  2. `net start`: the service-run agent logs to its default log file and
#     answers the Linux controller (`net`) over QUIC with mutual TLS;
#  3. `net stop`: the agent stops the way SIGTERM stops it (the stop is in
#     its log and its audit log) and its process is gone;
#  4. the prefix restarted (Wine's boot), the service starts by itself;
#     `service uninstall` stops and removes it; `sc query` no longer knows
#     it; a second uninstall and a console `service run` each answer one
#     line.
# Not testable here: Wine runs everything as an administrator, so the
# "needs an Administrator prompt" refusal is never reached.
#
# It reuses what packaging/windows/test.sh built (test.sh calls it last):
#  WINE_AGENT_DIR  tether-agent.exe built with quinn-udp-wine.patch, and
#                  the stand-in bcryptprimitives.dll (default
#                  $WIN_TARGET_DIR/wine-agent, i.e. target/windows/wine-agent)
#  LINUX_TETHER    the Linux controller (default target/debug/tether)
# Usage: bash packaging/windows/service-test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=$SECONDS
say() { echo "windows/service-test.sh: $*"; }
win_dir=${WIN_TARGET_DIR:-$root/target/windows}
agent_dir=${WINE_AGENT_DIR:-$win_dir/wine-agent}
tether=${LINUX_TETHER:-$root/target/debug/tether}
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
for file in "$agent_dir/tether-agent.exe" "$agent_dir/bcryptprimitives.dll" "$tether"; do
  [[ -f $file ]] || { say "missing $file: run packaging/windows/test.sh first"; exit 1; }
done

# A private Wine prefix (its own wineserver and services.exe) and a
# scratch directory whose paths hold spaces.
WINEPREFIX=$(mktemp -d /tmp/tether-wine-svc.XXXXXX)
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="
scratch=$(mktemp -d /tmp/tether-wine-svc-files.XXXXXX)
cleanup() {
  exec 9>&- 2>/dev/null || true
  "$wineserver" -k 2>/dev/null || true
  "$wineserver" -w 2>/dev/null || true
  rm -rf "$WINEPREFIX" "$scratch"
}
trap cleanup EXIT
# With no process of its own left, a prefix shuts down 3 s after its last
# command, and Wine's services.exe then ends service processes at once
# (no stop control). A cmd.exe reading a FIFO held open on descriptor 9
# keeps the prefix up between commands (`wineserver -p` hung the next
# command here); closing the descriptor ends it.
mkfifo "$scratch/hold"
"$wine" cmd.exe <"$scratch/hold" >/dev/null 2>&1 &
exec 9>"$scratch/hold"
w() { echo "Z:$1" | tr / '\\\\'; }
exe_dir="$scratch/Tether Agent"
mkdir -p "$exe_dir" "$scratch/agent conf"
cp "$agent_dir/tether-agent.exe" "$agent_dir/bcryptprimitives.dll" "$exe_dir/"
agent() { "$wine" "$exe_dir/tether-agent.exe" "$@"; }
name=TetherWineTest
log=$WINEPREFIX/drive_c/ProgramData/Tether/logs/agent.log
fail() {
  say "$1"
  if [[ -f $log ]]; then echo "--- service log:"; cat "$log"; fi
  exit 1
}
# 0. The service's unit tests, cross-built as test.sh builds (its cargo
# target directory, so only the agent's test harness is new).
say "cross-building the agent's unit tests"
tests=$(RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=$win_dir \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++ \
  AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar \
  /usr/bin/cargo test --locked -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu \
  --no-run --lib --bins -p tether-agent --message-format=json |
  jq -r 'select(.reason == "compiler-artifact" and .executable != null) | .executable')
for exe in $tests; do
  cp "$agent_dir/bcryptprimitives.dll" "$(dirname "$exe")/"
  result=$("$wine" "$exe" service 2>&1) || { echo "$result" | tail -n 40; fail "unit tests failed: $exe"; }
  passed=$(grep -o '[0-9]* passed' <<<"$result" | tail -n 1)
  [[ ${passed%% *} -gt 0 ]] || fail "no service unit test ran in $exe: $result"
  say "ok   $(basename "$exe") service tests: $passed"
done

# Each output whole before it is searched (grep -q in a pipe could cut it).
has() { grep -q -- "$1" <<<"$2"; }

"$tether" pki init --org "Wine Service Test" --pki-dir "$scratch/pki" >/dev/null
"$tether" pki issue-agent wine-svc --ip 127.0.0.1 --pki-dir "$scratch/pki" >/dev/null
"$tether" pki issue-tech wine-tech --tier 1 --pki-dir "$scratch/pki" >/dev/null
port=$((20000 + RANDOM % 20000))
config="$scratch/agent conf/agent.toml"
cat >"$config" <<EOF
name = "wine-svc"
listen = "127.0.0.1:$port"
control_socket = '\\\\.\\pipe\\tether-wine-svc-$port'

[tls]
cert = '$(w "$scratch/pki/agents/wine-svc.crt")'
key = '$(w "$scratch/pki/agents/wine-svc.key")'
ca = '$(w "$scratch/pki/ca.crt")'
crl = '$(w "$scratch/pki/crl.pem")'

[audit]
path = '$(w "$scratch/audit.jsonl")'
EOF

# 1. Install.
if out=$(agent service install --config "$(w "$scratch/missing.toml")" --name TetherBroken 2>&1); then
  fail "a missing configuration was installed: $out"
fi
has "missing.toml" "$out" || fail "the refusal does not name the configuration: $out"
# Wine's `sc query` prints nothing and fails for a service it does not know.
"$wine" sc query TetherBroken >/dev/null 2>&1 && fail "the refused service was registered"
out=$(agent service install --config "$(w "$config")" --name "$name") || fail "install failed: $out"
has "installed service $name" "$out" || fail "install said: $out"
say "ok   service install (a missing configuration refused first)"
if out=$(agent service install --config "$(w "$config")" --name "$name" 2>&1); then
  fail "a second install succeeded: $out"
fi
has "service $name already exists" "$out" || fail "the second install said: $out"
say "ok   a second install: $(tail -n 1 <<<"$out")"
# Wine's sc has no `qc`: the service's registry key holds the same.
key="HKLM\\System\\CurrentControlSet\\Services\\$name"
qc=$("$wine" reg query "$key" 2>&1) || fail "reg query $key failed: $qc"
has 'Start *REG_DWORD *0x2$' "$(tr -d '\r' <<<"$qc")" || fail "not automatic start: $qc"
has 'ObjectName *REG_SZ *LocalSystem' "$qc" || fail "not LocalSystem: $qc"
command_line="\"$(w "$exe_dir/tether-agent.exe")\" service run --config \"$(w "$config")\" --name $name --log-file C:\\ProgramData\\Tether\\logs\\agent.log"
image_path=$(tr -d '\r' <<<"$qc" | sed -n 's/^ *ImagePath *REG_[A-Z_]* *//p')
[[ $image_path == "$command_line" ]] ||
  fail "unexpected command line (wanted $command_line): $qc"
say "ok   registered: automatic start, LocalSystem, the command line quoted: $command_line"

# 2. Start; the controller gets an answer.
started_svc=$("$wine" net start "$name" 2>&1) || fail "net start failed: $started_svc"
up=0
for _ in $(seq 1 120); do
  if [[ -f $log ]] && grep -q "listening on" "$log"; then up=1; break; fi
  sleep 0.5
done
((up == 1)) || fail "the service did not start listening"
query=$("$wine" sc query "$name" 2>&1) || fail "sc query failed: $query"
has RUNNING "$query" || fail "sc query after net start: $query"
say "ok   net start: RUNNING, logging to C:\\ProgramData\\Tether\\logs\\agent.log"
tech() {
  "$tether" --cert "$scratch/pki/techs/wine-tech.crt" --key "$scratch/pki/techs/wine-tech.key" \
    --ca "$scratch/pki/ca.crt" --crl "$scratch/pki/crl.pem" --server-name wine-svc \
    --ticket SVC-1 --timeout 30 "$@" "127.0.0.1:$port"
}
net=$(tech net --json) || (($? <= 2)) || fail "net failed: $net"
jq -e '.verdict.summary | length > 0' <<<"$net" >/dev/null || fail "net answered no verdict: $net"
say "ok   tether net answered by the service: $(jq -r '.verdict.summary' <<<"$net")"

# 3. Stop: the graceful path, then no process left.
# Wine lists a process by its Windows command line, unquoted; the
# scratch directory's name is unique to this run.
running() { pgrep -f "$(basename "$scratch")\\\\Tether Agent\\\\tether-agent.exe service run" >/dev/null; }
running || fail "no service process found while it runs (the check below would prove nothing)"
stopped_svc=$("$wine" net stop "$name" 2>&1) || fail "net stop failed: $stopped_svc"
for _ in $(seq 1 60); do running || break; sleep 0.5; done
running && fail "the service's process is still there after net stop"
has "service control: stop" "$(cat "$log")" || fail "the log lacks the stop control"
grep -q ' stopped head=' "$log" || fail "the log lacks the agent's stop line"
jq -se 'map(.request) | index("agent-stop") != null' "$scratch/audit.jsonl" >/dev/null ||
  fail "the audit log lacks agent-stop: $(cat "$scratch/audit.jsonl")"
query=$("$wine" sc query "$name" 2>&1) || fail "sc query failed: $query"
has STOPPED "$query" || fail "sc query after net stop: $query"
say "ok   net stop: the stop logged and audited (agent-stop), STOPPED, the process gone"

# 4. Automatic start: the prefix shut down and booted again.
exec 9>&-
"$wineserver" -k
"$wineserver" -w
"$wine" cmd.exe <"$scratch/hold" >/dev/null 2>&1 &
exec 9>"$scratch/hold"
for _ in $(seq 1 120); do
  (($(grep -c "listening on" "$log") >= 2)) && break
  sleep 0.5
done
(($(grep -c "listening on" "$log") >= 2)) || fail "the service did not start with the prefix"
running || fail "no service process after the prefix's boot"
say "ok   automatic start: the service runs again after the prefix's boot"
out=$(agent service uninstall --name "$name" 2>&1) || fail "uninstall failed: $out"
has "stopped and removed service $name" "$out" || fail "uninstall said: $out"
(($(grep -c ' stopped head=' "$log") >= 2)) || fail "the uninstall did not stop the agent gracefully"
running && fail "the service's process is still there after the uninstall"
stops=$(jq -s 'map(select(.request == "agent-stop")) | length' "$scratch/audit.jsonl")
((stops == 2)) || fail "the audit log has $stops agent-stop records, not 2"
if query=$("$wine" sc query "$name" 2>&1); then fail "sc query after uninstall: $query"; fi
say "ok   service uninstall of the running service: stopped gracefully, removed (sc query knows it no more)"
if out=$(agent service uninstall --name "$name" 2>&1); then fail "a second uninstall succeeded: $out"; fi
has "service $name does not exist" "$out" || fail "the second uninstall said: $out"
if out=$(agent service run --config "$(w "$config")" 2>&1); then fail "a console service run succeeded: $out"; fi
has "started by the service control manager" "$out" || fail "a console service run said: $out"
say "ok   one-line refusals: $(tail -n 1 <<<"$out")"
echo "--- the service log's lifecycle lines:"
grep -E 'starting as service|listening on|service control|stopped head=' "$log" | cut -c 1-160
say "PASSED in $((SECONDS - started)) s"
