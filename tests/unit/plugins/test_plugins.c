/* test_plugins.c — unit tests of src/plugins/: the manifest parser and its field-naming
 * errors, the sip-trunk profiles the bundled trunk plugins give (the values the
 * renderers depend on), the plugin set (bundled + installed in a temporary data dir,
 * disabled state, skipped broken manifests) and the store (install, refusals, remove,
 * the registry's sha256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugins/plugin.h"
#include "plugins/plugin_store.h"
#include "plugins/sip_trunk.h"
#include "util/util.h"

static const char *GOOD =
    "{\"id\":\"acme-trunk\",\"short_name\":\"acme\",\"name\":\"Acme\",\"version\":\"1.2.3\",\"kind\":\"sip-trunk\","
    "\"categories\":[\"outbound\"],\"capabilities\":[\"send_fax\",\"get_status\"],"
    "\"config_schema\":{\"fields\":[{\"key\":\"api_key\",\"type\":\"string\",\"label\":\"Key\",\"secret\":true},"
    "{\"key\":\"server\",\"type\":\"string\",\"label\":\"Server\",\"setting\":\"SIP_SERVER\",\"required\":true},"
    "{\"key\":\"retries\",\"type\":\"integer\",\"label\":\"Retries\",\"default\":3}]},"
    "\"sip_trunk\":{\"title\":\"Acme\",\"auth\":{\"registration\":false,\"ip_auth\":true,\"digest\":true},"
    "\"numbers\":{\"format\":\"e164\",\"plus\":false,\"tech_prefix\":{\"digits\":4,\"separator\":\"#\"}},"
    "\"codecs\":[\"alaw\"],\"t38\":{\"enabled\":true,\"reinvite\":false,\"error_correction\":\"fec\",\"max_datagram\":320},"
    "\"transports\":[\"udp\"],\"sip_errors\":[{\"code\":403,\"meaning\":\"no\"}]}}";

/* GOOD with one member of the object at `path` (dotted; numbers index arrays) set to
 * the JSON text value (NULL deletes), then parsed: the error must contain want. */
static void refused(const char *path, const char *value, const char *want)
{
    json_t *m = json_loads(GOOD, 0, NULL);
    assert_non_null(m);
    char buf[256];
    str_copy(buf, sizeof buf, path);
    json_t *node = m;
    char *save = NULL, *tok = strtok_r(buf, ".", &save), *next;
    while ((next = strtok_r(NULL, ".", &save))) {
        node = json_is_array(node) ? json_array_get(node, (size_t)atoi(tok)) : json_object_get(node, tok);
        assert_non_null(node);
        tok = next;
    }
    json_t *v = value ? json_loads(value, JSON_DECODE_ANY, NULL) : NULL;
    if (json_is_array(node)) {
        if (v && (size_t)atoi(tok) == json_array_size(node)) json_array_append_new(node, v);
        else if (v) json_array_set_new(node, (size_t)atoi(tok), v);
        else json_array_remove(node, (size_t)atoi(tok));
    } else if (v) json_object_set_new(node, tok, v);
    else json_object_del(node, tok);
    char err[512] = "";
    plugin *p = plugin_from_json(m, "", err, sizeof err);
    if (p || !strstr(err, want)) fprintf(stderr, "%s=%s: got \"%s\", want \"%s\"\n", path, value, err, want);
    assert_null(p);
    assert_non_null(strstr(err, want));
    json_decref(m);
}

