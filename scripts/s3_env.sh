# shellcheck shell=bash
# Source this to point osqueue's S3 tests and benchmarks at the radosgw of scripts/rgw_start.sh:
#   source scripts/s3_env.sh [PORT]        (default 7480)
export OSQUEUE_S3_ENDPOINT="http://127.0.0.1:${1:-7480}"
export OSQUEUE_S3_BUCKET="${OSQUEUE_S3_BUCKET:-osqueue-test}"
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=testtesttest
export AWS_REGION=us-east-1
