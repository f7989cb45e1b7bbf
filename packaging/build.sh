#!/usr/bin/env bash
# Builds the two Debian packages from a checkout:
#   target/debian/tether-agent_<version>-1_<arch>.deb   the agent service
#   target/debian/tether_<version>-1_<arch>.deb         the controller
# (under $CARGO_TARGET_DIR instead of target/ when that is set).
#
# Steps: the build dependencies and a Rust toolchain (deps.sh), cargo-deb if
# missing, the `dist` profile build, the generated assets (unit with /usr/bin
# paths, man pages, completions), then `cargo deb --no-build` per package.
# TETHER_DEB_PROFILE picks another profile (e.g. release, faster to build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${TETHER_DEB_PROFILE:-dist}
target=${CARGO_TARGET_DIR:-target}

if [[ ${TETHER_SKIP_DEPS:-} != 1 ]]; then
  bash packaging/deps.sh
fi
if ! cargo deb --version >/dev/null 2>&1; then
  echo "build.sh: cargo-deb is missing; installing it: cargo install cargo-deb --locked"
  cargo install cargo-deb --locked
fi

start=$(date +%s)
cargo build --profile "$profile" --locked -p tether -p tether-agent --bins
echo "build.sh: $profile build took $(($(date +%s) - start)) s"

out="$target/$profile"
pkg="$out/pkg"
rm -rf "$pkg"
mkdir -p "$pkg/man" "$pkg/agent-man" "$pkg/completions"
# Man pages and completions come from the binaries being packaged, so they
# always describe exactly that command line.
"$out/tether" man --dir "$pkg/man" >/dev/null
"$out/tether-agent" man >"$pkg/agent-man/tether-agent.1"
gzip -9n "$pkg"/man/*.1 "$pkg/agent-man/tether-agent.1"
"$out/tether" completions bash >"$pkg/completions/tether.bash"
"$out/tether" completions zsh >"$pkg/completions/_tether"
"$out/tether" completions fish >"$pkg/completions/tether.fish"
"$out/tether-agent" completions bash >"$pkg/completions/tether-agent.bash"
# One unit source for both installs: by hand it runs /usr/local/bin, the
# package's runs /usr/bin.
sed 's#/usr/local/bin/#/usr/bin/#g' packaging/tether-agent.service >"$pkg/tether-agent.service"
if grep -q /usr/local "$pkg/tether-agent.service"; then
  echo "build.sh: the packaged unit still names /usr/local" >&2
  exit 1
fi

for package in tether-agent tether; do
  cargo deb --no-build --profile "$profile" -p "$package"
done
ls -l "$target"/debian/*.deb
