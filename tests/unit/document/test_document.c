/* test_document.c — the document module against the real thing: Ghostscript,
 * Cairo/Pango, libjpeg and libtiff. Every fixture (PDFs, PNG, JPEG, TIFFs, text)
 * is generated here into a private temp directory, so nothing big is committed.
 * pdftotext (poppler-utils) proves that wrapped text was not cut off; libtiff's
 * own decoder and plain `gs -sDEVICE=tiffg3` check our Modified Huffman coder
 * (doc_internal.h, included for it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cairo.h>
#include <cairo-pdf.h>
#include <jpeglib.h>
#include <tiffio.h>
#include "document/document.h"
#include "document/doc_internal.h"
#include "util/util.h"

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", g_dir, name);
    return b;
}

static convert_limits test_limits(void)
{
    convert_limits l = {.gs_path = "gs", .timeout_s = 60, .cpu_s = 60, .memory_mb = 1024, .max_pages = 100,
                        .parallel = 1, .tmp_dir = g_dir};
    return l;
}

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(s, 1, strlen(s), f);
    fclose(f);
}

/* ---- fixture makers ---- */

static void make_pdf(const char *path, int pages, double w, double h)
{
    cairo_surface_t *s = cairo_pdf_surface_create(path, w, h);
    cairo_t *cr = cairo_create(s);
    for (int p = 1; p <= pages; p++) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_font_size(cr, 48);
        char label[32];
        snprintf(label, sizeof label, "Page %d", p);
        cairo_move_to(cr, 72, 144);
        cairo_show_text(cr, label);
        /* something different on each page so page order is visible in pixels */
        cairo_rectangle(cr, 72 + p * 30, 300, 40, 40 + p * 20);
        cairo_fill(cr);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, 72, 700);
        cairo_line_to(cr, w - 72, 700 - p * 10);
        cairo_stroke(cr);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
}

static void make_png(const char *path, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.8, 0, 0);
    cairo_arc(cr, w / 2.0, h / 2.0, h / 3.0, 0, 6.283);
    cairo_fill(cr);
    cairo_destroy(cr);
    assert_int_equal(cairo_surface_write_to_png(s, path), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
}

static void make_jpeg(const char *path, int w, int h, J_COLOR_SPACE cs, int comps, bool adobe)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    if (adobe) c.write_Adobe_marker = TRUE;
    jpeg_start_compress(&c, TRUE);
    JSAMPLE *row = malloc((size_t)w * (size_t)comps);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w * comps; x++) row[x] = (JSAMPLE)((x + y) & 0xFF);
        JSAMPROW rows[1] = { row };
        jpeg_write_scanlines(&c, rows, 1);
    }
    free(row);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A TIFF of `pages` pages: bilevel (spp 1, bps 1, CCITT G4) or RGB (spp 3, bps 8). */
static void make_tiff(const char *path, int pages, uint32_t w, uint32_t h, int spp, float xres, float yres)
{
    TIFF *t = TIFFOpen(path, "w");
    assert_non_null(t);
    for (int p = 0; p < pages; p++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, spp == 1 ? 1 : 8);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 1 ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_RGB);
        TIFFSetField(t, TIFFTAG_COMPRESSION, spp == 1 ? COMPRESSION_CCITTFAX4 : COMPRESSION_LZW);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, xres);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        tmsize_t sl = TIFFScanlineSize(t);
        unsigned char *row = calloc(1, (size_t)sl);
        for (uint32_t y = 0; y < h; y++) {
            memset(row, 0, (size_t)sl);
            if (spp == 1) { if ((y / 40) % 2 == (uint32_t)p % 2) memset(row, 0xF0, (size_t)sl / 2); }
            else for (tmsize_t x = 0; x < sl; x++) row[x] = (unsigned char)(x * 7 + y + (uint32_t)p * 50);
            assert_true(TIFFWriteScanline(t, row, y, 0) == 1);
        }
        free(row);
        assert_true(TIFFWriteDirectory(t));
    }
    TIFFClose(t);
}

/* ---- reading results ---- */

static int pdf_pages(const char *path)
{
    convert_limits l = test_limits();
    int n = -1;
    char err[256];
    assert_int_equal(doc_pdf_page_count(path, &l, &n, err, sizeof err), 0);
    return n;
}

static char *pdftotext(const char *pdf)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' - 2>/dev/null", pdf);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    strbuf sb;
    sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) sb_append(&sb, buf, n);
    assert_int_equal(pclose(p), 0);
    sb_append(&sb, "", 1);
    return sb_steal(&sb);
}

static void remove_newlines(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) if (*p != '\n') *o++ = *p;
    *o = '\0';
}

typedef struct page_facts { uint32_t width, length; uint16_t comp, pageno, total; uint32_t g3opts; float yres; } page_facts;

static int tiff_pages_facts(const char *path, page_facts *facts, int max)
{
    TIFF *t = TIFFOpen(path, "r");
    assert_non_null(t);
    int n = 0;
    do {
        if (n < max) {
            page_facts *f = &facts[n];
            memset(f, 0, sizeof *f);
            TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &f->width);
            TIFFGetField(t, TIFFTAG_IMAGELENGTH, &f->length);
            TIFFGetField(t, TIFFTAG_COMPRESSION, &f->comp);
            TIFFGetField(t, TIFFTAG_PAGENUMBER, &f->pageno, &f->total);
            TIFFGetField(t, TIFFTAG_GROUP3OPTIONS, &f->g3opts);
            TIFFGetField(t, TIFFTAG_YRESOLUTION, &f->yres);
        }
        n++;
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    return n;
}

/* Decoded pixels of page `page` (0-based) as one buffer. */
static unsigned char *tiff_page_pixels(const char *path, int page, size_t *len)
{
    TIFF *t = TIFFOpen(path, "r");
    assert_non_null(t);
    assert_true(TIFFSetDirectory(t, (tdir_t)page));
    uint32_t h = 0;
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    tmsize_t sl = TIFFScanlineSize(t);
    unsigned char *buf = malloc((size_t)sl * h);
    for (uint32_t y = 0; y < h; y++) assert_true(TIFFReadScanline(t, buf + (size_t)sl * y, y, 0) == 1);
    TIFFClose(t);
    *len = (size_t)sl * h;
    return buf;
}

static bool contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ---- sniffing and UTF-8 ---- */

