/* rasterize.c — PDF → TIFF class F with Ghostscript, run as a sandboxed subprocess
 * so a hostile PDF never touches our address space.
 *
 * Each Ghostscript run: fork + execve (no shell; the program is looked up in PATH
 * by the parent), its own process group, RLIMIT_CPU/AS/FSIZE/CORE, a fresh private
 * scratch directory (mkdtemp under lim->tmp_dir) as cwd, HOME and TMPDIR, an
 * environment of just PATH/HOME/TMPDIR, stdin from /dev/null and stdout/stderr into
 * files in the scratch directory (so an error can quote Ghostscript's complaint).
 * The parent polls waitpid against a wall-clock deadline and SIGKILLs the whole
 * process group when it passes.
 *
 * The PDF is opened with `-c "(path) (r) file runpdf"` rather than as a plain input
 * file: that forces the PDF interpreter, so a PostScript program disguised as a
 * PDF is never executed as PostScript. Pages are counted first (runpdfbegin
 * pdfpagecount, which works with gs 10's C interpreter under -dSAFER when the file
 * is allowed with --permit-file-read). Documents of 4+ pages are split into
 * contiguous page ranges rendered by lim->parallel processes at once; the chunk
 * TIFFs are then joined (doc_tiff_copy_fax_pages), which also fixes the PageNumber
 * tags, checks the result as a fax image and publishes it atomically. A PDF that
 * renders fewer pages than it claims is an error: a fax with missing pages must not
 * go out silently. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "document/doc_internal.h"
#include "util/util.h"

#define MAX_GS_ARGS 32
#define MAX_PARALLEL 16
#define GS_FSIZE_LIMIT ((rlim_t)512 * 1024 * 1024)
#define COMPLAINT_MAX 200

/* ---- limits with defaults ---- */

static convert_limits effective_limits(const convert_limits *lim)
{
    convert_limits l = { "gs", 120, 120, 1024, 200, 1, NULL };
    if (lim) {
        if (lim->gs_path && lim->gs_path[0]) l.gs_path = lim->gs_path;
        if (lim->timeout_s > 0) l.timeout_s = lim->timeout_s;
        if (lim->cpu_s > 0) l.cpu_s = lim->cpu_s;
        if (lim->memory_mb > 0) l.memory_mb = lim->memory_mb;
        if (lim->max_pages > 0) l.max_pages = lim->max_pages;
        if (lim->parallel > 0) l.parallel = lim->parallel;
        l.tmp_dir = lim->tmp_dir;
    }
    if (!l.tmp_dir || !l.tmp_dir[0]) {
        const char *t = getenv("TMPDIR");
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
    if (strchr(name, '/')) {
        if (access(name, X_OK) == 0 && realpath(name, out) && strlen(out) < outlen) return 0;
        str_fmt(err, errlen, "Ghostscript was not found at %s", name);
        return -1;
    }
    const char *path = getenv("PATH");
    if (!path || !path[0]) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
        if (dlen > 0 && str_fmt(out, outlen, "%.*s/%s", (int)dlen, path, name) == 0 &&
            access(out, X_OK) == 0)
            return 0;
        path += dlen + (colon ? 1 : 0);
    }
    str_fmt(err, errlen, "Ghostscript (%s) was not found in PATH; install the ghostscript package", name);
    return -1;
}

/* ---- one sandboxed run ---- */

typedef struct gs_run {
    char scratch[PATH_MAX];
    pid_t pid;
    int status;
    bool started, finished, timed_out, lost, cancelled;
} gs_run;

static void run_init(gs_run *r)
{
    memset(r, 0, sizeof *r);
    r->pid = -1;
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

static void run_cleanup(gs_run *r)
{
    if (r->scratch[0]) remove_tree(r->scratch);
    r->scratch[0] = '\0';
}

static void set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = { soft, hard };
    setrlimit(resource, &rl);
}

/* Everything the child needs is prepared before fork: after fork only
 * async-signal-safe calls are made. */
