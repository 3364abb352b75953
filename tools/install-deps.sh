#!/bin/sh
# Installs the Debian packages listed in debian-packages.txt that are not yet
# installed. Safe to run again; does nothing when everything is present.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
list="$here/debian-packages.txt"
missing=""
for p in $(grep -v '^\s*#' "$list" | grep -v '^\s*$'); do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
