#!/bin/sh
# Browser tests of the Admin Console (tests/browser/run.js) against <build>/faxbot:
# installs the pinned npm packages (npm ci) when node_modules is missing or older
# than the lock file, then drives Debian's chromium. Screenshots go to
# <build>/screenshots. Prints "browser tests: N passed, M failed, K skipped".
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/tests/browser"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "browser tests: 0 passed, 1 failed (no chromium at ${CHROMIUM:-/usr/bin/chromium}: apt-get install -y chromium)"
    exit 1
fi
exec node run.js "$root/$build/faxbot" "$root/$build/screenshots"
