/* test_tiff_compare.c — doc_tiff_compare, the pixel check that proves a received fax
 * equals the sent one: hand-made CCITT G3 TIFF-F files (identical, with a header band
 * on top, one flipped pixel, missing page, cut short, other width, MinIsBlack), and
 * end to end a real two-page text converted by the document pipeline (Pango/Cairo +
 * Ghostscript) and faxed through the spandsp engine over audio and T.38. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <tiffio.h>

#include "document/document.h"
#include "fax/fax_engine.h"
#include "util/util.h"

#define WIDTH 1728
#define ROW_BYTES (WIDTH / 8)
#define ROWS 300

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", g_dir, name);
    return b;
}

/* ---- hand-made TIFF-F ---- */

typedef struct tiff_spec {
    int pages;
    uint32_t width;
    uint32_t rows;
    int header_rows;          /* extra rows drawn on top of every page */
    int flip_page;            /* 1-based page with one pixel flipped, 0 = none */
    uint32_t flip_row, flip_col;
    bool min_is_black;        /* store inverted bits with Photometric MinIsBlack */
} tiff_spec;

static void set_px(uint8_t *row, uint32_t x)
{
    row[x >> 3] |= (uint8_t)(0x80 >> (x & 7));
}

/* Page content (1 = black) that depends on the page and the row, so pages differ. */
static void content_row(int page, uint32_t y, uint32_t width, uint8_t *row)
{
    memset(row, 0, (width + 7) / 8);
    if (y % 30 >= 20) return;
    uint32_t st = (uint32_t)page * 2654435761u + (y / 30) * 40503u + 7u;
    for (uint32_t x = 60 + (uint32_t)page * 17; x + 40 < width; x += 50 + st % 40) {
        st = st * 1103515245u + 12345u;
        uint32_t w = 10 + (st >> 16) % 30;
        for (uint32_t i = 0; i < w; i++) set_px(row, x + i);
    }
}

/* A header band: white rows then black rows, like spandsp's text line on top. */
static void header_row(int y, int n, uint32_t width, uint8_t *row)
{
    memset(row, y < n / 2 ? 0x00 : 0xff, (width + 7) / 8);
}

static void write_tiff(const char *path, const tiff_spec *s)
{
    TIFF *t = TIFFOpen(path, "w");
    assert_non_null(t);
    size_t nbytes = (s->width + 7) / 8;
    uint8_t *row = malloc(nbytes);
    assert_non_null(row);
    for (int p = 1; p <= s->pages; p++) {
        uint32_t total = s->rows + (uint32_t)s->header_rows;
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s->width);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, total);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
        TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, 0);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, s->min_is_black ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0f);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 64);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p - 1, s->pages);
        for (uint32_t y = 0; y < total; y++) {
            int hy = (int)y - s->header_rows;
            if (hy < 0) header_row((int)y, s->header_rows, s->width, row);
            else content_row(p, (uint32_t)hy, s->width, row);
            if (p == s->flip_page && hy >= 0 && (uint32_t)hy == s->flip_row)
                row[s->flip_col >> 3] ^= (uint8_t)(0x80 >> (s->flip_col & 7));
            if (s->min_is_black)
                for (size_t i = 0; i < nbytes; i++) row[i] = (uint8_t)~row[i];
            assert_int_equal(TIFFWriteScanline(t, row, y, 0), 1);
        }
        assert_int_equal(TIFFWriteDirectory(t), 1);
    }
    TIFFClose(t);
    free(row);
}

static tiff_spec base_spec(void)
{
    tiff_spec s = {.pages = 2, .width = WIDTH, .rows = ROWS};
    return s;
}

/* ---- hand-made cases ---- */

static void test_identical(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("a.tif"), &s);
    write_tiff(tpath("b.tif"), &s);
    int pages = -1, header = -1;
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("a.tif"), tpath("b.tif"), &pages, &header, err, sizeof err), 0);
    assert_int_equal(pages, 2);
    assert_int_equal(header, 0);
    /* NULL out-pointers are allowed */
    assert_int_equal(doc_tiff_compare(tpath("a.tif"), tpath("a.tif"), NULL, NULL, err, sizeof err), 0);
}

static void test_header_band_allowed(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("h-sent.tif"), &s);
    s.header_rows = 20;
    write_tiff(tpath("h-recv.tif"), &s);
    int pages = 0, header = 0;
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("h-sent.tif"), tpath("h-recv.tif"), &pages, &header, err, sizeof err), 0);
    assert_int_equal(pages, 2);
    assert_int_equal(header, 20);
    /* the other way round the "received" page is 20 rows short */
    assert_int_equal(doc_tiff_compare(tpath("h-recv.tif"), tpath("h-sent.tif"), &pages, &header, err, sizeof err), -1);
    assert_non_null(strstr(err, "page 1"));
    assert_non_null(strstr(err, "cut short"));
    assert_int_equal(pages, 0);
}

static void test_flipped_pixel_on_page_2(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("f-sent.tif"), &s);
    s.header_rows = 20;
    s.flip_page = 2;
    s.flip_row = 123;
    s.flip_col = 901;
    write_tiff(tpath("f-recv.tif"), &s);
    int pages = -1, header = -1;
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("f-sent.tif"), tpath("f-recv.tif"), &pages, &header, err, sizeof err), -1);
    assert_non_null(strstr(err, "page 2"));
    assert_non_null(strstr(err, "row 123"));
    assert_non_null(strstr(err, "pixel 901"));
    assert_int_equal(pages, 1);      /* page 1 was fine */
    assert_int_equal(header, 20);
}

