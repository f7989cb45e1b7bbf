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
# - GNU time, which measures the controller's peak memory in the tests.
set -euo pipefail
packages=(gcc pkg-config libzstd-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  xvfb xterm xdotool x11-xserver-utils libx11-6 libx11-xcb1 libxcursor1 libxi6 libxkbcommon0
  libxkbcommon-x11-0 time)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
