#!/usr/bin/env bash
# Installs the system packages building and testing Tether needs on Debian 12.
# Today that is a C compiler (ring and blake3 build a little C), pkg-config,
# and libzstd's headers (the restore store links the system libzstd).
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists libzstd 2>/dev/null || need+=(libzstd-dev)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need[@]}"
fi
