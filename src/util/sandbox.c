/* sandbox.c — the one way the gateway starts a helper that reads untrusted input
 * (see sandbox.h). Everything the child needs — the absolute program path, the
 * environment strings, /dev/null — is prepared before fork; after fork only
 * async-signal-safe calls are made, because another thread may hold malloc's or
 * stdio's lock at the moment of the fork. */
#include "util/sandbox.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_MAX_ENV 24

/* Locale and time zone shape text output; the sanitizer and fontconfig variables
 * only steer the tools themselves. None of them carries a secret. */
const char *const sandbox_passed_env[] = {
    "LANG", "LC_ALL", "LC_CTYPE", "TZ",
    "FONTCONFIG_FILE", "FONTCONFIG_PATH",
    "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS",
    NULL,
};

int sandbox_resolve(const char *name, char *out, size_t outlen)
{
    if (!name || !name[0]) return -1;
    if (strchr(name, '/')) {
        char real[PATH_MAX];
        if (access(name, X_OK) != 0 || !realpath(name, real)) return -1;
        return str_copy(out, outlen, real);
    }
    const char *path = getenv("PATH");
    if (!path || !path[0]) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
        if (dlen > 0 && str_fmt(out, outlen, "%.*s/%s", (int)dlen, path, name) == 0 && access(out, X_OK) == 0)
            return 0;
        path += dlen + (colon ? 1 : 0);
    }
    return -1;
}

typedef struct env_block {
    char *strings[SANDBOX_MAX_ENV + 1];
    int n;
} env_block;

static int env_add(env_block *e, const char *name, const char *value)
{
    if (e->n >= SANDBOX_MAX_ENV) return 0;
    char *s = NULL;
    if (asprintf(&s, "%s=%s", name, value) < 0) return -1;
    e->strings[e->n++] = s;
    e->strings[e->n] = NULL;
    return 0;
}

static void env_free(env_block *e)
{
    for (int i = 0; i < e->n; i++) free(e->strings[i]);
    e->n = 0;
    e->strings[0] = NULL;
}

static int env_build(env_block *e, const char *workdir)
{
    e->n = 0;
    e->strings[0] = NULL;
    const char *sys_path = getenv("PATH");
    const char *home = workdir ? workdir : "/";
    const char *tmp = workdir ? workdir : "/tmp";
    if (env_add(e, "PATH", sys_path && sys_path[0] ? sys_path : "/usr/bin:/bin") ||
        env_add(e, "HOME", home) || env_add(e, "TMPDIR", tmp))
        return -1;
    for (const char *const *name = sandbox_passed_env; *name; name++) {
        const char *v = getenv(*name);
        if (v && env_add(e, *name, v)) return -1;
    }
    return 0;
}

static void set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = { soft, hard };
    setrlimit(resource, &rl);
}

static void child_say(const char *msg)
{
    size_t len = 0;
    while (msg[len]) len++;
    ssize_t ignored = write(2, msg, len);
    (void)ignored;
}

/* After fork: async-signal-safe calls only. The three descriptors are first moved
 * above 2, so a caller's descriptor that happens to be 0, 1 or 2 is not clobbered
 * by the dup2 of another. */
static _Noreturn void child_exec(const sandbox_spec *s, int fds[3], char *const envp[])
{
    static const char exec_failed[] = "the program could not be executed\n",
                      exec_nomem[] = "not enough memory to load it (memory limit too low?)\n",
                      exec_denied[] = "permission denied\n";
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (s->cpu_s > 0) set_limit(RLIMIT_CPU, (rlim_t)s->cpu_s, (rlim_t)s->cpu_s + 2);
    if (s->memory_bytes > 0) set_limit(RLIMIT_AS, s->memory_bytes, s->memory_bytes);
    if (s->fsize_bytes > 0) set_limit(RLIMIT_FSIZE, s->fsize_bytes, s->fsize_bytes);
    set_limit(RLIMIT_CORE, 0, 0);
    if (chdir(s->workdir ? s->workdir : "/") != 0) _exit(126);
    int high[3];
    for (int i = 0; i < 3; i++)
        if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0) _exit(126);
    for (int i = 0; i < 3; i++)
        if (dup2(high[i], i) < 0) _exit(126);
    close_range(3, ~0U, 0);
    execve(s->exe, s->argv, envp);
    child_say(errno == ENOMEM || errno == E2BIG ? exec_nomem : errno == EACCES ? exec_denied : exec_failed);
    _exit(127);
}

int sandbox_start(sandbox_proc *p, const sandbox_spec *s, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->pidfd = -1;
    if (!s->exe || s->exe[0] != '/') {
        str_fmt(err, errlen, "the program path must be absolute");
        return -1;
    }
    env_block env = { .n = 0 };
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || env_build(&env, s->workdir) != 0) {
        str_fmt(err, errlen, "cannot prepare the sandbox: %s", strerror(errno));
        if (devnull >= 0) close(devnull);
        env_free(&env);
        return -1;
    }
    int fds[3] = { s->stdin_fd >= 0 ? s->stdin_fd : devnull, s->stdout_fd >= 0 ? s->stdout_fd : devnull,
                   s->stderr_fd >= 0 ? s->stderr_fd : devnull };
    pid_t pid = fork();
    if (pid == 0) child_exec(s, fds, env.strings);
    int fork_errno = errno;
    close(devnull);
    env_free(&env);
    if (pid < 0) {
        str_fmt(err, errlen, "cannot start %s: %s", s->exe, strerror(fork_errno));
        return -1;
    }
    setpgid(pid, pid);          /* also from here, so a kill never races the child's own call */
    p->pid = pid;
    p->started = true;
    p->pidfd = pidfd_open(pid, 0);
    return 0;
}

void sandbox_reap(sandbox_proc *p)
{
    if (!p->started || p->finished) return;
    pid_t got = waitpid(p->pid, &p->status, WNOHANG);
    if (got == p->pid) {
        p->finished = true;
        kill(-p->pid, SIGKILL);         /* leftovers in its group, if any */
    } else if (got < 0 && errno != EINTR) {
        p->finished = p->lost = true;
    }
}

void sandbox_kill(sandbox_proc *p)
{
    if (!p->started || p->finished) return;
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {}
    p->finished = true;
}

bool sandbox_wait(sandbox_proc *p, int64_t deadline_ms)
{
    for (;;) {
        sandbox_reap(p);
        if (!p->started || p->finished) return true;
        int64_t left = deadline_ms - mono_ms();
        if (left <= 0) { sandbox_kill(p); return false; }
        if (p->pidfd < 0 && left > 10) left = 10;       /* nothing to wake us: look again soon */
        if (left > INT_MAX) left = INT_MAX;
        struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
        poll(&pfd, p->pidfd >= 0 ? 1 : 0, (int)left);
    }
}

void sandbox_close(sandbox_proc *p)
{
    sandbox_kill(p);
    if (p->pidfd >= 0) close(p->pidfd);
    p->pidfd = -1;
}

bool sandbox_succeeded(const sandbox_proc *p)
{
    return p->finished && !p->lost && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}
