#!/usr/bin/env bash
# Installs those of the Debian packages named as arguments that are not
# installed yet (apt-get, without recommends; needs root then). Used by
# windows/test.sh (deps.sh has the same loop inline: the README's
# walkthrough copies deps.sh alone, so it cannot call this).
set -euo pipefail
need=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
