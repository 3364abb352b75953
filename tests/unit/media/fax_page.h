/* fax_page.h — test pages for real fax calls (the media tests and bench/media_bench):
 * a TIFF-F of text-like lines, 1728 px wide at fine resolution, its layout depending
 * on the page number so pages cannot be confused. */
#ifndef FAXBOT_TEST_FAX_PAGE_H
#define FAXBOT_TEST_FAX_PAGE_H

#include <stddef.h>

#define FAX_PAGE_ROWS 1100      /* half an A4 page at fine resolution: ~10-20 s a page */

/* 0 on success, -1 with err if the file cannot be written. */
int fax_page_write(const char *path, int pages, int rows, char *err, size_t errlen);

#endif
