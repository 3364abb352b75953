/* aws_profile.h — AWS credentials from the usual shared files, as the AWS CLI and
 * SDKs read them: the credentials file ([name] sections) and the config file
 * ([default] / [profile name] sections), keys aws_access_key_id,
 * aws_secret_access_key and aws_session_token. config.c uses it when the
 * AWS_* variables do not give a key pair (they win). Nothing here logs a value. */
#ifndef FAXBOT_AWS_PROFILE_H
#define FAXBOT_AWS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aws_keys {
    char access_key_id[128];
    char secret_access_key[256];
    char session_token[2048];
    char source[600];            /* "profile 'x' of /path": where they came from (no values) */
} aws_keys;

/* The keys of profile (default "default") from credentials_file, else from
 * config_file (either may be NULL or missing). 0 found; 1 none there (err says
 * where it looked); -1 a file could not be read or a value is too long (err). */
int aws_profile_keys(const char *credentials_file, const char *config_file, const char *profile, aws_keys *out,
                     char *err, size_t errlen);

#endif
