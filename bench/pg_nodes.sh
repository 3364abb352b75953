#!/bin/bash
# bench/pg_nodes.sh [BUILD_DIR] — the gateway on PostgreSQL: GET /fax/{id} and POST
# /fax throughput of one node and of three nodes sharing one PostgreSQL, as ratios
# to the SQLite single node measured in the same run (not part of `make test`).
#
# Starts a real PostgreSQL 15 through tests/peers/pg.py (a temp dir, Unix socket)
# and makes it durable like a production server (fsync, synchronous_commit and
# full_page_writes on: SQLite runs with synchronous=FULL, so both pay for a durable
# commit; the data of both live on the same file system). Then, one configuration at
# a time: SQLite single node; PostgreSQL single node; three PostgreSQL nodes on
# different ports. Every node runs with FAX_DISABLED=true, so accepted jobs stay
# queued and what is measured is the API and the store, not fax conversion; all
# nodes use the env API key and no rate limit. wrk drives GET /fax/{id} (a job made
# before) and POST /fax (bench/post_fax.lua) for BENCH_DURATION (default 5s) each
# with 32 connections in all: one wrk -t2 -c32 against a single node, or three wrk
# -t1 -c11 at once (one per node) against three nodes, their requests/s summed. All
# nodes run throughout and the cells take turns for BENCH_ROUNDS rounds (default 3):
# the best round of each cell counts, so a busy moment of a shared machine does not
# decide a ratio.
# Prints a table and writes it to bench/results/pg_nodes.txt.
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/faxbot"
py=/usr/bin/python3
duration=${BENCH_DURATION:-5s}

[ -x "$bin" ] || { echo "bench: $bin not found; build first (make build)" >&2; exit 1; }
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# Re-run inside a PostgreSQL cluster of our own (pg.py stops it at the end).
if [ -z "${FAXBOT_TEST_PG_URL:-}" ]; then
    exec "$py" "$root/tests/peers/pg.py" run -- "$0" "$build"
fi
psql_bin=/usr/lib/postgresql/15/bin/psql
[ -x "$psql_bin" ] || psql_bin=$(command -v psql)
pg() { "$psql_bin" -X -q -A -t -v ON_ERROR_STOP=1 -d "$FAXBOT_TEST_PG_URL" "$@"; }
pg -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
   -c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
[ "$(pg -c 'SHOW fsync')" = on ] || { echo "bench: could not turn fsync on" >&2; exit 1; }
db_url() {  # db_url NAME: a fresh database of the cluster
    pg -c "CREATE DATABASE $1"
    echo "$FAXBOT_TEST_PG_URL" | sed -E "s|^postgresql:///[^?]*|postgresql:///$1|"
}

