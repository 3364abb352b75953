"""conftest.py — fixtures for the black-box API tests of the faxbot server and CLI.

The tests start the real binary ($FAXBOT_BIN, default <repo>/build/faxbot) as
`faxbot serve --listen 127.0.0.1:PORT` with its own temp FAX_DATA_DIR and
talk to it over HTTP on 127.0.0.1 only.  The `server` fixture is a factory:

    srv = server(API_KEY="k", FAX_WORKERS="1")
    srv.get("/fax", key="k")            # requests.Response
    srv.restart(); srv.kill9(); srv.stderr_text()

At teardown every server gets SIGTERM (SIGKILL after 10 s).  When
FAXBOT_SANITIZED=1 (the ASan+UBSan run) a sanitizer report in a server's
stderr fails the test.  A missing binary fails every test loudly.

FAXBOT_TEST_DB=pg (`make test-pg`) runs every server on PostgreSQL instead of
SQLite: each server gets a database of its own in one real PostgreSQL 15 cluster
(tests/peers/pg.py; the one in $FAXBOT_TEST_PG_DIR when set, else one per test
worker). Tests that look inside the SQLite file are marked @pytest.mark.sqlite_only
and skip, loudly, there. The `pg_cluster` fixture gives PostgreSQL tests a cluster
whatever FAXBOT_TEST_DB says.

FAXBOT_TEST_STORAGE=s3 (`make test-pg-s3`, with FAXBOT_TEST_DB=pg) runs every
server on STORAGE_BACKEND=s3 against one tests/peers/s3_peer.py per test worker
(it verifies every request's Signature V4 and checksums), each server under a
prefix of its own, uploads of 5 MiB or more in parts. A server whose test sets
STORAGE_BACKEND itself keeps it. Tests that depend on the files under FAX_DATA_DIR
being the only copy are marked @pytest.mark.local_storage_only and skip, loudly.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import SANITIZER_MARKERS, sanitized  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
import pg as pgpeer  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Variables the server or CLI read; never inherited from the caller's shell so
# that every test sees exactly the configuration it asks for.
_CONFIG_PREFIXES = ("FAX", "API_KEY", "REQUIRE_API_KEY", "MAX_", "AUDIT_", "PDF_TOKEN",
                    "LOOPBACK_", "PUBLIC_API_URL", "INBOUND_", "PHAXIO", "SINCH", "SIGNALWIRE",
                    "ASTERISK", "FREESWITCH", "STORAGE_", "S3_", "AWS_", "DATABASE_URL", "ARTIFACT_",
                    "WEBHOOK_", "SSE_", "EVENTS_")
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


def on_pg():
    """True when the servers run on PostgreSQL (FAXBOT_TEST_DB=pg)."""
    return os.environ.get("FAXBOT_TEST_DB", "").lower() in ("pg", "postgres", "postgresql")


def on_s3():
    """True when the servers store artifacts in S3 (FAXBOT_TEST_STORAGE=s3)."""
    return os.environ.get("FAXBOT_TEST_STORAGE", "").lower() == "s3"


_S3 = None
S3_SUITE_BUCKET = "faxbot-suite"


def shared_s3():
    """The S3 stand-in of this test process (started on first use)."""
    global _S3
    if _S3 is None:
        import atexit
        import secrets
        from s3_peer import S3Peer
        _S3 = S3Peer("AKIDSUITE" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30),
                     keep_requests=False).start()
        atexit.register(_S3.stop)
    return _S3


_PG = None


def shared_pg():
    """The PostgreSQL cluster of this test process: $FAXBOT_TEST_PG_DIR's, or one
    started on first use and stopped at exit. Fails loudly when not installed."""
    global _PG
    if _PG is None:
        if not pgpeer.available():
            pytest.fail(f"PostgreSQL 15 is not installed ({pgpeer.pg_bin_dir()}): "
                        "apt-get install postgresql-15", pytrace=False)
        given = os.environ.get("FAXBOT_TEST_PG_DIR")
        if given:
            _PG = pgpeer.PgCluster(given)
        else:
            import atexit
            _PG = pgpeer.PgCluster.start()
            atexit.register(_PG.stop)
    return _PG


def faxbot_bin():
    path = os.environ.get("FAXBOT_BIN") or os.path.join(REPO_ROOT, "build", "faxbot")
    return os.path.abspath(path)


def base_env():
    """The caller's environment minus faxbot configuration and proxies."""
    env = {}
    for k, v in os.environ.items():
        if k.startswith(_CONFIG_PREFIXES) or k.lower() in _PROXY_VARS:
            continue
        env[k] = v
    return env


