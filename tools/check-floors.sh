#!/bin/sh
# Checks that includes between src/ folders point only downward (docs/internals/architecture.md):
# main, cli → api → jobs → backend → (ami, esl, sip, fax, media, document, auth, inbound, mcp, events, plugins) → (store, blob, http, config, web) → util.
# Prints every include that points up a floor (sideways within a floor is allowed), exit 1 if any.
set -eu
cd "$(dirname "$0")/../src"
floor() {
    case "$1" in
        cli|main.c) echo 6 ;; api) echo 5 ;; jobs) echo 4 ;; backend) echo 3 ;;
        ami|esl|sip|fax|media|document|auth|inbound|mcp|events|plugins) echo 2 ;; store|blob|http|config|web) echo 1 ;; util) echo 0 ;; *) echo 9 ;;
    esac
}
bad=0
for f in $(find . -name '*.[ch]' | sed 's|^\./||'); do
    from=${f%%/*}
    fl=$(floor "$from")
    for inc in $(sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | sort -u); do
        [ "$inc" = "$from" ] && continue
        il=$(floor "$inc")
        if [ "$il" -gt "$fl" ]; then echo "$f includes $inc/ (floor $il above $fl)"; bad=1; fi
    done
done
exit $bad
