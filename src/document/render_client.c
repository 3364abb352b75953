/* render_client.c — doc_text_to_pdf and doc_image_to_pdf: the drawing runs in the
 * faxbot-render helper, a separate program, so that decoding untrusted PNG, JPEG,
 * TIFF and text never happens inside the server (a bug in a decoder stays in a
 * short-lived process with CPU, memory, file-size and time limits), and the server
 * does not carry Pango, Cairo and the image libraries in memory.
 *
 * The helper is found at $FAXBOT_RENDER, else beside the running executable, else
 * on PATH. It prints one line of error on failure; that line becomes the message. */
#include "document/document.h"
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

#define RENDER_TIMEOUT_S 120
#define RENDER_CPU_S 120
#define RENDER_MEMORY_MB 1024
#define RENDER_FSIZE_MB 512

/* AddressSanitizer reserves terabytes of address space for its shadow memory, so a
 * sanitizer build of the helper cannot run under an address-space limit. */
#if defined(__SANITIZE_ADDRESS__)
#define RENDER_LIMIT_AS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RENDER_LIMIT_AS 0
#endif
#endif
#ifndef RENDER_LIMIT_AS
#define RENDER_LIMIT_AS 1
#endif

static int find_helper(char *out, size_t outlen)
{
    const char *env = setting_raw("FAXBOT_RENDER");
    if (env) return str_copy(out, outlen, env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            if (str_fmt(out, outlen, "%s/faxbot-render", self) == 0 && access(out, X_OK) == 0) return 0;
        }
    }
    return str_copy(out, outlen, "faxbot-render");     /* execvp looks it up on PATH */
}

static void limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    setrlimit(res, &rl);
}

/* Runs the helper with argv; 0 on success, else -1 with its complaint in err. */
static int run_helper(char *const argv[], char *err, size_t errlen)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC)) { str_fmt(err, errlen, "cannot start the document renderer: %s", strerror(errno)); return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        str_fmt(err, errlen, "cannot start the document renderer: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); }
        dup2(pipefd[1], 2);
        limit(RLIMIT_CPU, RENDER_CPU_S);
        if (RENDER_LIMIT_AS) limit(RLIMIT_AS, (rlim_t)RENDER_MEMORY_MB << 20);
        limit(RLIMIT_FSIZE, (rlim_t)RENDER_FSIZE_MB << 20);
        limit(RLIMIT_CORE, 0);
        execvp(argv[0], argv);
        dprintf(2, "the document renderer %s could not be started: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    char msg[512];
    size_t got = 0;
    int64_t deadline = mono_ms() + RENDER_TIMEOUT_S * 1000;
    bool timed_out = false;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) { timed_out = true; break; }
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
    if (timed_out) kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    msg[got] = 0;
    char *nl = strchr(msg, '\n');
    if (nl) *nl = 0;
    if (timed_out) { str_fmt(err, errlen, "rendering the document timed out after %d s", RENDER_TIMEOUT_S); return -1; }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status))
        str_fmt(err, errlen, "the document renderer stopped on signal %d%s%s (the document is probably hostile or too large)",
                WTERMSIG(status), msg[0] ? ": " : "", msg);
    else
        str_fmt(err, errlen, "%s", msg[0] ? msg : "the document renderer failed");
    return -1;
}

static const char *paper_name(paper_size p) { return p == PAPER_A4 ? "a4" : "letter"; }

int doc_text_to_pdf(const char *in_path, const char *out_pdf, paper_size paper, char *err, size_t errlen)
{
    char helper[PATH_MAX];
    if (find_helper(helper, sizeof helper)) { str_fmt(err, errlen, "the renderer path is too long"); return -1; }
    char *argv[] = {helper, "text", (char *)in_path, (char *)out_pdf, (char *)paper_name(paper), NULL};
    return run_helper(argv, err, errlen);
}

int doc_image_to_pdf(const char *in_path, doc_type type, const char *out_pdf, paper_size paper,
                     char *err, size_t errlen)
{
    if (type != DOC_PNG && type != DOC_JPEG && type != DOC_TIFF) {
        str_fmt(err, errlen, "only PNG, JPEG and TIFF images can be turned into a PDF");
        return -1;
    }
    char helper[PATH_MAX];
    if (find_helper(helper, sizeof helper)) { str_fmt(err, errlen, "the renderer path is too long"); return -1; }
    char *argv[] = {helper, "image", (char *)doc_type_name(type), (char *)in_path, (char *)out_pdf,
                    (char *)paper_name(paper), NULL};
    return run_helper(argv, err, errlen);
}