static int run_start(gs_run *r, const char *exe, gs_args *args, const convert_limits *lim,
                     char *err, size_t errlen)
{
    char env_path[PATH_MAX + 8], env_home[PATH_MAX + 8], env_tmp[PATH_MAX + 8], path_out[PATH_MAX],
        path_err[PATH_MAX];
    const char *sys_path = getenv("PATH");
    str_fmt(env_path, sizeof env_path, "PATH=%s", sys_path && sys_path[0] ? sys_path : "/usr/bin:/bin");
    str_fmt(env_home, sizeof env_home, "HOME=%s", r->scratch);
    str_fmt(env_tmp, sizeof env_tmp, "TMPDIR=%s", r->scratch);
    char *envp[] = { env_path, env_home, env_tmp, NULL };
    str_fmt(path_out, sizeof path_out, "%s/stdout.txt", r->scratch);
    str_fmt(path_err, sizeof path_err, "%s/stderr.txt", r->scratch);

    int fd_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd_out = open(path_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fd_err = open(path_err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_in < 0 || fd_out < 0 || fd_err < 0) {
        str_fmt(err, errlen, "cannot prepare the Ghostscript sandbox: %s", strerror(errno));
        if (fd_in >= 0) close(fd_in);
        if (fd_out >= 0) close(fd_out);
        if (fd_err >= 0) close(fd_err);
        return -1;
    }
    rlim_t cpu = (rlim_t)lim->cpu_s, mem = (rlim_t)lim->memory_mb * 1024 * 1024;
    /* what the child can say without strerror (not async-signal-safe) */
    static const char exec_failed[] = "the program could not be executed\n",
                      exec_nomem[] = "not enough memory to load it (memory limit too low?)\n",
                      exec_denied[] = "permission denied\n";

    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        set_limit(RLIMIT_CPU, cpu, cpu + 2);
        set_limit(RLIMIT_AS, mem, mem);
        set_limit(RLIMIT_FSIZE, GS_FSIZE_LIMIT, GS_FSIZE_LIMIT);
        set_limit(RLIMIT_CORE, 0, 0);
        if (chdir(r->scratch) != 0) _exit(126);
        if (dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0) _exit(126);
        close_range(3, ~0U, 0);
        execve(exe, args->argv, envp);
        const char *why = errno == ENOMEM || errno == E2BIG ? exec_nomem
                        : errno == EACCES ? exec_denied : exec_failed;
        size_t why_len = 0;
        while (why[why_len]) why_len++;
        ssize_t ignored = write(2, why, why_len);
        (void)ignored;
        _exit(127);
    }
    int fork_errno = errno;
    close(fd_in);
    close(fd_out);
    close(fd_err);
    if (pid < 0) {
        str_fmt(err, errlen, "cannot start Ghostscript: %s", strerror(fork_errno));
        return -1;
    }
    setpgid(pid, pid);          /* also from here, so a kill never races the child's own call */
    r->pid = pid;
    r->started = true;
    return 0;
}

static void run_kill(gs_run *r)
{
    if (!r->started || r->finished) return;
    kill(-r->pid, SIGKILL);
    kill(r->pid, SIGKILL);
    while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR) {}
    r->finished = true;
}

/* Waits for all started runs until the deadline; a failed run cancels the rest
 * (their pages would be wasted work). */
static void runs_wait(gs_run *runs, int n, int timeout_s)
{
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    long sleep_ns = 2 * 1000 * 1000;
    for (;;) {
        bool pending = false, failed = false;
        for (int i = 0; i < n; i++) {
            gs_run *r = &runs[i];
            if (!r->started || r->finished) {
                if (r->finished && !r->cancelled && !(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0))
                    failed = true;
                continue;
            }
            pid_t got = waitpid(r->pid, &r->status, WNOHANG);
            if (got == r->pid) {
                r->finished = true;
                kill(-r->pid, SIGKILL);         /* leftovers in its group, if any */
                if (!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)) failed = true;
            } else if (got < 0 && errno != EINTR) {
                r->finished = r->lost = true;
                failed = true;
            } else {
                pending = true;
            }
        }
        if (!pending) return;
        bool late = mono_ms() >= deadline;
        if (late || failed) {
            for (int i = 0; i < n; i++) {
                if (!runs[i].started || runs[i].finished) continue;
                if (late) runs[i].timed_out = true; else runs[i].cancelled = true;
                run_kill(&runs[i]);
            }
            return;
        }
        struct timespec ts = { 0, sleep_ns };
        nanosleep(&ts, NULL);
        if (sleep_ns < 20 * 1000 * 1000) sleep_ns += 2 * 1000 * 1000;
    }
}

/* ---- reading what Ghostscript said ---- */

