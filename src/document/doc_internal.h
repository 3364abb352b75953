/* doc_internal.h — helpers shared by the files of src/document only (never included
 * from outside the module): libtiff opened with its complaints captured instead of
 * printed, the TIFF-F page copier (convert.c) and the MH coder and page writer
 * (rasterize.c), temp names for atomic writes, and the page geometry both PDF
 * writers use. */
#ifndef FAXBOT_DOC_INTERNAL_H
#define FAXBOT_DOC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

/* A fax row: 1728 pixels, 1 bit each, most significant bit first, 1 = black. */
#define DOC_FAX_WIDTH 1728
#define DOC_FAX_ROW_BYTES (DOC_FAX_WIDTH / 8)
/* Room doc_mh_encode_row may need: a 12-bit code for every pixel, the EOL, and 8
 * bytes it may store past the end of the code. */
#define DOC_MH_ROW_MAX ((size_t)DOC_FAX_WIDTH * 3 / 2 + 16)

/* Codes one row as Modified Huffman (T.4 1-D): a byte-aligned EOL (fill bits, as
 * TIFF Group3Options=4 says), the runs, zero bits up to the next byte. Rows so
 * coded can be concatenated into one TIFF strip. Returns the bytes written to out
 * (at most DOC_MH_ROW_MAX). A pure function. */
size_t doc_mh_encode_row(const unsigned char row[DOC_FAX_ROW_BYTES], unsigned char *out);

/* Writes a TIFF-F page by page from MH-coded strips (doc_mh_encode_row output):
 * 1728 px, 204 dpi across, 196 (fine) or 98 lpi down, min-is-white, one strip per
 * page, PageNumber n/total. Everything goes to a temp file beside out_path;
 * finish checks it with doc_tiff_check_faxable and publishes it atomically (then
 * frees the writer, also on failure); abort removes it. */
typedef struct doc_fax_writer doc_fax_writer;
doc_fax_writer *doc_fax_writer_open(const char *out_path, char *err, size_t errlen);
int doc_fax_writer_add_page(doc_fax_writer *w, const unsigned char *mh, size_t len, int rows, bool fine,
                            int total, char *err, size_t errlen);
int doc_fax_writer_finish(doc_fax_writer *w, int *pages, char *err, size_t errlen);
void doc_fax_writer_abort(doc_fax_writer *w);

/* The drawing itself (Pango/Cairo, libpng, libjpeg, libtiff decoders), linked only
 * into the faxbot-render helper so that untrusted images and text are decoded
 * outside the server's address space; doc_text_to_pdf / doc_image_to_pdf run it. */
int doc_render_text_pdf(const char *in_path, const char *out_pdf, paper_size paper, int max_pages,
                        char *err, size_t errlen);
int doc_render_image_pdf(const char *in_path, doc_type type, const char *out_pdf, paper_size paper, int max_pages,
                         char *err, size_t errlen);

/* "<path>.tmp-XXXXXX" made unique with mkstemp; returns an open fd or -1. */
int doc_make_temp_beside(const char *path, char *tmp, size_t tmplen);
/* Renames tmp over path after an fsync of tmp; removes tmp on failure. */
int doc_publish_temp(const char *tmp, const char *path);
/* A new temp file beside path (its name in tmp) open for writing a PDF; NULL with
 * err set when it cannot be made. */
FILE *doc_open_temp_pdf(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen);
/* Ends a PDF written to tmp through out: closes out and, when rc is 0, publishes
 * tmp as path; removes tmp otherwise. Returns the final rc (err set on a new failure). */
int doc_finish_temp_pdf(FILE *out, const char *tmp, const char *path, int rc, char *err, size_t errlen);

#endif
