/* document.h — turning what a client uploaded into a fax image.
 *   sniff:      the type from the bytes (never the name or the declared type)
 *   text → PDF: wrapped, paginated, full UTF-8 (Pango/Cairo, DejaVu Sans Mono)
 *   image → PDF: PNG/JPEG/TIFF fitted to the page (Cairo; libjpeg; libtiff)
 *   PDF → TIFF: class F, 1728 px wide, fine 204x196 or standard 204x98, fitted to
 *               Letter/A4, by Ghostscript in a sandboxed subprocess, pages split
 *               across processes so several cores work on one document
 *   TIFF check: the guard that only valid TIFF-F ever reaches a fax engine
 * Every function returns 0, or -1 with a message in err a user can act on. */
#ifndef FAXBOT_DOCUMENT_H
#define FAXBOT_DOCUMENT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    DOC_UNKNOWN = 0,
    DOC_PDF,
    DOC_TEXT,
    DOC_PNG,
    DOC_JPEG,
    DOC_TIFF,
} doc_type;

/* Name used in the API and store: "pdf", "txt", "png", "jpeg", "tiff", "unknown". */
const char *doc_type_name(doc_type t);
doc_type doc_type_from_name(const char *name);

/* Sniffs a prefix of the content (the first 4 KiB or less is enough for the binary
 * types). Text is only a candidate here: confirm it with an incremental UTF-8 check
 * over the whole body (utf8_validator), which handles characters split between chunks. */
doc_type doc_sniff(const unsigned char *head, size_t len);

typedef struct utf8_validator { int need; unsigned int cp; int len; bool bad; bool has_nul; } utf8_validator;
void utf8_validator_init(utf8_validator *v);
void utf8_validator_feed(utf8_validator *v, const unsigned char *data, size_t len);
/* True if everything fed was valid UTF-8 text (no NUL bytes, no dangling sequence). */
bool utf8_validator_ok(const utf8_validator *v);

typedef enum { PAPER_LETTER = 0, PAPER_A4 } paper_size;
typedef enum { RES_FINE = 0, RES_STANDARD } fax_resolution;

typedef struct convert_limits {
    const char *gs_path;         /* "gs" or an absolute path */
    int timeout_s;               /* wall-clock limit per Ghostscript run */
    int cpu_s;                   /* RLIMIT_CPU per Ghostscript process */
    int memory_mb;               /* RLIMIT_AS per Ghostscript process */
    int max_pages;               /* more pages than this is an error */
    int parallel;                /* Ghostscript processes per document (>= 1) */
    const char *tmp_dir;         /* a private scratch directory per conversion is made inside it */
    /* A page Ghostscript could not draw completely (a circular form, a content error,
     * an external stream it refused to open) fails the conversion; with
     * page_errors_warn it is drawn as far as it goes and, when warning is not NULL,
     * a sentence saying what is missing is left there ("" = none). */
    bool page_errors_warn;
    char *warning;
    size_t warning_len;
} convert_limits;

/* Text file (UTF-8) → PDF. lim may be NULL (defaults); its timeout, CPU and memory
 * bound the drawing helper, and drawing stops with an error as soon as the document
 * would have more than lim->max_pages pages. */
int doc_text_to_pdf(const char *in_path, const char *out_pdf, paper_size paper, const convert_limits *lim,
                    char *err, size_t errlen);
/* PNG/JPEG/TIFF image → single- or multi-page PDF (a multi-page TIFF keeps its pages;
 * more than lim->max_pages of them, or a page too large, is refused from the TIFF's
 * headers before any page is decoded). */
int doc_image_to_pdf(const char *in_path, doc_type type, const char *out_pdf, paper_size paper,
                     const convert_limits *lim, char *err, size_t errlen);
/* PDF → TIFF class F (MH/Group 3 1-D, min-is-white, 1728 px, one IFD per page).
 * Fills *pages. */
int doc_pdf_to_tiff(const char *in_pdf, const char *out_tiff, fax_resolution res, paper_size paper,
                    const convert_limits *lim, int *pages, char *err, size_t errlen);
/* Number of pages of a PDF (via Ghostscript under the same limits). */
int doc_pdf_page_count(const char *in_pdf, const convert_limits *lim, int *pages, char *err, size_t errlen);

/* Any supported input → normalized PDF and TIFF-F: the whole pipeline in one call
 * (used by the job worker and `faxbot convert`). out_pdf may be NULL. */
int doc_convert(const char *in_path, doc_type type, const char *out_pdf, const char *out_tiff,
                fax_resolution res, paper_size paper, const convert_limits *lim, int *pages,
                char *err, size_t errlen);

/* Several files (up to 10) → one fax in the order given: each converted on its own
 * (its type sniffed from its bytes), the fax pages joined into out_tiff, and out_pdf
 * (may be NULL) drawn from those pages, so it shows what the recipient gets. One
 * file is plain doc_convert. Errors name the file ("file 2 of 3: …"). */
int doc_convert_many(const char *const *in_paths, int n, const char *out_pdf, const char *out_tiff, fax_resolution res,
                     paper_size paper, const convert_limits *lim, int *pages, char *err, size_t errlen);

typedef struct tiff_info {
    int pages;
    int width;                   /* of the first page (all must match a legal fax width) */
    bool fine;                   /* vertical resolution ~196 lpi (else ~98) */
    int compression;             /* TIFF Compression tag of the first page */
} tiff_info;

/* Checks that a TIFF is a valid fax image: bilevel, 1728 px wide on every page,
 * 204 dpi horizontal and 98 or 196 lpi vertical, at least one page. */
int doc_tiff_check_faxable(const char *path, tiff_info *info, char *err, size_t errlen);

/* Page `page` (1-based) of a bilevel fax TIFF as a greyscale PNG `width` pixels
 * wide (16..1728), its height from the page's real proportions (fax pixels are not
 * square). *png is malloc'd. *pages (may be NULL) gets the TIFF's page count, also
 * on failure when the file could be opened. */
int doc_tiff_page_png(const char *tiff_path, int page, int width, unsigned char **png, size_t *png_len, int *pages,
                      char *err, size_t errlen);

/* Pixel comparison of a sent and a received fax (tiff_compare.c): both must have the
 * same number of pages and, page by page, the same width; each received page must have
 * at least the sent page's rows, and its LAST rows must equal the sent rows bit for bit
 * (a page header band the sender added on top is allowed). MinIsBlack pages are
 * compared as MinIsWhite. Fills *pages_compared with the pages found identical and
 * *header_rows with the extra rows on top of page 1 (either pointer may be NULL).
 * Returns 0 when every page matches, -1 with a message naming the page and the first
 * differing row (or why a file could not be read). */
int doc_tiff_compare(const char *sent, const char *received, int *pages_compared, int *header_rows,
                     char *err, size_t errlen);

#endif
