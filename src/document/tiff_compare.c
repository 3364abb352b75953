/* tiff_compare.c — proves a received fax is pixel-identical to what was sent: both
 * TIFFs are decoded row by row with libtiff (any strip compression, CCITT G3/G4
 * included) and every page of the received file must end with exactly the rows of
 * the sent page. Extra rows on top are allowed, because spandsp adds a page header
 * band ("<date> <time>  <text>  <station>  p.<n>") above the image when it sends.
 * Used by `faxbot selftest`, `faxbot tiff-compare` and the tests. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "document/doc_internal.h"
#include "document/document.h"
#include "util/util.h"

/* One open TIFF with the decoded-row buffer for its current page. */
typedef struct cmp_side {
    const char *label;          /* "sent" or "received", for messages */
    TIFF *tif;
    doc_tiff_log log;
    uint32_t width, rows;
    bool invert;                /* MinIsBlack: flip so that 1 = black on both sides */
    uint8_t *row;
    size_t row_bytes;           /* bytes of pixels actually compared in a row */
} cmp_side;

static int side_open(cmp_side *s, const char *path, const char *label, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->label = label;
    s->tif = doc_tiff_open(path, "r", &s->log);
    if (!s->tif) {
        if (s->log.msg[0] && strstr(s->log.msg, path))   /* libtiff already named the file */
            str_fmt(err, errlen, "cannot open the %s TIFF: %s", label, s->log.msg);
        else
            str_fmt(err, errlen, "cannot open the %s TIFF %s: %s", label, path,
                    s->log.msg[0] ? s->log.msg : "not a readable TIFF");
        return -1;
    }
    return 0;
}

static void side_close(cmp_side *s)
{
    if (s->tif) TIFFClose(s->tif);
    free(s->row);
    s->tif = NULL;
    s->row = NULL;
}

/* Reads the geometry of the current page and sizes the row buffer; only bilevel,
 * strip-organised images can be compared. */
