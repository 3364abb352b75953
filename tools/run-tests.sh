#!/bin/sh
# Runs the whole suite twice: on the normal build, then on the ASan+UBSan build
# (LeakSanitizer on), failing on any test failure or sanitizer report.
set -eu
build=${1:-build}
asan=${2:-build-asan}
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "== unit tests ($build)"
meson test -C "$build" --suite unit --print-errorlogs

echo "== black-box API tests ($build)"
FAXBOT_BIN="$root/$build/faxbot" $py -m pytest -q -n 4 -p no:cacheprovider tests/api

echo "== unit tests under ASan+UBSan ($asan)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=0"
meson test -C "$asan" --suite unit --print-errorlogs

echo "== black-box API tests under ASan+UBSan ($asan)"
FAXBOT_BIN="$root/$asan/faxbot" FAXBOT_SANITIZED=1 $py -m pytest -q -n 4 -p no:cacheprovider tests/api
