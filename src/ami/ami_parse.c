/* ami_parse.c — see ami_parse.h. A line assembler feeds whole lines to a small
 * state machine (header lines, or raw "Follows" output); keys and values of the
 * message being built live in one fixed arena, so feeding never allocates. */
#include "ami/ami_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define END_COMMAND "--END COMMAND--"

struct ami_parser {
    bool expect_banner;
    bool follows_hdrs;           /* after "Response: Follows": its header lines */
    bool in_follows;             /* raw output lines until --END COMMAND-- */
    bool end_seen;               /* --END COMMAND-- seen: the next blank line ends it */
    bool truncated;
    size_t line_len;
    bool line_cut;
    char line[AMI_MAX_LINE];
    size_t arena_len;
    size_t n_fields;
    size_t key_off[AMI_MAX_FIELDS], val_off[AMI_MAX_FIELDS];
    ami_field fields[AMI_MAX_FIELDS];
    size_t out_len;
    char arena[AMI_MAX_MESSAGE];
    char out[AMI_MAX_OUTPUT + 1];
};

static void clear_message(ami_parser *p)
{
    p->follows_hdrs = p->in_follows = p->end_seen = p->truncated = false;
    p->arena_len = 0;
    p->n_fields = 0;
    p->out_len = 0;
    p->out[0] = 0;
}

void ami_parser_reset(ami_parser *p, bool expect_banner)
{
    p->expect_banner = expect_banner;
    p->line_len = 0;
    p->line_cut = false;
    clear_message(p);
}

ami_parser *ami_parser_new(bool expect_banner)
{
    ami_parser *p = malloc(sizeof *p);
    if (p) ami_parser_reset(p, expect_banner);
    return p;
}

void ami_parser_free(ami_parser *p)
{
    free(p);
}

static bool message_empty(const ami_parser *p)
{
    return p->n_fields == 0 && p->out_len == 0 && !p->end_seen;
}

static ami_msg_kind kind_of(const char *first_key)
{
    if (!first_key) return AMI_MSG_OTHER;
    if (!strcasecmp(first_key, "Response")) return AMI_MSG_RESPONSE;
    if (!strcasecmp(first_key, "Event")) return AMI_MSG_EVENT;
    if (!strcasecmp(first_key, "Action")) return AMI_MSG_ACTION;
    return AMI_MSG_OTHER;
}

static void emit(ami_parser *p, ami_msg_cb cb, void *user)
{
    for (size_t i = 0; i < p->n_fields; i++) {
        p->fields[i].key = p->arena + p->key_off[i];
        p->fields[i].value = p->arena + p->val_off[i];
    }
    p->out[p->out_len] = 0;
    ami_message m = {.kind = kind_of(p->n_fields ? p->fields[0].key : NULL), .fields = p->fields,
                     .n_fields = p->n_fields, .output = p->out, .output_len = p->out_len, .banner = NULL,
                     .truncated = p->truncated};
    if (cb) cb(user, &m);
    clear_message(p);
}

static void append_output(ami_parser *p, const char *s, size_t n, bool newline)
{
    size_t room = AMI_MAX_OUTPUT - p->out_len;
    size_t want = n + (newline ? 1 : 0);
    if (want > room) {
        p->truncated = true;
        n = n < room ? n : room;
        newline = false;
    }
    memcpy(p->out + p->out_len, s, n);
    p->out_len += n;
    if (newline) p->out[p->out_len++] = '\n';
}

static bool arena_put(ami_parser *p, const char *s, size_t n, size_t *off)
{
    if (p->arena_len + n + 1 > AMI_MAX_MESSAGE) return false;
    *off = p->arena_len;
    memcpy(p->arena + p->arena_len, s, n);
    p->arena[p->arena_len + n] = 0;
    p->arena_len += n + 1;
    return true;
}