static void test_different_page_count(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("p2.tif"), &s);
    s.pages = 3;
    write_tiff(tpath("p3.tif"), &s);
    int pages = -1;
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("p2.tif"), tpath("p3.tif"), &pages, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "sent 2 pages, received 3"));
    assert_int_equal(pages, 0);
}

static void test_other_width_and_bad_files(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("w1728.tif"), &s);
    s.width = 2048;
    write_tiff(tpath("w2048.tif"), &s);
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("w1728.tif"), tpath("w2048.tif"), NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "page 1"));
    assert_non_null(strstr(err, "2048"));

    err[0] = '\0';
    assert_int_equal(doc_tiff_compare(tpath("w1728.tif"), tpath("missing.tif"), NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "received"));
    FILE *f = fopen(tpath("junk.tif"), "wb");
    assert_non_null(f);
    fputs("this is not a TIFF at all", f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(doc_tiff_compare(tpath("junk.tif"), tpath("w1728.tif"), NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "sent"));
}

static void test_min_is_black_same_picture(void **state)
{
    (void)state;
    tiff_spec s = base_spec();
    write_tiff(tpath("white.tif"), &s);
    s.min_is_black = true;
    write_tiff(tpath("black.tif"), &s);
    int pages = 0;
    char err[256] = "";
    assert_int_equal(doc_tiff_compare(tpath("white.tif"), tpath("black.tif"), &pages, NULL, err, sizeof err), 0);
    assert_int_equal(pages, 2);
    /* and a flipped pixel is still seen through the inversion */
    s.flip_page = 1;
    s.flip_row = 5;
    s.flip_col = 7;
    write_tiff(tpath("black-flip.tif"), &s);
    assert_int_equal(doc_tiff_compare(tpath("white.tif"), tpath("black-flip.tif"), NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "page 1"));
    assert_non_null(strstr(err, "row 5"));
}

/* ---- end to end: text → PDF → TIFF-F → spandsp → compare ---- */

static const char two_pages[] =
    "Compare test — page one\n\n"
    "A paragraph long enough to wrap across the width of a Letter page, so that the "
    "layout engine has to break it into several lines before Ghostscript rasterizes it.\n"
    "Accents: é à ü ø ñ ç Å\n"
    "0123456789 0123456789\n"
    "\f"
    "Second page, different words\n\n"
    "    indented line\n"
    "9876543210\n";

static void faxed_copy_is_identical(const char *tx, const char *rx, fax_transport transport, bool ecm,
                                    const char *header_text, bool expect_header)
{
    fax_loopback_opts o = {.tx_tiff = tx, .rx_tiff = rx, .transport = transport, .ecm = ecm, .seed = 3,
                           .tx_station_id = "COMPARE TX", .rx_station_id = "COMPARE RX",
                           .header_text = header_text};
    fax_result r;
    char err[512] = "";
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof err), 0);
    if (!r.success) fail_msg("fax failed: %s (%s)", r.completion_text, r.failure_reason ? r.failure_reason : "?");
    assert_int_equal(r.pages_received, 2);
    assert_int_equal(r.ecm_used, ecm);
    int pages = 0, header = -1;
    if (doc_tiff_compare(tx, rx, &pages, &header, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(pages, 2);
    if (expect_header) {
        assert_true(header > 0 && header < 100);
    } else {
        assert_int_equal(header, 0);
    }
}

static void test_end_to_end_fax(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(write_file_atomic(tpath("e2e.txt"), two_pages, strlen(two_pages)), 0);
    assert_int_equal(doc_text_to_pdf(tpath("e2e.txt"), tpath("e2e.pdf"), PAPER_LETTER, NULL, err, sizeof err), 0);
    convert_limits lim = {.gs_path = "gs", .timeout_s = 120, .cpu_s = 120, .memory_mb = 1024, .max_pages = 200,
                          .parallel = 1, .tmp_dir = g_dir};
    const char *gs = getenv("GHOSTSCRIPT_PATH");
    if (gs && *gs) lim.gs_path = gs;
    int pages = 0;
    if (doc_pdf_to_tiff(tpath("e2e.pdf"), tpath("e2e-tx.tif"), RES_FINE, PAPER_LETTER, &lim, &pages, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(pages, 2);
    char tx_copy[512];          /* tpath() reuses its buffers */
    snprintf(tx_copy, sizeof tx_copy, "%s", tpath("e2e-tx.tif"));

    /* audio with ECM and the default header ("From <id>", rows added on top) */
    faxed_copy_is_identical(tx_copy, tpath("e2e-rx-audio.tif"), FAX_TRANSPORT_AUDIO, true, NULL, true);
    /* T.38 without ECM and no header line at all */
    faxed_copy_is_identical(tx_copy, tpath("e2e-rx-t38.tif"), FAX_TRANSPORT_T38, false, "", false);

    /* the two received copies differ only by the header band on top of the audio one */
    int header = 0;
    assert_int_equal(doc_tiff_compare(tpath("e2e-rx-t38.tif"), tpath("e2e-rx-audio.tif"), NULL, &header, err,
                                      sizeof err), 0);
    assert_true(header > 0);
    assert_int_equal(doc_tiff_compare(tpath("e2e-rx-audio.tif"), tpath("e2e-rx-t38.tif"), NULL, NULL, err,
                                      sizeof err), -1);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/faxbot-tiffcmp-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_header_band_allowed),
        cmocka_unit_test(test_flipped_pixel_on_page_2),
        cmocka_unit_test(test_different_page_count),
        cmocka_unit_test(test_other_width_and_bad_files),
        cmocka_unit_test(test_min_is_black_same_picture),
        cmocka_unit_test(test_end_to_end_fax),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
