#!/bin/bash
# bench/sse_streams.sh BUILD_DIR — does an audience on GET /events hurt the API?
#
# Starts BUILD_DIR/faxbot (loopback backend, FAX_DISABLED so nothing transmits),
# creates a job, and measures GET /fax/{id} with wrk (2 threads, 32 connections,
# BENCH_DURATION each, default 5 s) in BENCH_ROUNDS rounds (default 3), each
# without streams and then with BENCH_STREAMS (default 1000) idle SSE streams
# open (bench/sse_holder.py). The result is the ratio of the medians, measured in
# the same run; PASS at >= 0.90. Also reports the server's RSS and thread count
# with the streams open, and checks that every stream was still open at the end
# of its round (nothing cut them). Heartbeats are the default (15 s); a stream
# closed at the end of a round is let go at its next heartbeat, and the next round
# waits for that.
# Writes bench/results/sse.txt.
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/faxbot"
py=/usr/bin/python3
duration=${BENCH_DURATION:-5s}
streams=${BENCH_STREAMS:-1000}
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
ulimit -n 8192 2>/dev/null || true

tmp=$(mktemp -d /tmp/faxbot-sse-bench.XXXXXX)
server_pid=""
holder_pid=""
cleanup() {
    [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null || true
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$tmp/data"
env -u REQUIRE_API_KEY -u AUDIT_LOG_ENABLED \
    FAX_DATA_DIR="$tmp/data" API_KEY="$key" MAX_REQUESTS_PER_MINUTE=0 FAX_BACKEND=loopback FAX_DISABLED=true \
    FAXBOT_MAX_CONNECTIONS_PER_IP=0 FAXBOT_MAX_CONNECTIONS=$((streams * 5 + 200)) SSE_MAX_STREAMS=$((streams * 4)) \
    "$bin" serve --listen "127.0.0.1:$port" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$url/health" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
    sleep 0.1
done
printf 'bench\n' >"$tmp/a.txt"
job=$(curl -fsS -H "X-API-Key: $key" -F to=+15551234567 -F "file=@$tmp/a.txt" "$url/fax" |
      $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')

rate() {
    cat >"$tmp/key.lua" <<LUA
wrk.headers["X-API-Key"] = "$key"
LUA
    wrk -t2 -c32 -d"$duration" -s "$tmp/key.lua" "$url/fax/$job" | awk '/Requests\/sec/ {print $2}'
}

open_streams() {
    rm -f "$tmp/hold" "$tmp/holder.out"
    mkfifo "$tmp/hold"
    $py "$here/sse_holder.py" "$url" "$key" "$streams" <"$tmp/hold" >"$tmp/holder.out" &
    holder_pid=$!
    exec 9>"$tmp/hold"
    for _ in $(seq 1 600); do
        grep -q '^open\|^refused' "$tmp/holder.out" 2>/dev/null && break
        sleep 0.1
    done
    opened=$(awk '/^open/ {print $2}' "$tmp/holder.out")
    [ "${opened:-0}" = "$streams" ] || { echo "bench: only ${opened:-0} of $streams streams opened: $(cat "$tmp/holder.out")" >&2; exit 1; }
}
close_streams() {
    exec 9>&-
    wait "$holder_pid" || true
    holder_pid=""
    alive=$(awk '/^alive/ {print $2}' "$tmp/holder.out")
    [ "${alive:-0}" = "$streams" ] || all_alive=0
    # a closed idle stream is let go at its next heartbeat (15 s): the next "without"
    # run starts only when none is held any more
    for _ in $(seq 1 400); do
        left=$(curl -fsS "$url/metrics" | awk '/^faxbot_event_streams / {print $2}')
        [ "${left:-1}" = 0 ] && break
        sleep 0.1
    done
}

# The machine is shared: rounds of (without, with) taking turns, medians compared.
rounds=${BENCH_ROUNDS:-3}
without=() with=()
all_alive=1
for _ in $(seq 1 "$rounds"); do
    without+=("$(rate)")
    open_streams
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")
    with+=("$(rate)")
    close_streams
done

mkdir -p "$here/results"
$py - "${without[*]}" "${with[*]}" "$streams" "$all_alive" "$rss" "$threads" <<'PY' | tee "$here/results/sse.txt"
import statistics, sys
wo = [float(x) for x in sys.argv[1].split()]
wi = [float(x) for x in sys.argv[2].split()]
n, all_alive, rss, threads = (int(x) for x in sys.argv[3:7])
mwo, mwi = statistics.median(wo), statistics.median(wi)
ratio = mwi / mwo if mwo else 0
ok = ratio >= 0.90 and all_alive == 1
print(f"GET /fax/{{id}} without streams : median {mwo:7.0f} req/s  (rounds: {', '.join(f'{x:.0f}' for x in wo)})")
print(f"GET /fax/{{id}} with {n} streams: median {mwi:7.0f} req/s  (rounds: {', '.join(f'{x:.0f}' for x in wi)})")
print(f"ratio with/without             : {ratio:9.3f}  (PASS at >= 0.90)")
print(f"server with {n} streams open : RSS {rss / 1024:.1f} MB, {threads} threads; every stream alive at the end of its round: {'yes' if all_alive else 'NO'}")
print("RESULT:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
