#!/bin/bash
# bench/run.sh BUILD_DIR — the gateway's benchmark (run by `make bench`).
#
# Starts BUILD_DIR/faxbot on a free 127.0.0.1 port with a temp data dir, then
# measures: idle RSS; GET /fax/{id} with wrk (2 threads, 32 connections, 10 s);
# POST /fax throughput with bench/post_fax.lua (jobs just queue on the loopback
# backend); RSS under load; and PDF->TIFF conversion speed of `faxbot convert`
# against plain Ghostscript (tiffg3, same resolution and paper) on the same
# text-heavy PDFs of 10 and 30 pages: best of 5 each, the two commands taking
# turns so a busy moment on the machine hits both alike. Speed is reported as the
# speed-up gs time / faxbot time (1.00 = as fast as plain gs, higher = faster),
# measured in the same run.
# Prints a summary table and writes it to bench/results/latest.txt. Then runs
# bench/soak.sh (the sustained run: wrk on the read routes plus a stream of sends
# for BENCH_SOAK_SECONDS, default 60; RSS over time in bench/results/soak-rss.csv,
# report in bench/results/soak.txt); fails if either part finds a problem.
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/faxbot"
py=/usr/bin/python3
duration=${BENCH_DURATION:-10s}

[ -x "$bin" ] || { echo "bench: $bin not found; build first (make build)" >&2; exit 1; }
for tool in wrk gs curl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

# no proxies: everything here talks to 127.0.0.1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

tmp=$(mktemp -d /tmp/faxbot-bench.XXXXXX)
server_pid=""
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
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# -- start the server ------------------------------------------------------------
mkdir -p "$tmp/data"
env -u API_KEY -u REQUIRE_API_KEY -u AUDIT_LOG_ENABLED \
    FAX_DATA_DIR="$tmp/data" API_KEY="$key" MAX_REQUESTS_PER_MINUTE=0 FAX_BACKEND=loopback \
    "$bin" serve --listen "127.0.0.1:$port" 2>"$tmp/server.log" &
server_pid=$!
ready=0
for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$url/health" 2>/dev/null; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "bench: server did not become ready; its log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi
sleep 1
idle_rss=$(rss_kb "$server_pid")

# -- one job to read back --------------------------------------------------------
printf 'Faxbot benchmark job\n' >"$tmp/one.txt"
job_id=$(curl -fsS -H "X-API-Key: $key" -F "to=+15551234567" -F "file=@$tmp/one.txt" "$url/fax" |
    $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# wrk output -> "rps p50 p99 non2xx"
parse_wrk() {
    awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { errs = $0 }
        END { if (bad == "") bad = 0; printf "%s %s %s %s\n", rps, p50, p99, bad }' "$1"
}

echo "bench: GET /fax/{id} for $duration ..." >&2
wrk -t2 -c32 -d"$duration" --latency -H "X-API-Key: $key" "$url/fax/$job_id" >"$tmp/wrk_get.txt"
read -r get_rps get_p50 get_p99 get_bad < <(parse_wrk "$tmp/wrk_get.txt")

echo "bench: POST /fax for $duration ..." >&2
wrk -t2 -c32 -d"$duration" --latency -H "X-API-Key: $key" -s "$here/post_fax.lua" \
    "$url/fax" >"$tmp/wrk_post.txt"
read -r post_rps post_p50 post_p99 post_bad < <(parse_wrk "$tmp/wrk_post.txt")
post_accepted=$(awk '/^POST_FAX_ACCEPTED/ {print $2}' "$tmp/wrk_post.txt")
post_other=$(awk '/^POST_FAX_OTHER/ {print $2}' "$tmp/wrk_post.txt")

loaded_rss=$(rss_kb "$server_pid")
peak_rss=$(hwm_kb "$server_pid")
alive=yes
curl -fsS -o /dev/null "$url/health" || alive=no
stop_server

# -- PDF -> TIFF: faxbot convert vs plain Ghostscript ----------------------------
make_pdf() {  # make_pdf OUT PAGES: the API tests' text-heavy PDF
    $py - "$1" "$2" <<EOF
import sys
sys.path.insert(0, "$root/tests/api")
import documents
with open(sys.argv[1], "wb") as f:
    f.write(documents.pdf_text(int(sys.argv[2]), lines_per_page=44))
EOF
}

now() { date +%s.%N; }
run_timed() {  # prints the wall time of "$@" (seconds)
    local t0 t1
    t0=$(now)
    "$@" >/dev/null 2>"$tmp/cmd.err" || { echo "bench: failed: $*" >&2; cat "$tmp/cmd.err" >&2; exit 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
}
min_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b < a) print b; else print a }'; }