static void test_sniff_types(void **state)
{
    (void)state;
    const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const unsigned char jpg[] = "\xFF\xD8\xFF\xE0\0\x10JFIF";
    assert_int_equal(doc_sniff(png, sizeof png - 1), DOC_PNG);
    assert_int_equal(doc_sniff(jpg, sizeof jpg - 1), DOC_JPEG);
    assert_int_equal(doc_sniff((const unsigned char *)"II*\0\x08\0\0\0", 8), DOC_TIFF);
    assert_int_equal(doc_sniff((const unsigned char *)"MM\0*\0\0\0\x08", 8), DOC_TIFF);
    assert_int_equal(doc_sniff((const unsigned char *)"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", 15), DOC_PDF);

    /* junk before the header, within the first KiB: still a PDF */
    unsigned char junk[2048];
    memset(junk, 'x', sizeof junk);
    memcpy(junk + 900, "%PDF-1.4", 8);
    assert_int_equal(doc_sniff(junk, sizeof junk), DOC_PDF);
    /* beyond the first KiB it is not */
    memset(junk, 'x', sizeof junk);
    memcpy(junk + 1500, "%PDF-1.4", 8);
    assert_int_equal(doc_sniff(junk, sizeof junk), DOC_TEXT);

    const char *utf = "Gr\xC3\xBC\xC3\x9F" "e \xCE\xB1\xCE\xB2 \xD0\x96 \xE6\x97\xA5\n";
    assert_int_equal(doc_sniff((const unsigned char *)utf, strlen(utf)), DOC_TEXT);
    assert_int_equal(doc_sniff((const unsigned char *)"\xEF\xBB\xBFhello", 8), DOC_TEXT);
    /* the head may stop inside a character */
    assert_int_equal(doc_sniff((const unsigned char *)"abc \xE2\x82", 6), DOC_TEXT);
    /* but not have broken characters in the middle, or NUL bytes */
    assert_int_equal(doc_sniff((const unsigned char *)"abc \xE2\x82 def", 10), DOC_UNKNOWN);
    assert_int_equal(doc_sniff((const unsigned char *)"ab\0cd", 5), DOC_UNKNOWN);
    assert_int_equal(doc_sniff((const unsigned char *)"latin1 caf\xE9 ok", 14), DOC_UNKNOWN);
}

static void test_type_names(void **state)
{
    (void)state;
    doc_type all[] = { DOC_PDF, DOC_TEXT, DOC_PNG, DOC_JPEG, DOC_TIFF, DOC_UNKNOWN };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_int_equal(doc_type_from_name(doc_type_name(all[i])), all[i]);
    assert_string_equal(doc_type_name(DOC_TEXT), "txt");
    assert_string_equal(doc_type_name(DOC_JPEG), "jpeg");
    assert_int_equal(doc_type_from_name("exe"), DOC_UNKNOWN);
    assert_int_equal(doc_type_from_name(NULL), DOC_UNKNOWN);
}

static bool utf8_ok_split(const char *s, size_t len, size_t split)
{
    utf8_validator v;
    utf8_validator_init(&v);
    utf8_validator_feed(&v, (const unsigned char *)s, split);
    utf8_validator_feed(&v, (const unsigned char *)s + split, len - split);
    return utf8_validator_ok(&v);
}

static void test_utf8_validator(void **state)
{
    (void)state;
    const char *good = "a\xC3\xA9z \xE2\x82\xAC \xF0\x9D\x84\x9E \xF4\x8F\xBF\xBF end";
    size_t glen = strlen(good);
    for (size_t split = 0; split <= glen; split++) assert_true(utf8_ok_split(good, glen, split));

    /* byte by byte */
    utf8_validator v;
    utf8_validator_init(&v);
    for (size_t i = 0; i < glen; i++) utf8_validator_feed(&v, (const unsigned char *)good + i, 1);
    assert_true(utf8_validator_ok(&v));

    const char *bad[] = {
        "\xC0\x80", "\xC1\xBF",                 /* overlong 2-byte */
        "\xE0\x80\x80", "\xE0\x9F\xBF",         /* overlong 3-byte */
        "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", /* overlong 4-byte */
        "\xED\xA0\x80", "\xED\xBF\xBF",         /* surrogates */
        "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", /* above U+10FFFF */
        "\x80", "a\xBF", "\xFF", "\xC3\x28",    /* stray / broken continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        for (size_t split = 0; split <= len; split++) assert_false(utf8_ok_split(bad[i], len, split));
    }
    /* NUL is not text */
    assert_false(utf8_ok_split("ab\0cd", 5, 2));
    /* a sequence left dangling at the end is not complete text */
    assert_false(utf8_ok_split("ok \xE2\x82", 5, 4));
    utf8_validator_init(&v);
    assert_true(utf8_validator_ok(&v));     /* empty is fine */
}

/* ---- text → PDF ---- */

static void test_text_long_utf8(void **state)
{
    (void)state;
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "\xEF\xBB\xBFTitle: Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln, caf\xC3\xA9 na\xC3\xAFve\n");
    sb_puts(&sb, "Greek \xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1 Cyrillic \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA"
                 "\xD0\xB2\xD0\xB0 CJK \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\n");
    sb_puts(&sb, "col1\tcol2\tcol3\r\n");
    /* a 500+ character line of words, and one without any space */
    for (int i = 0; i < 62; i++) sb_appendf(&sb, "word%03d ", i);
    sb_puts(&sb, "THE-END-OF-LONG-LINE\n");
    char nospace[521];
    for (int i = 0; i < 500; i++) nospace[i] = (char)('a' + (i * 7) % 26);
    memcpy(nospace + 500, "NOSPACETAILMARK", 16);
    sb_puts(&sb, nospace);
    sb_puts(&sb, "\n");
    for (int i = 0; i < 300; i++) sb_appendf(&sb, "line %d of a long file \xE2\x80\x94 \xC3\xA0 bient\xC3\xB4t\n", i);
    sb_puts(&sb, "LAST-LINE-MARKER\n");
    const char *txt = tpath("long.txt"), *pdf = tpath("long.pdf");
    write_text(txt, sb.data);
    sb_free(&sb);

    char err[256] = "";
    assert_int_equal(doc_text_to_pdf(txt, pdf, PAPER_LETTER, NULL, err, sizeof err), 0);
    int pages = pdf_pages(pdf);
    assert_true(pages > 1);

    char *text = pdftotext(pdf);
    assert_true(contains(text, "Gr\xC3\xBC\xC3\x9F" "e"));
    assert_true(contains(text, "caf\xC3\xA9"));
    assert_true(contains(text, "\xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1"));
    assert_true(contains(text, "\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"));
    assert_true(contains(text, "THE-END-OF-LONG-LINE"));
    assert_true(contains(text, "word061"));
    assert_true(contains(text, "LAST-LINE-MARKER"));
    assert_false(contains(text, "\xEF\xBB\xBF"));      /* the BOM is not printed */
    remove_newlines(text);
    assert_true(contains(text, nospace));             /* wrapped, every character kept */
    free(text);

    /* A4 lays the same text out too */
    assert_int_equal(doc_text_to_pdf(txt, tpath("long-a4.pdf"), PAPER_A4, NULL, err, sizeof err), 0);
    assert_true(pdf_pages(tpath("long-a4.pdf")) > 1);
}

