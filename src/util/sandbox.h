/* sandbox.h — starting an untrusted-input helper program (Ghostscript, faxbot-render)
 * the one safe way: the program is resolved to an absolute path in the parent, the
 * child gets a minimal environment (PATH, HOME and TMPDIR pointing at its scratch
 * directory, plus a short list of harmless variables — never API keys or provider
 * secrets), no file descriptor but 0, 1 and 2 (close_range), its own process group,
 * CPU/memory/file-size/core limits, and only async-signal-safe calls between fork
 * and execve (the gateway is threaded). The parent waits with a pidfd and poll
 * against a wall-clock deadline and kills the whole group when it passes. */
#ifndef FAXBOT_SANDBOX_H
#define FAXBOT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sandbox_spec {
    const char *exe;            /* absolute path (sandbox_resolve) */
    char *const *argv;          /* argv[0] is shown to the program; NULL-terminated */
    const char *workdir;        /* cwd, HOME and TMPDIR of the child; NULL: "/" and /tmp */
    int stdin_fd;               /* -1: /dev/null */
    int stdout_fd;              /* -1: /dev/null */
    int stderr_fd;              /* -1: /dev/null */
    long cpu_s;                 /* RLIMIT_CPU (hard limit 2 s more); 0: none */
    size_t memory_bytes;        /* RLIMIT_AS; 0: none (sanitizer builds need that) */
    size_t fsize_bytes;         /* RLIMIT_FSIZE; 0: none */
} sandbox_spec;

typedef struct sandbox_proc {
    pid_t pid;
    int pidfd;                  /* -1 where pidfd_open is not available */
    int status;                 /* waitpid status once finished */
    bool started, finished, lost;
} sandbox_proc;

/* The variables a sandboxed child may inherit (besides PATH, HOME, TMPDIR). */
extern const char *const sandbox_passed_env[];

/* name → absolute path of an executable (a name with a slash is checked as is,
 * else looked up in PATH). 0, or -1 when there is none. */
int sandbox_resolve(const char *name, char *out, size_t outlen);

/* Starts the child; 0, or -1 with the reason in err. The caller's descriptors in
 * spec stay the caller's to close. */
int sandbox_start(sandbox_proc *p, const sandbox_spec *spec, char *err, size_t errlen);

/* Reaps the child if it has ended; never blocks. */
void sandbox_reap(sandbox_proc *p);

/* SIGKILLs the child's process group and waits for it. */
void sandbox_kill(sandbox_proc *p);

/* Waits until the child ends or deadline_ms (mono_ms clock) passes, then kills it.
 * true when it ended by itself. */
bool sandbox_wait(sandbox_proc *p, int64_t deadline_ms);

/* Kills a child still running and closes the pidfd. */
void sandbox_close(sandbox_proc *p);

/* Ended by itself with exit status 0. */
bool sandbox_succeeded(const sandbox_proc *p);

#endif
