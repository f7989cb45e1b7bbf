#!/usr/bin/env bash
# Installs the system packages building and testing Tether needs on Debian 12:
# - a C compiler and pkg-config (ring and blake3 build a little C);
# - libzstd's headers (the restore store and screen codec link the system libzstd);
# - libxcb's headers for the optional scrap capture backend the agent builds in;
# - for the screen and input tests: Xvfb, xterm (typing target), xdotool and
#   xrandr (to check and change the test displays), and libX11/libXcursor,
#   which the view window loads at run time;
# - GNU time, which measures the controller's peak memory in the tests.
set -euo pipefail
packages=(gcc pkg-config libzstd-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  xvfb xterm xdotool x11-xserver-utils libx11-6 libxcursor1 time)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
