#!/usr/bin/env bash
# Installs Ceph radosgw (plus the mon and OSD it needs) from the distribution's packages, so the S3
# tests have a real S3 server with conditional PUTs. Skips the install when radosgw is on PATH.
# Tested on Debian 12 (ceph 16.2); needs root or passwordless sudo. Takes ~30 s.
#   usage: scripts/install_rgw.sh
set -euo pipefail

need=(radosgw ceph-mon ceph-osd ceph monmaptool ceph-authtool radosgw-admin)
missing=()
for bin in "${need[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("$bin"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_rgw: radosgw already installed ($(radosgw --version 2>/dev/null | head -1))"
  exit 0
fi
echo "install_rgw: missing ${missing[*]}; installing ceph-mon ceph-osd radosgw with apt-get"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_rgw: apt-get not found; install ceph-mon, ceph-osd and radosgw (Ceph >= 16) by hand" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    echo "install_rgw: not root and no sudo; cannot install packages" >&2
    exit 1
  fi
fi

t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q >/tmp/osqueue-apt-update.log 2>&1 || {
  tail -n 30 /tmp/osqueue-apt-update.log >&2
  exit 1
}
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  ceph-mon ceph-osd radosgw >/tmp/osqueue-apt-install.log 2>&1 || {
  echo "install_rgw: apt-get install failed; last lines of /tmp/osqueue-apt-install.log:" >&2
  tail -n 40 /tmp/osqueue-apt-install.log >&2
  exit 1
}
echo "install_rgw: installed in $(($(date +%s) - t0)) s ($(radosgw --version 2>/dev/null | head -1))"
