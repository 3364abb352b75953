/* tiff_copy.c — writing TIFF-F files (see doc_internal.h), two ways:
 *   - copying: a client's TIFF that is already faxable passes through with clean
 *     page tags; the compressed strips are copied as they are (like tiffcp), so
 *     nothing is decoded or re-encoded;
 *   - encoding: rasterize.c streams Ghostscript's bitmaps in, row by row; each row
 *     is coded here as Modified Huffman (T.4 1-D, a byte-aligned EOL before every
 *     row, no RTC: what Ghostscript's tiffg3 device writes) and each page becomes
 *     one strip. Coding in our process is several times faster than libtiff's
 *     coder inside Ghostscript, which was a third of the whole conversion.
 * Either way each page gets NewSubfileType=page and PageNumber (0-based page,
 * total), and the result is checked by doc_tiff_check_faxable before it is
 * published under its final name (temp file + one fsync + rename). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "document/doc_internal.h"
#include "util/util.h"

#define MAX_COPY_PAGES 10000
#define MAX_RAW_STRIP ((uint64_t)64 * 1024 * 1024)

static int count_pages(const char *const *inputs, int n_inputs, int *total, char *err, size_t errlen)
{
    *total = 0;
    for (int i = 0; i < n_inputs; i++) {
        doc_tiff_log log;
        TIFF *tif = doc_tiff_open(inputs[i], "r", &log);
        if (!tif) {
            str_fmt(err, errlen, "cannot read a rendered TIFF%s%s", log.msg[0] ? ": " : "", log.msg);
            return -1;
        }
        *total += TIFFNumberOfDirectories(tif);
        TIFFClose(tif);
        if (*total > MAX_COPY_PAGES) {
            str_fmt(err, errlen, "the TIFF has more than %d pages", MAX_COPY_PAGES);
            return -1;
        }
    }
    return 0;
}

static void copy_page_tags(TIFF *in, TIFF *out, int page_index, int total)
{
    uint32_t width = 0, length = 0, rows_per_strip = 0;
    uint16_t bps = 1, spp = 1, comp = COMPRESSION_NONE, photometric = PHOTOMETRIC_MINISWHITE;
    uint16_t fill = FILLORDER_MSB2LSB, unit = RESUNIT_INCH;
    float xres = 0, yres = 0;

    TIFFGetField(in, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(in, TIFFTAG_IMAGELENGTH, &length);
    TIFFGetFieldDefaulted(in, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(in, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(in, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(in, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(in, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(in, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetFieldDefaulted(in, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    TIFFGetField(in, TIFFTAG_XRESOLUTION, &xres);
    TIFFGetField(in, TIFFTAG_YRESOLUTION, &yres);

    TIFFSetField(out, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(out, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(out, TIFFTAG_IMAGELENGTH, length);
    TIFFSetField(out, TIFFTAG_BITSPERSAMPLE, bps);
    TIFFSetField(out, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(out, TIFFTAG_COMPRESSION, comp);
    TIFFSetField(out, TIFFTAG_PHOTOMETRIC, photometric);
    TIFFSetField(out, TIFFTAG_FILLORDER, fill);
    TIFFSetField(out, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(out, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    TIFFSetField(out, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    TIFFSetField(out, TIFFTAG_RESOLUTIONUNIT, unit);
    if (xres > 0) TIFFSetField(out, TIFFTAG_XRESOLUTION, xres);
    if (yres > 0) TIFFSetField(out, TIFFTAG_YRESOLUTION, yres);
    TIFFSetField(out, TIFFTAG_PAGENUMBER, (uint16_t)page_index, (uint16_t)total);
    TIFFSetField(out, TIFFTAG_SOFTWARE, "faxbot");
    /* codec tags can only be set once the compression is known */
    uint32_t options = 0;
    if (comp == COMPRESSION_CCITTFAX3 && TIFFGetField(in, TIFFTAG_GROUP3OPTIONS, &options))
        TIFFSetField(out, TIFFTAG_GROUP3OPTIONS, options);
    if (comp == COMPRESSION_CCITTFAX4 && TIFFGetField(in, TIFFTAG_GROUP4OPTIONS, &options))
        TIFFSetField(out, TIFFTAG_GROUP4OPTIONS, options);
}

