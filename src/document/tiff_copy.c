/* tiff_copy.c — joins fax TIFFs page by page into one TIFF-F (see doc_internal.h).
 * Used to merge the per-process chunks Ghostscript rendered in parallel, and to
 * pass a client's TIFF that is already faxable through with clean page tags. The
 * compressed strips are copied as they are (like tiffcp), so nothing is decoded or
 * re-encoded; each page gets NewSubfileType=page and PageNumber (0-based page,
 * total), which Ghostscript leaves as 0/0. The result is checked before it is
 * published under its final name. */
#include <errno.h>
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
