/* test_sandbox.c — util/sandbox and the two helpers that use it (faxbot-render
 * through render_client.c, Ghostscript through rasterize.c) prove on a real child
 * that it sees no secret from the gateway's environment and no descriptor but its
 * own 0, 1 and 2, and that a deadline kills it. The parent's environment is filled
 * with an API key and provider secrets, and descriptors are left open without
 * FD_CLOEXEC, as a careless library in the gateway would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "document/document.h"
#include "util/sandbox.h"
#include "util/util.h"

static char g_dir[256];
static int g_leak_file = -1, g_leak_pipe[2] = { -1, -1 };

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/faxbot-sandbox-XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    setenv("API_KEY", "fbk_live_secret_key_123", 1);
    setenv("PHAXIO_API_SECRET", "phaxio-secret-456", 1);
    setenv("SINCH_API_SECRET", "sinch-secret-789", 1);
    setenv("FAXBOT_TEST_SECRET", "hunter2", 1);
    g_leak_file = open("/dev/null", O_RDONLY);          /* no O_CLOEXEC on purpose */
    if (g_leak_file < 0 || pipe(g_leak_pipe) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(g_leak_file);
    close(g_leak_pipe[0]);
    close(g_leak_pipe[1]);
    remove_tree(g_dir);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* What a child saw: its environment, then "FDS", then its open descriptors. */
static void assert_clean_child(const char *seen)
{
    assert_non_null(seen);
    assert_non_null(strstr(seen, "PATH="));
    assert_null(strstr(seen, "fbk_live_secret_key_123"));
    assert_null(strstr(seen, "phaxio-secret-456"));
    assert_null(strstr(seen, "sinch-secret-789"));
    assert_null(strstr(seen, "hunter2"));
    assert_null(strstr(seen, "API_KEY"));
    const char *fds = strstr(seen, "FDS\n");
    assert_non_null(fds);
    assert_string_equal(fds, "FDS\n0\n1\n2\n");
}

/* `exec >` moves stdout for good (no saved copy on fd 10), ls lists the shell's
 * descriptors from outside, and a script file's shell re-executes itself with -c
 * (dash keeps a script open on fd 10, close-on-exec), so only what the child
 * inherited shows up. */
#define REPORT_SCRIPT "exec /bin/sh -c 'exec > \"$0\"; env; echo FDS; ls -1 /proc/$$/fd' \"$OUT\""

static void test_child_sees_no_secret_and_no_descriptor(void **state)
{
    (void)state;
    char sh[256], out[512], script[1024];
    assert_int_equal(sandbox_resolve("sh", sh, sizeof sh), 0);
    assert_true(sh[0] == '/');
    snprintf(out, sizeof out, "%s/direct.txt", g_dir);
    snprintf(script, sizeof script, "OUT='%s'; %s", out, REPORT_SCRIPT);
    char *argv[] = { "sh", "-c", script, NULL };
    sandbox_spec spec = { .exe = sh, .argv = argv, .workdir = g_dir, .stdin_fd = -1, .stdout_fd = -1,
                          .stderr_fd = -1, .cpu_s = 10, .memory_bytes = 0, .fsize_bytes = 1 << 20 };
    sandbox_proc p;
    char err[256] = "";
    assert_int_equal(sandbox_start(&p, &spec, err, sizeof err), 0);
    assert_true(sandbox_wait(&p, mono_ms() + 10000));
    assert_true(sandbox_succeeded(&p));
    sandbox_close(&p);
    char *seen = slurp(out);
    assert_clean_child(seen);
    char home[300];
    snprintf(home, sizeof home, "HOME=%s\n", g_dir);
    assert_non_null(strstr(seen, home));
    free(seen);
}

/* The document renderer as render_client.c starts it: FAXBOT_RENDER points at a
 * script that reports instead of drawing (its 3rd argument is the output PDF). */
static void test_render_helper_is_sandboxed(void **state)
{
    (void)state;
    char helper[512], in[512], outpdf[512];
    snprintf(helper, sizeof helper, "%s/fake-render", g_dir);
    snprintf(in, sizeof in, "%s/in.txt", g_dir);
    snprintf(outpdf, sizeof outpdf, "%s/out.pdf", g_dir);
    FILE *f = fopen(helper, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\nOUT=\"$3\"; %s\n", REPORT_SCRIPT);
    fclose(f);
    chmod(helper, 0700);
    f = fopen(in, "w");
    fputs("hello\n", f);
    fclose(f);
    char *old = getenv("FAXBOT_RENDER") ? strdup(getenv("FAXBOT_RENDER")) : NULL;
    setenv("FAXBOT_RENDER", helper, 1);
    char err[512] = "";
    int rc = doc_text_to_pdf(in, outpdf, PAPER_LETTER, NULL, err, sizeof err);
    if (old) { setenv("FAXBOT_RENDER", old, 1); free(old); } else unsetenv("FAXBOT_RENDER");
    assert_int_equal(rc, 0);
    char *seen = slurp(outpdf);
    assert_clean_child(seen);
    free(seen);
}

/* Ghostscript as rasterize.c starts it: gs_path points at a script that reports. */
static void test_ghostscript_is_sandboxed(void **state)
{
    (void)state;
    char fake_gs[512], report[512], pdf[512];
    snprintf(fake_gs, sizeof fake_gs, "%s/fake-gs", g_dir);
    snprintf(report, sizeof report, "%s/gs-report.txt", g_dir);
    snprintf(pdf, sizeof pdf, "%s/in.pdf", g_dir);
    FILE *f = fopen(fake_gs, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\nOUT='%s'; %s\nexit 1\n", report, REPORT_SCRIPT);
    fclose(f);
    chmod(fake_gs, 0700);
    f = fopen(pdf, "w");
    fputs("%PDF-1.4\n%%EOF\n", f);
    fclose(f);
    convert_limits lim = {.gs_path = fake_gs, .timeout_s = 20, .cpu_s = 20, .memory_mb = 512, .max_pages = 10,
                          .parallel = 1, .tmp_dir = g_dir};
    int pages = 0;
    char err[512] = "";
    assert_int_not_equal(doc_pdf_page_count(pdf, &lim, &pages, err, sizeof err), 0);
    char *seen = slurp(report);
    assert_clean_child(seen);
    free(seen);
}

static void test_deadline_kills_the_child(void **state)
{
    (void)state;
    char sh[256];
    assert_int_equal(sandbox_resolve("sh", sh, sizeof sh), 0);
    char *argv[] = { "sh", "-c", "sleep 30", NULL };
    sandbox_spec spec = { .exe = sh, .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
    sandbox_proc p;
    char err[256];
    assert_int_equal(sandbox_start(&p, &spec, err, sizeof err), 0);
    int64_t t0 = mono_ms();
    assert_false(sandbox_wait(&p, t0 + 200));
    assert_true(mono_ms() - t0 < 5000);
    assert_true(p.finished);
    assert_false(sandbox_succeeded(&p));
    sandbox_close(&p);
}

static void test_relative_or_missing_program_refused(void **state)
{
    (void)state;
    char out[256], err[256] = "";
    assert_int_equal(sandbox_resolve("no-such-program-faxbot", out, sizeof out), -1);
    char *argv[] = { "sh", NULL };
    sandbox_spec spec = { .exe = "sh", .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
    sandbox_proc p;
    assert_int_equal(sandbox_start(&p, &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "absolute"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_sees_no_secret_and_no_descriptor),
        cmocka_unit_test(test_render_helper_is_sandboxed),
        cmocka_unit_test(test_ghostscript_is_sandboxed),
        cmocka_unit_test(test_deadline_kills_the_child),
        cmocka_unit_test(test_relative_or_missing_program_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
