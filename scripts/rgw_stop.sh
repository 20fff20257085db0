#!/usr/bin/env bash
# Stops the daemons scripts/rgw_start.sh started in DIR, by the PIDs it recorded (rgw, then osd,
# then mon), and removes DIR. Safe to run when nothing is running.
#   usage: scripts/rgw_stop.sh [DIR]      (default /tmp/osqueue-rgw)
set -uo pipefail

D=${1:-/tmp/osqueue-rgw}
[ -d "$D" ] || exit 0
for name in rgw osd mon; do
  f="$D/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    echo "rgw_stop: stopped $name (pid $pid)"
  fi
  rm -f "$f"
done
# Only remove a directory that looks like ours.
if [ -f "$D/ceph.conf" ]; then rm -rf "$D"; fi
