/* convert.c — the whole document pipeline in one call, for the job worker and
 * `faxbot convert`: whatever the client sent becomes a normalized PDF (for people:
 * previews, archives) and a TIFF-F (for the fax engine).
 *   text  → PDF (Pango/Cairo) → TIFF (Ghostscript)
 *   PDF   → copied as the PDF  → TIFF
 *   PNG/JPEG → PDF (Cairo)     → TIFF
 *   TIFF  already faxable: its pages are copied as they are (clean page tags) and
 *         the PDF is drawn from it; otherwise it goes image → PDF → Ghostscript.
 * Intermediate files live in a private directory under lim->tmp_dir. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "document/doc_internal.h"
#include "config/settings.h"
#include "util/util.h"

static int copy_file_atomic(const char *from, const char *to, char *err, size_t errlen)
{
    char tmp[4096];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        str_fmt(err, errlen, "cannot open the PDF: %s", strerror(errno));
        return -1;
    }
    int out = doc_make_temp_beside(to, tmp, sizeof tmp);
    if (out < 0) {
        str_fmt(err, errlen, "cannot create the PDF copy: %s", strerror(errno));
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) { if (errno == EINTR) continue; rc = -1; break; }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) { if (errno == EINTR) continue; rc = -1; break; }
            off += w;
        }
        if (rc != 0) break;
    }
    close(in);
    if (close(out) != 0) rc = -1;
    if (rc == 0 && doc_publish_temp(tmp, to) != 0) rc = -1;
    if (rc != 0) {
        str_fmt(err, errlen, "could not copy the PDF: %s", strerror(errno));
        unlink(tmp);
    }
    return rc;
}

/* A private work directory for intermediate files. */
static int make_work_dir(const convert_limits *lim, char *dir, size_t dirlen, char *err, size_t errlen)
{
    const char *base = lim && lim->tmp_dir && lim->tmp_dir[0] ? lim->tmp_dir : NULL;
    if (!base) base = settings_os_env("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    if (str_fmt(dir, dirlen, "%s/conv-XXXXXX", base) != 0 || !mkdtemp(dir)) {
        str_fmt(err, errlen, "cannot create a work directory in %s: %s", base, strerror(errno));
        dir[0] = '\0';
        return -1;
    }
    return 0;
}

/* A client TIFF that is already a fax image: copied page by page (tags cleaned),
 * and drawn into the PDF when one is wanted. */
static int convert_faxable_tiff(const char *in_path, const char *out_pdf, const char *out_tiff, paper_size paper,
                                const convert_limits *lim, const tiff_info *info, int *pages, char *err,
                                size_t errlen)
{
    int max_pages = lim && lim->max_pages > 0 ? lim->max_pages : 200;
    if (info->pages > max_pages) {
        str_fmt(err, errlen, "the document has %d pages; the limit is %d", info->pages, max_pages);
        return -1;
    }
    const char *inputs[1] = { in_path };
    if (doc_tiff_copy_fax_pages(inputs, 1, out_tiff, pages, err, errlen) != 0) return -1;
    if (out_pdf && doc_image_to_pdf(in_path, DOC_TIFF, out_pdf, paper, lim, err, errlen) != 0) return -1;
    return 0;
}

