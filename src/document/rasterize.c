/* rasterize.c — PDF → TIFF class F with Ghostscript, run as a sandboxed subprocess
 * so a hostile PDF never touches our address space.
 *
 * Each Ghostscript run goes through util/sandbox (no shell, program resolved by the
 * parent, its own process group, RLIMIT_CPU/AS/FSIZE/CORE, a minimal environment, no
 * inherited descriptors) with a fresh private scratch directory (mkdtemp under
 * lim->tmp_dir) as cwd, HOME and TMPDIR, stdin from /dev/null, stderr into a file in
 * the scratch directory (so an error can quote Ghostscript's complaint) and stdout
 * into a file or, when rendering, a pipe to us. The parent waits (pidfd + poll)
 * against a wall-clock deadline and SIGKILLs the whole process group when it passes.
 *
 * The PDF is opened with `-c "(path) (r) file runpdfbegin ..."` rather than as a
 * plain input file: that forces the PDF interpreter, so a PostScript program
 * disguised as a PDF is never executed as PostScript. Our own small driver (works
 * with gs 10's C interpreter under -dSAFER when the file is allowed with
 * --permit-file-read) prints the page count behind a per-run random marker (to
 * stderr, -sstdout=%stderr), renders nothing when the count is over max_pages, and
 * otherwise draws every k-th page: with k processes, process i draws pages i+1,
 * i+1+k, ... So there is no separate page-count run, no process needs the count
 * before it starts, and all of them get the same share of the work.
 *
 * Ghostscript renders to raw bitmaps (pbmraw) on its stdout; we read the pipes,
 * code each row as Modified Huffman ourselves (doc_mh_encode_row, much faster than
 * the libtiff coder inside Ghostscript's tiffg3 device) and write the pages in
 * document order straight into the final TIFF (doc_fax_writer: temp file, one
 * fsync, rename). Rows are cut or padded to 1728 px exactly as the tiffg3 device
 * does, so the pixels are those of `gs -sDEVICE=tiffg3`. A PDF that renders fewer
 * pages than it claims is an error: a fax with missing pages must not go out
 * silently. Whether a document gets one process or lim->parallel is decided by a
 * cheap look at the file (page objects counted in the bytes, else its size), so
 * one-page faxes do not pay for several Ghostscript starts.
 *
 * Pages that draw only in part are not successes: Ghostscript runs with
 * -dPDFSTOPONERROR, so a content error inside a page (a circular form, a broken
 * operator stream) ends the run, and a refused external stream ("Failed to open
 * file", as -dSAFER must refuse it) is found in its stderr. Either fails the
 * conversion, or with lim->page_errors_warn the document is drawn again leniently
 * and the caller gets a warning. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "document/doc_internal.h"
#include "util/sandbox.h"
#include "config/settings.h"
#include "util/util.h"

#define MAX_GS_ARGS 32
#define MAX_PARALLEL 16
#define GS_FSIZE_LIMIT ((size_t)512 * 1024 * 1024)
#define COMPLAINT_MAX 200
#define MARKER_MAX 48
/* fewer (estimated) pages than this render in one process: a second Ghostscript
 * start costs more CPU than it saves */
#define PARALLEL_MIN_PAGES 4
/* when no page objects can be seen (compressed object streams), files at least
 * this big are split */
#define PARALLEL_MIN_BYTES ((int64_t)128 * 1024)
#define ESTIMATE_SCAN_MAX ((int64_t)16 * 1024 * 1024)
/* the bitmaps Ghostscript may send: letter is 1734 px wide, A4 1686 (gs's fax
 * devices accept 1680..1736 as 1728) */
#define PBM_MIN_WIDTH 1600
#define PBM_MAX_WIDTH 1800
#define PBM_MAX_ROW_BYTES ((PBM_MAX_WIDTH + 7) / 8)
#define PBM_MIN_HEIGHT 256
#define PBM_MAX_HEIGHT 4000
/* pages read ahead of the one the TIFF needs next, per process (reading stops at
 * QUEUE_MAX_PAGES; one read may still finish a few short pages, hence the room) */
#define QUEUE_MAX_PAGES 32
#define QUEUE_CAP (QUEUE_MAX_PAGES + 8)
#define QUEUE_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define READ_CHUNK (256 * 1024)
#define PIPE_SIZE (1024 * 1024)
/* after a wake-up that brought less than this, wait PAUSE_NS for more */
#define SMALL_READ (64 * 1024)
#define PAUSE_NS (500 * 1000)

/* ---- limits with defaults ---- */

static convert_limits effective_limits(const convert_limits *lim)
{
    convert_limits l = { "gs", 120, 120, 1024, 200, 1, NULL, false, NULL, 0 };
    if (lim) {
        l.page_errors_warn = lim->page_errors_warn;
        l.warning = lim->warning;
        l.warning_len = lim->warning_len;
        if (lim->gs_path && lim->gs_path[0]) l.gs_path = lim->gs_path;
        if (lim->timeout_s > 0) l.timeout_s = lim->timeout_s;
        if (lim->cpu_s > 0) l.cpu_s = lim->cpu_s;
        if (lim->memory_mb > 0) l.memory_mb = lim->memory_mb;
        if (lim->max_pages > 0) l.max_pages = lim->max_pages;
        if (lim->parallel > 0) l.parallel = lim->parallel;
        l.tmp_dir = lim->tmp_dir;
    }
    if (!l.tmp_dir || !l.tmp_dir[0]) {
        const char *t = settings_os_env("TMPDIR");
        l.tmp_dir = t && t[0] ? t : "/tmp";
    }
    if (l.parallel > MAX_PARALLEL) l.parallel = MAX_PARALLEL;
    return l;
}

/* ---- argument vectors ---- */

