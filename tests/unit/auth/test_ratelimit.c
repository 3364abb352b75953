/* test_ratelimit.c — fixed one-minute windows per (key, label), Retry-After
 * values, thread safety, and that a flood of distinct keys is pruned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/ratelimit.h"

size_t ratelimit_size(ratelimit *rl);   /* built with -DRATELIMIT_TESTING */

#define MINUTE 60000LL
/* Some minute boundary in 2026. */
#define T0 (29500000LL * MINUTE)

static void test_window_limit_and_reset(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new();
    assert_non_null(rl);
    for (int i = 0; i < 3; i++) assert_int_equal(ratelimit_hit(rl, "k1", "/fax", 3, T0 + 1000 * i), 0);
    /* 4th request 10 s into the minute: 50 s left. */
    assert_int_equal(ratelimit_hit(rl, "k1", "/fax", 3, T0 + 10000), 50);
    /* Rejections do not extend anything; 59.5 s in: 1 s left (rounded up). */
    assert_int_equal(ratelimit_hit(rl, "k1", "/fax", 3, T0 + 59500), 1);
    /* 0.2 s into the minute: 59.8 s left → 60. */
    ratelimit *rl2 = ratelimit_new();
    assert_int_equal(ratelimit_hit(rl2, "k", "/fax", 1, T0 + 200), 0);
    assert_int_equal(ratelimit_hit(rl2, "k", "/fax", 1, T0 + 200), 60);
    assert_int_equal(ratelimit_hit(rl2, "k", "/fax", 1, T0 + 59999), 1);
    ratelimit_free(rl2);
    /* Next minute: allowed again, fresh count. */
    for (int i = 0; i < 3; i++) assert_int_equal(ratelimit_hit(rl, "k1", "/fax", 3, T0 + MINUTE + i), 0);
    assert_true(ratelimit_hit(rl, "k1", "/fax", 3, T0 + MINUTE + 5) > 0);
    ratelimit_free(rl);
}

static void test_keys_and_labels_are_separate(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new();
    assert_int_equal(ratelimit_hit(rl, "k1", "/fax", 1, T0), 0);
    assert_true(ratelimit_hit(rl, "k1", "/fax", 1, T0) > 0);
    assert_int_equal(ratelimit_hit(rl, "k1", "/fax/{id}", 1, T0), 0);
    assert_int_equal(ratelimit_hit(rl, "k2", "/fax", 1, T0), 0);
    /* "a"+"b/c" must not collide with "ab"+"/c". */
    assert_int_equal(ratelimit_hit(rl, "a", "b/c", 1, T0), 0);
    assert_int_equal(ratelimit_hit(rl, "ab", "/c", 1, T0), 0);
    /* Long keys work too (heap path). */
    char longkey[600];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    assert_int_equal(ratelimit_hit(rl, longkey, "/fax", 1, T0), 0);
    assert_true(ratelimit_hit(rl, longkey, "/fax", 1, T0) > 0);
    ratelimit_free(rl);
}

static void test_zero_limit_allows(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new();
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ratelimit_hit(rl, "k", "/fax", 0, T0), 0);
        assert_int_equal(ratelimit_hit(rl, "k", "/fax", -5, T0), 0);
    }
    assert_int_equal(ratelimit_hit(NULL, "k", "/fax", 1, T0), 0);
    ratelimit_free(rl);
}

static void test_flood_is_pruned(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new();
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "flood-%d", i);
        assert_int_equal(ratelimit_hit(rl, key, "/fax", 10, T0 + 5000), 0);
    }
    assert_int_equal(ratelimit_size(rl), 100000);
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "second-%d", i);
        assert_int_equal(ratelimit_hit(rl, key, "/fax", 10, T0 + MINUTE + 5000), 0);
    }
    /* The first minute's entries are gone: only the second minute's remain. */
    assert_int_equal(ratelimit_size(rl), 100000);
    /* A few hits in a third minute prune (nearly) everything. */
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "third-%d", i);
        ratelimit_hit(rl, key, "/fax", 10, T0 + 2 * MINUTE);
    }
    assert_true(ratelimit_size(rl) < 100000);
    ratelimit_free(rl);
}

typedef struct {
    ratelimit *rl;
    int allowed;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 5000; i++)
        if (ratelimit_hit(a->rl, "shared", "/fax", 1000, T0 + 1000) == 0) a->allowed++;
    return NULL;
}

static void test_threads_share_one_count(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new();
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].rl = rl;
        args[i].allowed = 0;
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
    }
    assert_int_equal(total, 1000);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_limit_and_reset),
        cmocka_unit_test(test_keys_and_labels_are_separate),
        cmocka_unit_test(test_zero_limit_allows),
        cmocka_unit_test(test_flood_is_pruned),
        cmocka_unit_test(test_threads_share_one_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
