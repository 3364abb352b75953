"""ast_real.py — runs real Asterisk 22.10.1 instances (the shared relocatable build in
../shared/peers/asterisk, or $FAXBOT_ASTERISK_PEER_DIR) for the interop tests.

    root = locate_build()              # None: the build is absent (the test skips loudly)
    binary = unpack(root)              # unpack.sh into a temp dir, once per machine user
    ast = AstInstance(binary, workdir, "pbx", files={"pjsip.conf": ..., ...})
    ast.start(); ast.rx("core show channels"); ast.stop()

Each instance gets its own directory (asterisk.conf names every directory, see the
build's README), its own SIP, AMI, RTP and UDPTL ports on 127.0.0.1, and runs in the
foreground (-f) as a child of the test. AmiConn is a minimal Manager Interface client
(CRLF framing, one blank line per message) used to read events."""

import os
import select
import signal
import socket
import subprocess
import tempfile
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARBALL = "asterisk-22.10.1-debian12-amd64.tar.xz"


def build_dir():
    env = os.environ.get("FAXBOT_ASTERISK_PEER_DIR")
    return os.path.abspath(env) if env else os.path.abspath(os.path.join(REPO_ROOT, "..", "shared", "peers",
                                                                          "asterisk"))


def locate_build():
    """The directory holding unpack.sh and the tarball, or None."""
    d = build_dir()
    if os.path.isfile(os.path.join(d, "unpack.sh")) and os.path.isfile(os.path.join(d, TARBALL)):
        return d
    return None


def unpack(d):
    """Unpacks the build (idempotent, serialized by unpack.sh's flock); returns the binary."""
    dest = os.path.join(tempfile.gettempdir(), f"faxbot-test-asterisk-22.10.1-{os.getuid()}", "asterisk")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    p = subprocess.run([os.path.join(d, "unpack.sh"), dest], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"unpack.sh {dest} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout.strip().splitlines()[-1]


# -- ports: the same helpers as the FreeSWITCH harness -------------------------------

from fs_real import free_tcp_port, free_udp_port  # noqa: E402,F401  (re-exported for the tests)
from fs_real import rtp_range as port_range  # noqa: E402,F401  (an even range, for RTP or UDPTL)


# -- the Manager Interface -----------------------------------------------------------

class AmiConn:
    """One AMI session: login, actions, events (each message a dict; repeated keys keep the last)."""

    def __init__(self, port, user, secret, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.events = []
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        banner, self.buf = self.buf.split(b"\r\n", 1)
        if not banner.startswith(b"Asterisk Call Manager"):
            raise RuntimeError(f"not an AMI banner: {banner!r}")
        r = self.action({"Action": "Login", "Username": user, "Secret": secret})
        if r.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("AMI: nothing within the time")
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("AMI: nothing within the time")
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("AMI closed")
        self.buf += data

    def read_msg(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        msg = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                msg[k.strip()] = v.strip()
        return msg

    _seq = 0

    def action(self, fields, timeout=15.0):
        AmiConn._seq += 1
        aid = f"t{AmiConn._seq}"
        text = "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + f"ActionID: {aid}\r\n\r\n"
        self.sock.sendall(text.encode())
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read_msg(max(0.01, deadline - time.monotonic()))
            if msg.get("ActionID") == aid and "Response" in msg:
                return msg
            if "Event" in msg:
                self.events.append(msg)

    def wait_event(self, pred, timeout):
        """The first event (seen before or arriving within timeout) for which pred is true."""
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.events):
                if pred(self.events[i]):
                    return self.events[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = self.read_msg(left)
            except TimeoutError:
                return None
            if "Event" in msg:
                self.events.append(msg)


# -- one Asterisk ----------------------------------------------------------------------

LOGGER_CONF = """[general]
dateformat = %F %T.%3q
[logfiles]
messages.log => notice,warning,error,verbose(3)
"""


class AstInstance:
    """One Asterisk process with its own directory under workdir. `files` maps a config
    file name to its text; asterisk.conf and logger.conf are written here."""

    def __init__(self, binary, workdir, name, files):
        self.binary = binary
        self.root = os.path.dirname(os.path.dirname(binary))
        self.dir = os.path.join(workdir, name)
        self.name = name
        self.proc = None
        t = self.dir
        for sub in ("etc", "run", "log", "lib", "lib/keys", "spool", "cache"):
            os.makedirs(os.path.join(t, sub), exist_ok=True)
        self.conf = os.path.join(t, "etc", "asterisk.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[directories]
astmoddir => {self.root}/lib/asterisk/modules
astdatadir => {self.root}/var/lib/asterisk
astetcdir => {t}/etc
astrundir => {t}/run
astlogdir => {t}/log
astspooldir => {t}/spool
astvarlibdir => {t}/lib
astdbdir => {t}/lib
astkeydir => {t}/lib
astcachedir => {t}/cache

[options]
verbose = 3
""")
        files = dict(files)
        files.setdefault("logger.conf", LOGGER_CONF)
        for fname, text in files.items():
            self.write(fname, text)

    def write(self, fname, text):
        with open(os.path.join(self.dir, "etc", fname), "w") as f:
            f.write(text.replace("@T@", self.dir))

    @property
    def log_path(self):
        return os.path.join(self.dir, "log", "messages.log")

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout_text(self):
        try:
            with open(os.path.join(self.dir, "stdout.txt"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def launch(self):
        """Starts the process in the foreground (a child of the test) and returns at once."""
        out = open(os.path.join(self.dir, "stdout.txt"), "wb")
        self.proc = subprocess.Popen([self.binary, "-f", "-C", self.conf], stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        return self

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Asterisk {self.name} exited with {self.proc.returncode}:\n"
                                   f"{self.stdout_text()[-3000:]}\n{self.log_text()[-3000:]}")
            p = subprocess.run([self.binary, "-C", self.conf, "-rx", "core waitfullybooted"], capture_output=True,
                               text=True, timeout=30)
            if "fully booted" in p.stdout:
                return self
            last = p.stdout + p.stderr
            time.sleep(0.1)
        raise RuntimeError(f"Asterisk {self.name} not booted in {timeout:.0f} s ({last.strip()}):\n"
                           f"{self.log_text()[-3000:]}")

    def start(self, timeout=30.0):
        return self.launch().wait_ready(timeout)

    def rx(self, cmd, timeout=30):
        """One CLI command (asterisk -rx); its output."""
        p = subprocess.run([self.binary, "-C", self.conf, "-rx", cmd], capture_output=True, text=True,
                           timeout=timeout)
        return p.stdout + p.stderr

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.rx("core stop now", timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def error_lines(self):
        """ERROR lines of the log, except the harmless ones of modules left without a config."""
        harmless = ("Unable to load config", "declined to load", "No such file", "configuration file",
                    "Configuration file", "Declined modules", "res_pjsip_outbound_publish",
                    "res_hep", "cdr", "cel", "res_config", "app_voicemail", "res_stasis", "ari",
                    "res_pjsip_phoneprov", "res_phoneprov", "chan_iax2", "res_calendar", "res_xmpp",
                    "res_smdi", "res_musiconhold", "res_parking", "res_prometheus", "res_statsd",
                    "chan_unistim", "chan_skinny", "chan_mgcp", "res_pktccops", "app_queue", "res_http",
                    "chan_console", "res_geolocation", "res_aeap", "res_speech", "res_pjsip_notify",
                    "codec_", "format_", "pbx_ael", "pbx_lua", "res_fax.c: No fax modules")
        return [ln for ln in self.log_text().splitlines()
                if "ERROR[" in ln and not any(h in ln for h in harmless)]