typedef struct gs_args {
    char *argv[MAX_GS_ARGS + 1];
    int argc;
    char store[3 * PATH_MAX + 2048];
    size_t used;
} gs_args;

__attribute__((format(printf, 2, 3)))
static int args_add(gs_args *a, const char *fmt, ...)
{
    if (a->argc >= MAX_GS_ARGS) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->store + a->used, sizeof a->store - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof a->store - a->used) return -1;
    a->argv[a->argc++] = a->store + a->used;
    a->argv[a->argc] = NULL;
    a->used += (size_t)n + 1;
    return 0;
}

/* A path as the body of a PostScript string: ( ) and \ escaped, controls octal. */
static int ps_string_body(const char *path, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        char tmp[5];
        size_t n;
        if (*p == '(' || *p == ')' || *p == '\\') { tmp[0] = '\\'; tmp[1] = (char)*p; n = 2; }
        else if (*p < 0x20 || *p == 0x7F) { snprintf(tmp, sizeof tmp, "\\%03o", *p); n = 4; }
        else { tmp[0] = (char)*p; n = 1; }
        if (o + n >= outlen) return -1;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* ---- finding the program ---- */

static int resolve_program(const char *name, char *out, size_t outlen, char *err, size_t errlen)
{
    if (sandbox_resolve(name, out, outlen) == 0) return 0;
    if (strchr(name, '/')) str_fmt(err, errlen, "Ghostscript was not found at %s", name);
    else str_fmt(err, errlen, "Ghostscript (%s) was not found in PATH; install the ghostscript package", name);
    return -1;
}

/* ---- one sandboxed run ---- */

typedef struct gs_run {
    char scratch[PATH_MAX];
    sandbox_proc proc;
    int out_fd;                 /* read end of the stdout pipe, or -1 */
    bool timed_out, cancelled;
} gs_run;

static void run_init(gs_run *r)
{
    memset(r, 0, sizeof *r);
    r->proc.pid = -1;
    r->proc.pidfd = -1;
    r->out_fd = -1;
}

static int make_scratch(gs_run *r, const char *tmp_dir, char *err, size_t errlen)
{
    if (str_fmt(r->scratch, sizeof r->scratch, "%s/gs-XXXXXX", tmp_dir) != 0 || !mkdtemp(r->scratch)) {
        str_fmt(err, errlen, "cannot create a scratch directory in %s: %s", tmp_dir, strerror(errno));
        r->scratch[0] = '\0';
        return -1;
    }
    return 0;
}

/* Ghostscript in the sandbox, its scratch directory as cwd/HOME/TMPDIR, stderr
 * into a file there. With want_pipe, its stdout is a pipe whose read end
 * (non-blocking) lands in r->out_fd; else a file in the scratch directory. */
static int run_start(gs_run *r, const char *exe, gs_args *args, const convert_limits *lim, bool want_pipe,
                     char *err, size_t errlen)
{
    char path_out[PATH_MAX], path_err[PATH_MAX];
    str_fmt(path_out, sizeof path_out, "%s/stdout.txt", r->scratch);
    str_fmt(path_err, sizeof path_err, "%s/stderr.txt", r->scratch);

    int pipe_fds[2] = { -1, -1 };
    int fd_out = -1;
    if (want_pipe) {
        if (pipe2(pipe_fds, O_CLOEXEC) == 0) {
            fd_out = pipe_fds[1];
            fcntl(pipe_fds[0], F_SETPIPE_SZ, PIPE_SIZE);     /* a whole page at once, if allowed */
        }
    } else {
        fd_out = open(path_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    int fd_err = open(path_err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_out < 0 || fd_err < 0) {
        str_fmt(err, errlen, "cannot prepare the Ghostscript sandbox: %s", strerror(errno));
        if (fd_out >= 0) close(fd_out);
        if (fd_err >= 0) close(fd_err);
        if (pipe_fds[0] >= 0) close(pipe_fds[0]);
        return -1;
    }
    sandbox_spec spec = {
        .exe = exe, .argv = args->argv, .workdir = r->scratch,
        .stdin_fd = -1, .stdout_fd = fd_out, .stderr_fd = fd_err,
        .cpu_s = lim->cpu_s, .memory_bytes = (size_t)lim->memory_mb * 1024 * 1024, .fsize_bytes = GS_FSIZE_LIMIT,
    };
    int rc = sandbox_start(&r->proc, &spec, err, errlen);
    close(fd_out);
    close(fd_err);
    if (rc != 0) {
        if (pipe_fds[0] >= 0) close(pipe_fds[0]);
        return -1;
    }
    if (pipe_fds[0] >= 0) {
        fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
        r->out_fd = pipe_fds[0];
    }
    return 0;
}

static void run_cleanup(gs_run *r)
{
    if (r->proc.started && !r->proc.finished) r->cancelled = true;
    sandbox_close(&r->proc);
    if (r->out_fd >= 0) close(r->out_fd);
    r->out_fd = -1;
    if (r->scratch[0]) remove_tree(r->scratch);
    r->scratch[0] = '\0';
}

static bool run_ok(const gs_run *r)
{
    return !r->timed_out && sandbox_succeeded(&r->proc);
}

static bool run_going(const gs_run *r) { return r->proc.started && !r->proc.finished; }

/* Stops every run still going: as timed out, or as cancelled (a sibling failed). */
static void runs_stop(gs_run *const *runs, int n, bool timed_out)
{
    for (int i = 0; i < n; i++) {
        if (!run_going(runs[i])) continue;
        if (timed_out) runs[i]->timed_out = true; else runs[i]->cancelled = true;
        sandbox_kill(&runs[i]->proc);
    }
}

/* ms until the deadline (0 when passed); capped at 10 ms when some run has no pidfd
 * to wake us, so it is still reaped promptly. */
static int poll_timeout(gs_run *const *runs, int n, int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    if (left < 0) left = 0;
    for (int i = 0; i < n; i++)
        if (run_going(runs[i]) && runs[i]->proc.pidfd < 0 && left > 10) left = 10;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits for runs that only write files, until the deadline; a failed run cancels
 * the rest. */
static void runs_wait(gs_run *const *runs, int n, int timeout_s)
{
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        bool pending = false, failed = false;
        struct pollfd pfds[MAX_PARALLEL];
        int npfd = 0;
        for (int i = 0; i < n; i++) {
            sandbox_reap(&runs[i]->proc);
            if (runs[i]->proc.finished) {
                if (!runs[i]->cancelled && !run_ok(runs[i])) failed = true;
                continue;
            }
            pending = true;
            if (runs[i]->proc.pidfd >= 0 && npfd < MAX_PARALLEL)
                pfds[npfd++] = (struct pollfd){ .fd = runs[i]->proc.pidfd, .events = POLLIN };
        }
        if (!pending) return;
        if (failed) { runs_stop(runs, n, false); return; }
        if (mono_ms() >= deadline) { runs_stop(runs, n, true); return; }
        poll(pfds, (nfds_t)npfd, poll_timeout(runs, n, deadline));
    }
}

/* ---- reading what Ghostscript said ---- */

static size_t read_head(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { buf[0] = '\0'; return 0; }
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return got;
}

/* Copies the first line of text that contains must_contain (any line when NULL)
 * and does not start with `skip` (trimmed of blanks and the "****" Ghostscript
 * puts before its PDF errors) into out. */
static bool first_line(const char *text, const char *must_contain, const char *skip, char *out, size_t outlen)
{
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '*' || *s == '\r')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        bool skipped = skip && (size_t)(e - s) >= strlen(skip) && !memcmp(s, skip, strlen(skip));
        if (e > s && !skipped &&
            (!must_contain || memmem(s, (size_t)(e - s), must_contain, strlen(must_contain)))) {
            size_t n = (size_t)(e - s);
            if (n >= outlen) n = outlen - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            for (char *c = out; *c; c++) if ((unsigned char)*c < 0x20) *c = ' ';
            return true;
        }
        if (!end) break;
        p = end + 1;
    }
    return false;
}

/* Ghostscript's first complaint: stderr first (our marker lines aside), else an
 * "Error" line on stdout. */
static void run_complaint(const gs_run *r, char *out, size_t outlen)
{
    char path[PATH_MAX + 32], text[4096];
    out[0] = '\0';
    if (!r->scratch[0]) return;
    str_fmt(path, sizeof path, "%s/stderr.txt", r->scratch);
    read_head(path, text, sizeof text);
    if (first_line(text, NULL, "FAXBOT-", out, outlen)) return;
    str_fmt(path, sizeof path, "%s/stdout.txt", r->scratch);
    read_head(path, text, sizeof text);
    first_line(text, "Error", NULL, out, outlen);
}

/* 0 if the run exited 0; else -1 with a message a user can act on. */
static int run_outcome(const gs_run *r, const convert_limits *lim, char *err, size_t errlen)
{
    char complaint[COMPLAINT_MAX];
    if (r->timed_out) {
        str_fmt(err, errlen, "conversion timed out after %d s", lim->timeout_s);
        return -1;
    }
    if (r->proc.lost) {
        str_fmt(err, errlen, "lost track of the Ghostscript process");
        return -1;
    }
    int st = r->proc.status;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    run_complaint(r, complaint, sizeof complaint);
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == 127 || code == 126)
            str_fmt(err, errlen, "could not start Ghostscript (%s)%s%s", lim->gs_path,
                    complaint[0] ? ": " : "", complaint);
        else if (complaint[0])
            str_fmt(err, errlen, "Ghostscript could not read the PDF: %s", complaint);
        else
            str_fmt(err, errlen, "Ghostscript could not read the PDF (exit code %d)", code);
        return -1;
    }
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    if (sig == SIGXCPU || sig == SIGKILL)
        str_fmt(err, errlen, "conversion used more than %d s of CPU time; the PDF is too complex", lim->cpu_s);
    else if (sig == SIGXFSZ)
        str_fmt(err, errlen, "the rendered fax image grew too large");
    else
        str_fmt(err, errlen, "Ghostscript crashed (signal %d) on this PDF; it may be malformed or need "
                "more than %d MB of memory", sig, lim->memory_mb);
    return -1;
}