static void test_good_manifest_parses(void **state)
{
    (void)state;
    char err[512];
    plugin *p = plugin_parse(GOOD, strlen(GOOD), "/x", err, sizeof err);
    assert_non_null(p);
    assert_string_equal(p->id, "acme-trunk");
    assert_string_equal(p->short_name, "acme");
    assert_int_equal(p->kind, PLUGIN_KIND_SIP_TRUNK);
    assert_int_equal(p->categories, PLUGIN_CAT_OUTBOUND);
    assert_int_equal(p->capabilities, PLUGIN_CAP_SEND_FAX | PLUGIN_CAP_GET_STATUS);
    assert_int_equal(p->n_fields, 3);
    assert_string_equal(p->fields[0].setting, "PLUGIN_ACME_TRUNK_API_KEY");
    assert_true(p->fields[0].secret);
    assert_string_equal(p->fields[1].setting, "SIP_SERVER");
    assert_true(p->fields[1].required);
    assert_string_equal(p->fields[2].dflt, "3");
    assert_string_equal(p->dir, "/x");
    const sip_trunk_profile *t = p->trunk;
    assert_non_null(t);
    assert_false(t->plus);
    assert_true(t->tech_prefix);
    assert_int_equal(t->tech_prefix_digits, 4);
    assert_string_equal(t->tech_prefix_sep, "#");
    assert_string_equal(t->codecs, "alaw");
    assert_string_equal(t->t38_ec, "fec");
    assert_int_equal(t->t38_max_datagram, 320);
    assert_true(t->audio_fallback);  /* default */
    assert_true(sip_trunk_has_transport(t, "udp"));
    assert_false(sip_trunk_has_transport(t, "tls"));
    assert_string_equal(sip_trunk_error_meaning(t, 403), "no");
    assert_null(sip_trunk_error_meaning(t, 404));
    json_t *cats = plugin_categories_json(p->categories);
    assert_string_equal(json_string_value(json_array_get(cats, 0)), "outbound");
    json_decref(cats);
    plugin_free(p);
}

static void test_bad_manifests_name_the_field(void **state)
{
    (void)state;
    refused("kind", "\"fax\"", "kind: \"fax\" is not a plugin kind");
    refused("name", NULL, "name: missing");
    refused("version", "\"01.0.0\"", "version: \"01.0.0\" is not a semantic version");
    refused("categories.1", "\"messaging\"", "categories[1]: \"messaging\" is not served by this gateway");
    refused("categories.0", "\"auth\"", "categories[0]: \"auth\" is not served by this gateway");
    refused("capabilities.2", "\"store\"", "capabilities[2]: \"store\" is not served by this gateway");
    refused("capabilities.1", "\"send_fax\"", "capabilities[1]: \"send_fax\" is listed twice");
    refused("capabilities.0", NULL, "capabilities: an \"outbound\" plugin must list \"send_fax\"");
    refused("capabilities.2", "\"receive_fax\"", "categories: a plugin with \"receive_fax\" must list \"inbound\"");
    refused("categories", "[]", "categories: must be a non-empty array");
    refused("id", "\"-x\"", "id: \"-x\" must be");
    refused("extra", "1", "extra: not a manifest field");
    refused("native", "{}", "native: a sip-trunk plugin has no \"native\" section");
    refused("sip_trunk", NULL, "sip_trunk: missing");
    refused("sip_trunk.auth", "{\"registration\":true,\"ip_auth\":true,\"digest\":false}",
            "sip_trunk.auth.registration: registering needs digest credentials");
    refused("sip_trunk.auth", "{\"ip_auth\":false,\"digest\":false}", "sip_trunk.auth: the trunk must accept ip_auth or digest");
    refused("sip_trunk.codecs.0", "\"opus\"", "sip_trunk.codecs[0]");
    refused("sip_trunk.t38.enabled", NULL, "sip_trunk.t38.enabled: missing");
    refused("sip_trunk.numbers.tech_prefix.separator", "\";\"", "sip_trunk.numbers.tech_prefix.separator");
    refused("sip_trunk.transports.0", "\"sctp\"", "sip_trunk.transports[0]");
    refused("sip_trunk.sip_errors.0.meaning", NULL, "sip_trunk.sip_errors[0].meaning: missing");
    refused("sip_trunk.surprise", "1", "sip_trunk.surprise: not a known attribute");
    refused("config_schema.fields.0.key", "\"Bad Key\"", "config_schema.fields[0].key");
    refused("config_schema.fields.2.default", "\"three\"", "config_schema.fields[2].default: must be a integer");
    refused("config_schema.fields.1.setting", "\"sip_server\"", "config_schema.fields[1].setting");
    refused("config_schema.fields.0.pattern", "\"a{\"", "config_schema.fields[0].pattern");
    /* regcomp would build these trees exponentially (fuzz_manifest ran out of memory) */
    refused("config_schema.fields.0.pattern", "\"^(udp|tcp)++++++++++++++++++++++++++++++++$\"",
            "too many nested repetitions");
    refused("config_schema.fields.0.pattern", "\"((a{99}){99}){99}\"", "too many nested repetitions");
    refused("config_schema.fields.0.pattern", "\"(((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+\"", "too many nested repetitions");
    char err[256];
    assert_null(plugin_parse("{\"id\":", 6, "", err, sizeof err));
    assert_non_null(strstr(err, "manifest: not valid JSON"));
    assert_null(plugin_parse("[]", 2, "", err, sizeof err));
    assert_non_null(strstr(err, "manifest: must be a JSON object"));
}

