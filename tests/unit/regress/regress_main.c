/* regress_main.c — replays saved fuzz inputs as a unit test. Each fuzz target
 * (fuzz/fuzz_<name>.c) is compiled with this file into regress_<name>, which feeds
 * every file of fuzz/regress/<name>/ (REGRESS_DIR) to the target's own
 * LLVMFuzzerTestOneInput, in name order, under whatever sanitizers the build has.
 * A crash that fuzzing once found is kept there, so a fix that regresses fails the
 * suite (the target aborts on a broken invariant, ASan/UBSan on memory errors).
 * The folder must hold at least one input: an empty one would prove nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REGRESS_MAX_INPUT (1 << 20)

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir (names malloc'd), sorted; *n set. */
static char **list_inputs(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(names, *n, sizeof *names, by_name);
    return names;
}

static void test_replay_saved_inputs(void **state)
{
    (void)state;
    if (LLVMFuzzerInitialize) {
        int argc = 0;
        char **argv = NULL;
        LLVMFuzzerInitialize(&argc, &argv);
    }
    size_t n = 0;
    char **names = list_inputs(REGRESS_DIR, &n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        assert_int_equal(str_fmt(path, sizeof path, "%s/%s", REGRESS_DIR, names[i]), 0);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(read_file_all(path, &data, &len, REGRESS_MAX_INPUT), 0);
        /* the name first, so that a crash says which input it was */
        fprintf(stderr, "replaying %s (%zu bytes)\n", path, len);
        /* an exact-size copy, so ASan sees a read past the end as libFuzzer would */
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        if (len) memcpy(copy, data, len);
        assert_int_equal(LLVMFuzzerTestOneInput(copy, len), 0);
        free(copy);
        free(data);
        free(names[i]);
    }
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_saved_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