/* ---- the driver: count, check, draw every k-th page ---- */

/* "FAXBOT-<16 random hex>": what the driver prints before the page count. A PDF
 * cannot guess it, so text it makes Ghostscript print is never taken for it.
 * (getrandom, not random_bytes: OpenSSL's first-use setup costs over a millisecond
 * and this is no key.) */
static void new_marker(char out[MARKER_MAX])
{
    unsigned char raw[8] = { 0 };
    char hex[17];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        uint64_t t = (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 32);
        memcpy(raw, &t, sizeof raw);
    }
    hex_encode(raw, sizeof raw, hex);
    str_fmt(out, MARKER_MAX, "FAXBOT-%s", hex);
}

/* The PostScript run by -c. A portfolio (PDF collection) is refused: its pages are
 * in attached files, not in the document. With render, pages first, first+step, ...
 * are drawn unless the count is over max_pages. */
static int driver_script(const char *ps_path, const char *marker, bool render, int max_pages, int first, int step,
                         gs_args *a)
{
    if (!render)
        return args_add(a, "(%s) (r) file runpdfbegin "
                        "/PDFInfo where { /PDFInfo get dup type /dicttype eq { /Collection known } { pop false } ifelse } "
                        "{ false } ifelse { (%s-PORTFOLIO) = flush quit } if "
                        "pdfpagecount (%s: ) print = flush runpdfend",
                        ps_path, marker, marker);
    return args_add(a, "(%s) (r) file runpdfbegin "
                    "/PDFInfo where { /PDFInfo get dup type /dicttype eq { /Collection known } { pop false } ifelse } "
                    "{ false } ifelse { (%s-PORTFOLIO) = flush quit } if "
                    "pdfpagecount dup (%s: ) print = flush "
                    "dup %d le { %d %d 3 -1 roll { pdfgetpage dup null ne { pdfshowpage } { pop } ifelse } for } "
                    "{ pop } ifelse runpdfend",
                    ps_path, marker, marker, max_pages, first, step);
}

