/* tiff_check.c — the guard in front of every fax engine: a TIFF is only sent if
 * every page is bilevel, 1728 pixels wide, stored in strips, 204 dpi across and
 * 98 or 196 lpi down (the same on all pages), with a compression a fax engine
 * decodes. The worker runs this on Ghostscript's output too; it never trusts a
 * converter blindly. Only tags are read, so the check is cheap. */
#include <string.h>
#include "document/doc_internal.h"
#include "util/util.h"

#define FAX_WIDTH 1728
#define MAX_CHECK_PAGES 10000

/* Resolution in dots per inch, or -1 when the file gives no usable unit/value. */
static double resolution_dpi(TIFF *tif, ttag_t tag)
{
    float value = 0;
    uint16_t unit = RESUNIT_INCH;
    if (!TIFFGetField(tif, tag, &value) || !(value > 0)) return -1;
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    if (unit == RESUNIT_CENTIMETER) return value * 2.54;
    if (unit == RESUNIT_INCH) return value;
    return -1;
}

static bool compression_is_fax_decodable(uint16_t c)
{
    return c == COMPRESSION_NONE || c == COMPRESSION_CCITTRLE || c == COMPRESSION_CCITTFAX3 ||
           c == COMPRESSION_CCITTFAX4;
}

/* Checks the current directory; *fine is set from its vertical resolution. */
static int check_page(TIFF *tif, int page, bool *fine, uint16_t *compression, char *err, size_t errlen)
{
    uint32_t width = 0, length = 0;
    uint16_t bps = 1, spp = 1, comp = COMPRESSION_NONE;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &length);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);

    if (width != FAX_WIDTH) {
        str_fmt(err, errlen, "page %d is %u pixels wide; a fax page must be %d", page, width, FAX_WIDTH);
        return -1;
    }
    if (length == 0) {
        str_fmt(err, errlen, "page %d has no rows", page);
        return -1;
    }
    if (bps != 1 || spp != 1) {
        str_fmt(err, errlen, "page %d has %u bit(s) per sample and %u sample(s) per pixel; "
                "a fax page must be black and white (1 bit, 1 sample)", page, bps, spp);
        return -1;
    }
    if (TIFFIsTiled(tif)) {
        str_fmt(err, errlen, "page %d is stored in tiles; a fax page must be stored in strips", page);
        return -1;
    }
    if (!compression_is_fax_decodable(comp)) {
        str_fmt(err, errlen, "page %d uses TIFF compression %u; a fax page must be uncompressed or "
                "CCITT (2, 3 or 4)", page, comp);
        return -1;
    }
    double xdpi = resolution_dpi(tif, TIFFTAG_XRESOLUTION);
    double ydpi = resolution_dpi(tif, TIFFTAG_YRESOLUTION);
    if (xdpi < 0 || ydpi < 0) {
        str_fmt(err, errlen, "page %d has no resolution; a fax page must be 204x98 or 204x196 dpi", page);
        return -1;
    }
    if (xdpi < 200.0 || xdpi > 206.0) {
        str_fmt(err, errlen, "page %d is %.0f dpi across; a fax page must be 204 dpi", page, xdpi);
        return -1;
    }
    if (ydpi >= 96.0 && ydpi <= 100.0) {
        *fine = false;
    } else if (ydpi >= 190.0 && ydpi <= 200.0) {
        *fine = true;
    } else {
        str_fmt(err, errlen, "page %d is %.0f lpi down; a fax page must be 98 (standard) or "
                "196 (fine) lpi", page, ydpi);
        return -1;
    }
    *compression = comp;
    return 0;
}

int doc_tiff_check_faxable(const char *path, tiff_info *info, char *err, size_t errlen)
{
    if (info) memset(info, 0, sizeof *info);
    if (!path) { str_fmt(err, errlen, "no TIFF file given"); return -1; }
    doc_tiff_log log;
    TIFF *tif = doc_tiff_open(path, "r", &log);
    if (!tif) {
        str_fmt(err, errlen, "cannot read the TIFF file%s%s", log.msg[0] ? ": " : "", log.msg);
        return -1;
    }
    int page = 0, rc = 0;
    bool first_fine = false;
    uint16_t first_comp = 0;
    for (;;) {
        bool fine = false;
        uint16_t comp = 0;
        if (++page > MAX_CHECK_PAGES) {
            str_fmt(err, errlen, "the TIFF has more than %d pages", MAX_CHECK_PAGES);
            rc = -1;
            break;
        }
        if (check_page(tif, page, &fine, &comp, err, errlen) != 0) { rc = -1; break; }
        if (page == 1) {
            first_fine = fine;
            first_comp = comp;
        } else if (fine != first_fine) {
            str_fmt(err, errlen, "page %d is %s resolution but page 1 is %s; all pages must match",
                    page, fine ? "fine" : "standard", first_fine ? "fine" : "standard");
            rc = -1;
            break;
        }
        log.msg[0] = '\0';
        if (!TIFFReadDirectory(tif)) {
            if (log.msg[0]) {
                str_fmt(err, errlen, "the TIFF is corrupt after page %d: %s", page, log.msg);
                rc = -1;
            }
            break;
        }
    }
    TIFFClose(tif);
    if (rc == 0 && info) {
        info->pages = page;
        info->width = FAX_WIDTH;
        info->fine = first_fine;
        info->compression = first_comp;
    }
    return rc;
}
