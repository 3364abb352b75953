"""test_direct_asterisk_real.py — FAX_BACKEND=direct against a real Asterisk 22.10.1 as
the far end, with no PBX of ours in between: the gateway's own SIP user agent and media
engine talk to Asterisk's PJSIP directly (Asterisk is the gateway's trunk, the gateway
is Asterisk's endpoint "gw").

Outbound, the gateway sends to Asterisk's ReceiveFAX: over T.38 with Asterisk asking for
the switch (DIRECT_T38=accept: its re-INVITE in the gateway's ladder), with the gateway
asking (DIRECT_T38=reinvite), with T.38 offered in the INVITE, and over G.711 to an
Asterisk without T.38. Inbound, Asterisk's SendFAX calls the gateway, over T.38 and over
G.711. Busy, decline and no answer map to busy, rejected and no_answer. Each fax checks
what Asterisk itself saw (FAXSTATUS / FAXMODE / FAXPAGES through an AMI UserEvent).

The build comes from ../shared/peers/asterisk or $FAXBOT_ASTERISK_PEER_DIR; without it
every test is skipped and says so. A real fax takes 20-40 s."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)

import ast_real  # noqa: E402
import documents as docs  # noqa: E402
from conftest import Server, _stop_all, base_env  # noqa: E402
from helpers import run_cli, tiff_pages, wait_job  # noqa: E402

ADMIN = "direct-ast-admin-key-61c0"
FAR_AMI_PASSWORD = "far-ami-pw-d1r3"

RX_FAX = "+15550001"
BUSY = "+15550486"
DECLINE = "+15550603"
RINGS = "+15550408"
FAX_LINE = "+15551230000"        # the gateway's number, called by Asterisk's SendFAX
FAR_CALLER = "15557654321"

FAR_DIALPLAN = r"""[general]
static = yes
writeprotect = yes

[far-in]
exten => +15550001,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=far-result,s,1)
 same => n,Set(FAXOPT(ecm)=yes)
 same => n,Set(FAXOPT(localstationid)=FAR-RECEIVER)
 same => n,ReceiveFAX(@T@/fax-in/${UNIQUEID}.tif,f)
 same => n,Hangup()
exten => +15550486,1,Busy(10)
exten => +15550603,1,PJSIPHangup(603)
exten => +15550408,1,Ringing()
 same => n,Wait(120)

[far-out]
exten => send,1,Set(CHANNEL(hangup_handler_push)=far-result,s,1)
 same => n,Set(FAXOPT(localstationid)=FAR-SENDER)
 same => n,SendFAX(${FARFILE},${FAROPTS})
 same => n,Hangup()

[far-result]
exten => s,1,UserEvent(FarFax,Status: ${FAXSTATUS},Pages: ${FAXPAGES},Mode: ${FAXMODE},Error: ${FAXERROR},Remote: ${REMOTESTATIONID})
 same => n,Return()