/* What the driver said on stderr: the page count (>= 0), -2 for a portfolio, -1 if
 * it said nothing. */
static int driver_count(const gs_run *r, const char *marker)
{
    char path[PATH_MAX + 32];
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    if (!text || !r->scratch[0]) { free(text); return -1; }
    str_fmt(path, sizeof path, "%s/stderr.txt", r->scratch);
    read_head(path, text, cap);
    size_t mlen = strlen(marker);
    int count = -1;
    for (const char *p = text; (p = strstr(p, marker)) != NULL; p += mlen) {
        if (p != text && p[-1] != '\n') continue;           /* only at the start of a line */
        if (!strncmp(p + mlen, "-PORTFOLIO", 10)) { count = -2; break; }
        if (p[mlen] != ':' || p[mlen + 1] != ' ') continue;
        char *end;
        long v = strtol(p + mlen + 2, &end, 10);
        if (end != p + mlen + 2 && (*end == '\n' || *end == '\r' || *end == '\0') && v >= 0 && v <= INT_MAX) {
            count = (int)v;
            break;
        }
    }
    free(text);
    return count;
}

static void count_error(int count, const gs_run *r, char *err, size_t errlen)
{
    char complaint[COMPLAINT_MAX];
    run_complaint(r, complaint, sizeof complaint);
    if (count == -2)
        str_fmt(err, errlen, "the PDF is a portfolio (a collection of attached files); save or print the "
                "documents in it as one ordinary PDF and send that");
    else if (count < 0)
        str_fmt(err, errlen, "Ghostscript could not read the PDF%s%s", complaint[0] ? ": " : "", complaint);
    else
        str_fmt(err, errlen, "the PDF has no pages that could be rendered%s%s", complaint[0] ? ": " : "",
                complaint);
}

static int input_path(const char *in_pdf, char *abs, char *err, size_t errlen)
{
    if (!in_pdf || !in_pdf[0]) { str_fmt(err, errlen, "no PDF file given"); return -1; }
    if (!realpath(in_pdf, abs) || access(abs, R_OK) != 0) {
        str_fmt(err, errlen, "cannot open the PDF: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
        str_fmt(err, errlen, "cannot open the PDF: not a regular file");
        return -1;
    }
    return 0;
}

int doc_pdf_page_count(const char *in_pdf, const convert_limits *lim_in, int *pages, char *err, size_t errlen)
{
    convert_limits lim = effective_limits(lim_in);
    char exe[PATH_MAX], abs_pdf[PATH_MAX], ps_path[2 * PATH_MAX + 16], marker[MARKER_MAX];
    if (pages) *pages = 0;
    if (input_path(in_pdf, abs_pdf, err, errlen) != 0) return -1;
    if (resolve_program(lim.gs_path, exe, sizeof exe, err, errlen) != 0) return -1;
    new_marker(marker);

    gs_args *args = calloc(1, sizeof *args);
    gs_run run, *runs[1] = { &run };
    run_init(&run);
    int rc = -1;
    if (!args) { str_fmt(err, errlen, "out of memory"); return -1; }
    if (ps_string_body(abs_pdf, ps_path, sizeof ps_path) != 0 ||
        args_add(args, "%s", exe) || args_add(args, "-q") || args_add(args, "-dNODISPLAY") ||
        args_add(args, "-dSAFER") || args_add(args, "-dBATCH") || args_add(args, "-dNOPAUSE") ||
        args_add(args, "-sstdout=%%stderr") || args_add(args, "--permit-file-read=%s", abs_pdf) ||
        args_add(args, "-c") || driver_script(ps_path, marker, false, 0, 0, 0, args)) {
        str_fmt(err, errlen, "the PDF path is too long");
        goto out;
    }
    if (make_scratch(&run, lim.tmp_dir, err, errlen) != 0) goto out;
    if (run_start(&run, exe, args, &lim, false, err, errlen) != 0) goto out;
    runs_wait(runs, 1, lim.timeout_s);
    if (run_outcome(&run, &lim, err, errlen) != 0) goto out;
    int n = driver_count(&run, marker);
    if (n <= 0) { count_error(n, &run, err, errlen); goto out; }
    if (pages) *pages = n;
    rc = 0;
out:
    run_cleanup(&run);
    free(args);
    return rc;
}

/* ---- how many processes: a cheap look at the file ---- */

static bool pdf_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\0';
}

static bool pdf_delimiter(unsigned char c)
{
    return pdf_space(c) || c == '/' || c == '[' || c == ']' || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '{' || c == '}' || c == '%';
}

/* Counts "/Type /Page" (not /Pages) in buf whose last byte (the delimiter after
 * "/Page") is at index >= from. A match cut off by the end of buf is not counted:
 * with the last 32 bytes carried into the next chunk as `from`, each match is
 * counted exactly once. A pure function; a guess only (page objects inside
 * compressed object streams are invisible). */