tmp=$(mktemp -d /tmp/faxbot-bench-pg.XXXXXX)
pids=()
stop_nodes() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
}
cleanup() { stop_nodes; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pepper="bench-pepper-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

urls=()
start_node() {  # start_node NAME [DATABASE_URL]
    local name=$1 db=${2:-} port
    port=$(free_port)
    mkdir -p "$tmp/$name"
    env -u API_KEY -u REQUIRE_API_KEY -u AUDIT_LOG_ENABLED -u DATABASE_URL \
        FAX_DATA_DIR="$tmp/$name" API_KEY="$key" FAXBOT_KEY_PEPPER="$pepper" MAX_REQUESTS_PER_MINUTE=0 \
        FAX_BACKEND=loopback FAX_DISABLED=true FAXBOT_NODE_ID="$name" ${db:+DATABASE_URL="$db"} \
        "$bin" serve --listen "127.0.0.1:$port" 2>"$tmp/$name.log" &
    pids+=($!)
    local url="http://127.0.0.1:$port"
    for _ in $(seq 1 200); do
        curl -fsS -o /dev/null "$url/health" 2>/dev/null && { urls+=("$url"); return 0; }
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: node $name did not become ready; its log:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
}

# wrk output -> "rps non2xx"
parse_wrk() {
    awk '/Requests\/sec:/ { rps = $2 } /Non-2xx or 3xx responses:/ { bad = $NF }
         END { if (bad == "") bad = 0; printf "%s %s\n", rps, bad }' "$1"
}

# cell K KIND: one wrk per node of configuration K (32 connections in all) for
# $duration on GET /fax/{id} or POST /fax; sets cell_rps (summed) and cell_bad
cell() {
    local k=$1 kind=$2 i threads conns n wrks=() rps=0 bad=0 r b
    read -r -a us <<<"${cfg_urls[$k]}"
    n=${#us[@]}
    if [ "$n" = 1 ]; then threads=2 conns=32; else threads=1 conns=$(( (32 + n - 1) / n )); fi
    for i in $(seq 0 $((n - 1))); do
        if [ "$kind" = get ]; then
            wrk -t$threads -c$conns -d"$duration" -H "X-API-Key: $key" "${us[$i]}/fax/${cfg_job[$k]}" \
                >"$tmp/wrk-$i.txt" &
        else
            wrk -t$threads -c$conns -d"$duration" -H "X-API-Key: $key" -s "$here/post_fax.lua" \
                "${us[$i]}/fax" >"$tmp/wrk-$i.txt" &
        fi
        wrks+=($!)
    done
    wait "${wrks[@]}"
    for i in $(seq 0 $((n - 1))); do
        read -r r b < <(parse_wrk "$tmp/wrk-$i.txt")
        [ -n "$r" ] || { echo "bench: wrk failed:" >&2; cat "$tmp/wrk-$i.txt" >&2; exit 1; }
        rps=$(awk -v a="$rps" -v b="$r" 'BEGIN { printf "%.1f", a + b }')
        bad=$((bad + b))
    done
    cell_rps=$rps cell_bad=$bad
}

# Every configuration's nodes run from the start (idle ones cost little); the cells
# take turns round by round, so a busy moment of the machine hits all alike, and the
# best round of each cell counts.
declare -A cfg_urls cfg_job res
configs=(sqlite pg1 pg3)
declare -A label=([sqlite]="SQLite, 1 node" [pg1]="PostgreSQL, 1 node" [pg3]="PostgreSQL, 3 nodes")
setup_config() {  # setup_config K NODES [DATABASE_URL]
    local k=$1 nodes=$2 db=${3:-} i
    urls=()
    for i in $(seq 1 "$nodes"); do start_node "$k-$i" "$db"; done
    cfg_urls[$k]="${urls[*]}"
    printf 'Faxbot benchmark job\n' >"$tmp/one.txt"
    cfg_job[$k]=$(curl -fsS -H "X-API-Key: $key" -F "to=+15551234567" -F "file=@$tmp/one.txt" "${urls[0]}/fax" |
        $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    res[$k.get]=0 res[$k.post]=0 res[$k.get_bad]=0 res[$k.post_bad]=0
}
setup_config sqlite 1
setup_config pg1 1 "$(db_url bench_one)"
setup_config pg3 3 "$(db_url bench_three)"
sleep 1
rounds=${BENCH_ROUNDS:-3}
for round in $(seq 1 "$rounds"); do
    for k in "${configs[@]}"; do
        for kind in get post; do
            echo "bench: round $round/$rounds: ${label[$k]}: ${kind^^} for $duration ..." >&2
            cell "$k" "$kind"
            res[$k.$kind]=$(awk -v a="${res[$k.$kind]}" -v b="$cell_rps" 'BEGIN { print (b > a) ? b : a }')
            res[$k.${kind}_bad]=$((res[$k.${kind}_bad] + cell_bad))
        done
    done
done
for u in ${cfg_urls[*]}; do
    curl -fsS -o /dev/null "$u/health" || { echo "bench: a node stopped answering ($u)" >&2; exit 1; }
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mkdir -p "$here/results"
out="$here/results/pg_nodes.txt"
{
    echo "faxbot on PostgreSQL  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "PostgreSQL $(pg -c 'SHOW server_version') (fsync on, synchronous_commit on), best of $rounds rounds of wrk $duration per cell, 32 connections in all, FAX_DISABLED=true"
    echo
    printf '%-22s %14s %7s %10s   %14s %7s %10s\n' "configuration" "GET /fax/{id}" "ratio" "non-2xx" "POST /fax" "ratio" "non-2xx"
    printf '%-22s %14s %7s %10s   %14s %7s %10s\n' "" "req/s" "" "" "req/s" "" ""
    for k in sqlite pg1 pg3; do
        printf '%-22s %14s %7s %10s   %14s %7s %10s\n' "${label[$k]}" "${res[$k.get]}" \
            "$(ratio "${res[$k.get]}" "${res[sqlite.get]}")" "${res[$k.get_bad]}" "${res[$k.post]}" \
            "$(ratio "${res[$k.post]}" "${res[sqlite.post]}")" "${res[$k.post_bad]}"
    done
} | tee "$out"
echo "bench: written to $out" >&2
