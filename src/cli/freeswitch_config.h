/* freeswitch_config.h — `faxbot freeswitch-config --out DIR`: renders the FreeSWITCH
 * side of FAX_BACKEND=freeswitch from the same environment the gateway reads: the
 * sofia gateway, the outbound and inbound dialplan extensions, the event-socket
 * settings and its ACL list. Values are XML-escaped; files holding secrets are
 * written 0600 and secrets are never printed. */
#ifndef FAXBOT_FREESWITCH_CONFIG_H
#define FAXBOT_FREESWITCH_CONFIG_H

/* argv[0] is "freeswitch-config". Prints the files written (no secrets) and what
 * to include where. Returns 0, 1 on a configuration or file error (message on
 * stderr naming the variable), 2 on bad usage. */
int cli_freeswitch_config(int argc, char **argv);

#endif
