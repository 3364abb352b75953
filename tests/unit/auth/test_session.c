/* test_session.c — the console's session table: ids and CSRF tokens are random
 * and distinct, lookups touch the idle clock, idle and absolute expiry, sign-out,
 * ending every session of a key, and that a full table drops the least recently
 * used session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/session.h"

#define MIN 60000LL
#define T0 1780000000000LL

static void test_create_and_lookup(void **state)
{
    (void)state;
    session_table *t = session_table_new(8, 30 * MIN, 720 * MIN);
    char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
    session_info ia, ib, got;
    assert_int_equal(session_create(t, "k1", "hash1", T0, a, &ia), 0);
    assert_int_equal(session_create(t, "k1", "hash1", T0, b, &ib), 0);
    assert_int_equal(strlen(a), SESSION_ID_LEN);
    assert_string_not_equal(a, b);
    assert_string_not_equal(ia.csrf, ib.csrf);
    assert_string_not_equal(a, ia.csrf);
    assert_int_equal(session_lookup(t, a, T0 + MIN, &got), 0);
    assert_string_equal(got.key_id, "k1");
    assert_string_equal(got.key_hash, "hash1");
    assert_string_equal(got.csrf, ia.csrf);
    assert_int_equal(session_lookup(t, "nope", T0, &got), -1);
    char wrong[SESSION_ID_LEN + 1];
    memcpy(wrong, a, sizeof wrong);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    assert_int_equal(session_lookup(t, wrong, T0, &got), -1);
    session_table_free(t);
}

/* A session kept elsewhere comes back under its id (after a restart) unless it has
 * expired; the durable copy is told of its use at most once a minute. */
static void test_restore_and_touch(void **state)
{
    (void)state;
    session_table *t = session_table_new(8, 30 * MIN, 720 * MIN);
    char a[SESSION_ID_LEN + 1];
    session_info ia, got;
    assert_int_equal(session_create(t, "k1", "hash1", T0, a, &ia), 0);
    assert_int_equal(session_lookup(t, a, T0 + 1000, &got), 0);
    assert_false(got.touch_due);
    assert_int_equal(session_lookup(t, a, T0 + SESSION_TOUCH_MS, &got), 0);
    assert_true(got.touch_due);
    assert_int_equal(session_lookup(t, a, T0 + SESSION_TOUCH_MS + 1000, &got), 0);
    assert_false(got.touch_due);
    session_table *fresh = session_table_new(8, 30 * MIN, 720 * MIN);      /* the restarted gateway */
    assert_int_equal(session_lookup(fresh, a, T0 + 2 * MIN, &got), -1);
    assert_int_equal(session_restore(fresh, a, &ia, T0 + 2 * MIN), 0);
    assert_int_equal(session_lookup(fresh, a, T0 + 2 * MIN, &got), 0);
    assert_string_equal(got.csrf, ia.csrf);
    assert_string_equal(got.key_id, "k1");
    assert_int_equal(session_restore(fresh, a, &ia, T0 + 2 * MIN), 0);     /* again: still one copy */
    assert_int_equal(session_delete(fresh, a), 0);
    assert_int_equal(session_lookup(fresh, a, T0 + 2 * MIN, &got), -1);
    assert_int_equal(session_restore(fresh, a, &ia, T0 + 31 * MIN), -1);   /* idle too long by then */
    assert_int_equal(session_restore(fresh, "short", &ia, T0), -1);
    session_table_free(fresh);
    session_table_free(t);
}

static void test_idle_and_absolute_expiry(void **state)
{
    (void)state;
    session_table *t = session_table_new(8, 30 * MIN, 120 * MIN);
    char sid[SESSION_ID_LEN + 1];
    assert_int_equal(session_create(t, "k1", "h", T0, sid, NULL), 0);
    /* used every 20 minutes it stays alive past 30 minutes ... */
    for (int i = 1; i <= 5; i++) assert_int_equal(session_lookup(t, sid, T0 + 20 * MIN * i, NULL), 0);
    /* ... but not past its absolute lifetime */
    assert_int_equal(session_lookup(t, sid, T0 + 121 * MIN, NULL), -1);
    assert_int_equal(session_create(t, "k1", "h", T0, sid, NULL), 0);
    assert_int_equal(session_lookup(t, sid, T0 + 31 * MIN, NULL), -1);    /* idle too long */
    assert_int_equal(session_lookup(t, sid, T0 + 32 * MIN, NULL), -1);    /* and gone for good */
    session_table_free(t);
}

static void test_delete_and_delete_key(void **state)
{
    (void)state;
    session_table *t = session_table_new(8, 30 * MIN, 720 * MIN);
    char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1], c[SESSION_ID_LEN + 1];
    session_create(t, "k1", "h", T0, a, NULL);
    session_create(t, "k1", "h", T0, b, NULL);
    session_create(t, "k2", "h", T0, c, NULL);
    assert_int_equal(session_delete(t, a), 0);
    assert_int_equal(session_delete(t, a), -1);
    assert_int_equal(session_lookup(t, a, T0, NULL), -1);
    assert_int_equal(session_delete_key(t, "k1"), 1);
    assert_int_equal(session_lookup(t, b, T0, NULL), -1);
    assert_int_equal(session_lookup(t, c, T0, NULL), 0);
    session_table_free(t);
}

static void test_full_table_drops_least_recently_used(void **state)
{
    (void)state;
    session_table *t = session_table_new(3, 30 * MIN, 720 * MIN);
    char s[4][SESSION_ID_LEN + 1];
    for (int i = 0; i < 3; i++) assert_int_equal(session_create(t, "k", "h", T0 + i, s[i], NULL), 0);
    assert_int_equal(session_lookup(t, s[0], T0 + 10, NULL), 0);     /* s[1] is now the least recent */
    assert_int_equal(session_create(t, "k", "h", T0 + 20, s[3], NULL), 0);
    assert_int_equal(session_lookup(t, s[1], T0 + 21, NULL), -1);
    assert_int_equal(session_lookup(t, s[0], T0 + 21, NULL), 0);
    assert_int_equal(session_lookup(t, s[2], T0 + 21, NULL), 0);
    assert_int_equal(session_lookup(t, s[3], T0 + 21, NULL), 0);
    session_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_lookup),
        cmocka_unit_test(test_idle_and_absolute_expiry),
        cmocka_unit_test(test_restore_and_touch),
        cmocka_unit_test(test_delete_and_delete_key),
        cmocka_unit_test(test_full_table_drops_least_recently_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
