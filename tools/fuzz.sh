#!/bin/sh
# Runs every libFuzzer target in BUILD for SECONDS each on a copy of its seed
# corpus (fuzz/corpus/<name>, where new inputs found are kept only for this run).
# Targets run FUZZ_JOBS at a time (default: the number of cores); the report has
# one line per target, in name order:
#   fuzz <name>: ok, N runs in Ss, corpus K inputs
# Fails if any target crashes, leaks, times out or trips a sanitizer; the crashing
# input is left in fuzz-crashes/ — copy it to fuzz/regress/<name>/ so the unit
# suite replays it from then on (tests/unit/regress).
# Usage: tools/fuzz.sh [BUILD=build-fuzz] [SECONDS=60]
set -eu

# One target: tools/fuzz.sh --one EXE SECONDS RESULTDIR (used through xargs -P).
if [ "${1:-}" = "--one" ]; then
    exe=$2 seconds=$3 results=$4
    name=$(basename "$exe")
    corpus=$(mktemp -d)
    seeds="fuzz/corpus/${name#fuzz_}"
    [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/ 2>/dev/null || true
    log="$results/$name.log"
    start=$(date +%s)
    # -timeout: one input taking longer is a failure; the outer timeout guards a hang
    if timeout $((seconds + 120)) "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix=fuzz-crashes/"$name"- "$corpus" >"$log" 2>&1; then
        took=$(( $(date +%s) - start ))
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
        [ -n "$runs" ] || runs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
        echo "fuzz $name: ok, ${runs:-?} runs in ${took}s, corpus $(ls "$corpus" | wc -l) inputs" >"$results/$name.out"
    else
        {
            echo "fuzz $name: FAILED (input saved in fuzz-crashes/$name-*; log tail below)"
            tail -40 "$log"
        } >"$results/$name.out"
        touch "$results/failed"
    fi
    rm -rf "$corpus"
    exit 0
fi

build=${1:-build-fuzz}
seconds=${2:-60}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/tools/fuzz.sh"
cd "$root"
mkdir -p fuzz-crashes
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

targets=$(for exe in "$build"/fuzz_*; do [ -f "$exe" ] && [ -x "$exe" ] && echo "$exe"; done || true)
if [ -z "$targets" ]; then
    echo "fuzz: no targets in $build (build it with: make fuzz)" >&2
    exit 1
fi
echo "$targets" | xargs -P "$jobs" -I{} sh "$self" --one {} "$seconds" "$results"
for exe in $targets; do
    cat "$results/$(basename "$exe").out"
done
[ ! -e "$results/failed" ]