"""


@pytest.fixture(scope="session")
def ast_binary():
    d = ast_real.locate_build()
    if d is None:
        msg = (f"SKIPPED: real Asterisk not found at {ast_real.build_dir()} "
               f"(needs unpack.sh and {ast_real.TARBALL}; or set FAXBOT_ASTERISK_PEER_DIR)")
        sys.stderr.write(msg + "\n")
        pytest.skip(msg)
    try:
        return ast_real.unpack(d)
    except RuntimeError as e:
        pytest.fail(f"the real Asterisk build at {d} does not run here: {e}", pytrace=False)


class Rig:
    """far (Asterisk, the trunk) + the gateway with FAX_BACKEND=direct."""

    def __init__(self, binary, base, far_t38=True, **gw_env):
        self.work = tempfile.mkdtemp(prefix="directast-", dir=str(base))
        os.makedirs(os.path.join(self.work, "far", "fax-in"))
        self.far_sip, self.gw_sip = ast_real.free_udp_port(), ast_real.free_udp_port()
        self.far_ami = ast_real.free_tcp_port()
        media = ast_real.port_range(200)
        env = {"FAX_BACKEND": "direct", "INBOUND_ENABLED": "true", "API_KEY": ADMIN, "FAX_WORKERS": "2",
               "FAX_MAX_ATTEMPTS": "1", "FAX_LOCAL_STATION_ID": "+1 555 123 0000", "FAX_HEADER": "Faxbot direct",
               "SIP_SERVER": f"127.0.0.1:{self.far_sip}", "SIP_FROM_USER": "+15551230000",
               "DIRECT_SIP_BIND": "127.0.0.1", "DIRECT_SIP_PORT": str(self.gw_sip), "DIRECT_REGISTER": "false",
               "DIRECT_MEDIA_PORT_START": str(media[0]), "DIRECT_MEDIA_PORT_END": str(media[1] - 1)}
        env.update(gw_env)
        self.srv = Server(os.path.join(self.work, "gw"), env)
        self.far = ast_real.AstInstance(binary, self.work, "far", self.far_files(far_t38))
        self.started = []
        self.far_events = None

    def far_files(self, t38):
        rtp, udptl = ast_real.port_range(), ast_real.port_range()
        return {
            "modules.conf": "[modules]\nautoload = yes\nnoload => chan_iax2.so\n",
            "pjsip.conf": f"""[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{self.far_sip}

[gw]
type = aor
contact = sip:127.0.0.1:{self.gw_sip}

[gw]
type = endpoint
transport = transport-udp
context = far-in
disallow = all
allow = ulaw,alaw
aors = gw
direct_media = no
from_user = {FAR_CALLER}
t38_udptl = {"yes" if t38 else "no"}
t38_udptl_ec = redundancy
t38_udptl_maxdatagram = 400

[gw-identify]
type = identify
endpoint = gw
match = 127.0.0.1
""",
            "extensions.conf": FAR_DIALPLAN,
            "manager.conf": f"""[general]
enabled = yes
port = {self.far_ami}
bindaddr = 127.0.0.1

[test]
secret = {FAR_AMI_PASSWORD}
read = all
write = all
""",
            "res_fax.conf": "[general]\nminrate = 2400\nmaxrate = 14400\necm = yes\n",
            "rtp.conf": f"[general]\nrtpstart = {rtp[0]}\nrtpend = {rtp[1]}\n",
            "udptl.conf": f"[general]\nudptlstart = {udptl[0]}\nudptlend = {udptl[1]}\nuse_even_ports = no\n",
        }

    def start(self):
        self.far.launch()
        self.started.append(self.far)
        self.far.wait_ready()
        self.far_events = ast_real.AmiConn(self.far_ami, "test", FAR_AMI_PASSWORD)
        self.srv.start()
        deadline = time.monotonic() + 20
        while self.srv.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, self.srv.stderr_text()[-3000:]
            time.sleep(0.1)
        return self

    def stop(self):
        if self.far_events:
            self.far_events.close()
        _stop_all([self.srv])
        for a in self.started:
            a.stop()

    def send(self, to, pages=1):
        content = docs.pdf_pages([f"direct interop page {i + 1} of {pages}" for i in range(pages)])
        r = self.srv.post("/fax", key=ADMIN, data={"to": to}, files={"file": ("doc.pdf", content, "application/pdf")})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def wait(self, job_id, timeout=150):
        return wait_job(self.srv, job_id, key=ADMIN, timeout=timeout)[0]

    def ladder(self, job_id):
        hist = self.srv.get(f"/admin/fax-jobs/{job_id}", key=ADMIN).json()["attempt_history"]
        return hist[-1]["message"] or ""

    def far_fax(self, timeout=20):
        return self.far_events.wait_event(lambda e: e.get("Event") == "UserEvent"
                                          and e.get("UserEvent") == "FarFax", timeout)

    def received_pages(self):
        d = os.path.join(self.work, "far", "fax-in")
        files = [os.path.join(d, f) for f in os.listdir(d)]
        assert len(files) == 1, files
        with open(files[0], "rb") as f:
            pages = tiff_pages(f.read())
        assert all(p["width"] == 1728 for p in pages), pages
        return len(pages)

    def logs(self):
        return f"gateway:\n{self.srv.stderr_text()[-3000:]}\nasterisk:\n{self.far.log_text()[-4000:]}"


@pytest.fixture
def rig(ast_binary, tmp_path):
    made = []

    def make(**kw):
        r = Rig(ast_binary, tmp_path, **kw)
        made.append(r)
        return r.start()

    yield make
    for r in made:
        r.stop()


# -- outbound: the gateway sends to Asterisk's ReceiveFAX ------------------------------------

OUT = [
    # id, far T.38, gateway DIRECT_T38, FAXMODE Asterisk must report, who asks for T.38
    ("t38_asterisk_switches", True, "accept", "T38", "asterisk"),
    ("t38_gateway_switches", True, "reinvite", "T38", "gateway"),
    ("audio_far_without_t38", False, "reinvite", "audio", None),
    ("t38_offered_in_invite", True, "offer", "T38", None),
]


@pytest.mark.parametrize("name,far_t38,policy,mode,initiator", OUT, ids=[o[0] for o in OUT])
def test_gateway_sends_to_asterisk(rig, name, far_t38, policy, mode, initiator):
    r = rig(far_t38=far_t38, DIRECT_T38=policy)
    job_id = r.send(RX_FAX, pages=2)
    job = r.wait(job_id)
    far = r.far_fax()
    assert job["status"] == "SUCCESS", (job, far, r.logs())
    assert job["pages"] == 2 and job["attempts"] == 1, job
    assert job["remote_station_id"] == "FAR-RECEIVER", job
    assert far and far["Status"] == "SUCCESS" and far["Mode"] == mode and far["Pages"] == "2", far
    assert r.received_pages() == 2
    ladder = r.ladder(job_id)
    assert ("over T.38" if mode == "T38" else "over G.711") in ladder, ladder
    reinvites_out = ladder.count(">INVITE") - 1
    if initiator == "asterisk":
        assert "<INVITE" in ladder and reinvites_out == 0, ladder
    elif initiator == "gateway":
        assert reinvites_out >= 1, ladder


@pytest.mark.parametrize("number,reason,gw_env", [
    (BUSY, "busy", {}),
    (DECLINE, "rejected", {}),
    (RINGS, "no_answer", {"DIRECT_RING_TIMEOUT": "5"}),
], ids=["busy", "decline", "no_answer"])
def test_unanswered_calls_fail_with_the_right_reason(rig, number, reason, gw_env):
    r = rig(**gw_env)
    job_id = r.send(number)
    job = r.wait(job_id, timeout=60)
    assert job["status"] == "FAILED" and job["failure_reason"] == reason, (job, r.ladder(job_id), r.logs())


def test_call_dropped_mid_page_is_a_line_error(rig):
    """Asterisk hangs the call up while the pages are on the line (a channel hang-up over
    the CLI, as a dropped trunk call): the job fails as line_error (transient)."""
    r = rig(far_t38=True, DIRECT_T38="reinvite")
    job_id = r.send(RX_FAX, pages=3)
    deadline = time.monotonic() + 60
    while "Up" not in r.far.rx("core show channels concise"):
        assert time.monotonic() < deadline, "the fax call never came up"
        time.sleep(0.3)
    time.sleep(12)                                 # training done, page data on the line
    out = r.far.rx("channel request hangup all")
    job = r.wait(job_id, timeout=60)
    assert job["status"] == "FAILED" and job["failure_reason"] == "line_error", (job, out, r.ladder(job_id), r.logs())
    assert "<BYE" in r.ladder(job_id), r.ladder(job_id)


# -- inbound: Asterisk's SendFAX calls the gateway -------------------------------------------

IN = [
    # id, far T.38, gateway DIRECT_T38, SendFAX options ('z': Asterisk re-INVITEs to T.38
    # itself when the far end does not), FAXMODE Asterisk must report
    ("t38_gateway_switches", True, "reinvite", "f", "T38"),
    ("t38_asterisk_switches", True, "accept", "fz", "T38"),
    ("audio", False, "accept", "f", "audio"),
]


@pytest.mark.parametrize("name,far_t38,policy,opts,mode", IN, ids=[i[0] for i in IN])
def test_asterisk_sends_to_the_gateway(rig, tmp_path, name, far_t38, policy, opts, mode):
    r = rig(far_t38=far_t38, DIRECT_T38=policy)
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(docs.pdf_pages(["inbound page one", "inbound page two"]))
    tif = tmp_path / "in.tif"
    code, out, err = run_cli(["convert", str(pdf), str(tif)], base_env())
    assert code == 0, out + err
    reply = r.far_events.action({"Action": "Originate", "Channel": f"PJSIP/{FAX_LINE}@gw", "Context": "far-out",
                                 "Exten": "send", "Priority": "1", "Async": "true", "Timeout": "30000",
                                 "Variable": f"FARFILE={tif},FAROPTS={opts}", "CallerID": f"<{FAR_CALLER}>"})
    assert reply.get("Response") == "Success", reply
    sent = r.far_fax(timeout=150)
    assert sent and sent["Status"] == "SUCCESS" and sent["Pages"] == "2" and sent["Mode"] == mode, (sent, r.logs())
    deadline = time.monotonic() + 20
    while True:
        lst = r.srv.get("/inbound", key=ADMIN).json()
        if lst or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(lst) == 1, (lst, r.logs())
    fax = lst[0]
    assert fax["pages"] == 2, fax
    assert fax.get("to_number", fax.get("to")).lstrip("+") == FAX_LINE.lstrip("+"), fax
    got = r.srv.get(f"/inbound/{fax['id']}/tiff", key=ADMIN)
    assert got.status_code == 200, got.status_code
    pages = tiff_pages(got.content)
    assert len(pages) == 2 and all(p["width"] == 1728 for p in pages), pages


def test_version_is_the_shared_build(ast_binary):
    p = subprocess.run([ast_binary, "-V"], capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "Asterisk 22.10.1", p.stdout + p.stderr
