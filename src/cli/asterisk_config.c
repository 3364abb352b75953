/* asterisk_config.c — see asterisk_config.h. Reads the settings (config_load for
 * station id, header and listen port; ami_trunk_load for the rest), renders with
 * ami_render and writes the files atomically with mode 0600. */
#include "cli/asterisk_config.h"

#include "ami/ami_trunk.h"
#include "config/config.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: faxbot asterisk-config --out DIR\n"
               "  Renders pjsip.conf, extensions.conf, manager.conf, udptl.conf, res_fax.conf and modules.conf\n"
               "  for the trunk preset in SIP_TRUNK_PRESET (%s) from the environment\n"
               "  (SIP_SERVER, SIP_USERNAME, SIP_PASSWORD, SIP_FROM_USER, ASTERISK_AMI_*, ASTERISK_INBOUND_SECRET, ...).\n",
            ami_preset_names());
}

int cli_asterisk_config(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (o == 'o') out = optarg;
        else { usage(o == 'h' ? stdout : stderr); return o == 'h' ? 0 : 2; }
    }
    if (!out || optind != argc) { usage(stderr); return 2; }

    config cfg;
    char err[512];
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    ami_trunk t;
    if (ami_trunk_load(&t, &cfg, true, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    ami_rendered files[AMI_RENDER_FILES];
    if (ami_render(&t, files, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    memset(t.password, 0, sizeof t.password);
    memset(t.ami_password, 0, sizeof t.ami_password);
    memset(t.inbound_secret, 0, sizeof t.inbound_secret);

    int rc = 0;
    if (mkdir_p(out, 0700)) {
        fprintf(stderr, "faxbot: cannot create %s\n", out);
        rc = 1;
    }
    for (int i = 0; i < AMI_RENDER_FILES && rc == 0; i++) {
        char path[4096];
        if (str_fmt(path, sizeof path, "%s/%s", out, files[i].name) ||
            write_file_atomic(path, files[i].text, strlen(files[i].text)) || chmod(path, 0600)) {
            fprintf(stderr, "faxbot: cannot write %s/%s\n", out, files[i].name);
            rc = 1;
            break;
        }
        printf("wrote %s/%s (%zu bytes, mode 0600%s)\n", out, files[i].name, strlen(files[i].text),
               files[i].secret ? ", holds secrets" : "");
    }
    for (int i = 0; i < AMI_RENDER_FILES; i++)
        if (files[i].text) memset(files[i].text, 0, strlen(files[i].text));
    ami_render_free(files);
    if (rc) return rc;
    printf("\npreset %s (%s): trunk %s:%d, %s, T.38 %s; AMI user '%s' bound to %s:%d\n", t.preset->name,
           t.preset->title, t.server, t.port, t.username[0] ? "digest auth" : "IP authentication",
           t.preset->t38 ? (t.preset->t38_reinvite && !t.preset->audio_fallback ? "on (we re-INVITE if the far end does not)"
                                                                         : "on (the far end re-INVITEs)")
                         : "off (G.711 audio)",
           t.ami_user, t.ami_bind, t.ami_port);
    printf("Copy the files into Asterisk's configuration directory (e.g. /etc/asterisk), owned by the asterisk\n"
           "user and kept private, then `asterisk -rx \"core reload\"`. ReceiveFAX writes to %s and the\n"
           "gateway is reached at %s: both must be the same on the Asterisk host.\n",
           t.spool_dir, t.gateway_url);
    return 0;
}
