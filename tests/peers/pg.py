#!/usr/bin/python3
"""pg.py — a real PostgreSQL 15 for the tests, in a temporary directory.

Debian's postgresql-15 server (initdb + pg_ctl from /usr/lib/postgresql/15/bin, or
$FAXBOT_PG_BIN) runs on a Unix socket only (no TCP port to collide with), with
trust authentication for the one superuser "faxbot". initdb refuses to run as
root, so when the tests run as root the cluster belongs to an unprivileged user
(nobody, or $FAXBOT_PG_USER) and the server runs as that user through runuser.

As a library:
    pg = PgCluster.start()           # or PgCluster.start(base_dir)
    url = pg.create_database()       # a fresh database: postgresql:///db?host=…&user=faxbot
    pg.sql("SELECT 1", db="postgres")
    pg.restart(gap=2.0)              # stop, wait, start (a server restart mid-load)
    pg.stop()

As a command: runs a command with a cluster up and FAXBOT_TEST_PG_URL (a database
of its own) and FAXBOT_TEST_PG_DIR (the cluster) in its environment, then stops it:
    tests/peers/pg.py run -- build/tests/unit/store/test_store_sqlite --pg
Exit 77 (a skip, for meson) with a loud message when PostgreSQL is not installed.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

SUPERUSER = "faxbot"


def pg_bin_dir():
    return os.environ.get("FAXBOT_PG_BIN") or "/usr/lib/postgresql/15/bin"


def available():
    d = pg_bin_dir()
    return all(os.access(os.path.join(d, p), os.X_OK) for p in ("initdb", "pg_ctl", "postgres"))


def psql_path():
    p = os.path.join(pg_bin_dir(), "psql")
    return p if os.access(p, os.X_OK) else shutil.which("psql")


class PgCluster:
    def __init__(self, base):
        self.base = base
        self.data = os.path.join(base, "data")
        self.sock = base                      # the socket lives next to the data
        self.log = os.path.join(base, "server.log")
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = os.environ.get("FAXBOT_PG_USER", "nobody")

    # -- running the server's tools as its owner ---------------------------
    def _cmd(self, args):
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--"] + args
        return args

    def _run(self, args, **kw):
        return subprocess.run(self._cmd(args), check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, **kw)

    @classmethod
    def start(cls, base_dir=None):
        if not available():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({pg_bin_dir()}): "
                               "apt-get install postgresql-15")
        base = tempfile.mkdtemp(prefix="faxbot-pg-", dir=base_dir)
        os.chmod(base, 0o700)
        pg = cls(base)
        if pg.run_as:
            pw = pwd.getpwnam(pg.run_as)
            os.chown(base, pw.pw_uid, pw.pw_gid)
        bind = os.path.join(pg_bin_dir(), "initdb")
        try:
            pg._run([bind, "-D", pg.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync"])
        except subprocess.CalledProcessError as e:
            raise RuntimeError("initdb failed:\n" + e.stdout.decode(errors="replace")) from e
        with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
            f.write("\n# faxbot tests: a Unix socket only, small and fast (fsync off: a test cluster)\n"
                    f"listen_addresses = ''\nunix_socket_directories = '{pg.sock}'\n"
                    "max_connections = 200\nshared_buffers = 16MB\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\n")
        pg._start()
        return pg

    def _start(self):
        try:
            self._run([os.path.join(pg_bin_dir(), "pg_ctl"), "-D", self.data, "-l", self.log,
                       "-w", "-t", "30", "start"])
        except subprocess.CalledProcessError as e:
            raise RuntimeError("pg_ctl start failed:\n" + e.stdout.decode(errors="replace")
                               + self.log_text()) from e

    def _stop(self, mode="fast"):
        subprocess.run(self._cmd([os.path.join(pg_bin_dir(), "pg_ctl"), "-D", self.data,
                                  "-m", mode, "-w", "-t", "30", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def restart(self, gap=0.0, mode="fast"):
        """Stops the server (existing connections are cut), waits gap seconds, starts it."""
        self._stop(mode)
        if gap > 0:
            time.sleep(gap)
        self._start()

    def stop(self):
        self._stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- databases ----------------------------------------------------------
    def url(self, db="postgres"):
        return f"postgresql:///{db}?host={self.sock}&user={SUPERUSER}"

    def sql(self, statement, db="postgres"):
        """Runs one statement with psql; returns its rows as lists of strings."""
        out = subprocess.run([psql_path(), "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-d", self.url(db), "-c", statement],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        text = out.stdout.decode()
        return [line.split("\t") for line in text.splitlines() if line != ""]

    def create_database(self, name=None):
        name = name or "t_" + uuid.uuid4().hex[:16]
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    if not available():
        print(f"SKIPPED LOUDLY: PostgreSQL 15 is not installed ({pg_bin_dir()}); "
              "apt-get install postgresql-15 to run the PostgreSQL tests", file=sys.stderr)
        return 77
    pg = PgCluster.start()
    try:
        env = dict(os.environ)
        env["FAXBOT_TEST_PG_URL"] = pg.create_database()
        env["FAXBOT_TEST_PG_DIR"] = pg.base
        return subprocess.run(cmd, env=env).returncode
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
