/* fileset.c — see fileset.h. */
#define _XOPEN_SOURCE 700
#include "util/fileset.h"
#include "util/util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void parent_dir(const char *path, char *out, size_t outlen)
{
    str_copy(out, outlen, path);
    char *slash = strrchr(out, '/');
    if (slash) *slash = 0;
}

/* Renames dir/<name>.faxbot-new over dir/<name> when it is there; 1 if renamed. */
static int roll_forward(const char *dir, const char *name)
{
    char from[4096], to[4096], pdir[4096];
    if (str_fmt(to, sizeof to, "%s/%s", dir, name) || str_fmt(from, sizeof from, "%s%s", to, FILESET_NEW_SUFFIX))
        return -1;
    if (access(from, F_OK) != 0) return 0;
    if (rename(from, to) != 0) return -1;
    parent_dir(to, pdir, sizeof pdir);
    fsync_dir(pdir);
    return 1;
}

static int remove_new(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    size_t n = strlen(path), k = strlen(FILESET_NEW_SUFFIX);
    if (flag == FTW_F && n > k && !strcmp(path + n - k, FILESET_NEW_SUFFIX)) unlink(path);
    return 0;
}

int fileset_recover(const char *dir)
{
    char journal[4096];
    if (str_fmt(journal, sizeof journal, "%s/%s", dir, FILESET_JOURNAL)) return -1;
    char *text = NULL;
    size_t len = 0;
    if (read_file_all(journal, &text, &len, 1 << 20) != 0) {
        /* no commit: whatever new files exist belong to an apply that never happened */
        if (access(dir, F_OK) == 0) nftw(dir, remove_new, 16, FTW_PHYS);
        return 0;
    }
    int renamed = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line || strstr(line, "..") || line[0] == '/') continue;
        int r = roll_forward(dir, line);
        if (r < 0) rc = -1;
        else renamed += r;
    }
    free(text);
    if (rc == 0) {
        unlink(journal);
        fsync_dir(dir);
    }
    return rc ? -1 : renamed;
}

static void pause_step(int ms)
{
    if (ms > 0) sleep_ms(ms);
}

int fileset_write(const char *dir, const char *const *names, const char *const *texts, int n, bool *changed,
                  int step_delay_ms, char *err, size_t errlen)
{
    if (mkdir_p(dir, 0755)) { str_fmt(err, errlen, "cannot create %s: %s", dir, strerror(errno)); return -1; }
    if (fileset_recover(dir) < 0) { str_fmt(err, errlen, "cannot finish an earlier interrupted write in %s", dir); return -1; }
    int n_changed = 0;
    strbuf journal;
    sb_init(&journal);
    for (int i = 0; i < n; i++) {
        char path[4096];
        str_fmt(path, sizeof path, "%s/%s", dir, names[i]);
        char *old = NULL;
        size_t len = 0;
        changed[i] = !(read_file_all(path, &old, &len, 16 << 20) == 0 && len == strlen(texts[i]) && !memcmp(old, texts[i], len));
        free(old);
        if (!changed[i]) continue;
        n_changed++;
        char tmp[4200], pdir[4096];
        str_fmt(tmp, sizeof tmp, "%s%s", path, FILESET_NEW_SUFFIX);
        parent_dir(path, pdir, sizeof pdir);
        if (mkdir_p(pdir, 0755) || write_file_atomic(tmp, texts[i], strlen(texts[i]))) {
            str_fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            sb_free(&journal);
            fileset_recover(dir);
            return -1;
        }
        chmod(tmp, 0600);
        sb_appendf(&journal, "%s\n", names[i]);
        pause_step(step_delay_ms);
    }
    if (!n_changed) { sb_free(&journal); return 0; }
    char jpath[4096];
    str_fmt(jpath, sizeof jpath, "%s/%s", dir, FILESET_JOURNAL);
    if (write_file_atomic(jpath, journal.data, journal.len)) {       /* the commit point */
        str_fmt(err, errlen, "cannot write %s: %s", jpath, strerror(errno));
        sb_free(&journal);
        fileset_recover(dir);
        return -1;
    }
    sb_free(&journal);
    pause_step(step_delay_ms);
    for (int i = 0; i < n; i++) {
        if (!changed[i]) continue;
        if (roll_forward(dir, names[i]) < 0) {
            str_fmt(err, errlen, "cannot replace %s/%s: %s (the next apply finishes it)", dir, names[i], strerror(errno));
            return -1;
        }
        pause_step(step_delay_ms);
    }
    unlink(jpath);
    fsync_dir(dir);
    return 0;
}
