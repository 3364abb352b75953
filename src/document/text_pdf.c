/* text_pdf.c — a UTF-8 text file becomes a PDF: DejaVu Sans Mono 10 pt on Letter
 * or A4 with 54 pt margins, every line wrapped to the width (never cut off), tabs
 * expanded, form feeds starting a new page. Pango shapes and wraps (so accents,
 * Greek, Cyrillic and whatever CJK fonts exist all work), Cairo writes the PDF.
 *
 * Memory stays bounded for any file size: the file is read paragraph by paragraph
 * (a paragraph is a line of the file, cut into slices of at most PARA_SLICE bytes
 * if it is absurdly long), each one is laid out on its own, and its lines are
 * placed one at a time, turning the page when the next line would not fit.
 *
 * Time stays bounded too: drawing stops the moment the document would get more
 * pages than the caller's limit (CONVERT_MAX_PAGES), so 64 KB of form feeds or
 * megabytes of text are refused after at most that many pages, not laid out in
 * full first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>
#include "document/doc_internal.h"
#include "util/util.h"

#define FONT_DESCRIPTION "DejaVu Sans Mono 10"
#define TAB_WIDTH 8
#define PARA_SLICE 8192          /* longest piece of one line laid out at once */

/* ---- reading the file in paragraphs ---- */

typedef struct text_reader {
    FILE *f;
    unsigned char buf[65536];
    size_t pos, len;
    bool eof, error, first;
} text_reader;

typedef enum { PARA_NONE, PARA_NEWLINE, PARA_FORMFEED, PARA_SLICED, PARA_EOF } para_end;

static bool reader_fill(text_reader *r)
{
    if (r->pos < r->len) return true;
    if (r->eof) return false;
    r->pos = 0;
    r->len = fread(r->buf, 1, sizeof r->buf, r->f);
    if (r->len == 0) {
        r->eof = true;
        if (ferror(r->f)) r->error = true;
        return false;
    }
    if (r->first) {              /* a UTF-8 byte order mark is not text */
        r->first = false;
        if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) r->pos = 3;
    }
    return r->pos < r->len;
}

/* Next paragraph into out (without its terminator). PARA_NONE when the file is done. */
static para_end reader_next(text_reader *r, strbuf *out)
{
    out->len = 0;
    bool any = false;
    while (reader_fill(r)) {
        any = true;
        size_t start = r->pos, i = r->pos;
        while (i < r->len) {
            unsigned char c = r->buf[i];
            if (c == '\n' || c == '\f') break;
            /* cut very long lines only between characters */
            if (out->len + (i - start) >= PARA_SLICE && (c & 0xC0) != 0x80) break;
            i++;
        }
        if (sb_append(out, r->buf + start, i - start) != 0) { r->error = true; return PARA_NONE; }
        r->pos = i;
        if (i < r->len) {
            unsigned char c = r->buf[i];
            if (c == '\n') { r->pos++; return PARA_NEWLINE; }
            if (c == '\f') { r->pos++; return PARA_FORMFEED; }
            return PARA_SLICED;
        }
    }
    return any ? PARA_EOF : PARA_NONE;
}

/* ---- cleaning one paragraph for layout ---- */

/* Expands tabs to 8-column stops, drops a CR before the line end, and turns other
 * control characters into spaces (Pango would draw them as hex boxes). *column
 * carries across slices of one long line. */
static int clean_paragraph(const strbuf *in, strbuf *out, int *column)
{
    out->len = 0;
    size_t n = in->len;
    if (n > 0 && in->data[n - 1] == '\r') n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in->data[i];
        if (c == '\t') {
            int spaces = TAB_WIDTH - (*column % TAB_WIDTH);
            for (int s = 0; s < spaces; s++) if (sb_append(out, " ", 1) != 0) return -1;
            *column += spaces;
            continue;
        }
        if (c < 0x20 || c == 0x7F) c = ' ';
        /* C1 controls U+0080..U+009F are encoded C2 80..C2 9F */
        if (c == 0xC2 && i + 1 < n && (unsigned char)in->data[i + 1] >= 0x80 &&
            (unsigned char)in->data[i + 1] <= 0x9F) {
            i++;
            c = ' ';
        }
        if (sb_append(out, &c, 1) != 0) return -1;
        if ((c & 0xC0) != 0x80) (*column)++;
    }
    if (sb_append(out, "", 1) != 0) return -1;     /* NUL for Pango */
    out->len--;
    return 0;
}