int doc_convert(const char *in_path, doc_type type, const char *out_pdf, const char *out_tiff,
                fax_resolution res, paper_size paper, const convert_limits *lim, int *pages,
                char *err, size_t errlen)
{
    if (pages) *pages = 0;
    if (err && errlen) err[0] = '\0';
    if (!in_path || !out_tiff) { str_fmt(err, errlen, "no input or output file given"); return -1; }
    if (access(in_path, R_OK) != 0) {
        str_fmt(err, errlen, "cannot open the document: %s", strerror(errno));
        return -1;
    }
    int n = 0;
    if (type == DOC_PDF) {
        if (out_pdf && copy_file_atomic(in_path, out_pdf, err, errlen) != 0) return -1;
        if (doc_pdf_to_tiff(in_path, out_tiff, res, paper, lim, &n, err, errlen) != 0) return -1;
        if (pages) *pages = n;
        return 0;
    }
    if (type == DOC_TIFF) {
        tiff_info info;
        char why[256];
        if (doc_tiff_check_faxable(in_path, &info, why, sizeof why) == 0) {
            if (convert_faxable_tiff(in_path, out_pdf, out_tiff, paper, lim, &info, &n, err, errlen) != 0)
                return -1;
            if (pages) *pages = n;
            return 0;
        }
        /* not a fax image as it is: redraw it through PDF and Ghostscript below */
    }
    if (type != DOC_TEXT && type != DOC_PNG && type != DOC_JPEG && type != DOC_TIFF) {
        str_fmt(err, errlen, "this document type is not supported; send a PDF, plain text (UTF-8), "
                "PNG, JPEG or TIFF");
        return -1;
    }

    char work[PATH_MAX], pdf_path[PATH_MAX + 16];
    if (make_work_dir(lim, work, sizeof work, err, errlen) != 0) return -1;
    if (out_pdf) str_copy(pdf_path, sizeof pdf_path, out_pdf);
    else str_fmt(pdf_path, sizeof pdf_path, "%s/document.pdf", work);

    int rc = type == DOC_TEXT ? doc_text_to_pdf(in_path, pdf_path, paper, lim, err, errlen)
                              : doc_image_to_pdf(in_path, type, pdf_path, paper, lim, err, errlen);
    if (rc == 0) rc = doc_pdf_to_tiff(pdf_path, out_tiff, res, paper, lim, &n, err, errlen);
    remove_tree(work);
    if (rc != 0) return -1;
    if (pages) *pages = n;
    return 0;
}

/* The type of a stored file from its bytes, as POST /fax decided it per file. */
static doc_type sniff_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return DOC_UNKNOWN;
    unsigned char head[4096], buf[65536];
    size_t got = fread(head, 1, sizeof head, f);
    doc_type t = doc_sniff(head, got);
    if (t == DOC_TEXT) {
        utf8_validator v;
        utf8_validator_init(&v);
        utf8_validator_feed(&v, head, got);
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) utf8_validator_feed(&v, buf, n);
        if (!utf8_validator_ok(&v)) t = DOC_UNKNOWN;
    }
    fclose(f);
    return t;
}

int doc_convert_many(const char *const *in_paths, int n, const char *out_pdf, const char *out_tiff, fax_resolution res,
                     paper_size paper, const convert_limits *lim, int *pages, char *err, size_t errlen)
{
    if (pages) *pages = 0;
    if (n == 1) {
        return doc_convert(in_paths[0], sniff_file(in_paths[0]), out_pdf, out_tiff, res, paper, lim, pages, err,
                           errlen);
    }
    if (n < 1 || n > 10) { str_fmt(err, errlen, "between 1 and 10 files make one fax"); return -1; }
    char work[PATH_MAX];
    if (make_work_dir(lim, work, sizeof work, err, errlen) != 0) return -1;
    char tiffs[10][PATH_MAX + 32];
    const char *inputs[10];
    int total = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        str_fmt(tiffs[i], sizeof tiffs[i], "%s/part-%d.tiff", work, i + 1);
        inputs[i] = tiffs[i];
        doc_type t = sniff_file(in_paths[i]);
        int got = 0;
        char why[400];
        rc = doc_convert(in_paths[i], t, NULL, tiffs[i], res, paper, lim, &got, why, sizeof why);
        if (rc) str_fmt(err, errlen, "file %d of %d: %s", i + 1, n, why);
        total += got;
    }
    int max_pages = lim && lim->max_pages > 0 ? lim->max_pages : 200;
    if (rc == 0 && total > max_pages) {
        str_fmt(err, errlen, "the files have %d pages together; the limit is %d", total, max_pages);
        rc = -1;
    }
    /* the pages in the order the files came; the PDF shows exactly those fax pages */
    if (rc == 0) rc = doc_tiff_copy_fax_pages(inputs, n, out_tiff, pages, err, errlen);
    if (rc == 0 && out_pdf) rc = doc_image_to_pdf(out_tiff, DOC_TIFF, out_pdf, paper, lim, err, errlen);
    remove_tree(work);
    return rc;
}
