/* fax_page.c — writes the test pages of fax_page.h with libtiff (G3 1-D, MinIsWhite). */
#include "fax_page.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>

#define WIDTH 1728

int fax_page_write(const char *path, int pages, int rows, char *err, size_t errlen)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    uint8_t row[WIDTH / 8];
    for (int p = 0; p < pages; p++) {
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, WIDTH);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, rows);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
        TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, 0);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0f);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
        uint32_t st = (uint32_t)p * 7919u + 1u;
        for (int y = 0; y < rows; y++) {
            memset(row, 0, sizeof row);
            if ((y / 30) % 2 == 1 && y > 60) {
                for (int x = 60; x < WIDTH - 80;) {
                    st = st * 1103515245u + 12345u;
                    int w = 10 + (int)((st >> 8) % 90);
                    for (int k = x; k < x + w && k < WIDTH; k++)
                        row[k >> 3] |= (uint8_t)(0x80 >> (k & 7));
                    st = st * 1103515245u + 12345u;
                    x += w + 8 + (int)((st >> 8) % 40);
                }
            }
            if (TIFFWriteScanline(t, row, (uint32_t)y, 0) != 1 || (y == rows - 1 && TIFFWriteDirectory(t) != 1)) {
                TIFFClose(t);
                snprintf(err, errlen, "cannot write page %d of %s", p + 1, path);
                return -1;
            }
        }
    }
    TIFFClose(t);
    return 0;
}