/* Pango's word-then-character wrapping measures what is left of an unbreakable run
 * again for every line it cuts from it, so a paragraph that is one long "word" costs
 * time quadratic in its length (4 MB without a space: over a minute for the 200 pages
 * allowed). A paragraph (slice) without a single space is wrapped by character, which
 * gives it the same lines in linear time; anything with spaces wraps at words. */
#define LONG_WORD 512

static bool one_long_word(const strbuf *text)
{
    return text->len > LONG_WORD && !memchr(text->data, ' ', text->len);
}

/* ---- placing lines on pages ---- */

typedef struct text_page_state {
    cairo_t *cr;
    doc_page_geom geom;
    double y;                    /* top of the next line */
    bool page_has_lines;
    int pages_done;              /* pages already shown */
    int max_pages;
    bool turn_pending;           /* at the limit a page was ended: fine unless more follows */
    bool over_limit;             /* something for a page past max_pages: stop */
} text_page_state;

static void turn_page(text_page_state *st)
{
    if (st->pages_done + 1 >= st->max_pages) {
        if (st->turn_pending) st->over_limit = true;
        st->turn_pending = true;
        return;
    }
    cairo_show_page(st->cr);
    st->pages_done++;
    st->y = st->geom.margin;
    st->page_has_lines = false;
}

static void place_layout_lines(text_page_state *st, PangoLayout *layout, double fallback_height)
{
    double bottom = st->geom.height - st->geom.margin;
    PangoLayoutIter *it = pango_layout_get_iter(layout);
    do {
        PangoLayoutLine *line = pango_layout_iter_get_line_readonly(it);
        PangoRectangle logical;
        pango_layout_line_get_extents(line, NULL, &logical);
        double height = (double)logical.height / PANGO_SCALE;
        double baseline = (double)-logical.y / PANGO_SCALE;
        if (height <= 0) { height = fallback_height; baseline = fallback_height * 0.8; }
        if (st->page_has_lines && st->y + height > bottom) turn_page(st);
        if (st->turn_pending) st->over_limit = true;
        if (st->over_limit) break;
        cairo_move_to(st->cr, st->geom.margin, st->y + baseline);
        pango_cairo_show_layout_line(st->cr, line);
        st->y += height;
        st->page_has_lines = true;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
}

/* ---- validation ---- */

static int check_text_file(const char *in_path, char *err, size_t errlen)
{
    FILE *f = fopen(in_path, "rb");
    if (!f) {
        str_fmt(err, errlen, "cannot open the text file: %s", strerror(errno));
        return -1;
    }
    utf8_validator v;
    utf8_validator_init(&v);
    unsigned char buf[65536];
    size_t n;
    bool first = true;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && !v.bad && !v.has_nul) {
        size_t skip = (first && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
        first = false;
        utf8_validator_feed(&v, buf + skip, n - skip);
    }
    bool read_error = ferror(f) != 0;
    fclose(f);
    if (read_error) { str_fmt(err, errlen, "cannot read the text file"); return -1; }
    if (v.has_nul) {
        str_fmt(err, errlen, "the text file contains NUL bytes; it looks like a binary file, not text");
        return -1;
    }
    if (!utf8_validator_ok(&v)) {
        str_fmt(err, errlen, "the text file is not valid UTF-8; save it as UTF-8 and upload it again");
        return -1;
    }
    return 0;
}

/* ---- the conversion ---- */

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS
                                                              : CAIRO_STATUS_WRITE_ERROR;
}

