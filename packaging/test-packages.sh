#!/usr/bin/env bash
# The Debian packages as an admin meets them, on this machine (CI runs as
# root): build both .debs, inspect their files, modes, conffiles and
# dependencies, install them with dpkg, enrol the agent from a bundle,
# start the installed agent without systemd on 127.0.0.1 and query it with
# the installed controller, upgrade and check that nothing the admin made
# was lost, then remove and purge and check what stays (packaging/README.md,
# "Uninstall"). Everything is purged at the end, also after a failure, so
# a second run starts clean.
#
# It refuses to run where Tether is already installed or /etc/tether
# exists: it would install over and purge a real set-up.
#
# TETHER_DEB_PROFILE=release tests the faster-built profile instead of dist.
set -uo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
profile=${TETHER_DEB_PROFILE:-dist}
passed=0
failed=0
ok() { echo "  ok: $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL: $*"; failed=$((failed + 1)); }
# expect WHAT COMMAND...: the command's success is the check.
expect() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
began=$(date +%s)
# The last line is the count, the one before it the verdict.
finish() {
  echo "test-packages: took $(($(date +%s) - began)) s"
  if ((failed)); then
    echo "test-packages: FAILED"
    echo "test-packages: $passed passed, $failed failed"
    exit 1
  fi
  echo "test-packages: PASSED"
  echo "test-packages: $passed passed, $failed failed"
  exit 0
}
mode_of() { stat -c '%a %U:%G' "$1" 2>/dev/null; }

if [[ $(id -u) != 0 ]]; then
  bad "must run as root (dpkg -i)"
  finish
fi
for p in tether-agent tether; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed\|config-files'; then
    bad "package $p is already on this machine; refusing to install over and purge it (dpkg -P $p to clean up a test that was killed)"
    finish
  fi
done
for dir in /etc/tether /var/lib/tether /var/log/tether; do
  if [[ -e $dir ]]; then
    bad "$dir exists; refusing to touch a real Tether set-up (remove it if a killed test left it)"
    finish
  fi
done

work=$(mktemp -d)
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  dpkg -P tether-agent tether >/dev/null 2>&1
  # The purge keeps these by policy; they were made by this test only
  # (checked absent above), so they go too.
  rm -rf /etc/tether /var/lib/tether /var/log/tether /run/tether "$work"
}
trap cleanup EXIT

echo "== build"
start=$(date +%s)
if ! TETHER_SKIP_DEPS=1 TETHER_DEB_PROFILE=$profile bash packaging/build.sh >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log"
  bad "packaging/build.sh"
  finish
fi
grep '^build.sh:' "$work/build.log"
ok "both packages built in $(($(date +%s) - start)) s"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
agent_deb="$target/debian/tether-agent_${version}-1_${arch}.deb"
tether_deb="$target/debian/tether_${version}-1_${arch}.deb"
expect "tether-agent .deb exists" test -f "$agent_deb"
expect "tether .deb exists" test -f "$tether_deb"
((failed)) && finish
# Copies: cargo-deb deletes a package's older .deb from target/debian when
# it makes the upgrade's below.
cp "$agent_deb" "$tether_deb" "$work/"
agent_deb=$work/$(basename "$agent_deb")
tether_deb=$work/$(basename "$tether_deb")

echo "== inspect $(basename "$agent_deb") ($(du -k "$agent_deb" | cut -f1) KiB)"
dpkg-deb -c "$agent_deb" >"$work/agent.files"
dpkg-deb -I "$agent_deb" >"$work/agent.info"
# has_file LISTING MODE PATH: owned by root (dpkg-deb shows 0/0 or root/root).
has_file() { grep -qE "^$2 (0/0|root/root) .* \./$3\$" "$1"; }
expect "agent binary /usr/bin/tether-agent 0755" has_file "$work/agent.files" -rwxr-xr-x usr/bin/tether-agent
expect "unit /lib/systemd/system/tether-agent.service 0644" has_file "$work/agent.files" -rw-r--r-- lib/systemd/system/tether-agent.service
expect "default /etc/tether/agent.toml 0644" has_file "$work/agent.files" -rw-r--r-- etc/tether/agent.toml
expect "logrotate /etc/logrotate.d/tether-agent" has_file "$work/agent.files" -rw-r--r-- etc/logrotate.d/tether-agent
expect "agent man page" has_file "$work/agent.files" -rw-r--r-- usr/share/man/man1/tether-agent.1.gz
expect "agent bash completion" has_file "$work/agent.files" -rw-r--r-- usr/share/bash-completion/completions/tether-agent
dpkg-deb --ctrl-tarfile "$agent_deb" | tar -xO ./conffiles >"$work/agent.conffiles" 2>/dev/null
expect "agent.toml is a conffile" grep -qx /etc/tether/agent.toml "$work/agent.conffiles"
expect "the logrotate file is a conffile" grep -qx /etc/logrotate.d/tether-agent "$work/agent.conffiles"
for script in postinst prerm postrm; do
  expect "maintainer script $script" grep -qE "^ .*[0-9]+ bytes, +[0-9]+ lines +\* +$script " "$work/agent.info"
