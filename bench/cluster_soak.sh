#!/bin/sh
# bench/cluster_soak.sh [BUILD_DIR] — issue 14's soak at full size: three gateway
# nodes on different ports sharing one real PostgreSQL 15 (tests/peers/pg.py) and one
# S3 stand-in (tests/peers/s3_peer.py), FAXBOT_SOAK_JOBS jobs (default 1000) posted
# round-robin through the loopback backend while one node is kill -9'd twice and
# started again; then every accepted job must have ended exactly once with exactly
# one inbound fax, and `faxbot fsck` must be clean. It is tests/api/test_pg_soak.py
# (200 jobs in the normal suite) at 1,000; about 5 minutes on 2 cores. Run by .ci/run
# after `make test`. Exit status: pytest's (0 = passed; a missing PostgreSQL 15 is a
# loud skip, which fails this script: the soak must run where it is asked for).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
[ -x "$build/faxbot" ] || { echo "cluster_soak: $build/faxbot not found; build first (make build)" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
cd "$root"
out=$(mktemp /tmp/faxbot-cluster-soak.XXXXXX)
trap 'rm -f "$out"' EXIT
rc=0
FAXBOT_SOAK_JOBS=${FAXBOT_SOAK_JOBS:-1000} FAXBOT_BIN="$build/faxbot" \
    /usr/bin/python3 -m pytest -q -s -rs -p no:cacheprovider tests/api/test_pg_soak.py >"$out" 2>&1 || rc=$?
cat "$out"
if grep -q "SKIPPED" "$out"; then
    echo "cluster_soak: skipped (no PostgreSQL 15?): not run" >&2
    exit 1
fi
exit "$rc"
