#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (driven by playwright-core from npm; playwright's
# own browser download cannot work on these machines). Skips the install when it is there.
#   usage: scripts/install_chromium.sh
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "install_chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo -n); fi
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install_chromium: installed in $(($(date +%s) - t0)) s ($(/usr/bin/chromium --version | head -1))"