def check_binary():
    path = faxbot_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"faxbot binary not found or not executable: {path} "
                    f"(build it with `make build` or set FAXBOT_BIN)", pytrace=False)
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Server:
    """One faxbot server process (and its restarts) on one data dir."""

    START_TIMEOUT = 20.0

    def __init__(self, workdir, env_overrides):
        self.binary = check_binary()
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.env = base_env()
        self.env["FAX_DATA_DIR"] = self.data_dir
        self.env["FAX_RETRY_BASE_SECONDS"] = "1"
        if on_pg() and "DATABASE_URL" not in env_overrides:      # (DATABASE_URL=None: SQLite all the same)
            self.env["DATABASE_URL"] = shared_pg().create_database()
        self.s3_prefix = None
        if on_s3() and "STORAGE_BACKEND" not in env_overrides:
            peer = shared_s3()
            self.s3_prefix = f"{os.path.basename(workdir)}-{os.urandom(4).hex()}/"
            self.env.update(STORAGE_BACKEND="s3", S3_BUCKET=S3_SUITE_BUCKET, S3_PREFIX=self.s3_prefix,
                            S3_ENDPOINT_URL=peer.url, AWS_ACCESS_KEY_ID=peer.access_key,
                            AWS_SECRET_ACCESS_KEY=peer.secret, S3_MULTIPART_THRESHOLD_MB="5",
                            S3_MULTIPART_PART_SIZE_MB="5")
        for k, v in env_overrides.items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = str(v)
        self.port = free_port()
        self.proc = None
        self.runs = 0
        self.stderr_paths = []
        self.session = None
        self.exit_codes = []

    # -- lifecycle -----------------------------------------------------------
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, expect_ready=True):
        if not port_is_free(self.port):
            self.port = free_port()
        self.runs += 1
        err_path = os.path.join(self.workdir, f"server-{self.runs}.stderr")
        self.stderr_paths.append(err_path)
        with open(err_path, "wb") as err, open(os.devnull, "rb") as devnull:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"],
                env=self.env, cwd=self.workdir, stdin=devnull, stdout=err, stderr=err,
                start_new_session=True)
        self.session = requests.Session()
        self.session.trust_env = False  # never a proxy: 127.0.0.1 only
        if expect_ready:
            self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + self.START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"faxbot serve exited with code {self.proc.returncode} before "
                            f"answering /health; stderr:\n{self.stderr_text()}", pytrace=False)
            try:
                r = self.session.get(self.url + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        pytest.fail(f"faxbot serve did not answer GET /health with 200 within "
                    f"{self.START_TIMEOUT:.0f} s (last: {last}); stderr:\n{self.stderr_text()}",
                    pytrace=False)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append("SIGKILL after SIGTERM timeout")
            return None
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill9(self):
        """kill -9 the server process only (children such as gs are left, as in a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.session is not None:
            self.session.close()

    def restart(self, **env_overrides):
        self.stop()
        for k, v in env_overrides.items():
            self.env[k] = str(v)
        return self.start()

    def cleanup_children(self):
        """Kill what is left of the process groups we started (gs children, etc.)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stderr_text(self):
        out = []
        for i, p in enumerate(self.stderr_paths, start=1):
            try:
                with open(p, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            if len(self.stderr_paths) > 1:
                out.append(f"----- run {i} -----\n")
            out.append(text)
        return "".join(out)

    # -- HTTP helpers -------------------------------------------------------
    def request(self, method, path, key=None, headers=None, timeout=30, **kw):
        h = dict(headers or {})
        if key is not None:
            h["X-API-Key"] = key
        return self.session.request(method, self.url + path, headers=h, timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def _server_factory(base_dir):
    started = []

    def make(expect_ready=True, **env):
        workdir = tempfile.mkdtemp(prefix=f"srv{len(started)}-", dir=str(base_dir))
        srv = Server(workdir, env)
        started.append(srv)
        return srv.start(expect_ready=expect_ready)

    return make, started


def _stop_all(started):
    problems = []
    for srv in started:
        srv.stop()
        srv.cleanup_children()
        if srv.session is not None:
            srv.session.close()
        if srv.s3_prefix:
            shared_s3().drop_prefix(S3_SUITE_BUCKET, srv.s3_prefix)
        if sanitized():
            text = srv.stderr_text()
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    problems.append(f"sanitizer report ({marker!r}) in server stderr:\n{text[-8000:]}")
                    break
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def server(tmp_path):
    """Factory: server(**env) starts a faxbot server and returns a Server."""
    make, started = _server_factory(tmp_path)
    yield make
    _stop_all(started)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """Like `server`, but the servers live for the whole test module."""
    make, started = _server_factory(tmp_path_factory.mktemp("modsrv"))
    yield make
    _stop_all(started)


@pytest.fixture
def pg_cluster():
    """A real PostgreSQL 15 (see shared_pg); skips loudly when it is not installed."""
    if not pgpeer.available():
        pytest.skip(f"SKIPPED LOUDLY: PostgreSQL 15 is not installed ({pgpeer.pg_bin_dir()})")
    return shared_pg()


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: looks inside the SQLite file; skipped with FAXBOT_TEST_DB=pg")
    config.addinivalue_line("markers", "local_storage_only(reason): needs the files under FAX_DATA_DIR to be the "
                                       "only copy; skipped with FAXBOT_TEST_STORAGE=s3")


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="SKIPPED on PostgreSQL (FAXBOT_TEST_DB=pg): the test looks inside the SQLite file")
    for item in items:
        if on_pg() and item.get_closest_marker("sqlite_only"):
            item.add_marker(skip_pg)
        mark = item.get_closest_marker("local_storage_only")
        if on_s3() and mark:
            why = mark.args[0] if mark.args else "the test needs local storage"
            item.add_marker(pytest.mark.skip(reason=f"SKIPPED on S3 storage (FAXBOT_TEST_STORAGE=s3): {why}"))


@pytest.fixture
def cli_env():
    """Environment for running the CLI (no faxbot config or proxies inherited)."""
    return base_env()


def pytest_report_header(config):
    path = faxbot_bin()
    state = "found" if os.path.isfile(path) else "MISSING"
    return [f"faxbot binary: {path} ({state}); sanitized={sanitized()}; gs={shutil.which('gs')}; "
            f"database={'PostgreSQL' if on_pg() else 'SQLite'}; storage={'S3 (stand-in)' if on_s3() else 'local'}"]