static int copy_page_strips(TIFF *in, TIFF *out, int page, const doc_tiff_log *inlog,
                            char *err, size_t errlen)
{
    uint64_t *counts = NULL;
    uint32_t nstrips = TIFFNumberOfStrips(in);
    if (nstrips == 0 || !TIFFGetField(in, TIFFTAG_STRIPBYTECOUNTS, &counts) || !counts) {
        str_fmt(err, errlen, "page %d of the TIFF has no image data", page);
        return -1;
    }
    uint64_t largest = 0;
    for (uint32_t s = 0; s < nstrips; s++) if (counts[s] > largest) largest = counts[s];
    if (largest == 0 || largest > MAX_RAW_STRIP) {
        str_fmt(err, errlen, "page %d of the TIFF has an implausible strip size", page);
        return -1;
    }
    unsigned char *buf = malloc((size_t)largest);
    if (!buf) { str_fmt(err, errlen, "out of memory copying the TIFF"); return -1; }
    int rc = 0;
    for (uint32_t s = 0; s < nstrips && rc == 0; s++) {
        tmsize_t got = TIFFReadRawStrip(in, s, buf, (tmsize_t)counts[s]);
        if (got < 0) {
            str_fmt(err, errlen, "page %d of the TIFF is corrupt%s%s", page,
                    inlog->msg[0] ? ": " : "", inlog->msg);
            rc = -1;
        } else if (TIFFWriteRawStrip(out, s, buf, got) < 0) {
            str_fmt(err, errlen, "could not write page %d of the TIFF", page);
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

/* Appends every page of one input; *page counts pages written so far. */
static int copy_input(const char *path, TIFF *out, int *page, int total, char *err, size_t errlen)
{
    doc_tiff_log log;
    TIFF *in = doc_tiff_open(path, "r", &log);
    if (!in) {
        str_fmt(err, errlen, "cannot read a rendered TIFF%s%s", log.msg[0] ? ": " : "", log.msg);
        return -1;
    }
    int rc = 0;
    do {
        if (*page >= total) break;      /* the file changed under us; do not overrun */
        copy_page_tags(in, out, *page, total);
        if (copy_page_strips(in, out, *page + 1, &log, err, errlen) != 0 || !TIFFWriteDirectory(out)) {
            if (!err[0]) str_fmt(err, errlen, "could not write page %d of the TIFF", *page + 1);
            rc = -1;
            break;
        }
        (*page)++;
    } while (TIFFReadDirectory(in));
    TIFFClose(in);
    return rc;
}

int doc_tiff_copy_fax_pages(const char *const *inputs, int n_inputs, const char *out_path,
                            int *pages, char *err, size_t errlen)
{
    if (pages) *pages = 0;
    if (err && errlen) err[0] = '\0';
    int total = 0;
    if (count_pages(inputs, n_inputs, &total, err, errlen) != 0) return -1;
    if (total == 0) { str_fmt(err, errlen, "there are no pages to write"); return -1; }

    char tmp[4096];
    int fd = doc_make_temp_beside(out_path, tmp, sizeof tmp);
    if (fd < 0) {
        str_fmt(err, errlen, "cannot create the TIFF file: %s", strerror(errno));
        return -1;
    }
    close(fd);
    doc_tiff_log outlog;
    TIFF *out = doc_tiff_open(tmp, "w", &outlog);
    if (!out) {
        str_fmt(err, errlen, "cannot write the TIFF file%s%s", outlog.msg[0] ? ": " : "", outlog.msg);
        unlink(tmp);
        return -1;
    }
    int written = 0, rc = 0;
    for (int i = 0; i < n_inputs && rc == 0; i++)
        rc = copy_input(inputs[i], out, &written, total, err, errlen);
    TIFFClose(out);
    if (rc == 0 && written != total) {
        str_fmt(err, errlen, "only %d of %d pages could be copied into the TIFF", written, total);
        rc = -1;
    }
    tiff_info info;
    if (rc == 0 && doc_tiff_check_faxable(tmp, &info, err, errlen) != 0) rc = -1;
    if (rc == 0 && doc_publish_temp(tmp, out_path) != 0) {
        str_fmt(err, errlen, "could not save the TIFF: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) { unlink(tmp); return -1; }
    if (pages) *pages = written;
    return 0;
}

/* ---- Modified Huffman (ITU-T T.4 1-D) coding ---- */

typedef struct mh_code { uint16_t code; uint8_t len; } mh_code;

/* Terminating codes, run lengths 0..63. */
static const mh_code white_term[64] = {
    {0x35, 8}, {0x07, 6}, {0x07, 4}, {0x08, 4}, {0x0B, 4}, {0x0C, 4}, {0x0E, 4}, {0x0F, 4},
    {0x13, 5}, {0x14, 5}, {0x07, 5}, {0x08, 5}, {0x08, 6}, {0x03, 6}, {0x34, 6}, {0x35, 6},
    {0x2A, 6}, {0x2B, 6}, {0x27, 7}, {0x0C, 7}, {0x08, 7}, {0x17, 7}, {0x03, 7}, {0x04, 7},
    {0x28, 7}, {0x2B, 7}, {0x13, 7}, {0x24, 7}, {0x18, 7}, {0x02, 8}, {0x03, 8}, {0x1A, 8},
    {0x1B, 8}, {0x12, 8}, {0x13, 8}, {0x14, 8}, {0x15, 8}, {0x16, 8}, {0x17, 8}, {0x28, 8},
    {0x29, 8}, {0x2A, 8}, {0x2B, 8}, {0x2C, 8}, {0x2D, 8}, {0x04, 8}, {0x05, 8}, {0x0A, 8},
    {0x0B, 8}, {0x52, 8}, {0x53, 8}, {0x54, 8}, {0x55, 8}, {0x24, 8}, {0x25, 8}, {0x58, 8},
    {0x59, 8}, {0x5A, 8}, {0x5B, 8}, {0x4A, 8}, {0x4B, 8}, {0x32, 8}, {0x33, 8}, {0x34, 8},
};
static const mh_code black_term[64] = {
    {0x37, 10}, {0x02, 3}, {0x03, 2}, {0x02, 2}, {0x03, 3}, {0x03, 4}, {0x02, 4}, {0x03, 5},
    {0x05, 6}, {0x04, 6}, {0x04, 7}, {0x05, 7}, {0x07, 7}, {0x04, 8}, {0x07, 8}, {0x18, 9},
    {0x17, 10}, {0x18, 10}, {0x08, 10}, {0x67, 11}, {0x68, 11}, {0x6C, 11}, {0x37, 11}, {0x28, 11},
    {0x17, 11}, {0x18, 11}, {0xCA, 12}, {0xCB, 12}, {0xCC, 12}, {0xCD, 12}, {0x68, 12}, {0x69, 12},
    {0x6A, 12}, {0x6B, 12}, {0xD2, 12}, {0xD3, 12}, {0xD4, 12}, {0xD5, 12}, {0xD6, 12}, {0xD7, 12},
    {0x6C, 12}, {0x6D, 12}, {0xDA, 12}, {0xDB, 12}, {0x54, 12}, {0x55, 12}, {0x56, 12}, {0x57, 12},
    {0x64, 12}, {0x65, 12}, {0x52, 12}, {0x53, 12}, {0x24, 12}, {0x37, 12}, {0x38, 12}, {0x27, 12},
    {0x28, 12}, {0x58, 12}, {0x59, 12}, {0x2B, 12}, {0x2C, 12}, {0x5A, 12}, {0x66, 12}, {0x67, 12},
};
/* Make-up codes, run lengths 64, 128, ... 1728 (index = run / 64 - 1). */
static const mh_code white_makeup[27] = {
    {0x1B, 5}, {0x12, 5}, {0x17, 6}, {0x37, 7}, {0x36, 8}, {0x37, 8}, {0x64, 8}, {0x65, 8},
    {0x68, 8}, {0x67, 8}, {0xCC, 9}, {0xCD, 9}, {0xD2, 9}, {0xD3, 9}, {0xD4, 9}, {0xD5, 9},
    {0xD6, 9}, {0xD7, 9}, {0xD8, 9}, {0xD9, 9}, {0xDA, 9}, {0xDB, 9}, {0x98, 9}, {0x99, 9},
    {0x9A, 9}, {0x18, 6}, {0x9B, 9},
};
static const mh_code black_makeup[27] = {
    {0x0F, 10}, {0xC8, 12}, {0xC9, 12}, {0x5B, 12}, {0x33, 12}, {0x34, 12}, {0x35, 12}, {0x6C, 13},
    {0x6D, 13}, {0x4A, 13}, {0x4B, 13}, {0x4C, 13}, {0x4D, 13}, {0x72, 13}, {0x73, 13}, {0x74, 13},
    {0x75, 13}, {0x76, 13}, {0x77, 13}, {0x52, 13}, {0x53, 13}, {0x54, 13}, {0x55, 13}, {0x5A, 13},
    {0x5B, 13}, {0x64, 13}, {0x65, 13},
};

#define FAX_ROW_WORDS (DOC_FAX_WIDTH / 64)

/* Every run length 0..1728 of one colour: make-up (if any) and terminating code
 * as one right-aligned bit string (at most 13 + 12 bits). */
typedef struct run_code { uint32_t code; uint32_t len; } run_code;
static run_code white_runs[DOC_FAX_WIDTH + 1], black_runs[DOC_FAX_WIDTH + 1];
static pthread_once_t runs_once = PTHREAD_ONCE_INIT;

static void build_runs(run_code *out, const mh_code *term, const mh_code *makeup)
{
    for (int r = 0; r <= DOC_FAX_WIDTH; r++) {
        const mh_code *t = &term[r % 64];
        if (r < 64) {
            out[r] = (run_code){ t->code, t->len };
        } else {
            const mh_code *m = &makeup[r / 64 - 1];
            out[r] = (run_code){ ((uint32_t)m->code << t->len) | t->code, (uint32_t)m->len + t->len };
        }
    }
}

static void build_run_tables(void)
{
    build_runs(white_runs, white_term, white_makeup);
    build_runs(black_runs, black_term, black_makeup);
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}

static inline void store_be64(unsigned char *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, sizeof v);
}

/* The positions where the colour changes (white first), DOC_FAX_WIDTH last;
 * returns how many. */
static inline int row_changes(const uint64_t *words, uint16_t *chg)
{
    int n = 0;
    uint64_t flip = 0;
    for (int w = 0; w < FAX_ROW_WORDS; w++) {
        uint64_t v = words[w] ^ flip;
        while (v) {
            int bit = __builtin_clzll(v);
            chg[n++] = (uint16_t)(w * 64 + bit);
            flip = ~flip;
            /* from here on look for the other colour: flip the bits below this one */
            v = ~v & (~(uint64_t)0 >> bit);
        }
    }
    chg[n++] = DOC_FAX_WIDTH;
    return n;
}

/* Two passes keep the dependency chains short: first where the runs end, then the
 * codes, a white and a black run at a time. Pending bits stay in acc (fewer than 8
 * after each step); each step stores them as 8 bytes (DOC_MH_ROW_MAX has the room)
 * and moves past the bytes that are complete. */
size_t doc_mh_encode_row(const unsigned char row[DOC_FAX_ROW_BYTES], unsigned char *out)
{
    pthread_once(&runs_once, build_run_tables);
    uint64_t words[FAX_ROW_WORDS];
    uint64_t any = 0;
    for (int i = 0; i < FAX_ROW_WORDS; i++) {
        words[i] = load_be64(row + i * 8);
        any |= words[i];
    }
    /* EOL with fill bits so that it ends on a byte boundary: 0000 0000 0000 0001 */
    out[0] = 0x00;
    out[1] = 0x01;
    if (!any) {                         /* a white row: make-up 1728 + terminating 0 */
        out[2] = 0x4D;
        out[3] = 0x9A;
        out[4] = 0x80;
        return 5;
    }
    uint16_t chg[DOC_FAX_WIDTH + 2];
    int n = row_changes(words, chg);
    unsigned char *o = out + 2;
    uint64_t acc = 0;
    unsigned nbits = 0;
    int pos = 0;
    int i = 0;
    for (; i + 1 < n; i += 2) {
        run_code cw = white_runs[chg[i] - pos];
        run_code cb = black_runs[chg[i + 1] - chg[i]];
        pos = chg[i + 1];
        acc = (acc << (cw.len + cb.len)) | ((uint64_t)cw.code << cb.len) | cb.code;
        nbits += cw.len + cb.len;
        store_be64(o, acc << (64 - nbits));
        o += nbits >> 3;
        nbits &= 7;
    }
    if (i < n) {                                   /* the row ends white */
        run_code cw = white_runs[chg[i] - pos];
        acc = (acc << cw.len) | cw.code;
        nbits += cw.len;
        store_be64(o, acc << (64 - nbits));
        o += nbits >> 3;
        nbits &= 7;
    }
    return (size_t)(o - out) + (nbits ? 1 : 0);
}

/* ---- page-by-page TIFF-F writer ---- */

struct doc_fax_writer {
    TIFF *tif;
    doc_tiff_log log;
    char tmp[4096];
    char path[4096];
    int pages;
};

doc_fax_writer *doc_fax_writer_open(const char *out_path, char *err, size_t errlen)
{
    doc_fax_writer *w = calloc(1, sizeof *w);
    if (!w) { str_fmt(err, errlen, "out of memory"); return NULL; }
    if (str_copy(w->path, sizeof w->path, out_path) != 0) {
        str_fmt(err, errlen, "the TIFF path is too long");
        free(w);
        return NULL;
    }
    int fd = doc_make_temp_beside(out_path, w->tmp, sizeof w->tmp);
    if (fd < 0) {
        str_fmt(err, errlen, "cannot create the TIFF file: %s", strerror(errno));
        free(w);
        return NULL;
    }
    close(fd);
    w->tif = doc_tiff_open(w->tmp, "w", &w->log);
    if (!w->tif) {
        str_fmt(err, errlen, "cannot write the TIFF file%s%s", w->log.msg[0] ? ": " : "", w->log.msg);
        unlink(w->tmp);
        free(w);
        return NULL;
    }
    return w;
}

int doc_fax_writer_add_page(doc_fax_writer *w, const unsigned char *mh, size_t len, int rows, bool fine,
                            int total, char *err, size_t errlen)
{
    TIFF *t = w->tif;
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)DOC_FAX_WIDTH);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)rows);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
    TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, (uint32_t)GROUP3OPT_FILLBITS);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rows);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, fine ? 196.0f : 98.0f);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, (uint16_t)w->pages, (uint16_t)total);
    TIFFSetField(t, TIFFTAG_SOFTWARE, "faxbot");
    if (TIFFWriteRawStrip(t, 0, (void *)mh, (tmsize_t)len) < 0 || !TIFFWriteDirectory(t)) {
        str_fmt(err, errlen, "could not write page %d of the TIFF%s%s", w->pages + 1,
                w->log.msg[0] ? ": " : "", w->log.msg);
        return -1;
    }
    w->pages++;
    return 0;
}

void doc_fax_writer_abort(doc_fax_writer *w)
{
    if (!w) return;
    if (w->tif) TIFFClose(w->tif);
    unlink(w->tmp);
    free(w);
}

int doc_fax_writer_finish(doc_fax_writer *w, int *pages, char *err, size_t errlen)
{
    TIFFClose(w->tif);
    w->tif = NULL;
    int rc = 0;
    tiff_info info;
    if (w->pages == 0) {
        str_fmt(err, errlen, "there are no pages to write");
        rc = -1;
    }
    if (rc == 0 && doc_tiff_check_faxable(w->tmp, &info, err, errlen) != 0) rc = -1;
    if (rc == 0 && doc_publish_temp(w->tmp, w->path) != 0) {
        str_fmt(err, errlen, "could not save the TIFF: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && pages) *pages = w->pages;
    doc_fax_writer_abort(w);            /* the temp name is gone after a rename */
    return rc;
}
