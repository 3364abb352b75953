"""fs_real.py — runs real FreeSWITCH 1.10.12 instances (the shared relocatable build in
../shared/peers/freeswitch, or $FAXBOT_FREESWITCH_PEER_DIR) for the interop tests.

    root = locate_build()             # None: the build is absent (the test skips loudly)
    binary = unpack(root)             # unpack.sh into a temp dir, once per machine user
    fs = FsInstance(binary, workdir, "pbx", conf_xml=...)  # FsInstance.ports() first
    fs.start(); fs.api("status"); fs.stop()

Each instance gets its own directory (every FreeSWITCH directory is given on the
command line, see the build's README), its own SIP, event-socket and RTP ports on
127.0.0.1, and runs in the foreground (-nc -nf) as a child of the test. EslConn is a
minimal Event Socket client (LF framing, Content-Length bodies), used for `api`
commands and to read events; TcpCutter is a TCP relay the test can cut to take the
gateway's event socket away in the middle of a call."""

import os
import random
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARBALL = "freeswitch-1.10.12-debian12-amd64.tar.xz"


def build_dir():
    env = os.environ.get("FAXBOT_FREESWITCH_PEER_DIR")
    return os.path.abspath(env) if env else os.path.abspath(os.path.join(REPO_ROOT, "..", "shared", "peers",
                                                                          "freeswitch"))


def locate_build():
    """The directory holding unpack.sh and the tarball, or None."""
    d = build_dir()
    if os.path.isfile(os.path.join(d, "unpack.sh")) and os.path.isfile(os.path.join(d, TARBALL)):
        return d
    return None


