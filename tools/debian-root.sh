#!/bin/sh
# debian-root.sh DIR — a fresh, clean Debian 12 root in DIR (debootstrap
# --variant=minbase bookworm). The first call debootstraps into a cached tarball
# (FAXBOT_PKG_CACHE, default /var/tmp/faxbot-pkg-cache; about 30 s), later calls
# only unpack it. Used by test-package.sh (the .deb) and build-image.sh (the base image).
set -eu
dir=$1
cache=${FAXBOT_PKG_CACHE:-/var/tmp/faxbot-pkg-cache}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache" "$dir"
if [ ! -f "$cache/bookworm-minbase.tar" ]; then
    rm -rf "$cache/root-tmp"
    debootstrap --variant=minbase bookworm "$cache/root-tmp" "$mirror" >/dev/null
    tar -C "$cache/root-tmp" -cf "$cache/bookworm-minbase.tar.tmp" . && mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
    rm -rf "$cache/root-tmp"
fi
tar -C "$dir" -xf "$cache/bookworm-minbase.tar"
