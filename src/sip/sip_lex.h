/* sip_lex.h — private to src/sip: the character classes of RFC 3261 §25.1 and the
 * arena that holds a parsed message's strings. Shared by sip_msg.c (framing, start
 * line, header section) and sip_fields.c (the values of the fields the stack reads). */
#ifndef FAXBOT_SIP_LEX_H
#define FAXBOT_SIP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sip/sip_msg.h"

static inline bool sip_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
/* token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
static inline bool sip_is_token(unsigned char c)
{
    return sip_is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}
/* word: token plus ( ) < > : \ " / [ ] ? { } */
static inline bool sip_is_word(unsigned char c)
{
    return sip_is_token(c) || (c && strchr("()<>:\\\"/[]?{}", c));
}
static inline bool sip_is_ws(unsigned char c) { return c == ' ' || c == '\t'; }
static inline bool sip_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The message's string arena: fixed capacity, so pointers handed out stay valid. */
char *sip_arena_dup(sip_msg *m, const char *s, size_t n);

/* Field parsers (sip_fields.c). Each returns 0, or -1 with err->reason filled. */
int sip_parse_addr(sip_msg *m, const char *v, size_t n, sip_addr *a, const char *what,
                   sip_parse_error *err);
int sip_parse_vias(sip_msg *m, const char *v, sip_parse_error *err);
int sip_parse_contacts(sip_msg *m, const char *v, sip_parse_error *err);
int sip_parse_cseq(sip_msg *m, const char *v, sip_parse_error *err);
int sip_parse_uint(const char *v, unsigned long long max, unsigned long long *out);
int sip_check_date(const char *v);
/* Request-URI: any scheme, but sip/sips strictly and without headers. */
int sip_check_ruri(const char *uri, sip_parse_error *err);

void sip_err(sip_parse_error *err, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
