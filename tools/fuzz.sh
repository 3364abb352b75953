#!/bin/sh
# Runs every libFuzzer target in BUILD for SECONDS each on a copy of its seed
# corpus (fuzz/corpus/<name>, where new inputs found are kept only for this run).
# Fails if any target crashes, leaks or trips a sanitizer; the crashing input is
# left in fuzz-crashes/ to turn into a regression test.
set -eu
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p fuzz-crashes
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for exe in "$build"/fuzz_*; do
    [ -f "$exe" ] || continue
    [ -x "$exe" ] || continue
    name=$(basename "$exe")
    corpus=$(mktemp -d)
    seeds="fuzz/corpus/${name#fuzz_}"
    [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/ 2>/dev/null || true
    log=$(mktemp)
    if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix=fuzz-crashes/"$name"- "$corpus" >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
        [ -n "$runs" ] || runs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
        echo "fuzz $name: ok, ${runs:-?} runs in ${seconds}s, corpus $(ls "$corpus" | wc -l) inputs"
    else
        echo "fuzz $name: FAILED (see below; input saved in fuzz-crashes/)"
        tail -40 "$log"
        status=1
    fi
    rm -rf "$corpus" "$log"
done
exit $status
