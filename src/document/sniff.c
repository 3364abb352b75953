/* sniff.c — what kind of document did the client upload? Decided from the bytes
 * alone (never the file name or the declared type): magic numbers for PDF, PNG,
 * JPEG and TIFF, and a UTF-8 check for text. The incremental utf8_validator lets
 * the intake confirm a text candidate over the whole body chunk by chunk. Pure
 * functions over bytes; no I/O. */
#include <string.h>
#include "document/document.h"

static const struct { doc_type type; const char *name; } type_names[] = {
    { DOC_PDF, "pdf" }, { DOC_TEXT, "txt" }, { DOC_PNG, "png" },
    { DOC_JPEG, "jpeg" }, { DOC_TIFF, "tiff" }, { DOC_UNKNOWN, "unknown" },
};

const char *doc_type_name(doc_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t) return type_names[i].name;
    return "unknown";
}

doc_type doc_type_from_name(const char *name)
{
    if (!name) return DOC_UNKNOWN;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i].name, name) == 0) return type_names[i].type;
    /* common spellings clients send */
    if (strcmp(name, "text") == 0) return DOC_TEXT;
    if (strcmp(name, "jpg") == 0) return DOC_JPEG;
    if (strcmp(name, "tif") == 0) return DOC_TIFF;
    return DOC_UNKNOWN;
}

/* ---- UTF-8 ---- */

void utf8_validator_init(utf8_validator *v)
{
    memset(v, 0, sizeof *v);
}

/* Smallest code point a sequence of each length may encode (shorter = overlong). */
static unsigned int utf8_min_for_len(int len)
{
    return len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u;
}

static void utf8_finish_sequence(utf8_validator *v)
{
    unsigned int cp = v->cp;
    if (cp < utf8_min_for_len(v->len) || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu))
        v->bad = true;
}

void utf8_validator_feed(utf8_validator *v, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len && !v->bad; i++) {
        unsigned char c = data[i];
        if (v->need > 0) {
            if ((c & 0xC0) != 0x80) { v->bad = true; break; }
            v->cp = (v->cp << 6) | (c & 0x3Fu);
            if (--v->need == 0) utf8_finish_sequence(v);
            continue;
        }
        if (c < 0x80) {
            if (c == 0) v->has_nul = true;
        } else if (c >= 0xC2 && c <= 0xDF) {
            v->need = 1; v->len = 2; v->cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            v->need = 2; v->len = 3; v->cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            v->need = 3; v->len = 4; v->cp = c & 0x07u;
        } else {
            v->bad = true;           /* stray continuation, C0/C1, F5..FF */
        }
    }
}

bool utf8_validator_ok(const utf8_validator *v)
{
    return !v->bad && !v->has_nul && v->need == 0;
}

/* ---- sniffing ---- */

static bool has_prefix(const unsigned char *head, size_t len, const char *magic, size_t mlen)
{
    return len >= mlen && memcmp(head, magic, mlen) == 0;
}

static bool looks_like_text(const unsigned char *head, size_t len)
{
    if (has_prefix(head, len, "\xEF\xBB\xBF", 3)) { head += 3; len -= 3; }
    utf8_validator v;
    utf8_validator_init(&v);
    utf8_validator_feed(&v, head, len);
    /* the head may end in the middle of a character: a dangling sequence is fine */
    return !v.bad && !v.has_nul;
}

doc_type doc_sniff(const unsigned char *head, size_t len)
{
    if (!head) return DOC_UNKNOWN;
    if (has_prefix(head, len, "\x89PNG\r\n\x1a\n", 8)) return DOC_PNG;
    if (has_prefix(head, len, "\xFF\xD8\xFF", 3)) return DOC_JPEG;
    if (has_prefix(head, len, "II*\0", 4) || has_prefix(head, len, "MM\0*", 4)) return DOC_TIFF;
    /* the PDF spec tolerates junk before the header; readers look in the first KiB */
    size_t window = len < 1024 ? len : 1024;
    if (memmem(head, window, "%PDF-", 5)) return DOC_PDF;
    if (looks_like_text(head, len)) return DOC_TEXT;
    return DOC_UNKNOWN;
}
