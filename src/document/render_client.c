/* render_client.c — doc_text_to_pdf and doc_image_to_pdf: the drawing runs in the
 * faxbot-render helper, a separate program, so that decoding untrusted PNG, JPEG,
 * TIFF and text never happens inside the server (a bug in a decoder stays in a
 * short-lived process with CPU, memory, file-size and time limits), and the server
 * does not carry Pango, Cairo and the image libraries in memory.
 *
 * The limits are the conversion's (convert_limits: wall clock, CPU, memory, and the
 * page limit the helper enforces while it draws, so a text or TIFF bomb stops at
 * CONVERT_MAX_PAGES instead of being laid out in full).
 * The helper is found at $FAXBOT_RENDER, else beside the running executable, else
 * on PATH, and runs in util/sandbox: a minimal environment (no API key or provider
 * secret), no inherited descriptor, async-signal-safe calls only after fork. It
 * prints one line of error on failure; that line becomes the message. */
#include "document/document.h"
#include "util/sandbox.h"
#include "config/settings.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* defaults when the caller gives no limits (convert_limits fields <= 0) */
#define RENDER_TIMEOUT_S 120
#define RENDER_CPU_S 120
#define RENDER_MEMORY_MB 1024
#define RENDER_MAX_PAGES 200
#define RENDER_FSIZE_MB 512

typedef struct render_limits { int timeout_s, cpu_s, memory_mb, max_pages; } render_limits;

static render_limits limits_of(const convert_limits *lim)
{
    render_limits l = {RENDER_TIMEOUT_S, RENDER_CPU_S, RENDER_MEMORY_MB, RENDER_MAX_PAGES};
    if (lim && lim->timeout_s > 0) l.timeout_s = lim->timeout_s;
    if (lim && lim->cpu_s > 0) l.cpu_s = lim->cpu_s;
    if (lim && lim->memory_mb > 0) l.memory_mb = lim->memory_mb;
    if (lim && lim->max_pages > 0) l.max_pages = lim->max_pages;
    return l;
}

/* AddressSanitizer and ThreadSanitizer reserve terabytes of address space for their
 * shadow memory, so a sanitizer build of the helper cannot run under an
 * address-space limit. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RENDER_LIMIT_AS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RENDER_LIMIT_AS 0
#endif
#endif
#ifndef RENDER_LIMIT_AS
#define RENDER_LIMIT_AS 1
#endif

/* The helper's absolute path: $FAXBOT_RENDER, else beside the running executable,
 * else on PATH. */
static int find_helper(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = setting_raw("FAXBOT_RENDER");
    char self[PATH_MAX], beside[PATH_MAX];
    const char *name = "faxbot-render";
    if (env && *env) {
        name = env;
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        char *slash = n > 0 ? (self[n] = 0, strrchr(self, '/')) : NULL;
        if (slash) {
            *slash = 0;
            if (str_fmt(beside, sizeof beside, "%s/faxbot-render", self) == 0 && access(beside, X_OK) == 0)
                name = beside;
        }
    }
    if (sandbox_resolve(name, out, outlen) == 0) return 0;
    str_fmt(err, errlen, "the document renderer %s could not be started: not found", name);
    return -1;
}