done
depends=$(dpkg-deb -f "$agent_deb" Depends)
echo "  agent Depends: $depends"
expect "agent depends on libc6" grep -q 'libc6' <<<"$depends"
expect "agent depends on libzstd1" grep -q 'libzstd1' <<<"$depends"
dpkg-deb --fsys-tarfile "$agent_deb" | tar -xO ./lib/systemd/system/tether-agent.service >"$work/unit"
expect "unit runs /usr/bin/tether-agent" grep -qx 'ExecStart=/usr/bin/tether-agent run --config /etc/tether/agent.toml' "$work/unit"
expect "unit names no /usr/local" bash -c "! grep -q /usr/local '$work/unit'"

echo "== inspect $(basename "$tether_deb") ($(du -k "$tether_deb" | cut -f1) KiB)"
dpkg-deb -c "$tether_deb" >"$work/tether.files"
expect "controller binary /usr/bin/tether 0755" has_file "$work/tether.files" -rwxr-xr-x usr/bin/tether
expect "man page tether(1)" has_file "$work/tether.files" -rw-r--r-- usr/share/man/man1/tether.1.gz
expect "man page per command, e.g. tether-pki-issue-agent(1)" has_file "$work/tether.files" -rw-r--r-- usr/share/man/man1/tether-pki-issue-agent.1.gz
pages=$(grep -c 'usr/share/man/man1/.*\.1\.gz$' "$work/tether.files")
expect "more than 20 man pages ($pages)" test "$pages" -gt 20
expect "bash completion" has_file "$work/tether.files" -rw-r--r-- usr/share/bash-completion/completions/tether
expect "zsh completion" has_file "$work/tether.files" -rw-r--r-- usr/share/zsh/vendor-completions/_tether
expect "fish completion" has_file "$work/tether.files" -rw-r--r-- usr/share/fish/vendor_completions.d/tether.fish
expect "controller depends on libc6" bash -c "dpkg-deb -f '$tether_deb' Depends | grep -q libc6"
expect "controller recommends libx11-6" bash -c "dpkg-deb -f '$tether_deb' Recommends | grep -q libx11-6"
expect "controller recommends fonts-dejavu-core" bash -c "dpkg-deb -f '$tether_deb' Recommends | grep -q fonts-dejavu-core"

echo "== install"
if ! dpkg -i "$agent_deb" "$tether_deb" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  bad "dpkg -i"
  finish
fi
ok "dpkg -i both packages"
grep '^tether-agent:' "$work/install.log"
expect "/var/lib/tether is 0700 root:root" test "$(mode_of /var/lib/tether)" = "700 root:root"
expect "/var/log/tether is 0750 root:adm" test "$(mode_of /var/log/tether)" = "750 root:adm"
expect "/etc/tether is 0755 root:root" test "$(mode_of /etc/tether)" = "755 root:root"
for bin in /usr/bin/tether /usr/bin/tether-agent; do
  size=$(stat -c %s "$bin")
  echo "  $bin: $((size / 1024)) KiB"
  expect "$bin carries no DWARF debug info" bash -c "! readelf -S '$bin' | grep -q '\.debug_info'"
done
expect "installed man page is roff" bash -c "zcat /usr/share/man/man1/tether-pki-issue-agent.1.gz | grep -q '^\.TH'"
if command -v systemd-analyze >/dev/null; then
  man_check=yes
  command -v man >/dev/null || man_check=no
  if systemd-analyze verify --man="$man_check" /lib/systemd/system/tether-agent.service >"$work/verify.log" 2>&1; then
    ok "systemd-analyze verify (man check: $man_check)"
  else
    cat "$work/verify.log"
    bad "systemd-analyze verify"
  fi
else
  echo "  skip: systemd-analyze verify: systemd-analyze is not installed (Debian package systemd)"
fi

echo "== enrol"
pki=$work/pki
/usr/bin/tether pki init --org "Package Test" --pki-dir "$pki" >/dev/null
/usr/bin/tether pki issue-agent pkg-test --ip 127.0.0.1 --pki-dir "$pki" --bundle "$work/pkg-test.bundle" >"$work/issue.log"
/usr/bin/tether pki issue-tech alice --tier 1 --pki-dir "$pki" >/dev/null
expect "bundle is 0600" test "$(stat -c %a "$work/pkg-test.bundle")" = 600
expect "issue-agent prints no key" bash -c "! grep -q 'PRIVATE KEY' '$work/issue.log'"
if /usr/bin/tether-agent enroll "$work/pkg-test.bundle" >"$work/enroll.log" 2>&1; then
  ok "tether-agent enroll into /etc/tether"
else
  cat "$work/enroll.log"
  bad "tether-agent enroll"
