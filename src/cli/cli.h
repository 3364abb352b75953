/* cli.h — the client commands (send, status, keys): they speak the REST API of a
 * running gateway at FAXBOT_URL with the key from FAXBOT_API_KEY or API_KEY. */
#ifndef FAXBOT_CLI_H
#define FAXBOT_CLI_H

/* Each returns the process exit code. argv[0] is the command name. */
int cli_send(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_keys(int argc, char **argv);
/* `faxbot events`: follows GET /events, one line per event (or --json). */
int cli_events(int argc, char **argv);
/* `faxbot config show|get|set|validate|export` (config_cmd.c). */
int cli_config(int argc, char **argv);
/* `faxbot plugins list|show|validate|install|remove|enable|disable|registry` (plugins_cmd.c). */
int cli_plugins(int argc, char **argv);

/* One JSON request to the gateway (FAXBOT_URL, key from FAXBOT_API_KEY or API_KEY):
 * the parsed 2xx answer, or NULL after printing the gateway's detail or the
 * transport error on stderr. *status is the HTTP status (0 when unreachable). */
struct json_t;
struct json_t *cli_api_json(const char *method, const char *path, const char *json_body, long *status);

#endif