static void test_text_many_lines(void **state)
{
    (void)state;
    FILE *f = fopen(tpath("5000.txt"), "wb");
    assert_non_null(f);
    for (int i = 1; i <= 5000; i++) fprintf(f, "%05d the quick brown fox jumps over the lazy dog\n", i);
    fclose(f);
    char err[256] = "";
    assert_int_equal(doc_text_to_pdf(tpath("5000.txt"), tpath("5000.pdf"), PAPER_LETTER, NULL, err, sizeof err), 0);
    int pages = pdf_pages(tpath("5000.pdf"));
    /* a Letter page holds a few dozen 10-pt lines: 5000 lines need many pages */
    assert_true(pages >= 50 && pages <= 150);
    char *text = pdftotext(tpath("5000.pdf"));
    assert_true(contains(text, "05000 the quick brown fox"));
    assert_true(contains(text, "00001 the quick brown fox"));
    free(text);
}

static void test_text_empty_and_formfeed(void **state)
{
    (void)state;
    char err[256] = "";
    write_text(tpath("empty.txt"), "");
    assert_int_equal(doc_text_to_pdf(tpath("empty.txt"), tpath("empty.pdf"), PAPER_A4, NULL, err, sizeof err), 0);
    assert_int_equal(pdf_pages(tpath("empty.pdf")), 1);

    write_text(tpath("ff.txt"), "first page\fsecond page\f\fFOURTH\f");
    assert_int_equal(doc_text_to_pdf(tpath("ff.txt"), tpath("ff.pdf"), PAPER_LETTER, NULL, err, sizeof err), 0);
    assert_int_equal(pdf_pages(tpath("ff.pdf")), 4);    /* a blank third page, no trailing blank */
    char *text = pdftotext(tpath("ff.pdf"));
    assert_true(contains(text, "FOURTH"));
    free(text);

    write_text(tpath("bin.txt"), "abc\xC3(def");
    assert_int_equal(doc_text_to_pdf(tpath("bin.txt"), tpath("bin.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "UTF-8"));

    err[0] = '\0';
    assert_int_equal(doc_text_to_pdf(tpath("no-such.txt"), tpath("x.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "cannot open"));
}

/* ---- PDF → TIFF ---- */

static void test_pdf_to_tiff_resolutions(void **state)
{
    (void)state;
    make_pdf(tpath("ten.pdf"), 10, 612, 792);
    assert_int_equal(pdf_pages(tpath("ten.pdf")), 10);

    convert_limits l = test_limits();
    char err[256] = "";
    int pages = 0;
    page_facts f[12];

    assert_int_equal(doc_pdf_to_tiff(tpath("ten.pdf"), tpath("fine.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 10);
    assert_int_equal(tiff_pages_facts(tpath("fine.tif"), f, 12), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f[i].width, 1728);
        assert_true(f[i].length >= 2150 && f[i].length <= 2300);
        assert_int_equal(f[i].comp, COMPRESSION_CCITTFAX3);
        assert_int_equal(f[i].g3opts & GROUP3OPT_2DENCODING, 0);   /* MH, 1-D */
        assert_int_equal(f[i].pageno, i);
        assert_int_equal(f[i].total, 10);
    }
    uint32_t fine_len = f[0].length;
    tiff_info info;
    assert_int_equal(doc_tiff_check_faxable(tpath("fine.tif"), &info, err, sizeof err), 0);
    assert_int_equal(info.pages, 10);
    assert_int_equal(info.width, 1728);
    assert_true(info.fine);

    assert_int_equal(doc_pdf_to_tiff(tpath("ten.pdf"), tpath("std.tif"), RES_STANDARD, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 10);
    assert_int_equal(tiff_pages_facts(tpath("std.tif"), f, 12), 10);
    assert_true(f[0].length * 2 >= fine_len - 4 && f[0].length * 2 <= fine_len + 4);
    assert_int_equal(doc_tiff_check_faxable(tpath("std.tif"), &info, err, sizeof err), 0);
    assert_false(info.fine);

    assert_int_equal(doc_pdf_to_tiff(tpath("ten.pdf"), tpath("a4.tif"), RES_FINE, PAPER_A4, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 10);
    assert_int_equal(tiff_pages_facts(tpath("a4.tif"), f, 12), 10);
    assert_int_equal(f[0].width, 1728);
    assert_true(f[0].length > fine_len && f[0].length >= 2250 && f[0].length <= 2350);
}

static void test_pdf_to_tiff_parallel_matches(void **state)
{
    (void)state;
    make_pdf(tpath("ten-p.pdf"), 10, 612, 792);
    convert_limits l = test_limits();
    char err[256] = "";
    int p1 = 0, p2 = 0, p3 = 0;
    assert_int_equal(doc_pdf_to_tiff(tpath("ten-p.pdf"), tpath("par1.tif"), RES_FINE, PAPER_LETTER, &l, &p1,
                                     err, sizeof err), 0);
    l.parallel = 2;
    assert_int_equal(doc_pdf_to_tiff(tpath("ten-p.pdf"), tpath("par2.tif"), RES_FINE, PAPER_LETTER, &l, &p2,
                                     err, sizeof err), 0);
    l.parallel = 3;                           /* uneven chunks: 4 + 3 + 3 */
    assert_int_equal(doc_pdf_to_tiff(tpath("ten-p.pdf"), tpath("par3.tif"), RES_FINE, PAPER_LETTER, &l, &p3,
                                     err, sizeof err), 0);
    assert_int_equal(p1, 10);
    assert_int_equal(p2, 10);
    assert_int_equal(p3, 10);
    page_facts f[12];
    assert_int_equal(tiff_pages_facts(tpath("par2.tif"), f, 12), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f[i].pageno, i);
        assert_int_equal(f[i].total, 10);
    }
    size_t prev_len = 0;
    unsigned char *prev = NULL;
    for (int page = 0; page < 10; page++) {
        size_t a_len, b_len, c_len;
        unsigned char *a = tiff_page_pixels(tpath("par1.tif"), page, &a_len);
        unsigned char *b = tiff_page_pixels(tpath("par2.tif"), page, &b_len);
        unsigned char *c = tiff_page_pixels(tpath("par3.tif"), page, &c_len);
        assert_int_equal(a_len, b_len);
        assert_int_equal(a_len, c_len);
        assert_memory_equal(a, b, a_len);
        assert_memory_equal(a, c, a_len);
        /* pages really differ from each other (so order is checked too) */
        if (prev) assert_true(prev_len != a_len || memcmp(prev, a, a_len) != 0);
        bool any_black = false;
        for (size_t i = 0; i < a_len && !any_black; i++) any_black = a[i] != 0;
        assert_true(any_black);
        free(prev);
        free(b);
        free(c);
        prev = a;
        prev_len = a_len;
    }
    free(prev);
}

static void test_pdf_corrupt(void **state)
{
    (void)state;
    convert_limits l = test_limits();
    char err[256] = "";
    int pages = -1;

    /* garbage after the header */
    FILE *f = fopen(tpath("garbage.pdf"), "wb");
    assert_non_null(f);
    fputs("%PDF-1.4\n", f);
    unsigned int seed = 12345;
    for (int i = 0; i < 20000; i++) { seed = seed * 1103515245u + 12345u; fputc((int)(seed >> 16) & 0xFF, f); }
    fclose(f);
    assert_int_equal(doc_pdf_to_tiff(tpath("garbage.pdf"), tpath("garbage.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), -1);
    assert_true(strlen(err) > 10);
    assert_int_equal(pages, 0);
    assert_int_equal(file_size(tpath("garbage.tif")), -1);

    /* a truncated PDF */
    make_pdf(tpath("whole.pdf"), 3, 612, 792);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(read_file_all(tpath("whole.pdf"), &data, &len, 1 << 20), 0);
    f = fopen(tpath("trunc.pdf"), "wb");
    fwrite(data, 1, 200, f);
    fclose(f);
    free(data);
    err[0] = '\0';
    assert_int_equal(doc_pdf_to_tiff(tpath("trunc.pdf"), tpath("trunc.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), -1);
    assert_true(strlen(err) > 10);

    /* junk before the header (e.g. a mail gateway's leftovers) is tolerated */
    make_pdf(tpath("clean.pdf"), 5, 612, 792);
    assert_int_equal(read_file_all(tpath("clean.pdf"), &data, &len, 1 << 20), 0);
    f = fopen(tpath("junk.pdf"), "wb");
    fputs("Content-Type: application/pdf\r\n\r\n", f);
    fwrite(data, 1, len, f);
    fclose(f);
    free(data);
    l.parallel = 2;
    assert_int_equal(doc_pdf_to_tiff(tpath("junk.pdf"), tpath("junk.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), 0);
    assert_int_equal(pages, 5);
    l.parallel = 1;

    /* PostScript pretending to be a PDF is never run as PostScript */
    write_text(tpath("ps.pdf"), "%!PS\n%PDF-1.4\n/Helvetica findfont 20 scalefont setfont 72 72 moveto (hi) show showpage\n");
    err[0] = '\0';
    assert_int_equal(doc_pdf_to_tiff(tpath("ps.pdf"), tpath("ps.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), -1);
    assert_true(strlen(err) > 10);

    /* a wrong path */
    err[0] = '\0';
    assert_int_equal(doc_pdf_to_tiff(tpath("missing.pdf"), tpath("m.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), -1);
    assert_true(contains(err, "cannot open the PDF"));
    assert_int_equal(doc_pdf_page_count(tpath("missing.pdf"), &l, &pages, err, sizeof err), -1);
    assert_true(contains(err, "No such file"));
}

static void test_pdf_limits(void **state)
{
    (void)state;
    make_pdf(tpath("six.pdf"), 6, 612, 792);
    convert_limits l = test_limits();
    char err[256] = "";
    int pages = 0;

    l.max_pages = 3;
    assert_int_equal(doc_pdf_to_tiff(tpath("six.pdf"), tpath("six.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), -1);
    assert_string_equal(err, "the document has 6 pages; the limit is 3");

    /* Ghostscript that hangs: killed at the wall-clock limit */
    const char *script = tpath("fake-gs.sh");
    write_text(script, "#!/bin/sh\nsleep 30\n");
    assert_int_equal(chmod(script, 0700), 0);
    l = test_limits();
    l.gs_path = script;
    l.timeout_s = 1;
    int64_t t0 = mono_ms();
    assert_int_equal(doc_pdf_to_tiff(tpath("six.pdf"), tpath("six.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), -1);
    int64_t took = mono_ms() - t0;
    assert_true(contains(err, "timed out after 1 s"));
    assert_true(took >= 900 && took < 5000);

    /* Ghostscript that fails says why */
    write_text(script, "#!/bin/sh\necho 'Error: /ioerror in --showpage--' >&2\nexit 1\n");
    l.timeout_s = 10;
    assert_int_equal(doc_pdf_page_count(tpath("six.pdf"), &l, &pages, err, sizeof err), -1);
    assert_string_equal(err, "Ghostscript could not read the PDF: Error: /ioerror in --showpage--");

    /* the sandbox: private cwd = HOME = TMPDIR, only PATH/HOME/TMPDIR passed on,
     * stdin from /dev/null, no inherited descriptors, the rlimits set */
    char body[1024];
    snprintf(body, sizeof body,
             "#!/bin/sh\n{ env; echo \"CWD=$(pwd)\"; echo \"STDIN=$(readlink /proc/self/fd/0)\";"
             " echo \"CPU=$(ulimit -t)\"; echo \"CORE=$(ulimit -c)\"; echo \"MEMKB=$(ulimit -v)\";"
             " echo FDS:; } > '%s'\nexec ls /proc/self/fd >> '%s'\n",
             tpath("sandbox.txt"), tpath("sandbox.txt"));
    write_text(script, body);
    setenv("FAXBOT_TEST_SECRET", "must-not-leak", 1);
    l.cpu_s = 7;
    l.memory_mb = 300;
    assert_int_equal(doc_pdf_page_count(tpath("six.pdf"), &l, &pages, err, sizeof err), -1);
    unsetenv("FAXBOT_TEST_SECRET");
    char *seen = NULL;
    size_t seen_len = 0;
    assert_int_equal(read_file_all(tpath("sandbox.txt"), &seen, &seen_len, 1 << 16), 0);
    assert_false(contains(seen, "FAXBOT_TEST_SECRET"));
    char home[600], cwd[600];
    const char *h = strstr(seen, "HOME="), *c = strstr(seen, "CWD=");
    assert_non_null(h);
    assert_non_null(c);
    sscanf(h + 5, "%599s", home);
    sscanf(c + 4, "%599s", cwd);
    assert_string_equal(home, cwd);
    assert_true(strncmp(cwd, g_dir, strlen(g_dir)) == 0 && contains(cwd, "/gs-"));
    assert_int_equal(file_size(cwd), -1);             /* the scratch directory is gone */
    assert_true(contains(seen, "TMPDIR="));
    assert_true(contains(seen, "STDIN=/dev/null"));
    assert_true(contains(seen, "FDS:\n0\n1\n2\n3\n") && seen[seen_len - 2] == '3'); /* 3: ls's own */
    assert_true(contains(seen, "CPU=7\n"));
    assert_true(contains(seen, "CORE=0\n"));
    assert_true(contains(seen, "MEMKB=307200\n"));
    free(seen);
    l = test_limits();

    l = test_limits();
    l.gs_path = "/nonexistent/gs";
    assert_int_equal(doc_pdf_to_tiff(tpath("six.pdf"), tpath("six.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), -1);
    assert_true(contains(err, "Ghostscript was not found"));
}

/* ---- images ---- */

static void test_images_to_tiff(void **state)
{
    (void)state;
    convert_limits l = test_limits();
    char err[256] = "";
    int pages = 0;
    tiff_info info;

    make_png(tpath("img.png"), 800, 400);
    assert_int_equal(doc_convert(tpath("img.png"), DOC_PNG, tpath("png.pdf"), tpath("png.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, 1);
    assert_int_equal(pdf_pages(tpath("png.pdf")), 1);
    assert_int_equal(doc_tiff_check_faxable(tpath("png.tif"), &info, err, sizeof err), 0);
    assert_int_equal(info.pages, 1);

    struct { const char *name; J_COLOR_SPACE cs; int comps; bool adobe; } jpegs[] = {
        { "rgb.jpg", JCS_RGB, 3, false }, { "gray.jpg", JCS_GRAYSCALE, 1, false },
        { "cmyk.jpg", JCS_CMYK, 4, true },
    };
    for (size_t i = 0; i < sizeof jpegs / sizeof jpegs[0]; i++) {
        make_jpeg(tpath(jpegs[i].name), 300, 500, jpegs[i].cs, jpegs[i].comps, jpegs[i].adobe);
        assert_int_equal(doc_sniff((const unsigned char *)"\xFF\xD8\xFF", 3), DOC_JPEG);
        pages = 0;
        assert_int_equal(doc_convert(tpath(jpegs[i].name), DOC_JPEG, NULL, tpath("jpg.tif"), RES_STANDARD,
                                     PAPER_A4, &l, &pages, err, sizeof err), 0);
        assert_int_equal(pages, 1);
        assert_int_equal(doc_tiff_check_faxable(tpath("jpg.tif"), &info, err, sizeof err), 0);
        assert_false(info.fine);
    }

    /* a multi-page colour TIFF keeps its pages */
    make_tiff(tpath("rgb.tif"), 2, 600, 800, 3, 150, 150);
    assert_int_equal(doc_image_to_pdf(tpath("rgb.tif"), DOC_TIFF, tpath("rgb.pdf"), PAPER_LETTER, NULL, err, sizeof err), 0);
    assert_int_equal(pdf_pages(tpath("rgb.pdf")), 2);
    assert_int_equal(doc_convert(tpath("rgb.tif"), DOC_TIFF, NULL, tpath("rgb-fax.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, 2);
}

static void test_images_bad(void **state)
{
    (void)state;
    char err[256] = "";

    /* truncated JPEG: libjpeg's error comes back as a message */
    make_jpeg(tpath("ok.jpg"), 200, 200, JCS_RGB, 3, false);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(read_file_all(tpath("ok.jpg"), &data, &len, 1 << 20), 0);
    FILE *f = fopen(tpath("bad.jpg"), "wb");
    fwrite(data, 1, 100, f);
    fclose(f);
    free(data);
    assert_int_equal(doc_image_to_pdf(tpath("bad.jpg"), DOC_JPEG, tpath("bad.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "JPEG"));
    assert_int_equal(file_size(tpath("bad.pdf")), -1);

    /* PNG header claiming 30000x30000: refused before decoding */
    unsigned char png[64] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    png[16] = 0; png[17] = 0; png[18] = 0x75; png[19] = 0x30;   /* 30000 */
    png[20] = 0; png[21] = 0; png[22] = 0x75; png[23] = 0x30;
    png[24] = 8; png[25] = 2;
    f = fopen(tpath("huge.png"), "wb");
    fwrite(png, 1, sizeof png, f);
    fclose(f);
    assert_int_equal(doc_image_to_pdf(tpath("huge.png"), DOC_PNG, tpath("huge.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "too large"));

    /* corrupt PNG body */
    make_png(tpath("ok.png"), 100, 100);
    assert_int_equal(read_file_all(tpath("ok.png"), &data, &len, 1 << 20), 0);
    for (size_t i = 40; i < len; i += 3) data[i] = (char)0x5A;
    f = fopen(tpath("corrupt.png"), "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    free(data);
    assert_int_equal(doc_image_to_pdf(tpath("corrupt.png"), DOC_PNG, tpath("c.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "PNG"));

    /* garbage TIFF */
    write_text(tpath("bad.tif"), "II*\0garbage garbage garbage");
    assert_int_equal(doc_image_to_pdf(tpath("bad.tif"), DOC_TIFF, tpath("b.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "TIFF"));
    assert_int_equal(doc_tiff_check_faxable(tpath("bad.tif"), NULL, err, sizeof err), -1);

    assert_int_equal(doc_image_to_pdf(tpath("none.png"), DOC_PNG, tpath("n.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
    assert_true(contains(err, "cannot open"));
    assert_int_equal(doc_image_to_pdf(tpath("ok.png"), DOC_PDF, tpath("n.pdf"), PAPER_LETTER, NULL, err, sizeof err), -1);
}

/* ---- our MH coder and page writer against libtiff's decoder ---- */

static void set_run(unsigned char *row, int from, int to)
{
    for (int x = from; x < to; x++) row[x / 8] |= (unsigned char)(0x80 >> (x % 8));
}

/* Row y of the synthetic test page: every kind of run, random ones too. */
static void synthetic_row(unsigned char *row, int y, unsigned int *seed)
{
    memset(row, 0, DOC_FAX_ROW_BYTES);
    switch (y % 12) {
    case 0: break;                                                  /* white */
    case 1: memset(row, 0xFF, DOC_FAX_ROW_BYTES); break;            /* black */
    /* runs of 1 from a black first pixel (not all the row: libtiff's decoder takes at
     * most 1728 runs a row, and white 0 + 1728 would be one more) */
    case 2: memset(row, 0xAA, DOC_FAX_ROW_BYTES - 1); break;
    case 3: memset(row, 0x55, DOC_FAX_ROW_BYTES); break;            /* runs of 1, white first */
    case 4: set_run(row, y % DOC_FAX_WIDTH, y % DOC_FAX_WIDTH + 1); break;   /* one dot */
    case 5: set_run(row, DOC_FAX_WIDTH - 1, DOC_FAX_WIDTH); break;  /* last pixel */
    case 6: set_run(row, 0, 1 + y % 1727); break;                   /* long black from the left */
    case 7: set_run(row, 63, 64 + (y * 7) % 1600); break;           /* make-up + terminating */
    default: {                                                      /* random runs */
        int x = 0;
        bool black = false;
        while (x < DOC_FAX_WIDTH) {
            *seed = *seed * 1103515245u + 12345u;
            int len = (int)((*seed >> 16) % ((y % 3) ? 70u : 300u));
            if (black) set_run(row, x, x + len < DOC_FAX_WIDTH ? x + len : DOC_FAX_WIDTH);
            x += len;
            black = !black;
        }
    }
    }
}

static void test_mh_coder_roundtrip(void **state)
{
    (void)state;
    enum { PAGES = 3, ROWS = 600 };
    char err[256] = "";
    doc_fax_writer *w = doc_fax_writer_open(tpath("mh.tif"), err, sizeof err);
    assert_non_null(w);
    unsigned char *code = malloc((size_t)ROWS * DOC_MH_ROW_MAX);
    unsigned char row[DOC_FAX_ROW_BYTES];
    unsigned int seed = 7;
    for (int p = 0; p < PAGES; p++) {
        size_t len = 0;
        for (int y = 0; y < ROWS; y++) {
            synthetic_row(row, y + p * ROWS, &seed);
            size_t n = doc_mh_encode_row(row, code + len);
            assert_true(n >= 5 && n <= DOC_MH_ROW_MAX - 8);
            assert_int_equal(code[len], 0x00);                    /* byte-aligned EOL */
            assert_int_equal(code[len + 1], 0x01);
            len += n;
        }
        assert_int_equal(doc_fax_writer_add_page(w, code, len, ROWS, p != 1, PAGES, err, sizeof err), 0);
    }
    free(code);
    /* pages of mixed resolution are not a fax: finish refuses them and leaves nothing */
    int pages = -1;
    assert_int_equal(doc_fax_writer_finish(w, &pages, err, sizeof err), -1);
    assert_true(contains(err, "resolution"));
    assert_int_equal(file_size(tpath("mh.tif")), -1);

    w = doc_fax_writer_open(tpath("mh.tif"), err, sizeof err);
    assert_non_null(w);
    code = malloc((size_t)ROWS * DOC_MH_ROW_MAX);
    seed = 7;
    for (int p = 0; p < PAGES; p++) {
        size_t len = 0;
        for (int y = 0; y < ROWS; y++) {
            synthetic_row(row, y + p * ROWS, &seed);
            len += doc_mh_encode_row(row, code + len);
        }
        assert_int_equal(doc_fax_writer_add_page(w, code, len, ROWS, true, PAGES, err, sizeof err), 0);
    }
    free(code);
    assert_int_equal(doc_fax_writer_finish(w, &pages, err, sizeof err), 0);
    assert_int_equal(pages, PAGES);

    /* libtiff decodes exactly the rows we coded */
    page_facts f[4];
    assert_int_equal(tiff_pages_facts(tpath("mh.tif"), f, 4), PAGES);
    TIFF *t = TIFFOpen(tpath("mh.tif"), "r");
    assert_non_null(t);
    seed = 7;
    unsigned char got[DOC_FAX_ROW_BYTES];
    for (int p = 0; p < PAGES; p++) {
        assert_int_equal(f[p].comp, COMPRESSION_CCITTFAX3);
        assert_int_equal(f[p].g3opts, GROUP3OPT_FILLBITS);
        assert_int_equal(f[p].pageno, p);
        assert_int_equal(f[p].total, PAGES);
        assert_int_equal(f[p].length, ROWS);
        assert_true(TIFFSetDirectory(t, (tdir_t)p));
        for (int y = 0; y < ROWS; y++) {
            synthetic_row(row, y + p * ROWS, &seed);
            if (TIFFReadScanline(t, got, (uint32_t)y, 0) != 1) fail_msg("page %d row %d (kind %d) does not decode", p, y, (y + p * ROWS) % 12);
            if (memcmp(row, got, sizeof row) != 0) fail_msg("page %d row %d decodes differently", p, y);
        }
    }
    TIFFClose(t);

    /* abort leaves nothing behind */
    w = doc_fax_writer_open(tpath("gone.tif"), err, sizeof err);
    assert_non_null(w);
    doc_fax_writer_abort(w);
    assert_int_equal(file_size(tpath("gone.tif")), -1);
}

/* ---- the same pixels as plain Ghostscript, with fewer Ghostscript runs ---- */

static void plain_gs_tiff(const char *pdf, const char *out, const char *res, const char *paper)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=tiffg3 -r%s -sPAPERSIZE=%s -dFIXEDMEDIA "
             "-dPDFFitPage -sOutputFile='%s' '%s'", res, paper, out, pdf);
    assert_int_equal(system(cmd), 0);
}

static void assert_same_pixels(const char *a, const char *b, int pages)
{
    for (int p = 0; p < pages; p++) {
        size_t la, lb;
        unsigned char *pa = tiff_page_pixels(a, p, &la), *pb = tiff_page_pixels(b, p, &lb);
        assert_int_equal(la, lb);
        if (memcmp(pa, pb, la) != 0) fail_msg("page %d of %s differs from %s", p + 1, a, b);
        free(pa);
        free(pb);
    }
}

static void test_pdf_matches_plain_gs(void **state)
{
    (void)state;
    make_pdf(tpath("m-letter.pdf"), 5, 612, 792);
    make_pdf(tpath("m-a4.pdf"), 4, 595, 842);
    convert_limits l = test_limits();
    l.parallel = 2;
    char err[256] = "";
    int pages = 0;
    assert_int_equal(doc_pdf_to_tiff(tpath("m-letter.pdf"), tpath("m1.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 5);
    plain_gs_tiff(tpath("m-letter.pdf"), tpath("m1-gs.tif"), "204x196", "letter");
    assert_same_pixels(tpath("m1.tif"), tpath("m1-gs.tif"), 5);

    assert_int_equal(doc_pdf_to_tiff(tpath("m-a4.pdf"), tpath("m2.tif"), RES_STANDARD, PAPER_A4, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 4);
    plain_gs_tiff(tpath("m-a4.pdf"), tpath("m2-gs.tif"), "204x98", "a4");
    assert_same_pixels(tpath("m2.tif"), tpath("m2-gs.tif"), 4);
}

/* A Ghostscript that logs how it was called before it runs the real one. */
static const char *logging_gs(void)
{
    const char *script = tpath("logging-gs.sh");
    char body[1024];
    snprintf(body, sizeof body, "#!/bin/sh\necho \"$*\" >> '%s'\nexec gs \"$@\"\n", tpath("calls-of-gs.log"));
    write_text(script, body);
    assert_int_equal(chmod(script, 0700), 0);
    unlink(tpath("calls-of-gs.log"));
    return script;
}

static int gs_calls(int *count_only)
{
    char *log = NULL;
    size_t len = 0;
    *count_only = 0;
    if (read_file_all(tpath("calls-of-gs.log"), &log, &len, 1 << 20) != 0) return 0;
    int n = 0;
    for (char *p = log; (p = strchr(p, '\n')) != NULL; p++) n++;
    for (char *p = log; (p = strstr(p, "-dNODISPLAY")) != NULL; p++) (*count_only)++;
    free(log);
    return n;
}

static void test_pdf_process_choice(void **state)
{
    (void)state;
    make_pdf(tpath("one.pdf"), 1, 612, 792);
    make_pdf(tpath("twelve.pdf"), 12, 612, 792);
    convert_limits l = test_limits();
    l.parallel = 2;
    l.gs_path = logging_gs();
    char err[256] = "";
    int pages = 0, count_only = 0;

    /* one page: one Ghostscript, and no run just to count pages */
    assert_int_equal(doc_pdf_to_tiff(tpath("one.pdf"), tpath("one.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 1);
    assert_int_equal(gs_calls(&count_only), 1);
    assert_int_equal(count_only, 0);

    /* twelve pages: two Ghostscripts, odd and even pages, back in order */
    l.gs_path = logging_gs();
    assert_int_equal(doc_pdf_to_tiff(tpath("twelve.pdf"), tpath("twelve.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_int_equal(pages, 12);
    assert_int_equal(gs_calls(&count_only), 2);
    assert_int_equal(count_only, 0);
    page_facts f[14];
    assert_int_equal(tiff_pages_facts(tpath("twelve.tif"), f, 14), 12);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(f[i].pageno, i);
        assert_int_equal(f[i].total, 12);
    }
    l.parallel = 1;
    l.gs_path = "gs";
    assert_int_equal(doc_pdf_to_tiff(tpath("twelve.pdf"), tpath("twelve-1.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), 0);
    assert_same_pixels(tpath("twelve.tif"), tpath("twelve-1.tif"), 12);

    /* over the page limit: the exact count in the message, nothing rendered or written */
    l.parallel = 2;
    l.max_pages = 11;
    int64_t t0 = mono_ms();
    assert_int_equal(doc_pdf_to_tiff(tpath("twelve.pdf"), tpath("over.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), -1);
    assert_string_equal(err, "the document has 12 pages; the limit is 11");
    assert_int_equal(pages, 0);
    assert_int_equal(file_size(tpath("over.tif")), -1);
    assert_true(mono_ms() - t0 < 10000);
}

/* A PDF from object bodies (object i+1 = objs[i]), with a correct xref. */
static void write_pdf_objects(const char *path, const char *const *objs, const size_t *lens, int n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    long offsets[16];
    assert_true(n <= 16);
    fputs("%PDF-1.7\n", f);
    for (int i = 0; i < n; i++) {
        offsets[i] = ftell(f);
        fprintf(f, "%d 0 obj\n", i + 1);
        fwrite(objs[i], 1, lens[i], f);
        fputs("\nendobj\n", f);
    }
    long xref = ftell(f);
    fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    for (int i = 0; i < n; i++) fprintf(f, "%010ld 00000 n \n", offsets[i]);
    fprintf(f, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", n + 1, xref);
    fclose(f);
}

static void test_pdf_missing_page_and_portfolio(void **state)
{
    (void)state;
    convert_limits l = test_limits();
    l.parallel = 2;
    char err[256] = "";
    int pages = -1;
    static const char content[] = "<< /Length 20 >>\nstream\n0 g 72 72 200 200 re f\nendstream";

    /* the page tree names a third page that does not exist */
    const char *missing[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R 4 0 R 9 0 R] /Count 3 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>",
        content,
    };
    size_t missing_lens[5];
    for (int i = 0; i < 5; i++) missing_lens[i] = strlen(missing[i]);
    write_pdf_objects(tpath("no-page3.pdf"), missing, missing_lens, 5);
    assert_int_equal(doc_pdf_to_tiff(tpath("no-page3.pdf"), tpath("no-page3.tif"), RES_FINE, PAPER_LETTER, &l, &pages,
                                     err, sizeof err), -1);
    assert_true(contains(err, "page 3 of the 3 pages of the PDF could not be rendered"));
    assert_int_equal(pages, 0);
    assert_int_equal(file_size(tpath("no-page3.tif")), -1);

    /* a portfolio: its pages are in an attached PDF, not in the document */
    make_pdf(tpath("attached.pdf"), 3, 612, 792);
    char *inner = NULL;
    size_t inner_len = 0;
    assert_int_equal(read_file_all(tpath("attached.pdf"), &inner, &inner_len, 1 << 20), 0);
    char head[96];
    int head_len = snprintf(head, sizeof head, "<< /Type /EmbeddedFile /Length %zu >>\nstream\n", inner_len);
    char *embedded = malloc((size_t)head_len + inner_len + 16);
    memcpy(embedded, head, (size_t)head_len);
    memcpy(embedded + head_len, inner, inner_len);
    memcpy(embedded + head_len + inner_len, "\nendstream", 10);
    const char *portfolio[] = {
        "<< /Type /Catalog /Pages 2 0 R /Collection << /View /D >> "
        "/Names << /EmbeddedFiles << /Names [(a.pdf) 5 0 R] >> >> >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        content,
        "<< /Type /Filespec /F (a.pdf) /UF (a.pdf) /EF << /F 6 0 R >> >>",
        embedded,
    };
    size_t portfolio_lens[6];
    for (int i = 0; i < 5; i++) portfolio_lens[i] = strlen(portfolio[i]);
    portfolio_lens[5] = (size_t)head_len + inner_len + 10;
    write_pdf_objects(tpath("portfolio.pdf"), portfolio, portfolio_lens, 6);
    free(inner);
    free(embedded);
    assert_int_equal(doc_pdf_to_tiff(tpath("portfolio.pdf"), tpath("portfolio.tif"), RES_FINE, PAPER_LETTER, &l,
                                     &pages, err, sizeof err), -1);
    assert_true(contains(err, "portfolio"));
    assert_int_equal(doc_pdf_page_count(tpath("portfolio.pdf"), &l, &pages, err, sizeof err), -1);
    assert_true(contains(err, "portfolio"));
}

/* ---- TIFF check and pass-through ---- */

static void test_tiff_check(void **state)
{
    (void)state;
    char err[256] = "";
    tiff_info info;

    make_tiff(tpath("wide.tif"), 1, 2550, 3300, 1, 300, 300);
    assert_int_equal(doc_tiff_check_faxable(tpath("wide.tif"), &info, err, sizeof err), -1);
    assert_string_equal(err, "page 1 is 2550 pixels wide; a fax page must be 1728");

    make_tiff(tpath("res.tif"), 2, 1728, 1100, 1, 204, 300);
    assert_int_equal(doc_tiff_check_faxable(tpath("res.tif"), &info, err, sizeof err), -1);
    assert_true(contains(err, "page 1") && contains(err, "300 lpi"));

    make_tiff(tpath("color.tif"), 1, 1728, 1100, 3, 204, 196);
    assert_int_equal(doc_tiff_check_faxable(tpath("color.tif"), &info, err, sizeof err), -1);
    assert_true(contains(err, "black and white"));

    make_tiff(tpath("good.tif"), 3, 1728, 1100, 1, 204, 98);
    assert_int_equal(doc_tiff_check_faxable(tpath("good.tif"), &info, err, sizeof err), 0);
    assert_int_equal(info.pages, 3);
    assert_false(info.fine);
    assert_int_equal(info.compression, COMPRESSION_CCITTFAX4);

    assert_int_equal(doc_tiff_check_faxable(tpath("nope.tif"), &info, err, sizeof err), -1);
    assert_true(contains(err, "cannot read the TIFF"));

    /* the 300-dpi page is redrawn through Ghostscript into a real fax page */
    convert_limits l = test_limits();
    int pages = 0;
    assert_int_equal(doc_convert(tpath("wide.tif"), DOC_TIFF, NULL, tpath("wide-fax.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, 1);
    assert_int_equal(doc_tiff_check_faxable(tpath("wide-fax.tif"), &info, err, sizeof err), 0);
    assert_int_equal(info.width, 1728);

    /* an already faxable TIFF passes through with its strips, and gets page tags */
    assert_int_equal(doc_convert(tpath("good.tif"), DOC_TIFF, tpath("good.pdf"), tpath("good-out.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, 3);
    assert_int_equal(pdf_pages(tpath("good.pdf")), 3);
    page_facts f[4];
    assert_int_equal(tiff_pages_facts(tpath("good-out.tif"), f, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f[i].comp, COMPRESSION_CCITTFAX4);
        assert_int_equal(f[i].pageno, i);
        assert_int_equal(f[i].total, 3);
        size_t a_len, b_len;
        unsigned char *a = tiff_page_pixels(tpath("good.tif"), i, &a_len);
        unsigned char *b = tiff_page_pixels(tpath("good-out.tif"), i, &b_len);
        assert_int_equal(a_len, b_len);
        assert_memory_equal(a, b, a_len);
        free(a);
        free(b);
    }
    l.max_pages = 2;
    assert_int_equal(doc_convert(tpath("good.tif"), DOC_TIFF, NULL, tpath("good-out2.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), -1);
    assert_string_equal(err, "the document has 3 pages; the limit is 2");
}

static void test_convert_text_and_pdf(void **state)
{
    (void)state;
    convert_limits l = test_limits();
    l.parallel = 2;
    char err[256] = "";
    int pages = 0;
    FILE *f = fopen(tpath("conv.txt"), "wb");
    for (int i = 0; i < 200; i++) fprintf(f, "Line %d: na\xC3\xAFve fa\xC3\xA7" "ade\n", i);
    fclose(f);
    assert_int_equal(doc_convert(tpath("conv.txt"), DOC_TEXT, tpath("conv.pdf"), tpath("conv.tif"), RES_FINE,
                                 PAPER_LETTER, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, pdf_pages(tpath("conv.pdf")));
    assert_true(pages >= 3);

    make_pdf(tpath("in.pdf"), 2, 595, 842);
    assert_int_equal(doc_convert(tpath("in.pdf"), DOC_PDF, tpath("copy.pdf"), tpath("in.tif"), RES_STANDARD,
                                 PAPER_A4, &l, &pages, err, sizeof err), 0);
    assert_int_equal(pages, 2);
    assert_int_equal(file_size(tpath("copy.pdf")), file_size(tpath("in.pdf")));

    assert_int_equal(doc_convert(tpath("in.pdf"), DOC_UNKNOWN, NULL, tpath("u.tif"), RES_FINE, PAPER_A4, &l,
                                 &pages, err, sizeof err), -1);
    assert_true(contains(err, "not supported"));
    assert_int_equal(doc_convert(tpath("gone.txt"), DOC_TEXT, NULL, tpath("g.tif"), RES_FINE, PAPER_A4, &l,
                                 &pages, err, sizeof err), -1);
    assert_true(contains(err, "cannot open the document"));

    /* nothing left behind in the scratch area but our own files */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -d '%s'/gs-* '%s'/conv-* '%s'/*.tmp-* 2>/dev/null | wc -l", g_dir, g_dir, g_dir);
    FILE *p = popen(cmd, "r");
    int leftovers = -1;
    assert_int_equal(fscanf(p, "%d", &leftovers), 1);
    pclose(p);
    assert_int_equal(leftovers, 0);
}

/* Amplification: documents whose pages cost far more than their bytes are refused
 * at CONVERT_MAX_PAGES while they are drawn (text) or from their headers (TIFF),
 * not after being laid out or decoded in full (issue 18, point 3). */
static void test_page_bombs_refused_early(void **state)
{
    (void)state;
    convert_limits l = test_limits();            /* max_pages 100 */
    char err[256] = "";
    int pages = 0;

    /* 64 KB of form feeds: 32,768 pages if laid out in full */
    FILE *f = fopen(tpath("ff-bomb.txt"), "wb");
    assert_non_null(f);
    for (int i = 0; i < 32768; i++) fputs("\f\n", f);
    fclose(f);
    int64_t t0 = mono_ms();
    assert_int_equal(doc_convert(tpath("ff-bomb.txt"), DOC_TEXT, NULL, tpath("ff-bomb.tif"), RES_FINE, PAPER_LETTER,
                                 &l, &pages, err, sizeof err), -1);
    assert_true(contains(err, "the text makes more than 100 pages"));
    assert_true(mono_ms() - t0 < 20000);
    assert_int_equal(file_size(tpath("ff-bomb.tif")), -1);

    /* 4 MB without a line break or a space: the slowest text there is to lay out */
    f = fopen(tpath("x-bomb.txt"), "wb");
    assert_non_null(f);
    char line[4096];
    memset(line, 'x', sizeof line);
    for (int i = 0; i < 1024; i++) fwrite(line, 1, sizeof line, f);
    fclose(f);
    l.max_pages = 5;
    assert_int_equal(doc_text_to_pdf(tpath("x-bomb.txt"), tpath("x-bomb.pdf"), PAPER_LETTER, &l, err, sizeof err), -1);
    assert_true(contains(err, "the text makes more than 5 pages"));
    assert_int_equal(file_size(tpath("x-bomb.pdf")), -1);

    /* exactly at the limit is fine, a trailing form feed included */
    f = fopen(tpath("five.txt"), "wb");
    for (int i = 0; i < 5; i++) fprintf(f, "page %d\f", i + 1);
    fclose(f);
    assert_int_equal(doc_text_to_pdf(tpath("five.txt"), tpath("five.pdf"), PAPER_LETTER, &l, err, sizeof err), 0);
    assert_int_equal(pdf_pages(tpath("five.pdf")), 5);

    /* a TIFF with more pages than the limit: refused from its directories, before
     * any page is decoded, with the limit the caller set (not the renderer's own 1000) */
    make_tiff(tpath("many.tif"), 150, 16, 16, 3, 72, 72);
    l.max_pages = 100;
    assert_int_equal(doc_image_to_pdf(tpath("many.tif"), DOC_TIFF, tpath("many.pdf"), PAPER_LETTER, &l, err,
                                      sizeof err), -1);
    assert_true(contains(err, "more than 100 pages"));
    assert_int_equal(doc_convert(tpath("many.tif"), DOC_TIFF, NULL, tpath("many-fax.tif"), RES_FINE, PAPER_LETTER,
                                 &l, &pages, err, sizeof err), -1);
    assert_true(contains(err, "more than 100 pages"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/faxbot-doctest-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return remove_tree(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_types),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_utf8_validator),
        cmocka_unit_test(test_text_long_utf8),
        cmocka_unit_test(test_text_many_lines),
        cmocka_unit_test(test_text_empty_and_formfeed),
        cmocka_unit_test(test_pdf_to_tiff_resolutions),
        cmocka_unit_test(test_pdf_to_tiff_parallel_matches),
        cmocka_unit_test(test_mh_coder_roundtrip),
        cmocka_unit_test(test_pdf_matches_plain_gs),
        cmocka_unit_test(test_pdf_process_choice),
        cmocka_unit_test(test_pdf_missing_page_and_portfolio),
        cmocka_unit_test(test_pdf_corrupt),
        cmocka_unit_test(test_pdf_limits),
        cmocka_unit_test(test_images_to_tiff),
        cmocka_unit_test(test_images_bad),
        cmocka_unit_test(test_tiff_check),
        cmocka_unit_test(test_convert_text_and_pdf),
        cmocka_unit_test(test_page_bombs_refused_early),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