static size_t read_head(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { buf[0] = '\0'; return 0; }
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

/* Copies the first line of text that passes `want` (trimmed of blanks and the
 * "****" Ghostscript puts before its PDF errors) into out. */
static bool first_line(const char *text, const char *must_contain, char *out, size_t outlen)
{
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '*' || *s == '\r')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (e > s && (!must_contain || memmem(s, (size_t)(e - s), must_contain, strlen(must_contain)))) {
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

/* Ghostscript's first complaint: stderr first, else an "Error" line on stdout
 * (the PDF interpreter prints its repairs and errors there). */
static void run_complaint(const gs_run *r, char *out, size_t outlen)
{
    char path[PATH_MAX + 32], text[4096];
    out[0] = '\0';
    if (!r->scratch[0]) return;
    str_fmt(path, sizeof path, "%s/stderr.txt", r->scratch);
    read_head(path, text, sizeof text);
    if (first_line(text, NULL, out, outlen)) return;
    str_fmt(path, sizeof path, "%s/stdout.txt", r->scratch);
    read_head(path, text, sizeof text);
    first_line(text, "Error", out, outlen);
}

/* 0 if the run exited 0; else -1 with a message a user can act on. */
static int run_outcome(const gs_run *r, const convert_limits *lim, char *err, size_t errlen)
{
    char complaint[COMPLAINT_MAX];
    if (r->timed_out) {
        str_fmt(err, errlen, "conversion timed out after %d s", lim->timeout_s);
        return -1;
    }
    if (r->lost) {
        str_fmt(err, errlen, "lost track of the Ghostscript process");
        return -1;
    }
    int st = r->status;
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

/* ---- page count ---- */

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

/* The last line of stdout that is a bare number, or -1. */
static int parse_count(const char *text)
{
    int count = -1;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char line[32];
        if (len > 0 && len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            char *q;
            long v = strtol(line, &q, 10);
            while (*q == ' ' || *q == '\r' || *q == '\t') q++;
            if (q != line && *q == '\0' && v >= 0 && v <= INT_MAX) count = (int)v;
        }
        if (!end) break;
        p = end + 1;
    }
    return count;
}

static int count_pages_with(const char *exe, const char *abs_pdf, const convert_limits *lim, int *pages,
                            char *err, size_t errlen)
{
    gs_args *args = calloc(1, sizeof *args);
    gs_run run;
    run_init(&run);
    char ps_path[2 * PATH_MAX + 16];
    int rc = -1;
    if (!args) { str_fmt(err, errlen, "out of memory"); return -1; }
    if (ps_string_body(abs_pdf, ps_path, sizeof ps_path) != 0 ||
        args_add(args, "%s", exe) || args_add(args, "-q") || args_add(args, "-dNODISPLAY") ||
        args_add(args, "-dSAFER") || args_add(args, "-dBATCH") || args_add(args, "-dNOPAUSE") ||
        args_add(args, "--permit-file-read=%s", abs_pdf) || args_add(args, "-c") ||
        args_add(args, "(%s) (r) file runpdfbegin pdfpagecount = quit", ps_path)) {
        str_fmt(err, errlen, "the PDF path is too long");
        goto out;
    }
    if (make_scratch(&run, lim->tmp_dir, err, errlen) != 0) goto out;
    if (run_start(&run, exe, args, lim, err, errlen) != 0) goto out;
    runs_wait(&run, 1, lim->timeout_s);
    if (run_outcome(&run, lim, err, errlen) != 0) goto out;

    char path[PATH_MAX + 32], text[4096], complaint[COMPLAINT_MAX];
    str_fmt(path, sizeof path, "%s/stdout.txt", run.scratch);
    read_head(path, text, sizeof text);
    int n = parse_count(text);
    run_complaint(&run, complaint, sizeof complaint);
    if (n < 0) {
        str_fmt(err, errlen, "Ghostscript could not read the PDF%s%s", complaint[0] ? ": " : "", complaint);
    } else if (n == 0) {
        str_fmt(err, errlen, "the PDF has no pages that could be rendered%s%s", complaint[0] ? ": " : "",
                complaint);
    } else {
        *pages = n;
        rc = 0;
    }
out:
    run_cleanup(&run);
    free(args);
    return rc;
}

int doc_pdf_page_count(const char *in_pdf, const convert_limits *lim_in, int *pages, char *err, size_t errlen)
{
    convert_limits lim = effective_limits(lim_in);
    char exe[PATH_MAX], abs_pdf[PATH_MAX];
    if (pages) *pages = 0;
    if (input_path(in_pdf, abs_pdf, err, errlen) != 0) return -1;
    if (resolve_program(lim.gs_path, exe, sizeof exe, err, errlen) != 0) return -1;
    int n = 0;
    if (count_pages_with(exe, abs_pdf, &lim, &n, err, errlen) != 0) return -1;
    if (pages) *pages = n;
    return 0;
}

/* ---- rendering ---- */

typedef struct render_job {
    const char *exe, *abs_pdf;
    fax_resolution res;
    paper_size paper;
    const convert_limits *lim;
} render_job;

static int render_args(const render_job *job, int first, int last, gs_args *a)
{
    char ps_path[2 * PATH_MAX + 16];
    if (ps_string_body(job->abs_pdf, ps_path, sizeof ps_path) != 0) return -1;
    return args_add(a, "%s", job->exe) || args_add(a, "-q") || args_add(a, "-dSAFER") ||
           args_add(a, "-dBATCH") || args_add(a, "-dNOPAUSE") || args_add(a, "-dNOINTERPOLATE") ||
           args_add(a, "-sDEVICE=tiffg3") ||
           args_add(a, "%s", job->res == RES_FINE ? "-r204x196" : "-r204x98") ||
           args_add(a, "-dFIXEDMEDIA") ||
           args_add(a, "-sPAPERSIZE=%s", job->paper == PAPER_A4 ? "a4" : "letter") ||
           args_add(a, "-dPDFFitPage") || args_add(a, "-dFirstPage=%d", first) ||
           args_add(a, "-dLastPage=%d", last) || args_add(a, "-sOutputFile=out.tif") ||
           args_add(a, "--permit-file-read=%s", job->abs_pdf) || args_add(a, "-c") ||
           args_add(a, "(%s) (r) file runpdf", ps_path)
        ? -1 : 0;
}

/* Pages in a TIFF Ghostscript wrote (0 if it wrote none). */
static int rendered_pages(const char *path)
{
    if (file_size(path) <= 0) return 0;
    doc_tiff_log log;
    TIFF *tif = doc_tiff_open(path, "r", &log);
    if (!tif) return 0;
    int n = TIFFNumberOfDirectories(tif);
    TIFFClose(tif);
    return n;
}

static int render_chunks(const render_job *job, int total, int nchunks, const char *out_tiff, int *pages,
                         char *err, size_t errlen)
{
    gs_run *runs = calloc((size_t)nchunks, sizeof *runs);
    gs_args *args = calloc(1, sizeof *args);
    char (*outs)[PATH_MAX + 16] = calloc((size_t)nchunks, sizeof *outs);
    const char **inputs = calloc((size_t)nchunks, sizeof *inputs);
    int rc = -1, started = 0;
    if (!runs || !args || !outs || !inputs) { str_fmt(err, errlen, "out of memory"); goto out; }
    for (int i = 0; i < nchunks; i++) run_init(&runs[i]);

    int base = total / nchunks, extra = total % nchunks, first = 1;
    for (int i = 0; i < nchunks; i++) {
        int count = base + (i < extra ? 1 : 0), last = first + count - 1;
        memset(args, 0, sizeof *args);
        if (render_args(job, first, last, args) != 0) { str_fmt(err, errlen, "the PDF path is too long"); break; }
        if (make_scratch(&runs[i], job->lim->tmp_dir, err, errlen) != 0) break;
        if (run_start(&runs[i], job->exe, args, job->lim, err, errlen) != 0) break;
        str_fmt(outs[i], sizeof outs[i], "%s/out.tif", runs[i].scratch);
        started++;
        first = last + 1;
    }
    if (started < nchunks) {               /* could not start them all: stop the others */
        for (int i = 0; i < started; i++) { runs[i].cancelled = true; run_kill(&runs[i]); }
        goto out;
    }
    runs_wait(runs, nchunks, job->lim->timeout_s);
    for (int i = 0; i < nchunks; i++) if (runs[i].timed_out) { run_outcome(&runs[i], job->lim, err, errlen); goto out; }
    for (int i = 0; i < nchunks; i++)
        if (!runs[i].cancelled && run_outcome(&runs[i], job->lim, err, errlen) != 0) goto out;

    int rendered = 0, with_pages = 0;
    char complaint[COMPLAINT_MAX] = "";
    for (int i = 0; i < nchunks; i++) {
        int n = rendered_pages(outs[i]);
        rendered += n;
        if (n > 0) inputs[with_pages++] = outs[i];
        if (!complaint[0]) run_complaint(&runs[i], complaint, sizeof complaint);
    }
    if (rendered == 0) {
        str_fmt(err, errlen, "the PDF has no pages that could be rendered%s%s", complaint[0] ? ": " : "",
                complaint);
        goto out;
    }
    if (rendered != total) {
        str_fmt(err, errlen, "only %d of the %d pages of the PDF could be rendered%s%s", rendered, total,
                complaint[0] ? ": " : "", complaint);
        goto out;
    }
    if (doc_tiff_copy_fax_pages(inputs, with_pages, out_tiff, pages, err, errlen) != 0) goto out;
    rc = 0;
out:
    if (runs) for (int i = 0; i < nchunks; i++) run_cleanup(&runs[i]);
    free(runs);
    free(args);
    free(outs);
    free(inputs);
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

    int total = 0;
    if (count_pages_with(exe, abs_pdf, &lim, &total, err, errlen) != 0) return -1;
    if (total > lim.max_pages) {
        str_fmt(err, errlen, "the document has %d pages; the limit is %d", total, lim.max_pages);
        return -1;
    }
    int nchunks = 1;
    if (total >= 4 && lim.parallel > 1) nchunks = lim.parallel < total ? lim.parallel : total;
    render_job job = { exe, abs_pdf, res, paper, &lim };
    int n = 0;
    if (render_chunks(&job, total, nchunks, out_tiff, &n, err, errlen) != 0) return -1;
    if (pages) *pages = n;
    return 0;
}
