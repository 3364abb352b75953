/* doc_common.c — small pieces the document files share (see doc_internal.h): page
 * geometry, libtiff handles whose complaints are captured rather than printed, and
 * temp-file-then-rename publishing so a half-written PDF or TIFF is never seen. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "document/doc_internal.h"
#include "util/util.h"

doc_page_geom doc_page_geometry(paper_size paper)
{
    doc_page_geom g = { 612.0, 792.0, 54.0 };
    if (paper == PAPER_A4) { g.width = 595.0; g.height = 842.0; }
    return g;
}

static int tiff_capture_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)module;
    doc_tiff_log *log = user;
    if (log && !log->msg[0]) {
        vsnprintf(log->msg, sizeof log->msg, fmt, ap);
        /* keep the message on one line */
        for (char *p = log->msg; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return 1;   /* handled: libtiff must not call its global (stderr) handler */
}

static int tiff_drop_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

TIFF *doc_tiff_open(const char *path, const char *mode, doc_tiff_log *log)
{
    if (log) log->msg[0] = '\0';
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_capture_error, log);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_drop_warning, NULL);
    /* a hostile file must not make libtiff allocate absurd buffers */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)256 * 1024 * 1024);
    TIFF *tif = TIFFOpenExt(path, mode, opts);
    TIFFOpenOptionsFree(opts);
    return tif;
}

int doc_make_temp_beside(const char *path, char *tmp, size_t tmplen)
{
    if (str_fmt(tmp, tmplen, "%s.tmp-XXXXXX", path) != 0) { errno = ENAMETOOLONG; return -1; }
    return mkstemp(tmp);
}

int doc_publish_temp(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (fd >= 0) {
        if (fsync(fd) == 0 && rename(tmp, path) == 0) rc = 0;
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (rc != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
    return rc;
}

FILE *doc_open_temp_pdf(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    int fd = doc_make_temp_beside(path, tmp, tmplen);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!out) {
        str_fmt(err, errlen, "cannot create the PDF file: %s", strerror(errno));
        if (fd >= 0) { close(fd); unlink(tmp); }
    }
    return out;
}

int doc_finish_temp_pdf(FILE *out, const char *tmp, const char *path, int rc, char *err, size_t errlen)
{
    if (fclose(out) != 0 && rc == 0) {
        str_fmt(err, errlen, "could not write the PDF: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && doc_publish_temp(tmp, path) != 0) {
        str_fmt(err, errlen, "could not save the PDF: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) unlink(tmp);
    return rc;
}
