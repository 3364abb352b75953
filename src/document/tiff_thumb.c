/* tiff_thumb.c — a small PNG picture of one page of a fax TIFF (what the recipient
 * sees), for the Admin Console's page thumbnails. The bilevel page is read row by
 * row with libtiff (its G3/G4 decoders), shrunk by averaging the pixels each
 * thumbnail pixel covers (so thin strokes become grey instead of vanishing), with
 * the fax's non-square pixels (204 x 98 or 196 dpi) made square, and written as an
 * 8-bit greyscale PNG (zlib). */
#include "document/document.h"
#include "document/doc_internal.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define THUMB_MAX_PAGE_ROWS 20000

static void put_chunk(unsigned char **p, const char *type, const unsigned char *data, uint32_t len)
{
    uint32_t be = htonl(len);
    memcpy(*p, &be, 4);
    memcpy(*p + 4, type, 4);
    if (len) memcpy(*p + 8, data, len);
    uLong crc = crc32(0L, *p + 4, len + 4);
    be = htonl((uint32_t)crc);
    memcpy(*p + 8 + len, &be, 4);
    *p += 12 + len;
}

/* rows: h rows of w grey bytes. A malloc'd PNG file in *png. */
static int png_encode_grey(const unsigned char *grey, int w, int h, unsigned char **png, size_t *png_len)
{
    size_t raw_len = (size_t)h * ((size_t)w + 1);
    unsigned char *raw = malloc(raw_len);
    uLongf zlen = compressBound((uLong)raw_len);
    unsigned char *z = malloc(zlen);
    unsigned char *out = malloc(zlen + 64);
    if (!raw || !z || !out) goto fail;
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (w + 1)] = 0;                   /* filter: none */
        memcpy(raw + (size_t)y * (w + 1) + 1, grey + (size_t)y * w, (size_t)w);
    }
    if (compress2(z, &zlen, raw, (uLong)raw_len, 9) != Z_OK) goto fail;
    unsigned char *p = out;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(p, sig, 8);
    p += 8;
    unsigned char ihdr[13];
    uint32_t be = htonl((uint32_t)w);
    memcpy(ihdr, &be, 4);
    be = htonl((uint32_t)h);
    memcpy(ihdr + 4, &be, 4);
    ihdr[8] = 8;                                        /* bit depth */
    ihdr[9] = 0;                                        /* greyscale */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;                 /* deflate, adaptive filtering, no interlace */
    put_chunk(&p, "IHDR", ihdr, 13);
    put_chunk(&p, "IDAT", z, (uint32_t)zlen);
    put_chunk(&p, "IEND", NULL, 0);
    *png = out;
    *png_len = (size_t)(p - out);
    free(raw);
    free(z);
    return 0;
fail:
    free(raw);
    free(z);
    free(out);
    return -1;
}

int doc_tiff_page_png(const char *tiff_path, int page, int width, unsigned char **png, size_t *png_len, int *pages,
                      char *err, size_t errlen)
{
    *png = NULL;
    *png_len = 0;
    if (pages) *pages = 0;
    if (width < 16) width = 16;
    if (width > DOC_FAX_WIDTH) width = DOC_FAX_WIDTH;
    doc_tiff_log log;
    TIFF *tif = doc_tiff_open(tiff_path, "r", &log);
    if (!tif) { str_fmt(err, errlen, "the fax image cannot be opened%s%s", log.msg[0] ? ": " : "", log.msg); return -1; }
    int n = TIFFNumberOfDirectories(tif);
    if (pages) *pages = n;
    int rc = -1;
    unsigned char *line = NULL, *grey = NULL;
    uint32_t *black = NULL, *count = NULL;
    if (page < 1 || page > n) { str_fmt(err, errlen, "the fax has %d page(s); there is no page %d", n, page); goto out; }
    if (!TIFFSetDirectory(tif, (tdir_t)(page - 1))) { str_fmt(err, errlen, "page %d cannot be read", page); goto out; }
    uint32_t w = 0, h = 0;
    uint16_t bps = 1, spp = 1, photometric = PHOTOMETRIC_MINISWHITE, unit = RESUNIT_INCH;
    float xres = 204, yres = 196;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    if (!TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) || xres <= 0) xres = 204;
    if (!TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres) || yres <= 0) yres = xres;
    if (bps != 1 || spp != 1 || w == 0 || w > 8192 || h == 0 || h > THUMB_MAX_PAGE_ROWS) {
        str_fmt(err, errlen, "page %d is not a bilevel fax page (%ux%u, %u bit)", page, w, h, bps);
        goto out;
    }
    if ((uint32_t)width > w) width = (int)w;
    /* the page's real height in units of its width, so the thumbnail is not squashed */
    double out_h_f = (double)width * ((double)h / yres) / ((double)w / xres);
    int out_h = out_h_f < 1 ? 1 : out_h_f > 4 * width ? 4 * width : (int)(out_h_f + 0.5);
    tmsize_t sl = TIFFScanlineSize(tif);
    line = malloc((size_t)sl);
    black = calloc((size_t)width * (size_t)out_h, sizeof *black);
    count = calloc((size_t)width * (size_t)out_h, sizeof *count);
    grey = malloc((size_t)width * (size_t)out_h);
    if (!line || !black || !count || !grey || (size_t)sl * 8 < w) { str_fmt(err, errlen, "out of memory"); goto out; }
    bool ink_is_one = photometric != PHOTOMETRIC_MINISBLACK;
    for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(tif, line, y, 0) < 0) {
            str_fmt(err, errlen, "page %d row %u cannot be decoded%s%s", page, y, log.msg[0] ? ": " : "", log.msg);
            goto out;
        }
        size_t oy = (size_t)((uint64_t)y * (uint64_t)out_h / h);
        uint32_t *brow = black + oy * (size_t)width, *crow = count + oy * (size_t)width;
        for (uint32_t x = 0; x < w; x++) {
            size_t ox = (size_t)((uint64_t)x * (uint64_t)width / w);
            int bit = (line[x >> 3] >> (7 - (x & 7))) & 1;
            brow[ox] += (uint32_t)(bit == ink_is_one);
            crow[ox]++;
        }
    }
    for (size_t i = 0; i < (size_t)width * (size_t)out_h; i++)
        grey[i] = count[i] ? (unsigned char)(255 - (255u * black[i] + count[i] / 2) / count[i]) : 255;
    if (png_encode_grey(grey, width, out_h, png, png_len)) { str_fmt(err, errlen, "out of memory"); goto out; }
    rc = 0;
out:
    free(line);
    free(black);
    free(count);
    free(grey);
    TIFFClose(tif);
    return rc;
}
