/* render_main.c — faxbot-render, the helper program that draws documents into PDFs:
 *   faxbot-render text IN OUT.pdf letter|a4
 *   faxbot-render image png|jpeg|tiff IN OUT.pdf letter|a4
 * The gateway runs it with resource limits (render_client.c) so that untrusted
 * input is decoded outside the server. Exit 0 on success; otherwise one line on
 * stderr says what is wrong with the document, and the exit code is 1. */
#include "document/doc_internal.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: faxbot-render text IN OUT.pdf letter|a4 | image png|jpeg|tiff IN OUT.pdf letter|a4\n");
    return 2;
}

static int paper_of(const char *s, paper_size *out)
{
    if (!strcmp(s, "letter")) *out = PAPER_LETTER;
    else if (!strcmp(s, "a4")) *out = PAPER_A4;
    else return -1;
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024] = "";
    paper_size paper;
    int rc;
    if (argc == 5 && !strcmp(argv[1], "text")) {
        if (paper_of(argv[4], &paper)) return usage();
        rc = doc_render_text_pdf(argv[2], argv[3], paper, err, sizeof err);
    } else if (argc == 6 && !strcmp(argv[1], "image")) {
        doc_type t = doc_type_from_name(argv[2]);
        if (paper_of(argv[5], &paper) || (t != DOC_PNG && t != DOC_JPEG && t != DOC_TIFF)) return usage();
        rc = doc_render_image_pdf(argv[3], t, argv[4], paper, err, sizeof err);
    } else {
        return usage();
    }
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : "the document could not be drawn");
        return 1;
    }
    return 0;
}
