#!/bin/sh
# Runs the unit suite and the black-box suite against the ThreadSanitizer build
# (`make tsan`, build-tsan/), failing on any test failure or data-race report.
# tools/tsan.supp lists races inside third-party libraries we cannot fix (none of
# our own code may be listed there).
set -eu
tsan=${1:-build-tsan}
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$root/tools/tsan.supp"

echo "== unit tests under ThreadSanitizer ($tsan)"
meson test -C "$tsan" --suite unit --print-errorlogs --timeout-multiplier 3

echo "== black-box API tests under ThreadSanitizer ($tsan)"
# test_heavy_list_readers_do_not_stall_health counts /health probes answered in 5 s
# of wall time; ThreadSanitizer's slowdown makes that count a measure of TSan, not of
# the gateway (the plain and ASan runs keep it).
FAXBOT_BIN="$root/$tsan/faxbot" FAXBOT_SANITIZED=1 $py -m pytest -q -n 4 -p no:cacheprovider tests/api \
    --deselect tests/api/test_hostile_http.py::test_heavy_list_readers_do_not_stall_health
