#!/bin/bash
# bench/soak.sh BUILD_DIR — the sustained run of `make bench` (called at the end of
# bench/run.sh; runs on its own too).
#
# Starts BUILD_DIR/faxbot (loopback backend, FAX_WORKERS=2, API_KEY set, no rate
# limit, its own temp data dir) on a free 127.0.0.1 port, then for
# BENCH_SOAK_SECONDS (default 60) runs at the same time:
#   - wrk on each read route, one wrk per route (--latency, 1 thread,
#     BENCH_SOAK_CONNECTIONS connections each, default 8): GET /fax/{id},
#     GET /fax?limit=20, GET /health;
#   - a steady stream of sends through loopback (bench/soak_send.py:
#     BENCH_SOAK_SEND_RATE POST /fax per second, default 5, bounded in count);
#   - a sampler writing the server's VmRSS every second to bench/results/soak-rss.csv.
# After the load it waits up to BENCH_SOAK_DRAIN_SECONDS (default 60) for every
# accepted job to reach a final status, then reports (bench/soak_report.py):
# requests/s and p99 latency per route, jobs sent / SUCCESS, RSS at start, after
# warm-up (BENCH_SOAK_WARMUP_SECONDS, default 10) and at the end, and the slope of
# a least-squares line through the RSS samples after warm-up, in KB per minute,
# per 1000 requests and per send. "Memory flat" passes when that slope is under
# BENCH_SOAK_MAX_KB_PER_1K (default 100 KB per 1000 requests = 1 MB per 10k) and
# under BENCH_SOAK_MAX_KB_PER_SEND (default 16 KB per send: the sends are few next
# to the reads, so a leak per job would hide in the per-request figure; a leaked
# page image is 50-500 KB). Small leaks are LeakSanitizer's job (make test-asan).
# The report goes to bench/results/soak.txt; the exit status is non-zero on FAIL,
# on an unhealthy server, or when a sent job did not reach SUCCESS.
# BENCH_SOAK_SEND_RATE=0 gives a reads-only run, to compare RSS with and without sends.
# All traffic goes to 127.0.0.1; the server and the temp dir go away on exit.
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/faxbot"
py=/usr/bin/python3

soak_s=${BENCH_SOAK_SECONDS:-60}
warmup_s=${BENCH_SOAK_WARMUP_SECONDS:-10}
drain_s=${BENCH_SOAK_DRAIN_SECONDS:-60}
conns=${BENCH_SOAK_CONNECTIONS:-8}
send_rate=${BENCH_SOAK_SEND_RATE:-5}
max_kb_per_1k=${BENCH_SOAK_MAX_KB_PER_1K:-100}
max_kb_per_send=${BENCH_SOAK_MAX_KB_PER_SEND:-16}

for v in soak_s warmup_s drain_s conns; do
    case "${!v}" in '' | *[!0-9]*) echo "soak: $v must be a whole number, not '${!v}'" >&2; exit 2 ;; esac
done
[ "$soak_s" -ge $((warmup_s + 10)) ] ||
    { echo "soak: BENCH_SOAK_SECONDS must be at least warm-up + 10 s ($((warmup_s + 10)))" >&2; exit 2; }
[ -x "$bin" ] || { echo "soak: $bin not found; build first (make build)" >&2; exit 1; }
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is not installed" >&2; exit 1; }
done

# no proxies: everything here talks to 127.0.0.1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