static int side_load_page(cmp_side *s, int page, char *err, size_t errlen)
{
    uint16_t bps = 1, spp = 1, photometric = PHOTOMETRIC_MINISWHITE;
    s->width = s->rows = 0;
    TIFFGetField(s->tif, TIFFTAG_IMAGEWIDTH, &s->width);
    TIFFGetField(s->tif, TIFFTAG_IMAGELENGTH, &s->rows);
    TIFFGetFieldDefaulted(s->tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(s->tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(s->tif, TIFFTAG_PHOTOMETRIC, &photometric);
    if (bps != 1 || spp != 1) {
        str_fmt(err, errlen, "page %d of the %s TIFF is not black and white (%u bits x %u samples)",
                page, s->label, (unsigned)bps, (unsigned)spp);
        return -1;
    }
    if (TIFFIsTiled(s->tif)) {
        str_fmt(err, errlen, "page %d of the %s TIFF is tiled; only strip images can be compared", page, s->label);
        return -1;
    }
    if (s->width == 0 || s->width > 65536) {
        str_fmt(err, errlen, "page %d of the %s TIFF has an unusable width %u", page, s->label, (unsigned)s->width);
        return -1;
    }
    s->invert = photometric == PHOTOMETRIC_MINISBLACK;
    s->row_bytes = (s->width + 7) / 8;
    tmsize_t line = TIFFScanlineSize(s->tif);
    size_t need = line > 0 && (size_t)line > s->row_bytes ? (size_t)line : s->row_bytes;
    free(s->row);
    s->row = calloc(1, need);
    if (!s->row) {
        str_fmt(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Decodes row y of the current page into s->row as 1 = black, padding bits cleared. */
static int side_read_row(cmp_side *s, int page, uint32_t y, char *err, size_t errlen)
{
    if (TIFFReadScanline(s->tif, s->row, y, 0) != 1) {
        str_fmt(err, errlen, "cannot decode page %d row %u of the %s TIFF: %s", page, (unsigned)y, s->label,
                s->log.msg[0] ? s->log.msg : "damaged image data");
        return -1;
    }
    if (s->invert)
        for (size_t i = 0; i < s->row_bytes; i++) s->row[i] = (uint8_t)~s->row[i];
    if (s->width % 8)
        s->row[s->row_bytes - 1] &= (uint8_t)(0xff << (8 - s->width % 8));
    return 0;
}

/* First pixel column where two decoded rows differ (they are known to differ). */
static uint32_t first_diff_column(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a[i] ^ b[i];
        if (!x) continue;
        uint32_t col = (uint32_t)i * 8;
        while (!(x & 0x80)) { x = (uint8_t)(x << 1); col++; }
        return col;
    }
    return 0;
}

/* Compares one page: the received page must end with the sent page's rows. */
static int compare_page(cmp_side *a, cmp_side *b, int page, int *extra, char *err, size_t errlen)
{
    if (side_load_page(a, page, err, errlen) || side_load_page(b, page, err, errlen)) return -1;
    if (a->width != b->width) {
        str_fmt(err, errlen, "page %d: sent %u px wide, received %u px wide", page, (unsigned)a->width,
                (unsigned)b->width);
        return -1;
    }
    if (b->rows < a->rows) {
        str_fmt(err, errlen, "page %d: sent %u rows, received only %u (the page was cut short)", page,
                (unsigned)a->rows, (unsigned)b->rows);
        return -1;
    }
    uint32_t skip = b->rows - a->rows;
    *extra = (int)skip;
    /* CCITT strips only decode in order: walk through the header band first */
    for (uint32_t y = 0; y < skip; y++)
        if (side_read_row(b, page, y, err, errlen)) return -1;
    for (uint32_t y = 0; y < a->rows; y++) {
        if (side_read_row(a, page, y, err, errlen) || side_read_row(b, page, y + skip, err, errlen)) return -1;
        if (memcmp(a->row, b->row, a->row_bytes) != 0) {
            str_fmt(err, errlen, "page %d differs at sent row %u (received row %u), first at pixel %u", page,
                    (unsigned)y, (unsigned)(y + skip), (unsigned)first_diff_column(a->row, b->row, a->row_bytes));
            return -1;
        }
    }
    return 0;
}

int doc_tiff_compare(const char *sent, const char *received, int *pages_compared, int *header_rows, char *err,
                     size_t errlen)
{
    if (pages_compared) *pages_compared = 0;
    if (header_rows) *header_rows = 0;
    if (!sent || !received) {
        str_fmt(err, errlen, "no TIFF given to compare");
        return -1;
    }
    cmp_side a, b;
    memset(&b, 0, sizeof b);
    if (side_open(&a, sent, "sent", err, errlen)) return -1;
    if (side_open(&b, received, "received", err, errlen)) {
        side_close(&a);
        return -1;
    }
    int rc = -1;
    int na = (int)TIFFNumberOfDirectories(a.tif), nb = (int)TIFFNumberOfDirectories(b.tif);
    if (na != nb) {
        str_fmt(err, errlen, "sent %d page%s, received %d", na, na == 1 ? "" : "s", nb);
        goto out;
    }
    if (na < 1) {   /* libtiff counts no page in a damaged file: nothing was compared */
        str_fmt(err, errlen, "the TIFFs have no readable page (%s)",
                a.log.msg[0] ? a.log.msg : b.log.msg[0] ? b.log.msg : "damaged page directory");
        goto out;
    }
    for (int page = 1; page <= na; page++) {
        if (page > 1 && (!TIFFReadDirectory(a.tif) || !TIFFReadDirectory(b.tif))) {
            str_fmt(err, errlen, "cannot read page %d: %s", page,
                    a.log.msg[0] ? a.log.msg : b.log.msg[0] ? b.log.msg : "damaged page directory");
            goto out;
        }
        int extra = 0;
        if (compare_page(&a, &b, page, &extra, err, errlen)) goto out;
        if (page == 1 && header_rows) *header_rows = extra;
        if (pages_compared) *pages_compared = page;
    }
    rc = 0;
out:
    side_close(&a);
    side_close(&b);
    return rc;
}
