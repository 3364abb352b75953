"""test_direct.py — FAX_BACKEND=direct end to end: two real gateway processes on
127.0.0.1, each the other's SIP trunk, exchange real faxes over SIP with RTP/G.711
or UDPTL/T.38 (no PBX anywhere). The sender's job must succeed with the line facts
(pages, bit rate, ECM, remote station id), the receiver must store an inbound fax,
and every received page must equal the sent one below the header band
(`faxbot tiff-compare`). Cases: T.38 offered in the INVITE, audio then a T.38
re-INVITE from either side, audio only, ECM on and off, loss injected on the media
(the test-only DIRECT_TEST_MEDIA_LOSS_PCT), a far end that refuses T.38 with the
sender falling back to audio, and failure mapping (far end full → busy, inbound
refused → no_answer; a trunk that is not there → network_error). Faxes run in real
time (~20-40 s each): each test is its own pair, so pytest -n 4 runs them side by
side."""

import re
import time

import pytest

import documents as docs
from conftest import free_port
from helpers import create_job, fetch, run_cli, slow_factor, tiff_pages, wait_for, wait_job

COMPARE_RE = re.compile(r"identical: (\d+) pages \(header band of (\d+) rows\)")
MEDIA_RANGE = ("42000", "43999")   # every instance binds a free even port in it
KEY = "direct-admin-key-7c41"      # API_KEY: the admin view of a job shows its attempts


def _udp_free_port():
    import socket
    for _ in range(50):
        p = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise RuntimeError("no free UDP port")


