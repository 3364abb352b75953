/* store_cols.h — how records map field by field onto table columns, shared by the
 * SQLite and PostgreSQL stores so that SELECT, INSERT and UPDATE can never
 * disagree about the column order, in either database. */
#ifndef FAXBOT_STORE_COLS_H
#define FAXBOT_STORE_COLS_H

#include <stddef.h>

#include "store/store.h"

typedef enum { COL_TEXT, COL_INT, COL_I64, COL_BOOL, COL_REAL } col_type;

typedef struct col_desc {
    const char *name;
    col_type type;
    size_t off;
    size_t size;                       /* of the text buffer */
} col_desc;

/* id stays first in job_cols: UPDATE binds it as parameter 1 and sets the others. */
extern const col_desc job_cols[];
extern const int n_job_cols;
extern const col_desc inbound_cols[];
extern const int n_inbound_cols;
extern const col_desc key_cols[];
extern const int n_key_cols;
#define N_JOB_COLS n_job_cols
#define N_INBOUND_COLS n_inbound_cols
#define N_KEY_COLS n_key_cols

/* "a,b,c" of the column names (malloc'd, NULL when out of memory). */
char *cols_list(const col_desc *cols, int n);
/* "?1,?2,…" (mark '?') or "$1,$2,…" (mark '$') from first on (malloc'd). */
char *params_list(char mark, int first, int n);

#endif
