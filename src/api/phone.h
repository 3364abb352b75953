/* phone.h — turning what a client typed as a fax number into E.164. Pure.
 * The rule (documented in the README):
 *   1. spaces, dashes, dots and parentheses are removed;
 *   2. "+<6-20 digits>" is kept as it is;
 *   3. "00<digits>" (international prefix) becomes "+<digits>";
 *   4. 10 digits with default country code 1 (NANP) become "+1<digits>";
 *   5. digits that already begin with the default country code and are longer than
 *      10 become "+<digits>";
 *   6. otherwise a leading trunk "0" is dropped and "+<cc><digits>" is used.
 *   Anything else (letters, other symbols, fewer than 6 or more than 20 digits typed,
 *   or more than E.164's 15 digits once normalized) is refused. */
#ifndef FAXBOT_PHONE_H
#define FAXBOT_PHONE_H

#include <stddef.h>

/* out needs 24 bytes. Returns 0, or -1 with a message in err. */
int phone_normalize(const char *in, const char *default_cc, char out[24], char *err, size_t errlen);

#endif
