/* fileset.h — replacing a set of configuration files in a directory (a PBX's
 * configuration) so that a crash at any point leaves either the old set or the new
 * one, never a mix. New contents go to "<name>.faxbot-new" files (fsynced); a
 * journal naming them is then written atomically — the commit point — and the new
 * files are renamed over the old ones; the journal goes last. fileset_recover
 * finishes a committed set (renames what is left) or removes an uncommitted one. */
#ifndef FAXBOT_FILESET_H
#define FAXBOT_FILESET_H

#include <stdbool.h>
#include <stddef.h>

#define FILESET_JOURNAL ".faxbot-apply"
#define FILESET_NEW_SUFFIX ".faxbot-new"

/* Finishes or undoes an interrupted fileset_write in dir. Returns the number of
 * files it renamed (rolled forward), or -1 on an I/O error. */
int fileset_recover(const char *dir);

/* Writes files names[i] (relative paths, subdirectories made as needed, mode 0600)
 * with texts[i] into dir; only files whose content differs are touched, and
 * changed[i] says which. step_delay_ms > 0 pauses between steps (tests kill the
 * process in the middle). 0, or -1 with err (the old set stays in place). */
int fileset_write(const char *dir, const char *const *names, const char *const *texts, int n, bool *changed,
                  int step_delay_ms, char *err, size_t errlen);

#endif
