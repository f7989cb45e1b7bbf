#!/usr/bin/env bash
# Installs the system packages building and testing Tether needs on Debian 12.
# Today that is a C compiler (ring builds a little C) and pkg-config.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need[@]}"
fi
