/* image_pdf.c — a PNG, JPEG or TIFF becomes a PDF, one image per page, scaled to
 * fit the printable area (54 pt margins) with its aspect ratio kept and centered;
 * never rotated. TIFF keeps all its pages and honours non-square pixels (a fax page
 * at 204x98 dpi must not come out squashed); JPEG honours its JFIF density ratio.
 *
 * Decoding is defensive because the bytes come from outside: sizes are checked
 * before anything big is allocated, libjpeg errors longjmp back here, libtiff and
 * libpng (through Cairo) report into the error message instead of stderr. */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cairo.h>
#include <cairo-pdf.h>
#include <jpeglib.h>
#include "document/doc_internal.h"
#include "util/util.h"

#define MAX_IMAGE_SIDE 20000
#define MAX_IMAGE_BYTES ((uint64_t)200 * 1024 * 1024)    /* decoded, 4 bytes a pixel */
#define MAX_TIFF_PAGES 1000     /* when the caller gives no page limit */

/* A decoded page: the pixels and the relative size of one pixel (x and y). */
typedef struct image_page {
    cairo_surface_t *surface;
    double pixel_w, pixel_h;
} image_page;

static int check_dimensions(const char *what, uint64_t w, uint64_t h, char *err, size_t errlen)
{
    if (w == 0 || h == 0) {
        str_fmt(err, errlen, "the %s image has no pixels", what);
        return -1;
    }
    if (w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w * h * 4 > MAX_IMAGE_BYTES) {
        str_fmt(err, errlen, "the %s image is %llux%llu pixels, too large to convert "
                "(at most %d pixels a side and %llu MB decoded)", what, (unsigned long long)w,
                (unsigned long long)h, MAX_IMAGE_SIDE, (unsigned long long)(MAX_IMAGE_BYTES >> 20));
        return -1;
    }
    return 0;
}

/* Pixel aspect from two densities; absurd ratios fall back to square pixels. */
static void set_pixel_aspect(image_page *pg, double xdens, double ydens)
{
    pg->pixel_w = pg->pixel_h = 1.0;
    if (xdens > 0 && ydens > 0) {
        double ratio = xdens / ydens;
        if (ratio >= 0.25 && ratio <= 4.0) { pg->pixel_w = 1.0 / xdens; pg->pixel_h = 1.0 / ydens; }
    }
}

/* ---- PNG (Cairo's loader, after checking the header ourselves) ---- */

static cairo_status_t read_from_file(void *closure, unsigned char *data, unsigned int length)
{
    return fread(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS
                                                             : CAIRO_STATUS_READ_ERROR;
}

static int decode_png(FILE *f, image_page *pg, char *err, size_t errlen)
{
    unsigned char hdr[24];
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) != 0 ||
        memcmp(hdr + 12, "IHDR", 4) != 0) {
        str_fmt(err, errlen, "the PNG image is truncated or corrupt");
        return -1;
    }
    uint32_t w = (uint32_t)hdr[16] << 24 | (uint32_t)hdr[17] << 16 | (uint32_t)hdr[18] << 8 | hdr[19];
    uint32_t h = (uint32_t)hdr[20] << 24 | (uint32_t)hdr[21] << 16 | (uint32_t)hdr[22] << 8 | hdr[23];
    if (check_dimensions("PNG", w, h, err, errlen) != 0) return -1;
    rewind(f);
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(read_from_file, f);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        str_fmt(err, errlen, "the PNG image is corrupt or unsupported (%s)",
                cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return -1;
    }
    pg->surface = s;
    set_pixel_aspect(pg, 0, 0);
    return 0;
}

/* ---- JPEG (libjpeg; errors longjmp back) ---- */

typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_failure *fail = (jpeg_failure *)cinfo->err;
    cinfo->err->format_message(cinfo, fail->msg);
    longjmp(fail->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

/* One decoded scanline in the JPEG's output colour space → Cairo RGB24 pixels. */
static void jpeg_row_to_rgb24(const JSAMPLE *in, uint32_t *out, JDIMENSION w, J_COLOR_SPACE cs,
                              bool adobe_inverted)
{
    for (JDIMENSION x = 0; x < w; x++) {
        unsigned r, g, b;
        if (cs == JCS_GRAYSCALE) {
            r = g = b = in[x];
        } else if (cs == JCS_CMYK) {
            unsigned c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
            if (!adobe_inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            /* Adobe writes inverted CMYK: the stored value is 255 - ink */
            r = c * k / 255; g = m * k / 255; b = y * k / 255;
        } else {
            r = in[3 * x]; g = in[3 * x + 1]; b = in[3 * x + 2];
        }
        out[x] = (uint32_t)r << 16 | (uint32_t)g << 8 | b;
    }
}

typedef struct jpeg_work {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure fail;
    JSAMPLE *row;
    cairo_surface_t *surface;
} jpeg_work;

static int decode_jpeg_into(FILE *f, jpeg_work *jw, image_page *pg, char *err, size_t errlen)
{
    struct jpeg_decompress_struct *cinfo = &jw->cinfo;
    cinfo->err = jpeg_std_error(&jw->fail.mgr);
    jw->fail.mgr.error_exit = jpeg_fail;
    jw->fail.mgr.output_message = jpeg_quiet;
    if (setjmp(jw->fail.jump)) {
        str_fmt(err, errlen, "the JPEG image is corrupt or unsupported: %s", jw->fail.msg);
        return -1;
    }
    jpeg_create_decompress(cinfo);
    jpeg_stdio_src(cinfo, f);
    jpeg_read_header(cinfo, TRUE);
    if (check_dimensions("JPEG", cinfo->image_width, cinfo->image_height, err, errlen) != 0) return -1;

    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
        cinfo->out_color_space = JCS_CMYK;
    else if (cinfo->jpeg_color_space == JCS_GRAYSCALE)
        cinfo->out_color_space = JCS_GRAYSCALE;
    else
        cinfo->out_color_space = JCS_RGB;
    jpeg_start_decompress(cinfo);

    JDIMENSION w = cinfo->output_width, h = cinfo->output_height;
    jw->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
    if (cairo_surface_status(jw->surface) != CAIRO_STATUS_SUCCESS) {
        str_fmt(err, errlen, "not enough memory for the JPEG image");
        return -1;
    }
    jw->row = malloc((size_t)w * (size_t)cinfo->output_components);
    if (!jw->row) { str_fmt(err, errlen, "not enough memory for the JPEG image"); return -1; }
    unsigned char *data = cairo_image_surface_get_data(jw->surface);
    int stride = cairo_image_surface_get_stride(jw->surface);
    bool inverted = cinfo->saw_Adobe_marker;
    while (cinfo->output_scanline < h) {
        JSAMPROW rows[1] = { jw->row };
        JDIMENSION y = cinfo->output_scanline;
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1) break;
        jpeg_row_to_rgb24(jw->row, (uint32_t *)(void *)(data + (size_t)y * (size_t)stride), w,
                          cinfo->out_color_space, inverted);
    }
    jpeg_finish_decompress(cinfo);
    cairo_surface_mark_dirty(jw->surface);

    /* JFIF density (unit 0 means the two numbers give only the pixel aspect) */
    if (cinfo->saw_JFIF_marker)
        set_pixel_aspect(pg, cinfo->X_density, cinfo->Y_density);
    else
        set_pixel_aspect(pg, 0, 0);
    pg->surface = jw->surface;
    jw->surface = NULL;
    return 0;
}

static int decode_jpeg(FILE *f, image_page *pg, char *err, size_t errlen)
{
    jpeg_work *jw = calloc(1, sizeof *jw);
    if (!jw) { str_fmt(err, errlen, "out of memory"); return -1; }
    int rc = decode_jpeg_into(f, jw, pg, err, errlen);
    jpeg_destroy_decompress(&jw->cinfo);
    free(jw->row);
    if (jw->surface) cairo_surface_destroy(jw->surface);
    free(jw);
    return rc;
}

/* ---- placing pages ---- */

static void draw_fitted_page(cairo_t *cr, const image_page *pg, const doc_page_geom *g)
{
    int w = cairo_image_surface_get_width(pg->surface), h = cairo_image_surface_get_height(pg->surface);
    double phys_w = w * pg->pixel_w, phys_h = h * pg->pixel_h;
    double avail_w = g->width - 2 * g->margin, avail_h = g->height - 2 * g->margin;
    double scale = avail_w / phys_w < avail_h / phys_h ? avail_w / phys_w : avail_h / phys_h;
    double out_w = phys_w * scale, out_h = phys_h * scale;

    cairo_save(cr);
    cairo_translate(cr, (g->width - out_w) / 2, (g->height - out_h) / 2);
    cairo_scale(cr, scale * pg->pixel_w, scale * pg->pixel_h);
    cairo_set_source_surface(cr, pg->surface, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_show_page(cr);
}

/* ---- TIFF (libtiff's RGBA reader, every directory a page) ---- */

/* The size of the current directory (page numbered `page`), checked against the limits. */
static int tiff_page_size(TIFF *tif, int page, uint32_t *w, uint32_t *h, char *err, size_t errlen)
{
    *w = *h = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, h);
    char what[32];
    str_fmt(what, sizeof what, "TIFF (page %d)", page);
    return check_dimensions(what, *w, *h, err, errlen);
}

/* Reads the current directory into an RGB24 surface, composited over white. */
static int decode_tiff_page(TIFF *tif, int page, image_page *pg, const doc_tiff_log *log,
                            char *err, size_t errlen)
{
    uint32_t w, h;
    if (tiff_page_size(tif, page, &w, &h, err, errlen) != 0) return -1;

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS ||
        cairo_image_surface_get_stride(s) != (int)w * 4) {
        cairo_surface_destroy(s);
        str_fmt(err, errlen, "not enough memory for page %d of the TIFF image", page);
        return -1;
    }
    cairo_surface_flush(s);
    uint32_t *px = (uint32_t *)(void *)cairo_image_surface_get_data(s);
    if (!TIFFReadRGBAImageOriented(tif, w, h, px, ORIENTATION_TOPLEFT, 1)) {
        cairo_surface_destroy(s);
        str_fmt(err, errlen, "page %d of the TIFF image is corrupt or unsupported%s%s", page,
                log->msg[0] ? ": " : "", log->msg);
        return -1;
    }
    for (size_t i = 0, n = (size_t)w * h; i < n; i++) {
        uint32_t v = px[i];
        unsigned a = TIFFGetA(v), white = 255 - a;   /* RGBA from libtiff is premultiplied */
        unsigned r = TIFFGetR(v) + white, g = TIFFGetG(v) + white, b = TIFFGetB(v) + white;
        if (r > 255) r = 255;
        if (g > 255) g = 255;
        if (b > 255) b = 255;
        px[i] = (uint32_t)r << 16 | (uint32_t)g << 8 | b;
    }
    cairo_surface_mark_dirty(s);

    float xres = 0, yres = 0;
    if (TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) && TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres))
        set_pixel_aspect(pg, xres, yres);
    else
        set_pixel_aspect(pg, 0, 0);
    pg->surface = s;
    return 0;
}

