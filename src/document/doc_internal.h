/* doc_internal.h — helpers shared by the files of src/document only (never included
 * from outside the module): libtiff opened with its complaints captured instead of
 * printed, the TIFF-F page copier used by rasterize.c and convert.c, temp names for
 * atomic writes, and the page geometry both PDF writers use. */
#ifndef FAXBOT_DOC_INTERNAL_H
#define FAXBOT_DOC_INTERNAL_H

#include <stddef.h>
#include <tiffio.h>
#include "document/document.h"

/* Page geometry in PDF points (1/72 in) with the 54 pt margins. */
typedef struct doc_page_geom { double width, height, margin; } doc_page_geom;
doc_page_geom doc_page_geometry(paper_size paper);

/* The first error libtiff reported on one TIFF handle (warnings are dropped). */
typedef struct doc_tiff_log { char msg[200]; } doc_tiff_log;
/* TIFFOpen with per-handle error/warning handlers: nothing is ever printed to
 * stderr, and the first error text lands in log->msg. */
TIFF *doc_tiff_open(const char *path, const char *mode, doc_tiff_log *log);

/* Copies every page of the input TIFFs, in order, into out_path as raw strips
 * (compression, FillOrder, resolution, Group 3/4 options kept), sets
 * NewSubfileType=page and PageNumber n/total on each page, checks the result with
 * doc_tiff_check_faxable, and publishes it atomically (temp name + fsync + rename).
 * Fills *pages. */
int doc_tiff_copy_fax_pages(const char *const *inputs, int n_inputs, const char *out_path,
                            int *pages, char *err, size_t errlen);

/* "<path>.tmp-XXXXXX" made unique with mkstemp; returns an open fd or -1. */
int doc_make_temp_beside(const char *path, char *tmp, size_t tmplen);
/* Renames tmp over path after an fsync of tmp; removes tmp on failure. */
int doc_publish_temp(const char *tmp, const char *path);

#endif