/* The helper runs in its scratch directory, so relative paths are made absolute. */
static int absolute(const char *path, char *out, size_t outlen)
{
    if (path[0] == '/') return str_copy(out, outlen, path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    return str_fmt(out, outlen, "%s/%s", cwd, path);
}

/* Runs the helper with argv in the sandbox, a fresh scratch directory beside the
 * output as its home; 0 on success, else -1 with its complaint in err. */
static int run_helper(const char *exe, char *const argv[], const char *out_pdf, const render_limits *rl, char *err,
                      size_t errlen)
{
    char scratch[PATH_MAX];
    const char *slash = strrchr(out_pdf, '/');
    int dlen = slash ? (int)(slash - out_pdf) : 1;
    if (str_fmt(scratch, sizeof scratch, "%.*s/render-XXXXXX", dlen, slash ? out_pdf : ".") != 0 ||
        !mkdtemp(scratch)) {
        str_fmt(err, errlen, "cannot start the document renderer: no scratch directory: %s", strerror(errno));
        return -1;
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC)) {
        str_fmt(err, errlen, "cannot start the document renderer: %s", strerror(errno));
        remove_tree(scratch);
        return -1;
    }
    sandbox_spec spec = {
        .exe = exe, .argv = argv, .workdir = scratch, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = pipefd[1],
        .cpu_s = rl->cpu_s, .memory_bytes = RENDER_LIMIT_AS ? (size_t)rl->memory_mb << 20 : 0,
        .fsize_bytes = (size_t)RENDER_FSIZE_MB << 20,
    };
    sandbox_proc proc;
    int rc = sandbox_start(&proc, &spec, err, errlen);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        remove_tree(scratch);
        return -1;
    }
    char msg[512];
    size_t got = 0;
    int64_t deadline = mono_ms() + (int64_t)rl->timeout_s * 1000;
    for (;;) {                          /* read its complaint until EOF or the deadline */
        int64_t left = deadline - mono_ms();
        if (left <= 0) break;
        struct pollfd p = {pipefd[0], POLLIN, 0};
        int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[256];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0) break;              /* EOF: the helper is done */
        for (ssize_t i = 0; i < n && got + 1 < sizeof msg; i++) msg[got++] = buf[i];
    }
    close(pipefd[0]);
    bool ended = sandbox_wait(&proc, deadline);
    sandbox_close(&proc);
    remove_tree(scratch);
    msg[got] = 0;
    char *nl = strchr(msg, '\n');
    if (nl) *nl = 0;
    if (!ended) { str_fmt(err, errlen, "rendering the document timed out after %d s", rl->timeout_s); return -1; }
    if (sandbox_succeeded(&proc)) return 0;
    int status = proc.status;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
        str_fmt(err, errlen, "rendering the document used more than %d s of CPU time; the document is too large "
                "or too complex", rl->cpu_s);
        return -1;
    }
    if (WIFSIGNALED(status))
        str_fmt(err, errlen, "the document renderer stopped on signal %d%s%s (the document is probably hostile or too large)",
                WTERMSIG(status), msg[0] ? ": " : "", msg);
    else
        str_fmt(err, errlen, "%s", msg[0] ? msg : "the document renderer failed");
    return -1;
}

static const char *paper_name(paper_size p) { return p == PAPER_A4 ? "a4" : "letter"; }

/* faxbot-render <mode> [<image type>] <in> <out> <paper> <max pages>, with absolute
 * paths, under the conversion's limits. */
static int render(const char *mode, const char *image_type, const char *in_path, const char *out_pdf, paper_size paper,
                  const convert_limits *lim, char *err, size_t errlen)
{
    char helper[PATH_MAX], in_abs[PATH_MAX], out_abs[PATH_MAX], pages[16];
    if (find_helper(helper, sizeof helper, err, errlen)) return -1;
    if (absolute(in_path, in_abs, sizeof in_abs) || absolute(out_pdf, out_abs, sizeof out_abs)) {
        str_fmt(err, errlen, "the document path is too long");
        return -1;
    }
    render_limits rl = limits_of(lim);
    str_fmt(pages, sizeof pages, "%d", rl.max_pages);
    char *argv[8] = {helper, (char *)mode};
    int n = 2;
    if (image_type) argv[n++] = (char *)image_type;
    argv[n++] = in_abs;
    argv[n++] = out_abs;
    argv[n++] = (char *)paper_name(paper);
    argv[n++] = pages;
    argv[n] = NULL;
    return run_helper(helper, argv, out_abs, &rl, err, errlen);
}

int doc_text_to_pdf(const char *in_path, const char *out_pdf, paper_size paper, const convert_limits *lim,
                    char *err, size_t errlen)
{
    return render("text", NULL, in_path, out_pdf, paper, lim, err, errlen);
}

int doc_image_to_pdf(const char *in_path, doc_type type, const char *out_pdf, paper_size paper,
                     const convert_limits *lim, char *err, size_t errlen)
{
    if (type != DOC_PNG && type != DOC_JPEG && type != DOC_TIFF) {
        str_fmt(err, errlen, "only PNG, JPEG and TIFF images can be turned into a PDF");
        return -1;
    }
    return render("image", doc_type_name(type), in_path, out_pdf, paper, lim, err, errlen);
}
