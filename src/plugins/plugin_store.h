/* plugin_store.h — installing and managing plugins on disk, under
 * $FAX_DATA_DIR/plugins/:
 *   <id>/manifest.json (+ the files a plugin ships, e.g. a native plugin's .so)
 *   state.json         {"disabled": [ids]}
 *   registry.json      the local registry (PLUGIN_REGISTRY_PATH overrides where it is):
 *                      {"items": [{id, name, version, categories, capabilities,
 *                      description, archive, sha256}]}, archive relative to the file
 * Installing copies files and validates the manifest; it never runs anything the
 * plugin ships (a tarball is unpacked by tar into a scratch folder, refused if it
 * holds links, devices or paths outside it). After a change the caller reloads
 * the set with plugins_load(). */
#ifndef FAXBOT_PLUGIN_STORE_H
#define FAXBOT_PLUGIN_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;

/* A whole file of at most max bytes, NUL-terminated (malloc'd); NULL with err. */
char *plugin_store_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* The ids in state.json's "disabled" (a new array; empty when none). */
struct json_t *plugin_store_disabled(const char *data_dir);
/* Adds or removes id in state.json. 0 or -1 with err. */
int plugin_store_set_enabled(const char *data_dir, const char *id, bool enabled, char *err, size_t errlen);

/* Installs from path: a folder holding manifest.json, a manifest.json file, or a
 * .tar.gz/.tgz/.tar archive (manifest.json at its top or in its one top folder).
 * expect_id: when not NULL, the manifest's id must be this. replace: an installed
 * plugin of the same id is replaced (else refused). Fills id (PLUGIN_ID_MAX).
 * Returns 0, or -1 with err; *status gets an HTTP-like code for the API (400 bad
 * package or manifest, 409 already installed or taken by a bundled plugin, 500). */
int plugin_store_install(const char *data_dir, const char *path, const char *expect_id, bool replace, char *id,
                         char *err, size_t errlen, int *status);
/* The same for a manifest given as JSON (POST /admin/plugins/http/install). */
int plugin_store_install_manifest(const char *data_dir, const struct json_t *manifest, bool replace, char *id,
                                  char *err, size_t errlen, int *status);
/* Removes an installed plugin's folder (bundled ones are refused: disable them). */
int plugin_store_remove(const char *data_dir, const char *id, char *err, size_t errlen, int *status);

/* The local registry: the file's path (PLUGIN_REGISTRY_PATH or <data_dir>/plugins/registry.json). */
void plugin_store_registry_path(const char *data_dir, char *out, size_t outlen);
/* The registry file parsed and checked ({items:[…]}); a missing file is {items:[]}.
 * NULL with err when it is not valid. */
struct json_t *plugin_store_registry(const char *data_dir, char *err, size_t errlen);
/* Installs a registry item: its archive's sha256 must match the registry's (else
 * refused, 400), its manifest's id must be the item's. */
int plugin_store_install_from_registry(const char *data_dir, const char *id, char *err, size_t errlen, int *status);

#endif
