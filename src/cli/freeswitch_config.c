/* freeswitch_config.c — `faxbot freeswitch-config --out DIR` (see freeswitch_config.h):
 * writes what esl_render.c renders from the settings into DIR. */
#include "cli/freeswitch_config.h"
#include "esl/esl_render.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int write_out(const char *dir, const char *rel, const char *text, char *err, size_t errlen)
{
    char path[2048], parent[2048];
    str_fmt(path, sizeof path, "%s/%s", dir, rel);
    str_copy(parent, sizeof parent, path);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    if (mkdir_p(parent, 0700) || write_file_atomic(path, text, strlen(text)) || chmod(path, 0600)) {
        str_fmt(err, errlen, "cannot write %s", path);
        return -1;
    }
    printf("  %s\n", path);
    return 0;
}

int cli_freeswitch_config(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (o == 'o') out = optarg;
        else {
            fprintf(o == 'h' ? stdout : stderr, "usage: faxbot freeswitch-config --out DIR\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (!out || optind != argc) {
        fprintf(stderr, "usage: faxbot freeswitch-config --out DIR\n");
        return 2;
    }
    fs_rendered files[FS_RENDER_FILES];
    char err[512], gateway[128];
    bool hooks = false;
    if (fs_render(files, gateway, sizeof gateway, &hooks, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        return 1;
    }
    int rc = 1;
    if (mkdir_p(out, 0700)) {
        fprintf(stderr, "faxbot: cannot create %s\n", out);
        goto done;
    }
    printf("FreeSWITCH configuration for gateway %s written (mode 0600; some files hold secrets):\n", gateway);
    for (int i = 0; i < FS_RENDER_FILES; i++)
        if (write_out(out, files[i].name, files[i].text, err, sizeof err)) {
            fprintf(stderr, "faxbot: %s\n", err);
            goto done;
        }
    if (!hooks)
        printf("note: FREESWITCH_INBOUND_SECRET (or ASTERISK_INBOUND_SECRET) is not set, so no result hooks were\n"
               "      rendered: results come over the event socket only and inbound faxes are not reported.\n");
    printf("Copy each file into the same folder under FreeSWITCH's conf/ directory, merge the ACL list\n"
           "into acl.conf.xml, load mod_spandsp, and run `reloadxml` and `sofia profile external rescan`\n"
           "(or set FREESWITCH_CONFIG_DIR and let a settings change write and reload them).\n");
    rc = 0;
done:
    fs_render_free(files);
    return rc;
}