def _direct_env(my_port, trunk_port, **extra):
    env = {
        "FAX_BACKEND": "direct", "INBOUND_ENABLED": "true", "API_KEY": KEY,
        "DIRECT_SIP_BIND": "127.0.0.1", "DIRECT_SIP_PORT": str(my_port),
        "SIP_SERVER": f"127.0.0.1:{trunk_port}", "DIRECT_REGISTER": "false",
        "DIRECT_MEDIA_PORT_START": MEDIA_RANGE[0], "DIRECT_MEDIA_PORT_END": MEDIA_RANGE[1],
        "DIRECT_RING_TIMEOUT": "15", "FAX_RETRY_BASE_SECONDS": "1",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _pair(server, a=None, b=None):
    """Two gateways, each the other's trunk: (sender, receiver)."""
    pa, pb = _udp_free_port(), _udp_free_port()
    sender = server(**_direct_env(pa, pb, FAX_LOCAL_STATION_ID="+1 555 0100", **(a or {})))
    receiver = server(**_direct_env(pb, pa, FAX_LOCAL_STATION_ID="+1 555 0199", **(b or {})))
    return sender, receiver


def _inbound_of(receiver, timeout=30):
    found = {}

    def arrived():
        r = fetch(receiver, "/inbound", key=KEY)
        items = r.json()
        if items:
            found["item"] = items[0]
        else:
            time.sleep(0.5)     # the API's rate limit
        return bool(items)
    wait_for(arrived, "the inbound fax on the receiving gateway", timeout=timeout * slow_factor())
    return found["item"]


def _assert_identical(sender, receiver, job, inbound, tmp_path, cli_env, pages):
    sent = fetch(sender, f"/fax/{job['id']}/tiff", key=KEY, ctype="image/tiff").content
    recv = fetch(receiver, f"/inbound/{inbound['id']}/tiff", key=KEY, ctype="image/tiff").content
    sp, rp = tmp_path / "sent.tif", tmp_path / "recv.tif"
    sp.write_bytes(sent)
    rp.write_bytes(recv)
    code, out, err = run_cli(["tiff-compare", str(sp), str(rp)], cli_env)
    text = out + err
    assert code == 0, f"tiff-compare exit {code}: {text}"
    m = COMPARE_RE.search(text)
    assert m and int(m.group(1)) == pages, text
    s_pages, r_pages = tiff_pages(sent), tiff_pages(recv)
    assert len(s_pages) == len(r_pages) == pages, (s_pages, r_pages)
    band = int(m.group(2))
    for i, (s, r) in enumerate(zip(s_pages, r_pages), start=1):
        assert s["width"] == r["width"] == 1728, f"page {i}: sent {s}, received {r}"
        assert r["length"] - s["length"] == band, f"page {i}: sent {s}, received {r}, band {band}"


def _send_and_check(sender, receiver, tmp_path, cli_env, pages=2, ecm=True, want_t38=None):
    job = create_job(sender, key=KEY, to="+15550199", content=docs.pdf_text(pages), filename="doc.pdf",
                     content_type="application/pdf")
    final, seen = wait_job(sender, job["id"], key=KEY, timeout=150 * slow_factor())
    assert final["status"] == "SUCCESS", f"ended {final['status']} via {seen}: {final}\n" \
        f"sender log:\n{sender.stderr_text()[-3000:]}\nreceiver log:\n{receiver.stderr_text()[-3000:]}"
    assert final["pages"] == pages, final
    assert isinstance(final["bit_rate"], int) and final["bit_rate"] >= 9600, final
    assert final["ecm"] is ecm, final
    assert final["remote_station_id"] == "+1 555 0199", final
    inbound = _inbound_of(receiver)
    assert inbound["pages"] == pages, inbound
    assert inbound["to"].lstrip("+") == "15550199", inbound
    _assert_identical(sender, receiver, final, inbound, tmp_path, cli_env, pages)
    if want_t38 is not None:
        history = fetch(sender, f"/admin/fax-jobs/{job['id']}", key=KEY).json()["attempt_history"]
        msg = history[-1]["message"] or ""
        assert ("over T.38" if want_t38 else "over G.711") in msg, f"expected {'T.38' if want_t38 else 'G.711'}: {history}"
        assert "<200" in msg and ">INVITE" in msg and "BYE" in msg, f"no SIP ladder in the attempt: {history}"
    return final


# ---- faxes between two gateways ----

CASES = [
    # id, sender settings, receiver settings, ECM, media that should carry the fax
    ("t38_offered", {"DIRECT_T38": "offer"}, {"DIRECT_T38": "accept"}, True, True),
    ("audio_then_sender_reinvites", {"DIRECT_T38": "reinvite"}, {"DIRECT_T38": "accept"}, False, True),
    ("audio_then_receiver_reinvites", {"DIRECT_T38": "accept"}, {"DIRECT_T38": "reinvite"}, True, True),
    # both ask at once (the default on both sides): 491 glare, the answerer asks again
    ("both_reinvite_glare", {"DIRECT_T38": "reinvite"}, {"DIRECT_T38": "reinvite"}, True, True),
    # audio only; the sender starts with the default (reinvite) and is switched to off by a
    # live settings change: the new instance takes over the SIP port from the old one
    ("audio_only_after_live_change", {}, {"DIRECT_T38": "off"}, False, False),
]


@pytest.mark.parametrize("name,a,b,ecm,t38", CASES, ids=[c[0] for c in CASES])
def test_fax_between_two_gateways(server, tmp_path, cli_env, name, a, b, ecm, t38):
    a = dict(a, DIRECT_ECM=str(ecm).lower())
    b = dict(b, DIRECT_ECM=str(ecm).lower())
    sender, receiver = _pair(server, a, b)
    if "DIRECT_T38" not in a:
        r = sender.request("PUT", "/admin/settings", key=KEY, json={"direct_t38": "off"})
        assert r.status_code == 200, r.text
        assert r.json()["_meta"]["backend_swapped"] is True, r.text
        wait_for(lambda: "sip_port" in sender.post("/admin/diagnostics/run", key=KEY).json()["checks"]["backend"],
                 "the new instance on the SIP port", timeout=10)
    t0 = time.monotonic()
    _send_and_check(sender, receiver, tmp_path, cli_env, pages=2, ecm=ecm, want_t38=t38)
    print(f"{name}: {time.monotonic() - t0:.1f} s")


LOSS = [
    # id, T.38 policy on both sides, loss % each way, ECM
    ("t38_loss_3pct", "offer", "3", True),
    ("g711_loss_0.2pct", "off", "0.2", True),
]


@pytest.mark.parametrize("name,t38,loss,ecm", LOSS, ids=[c[0] for c in LOSS])
def test_fax_with_media_packet_loss(server, tmp_path, cli_env, name, t38, loss, ecm):
    """Datagrams dropped on both sides (DIRECT_TEST_MEDIA_LOSS_PCT): UDPTL redundancy,
    or the jitter buffer's concealment plus ECM, still deliver every page exactly."""
    both = {"DIRECT_T38": t38, "DIRECT_TEST_MEDIA_LOSS_PCT": loss, "DIRECT_ECM": str(ecm).lower()}
    sender, receiver = _pair(server, dict(both, DIRECT_T38=t38), dict(both, DIRECT_T38="accept" if t38 != "off" else "off"))
    _send_and_check(sender, receiver, tmp_path, cli_env, pages=2, ecm=ecm, want_t38=t38 != "off")


def test_t38_refused_in_invite_falls_back_to_audio(server, tmp_path, cli_env):
    """The far end takes no T.38 (488 to our T.38 INVITE): with DIRECT_AUDIO_FALLBACK the
    sender calls again with G.711 and the fax goes through."""
    sender, receiver = _pair(server, {"DIRECT_T38": "offer"}, {"DIRECT_T38": "off"})
    final = _send_and_check(sender, receiver, tmp_path, cli_env, pages=1, ecm=True, want_t38=False)
    history = fetch(sender, f"/admin/fax-jobs/{final['id']}", key=KEY).json()["attempt_history"]
    assert len(history) == 1 and "<488" in history[0]["message"], history


def test_t38_refused_without_fallback_is_rejected(server):
    """DIRECT_AUDIO_FALLBACK=false: a refused T.38 re-INVITE ends the call; the job fails
    as rejected (final: another attempt would be refused the same way)."""
    sender, receiver = _pair(server, {"DIRECT_T38": "reinvite", "DIRECT_AUDIO_FALLBACK": "false",
                                      "FAX_MAX_ATTEMPTS": "2"}, {"DIRECT_T38": "off"})
    job = create_job(sender, key=KEY, to="+15550199", content=b"no t38 here\n", filename="x.txt")
    final, seen = wait_job(sender, job["id"], key=KEY, timeout=60 * slow_factor())
    history = fetch(sender, f"/admin/fax-jobs/{job['id']}", key=KEY).json()["attempt_history"]
    assert final["status"] == "FAILED" and final["attempts"] == 1, (final, seen, history)
    assert final["failure_reason"] == "rejected", final
    history = fetch(sender, f"/admin/fax-jobs/{job['id']}", key=KEY).json()["attempt_history"]
    assert "T.38 refused" in history[-1]["message"] and "<488" in history[-1]["message"], history


def test_inbound_refused_maps_to_no_answer(server):
    """A far end that takes no inbound faxes (INBOUND_ENABLED=false answers 480) is a
    transient no_answer: retried, then FAILED; nothing is stored anywhere."""
    sender, receiver = _pair(server, {"FAX_MAX_ATTEMPTS": "2"}, {"INBOUND_ENABLED": "false"})
    job = create_job(sender, key=KEY, to="+15550199", content=b"nobody home\n", filename="x.txt")
    final, seen = wait_job(sender, job["id"], key=KEY, timeout=60 * slow_factor())
    assert final["status"] == "FAILED" and final["failure_reason"] == "no_answer", (final, seen)
    assert final["attempts"] == 2, final
    history = fetch(sender, f"/admin/fax-jobs/{job['id']}", key=KEY).json()["attempt_history"]
    assert all("<480" in h["message"] for h in history), history


# ---- against the registrar / trunk stand-in (tests/peers/sip_registrar.py) ----

class Registrar:
    def __init__(self, user, password, *args):
        import os
        import subprocess
        import sys
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "sip_registrar.py")
        self.proc = subprocess.Popen([sys.executable, peer, "--user", user, "--password", password,
                                      "--max-expires", "2", *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "port", line
        self.port = int(line[1])
        self.lines = []
        import threading
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for ln in self.proc.stdout:
            self.lines.append(ln.strip())

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture
def registrar():
    made = []

    def make(*a):
        r = Registrar(*a)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def test_registration_refresh_and_busy_trunk(server, registrar):
    """Digest registration (refreshed every second by the stand-in's 2 s expiry) shows in
    /health/ready and /admin/diagnostics/run; the stand-in trunk challenges the INVITE
    (407), takes our Digest answer and says 486: the job fails as busy."""
    reg = registrar("faxuser", "s3cret-pass")
    srv = server(**_direct_env(_udp_free_port(), reg.port, SIP_USERNAME="faxuser", SIP_PASSWORD="s3cret-pass",
                               DIRECT_REGISTER="true", FAX_MAX_ATTEMPTS="1"))
    wait_for(lambda: srv.get("/health/ready").status_code == 200, "ready once registered", timeout=10)
    wait_for(lambda: sum(1 for ln in reg.lines if ln.startswith("REGISTER 200")) >= 2,
             "a registration and its refresh", timeout=10)
    d = srv.post("/admin/diagnostics/run", key=KEY).json()
    b = d["checks"]["backend"]
    assert b["registration"]["state"] == "registered" and b["registration"]["granted_expires"] == 2, b
    assert b["media_ports_in_use"] == [] and b["calls_active"] == 0, b
    assert "s3cret-pass" not in str(d) and "s3cret-pass" not in srv.stderr_text()

    job = create_job(srv, key=KEY, to="+15550123", content=b"busy line\n", filename="x.txt")
    final, seen = wait_job(srv, job["id"], key=KEY, timeout=40 * slow_factor())
    assert final["status"] == "FAILED" and final["failure_reason"] == "busy", (final.get("error"), final, seen)
    msg = fetch(srv, f"/admin/fax-jobs/{job['id']}", key=KEY).json()["attempt_history"][-1]["message"]
    assert "<407" in msg and "<486" in msg, msg
    assert any(ln.startswith("INVITE 486") for ln in reg.lines), reg.lines
    d = srv.post("/admin/diagnostics/run", key=KEY).json()["checks"]["backend"]
    assert d["last_sip_error"]["status"] == 486, d


def test_wrong_password_is_not_ready_with_advice(server, registrar):
    reg = registrar("faxuser", "the-right-one")
    srv = server(**_direct_env(_udp_free_port(), reg.port, SIP_USERNAME="faxuser",
                                                   SIP_PASSWORD="a-wrong-one", DIRECT_REGISTER="true"))
    wait_for(lambda: "failed" in srv.get("/health/ready").text, "registration failure in /health/ready", timeout=15)
    r = srv.get("/health/ready")
    assert r.status_code == 503, r.text
    assert "user name or password" in r.text or "password" in r.text.lower(), r.text
    d = srv.post("/admin/diagnostics/run", key=KEY).json()
    assert d["ok"] is False and d["checks"]["backend"]["registration"]["state"] == "failed", d
    assert "a-wrong-one" not in r.text + str(d)


def test_doctor_reports_registration_failure_and_success(registrar, tmp_path, cli_env):
    """`faxbot doctor` creates the backend, waits for readiness and runs its diagnostics:
    a refused password is a FAIL line with the registrar's advice (exit 1); the right one
    passes."""
    reg = registrar("faxuser", "the-right-one")
    base = dict(cli_env, FAX_DATA_DIR=str(tmp_path / "data"),
                **_direct_env(_udp_free_port(), reg.port, SIP_USERNAME="faxuser", DIRECT_REGISTER="true"))
    rc, out, err = run_cli(["doctor", "--wait", "5"], dict(base, SIP_PASSWORD="a-wrong-one"))
    assert rc == 1, out + err
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert fails and any("backend" in ln for ln in fails), out
    assert "registration" in out and "password" in out.lower(), out
    assert "a-wrong-one" not in out + err
    rc, out, err = run_cli(["doctor", "--wait", "5"], dict(base, SIP_PASSWORD="the-right-one", DIRECT_SIP_PORT="0"))
    assert rc == 0, out + err
    assert any(ln.startswith("ok") and "backend" in ln for ln in out.splitlines()), out


def _invite(n, port_from):
    return (f"INVITE sip:+15550199@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.2:{port_from};branch=z9hG4bK-flood{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:intruder@127.0.0.2>;tag=t{n}\r\n"
            f"To: <sip:+15550199@127.0.0.1>\r\nCall-ID: flood-{n}@127.0.0.2\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:intruder@127.0.0.2:{port_from}>\r\nContent-Length: 0\r\n\r\n").encode()


def test_invites_from_strangers_refused_and_a_flood_is_harmless(server):
    """Only the trunk (SIP_SERVER's address) may call in: an INVITE from 127.0.0.2 is
    answered 403 and never rings; 3,000 of them in a burst are rate limited, the API keeps
    answering quickly and nothing is stored."""
    import socket
    gw_port = _udp_free_port()
    srv = server(**_direct_env(gw_port, _udp_free_port()))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.2", 0))
    s.settimeout(2)
    me = s.getsockname()[1]
    s.sendto(_invite(0, me), ("127.0.0.1", gw_port))
    statuses = []
    try:
        while "403" not in statuses:
            statuses.append(s.recv(65535).split(b" ", 2)[1].decode())
    except socket.timeout:
        pass
    assert "403" in statuses and "180" not in statuses and "200" not in statuses, statuses
    s.setblocking(False)
    worst = 0.0
    for n in range(1, 3001):
        try:
            s.sendto(_invite(n, me), ("127.0.0.1", gw_port))
        except BlockingIOError:
            pass
        if n % 500 == 0:
            t0 = time.monotonic()
            assert srv.get("/health").status_code == 200
            worst = max(worst, time.monotonic() - t0)
    s.close()
    assert worst < 1.0 * slow_factor(), f"GET /health took {worst:.2f} s during the flood"
    d = srv.post("/admin/diagnostics/run", key=KEY).json()["checks"]["backend"]
    assert d["sip_rate_limited"] > 1000 and d["calls_active"] == 0 and d["media_ports_in_use"] == [], d
    assert fetch(srv, "/inbound", key=KEY).json() == []