fi
expect "enroll prints no key" bash -c "! grep -q 'PRIVATE KEY' '$work/enroll.log'"
expect "agent.key is 0600 root:root" test "$(mode_of /etc/tether/agent.key)" = "600 root:root"
expect "agent.toml names the certificate's name" grep -qx 'name = "pkg-test"' /etc/tether/agent.toml
# The admin's change: loopback and any free port (made after enrolment so
# the upgrade below must keep a modified conffile).
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/' /etc/tether/agent.toml
if /usr/bin/tether-agent check-config >"$work/check.log" 2>&1; then
  ok "installed tether-agent check-config"
else
  cat "$work/check.log"
  bad "installed tether-agent check-config"
fi

# Starts the installed agent as the unit would, minus systemd; sets $addr.
start_agent() {
  /usr/bin/tether-agent run --config /etc/tether/agent.toml 2>"$work/agent.log" &
  agent_pid=$!
  addr=
  for _ in $(seq 200); do
    addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/agent.log" | head -n 1)
    [[ -n $addr ]] && return 0
    sleep 0.05
  done
  cat "$work/agent.log"
  return 1
}
stop_agent() {
  kill "$agent_pid" 2>/dev/null
  wait "$agent_pid" 2>/dev/null
  agent_pid=
}
query() {
  /usr/bin/tether --cert "$pki/techs/alice.crt" --key "$pki/techs/alice.key" --ca "$pki/ca.crt" \
    --server-name pkg-test --timeout 5 info "$addr" >"$work/info.log" 2>&1 &&
    grep -q 'you are alice (tier1)' "$work/info.log"
}

echo "== run"
if start_agent; then
  ok "installed agent listens on $addr"
  if query; then ok "installed tether info reaches it"; else cat "$work/info.log"; bad "tether info"; fi
  stop_agent
else
  bad "installed agent did not start"
fi
expect "the audit log records the query" grep -q '"request":"info"' /var/log/tether/audit.jsonl

echo "== upgrade"
# State an upgrade must keep: a restore point stand-in, the key, the log.
mkdir -p /var/lib/tether/restore && echo point >/var/lib/tether/restore/marker
sums() { sha256sum /etc/tether/agent.toml /etc/tether/agent.key /etc/tether/ca.crt /etc/tether/crl.pem /var/lib/tether/restore/marker; }
sums >"$work/before.sums"
records=$(wc -l </var/log/tether/audit.jsonl)
mkdir -p "$work/upgrade"
if cargo deb --no-build --fast --profile "$profile" -p tether-agent --deb-revision 2 -o "$work/upgrade" >"$work/upgrade-build.log" 2>&1 &&
  dpkg -i "$work"/upgrade/tether-agent_*.deb >"$work/upgrade.log" 2>&1; then
  ok "upgrade to $(dpkg-query -W -f='${Version}' tether-agent)"
else
  cat "$work/upgrade-build.log" "$work/upgrade.log"
  bad "upgrade"
fi
expect "upgrade kept the modified agent.toml, key, CA, CRL and restore points" sha256sum -c --quiet "$work/before.sums"
expect "upgrade kept the audit log" test "$(wc -l </var/log/tether/audit.jsonl)" -ge "$records"
expect "upgrade kept /var/lib/tether 0700" test "$(mode_of /var/lib/tether)" = "700 root:root"
if dpkg -i "$work"/upgrade/tether-agent_*.deb >"$work/reinstall.log" 2>&1; then
  ok "reinstall of the same version"
else
  cat "$work/reinstall.log"
  bad "reinstall"
fi
expect "reinstall kept the modified agent.toml, key, CA, CRL and restore points" sha256sum -c --quiet "$work/before.sums"
if start_agent; then
  if query; then ok "after upgrade and reinstall the agent still serves"; else bad "query after upgrade"; fi
  stop_agent
else
  bad "agent did not start after upgrade"
fi

echo "== remove and purge"
dpkg -r tether-agent tether >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; bad "dpkg -r"; }
expect "remove: binaries gone" bash -c "! test -e /usr/bin/tether-agent && ! test -e /usr/bin/tether"
expect "remove: agent.toml and the enrolled key stay" test -f /etc/tether/agent.toml -a -f /etc/tether/agent.key
dpkg -P tether-agent tether >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; bad "dpkg -P"; }
grep '^tether-agent:' "$work/purge.log"
expect "purge: /etc/tether gone (config and enrolled identity)" test ! -e /etc/tether
expect "purge: unit and man pages gone" bash -c "! test -e /lib/systemd/system/tether-agent.service && ! test -e /usr/share/man/man1/tether.1.gz"
expect "purge: audit log kept" test -s /var/log/tether/audit.jsonl
expect "purge: restore points kept" test -f /var/lib/tether/restore/marker
expect "purge: no package state left" bash -c "! dpkg-query -W tether-agent tether 2>/dev/null | grep -q ."
finish