static int count_page_objects(const unsigned char *buf, size_t len, size_t from)
{
    int count = 0;
    const unsigned char *p = buf, *end = buf + len;
    while ((p = memmem(p, (size_t)(end - p), "/Type", 5)) != NULL) {
        const unsigned char *q = p + 5;
        int spaces = 0;
        while (q < end && pdf_space(*q) && spaces < 16) { q++; spaces++; }
        if (end - q >= 6 && !memcmp(q, "/Page", 5) && pdf_delimiter(q[5]) && (size_t)(q + 5 - buf) >= from)
            count++;
        p += 5;
    }
    return count;
}

/* Estimated pages, counting up to `enough`; 0 when none can be seen. */
static int estimate_pages(const char *path, int enough)
{
    enum { CARRY = 32 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    unsigned char *buf = malloc(READ_CHUNK + CARRY);
    int count = 0;
    size_t carried = 0;
    int64_t scanned = 0;
    while (buf && count < enough && scanned < ESTIMATE_SCAN_MAX) {
        ssize_t n = read(fd, buf + carried, READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t len = carried + (size_t)n;
        count += count_page_objects(buf, len, carried);
        scanned += n;
        carried = len < CARRY ? len : CARRY;
        memmove(buf, buf + len - carried, carried);
    }
    free(buf);
    close(fd);
    return count;
}

static int choose_parts(const char *abs_pdf, int parallel)
{
    if (parallel <= 1) return 1;
    int est = estimate_pages(abs_pdf, parallel * 2);
    if (est == 0) return file_size(abs_pdf) >= PARALLEL_MIN_BYTES ? parallel : 1;
    if (est < PARALLEL_MIN_PAGES) return 1;
    int parts = est / 2;                    /* at least two pages for every process */
    return parts < parallel ? parts : parallel;
}

/* ---- reading Ghostscript's bitmaps: a pure state machine over bytes ---- */

/* pbmraw ("P4") pages back to back: "P4", blanks/#comments, width, height, one
 * blank, then height rows of ceil(width/8) bytes, 1 = black. */
typedef struct pbm_reader {
    bool in_rows, in_comment, in_token;
    int field;                       /* header fields done: magic, width, height */
    long value;
    int width, height, row_bytes, row;
    size_t fill;
    unsigned char rowbuf[PBM_MAX_ROW_BYTES];
} pbm_reader;

typedef struct pbm_sink {
    int (*row)(void *ctx, const unsigned char *row, int width);
    int (*page)(void *ctx, int rows);
    void *ctx;
} pbm_sink;

/* Ends a header token; -1 with a message for anything unexpected. */
static int pbm_header_token(pbm_reader *r, char *err, size_t errlen)
{
    r->in_token = false;
    if (r->field == 0) {
        if (r->value != 4) { str_fmt(err, errlen, "not a raw PBM page"); return -1; }
    } else if (r->field == 1) {
        if (r->value < PBM_MIN_WIDTH || r->value > PBM_MAX_WIDTH) {
            str_fmt(err, errlen, "a page %ld pixels wide", r->value);
            return -1;
        }
        r->width = (int)r->value;
        r->row_bytes = (r->width + 7) / 8;
    } else {
        if (r->value < PBM_MIN_HEIGHT || r->value > PBM_MAX_HEIGHT) {
            str_fmt(err, errlen, "a page %ld rows high", r->value);
            return -1;
        }
        r->height = (int)r->value;
    }
    r->field++;
    r->value = 0;
    return 0;
}

static int pbm_feed(pbm_reader *r, const unsigned char *p, size_t n, const pbm_sink *sink, char *err,
                    size_t errlen)
{
    size_t i = 0;
    while (i < n) {
        if (r->in_rows) {
            size_t want = (size_t)r->row_bytes - r->fill, take = n - i < want ? n - i : want;
            const unsigned char *row = NULL;
            if (r->fill == 0 && take == want) {
                row = p + i;                            /* a whole row in place */
            } else {
                memcpy(r->rowbuf + r->fill, p + i, take);
                r->fill += take;
                if (r->fill == (size_t)r->row_bytes) row = r->rowbuf;
            }
            i += take;
            if (!row) continue;
            r->fill = 0;
            if (sink->row(sink->ctx, row, r->width) != 0) return -1;
            if (++r->row == r->height) {
                if (sink->page(sink->ctx, r->height) != 0) return -1;
                memset(r, 0, offsetof(pbm_reader, rowbuf));
            }
            continue;
        }
        unsigned char c = p[i++];
        if (r->in_comment) {
            if (c == '\n' || c == '\r') r->in_comment = false;
            continue;
        }
        if (r->field == 0 && !r->in_token) {
            if (c != 'P') { str_fmt(err, errlen, "not a raw PBM page"); return -1; }
            r->in_token = true;
            continue;
        }
        if (c >= '0' && c <= '9') {
            if (r->field == 0 && r->value != 0) { str_fmt(err, errlen, "not a raw PBM page"); return -1; }
            r->value = r->value * 10 + (c - '0');
            if (r->value > 100000) { str_fmt(err, errlen, "an absurd page size"); return -1; }
            r->in_token = true;
            continue;
        }
        if (c == '#' && !r->in_token) { r->in_comment = true; continue; }
        if (!pdf_space(c) || c == '\0') { str_fmt(err, errlen, "a malformed page header"); return -1; }
        if (r->in_token && pbm_header_token(r, err, errlen) != 0) return -1;
        if (r->field == 3) { r->in_rows = true; r->row = 0; r->fill = 0; }  /* one blank, then rows */
    }
    return 0;
}

/* ---- rendering: k processes, pages interleaved back into order ---- */

typedef struct coded_page { unsigned char *data; size_t len; int rows; } coded_page;

typedef struct part {
    gs_run run;
    bool eof;
    pbm_reader pbm;
    coded_page cur;                  /* the page being coded */
    size_t cur_cap;
    coded_page queue[QUEUE_CAP];
    int q_head, q_count;
    size_t q_bytes;
    char bad_output[COMPLAINT_MAX];
} part;

static int part_row(void *ctx, const unsigned char *row, int width)
{
    part *pt = ctx;
    unsigned char fax_row[DOC_FAX_ROW_BYTES];
    const unsigned char *use = row;
    if (width < DOC_FAX_WIDTH) {             /* narrower (A4): white on the right */
        int bytes = (width + 7) / 8;
        memcpy(fax_row, row, (size_t)bytes);
        memset(fax_row + bytes, 0, DOC_FAX_ROW_BYTES - (size_t)bytes);
        if (width % 8) fax_row[width / 8] &= (unsigned char)(0xFF << (8 - width % 8));
        use = fax_row;
    }                                        /* wider (letter): the left 1728 px */
    if (pt->cur.len + DOC_MH_ROW_MAX > pt->cur_cap) {
        size_t cap = pt->cur_cap ? pt->cur_cap * 2 : 128 * 1024;
        unsigned char *grown = realloc(pt->cur.data, cap);
        if (!grown) { str_fmt(pt->bad_output, sizeof pt->bad_output, "out of memory"); return -1; }
        pt->cur.data = grown;
        pt->cur_cap = cap;
    }
    pt->cur.len += doc_mh_encode_row(use, pt->cur.data + pt->cur.len);
    return 0;
}

static int part_page(void *ctx, int rows)
{
    part *pt = ctx;
    if (pt->q_count == QUEUE_CAP) {             /* cannot happen: reading stops first */
        str_fmt(pt->bad_output, sizeof pt->bad_output, "too many pages ahead");
        return -1;
    }
    pt->cur.rows = rows;
    pt->queue[(pt->q_head + pt->q_count) % QUEUE_CAP] = pt->cur;
    pt->q_count++;
    pt->q_bytes += pt->cur.len;
    memset(&pt->cur, 0, sizeof pt->cur);
    pt->cur_cap = 0;
    return 0;
}

static bool part_wants_input(const part *pt)
{
    return !pt->eof && pt->run.out_fd >= 0 && pt->q_count < QUEUE_MAX_PAGES && pt->q_bytes < QUEUE_MAX_BYTES;
}

/* One read from a pipe: the bytes read (0 when none are waiting or at the end),
 * -1 when Ghostscript's output makes no sense. */
static ssize_t part_read(part *pt, unsigned char *buf, char *err, size_t errlen)
{
    ssize_t n = read(pt->run.out_fd, buf, READ_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) { pt->eof = true; return 0; }
    pbm_sink sink = { part_row, part_page, pt };
    char why[COMPLAINT_MAX] = "";
    if (pbm_feed(&pt->pbm, buf, (size_t)n, &sink, why, sizeof why) != 0) {
        str_fmt(err, errlen, "Ghostscript's output could not be used: %s", pt->bad_output[0] ? pt->bad_output : why);
        return -1;
    }
    return n;
}

typedef struct render_state {
    part *parts;
    int n;
    const char *marker;
    const convert_limits *lim;
    bool fine;
    doc_fax_writer *writer;
    int written, total;              /* total: -1 until a driver has said it */
} render_state;

/* Writes every page that is next in document order and already coded. */
static int write_ready(render_state *s, char *err, size_t errlen)
{
    for (;;) {
        part *pt = &s->parts[s->written % s->n];
        if (pt->q_count == 0) return 0;
        if (s->total < 0) {
            int count = driver_count(&pt->run, s->marker);
            if (count <= 0 || count > s->lim->max_pages) {
                str_fmt(err, errlen, "Ghostscript sent pages it did not count");
                return -1;
            }
            s->total = count;
        }
        if (s->written >= s->total) {
            str_fmt(err, errlen, "Ghostscript sent more pages than the PDF has");
            return -1;
        }
        coded_page pg = pt->queue[pt->q_head];
        pt->q_head = (pt->q_head + 1) % QUEUE_CAP;
        pt->q_count--;
        pt->q_bytes -= pg.len;
        int rc = doc_fax_writer_add_page(s->writer, pg.data, pg.len, pg.rows, s->fine, s->total, err, errlen);
        free(pg.data);
        if (rc != 0) return -1;
        s->written++;
    }
}

/* Runs the loop until every process has ended and every pipe is drained, or
 * something failed; err is set on failure. Ghostscript writes its bitmaps 4 KiB at
 * a time: reading every pipe dry per wake-up, and pausing a moment after a small
 * read, keeps us from waking (and taking a core from Ghostscript) for every write. */
static int render_loop(render_state *s, char *err, size_t errlen)
{
    gs_run *runs[MAX_PARALLEL];
    bool exited[MAX_PARALLEL];
    for (int i = 0; i < s->n; i++) { runs[i] = &s->parts[i].run; exited[i] = true; }
    unsigned char *buf = malloc(READ_CHUNK);
    if (!buf) { str_fmt(err, errlen, "out of memory"); return -1; }
    int64_t deadline = mono_ms() + (int64_t)s->lim->timeout_s * 1000;
    int rc = -1;
    for (;;) {
        if (write_ready(s, err, errlen) != 0) { runs_stop(runs, s->n, false); break; }
        bool all_done = true;
        const gs_run *failed = NULL;
        for (int i = 0; i < s->n; i++) {
            part *pt = &s->parts[i];
            /* waitpid only when the pidfd said so (or there is none, or the pipe closed) */
            if (exited[i] || pt->run.proc.pidfd < 0 || pt->eof) sandbox_reap(&pt->run.proc);
            exited[i] = false;
            if (pt->run.proc.finished && !pt->run.cancelled && !run_ok(&pt->run) && !failed) failed = &pt->run;
            if (!pt->run.proc.finished || !pt->eof) all_done = false;
        }
        if (failed) {
            runs_stop(runs, s->n, false);
            run_outcome(failed, s->lim, err, errlen);
            break;
        }
        /* every page is here: no need to wait for Ghostscript to tidy up and exit */
        if (all_done || s->written == s->total) {
            runs_stop(runs, s->n, false);
            rc = 0;
            break;
        }
        /* the next page's process is done and sent no more: that page is missing
         * (or the document is complete); the others need not go on */
        const part *next = &s->parts[s->written % s->n];
        if (next->eof && next->run.proc.finished && next->q_count == 0) {
            runs_stop(runs, s->n, false);
            rc = 0;
            break;
        }
        if (mono_ms() >= deadline) {
            runs_stop(runs, s->n, true);
            str_fmt(err, errlen, "conversion timed out after %d s", s->lim->timeout_s);
            break;
        }
        struct pollfd pfds[2 * MAX_PARALLEL];
        int owner[2 * MAX_PARALLEL];
        bool is_pipe[2 * MAX_PARALLEL];
        nfds_t npfd = 0;
        for (int i = 0; i < s->n; i++) {
            part *pt = &s->parts[i];
            if (part_wants_input(pt)) {
                owner[npfd] = i;
                is_pipe[npfd] = true;
                pfds[npfd++] = (struct pollfd){ .fd = pt->run.out_fd, .events = POLLIN };
            }
            if (!pt->run.proc.finished && pt->run.proc.pidfd >= 0) {
                owner[npfd] = i;
                is_pipe[npfd] = false;
                pfds[npfd++] = (struct pollfd){ .fd = pt->run.proc.pidfd, .events = POLLIN };
            }
        }
        int ready = poll(pfds, npfd, poll_timeout(runs, s->n, deadline));
        if (ready <= 0) continue;
        bool bad = false;
        size_t got = 0;
        for (nfds_t i = 0; i < npfd && !bad; i++) {
            if (!pfds[i].revents) continue;
            if (!is_pipe[i]) { exited[owner[i]] = true; continue; }
            part *pt = &s->parts[owner[i]];
            while (!bad && part_wants_input(pt)) {
                ssize_t n = part_read(pt, buf, err, errlen);
                if (n < 0) bad = true;
                if (n <= 0) break;
                got += (size_t)n;
            }
        }
        if (bad) { runs_stop(runs, s->n, false); break; }
        if (got > 0 && got < SMALL_READ) {
            struct timespec pause = { 0, PAUSE_NS };
            nanosleep(&pause, NULL);
        }
    }
    free(buf);
    return rc;
}

typedef struct render_job {
    const char *exe, *abs_pdf;
    fax_resolution res;
    paper_size paper;
    const convert_limits *lim;
    bool strict;                 /* -dPDFSTOPONERROR: an error inside a page ends the run */
} render_job;

static int render_args(const render_job *job, const char *marker, int first, int step, gs_args *a)
{
    char ps_path[2 * PATH_MAX + 16];
    if (ps_string_body(job->abs_pdf, ps_path, sizeof ps_path) != 0) return -1;
    /* -dNOGC: Ghostscript's start-up is most of the cost of a short document, and
     * its garbage collector a few ms of it; the C PDF interpreter keeps little in
     * PostScript memory (1000 text pages: 45.7 MB peak instead of 44.4 MB), and
     * RLIMIT_AS still bounds it. */
    return args_add(a, "%s", job->exe) || args_add(a, "-q") || args_add(a, "-dSAFER") ||
           args_add(a, "-dBATCH") || args_add(a, "-dNOPAUSE") || args_add(a, "-dNOGC") ||
           (job->strict && args_add(a, "-dPDFSTOPONERROR")) ||
           args_add(a, "-dNOINTERPOLATE") || args_add(a, "-sDEVICE=pbmraw") ||
           args_add(a, "%s", job->res == RES_FINE ? "-r204x196" : "-r204x98") ||
           args_add(a, "-dFIXEDMEDIA") ||
           args_add(a, "-sPAPERSIZE=%s", job->paper == PAPER_A4 ? "a4" : "letter") ||
           args_add(a, "-dPDFFitPage") || args_add(a, "-sOutputFile=-") || args_add(a, "-sstdout=%%stderr") ||
           args_add(a, "--permit-file-read=%s", job->abs_pdf) || args_add(a, "-c") ||
           driver_script(ps_path, marker, true, job->lim->max_pages, first, step, a)
        ? -1 : 0;
}

/* After the loop: the count every driver printed must agree, be within the limit,
 * and match the pages written. */
static int render_verdict(const render_state *s, char *err, size_t errlen)
{
    int count = -1;
    const gs_run *said = NULL;
    for (int i = 0; i < s->n; i++) {
        int c = driver_count(&s->parts[i].run, s->marker);
        if (c == -1 && s->parts[i].run.cancelled) continue;
        if (c < 0 || c == 0) { count_error(c, &s->parts[i].run, err, errlen); return -1; }
        if (count >= 0 && c != count) {
            str_fmt(err, errlen, "Ghostscript counted the pages of the PDF differently in two runs");
            return -1;
        }
        count = c;
        said = &s->parts[i].run;
    }
    if (!said) { count_error(-1, &s->parts[0].run, err, errlen); return -1; }
    if (count > s->lim->max_pages) {
        str_fmt(err, errlen, "the document has %d pages; the limit is %d", count, s->lim->max_pages);
        return -1;
    }
    if (s->written < count) {
        char complaint[COMPLAINT_MAX] = "";
        for (int i = 0; i < s->n && !complaint[0]; i++) run_complaint(&s->parts[i].run, complaint, sizeof complaint);
        str_fmt(err, errlen, "page %d of the %d pages of the PDF could not be rendered%s%s", s->written + 1, count,
                complaint[0] ? ": " : "", complaint);
        return -1;
    }
    return 0;
}

/* ---- pages drawn only in part ---- */

/* True when a run's stderr says Ghostscript refused to open a file the PDF pointed
 * to (an external stream or file specification): the page lacks what it refers to. */
static bool run_refused_file(const gs_run *r, char *what, size_t whatlen)
{
    char path[PATH_MAX + 32], text[4096];
    if (!r->scratch[0]) return false;
    str_fmt(path, sizeof path, "%s/stderr.txt", r->scratch);
    read_head(path, text, sizeof text);
    return first_line(text, "Failed to open file", NULL, what, whatlen);
}

/* True when a failed strict run failed inside a page's drawing (not on the file as
 * a whole): what lenient rendering could still draw, with a warning. */
static bool is_page_error(const char *err)
{
    return strstr(err, "PDFDrawPage") || strstr(err, "pdfshowpage") || strstr(err, "/pdf_");
}

static void page_error_message(char *out, size_t outlen, const char *detail, bool warning)
{
    if (warning)
        str_fmt(out, outlen, "a page of the PDF was drawn only in part and may have blank areas (%s)", detail);
    else
        str_fmt(out, outlen, "a page of the PDF could not be drawn completely (%s); re-save or print the document "
                "to a new PDF and send that (or set CONVERT_ON_PAGE_ERROR=warn to send what can be drawn)", detail);
}

static int render_parts(const render_job *job, int nparts, const char *out_tiff, int *pages, char *err,
                        size_t errlen)
{
    char marker[MARKER_MAX];
    new_marker(marker);
    render_state s = { .n = nparts, .marker = marker, .lim = job->lim, .fine = job->res == RES_FINE,
                       .total = -1 };
    s.parts = calloc((size_t)nparts, sizeof *s.parts);
    gs_args *args = calloc(1, sizeof *args);
    int rc = -1, started = 0;
    if (!s.parts || !args) { str_fmt(err, errlen, "out of memory"); goto out; }
    for (int i = 0; i < nparts; i++) run_init(&s.parts[i].run);
    s.writer = doc_fax_writer_open(out_tiff, err, errlen);
    if (!s.writer) goto out;

    for (int i = 0; i < nparts; i++) {
        memset(args, 0, sizeof *args);
        if (render_args(job, marker, i + 1, nparts, args) != 0) { str_fmt(err, errlen, "the PDF path is too long"); break; }
        if (make_scratch(&s.parts[i].run, job->lim->tmp_dir, err, errlen) != 0) break;
        if (run_start(&s.parts[i].run, job->exe, args, job->lim, true, err, errlen) != 0) break;
        started++;
    }
    if (started < nparts) goto out;          /* run_cleanup stops the ones started */
    if (render_loop(&s, err, errlen) != 0) goto out;
    if (render_verdict(&s, err, errlen) != 0) goto out;
    char refused[COMPLAINT_MAX] = "";
    for (int i = 0; i < nparts && !refused[0]; i++) run_refused_file(&s.parts[i].run, refused, sizeof refused);
    if (refused[0]) {
        char msg[512];
        str_fmt(msg, sizeof msg, "the PDF draws from a file outside itself, which is never opened: %s", refused);
        if (!job->lim->page_errors_warn) { page_error_message(err, errlen, msg, false); goto out; }
        if (job->lim->warning) page_error_message(job->lim->warning, job->lim->warning_len, msg, true);
    }
    rc = doc_fax_writer_finish(s.writer, pages, err, errlen);
    s.writer = NULL;
out:
    doc_fax_writer_abort(s.writer);
    if (s.parts) {
        for (int i = 0; i < nparts; i++) {
            part *pt = &s.parts[i];
            run_cleanup(&pt->run);
            free(pt->cur.data);
            for (int q = 0; q < pt->q_count; q++) free(pt->queue[(pt->q_head + q) % QUEUE_CAP].data);
        }
    }
    free(s.parts);
    free(args);
    return rc;
}

int doc_pdf_to_tiff(const char *in_pdf, const char *out_tiff, fax_resolution res, paper_size paper,
                    const convert_limits *lim_in, int *pages, char *err, size_t errlen)
{
    convert_limits lim = effective_limits(lim_in);
    char exe[PATH_MAX], abs_pdf[PATH_MAX];
    if (pages) *pages = 0;
    if (err && errlen) err[0] = '\0';
    if (!out_tiff || !out_tiff[0]) { str_fmt(err, errlen, "no output TIFF given"); return -1; }
    if (input_path(in_pdf, abs_pdf, err, errlen) != 0) return -1;
    if (resolve_program(lim.gs_path, exe, sizeof exe, err, errlen) != 0) return -1;

    if (lim.warning && lim.warning_len) lim.warning[0] = '\0';
    render_job job = { exe, abs_pdf, res, paper, &lim, true };
    int n = 0, parts = choose_parts(abs_pdf, lim.parallel);
    if (render_parts(&job, parts, out_tiff, &n, err, errlen) != 0) {
        /* Only Ghostscript's own complaints get a second, lenient run (not a timeout,
         * the CPU limit or a crash): an error while drawing a page fails the
         * conversion or becomes a warning; any other error it stopped on is judged
         * as before strict mode, by what the lenient run makes of the document. */
        if (!strstr(err, "Ghostscript could not read the PDF")) return -1;
        bool page_error = is_page_error(err);
        char detail[COMPLAINT_MAX + 64];
        str_copy(detail, sizeof detail, err);
        if (page_error && !lim.page_errors_warn) { page_error_message(err, errlen, detail, false); return -1; }
        job.strict = false;
        if (render_parts(&job, parts, out_tiff, &n, err, errlen) != 0) return -1;
        if (page_error && lim.warning) page_error_message(lim.warning, lim.warning_len, detail, true);
    }
    if (pages) *pages = n;
    return 0;
}
