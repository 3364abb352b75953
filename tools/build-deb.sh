#!/bin/sh
# build-deb.sh — builds the Debian package with the standard tools
# (dpkg-buildpackage + debhelper) from a clean copy of the source tree, so no
# build directory leaks in and nothing is written next to the worktree; the
# .deb, .dsc, source tarball and .changes land in dist/. `--source-only` makes
# only the source package (cheap: what `make test` runs lintian on).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-full}
dist=${FAXBOT_DIST:-$root/dist}
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
work=$(mktemp -d /tmp/faxbot-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/faxbot-$version"
mkdir -p "$src" "$dist"
# the tracked and new files of the worktree, not the ignored ones (build trees)
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar -c --no-recursion) \
    | tar -x -C "$src"
cd "$src"
if [ "$mode" = "--source-only" ]; then
    dpkg-source -b . >/dev/null
else
    DEB_BUILD_OPTIONS="nocheck parallel=2 ${DEB_BUILD_OPTIONS:-}" nice dpkg-buildpackage -us -uc -F
fi
rm -f "$dist"/faxbot*
cp "$work"/faxbot_* "$dist/"; cp "$work"/faxbot-dbgsym_* "$dist/" 2>/dev/null || true
ls "$dist"