static void test_bundled_trunks(void **state)
{
    (void)state;
    assert_true(plugin_count() >= 7);
    const char *names[] = {"generic", "twilio", "telnyx", "bandwidth", "flowroute", "voxbone", "signalwire"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const sip_trunk_profile *t = sip_trunk_find(names[i]);
        assert_non_null(t);
        assert_string_equal(t->name, names[i]);
        char id[64];
        str_fmt(id, sizeof id, "faxbot-sip-%s", names[i]);
        assert_ptr_equal(sip_trunk_find(id), t);
        assert_string_equal(plugin_find(id)->short_name, names[i]);
        assert_int_equal(plugin_find(id)->source, PLUGIN_BUNDLED);
    }
    assert_ptr_equal(sip_trunk_find("TWILIO"), sip_trunk_find("twilio"));
    /* the values the old compiled presets had */
    const sip_trunk_profile *tw = sip_trunk_find("twilio");
    assert_false(tw->t38);
    assert_false(tw->registers);
    assert_true(tw->send_pai);
    assert_true(tw->caller_id_e164);
    assert_string_equal(tw->caller_id_default_name, "Asterisk PBX");
    assert_string_equal(tw->host_contains, ".pstn.");
    assert_string_equal(tw->host_suffix, ".twilio.com");
    const sip_trunk_profile *tx = sip_trunk_find("telnyx");
    assert_true(tx->t38 && !tx->t38_reinvite && tx->registers);
    assert_string_equal(tx->default_server, "sip.telnyx.com");
    const sip_trunk_profile *fr = sip_trunk_find("flowroute");
    assert_true(fr->tech_prefix && !fr->plus);
    assert_int_equal(fr->tech_prefix_digits, 8);
    assert_string_equal(fr->tech_prefix_sep, "*");
    const sip_trunk_profile *g = sip_trunk_find("generic");
    assert_true(g->t38 && g->t38_reinvite && g->registers && g->plus);
    assert_string_equal(g->codecs, "ulaw,alaw");
    assert_string_equal(g->t38_ec, "redundancy");
    assert_int_equal(g->t38_max_datagram, 400);
    char err[256];
    assert_null(sip_trunk_lookup("nope", err, sizeof err));
    assert_non_null(strstr(err, "SIP_TRUNK_PRESET 'nope' is not known; choose one of: "));
    assert_non_null(strstr(err, "flowroute"));
}