/* Walks every directory's header (no pixels decoded): more pages than max_pages,
 * or any page too large, is refused before the first page costs anything. Leaves
 * the handle on the first directory. */
static int check_tiff_headers(TIFF *tif, int max_pages, char *err, size_t errlen)
{
    int page = 0;
    do {
        if (++page > max_pages) {
            str_fmt(err, errlen, "the TIFF image has more than %d pages; the limit is %d", max_pages, max_pages);
            return -1;
        }
        uint32_t w, h;
        if (tiff_page_size(tif, page, &w, &h, err, errlen) != 0) return -1;
    } while (TIFFReadDirectory(tif));
    if (!TIFFSetDirectory(tif, 0)) {
        str_fmt(err, errlen, "the TIFF image cannot be read again from its first page");
        return -1;
    }
    return 0;
}

static int draw_tiff_pages(const char *in_path, cairo_t *cr, const doc_page_geom *g, int max_pages, char *err,
                           size_t errlen)
{
    doc_tiff_log log;
    TIFF *tif = doc_tiff_open(in_path, "r", &log);
    if (!tif) {
        str_fmt(err, errlen, "the TIFF image cannot be read%s%s", log.msg[0] ? ": " : "", log.msg);
        return -1;
    }
    if (max_pages <= 0 || max_pages > MAX_TIFF_PAGES) max_pages = MAX_TIFF_PAGES;
    if (check_tiff_headers(tif, max_pages, err, errlen) != 0) {
        TIFFClose(tif);
        return -1;
    }
    int page = 0, rc = 0;
    do {
        ++page;
        image_page pg = { 0 };
        if (decode_tiff_page(tif, page, &pg, &log, err, errlen) != 0) { rc = -1; break; }
        draw_fitted_page(cr, &pg, g);
        cairo_surface_destroy(pg.surface);
        if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) break;
    } while (TIFFReadDirectory(tif));
    TIFFClose(tif);
    return rc;
}