static void add_field(ami_parser *p, const char *key, size_t klen, const char *val, size_t vlen)
{
    if (p->n_fields >= AMI_MAX_FIELDS) { p->truncated = true; return; }
    size_t saved = p->arena_len, ko, vo;
    if (!arena_put(p, key, klen, &ko) || !arena_put(p, val, vlen, &vo)) {
        p->arena_len = saved;
        p->truncated = true;
        return;
    }
    p->key_off[p->n_fields] = ko;
    p->val_off[p->n_fields] = vo;
    p->n_fields++;
}

/* "Key: Value" -> field; false if the line has no colon. */
static bool split_field(const char *line, size_t len, size_t *klen, const char **val, size_t *vlen)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) return false;
    size_t k = (size_t)(colon - line);
    while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t')) k--;
    if (k == 0) return false;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *klen = k;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

static bool is_follows_header(const char *line, size_t len)
{
    static const char *const keys[] = {"Privilege", "ActionID", "Message"};
    size_t klen, vlen;
    const char *v;
    if (!split_field(line, len, &klen, &v, &vlen)) return false;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i]) == klen && !strncasecmp(line, keys[i], klen)) return true;
    return false;
}

static int follows_line(ami_parser *p, const char *line, size_t len)
{
    size_t ml = sizeof END_COMMAND - 1;
    if (len >= ml && !memcmp(line + len - ml, END_COMMAND, ml)) {
        if (len > ml) append_output(p, line, len - ml, false);
        p->in_follows = false;
        p->end_seen = true;
        return 0;
    }
    append_output(p, line, len, true);
    return 0;
}

static int handle_line(ami_parser *p, const char *line, size_t len, ami_msg_cb cb, void *user)
{
    if (p->expect_banner) {
        if (len == 0) return 0;
        p->expect_banner = false;
        if (!memchr(line, ':', len) || !strncmp(line, "Asterisk Call Manager/", 22)) {
            char banner[AMI_MAX_LINE];
            memcpy(banner, line, len);
            banner[len] = 0;
            ami_message m = {.kind = AMI_MSG_BANNER, .fields = NULL, .n_fields = 0, .output = "",
                             .output_len = 0, .banner = banner, .truncated = p->line_cut};
            if (cb) cb(user, &m);
            return 1;
        }
        /* No greeting: this is already the first line of a message. */
    }
    if (p->in_follows) return follows_line(p, line, len);
    if (p->follows_hdrs && len > 0) {
        if (!is_follows_header(line, len)) {
            p->follows_hdrs = false;
            p->in_follows = true;
            return follows_line(p, line, len);
        }
    }
    if (len == 0) {
        if (message_empty(p)) return 0;     /* blank lines between messages */
        emit(p, cb, user);
        return 1;
    }
    size_t klen, vlen;
    const char *val;
    if (!split_field(line, len, &klen, &val, &vlen)) {
        append_output(p, line, len, true);
        return 0;
    }
    bool first = p->n_fields == 0;
    add_field(p, line, klen, val, vlen);
    if (first && klen == 8 && !strncasecmp(line, "Response", 8) && vlen == 7 && !strncasecmp(val, "Follows", 7))
        p->follows_hdrs = true;
    return 0;
}

int ami_parser_feed(ami_parser *p, const void *data, size_t len, ami_msg_cb cb, void *user)
{
    const unsigned char *b = data;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = b[i];
        if (c == '\n') {
            size_t l = p->line_len;
            if (l > 0 && p->line[l - 1] == '\r') l--;
            if (p->line_cut) p->truncated = true;
            n += handle_line(p, p->line, l, cb, user);
            p->line_len = 0;
            p->line_cut = false;
            continue;
        }
        if (c == 0) continue;                       /* NUL never reaches a string */
        if (p->line_len < AMI_MAX_LINE - 1) p->line[p->line_len++] = (char)c;
        else p->line_cut = true;
    }
    return n;
}

const char *ami_msg_get_nth(const ami_message *m, const char *key, size_t n)
{
    for (size_t i = 0; i < m->n_fields; i++)
        if (!strcasecmp(m->fields[i].key, key) && n-- == 0) return m->fields[i].value;
    return NULL;
}

const char *ami_msg_get(const ami_message *m, const char *key)
{
    return ami_msg_get_nth(m, key, 0);
}
