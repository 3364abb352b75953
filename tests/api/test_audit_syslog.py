"""test_audit_syslog.py — the audit log as the HIPAA-minded guides set it up (issue 17):
AUDIT_LOG_SYSLOG with AUDIT_LOG_SYSLOG_ADDRESS delivers RFC 5424 messages to a local
socket, a UDP and a TCP (octet-counted) listener started here; every admin action and
every access to a fax's content carries the key id and the client address; numbers are
masked; AUDIT_LOG_FORMAT=text; a bad address stops the start."""

import json
import os
import re
import socket
import threading
import time

import pytest

import documents as docs
from helpers import create_job, slow_factor, wait_job, wait_for

ADMIN = "audit-admin-key-0123456789"
RFC5424 = re.compile(r"^<110>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(?:Z|[+-]\d\d:\d\d)) (\S+) faxbot (\d+) (\S+) - (.*)$", re.S)


class Listener:
    """Collects syslog messages: kind 'udp', 'tcp' (RFC 6587 octet counting) or 'unix' (datagrams)."""

    def __init__(self, kind, path=None):
        self.kind, self.messages, self.lock = kind, [], threading.Lock()
        if kind == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
            self.address = path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            if kind == "tcp":
                self.sock.listen(4)
            self.address = f"{kind}://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _add(self, data):
        with self.lock:
            self.messages.append(data.decode("utf-8"))

    def _run(self):
        while not self.stop:
            try:
                if self.kind == "tcp":
                    conn, _ = self.sock.accept()
                    threading.Thread(target=self._stream, args=(conn,), daemon=True).start()
                else:
                    self._add(self.sock.recv(65536))
            except (socket.timeout, OSError):
                continue

    def _stream(self, conn):
        buf = b""
        conn.settimeout(0.2)
        while not self.stop:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while b" " in buf:
                n, rest = buf.split(b" ", 1)
                if len(rest) < int(n):
                    break
                self._add(rest[:int(n)])
                buf = rest[int(n):]
        conn.close()

    def events(self):
        out = []
        with self.lock:
            msgs = list(self.messages)
        for m in msgs:
            r = RFC5424.match(m)
            assert r, f"not an RFC 5424 message: {m!r}"
            body = json.loads(r.group(6))
            assert body["event"] == r.group(5), m
            out.append(body)
        return out

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.mark.parametrize("kind", ["udp", "tcp", "unix"])
def test_syslog_gets_admin_actions_and_content_access(server, tmp_path, kind):
    lst = Listener(kind, path=str(tmp_path / "log.sock") if kind == "unix" else None)
    try:
        srv = server(API_KEY=ADMIN, AUDIT_LOG_ENABLED="true", AUDIT_LOG_SYSLOG="true",
                     AUDIT_LOG_SYSLOG_ADDRESS=lst.address)
        assert srv.get("/admin/api-keys", key=ADMIN).status_code == 200
        job = create_job(srv, key=ADMIN, to="+15551234567", content=docs.pdf_pages(["audited"]),
                         filename="d.pdf", content_type="application/pdf")
        done, _ = wait_job(srv, job["id"], key=ADMIN, timeout=60)
        assert done["status"] == "SUCCESS" and done["inbound_id"], done
        assert srv.get(f"/inbound/{done['inbound_id']}/pdf", key=ADMIN).status_code == 200
        assert srv.get(f"/inbound/{done['inbound_id']}/tiff", key=ADMIN).status_code == 200
        names = lambda: {e["event"] for e in lst.events()}
        wait_for(lambda: {"admin_action", "job_created", "inbound_pdf_served", "inbound_tiff_served"} <= names(),
                 f"the audit events over {kind} syslog", timeout=10)
        ev = lst.events()
        admin = next(e for e in ev if e["event"] == "admin_action")
        assert admin["key_id"] == "env" and admin["ip"] == "127.0.0.1" and admin["path"] == "/admin/api-keys", admin
        for name in ("inbound_pdf_served", "inbound_tiff_served"):
            e = next(e for e in ev if e["event"] == name)
            assert e["key_id"] == "env" and e["ip"] == "127.0.0.1" and e["inbound_id"] == done["inbound_id"], e
        created = next(e for e in ev if e["event"] == "job_created")
        assert "+15551234567" not in json.dumps(created) and created["to"].endswith("4567"), created
        assert all("5551234567" not in json.dumps(e) for e in ev)
    finally:
        lst.close()


def test_text_format_and_bad_address(server, tmp_path):
    log = tmp_path / "audit.log"
    srv = server(API_KEY=ADMIN, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(log), AUDIT_LOG_FORMAT="text")
    assert srv.get("/admin/api-keys", key=ADMIN).status_code == 200
    wait_for(lambda: log.exists() and "event=admin_action" in log.read_text(), "a text audit line")
    line = next(l for l in log.read_text().splitlines() if "event=admin_action" in l)
    assert " key_id=env" in line and " ip=127.0.0.1" in line and " path=/admin/api-keys" in line, line
    bad = server(expect_ready=False, AUDIT_LOG_ENABLED="true", AUDIT_LOG_SYSLOG="true",
                 AUDIT_LOG_SYSLOG_ADDRESS="udp://nowhere")
    deadline = time.monotonic() + 20 * slow_factor()
    while bad.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bad.proc.returncode not in (None, 0)
    assert "AUDIT_LOG_SYSLOG_ADDRESS" in bad.stderr_text()
    worse = server(expect_ready=False, AUDIT_LOG_FORMAT="yaml")
    worse.proc.wait(timeout=20)
    assert worse.proc.returncode != 0 and "AUDIT_LOG_FORMAT" in worse.stderr_text()
