#!/usr/bin/env bash
# Starts a throw-away single-host Ceph S3 server for osqueue's S3 tests and benchmarks:
# 1 mon + 1 OSD (memstore: RAM-backed, gone when it stops) + 1 radosgw, all on 127.0.0.1,
# no cephx, no mgr, no systemd. Nothing is installed: run scripts/install_rgw.sh first.
#
#   usage: scripts/rgw_start.sh [DIR] [PORT]     (defaults: /tmp/osqueue-rgw 7480)
#   stop:  scripts/rgw_stop.sh [DIR]
#
# S3: http://127.0.0.1:PORT, access key "test", secret "testtesttest", region us-east-1,
# path-style addressing, bucket "osqueue-test" (created here when curl can sign requests).
# DIR/env.sh exports OSQUEUE_S3_* and AWS_* for the tests: `source DIR/env.sh`.
# Ceph also binds 3300, 6789 and 6800-6807 on 127.0.0.1, so one cluster per machine.
# OBJSTORE=bluestore keeps the data in a 2 GiB sparse file in DIR instead of RAM. The memstore
# OSD holds MEMSTORE_BYTES (default 6 GiB; the suite and the benchmarks write many objects).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${1:-/tmp/osqueue-rgw}
PORT=${2:-7480}
BUCKET=${OSQUEUE_S3_BUCKET:-osqueue-test}
OBJSTORE=${OBJSTORE:-memstore}
T0=$(date +%s%N)
ts() { echo "rgw_start: [$((($(date +%s%N) - T0) / 1000000)) ms] $*"; }
die() { echo "rgw_start: $*" >&2; exit 1; }
wait_for() { # wait_for SECONDS CMD...
  local n=$1 i
  shift
  for ((i = 0; i < n * 5; i++)); do "$@" && return 0; sleep 0.2; done
  echo "rgw_start: timed out after ${n} s waiting for: $*" >&2
  return 1
}

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
  command -v "$bin" >/dev/null 2>&1 || die "$bin not found on PATH; run scripts/install_rgw.sh first"
done
case "$D" in /*) ;; *) D="$PWD/$D" ;; esac

# Stop whatever an earlier run left in this directory, then make sure the ports are free.
"$HERE/rgw_stop.sh" "$D" >/dev/null 2>&1 || true
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 3300 6789 "$PORT"; do
  if port_busy "$p"; then
    echo "rgw_start: 127.0.0.1:$p is already in use (another Ceph cluster? stop it first):" >&2
    (ss -ltnp 2>/dev/null | grep -E ":$p\b" >&2) || true
    exit 1
  fi
done

on_error() {
  local rc=$?
  echo "rgw_start: FAILED (exit $rc); log tails from $D/log:" >&2
  local f
  for f in "$D"/log/*; do
    [ -s "$f" ] || continue
    echo "----- $f" >&2
    tail -n 15 "$f" >&2
  done
  "$HERE/rgw_stop.sh" "$D" >/dev/null 2>&1 || true
  exit "$rc"
}
trap on_error ERR

rm -rf "$D"
mkdir -p "$D"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
C="$D/ceph.conf"
cat >"$C" <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
keyring = $D/keyring
run_dir = $D/run
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
log_file = $D/log/\$name.log
mon_data = $D/mon/\$cluster-\$id
osd_data = $D/osd/\$cluster-\$id
mon_data_avail_crit = 1
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_allow_pool_delete = true
[osd]
osd_objectstore = $OBJSTORE
memstore_device_bytes = ${MEMSTORE_BYTES:-6442450944}
bluestore_block_path = $D/osd/ceph-0/block.file
bluestore_block_create = true
bluestore_block_size = 2147483648
osd_memory_target = 939524096
[client.rgw.gw]
# radosgw defaults to ms_mon_client_mode = secure, which cannot work with auth = none
ms_mon_client_mode = crc
# tcp_nodelay cuts small replies (e.g. 412) from ~48 ms to a few ms
rgw_frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw_data = $D/rgw
debug_rgw = 0/0
EOF

ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]" --fsid "$FSID" \
  "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" >"$D/log/mon-mkfs.out" 2>&1
ceph-mon -c "$C" -i a -f >"$D/log/mon.out" 2>&1 &
echo $! >"$D/mon.pid"
mon_up() { ceph -c "$C" --connect-timeout 2 mon stat >/dev/null 2>&1; }
wait_for 30 mon_up
ts "mon up (pid $(cat "$D/mon.pid"))"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph -c "$C" osd new "$OSD_UUID")
ceph-osd -c "$C" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.out" 2>&1
ceph-osd -c "$C" -i "$OSD_ID" -f >"$D/log/osd.out" 2>&1 &
echo $! >"$D/osd.pid"
osd_up() { ceph -c "$C" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; }
wait_for 60 osd_up
ts "osd.$OSD_ID up (pid $(cat "$D/osd.pid"), $OBJSTORE)"

radosgw -c "$C" -n client.rgw.gw -f >"$D/log/rgw.out" 2>&1 &
echo $! >"$D/rgw.pid"
rgw_up() { kill -0 "$(cat "$D/rgw.pid")" 2>/dev/null && port_busy "$PORT"; }
wait_for 120 rgw_up
ts "radosgw listening on 127.0.0.1:$PORT (pid $(cat "$D/rgw.pid"))"

radosgw-admin -c "$C" -n client.admin user create --uid=test --display-name=test \
  --access-key=test --secret-key=testtesttest >"$D/log/user.json" 2>"$D/log/user.err"
ts "S3 user test / testtesttest created"

# Create the bucket with curl's SigV4 signing (curl >= 7.75); the tests create it too if missing.
if curl --help all 2>/dev/null | grep -q -- --aws-sigv4; then
  create_bucket() {
    local code
    # RGW needs x-amz-content-sha256, which curl 7.x only signs when it is given explicitly.
    code=$(curl -s -o "$D/log/bucket.out" -w '%{http_code}' -X PUT \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --aws-sigv4 "aws:amz:us-east-1:s3" --user test:testtesttest \
      "http://127.0.0.1:$PORT/$BUCKET") || return 1
    [ "$code" = 200 ] || [ "$code" = 409 ]
  }
  if wait_for 20 create_bucket; then ts "bucket $BUCKET ready"; else
    ts "WARNING: could not create bucket $BUCKET with curl ($(cat "$D/log/bucket.out" 2>/dev/null)); the tests create it"
  fi
else
  ts "curl cannot sign requests; the tests will create bucket $BUCKET"
fi

cat >"$D/env.sh" <<EOF
# written by scripts/rgw_start.sh: the S3 settings of the radosgw in $D
export OSQUEUE_S3_ENDPOINT=http://127.0.0.1:$PORT
export OSQUEUE_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=testtesttest
export AWS_REGION=us-east-1
EOF
trap - ERR
ts "ready: source $D/env.sh"
