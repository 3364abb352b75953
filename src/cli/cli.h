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

#endif