# compare_convert PAGES: sets fb_time, gs_time (best of 5, taking turns) and fb_pages
compare_convert() {
    local pages=$1 pdf="$tmp/in-$1.pdf" fb="" gs="" t _
    make_pdf "$pdf" "$pages"
    echo "bench: PDF->TIFF ($pages pages, best of 5) ..." >&2
    for _ in 1 2 3 4 5; do
        t=$(run_timed "$bin" convert "$pdf" "$tmp/fb.tif")
        fb=$(min_of "$fb" "$t")
        t=$(run_timed gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=tiffg3 -r204x196 -sPAPERSIZE=letter \
            -dFIXEDMEDIA -dPDFFitPage -sOutputFile="$tmp/gs.tif" "$pdf")
        gs=$(min_of "$gs" "$t")
    done
    fb_time=$fb
    gs_time=$gs
    fb_pages=$(tiffinfo "$tmp/fb.tif" 2>/dev/null | grep -c "Image Width" || true)
}

compare_convert 10
fb10_time=$fb_time gs10_time=$gs_time fb10_pages=$fb_pages
compare_convert 30
fb30_time=$fb_time gs30_time=$gs_time fb30_pages=$fb_pages

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pps() { awk -v p="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.1f", p / t; else print "n/a" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

mkdir -p "$here/results"
out="$here/results/latest.txt"
{
    echo "faxbot benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -m), $(nproc) cores, binary $bin"
    echo
    printf '%-40s %s\n' "metric" "value"
    printf '%-40s %s\n' "----------------------------------------" "--------------------"
    printf '%-40s %s\n' "idle RSS" "$(mb "$idle_rss")"
    printf '%-40s %s\n' "GET /fax/{id} requests/s (c32)" "$get_rps"
    printf '%-40s %s\n' "GET /fax/{id} latency p50 / p99" "$get_p50 / $get_p99"
    printf '%-40s %s\n' "GET /fax/{id} non-2xx answers" "$get_bad"
    printf '%-40s %s\n' "POST /fax requests/s (c32)" "$post_rps"
    printf '%-40s %s\n' "POST /fax latency p50 / p99" "$post_p50 / $post_p99"
    printf '%-40s %s\n' "POST /fax 202 / other answers" "${post_accepted:-?} / ${post_other:-?}"
    printf '%-40s %s\n' "RSS after load (peak)" "$(mb "$loaded_rss") ($(mb "$peak_rss"))"
    printf '%-40s %s\n' "server healthy after load" "$alive"
    for p in 10 30; do
        eval "f=\$fb${p}_time g=\$gs${p}_time n=\$fb${p}_pages"
        printf '%-40s %s\n' "PDF->TIFF faxbot convert ($p p)" "${f} s = $(pps "$p" "$f") pages/s (${n} pages out)"
        printf '%-40s %s\n' "PDF->TIFF plain gs tiffg3 ($p p)" "${g} s = $(pps "$p" "$g") pages/s"
        printf '%-40s %s\n' "speed-up gs/faxbot time ($p p, >=1 good)" "$(ratio "$g" "$f")"
    done
} | tee "$out"
echo "bench: written to $out" >&2

# -- the sustained run (its own server): reads + sends, RSS over time -------------
soak_ok=yes
"$here/soak.sh" "$build" || soak_ok=no

if [ "$alive" != yes ] || [ "${fb10_pages:-0}" != 10 ] || [ "${fb30_pages:-0}" != 30 ] || [ "$soak_ok" != yes ]; then
    echo "bench: problems: server healthy after load=$alive, convert pages=$fb10_pages/10 and $fb30_pages/30," \
        "soak passed=$soak_ok" >&2
    exit 1
fi
