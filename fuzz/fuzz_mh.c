/* fuzz_mh.c — libFuzzer target for the Modified Huffman row coder
 * (src/document/tiff_copy.c, doc_mh_encode_row), which codes every page the
 * gateway rasterizes from a client's document, so its input is any pixel pattern a
 * client can draw. The input is up to 8 fax rows of 216 bytes (1728 pixels, 1 =
 * black; the last row is padded with white). Each row is coded into a buffer of
 * exactly DOC_MH_ROW_MAX bytes, so ASan reports any store past that bound (the
 * coder stores 8-byte words beyond the code it returns). Then the rows, one strip,
 * go into a CCITT Group 3 TIFF (in a memfd) that libtiff decodes: every row must
 * come back bit for bit.
 * One row is checked differently: 1728 alternating pixels starting with black
 * (216 bytes of 0xAA) is the single row with 1729 runs, more than libtiff 4.5's
 * Group 3 decoder has room for ("Fax3Decode1D: Buffer overflow"; it cannot read
 * back its own encoding of that row either). Its code is compared with the T.4
 * code built here instead, and it is left out of the libtiff round trip.
 * Build: make fuzz. Run: build-fuzz/fuzz_mh fuzz/corpus/mh -max_total_time=30 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <tiffio.h>
#include <unistd.h>

#include "document/doc_internal.h"

#define MAX_ROWS 8

/* The MH code of the all-0xAA row: EOL, white 0 (00110101), then black 1 (010)
 * and white 1 (000111) 864 times, zero-padded to a byte. */
static size_t alternating_row_code(unsigned char *out, size_t cap)
{
    size_t bits = 0;
    memset(out, 0, cap);
#define PUT(code, len)                                                           \
    for (int b_ = (len) - 1; b_ >= 0; b_--, bits++)                               \
        if (((code) >> b_) & 1) out[bits / 8] |= (unsigned char)(0x80 >> (bits % 8));
    PUT(0x0001, 16)
    PUT(0x35, 8)
    for (int i = 0; i < DOC_FAX_WIDTH / 2; i++) {
        PUT(0x2, 3)
        PUT(0x7, 6)
    }
#undef PUT
    return (bits + 7) / 8;
}

static int is_alternating_row(const unsigned char *row)
{
    for (int i = 0; i < DOC_FAX_ROW_BYTES; i++)
        if (row[i] != 0xAA) return 0;
    return 1;
}

static int tiff_fd = -1;
static char tiff_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    tiff_fd = memfd_create("fuzz-mh", MFD_CLOEXEC);
    if (tiff_fd < 0) abort();
    snprintf(tiff_path, sizeof tiff_path, "/proc/self/fd/%d", tiff_fd);
    return 0;
}

/* One Group 3 (1-D, fill bits) page of rows MH-coded rows in one strip. */
static void write_tiff(const unsigned char *strip, size_t len, int rows)
{
    if (ftruncate(tiff_fd, 0) != 0) abort();
    TIFF *t = TIFFOpen(tiff_path, "w");
    if (!t) abort();
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)DOC_FAX_WIDTH);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)rows);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
    TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, (uint32_t)GROUP3OPT_FILLBITS);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rows);
    if (TIFFWriteRawStrip(t, 0, (void *)strip, (tmsize_t)len) < 0) abort();
    TIFFClose(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tiff_fd < 0) LLVMFuzzerInitialize(NULL, NULL);
    if (size > (size_t)MAX_ROWS * DOC_FAX_ROW_BYTES) return 0;
    int rows = size ? (int)((size + DOC_FAX_ROW_BYTES - 1) / DOC_FAX_ROW_BYTES) : 1;
    unsigned char *pixels = calloc((size_t)rows, DOC_FAX_ROW_BYTES);
    unsigned char *strip = malloc((size_t)rows * DOC_MH_ROW_MAX);
    if (!pixels || !strip) abort();
    if (size) memcpy(pixels, data, size);

    size_t len = 0;
    int kept = 0;                                          /* rows in the strip */
    for (int r = 0; r < rows; r++) {
        unsigned char *out = malloc(DOC_MH_ROW_MAX);          /* exactly the documented room */
        unsigned char row[DOC_FAX_ROW_BYTES];
        if (!out) abort();
        memcpy(row, pixels + (size_t)r * DOC_FAX_ROW_BYTES, sizeof row);
        size_t n = doc_mh_encode_row(row, out);
        if (n < 5 || n > DOC_MH_ROW_MAX) abort();
        if (out[0] != 0x00 || out[1] != 0x01) abort();        /* byte-aligned EOL first */
        if (memcmp(row, pixels + (size_t)r * DOC_FAX_ROW_BYTES, sizeof row)) abort();   /* input untouched */
        if (is_alternating_row(row)) {
            unsigned char want[DOC_MH_ROW_MAX];
            if (n != alternating_row_code(want, sizeof want) || memcmp(out, want, n) != 0) abort();
        } else {
            memcpy(strip + len, out, n);
            len += n;
            memmove(pixels + (size_t)kept * DOC_FAX_ROW_BYTES, row, sizeof row);
            kept++;
        }
        free(out);
    }
    if (!kept) {
        free(strip);
        free(pixels);
        return 0;
    }

    rows = kept;
    write_tiff(strip, len, rows);
    TIFF *t = TIFFOpen(tiff_path, "r");
    if (!t) abort();
    unsigned char *line = malloc((size_t)TIFFScanlineSize(t));
    if (!line || TIFFScanlineSize(t) != DOC_FAX_ROW_BYTES) abort();
    for (int r = 0; r < rows; r++) {
        if (TIFFReadScanline(t, line, (uint32_t)r, 0) != 1) abort();
        if (memcmp(line, pixels + (size_t)r * DOC_FAX_ROW_BYTES, DOC_FAX_ROW_BYTES) != 0) abort();
    }
    TIFFClose(t);
    free(line);
    free(strip);
    free(pixels);
    return 0;
}