static PangoLayout *make_layout(cairo_t *cr, const doc_page_geom *g, double *line_height)
{
    PangoContext *ctx = pango_cairo_create_context(cr);
    pango_cairo_context_set_resolution(ctx, 72.0);     /* 10 pt = 10 PDF units */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo);
    cairo_font_options_destroy(fo);

    PangoLayout *layout = pango_layout_new(ctx);
    g_object_unref(ctx);
    PangoFontDescription *font = pango_font_description_from_string(FONT_DESCRIPTION);
    pango_layout_set_font_description(layout, font);
    pango_font_description_free(font);
    pango_layout_set_width(layout, (int)((g->width - 2 * g->margin) * PANGO_SCALE));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);

    pango_layout_set_text(layout, " ", 1);
    PangoRectangle logical;
    pango_layout_get_extents(layout, NULL, &logical);
    *line_height = logical.height > 0 ? (double)logical.height / PANGO_SCALE : 12.0;
    return layout;
}

static int render_text(text_reader *rd, FILE *out, paper_size paper, int max_pages, char *err, size_t errlen)
{
    doc_page_geom g = doc_page_geometry(paper);
    cairo_surface_t *surface = cairo_pdf_surface_create_for_stream(write_to_file, out, g.width, g.height);
    cairo_t *cr = cairo_create(surface);
    double line_height = 12.0;
    PangoLayout *layout = make_layout(cr, &g, &line_height);
    cairo_set_source_rgb(cr, 0, 0, 0);

    text_page_state st = { .cr = cr, .geom = g, .y = g.margin, .max_pages = max_pages > 0 ? max_pages : 200 };
    strbuf raw, clean;
    sb_init(&raw);
    sb_init(&clean);
    int column = 0, rc = 0;
    para_end end;
    while ((end = reader_next(rd, &raw)) != PARA_NONE) {
        if (clean_paragraph(&raw, &clean, &column) != 0) { rd->error = true; break; }
        /* text right before a form feed that is empty needs no line of its own */
        bool draw = !(end == PARA_FORMFEED && clean.len == 0);
        if (draw) {
            pango_layout_set_wrap(layout, one_long_word(&clean) ? PANGO_WRAP_CHAR : PANGO_WRAP_WORD_CHAR);
            pango_layout_set_text(layout, clean.data, (int)clean.len);
            place_layout_lines(&st, layout, line_height);
        }
        if (end != PARA_SLICED) column = 0;
        /* a form feed ends the page; one at the very start of the file is ignored */
        if (end == PARA_FORMFEED && (st.page_has_lines || st.pages_done > 0)) turn_page(&st);
        if (st.over_limit || cairo_status(cr) != CAIRO_STATUS_SUCCESS) break;
    }
    sb_free(&raw);
    sb_free(&clean);
    g_object_unref(layout);

    cairo_status_t cst = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);      /* an untouched first page is still emitted */
    if (cst == CAIRO_STATUS_SUCCESS) cst = cairo_surface_status(surface);
    cairo_surface_destroy(surface);

    if (st.over_limit) {
        str_fmt(err, errlen, "the text makes more than %d pages; the limit is %d (CONVERT_MAX_PAGES)", st.max_pages,
                st.max_pages);
        rc = -1;
    } else if (rd->error) {
        str_fmt(err, errlen, "cannot read the text file");
        rc = -1;
    } else if (cst != CAIRO_STATUS_SUCCESS) {
        str_fmt(err, errlen, "could not write the PDF: %s", cairo_status_to_string(cst));
        rc = -1;
    }
    return rc;
}

int doc_render_text_pdf(const char *in_path, const char *out_pdf, paper_size paper, int max_pages,
                        char *err, size_t errlen)
{
    if (!in_path || !out_pdf) { str_fmt(err, errlen, "no input or output file given"); return -1; }
    if (check_text_file(in_path, err, errlen) != 0) return -1;

    text_reader *rd = calloc(1, sizeof *rd);
    if (!rd) { str_fmt(err, errlen, "out of memory"); return -1; }
    rd->f = fopen(in_path, "rb");
    if (!rd->f) {
        str_fmt(err, errlen, "cannot open the text file: %s", strerror(errno));
        free(rd);
        return -1;
    }
    rd->first = true;

    char tmp[4096];
    FILE *out = doc_open_temp_pdf(out_pdf, tmp, sizeof tmp, err, errlen);
    if (!out) {
        fclose(rd->f);
        free(rd);
        return -1;
    }
    int rc = render_text(rd, out, paper, max_pages, err, errlen);
    fclose(rd->f);
    free(rd);
    return doc_finish_temp_pdf(out, tmp, out_pdf, rc, err, errlen);
}