tmp=$(mktemp -d /tmp/faxbot-soak.XXXXXX)
server_pid=""
bg_pids=()
stop_server() {
    [ -n "$server_pid" ] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${bg_pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
key="soak-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# -- start the server ------------------------------------------------------------
mkdir -p "$tmp/data"
env -u REQUIRE_API_KEY -u AUDIT_LOG_ENABLED -u FAX_DATA_DIR -u FAX_BACKEND \
    FAX_DATA_DIR="$tmp/data" API_KEY="$key" MAX_REQUESTS_PER_MINUTE=0 FAX_BACKEND=loopback \
    FAX_WORKERS=2 "$bin" serve --listen "127.0.0.1:$port" 2>"$tmp/server.log" &
server_pid=$!
ready=0
for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$url/health" 2>/dev/null; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "soak: server did not become ready; its log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi

# -- one job to read back (sent through loopback first) --------------------------
printf 'Faxbot soak read-back job\n' >"$tmp/one.txt"
job_id=$(curl -fsS -H "X-API-Key: $key" -F "to=+15551234567" -F "file=@$tmp/one.txt" "$url/fax" |
    $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 100); do
    curl -fsS -H "X-API-Key: $key" "$url/fax/$job_id" | grep -q '"status":"SUCCESS"' && break
    sleep 0.2
done
sleep 1

# -- the run ---------------------------------------------------------------------
mkdir -p "$here/results"
csv="$here/results/soak-rss.csv"
echo 0 >"$tmp/sent"

# sample_rss: one line a second, "t_s,rss_kb,rss_anon_kb,rss_file_kb,rss_shmem_kb,
# phase,sends" (VmRSS and its three parts; phase warmup/load/drain; sends so far)
sample_rss() {
    local t0 now t rss sends phase
    t0=$(date +%s.%N)
    echo "t_s,rss_kb,rss_anon_kb,rss_file_kb,rss_shmem_kb,phase,sends"
    while kill -0 "$server_pid" 2>/dev/null; do
        now=$(date +%s.%N)
        rss=$(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} /^RssShmem:/ {s = $2}
                   END { if (r != "") print r "," a "," f "," s }' "/proc/$server_pid/status" 2>/dev/null) || break
        [ -n "$rss" ] || break
        sends=$(cat "$tmp/sent" 2>/dev/null || echo 0)
        t=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
        phase=$(awk -v t="$t" -v w="$warmup_s" -v d="$soak_s" \
            'BEGIN { print (t < w ? "warmup" : (t <= d ? "load" : "drain")) }')
        echo "$t,$rss,$phase,${sends:-0}"
        sleep 1
    done
}

echo "soak: ${soak_s} s of wrk on 3 read routes (c${conns} each) + ${send_rate} sends/s through loopback ..." >&2
sample_rss >"$csv" &
bg_pids+=($!)
wrk -t1 -c"$conns" -d"${soak_s}s" --latency -H "X-API-Key: $key" "$url/fax/$job_id" >"$tmp/wrk_get.txt" &
wrk_pids=($!)
wrk -t1 -c"$conns" -d"${soak_s}s" --latency -H "X-API-Key: $key" "$url/fax?limit=20" >"$tmp/wrk_list.txt" &
wrk_pids+=($!)
wrk -t1 -c"$conns" -d"${soak_s}s" --latency "$url/health" >"$tmp/wrk_health.txt" &
wrk_pids+=($!)
bg_pids+=("${wrk_pids[@]}")
max_sends=$(awk -v r="$send_rate" -v s="$soak_s" 'BEGIN { printf "%d", r * s + 1 }')
$py "$here/soak_send.py" "$url" "$key" "$send_rate" "$soak_s" "$max_sends" "$drain_s" \
    "$tmp/send.json" "$tmp/sent" &
send_pid=$!
bg_pids+=("$send_pid")

wrk_ok=1
for p in "${wrk_pids[@]}"; do
    wait "$p" || wrk_ok=0
done
echo "soak: load done; waiting (up to ${drain_s} s) for the queue to drain ..." >&2
send_ok=1
wait "$send_pid" || send_ok=0
if [ "$wrk_ok" != 1 ] || [ "$send_ok" != 1 ]; then
    echo "soak: wrk or the send stream failed" >&2
    exit 1
fi
sleep 1.5   # one more RSS sample after the drain
alive=yes
curl -fsS -o /dev/null "$url/health" || alive=no

out="$here/results/soak.txt"
set +e
{
    echo "faxbot soak  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -m), $(nproc) cores, binary $bin"
    echo "${soak_s} s, loopback backend, FAX_WORKERS=2, wrk -t1 -c${conns} per route, ${send_rate} sends/s"
    echo
    $py "$here/soak_report.py" --csv "$csv" --warmup "$warmup_s" --duration "$soak_s" \
        --wrk "GET /fax/{id}=$tmp/wrk_get.txt" --wrk "GET /fax?limit=20=$tmp/wrk_list.txt" \
        --wrk "GET /health=$tmp/wrk_health.txt" --sends "$tmp/send.json" \
        --max-kb-per-1k "$max_kb_per_1k" --max-kb-per-send "$max_kb_per_send" --alive "$alive" \
        --expect-sends "$(awk -v r="$send_rate" 'BEGIN { print (r > 0) ? 1 : 0 }')"
    echo "report_status $?" >"$tmp/report_status"
} | tee "$out"
set -e
status=$(awk '{print $2}' "$tmp/report_status")
echo "soak: written to $out and $csv" >&2
if [ "$status" != 0 ]; then
    echo "soak: FAILED (see above); the server's log ends:" >&2
    tail -n 20 "$tmp/server.log" >&2
    exit 1
fi
