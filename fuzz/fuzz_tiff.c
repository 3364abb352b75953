/* fuzz_tiff.c — libFuzzer target for the TIFF readers that see fax images from
 * outside (received faxes from providers and PBXs, uploads): the faxability check
 * (src/document/tiff_check.c, doc_tiff_check_faxable) and the pixel comparison
 * (src/document/tiff_compare.c, doc_tiff_compare). The input is a TIFF file; it is
 * written to a memfd and opened as /proc/self/fd/N, so nothing touches the disk.
 * It is checked, compared with itself, and compared both ways with a small valid
 * fax page made at start-up. Besides crashes it checks:
 *   - a faxable file reports at least one page, width 1728 and a fax compression;
 *   - a file that matches itself has no extra header rows and at least one page;
 *   - a match with the reference is one page, with 0-15 header rows;
 *   - every failure comes with a message.
 * Build: make fuzz. Run: build-fuzz/fuzz_tiff fuzz/corpus/tiff -max_total_time=30 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <tiffio.h>
#include <unistd.h>

#include "document/document.h"

static int input_fd = -1;
static char input_path[64];
static char ref_path[64];

static void open_memfd(const char *name, int *fd, char *path, size_t pathlen)
{
    *fd = memfd_create(name, MFD_CLOEXEC);
    if (*fd < 0) abort();
    snprintf(path, pathlen, "/proc/self/fd/%d", *fd);
}

/* A valid fine-resolution fax page: 1728 x 16, uncompressed, a diagonal line. */
static void make_reference(void)
{
    int fd;
    open_memfd("fuzz-tiff-ref", &fd, ref_path, sizeof ref_path);
    TIFF *t = TIFFOpen(ref_path, "w");
    if (!t) abort();
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 1728);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 16);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    unsigned char row[216];
    for (uint32_t y = 0; y < 16; y++) {
        memset(row, 0, sizeof row);
        row[y * 13 % 216] = 0xf0;
        if (TIFFWriteScanline(t, row, y, 0) != 1) abort();
    }
    TIFFClose(t);
    char err[256];
    if (doc_tiff_check_faxable(ref_path, NULL, err, sizeof err) != 0) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* libtiff's default handlers would print; the code under test installs its own */
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    open_memfd("fuzz-tiff-input", &input_fd, input_path, sizeof input_path);
    make_reference();
    return 0;
}

static void load_input(const uint8_t *data, size_t size)
{
    if (ftruncate(input_fd, 0) != 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(input_fd, data + off, size - off, (off_t)off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (input_fd < 0) LLVMFuzzerInitialize(NULL, NULL);
    if (size > 1 << 16) return 0;
    load_input(data, size);

    tiff_info info;
    char err[512];
    err[0] = 0;
    if (doc_tiff_check_faxable(input_path, &info, err, sizeof err) == 0) {
        if (info.pages < 1 || info.width != 1728) abort();
        if (info.compression != COMPRESSION_NONE && info.compression != COMPRESSION_CCITTRLE &&
            info.compression != COMPRESSION_CCITTFAX3 && info.compression != COMPRESSION_CCITTFAX4)
            abort();
    } else if (!err[0]) {
        abort();
    }

    int pages = -1, header = -1;
    err[0] = 0;
    if (doc_tiff_compare(input_path, input_path, &pages, &header, err, sizeof err) == 0) {
        if (pages < 1 || header != 0) abort();
    } else if (!err[0]) {
        abort();
    }
    err[0] = 0;
    if (doc_tiff_compare(ref_path, input_path, &pages, &header, err, sizeof err) == 0) {
        if (pages != 1 || header < 0) abort();        /* extra rows on top of the input are allowed */
    } else if (!err[0]) {
        abort();
    }
    err[0] = 0;
    if (doc_tiff_compare(input_path, ref_path, &pages, &header, err, sizeof err) == 0) {
        /* the input may be the last rows of the reference page: the rest is a header band */
        if (pages != 1 || header < 0 || header > 15) abort();
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
