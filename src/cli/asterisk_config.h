/* asterisk_config.h — `faxbot asterisk-config --out DIR`: renders the Asterisk side of
 * FAX_BACKEND=sip (pjsip.conf, extensions.conf, manager.conf, udptl.conf, res_fax.conf,
 * modules.conf) from the same environment the gateway reads, for the trunk preset in
 * SIP_TRUNK_PRESET. Every file is written 0600 (three hold secrets); secrets are never
 * printed. The rendering itself is ami_render() in src/ami/ami_trunk.c. */
#ifndef FAXBOT_ASTERISK_CONFIG_H
#define FAXBOT_ASTERISK_CONFIG_H

/* argv[0] is "asterisk-config". Prints the files written and the next steps.
 * Returns 0, 1 on a configuration or file error (message on stderr naming the
 * variable), 2 on bad usage. */
int cli_asterisk_config(int argc, char **argv);

#endif
