/* faxbot_env.h — `faxbot doctor --from-faxbot FILE`: what of a Faxbot .env carries
 * over, what is renamed and what needs action, variable by variable. */
#ifndef FAXBOT_FAXBOT_ENV_H
#define FAXBOT_FAXBOT_ENV_H

/* Prints the report; 0 if nothing needs action, 1 if something does, 2 if the file cannot be read. */
int faxbot_env_report(const char *path);

#endif
