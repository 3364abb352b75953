/* render_main.c — faxbot-render, the helper program that draws documents into PDFs:
 *   faxbot-render text IN OUT.pdf letter|a4 [MAX_PAGES]
 *   faxbot-render image png|jpeg|tiff IN OUT.pdf letter|a4 [MAX_PAGES]
 * The gateway runs it with resource limits (render_client.c) so that untrusted
 * input is decoded outside the server. Exit 0 on success; otherwise one line on
 * stderr says what is wrong with the document, and the exit code is 1. */
#include "document/doc_internal.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: faxbot-render text IN OUT.pdf letter|a4 [MAX_PAGES] | "
            "image png|jpeg|tiff IN OUT.pdf letter|a4 [MAX_PAGES]\n");
    return 2;
}

static int paper_of(const char *s, paper_size *out)
{
    if (!strcmp(s, "letter")) *out = PAPER_LETTER;
    else if (!strcmp(s, "a4")) *out = PAPER_A4;
    else return -1;
    return 0;
}

/* The optional page limit; 200 (CONVERT_MAX_PAGES' default) when absent. */
static int max_pages_of(int argc, char **argv, int at)
{
    if (argc <= at) return 200;
    char *end;
    long v = strtol(argv[at], &end, 10);
    return (*argv[at] && !*end && v >= 1 && v <= 100000) ? (int)v : -1;
}

int main(int argc, char **argv)
{
    char err[1024] = "";
    paper_size paper;
    int rc;
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "text")) {
        int max_pages = max_pages_of(argc, argv, 5);
        if (paper_of(argv[4], &paper) || max_pages < 0) return usage();
        rc = doc_render_text_pdf(argv[2], argv[3], paper, max_pages, err, sizeof err);
    } else if ((argc == 6 || argc == 7) && !strcmp(argv[1], "image")) {
        doc_type t = doc_type_from_name(argv[2]);
        int max_pages = max_pages_of(argc, argv, 6);
        if (paper_of(argv[5], &paper) || (t != DOC_PNG && t != DOC_JPEG && t != DOC_TIFF) || max_pages < 0)
            return usage();
        rc = doc_render_image_pdf(argv[3], t, argv[4], paper, max_pages, err, sizeof err);
    } else {
        return usage();
    }
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : "the document could not be drawn");
        return 1;
    }
    return 0;
}
