#!/bin/sh
# build-image.sh — builds the container image localhost/faxbot:latest from the
# Containerfile with podman (Debian's podman, runtime runc: crun fails on this kind
# of host with "setrlimit RLIMIT_NPROC"). The base is FAXBOT_IMAGE_BASE, default
# localhost/debian:bookworm, made here when missing from Debian packages alone:
# debootstrap --variant=minbase bookworm, slimmed like debian:bookworm-slim (no
# docs, man pages, translations, apt lists), `podman import`ed. Prints the size.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${FAXBOT_PKG_CACHE:-/var/tmp/faxbot-pkg-cache}
base=${FAXBOT_IMAGE_BASE:-localhost/debian:bookworm}
if [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$cache/containers.conf"
    mkdir -p "$cache"
    printf '[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=8192:8192"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
fi
if [ "$base" = localhost/debian:bookworm ] && ! podman image exists "$base"; then
    dir=$(mktemp -d /var/tmp/faxbot-base.XXXXXX)
    tools/debian-root.sh "$dir"
    rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/* \
           "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*
    tar -C "$dir" -c . | podman import - "$base" >/dev/null
    rm -rf "$dir"
    echo "made base image $base"
fi
echo "base image $base: $(podman image inspect --format '{{.Size}}' "$base" | awk '{printf "%.1f MB", $1/1e6}')"
started=$(date +%s)
nice podman build -q --network host --format docker --build-arg BASE="$base" \
    -t localhost/faxbot:latest -f Containerfile . >/dev/null
echo "image localhost/faxbot:latest built in $(( $(date +%s) - started ))s:" \
     "$(podman image inspect --format '{{.Size}}' localhost/faxbot:latest | awk '{printf "%.1f MB", $1/1e6}')"