/* ---- the conversion ---- */

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS
                                                              : CAIRO_STATUS_WRITE_ERROR;
}

static int draw_single_image(const char *in_path, doc_type type, cairo_t *cr, const doc_page_geom *g,
                             char *err, size_t errlen)
{
    FILE *f = fopen(in_path, "rb");
    if (!f) {
        str_fmt(err, errlen, "cannot open the image: %s", strerror(errno));
        return -1;
    }
    image_page pg = { 0 };
    int rc = type == DOC_PNG ? decode_png(f, &pg, err, errlen) : decode_jpeg(f, &pg, err, errlen);
    fclose(f);
    if (rc == 0) {
        draw_fitted_page(cr, &pg, g);
        cairo_surface_destroy(pg.surface);
    }
    return rc;
}

int doc_render_image_pdf(const char *in_path, doc_type type, const char *out_pdf, paper_size paper, int max_pages,
                         char *err, size_t errlen)
{
    if (!in_path || !out_pdf) { str_fmt(err, errlen, "no input or output file given"); return -1; }
    if (type != DOC_PNG && type != DOC_JPEG && type != DOC_TIFF) {
        str_fmt(err, errlen, "a %s file is not an image this gateway converts (PNG, JPEG or TIFF)",
                doc_type_name(type));
        return -1;
    }
    char tmp[4096];
    FILE *out = doc_open_temp_pdf(out_pdf, tmp, sizeof tmp, err, errlen);
    if (!out) {
        return -1;
    }
    doc_page_geom g = doc_page_geometry(paper);
    cairo_surface_t *surface = cairo_pdf_surface_create_for_stream(write_to_file, out, g.width, g.height);
    cairo_t *cr = cairo_create(surface);
    int rc = type == DOC_TIFF ? draw_tiff_pages(in_path, cr, &g, max_pages, err, errlen)
                              : draw_single_image(in_path, type, cr, &g, err, errlen);
    cairo_status_t cst = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    if (cst == CAIRO_STATUS_SUCCESS) cst = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (rc == 0 && cst != CAIRO_STATUS_SUCCESS) {
        str_fmt(err, errlen, "could not write the PDF: %s", cairo_status_to_string(cst));
        rc = -1;
    }
    return doc_finish_temp_pdf(out, tmp, out_pdf, rc, err, errlen);
}