static char tmpdir[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_installed_set_and_store(void **state)
{
    (void)state;
    str_copy(tmpdir, sizeof tmpdir, "/tmp/faxbot-plugins-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char p[512], err[512], id[PLUGIN_ID_MAX];
    int status = 0;
    /* a package folder installs; a second time it is refused (409) */
    str_fmt(p, sizeof p, "%s/pkg", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    str_fmt(p, sizeof p, "%s/pkg/manifest.json", tmpdir);
    write_text(p, GOOD);
    str_fmt(p, sizeof p, "%s/pkg", tmpdir);
    assert_int_equal(plugin_store_install(tmpdir, p, NULL, false, id, err, sizeof err, &status), 0);
    assert_string_equal(id, "acme-trunk");
    assert_int_equal(plugin_store_install(tmpdir, p, NULL, false, id, err, sizeof err, &status), -1);
    assert_int_equal(status, 409);
    /* a broken one next to it is skipped and remembered */
    str_fmt(p, sizeof p, "%s/plugins/broken", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    str_fmt(p, sizeof p, "%s/plugins/broken/manifest.json", tmpdir);
    write_text(p, "{\"id\":\"broken\"}");
    assert_int_equal(plugins_load(tmpdir, err, sizeof err), 0);
    const plugin *a = plugin_find("acme");
    assert_non_null(a);
    assert_int_equal(a->source, PLUGIN_INSTALLED);
    assert_true(a->enabled);
    json_t *errs = plugins_errors();
    assert_int_equal(json_array_size(errs), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(errs, 0), "detail")), "name: missing"));
    json_decref(errs);
    /* disabled: listed, no longer a preset */
    assert_int_equal(plugin_store_set_enabled(tmpdir, "acme-trunk", false, err, sizeof err), 0);
    assert_int_equal(plugins_load(tmpdir, err, sizeof err), 0);
    assert_false(plugin_find("acme-trunk")->enabled);
    assert_null(sip_trunk_find("acme"));
    assert_null(sip_trunk_lookup("acme", err, sizeof err));
    assert_non_null(strstr(err, "which is disabled"));
    assert_int_equal(plugin_store_set_enabled(tmpdir, "acme-trunk", true, err, sizeof err), 0);
    /* bundled ones cannot be removed; installed ones can */
    assert_int_equal(plugin_store_remove(tmpdir, "faxbot-sip-twilio", err, sizeof err, &status), -1);
    assert_int_equal(status, 409);
    assert_int_equal(plugin_store_remove(tmpdir, "acme-trunk", err, sizeof err, &status), 0);
    assert_int_equal(plugin_store_remove(tmpdir, "acme-trunk", err, sizeof err, &status), -1);
    assert_int_equal(status, 404);
    /* the registry: a wrong sha256 is refused, the right one installs */
    char sha[65];
    str_fmt(p, sizeof p, "%s/pkg/manifest.json", tmpdir);
    assert_int_equal(sha256_file_hex(p, sha), 0);
    char reg[1024];
    str_fmt(reg, sizeof reg,
            "{\"items\":[{\"id\":\"acme-trunk\",\"archive\":\"%s\",\"sha256\":\"%s\"},"
            "{\"id\":\"other\",\"archive\":\"%s\",\"sha256\":\"%064d\"}]}", p, sha, p, 0);
    char rpath[512];
    str_fmt(rpath, sizeof rpath, "%s/plugins/registry.json", tmpdir);
    write_text(rpath, reg);
    assert_int_equal(plugin_store_install_from_registry(tmpdir, "other", err, sizeof err, &status), -1);
    assert_int_equal(status, 400);
    assert_non_null(strstr(err, "does not match the registry's"));
    assert_int_equal(plugin_store_install_from_registry(tmpdir, "acme-trunk", err, sizeof err, &status), 0);
    assert_int_equal(plugin_store_install_from_registry(tmpdir, "none", err, sizeof err, &status), -1);
    assert_int_equal(status, 404);
    plugins_load(NULL, err, sizeof err);
    remove_tree(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_manifest_parses),
        cmocka_unit_test(test_bad_manifests_name_the_field),
        cmocka_unit_test(test_bundled_trunks),
        cmocka_unit_test(test_installed_set_and_store),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    plugins_shutdown();
    return rc;
}
