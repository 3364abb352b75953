#!/bin/sh
# check-packaging.sh — the cheap packaging checks `make test` runs (the slow ones
# are `make test-package`):
#   - faxbot.service passes `systemd-analyze verify`, and its `systemd-analyze
#     security` exposure is at most FAXBOT_MAX_EXPOSURE (default 2.0, "OK");
#   - faxbot(1) lists every row of the settings table (faxbot config table)
#     and every command of `faxbot --help`, and renders without warnings;
#   - lintian finds no error in the source package (debian/).
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "-- systemd unit"
# the unit as installed, with ExecStart pointing at this build's binary
sed "s#^ExecStart=[^ ]*/faxbot #ExecStart=$root/$build/faxbot #" "$build/faxbot.service" > "$tmp/faxbot.service"
if systemd-analyze verify --man=no "$tmp/faxbot.service"; then echo "systemd-analyze verify: clean"; else fail=1; fi
exposure=$(systemd-analyze security --offline=yes "$tmp/faxbot.service" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
echo "systemd-analyze security: exposure $exposure"
awk -v e="${exposure%% *}" -v max="${FAXBOT_MAX_EXPOSURE:-2.0}" 'BEGIN { exit !(e != "" && e <= max) }' \
    || { echo "FAIL: exposure ${exposure:-unknown} is above ${FAXBOT_MAX_EXPOSURE:-2.0}"; fail=1; }

echo "-- man page faxbot(1)"
man="$build/faxbot.1"
missing=""
n=0
for s in $(/usr/bin/python3 tools/gen-manpage.py . "$build/faxbot" --list); do
    n=$((n + 1))
    grep -qx "\.B $s" "$man" || missing="$missing $s"
done
[ -z "$missing" ] || { echo "FAIL: settings missing from $man:$missing"; fail=1; }
[ "$n" -gt 100 ] || { echo "FAIL: only $n settings read from '$build/faxbot config table'"; fail=1; }
cmds=$("$build/faxbot" --help | sed -n 's/^  faxbot \([a-z-]*\).*/\1/p' | sort -u)
for c in $cmds; do
    grep -q "^\.B $(echo "$c" | sed 's/-/\\\\-/g')\b" "$man" || { echo "FAIL: command '$c' is not in $man"; fail=1; }
done
echo "$n settings and $(echo "$cmds" | wc -w) commands covered"
if command -v man >/dev/null; then
    warnings=$(MANWIDTH=80 man --warnings -l "$man" 2>&1 >/dev/null || true)
    [ -z "$warnings" ] || { echo "FAIL: man warnings: $warnings"; fail=1; }
fi

echo "-- lintian (source package)"
if command -v lintian >/dev/null; then
    FAXBOT_DIST="$tmp" tools/build-deb.sh --source-only >/dev/null
    rc=0
    out=$(lintian --fail-on error "$tmp"/faxbot_*.dsc 2>&1) || rc=$?
    out=$(echo "$out" | grep -v 'running with root' || true)
    [ "$rc" = 0 ] || { echo "FAIL: lintian found errors"; fail=1; }
    echo "lintian: ${out:-no findings}"
else
    echo "FAIL: lintian is not installed (debian-packages.txt)"; fail=1
fi
exit $fail
