#!/bin/sh
# bench/media.sh BUILD_DIR — the media engine's capacity (issue 20): how many
# simultaneous faxes one engine carries with every page pixel-exact, T.38 (UDPTL) and
# G.711 (RTP), ramping through MEDIA_BENCH_STEPS (default 4,16,32,64), and the CPU
# per call-second as a ratio to the loopback engine in the same run. Real time: each
# step takes as long as one fax (~35 s). Writes bench/results/media.txt.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
[ -x "$build/media-bench" ] || { echo "bench: $build/media-bench not found; build first (make build)" >&2; exit 1; }
mkdir -p "$root/bench/results"
exec "$build/media-bench" --kinds "${MEDIA_BENCH_KINDS:-t38,audio}" --steps "${MEDIA_BENCH_STEPS:-4,16,32,64}" \
    --out "$root/bench/results/media.txt"
