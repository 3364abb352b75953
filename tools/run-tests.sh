#!/bin/sh
# Runs the whole suite twice: on the normal build with SQLite + local files (plus the
# real-FreeSWITCH and real-Asterisk interop tests in tests/interop), then on the
# ASan+UBSan build (LeakSanitizer on) with the black-box suite on PostgreSQL + S3,
# failing on any test failure or sanitizer report; then, when
# a fuzz build directory is given (3rd argument, `make test` passes build-fuzz), a
# short libFuzzer pass: every fuzz/fuzz_*.c target for FUZZ_SECONDS_CI seconds
# (default 5; 0 skips the pass) under ASan+UBSan, failing on any crash.
set -eu
build=${1:-build}
asan=${2:-build-asan}
fuzz=${3:-}
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "== includes point down the floors (tools/check-floors.sh)"
./tools/check-floors.sh

echo "== packaging: unit file, man page, lintian (tools/check-packaging.sh)"
./tools/check-packaging.sh "$build"

echo "== unit tests ($build)"
meson test -C "$build" --suite unit --print-errorlogs

echo "== black-box API tests ($build)"
FAXBOT_BIN="$root/$build/faxbot" $py -m pytest -q -n 4 -p no:cacheprovider tests/api

# The MCP tests run the official MCP TypeScript SDK (tests/mcp, pinned in its
# package-lock.json) as the client; `npm ci` fetches it once from the npm registry.
mcp_deps() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "FAIL: node and npm are needed for the MCP tests (debian-packages.txt: nodejs)"; exit 1
    fi
    if [ ! -f tests/mcp/node_modules/.package-lock.json ] ||
       [ tests/mcp/package-lock.json -nt tests/mcp/node_modules/.package-lock.json ]; then
        (cd tests/mcp && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    fi
}

echo "== MCP tests, the official SDK as client ($build)"
mcp_deps
node tests/mcp/run.mjs "$root/$build/faxbot"

echo "== browser tests of the Admin Console ($build)"
# tests/browser: Debian's chromium driven by playwright-core, axe-core on every page;
# screenshots under $build/screenshots. Normal build only.
./tools/browser-tests.sh "$build"

echo "== interop tests against a real FreeSWITCH and a real Asterisk ($build)"
# tests/interop: real FreeSWITCH 1.10.12 pairs from ../shared/peers/freeswitch (or
# $FAXBOT_FREESWITCH_PEER_DIR) and Asterisk 22.10.1 pairs from ../shared/peers/asterisk
# (or $FAXBOT_ASTERISK_PEER_DIR); each test skips loudly when its build is absent.
# Real faxes take 20-50 s each, so they run side by side; normal build only.
# Four at a time: real-time G.711 media needs CPU on time (2 cores carry 8 PBXes), and most
# of a real fax is waiting on the line.
FAXBOT_BIN="$root/$build/faxbot" $py -m pytest -q -rs -n 4 -p no:cacheprovider tests/interop

echo "== unit tests under ASan+UBSan ($asan)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=0"
meson test -C "$asan" --suite unit --print-errorlogs

echo "== black-box API tests under ASan+UBSan, on PostgreSQL + S3 ($asan)"
# The second pass of the whole black-box suite runs on the distributed parts: every
# server on a database of its own in one real PostgreSQL 15 (tests/peers/pg.py, a temp
# dir) and under a prefix of its own in an S3 stand-in that verifies Signature V4
# (tests/peers/s3_peer.py); tests that cannot run there skip with the reason (-rs).
# SQLite + local files had the first pass above (and the ThreadSanitizer pass of .ci/run);
# `make test-pg-s3` runs this one on the normal build. The direct backend's real-time
# faxes between two gateways (half a minute each, on the line) run in the first pass and
# under TSan; here its SIP-facing tests stay (registration, refusals, the INVITE flood),
# and the SIP and media code had real faxes under ASan in the unit suite (media_faxes).
started=$(date +%s)
FAXBOT_TEST_DB=pg FAXBOT_TEST_STORAGE=s3 FAXBOT_BIN="$root/$asan/faxbot" FAXBOT_SANITIZED=1 \
    ./tests/peers/pg.py run -- $py -m pytest -q -rs -n 4 -p no:cacheprovider tests/api \
    --deselect tests/api/test_direct.py::test_fax_between_two_gateways \
    --deselect tests/api/test_direct.py::test_fax_with_media_packet_loss \
    --deselect tests/api/test_direct.py::test_t38_refused_in_invite_falls_back_to_audio
echo "== PostgreSQL + S3 run under ASan+UBSan took $(( $(date +%s) - started ))s"

echo "== MCP tests under ASan+UBSan ($asan)"
FAXBOT_SANITIZED=1 node tests/mcp/run.mjs "$root/$asan/faxbot"

fuzz_seconds=${FUZZ_SECONDS_CI:-5}
if [ -n "$fuzz" ] && [ "$fuzz_seconds" != 0 ]; then
    echo "== short fuzz pass ($fuzz, ${fuzz_seconds}s per target)"
    started=$(date +%s)
    if [ ! -f "$fuzz/build.ninja" ]; then
        CC=clang meson setup "$fuzz" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
            --buildtype=debug >/dev/null
    fi
    # only the fuzz targets (and the core library they link), not the whole tree;
    # a target added since the last configure needs meson to look at fuzz/ again
    targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
    known=$(ninja -C "$fuzz" -t targets all 2>/dev/null | cut -d: -f1)
    for t in $targets; do
        if ! echo "$known" | grep -qx "$t"; then
            meson setup --reconfigure "$fuzz" >/dev/null
            break
        fi
    done
    ninja -C "$fuzz" $targets
    ./tools/fuzz.sh "$fuzz" "$fuzz_seconds"
    echo "== fuzz pass took $(( $(date +%s) - started ))s"
fi