def unpack(d):
    """Unpacks the build (idempotent, serialized by unpack.sh's flock); returns the binary."""
    dest = os.path.join(tempfile.gettempdir(), f"faxbot-test-freeswitch-1.10.12-{os.getuid()}", "freeswitch")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    p = subprocess.run([os.path.join(d, "unpack.sh"), dest], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"unpack.sh {dest} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout.strip().splitlines()[-1]


# -- ports ------------------------------------------------------------------------

def _free(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    return _free(socket.SOCK_STREAM)


def free_udp_port():
    return _free(socket.SOCK_DGRAM)


def rtp_range(size=200):
    """An even port range whose ends are free right now (RTP and UDPTL use it)."""
    for _ in range(50):
        start = random.randrange(20000, 60000 - size, 2)
        ok = True
        for port in (start, start + size // 2, start + size - 2):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            return start, start + size
    raise RuntimeError("no free RTP range")


# -- the Event Socket ---------------------------------------------------------------

class EslConn:
    """One inbound Event Socket connection: auth, api, bgapi, events."""

    def __init__(self, port, password, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        hdr, _ = self.read_msg(timeout)
        if hdr.get("Content-Type") != "auth/request":
            raise RuntimeError(f"no auth/request from the event socket: {hdr}")
        self.send(f"auth {password}")
        hdr, _ = self.read_msg(timeout)
        if not hdr.get("Reply-Text", "").startswith("+OK"):
            raise RuntimeError(f"event socket auth failed: {hdr}")
        self.events = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, cmd, headers=None):
        text = cmd + "\n" + "".join(f"{k}: {v}\n" for k, v in (headers or {}).items()) + "\n"
        self.sock.sendall(text.encode())

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("event socket: nothing within the time")
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("event socket: nothing within the time")
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("event socket closed")
        self.buf += data

    def read_msg(self, timeout=10.0):
        """One message: (headers, body)."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buf:
            self._fill(deadline)
        raw, self.buf = self.buf.split(b"\n\n", 1)
        hdr = {}
        for line in raw.decode("utf-8", "replace").split("\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                hdr[k.strip()] = v.strip()
        n = int(hdr.get("Content-Length", "0") or 0)
        while len(self.buf) < n:
            self._fill(deadline)
        body, self.buf = self.buf[:n], self.buf[n:]
        return hdr, body.decode("utf-8", "replace")

    def _reply(self, kind, timeout):
        while True:
            hdr, body = self.read_msg(timeout)
            if hdr.get("Content-Type") == kind:
                return hdr, body
            if hdr.get("Content-Type", "").startswith("text/event"):
                self.events.append(parse_event(body))

    def api(self, cmd, timeout=15.0):
        self.send(f"api {cmd}")
        return self._reply("api/response", timeout)[1]

    def bgapi(self, cmd, timeout=15.0):
        self.send(f"bgapi {cmd}")
        hdr, _ = self._reply("command/reply", timeout)
        return hdr.get("Reply-Text", "")

    def subscribe(self, events):
        self.send(f"event plain {events}")
        hdr, _ = self._reply("command/reply", 10.0)
        return hdr.get("Reply-Text", "")

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
                hdr, body = self.read_msg(left)
            except TimeoutError:
                return None
            if hdr.get("Content-Type", "").startswith("text/event"):
                self.events.append(parse_event(body))


def parse_event(body):
    """A text/event-plain body -> dict (values url-decoded; a BACKGROUND_JOB's own body as _body)."""
    head, _, rest = body.partition("\n\n")
    ev = {}
    for line in head.split("\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            ev[k.strip()] = urllib.parse.unquote(v.strip())
    if rest:
        ev["_body"] = rest
    return ev


# -- one FreeSWITCH ------------------------------------------------------------------

MODULES = ("mod_console mod_logfile mod_event_socket mod_sofia mod_loopback mod_commands mod_dptools mod_db "
           "mod_hash mod_expr mod_curl mod_spandsp mod_dialplan_xml mod_native_file mod_tone_stream").split()


def freeswitch_xml(t, name, rtp, esl_xml, acl_lists_xml, spandsp_t38_request, profile_xml, dialplan_xml):
    """A whole self-contained freeswitch.xml (see the build's README, "Minimal freeswitch.xml")."""
    mods = "\n".join(f'        <load module="{m}"/>' for m in MODULES)
    return f"""<?xml version="1.0"?>
<document type="freeswitch/xml">
  <section name="configuration" description="Various Configuration">
    <configuration name="switch.conf" description="Core Configuration">
      <settings>
        <param name="switchname" value="fs-{name}"/>
        <param name="colorize-console" value="false"/>
        <param name="max-sessions" value="50"/>
        <param name="sessions-per-second" value="50"/>
        <param name="loglevel" value="debug"/>
        <param name="dump-cores" value="no"/>
        <param name="rtp-start-port" value="{rtp[0]}"/>
        <param name="rtp-end-port" value="{rtp[1]}"/>
        <param name="rtp-enable-zrtp" value="false"/>
      </settings>
    </configuration>
    <configuration name="modules.conf" description="Modules">
      <modules>
{mods}
      </modules>
    </configuration>
    <configuration name="console.conf" description="Console Logger">
      <mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
      <settings><param name="colorize" value="false"/><param name="loglevel" value="info"/></settings>
    </configuration>
    <configuration name="logfile.conf" description="File Logging">
      <settings><param name="rotate-on-hup" value="true"/></settings>
      <profiles>
        <profile name="default">
          <settings>
            <param name="logfile" value="{t}/log/freeswitch.log"/>
            <param name="rollover" value="52428800"/>
            <param name="uuid" value="true"/>
          </settings>
          <mappings><map name="all" value="debug,info,notice,warning,err,crit,alert"/></mappings>
        </profile>
      </profiles>
    </configuration>
{esl_xml}
    <configuration name="db.conf" description="LIMIT DB Configuration"><settings/></configuration>
    <configuration name="curl.conf" description="cURL module"><settings/></configuration>
    <configuration name="acl.conf" description="Network Lists">
      <network-lists>
        <list name="localhost-only" default="deny">
          <node type="allow" cidr="127.0.0.0/8"/>
        </list>
{acl_lists_xml}
      </network-lists>
    </configuration>
    <configuration name="spandsp.conf" description="SpanDSP config">
      <modem-settings><param name="total-modems" value="0"/></modem-settings>
      <fax-settings>
        <param name="use-ecm" value="true"/>
        <param name="verbose" value="false"/>
        <param name="disable-v17" value="false"/>
        <param name="ident" value="FS-{name.upper()}"/>
        <param name="header" value="FreeSWITCH {name}"/>
        <param name="spool-dir" value="{t}/storage/fax"/>
        <param name="file-prefix" value="faxrx"/>
        <param name="enable-t38" value="true"/>
        <param name="enable-t38-request" value="{'true' if spandsp_t38_request else 'false'}"/>
      </fax-settings>
    </configuration>
    <configuration name="sofia.conf" description="sofia Endpoint">
      <global_settings><param name="log-level" value="0"/></global_settings>
      <profiles>
{profile_xml}
      </profiles>
    </configuration>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
{dialplan_xml}
  </section>
</document>
"""


def sofia_profile(name, sip_port, gateways_xml):
    return f"""        <profile name="{name}">
          <gateways>
{gateways_xml}
          </gateways>
          <settings>
            <param name="context" value="public"/>
            <param name="dialplan" value="XML"/>
            <param name="sip-ip" value="127.0.0.1"/>
            <param name="sip-port" value="{sip_port}"/>
            <param name="rtp-ip" value="127.0.0.1"/>
            <param name="ext-rtp-ip" value="127.0.0.1"/>
            <param name="ext-sip-ip" value="127.0.0.1"/>
            <param name="bind-params" value="transport=udp"/>
            <param name="auth-calls" value="false"/>
            <param name="apply-inbound-acl" value="localhost-only"/>
            <param name="disable-register" value="true"/>
            <param name="manage-presence" value="false"/>
            <param name="inbound-codec-prefs" value="PCMU,PCMA"/>
            <param name="outbound-codec-prefs" value="PCMU,PCMA"/>
            <param name="inbound-codec-negotiation" value="generous"/>
            <param name="t38-passthru" value="true"/>
            <param name="dtmf-type" value="rfc2833"/>
            <param name="rtp-timer-name" value="soft"/>
            <param name="enable-100rel" value="false"/>
            <param name="tls" value="false"/>
            <param name="user-agent-string" value="FreeSWITCH-{name}"/>
          </settings>
        </profile>"""


def event_socket_xml(port, password):
    return f"""    <configuration name="event_socket.conf" description="Socket Client">
      <settings>
        <param name="nat-map" value="false"/>
        <param name="listen-ip" value="127.0.0.1"/>
        <param name="listen-port" value="{port}"/>
        <param name="password" value="{password}"/>
        <param name="apply-inbound-acl" value="localhost-only"/>
      </settings>
    </configuration>"""


def include(path):
    return f'<X-PRE-PROCESS cmd="include" data="{path}"/>'


class FsInstance:
    """One FreeSWITCH process with its own directory under workdir."""

    def __init__(self, binary, workdir, name, esl_port, esl_password, conf_xml):
        self.binary = binary
        self.root = os.path.dirname(os.path.dirname(binary))
        self.dir = os.path.join(workdir, name)
        self.name = name
        self.esl_port = esl_port
        self.esl_password = esl_password
        self.proc = None
        os.makedirs(os.path.join(self.dir, "conf"), exist_ok=True)
        with open(os.path.join(self.dir, "conf", "freeswitch.xml"), "w") as f:
            f.write(conf_xml.replace("@T@", self.dir))

    @property
    def log_path(self):
        return os.path.join(self.dir, "log", "freeswitch.log")

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self, timeout=30.0):
        return self.launch().wait_ready(timeout)

    def launch(self):
        """Starts the process and returns at once (wait_ready waits for it)."""
        t = self.dir
        args = [self.binary, "-nc", "-nf", "-nonat", "-np", "-base", t, "-conf", f"{t}/conf", "-log", f"{t}/log",
                "-db", f"{t}/db", "-run", f"{t}/run", "-storage", f"{t}/storage", "-temp", f"{t}/tmp",
                "-cache", f"{t}/cache", "-recordings", f"{t}/recordings", "-sounds", f"{t}/sounds",
                "-certs", f"{t}/certs", "-scripts", f"{t}/scripts", "-grammar", f"{t}/grammar",
                "-htdocs", f"{t}/htdocs", "-mod", os.path.join(self.root, "lib", "freeswitch", "mod")]
        out = open(os.path.join(t, "stdout.txt"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        return self

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"FreeSWITCH {self.name} exited with {self.proc.returncode}:\n"
                                   f"{self.stdout_text()[-3000:]}\n{self.log_text()[-3000:]}")
            try:
                c = EslConn(self.esl_port, self.esl_password, timeout=2)
                try:
                    if "is ready" in c.api("status"):
                        return self
                finally:
                    c.close()
            except (OSError, RuntimeError, TimeoutError, ConnectionError) as e:
                last = e
            time.sleep(0.3)
        raise RuntimeError(f"FreeSWITCH {self.name} not ready in {timeout:.0f} s ({last}):\n{self.log_text()[-3000:]}")

    def stdout_text(self):
        try:
            with open(os.path.join(self.dir, "stdout.txt"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def esl(self):
        return EslConn(self.esl_port, self.esl_password)

    def api(self, cmd, timeout=15.0):
        c = self.esl()
        try:
            return c.api(cmd, timeout)
        finally:
            c.close()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            c = self.esl()
            c.send("api fsctl shutdown now")
            c.close()
        except (OSError, RuntimeError, TimeoutError, ConnectionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- a relay for the gateway's event socket ------------------------------------------------

class TcpCutter:
    """Relays 127.0.0.1:port to target_port; cut() drops every connection and refuses
    new ones (accepts and closes at once) until mend()."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.cut_now = False
        self.pairs = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.cut_now:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, u))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.cut_now = True
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for c, u in pairs:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def mend(self):
        self.cut_now = False

    def close(self):
        self.stopped = True
        self.cut()
        self.lsock.close()
