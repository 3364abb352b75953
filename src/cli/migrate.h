/* migrate.h — `faxbot migrate`: copies a single-node SQLite + files installation to
 * PostgreSQL (and its artifacts to S3), then verifies the copy. */
#ifndef FAXBOT_MIGRATE_H
#define FAXBOT_MIGRATE_H

/* The process exit code: 0 copied and verified, 1 failed or differs, 2 refused. */
int cli_migrate(int argc, char **argv);

#endif
