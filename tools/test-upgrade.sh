#!/bin/sh
# test-upgrade.sh — an upgrade and a downgrade over real data, with real binaries:
#   1. builds the previous release (FAXBOT_PREVIOUS_REF, default 0817294: the last
#      commit with database schema v2) from `git archive` into a temp dir;
#   2. the old gateway takes a fax (loopback: sent, received back as inbound);
#   3. the new gateway (BUILD, default build/) starts on the same data directory:
#      the schema migrates, the job and the received fax (and its PDF) are there,
#      and a new fax goes through;
#   4. the old gateway on the migrated data refuses to start, saying why.
# Slow (a second build); part of `make test-package`, not of `make test`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build}
ref=${FAXBOT_PREVIOUS_REF:-0817294}
py=/usr/bin/python3
check="$py $root/tools/package-check.py"
work=$(mktemp -d /var/tmp/faxbot-upgrade.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT INT TERM
key=upgrade-test-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data="$work/data"
export FAX_DATA_DIR="$data" API_KEY="$key" FAXBOT_LISTEN="127.0.0.1:$port"

echo "-- building the previous release ($ref: $(git log -1 --format=%s "$ref" | cut -c1-60)…)"
mkdir -p "$work/old"
git archive "$ref" | tar -x -C "$work/old"
(cd "$work/old" && meson setup build --buildtype=debugoptimized >/dev/null && nice ninja -C build -j2 faxbot faxbot-render >/dev/null)
old="$work/old/build/faxbot"
new="$root/$build/faxbot"

serve() {   # $1 binary; the log in $work/serve.log
    "$1" serve >>"$work/serve.log" 2>&1 &
    pid=$!
}
stop() {
    kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
    [ "$rc" = 0 ] || { echo "FAIL: exit $rc after SIGTERM"; tail -20 "$work/serve.log"; exit 1; }
}
schema() { sqlite3 "$data/faxbot.db" 'PRAGMA user_version'; }

echo "-- the old gateway takes a fax"
serve "$old"
job=$($check "http://127.0.0.1:$port" "$key" | tail -1)
stop
echo "job $job sent and received by $ref; schema v$(schema)"

echo "-- the new gateway on the same data"
serve "$new"
$check "http://127.0.0.1:$port" "$key" --expect-job "$job" | sed 's/^/   /'
stop
after=$(schema)
echo "schema after the upgrade: v$after"
echo "jobs: $(sqlite3 "$data/faxbot.db" 'SELECT count(*) FROM fax_jobs'), inbound: $(sqlite3 "$data/faxbot.db" 'SELECT count(*) FROM inbound_faxes' 2>/dev/null || echo '?')"

echo "-- the old gateway on the upgraded data (downgrade)"
rc=0
"$old" serve >"$work/downgrade.log" 2>&1 || rc=$?
cat "$work/downgrade.log"
[ "$rc" != 0 ] || { echo "FAIL: the old binary started on a newer schema"; exit 1; }
grep -q "schema is version $after but this faxbot knows only up to" "$work/downgrade.log" \
    || { echo "FAIL: no clear message about the newer schema"; exit 1; }
[ "$(schema)" = "$after" ] || { echo "FAIL: the refused downgrade changed the schema"; exit 1; }
echo "downgrade refused (exit $rc), data untouched"
echo "-- upgrade test PASS"
