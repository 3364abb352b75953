#!/bin/sh
# test-upgrade.sh — an upgrade and a downgrade over real data, with real binaries:
#   1. builds the previous release (FAXBOT_PREVIOUS_REF, default 0817294: the last
#      commit with database schema v2) from `git archive` into a temp dir;
#   2. the old gateway takes a fax (loopback: sent, received back as inbound);
#   3. the new gateway (BUILD, default build/) starts on the same data directory:
#      the schema migrates, the job and the received fax (and its PDF) are there,
#      and a new fax goes through;
#      The data directory also holds a settings file written by the current build
#      (config/faxbot.config.json, "version": 1; the old release had none): its
#      values are in force after the upgrade and a change made then survives a restart;
#   4. a settings file of a newer version (a downgrade of the settings) stops the
#      start with a clear message, and nothing in the data directory changes;
#   5. the old gateway on the migrated data refuses to start, saying why.
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
settings() {   # $1 "put JSON" or "get NAME=VALUE ..." against the running gateway
    $py - "http://127.0.0.1:$port" "$key" "$@" <<'PY'
import json, sys, requests
url, key, op, *rest = sys.argv[1:]
h = {"X-API-Key": key}
if op == "put":
    r = requests.put(f"{url}/admin/settings", headers=h, json=json.loads(rest[0]), timeout=30)
    sys.exit(0 if r.status_code == 200 else f"FAIL: PUT /admin/settings {r.status_code} {r.text[:300]}")
items = {i["name"]: i for i in requests.get(f"{url}/admin/settings", headers=h, timeout=10).json()["items"]}
for pair in rest:
    name, want = pair.split("=", 1)
    got = items[name]
    if str(got["value"]) != want or got["source"] != "file":
        sys.exit(f"FAIL: {name} is {got['value']!r} from {got['source']}, expected {want!r} from the file")
    print(f"{name}={got['value']} (source: file)")
PY
}
snapshot() { (cd "$data" && find . -type f -exec sha256sum {} + | sort -k2); }

echo "-- the old gateway takes a fax"
serve "$old"
job=$($check "http://127.0.0.1:$port" "$key" | tail -1)
stop
echo "job $job sent and received by $ref; schema v$(schema)"

echo "-- a settings file written by the current build, put into the old data directory"
FAX_DATA_DIR="$work/scratch" "$new" serve >>"$work/serve.log" 2>&1 &
pid=$!
$check "http://127.0.0.1:$port" "$key" --no-send >/dev/null
settings put '{"fax_max_attempts": 7, "fax_header": "Upgrade check"}'
stop
mkdir -p "$data/config"
cp "$work/scratch/config/faxbot.config.json" "$data/config/"
echo "   $(cat "$data/config/faxbot.config.json")"

echo "-- the new gateway on the same data"
serve "$new"
$check "http://127.0.0.1:$port" "$key" --expect-job "$job" | sed 's/^/   /'
settings get FAX_MAX_ATTEMPTS=7 "FAX_HEADER=Upgrade check" | sed 's/^/   /'
settings put '{"fax_max_attempts": 6}'
stop
serve "$new"
$check "http://127.0.0.1:$port" "$key" --no-send >/dev/null
settings get FAX_MAX_ATTEMPTS=6 "FAX_HEADER=Upgrade check" | sed 's/^/   after a change and a restart: /'
stop

echo "-- a settings file of a newer version"
cp "$data/config/faxbot.config.json" "$work/settings.keep"
$py -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["version"]=2; json.dump(d,open(p,"w"))' \
    "$data/config/faxbot.config.json"
before=$(snapshot)
rc=0
"$new" serve >"$work/newer.log" 2>&1 || rc=$?
cat "$work/newer.log"
[ "$rc" != 0 ] || { echo "FAIL: the gateway started on a newer settings file"; exit 1; }
grep -q "has version 2, written by a newer faxbot; this faxbot reads only version 1" "$work/newer.log" \
    || { echo "FAIL: no clear message about the newer settings file"; exit 1; }
grep -q "listening" "$work/newer.log" && { echo "FAIL: it listened before refusing"; exit 1; }
[ "$(snapshot)" = "$before" ] || { echo "FAIL: the refused start changed the data directory"; exit 1; }
echo "newer settings file refused (exit $rc), data untouched"
cp "$work/settings.keep" "$data/config/faxbot.config.json"
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
