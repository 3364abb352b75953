"""test_asterisk_real.py — FAX_BACKEND=sip against a real Asterisk 22.10.1.

Each test renders the configuration with `faxbot asterisk-config`, loads the rendered
files unchanged into one Asterisk ("pbx", the gateway's PBX: the PJSIP trunk, the faxout /
faxbot-result / fax-inbound dialplan, the AMI user, res_fax and UDPTL settings; only the
RTP and UDPTL port ranges are replaced so tests can run side by side) and starts a second
one as the trunk ("far": receives over T.38 or audio, answers busy, declines, rings, answers
without fax, and sends faxes in). Faxes are real: spandsp inside both Asterisks, over T.38
or G.711, on 127.0.0.1. Each asserts the job or inbound fax the gateway ends with, what the
far end saw (its own FAXSTATUS / FAXMODE / FAXPAGES through an AMI UserEvent), and that
the PBX logged no ERROR about the rendered files.

The build comes from ../shared/peers/asterisk (next to the repository) or
$FAXBOT_ASTERISK_PEER_DIR; without it every test is skipped and says so:
"SKIPPED: real Asterisk not found at …". A real fax takes 30-70 s."""

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
from fs_real import TcpCutter  # noqa: E402
from conftest import Server, _stop_all, base_env  # noqa: E402
from helpers import run_cli, tiff_pages, wait_job  # noqa: E402

ADMIN = "ast-real-admin-key-5e1b"
SECRET = "ast-real-inbound-secret-93fa"
AMI_PASSWORD = "pbx-ami-pw-7c2d"
FAR_AMI_PASSWORD = "far-ami-pw-0b9e"

# numbers the far end answers (see FAR_DIALPLAN)
RX_FAX = "+15550001"
BUSY = "+15550486"
DECLINE = "+15550603"
RINGS = "+15550408"
NO_FAX = "+15550049"
FAX_LINE = "+15551230000"        # the gateway's inbound fax number
FAR_CALLER = "15557654321"

FAR_DIALPLAN = r"""[general]
static = yes
writeprotect = yes

[far-in]
exten => +15550001,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=far-result,s,1)
 same => n,Set(FAXOPT(ecm)=yes)
 same => n,ReceiveFAX(@T@/fax-in/${UNIQUEID}.tif,f)
 same => n,Hangup()
exten => +15550486,1,Busy(10)
exten => +15550603,1,PJSIPHangup(603)
exten => +15550408,1,Ringing()
 same => n,Wait(120)
exten => +15550049,1,Answer()
 same => n,Wait(6)
 same => n,Hangup()

[far-out]
exten => send,1,Set(CHANNEL(hangup_handler_push)=far-result,s,1)
 same => n,Set(FAXOPT(localstationid)=FAR-SENDER)
 same => n,SendFAX(${FARFILE},fz)
 same => n,Hangup()

[far-result]
exten => s,1,UserEvent(FarFax,Status: ${FAXSTATUS},Pages: ${FAXPAGES},Mode: ${FAXMODE},Error: ${FAXERROR},Remote: ${REMOTESTATIONID},Caller: ${CALLERID(num)})
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


def _ranges():
    rtp, udptl = ast_real.port_range(), ast_real.port_range()
    return (f"[general]\nrtpstart = {rtp[0]}\nrtpend = {rtp[1]}\n",
            f"[general]\nudptlstart = {udptl[0]}\nudptlend = {udptl[1]}\nudptlfecentries = 3\n"
            f"udptlfecspan = 3\nuse_even_ports = no\n")


class Rig:
    """far (trunk) + pbx (loaded with our rendered files) + the gateway."""

    def __init__(self, binary, base, far_t38=True, cut_ami=False, **gw_env):
        self.work = tempfile.mkdtemp(prefix="astreal-", dir=str(base))
        self.spool = os.path.join(self.work, "spool")
        os.makedirs(self.spool)
        os.makedirs(os.path.join(self.work, "far", "fax-in"))
        self.far_sip, self.pbx_sip = ast_real.free_udp_port(), ast_real.free_udp_port()
        self.pbx_ami, self.far_ami = ast_real.free_tcp_port(), ast_real.free_tcp_port()
        self.cutter = TcpCutter(self.pbx_ami) if cut_ami else None
        gw_ami = self.cutter.port if self.cutter else self.pbx_ami
        env = {"FAX_BACKEND": "sip", "ASTERISK_AMI_HOST": "127.0.0.1", "ASTERISK_AMI_PORT": str(gw_ami),
               "ASTERISK_AMI_PASSWORD": AMI_PASSWORD, "ASTERISK_INBOUND_SECRET": SECRET,
               "ASTERISK_SPOOL_DIR": self.spool, "INBOUND_ENABLED": "true", "API_KEY": ADMIN,
               "FAX_WORKERS": "2", "FAX_MAX_ATTEMPTS": "1", "FAX_LOCAL_STATION_ID": "+1 555 123 0000",
               "FAX_HEADER": "Faxbot interop", "SIP_SERVER": f"127.0.0.1:{self.far_sip}",
               "SIP_BIND": f"127.0.0.1:{self.pbx_sip}", "SIP_FROM_USER": "+15551230000"}
        env.update(gw_env)
        self.srv = Server(os.path.join(self.work, "gw"), env)
        self.pbx = ast_real.AstInstance(binary, self.work, "pbx", self.render())
        self.far = ast_real.AstInstance(binary, self.work, "far", self.far_files(far_t38))
        self.started = []
        self.far_events = None

    def render(self):
        out = os.path.join(self.work, "rendered")
        env = base_env()
        env.update({k: v for k, v in self.srv.env.items() if k.startswith(("FAX", "ASTERISK", "INBOUND", "SIP"))})
        env["ASTERISK_GATEWAY_URL"] = self.srv.url
        env["ASTERISK_AMI_PORT"] = str(self.pbx_ami)        # the rendered manager.conf listens here
        code, text, err = run_cli(["asterisk-config", "--out", out], env)
        assert code == 0, text + err
        files = {}
        for name in os.listdir(out):
            with open(os.path.join(out, name)) as f:
                files[name] = f.read()
        files["rtp.conf"], files["udptl.conf"] = _ranges()   # side-by-side tests need their own ports
        return files

    def far_files(self, t38):
        rtp, udptl = _ranges()
        return {
            "modules.conf": "[modules]\nautoload = yes\nnoload => chan_iax2.so\n",
            "pjsip.conf": f"""[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{self.far_sip}

[pbx]
type = aor
contact = sip:127.0.0.1:{self.pbx_sip}

[pbx]
type = endpoint
transport = transport-udp
context = far-in
disallow = all
allow = ulaw,alaw
aors = pbx
direct_media = no
from_user = {FAR_CALLER}
t38_udptl = {"yes" if t38 else "no"}
t38_udptl_ec = redundancy
t38_udptl_maxdatagram = 400

[pbx-identify]
type = identify
endpoint = pbx
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
            "rtp.conf": rtp, "udptl.conf": udptl,
        }

    def start(self):
        for a in (self.far, self.pbx):
            a.launch()
            self.started.append(a)
        for a in self.started:
            a.wait_ready()
        self.far_events = ast_real.AmiConn(self.far_ami, "test", FAR_AMI_PASSWORD)
        self.srv.start()
        deadline = time.monotonic() + 20
        while self.srv.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not log in to the rendered AMI user:\n" \
                + self.srv.stderr_text()[-3000:]
            time.sleep(0.1)
        return self

    def stop(self):
        if self.far_events:
            self.far_events.close()
        _stop_all([self.srv])
        for a in self.started:
            a.stop()
        if self.cutter:
            self.cutter.close()

    # -- helpers ---------------------------------------------------------------------
    def send(self, to, pages=1):
        content = docs.pdf_pages([f"interop page {i + 1} of {pages}" for i in range(pages)])
        r = self.srv.post("/fax", key=ADMIN, data={"to": to}, files={"file": ("doc.pdf", content, "application/pdf")})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def wait(self, job_id, timeout=150):
        return wait_job(self.srv, job_id, key=ADMIN, timeout=timeout)[0]

    def far_fax(self, timeout=15):
        """The far end's own FAXSTATUS / FAXMODE / FAXPAGES for its fax call."""
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

    def assert_clean_logs(self, expected=()):
        bad = [ln for ln in self.pbx.error_lines() if not any(e in ln for e in expected)]
        assert not bad, "the PBX logged errors:\n" + "\n".join(bad[:20])


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


# -- outbound ------------------------------------------------------------------------------

def test_t38_two_pages_success(rig):
    r = rig(far_t38=True)
    job_id = r.send(RX_FAX, pages=2)
    job = r.wait(job_id)
    assert job["status"] == "SUCCESS", (job, r.srv.stderr_text()[-3000:])
    assert job["pages"] == 2 and job["attempts"] == 1, job
    far = r.far_fax()
    assert far and far["Status"] == "SUCCESS" and far["Mode"] == "T38" and far["Pages"] == "2", far
    assert far["Caller"] == "+15551230000", far          # SIP_FROM_USER, through the Originate
    assert r.received_pages() == 2
    r.assert_clean_logs()


def test_far_end_without_t38_falls_back_to_audio(rig):
    r = rig(far_t38=False)            # a G.711-only far end: the call stays on audio
    job_id = r.send(RX_FAX)
    job = r.wait(job_id)
    far = r.far_fax()
    assert job["status"] == "SUCCESS" and job["pages"] == 1, (job, far, r.pbx.log_text()[-6000:])
    assert far and far["Status"] == "SUCCESS" and far["Mode"] == "audio", far
    assert r.received_pages() == 1
    r.assert_clean_logs()


@pytest.mark.parametrize("number,reason,gw_env", [
    (BUSY, "busy", {}),
    (DECLINE, "rejected", {}),
    (RINGS, "no_answer", {"ASTERISK_RING_TIMEOUT": "5"}),
], ids=["busy", "decline", "no_answer"])
def test_unanswered_calls_fail_with_the_right_reason(rig, number, reason, gw_env):
    r = rig(**gw_env)
    job_id = r.send(number)
    job = r.wait(job_id, timeout=60)
    assert job["status"] == "FAILED" and job["failure_reason"] == reason, (job, r.srv.stderr_text()[-3000:])
    r.assert_clean_logs()


def test_answered_without_fax_fails_as_a_line_error(rig):
    r = rig()
    job_id = r.send(NO_FAX)
    job = r.wait(job_id, timeout=90)
    assert job["status"] == "FAILED" and job["failure_reason"] == "line_error", (job, r.srv.stderr_text()[-3000:])
    assert not job.get("pages"), job
    # res_fax reports the far end's hang-up during its CNG as errors; nothing else may show
    r.assert_clean_logs(expected=("while generating CNG tone", "in T.38 mode"))


def test_ami_dropped_mid_fax_is_reconciled_and_the_result_still_counts(rig):
    """The gateway loses AMI while the fax is on the line and gets it back before the end:
    after the login it lists Asterisk's channels (CoreShowChannels), finds its call still
    up, keeps waiting, and the FaxResult at hang-up decides the job: one attempt, no resend."""
    r = rig(cut_ami=True)
    job_id = r.send(RX_FAX)
    deadline = time.monotonic() + 60
    while "Up" not in r.pbx.rx("core show channels concise"):
        assert time.monotonic() < deadline, "the fax call never came up"
        time.sleep(0.3)
    r.cutter.cut()
    time.sleep(4)
    r.cutter.mend()
    deadline = time.monotonic() + 40            # the reconnect backoff is 1 s, then 2, 4, ...
    while r.srv.stderr_text().count("AMI: logged in as") < 2:
        assert time.monotonic() < deadline, r.srv.stderr_text()[-3000:]
        time.sleep(0.2)
    assert "Up" in r.pbx.rx("core show channels concise"), "the fax ended before AMI came back"
    job = r.wait(job_id)
    assert job["status"] == "SUCCESS" and job["attempts"] == 1 and job["pages"] == 1, \
        (job, r.srv.stderr_text()[-3000:])
    far = r.far_fax()
    assert far and far["Status"] == "SUCCESS", far
    assert r.received_pages() == 1
    r.assert_clean_logs()


# -- inbound ---------------------------------------------------------------------------------

def test_inbound_fax_is_stored_through_the_rendered_dialplan(rig, tmp_path):
    r = rig()
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(docs.pdf_pages(["inbound page one", "inbound page two"]))
    tif = tmp_path / "in.tif"
    code, out, err = run_cli(["convert", str(pdf), str(tif)], base_env())
    assert code == 0, out + err
    reply = r.far_events.action({"Action": "Originate", "Channel": f"PJSIP/{FAX_LINE}@pbx", "Context": "far-out",
                                 "Exten": "send", "Priority": "1", "Async": "true", "Timeout": "30000",
                                 "Variable": f"FARFILE={tif}", "CallerID": f"<{FAR_CALLER}>"})
    assert reply.get("Response") == "Success", reply
    sent = r.far_fax(timeout=150)
    assert sent and sent["Status"] == "SUCCESS" and sent["Pages"] == "2", sent
    deadline = time.monotonic() + 20
    while True:
        lst = r.srv.get("/inbound", key=ADMIN).json()
        if lst or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(lst) == 1, (lst, r.srv.stderr_text()[-3000:], r.pbx.log_text()[-3000:])
    fax = lst[0]
    assert fax.get("from_number", fax.get("fr")) == FAR_CALLER, fax
    assert fax.get("to_number", fax.get("to")).lstrip("+") == FAX_LINE.lstrip("+"), fax
    assert fax["pages"] == 2, fax
    got = r.srv.get(f"/inbound/{fax['id']}/pdf", key=ADMIN)
    assert got.status_code == 200 and got.content.startswith(b"%PDF"), got.status_code
    assert os.listdir(r.spool) == [], "the hand-off leaves the spool file behind"
    r.assert_clean_logs()


def test_version_is_the_shared_build(ast_binary):
    """The suite ran against the build it names (not some other asterisk on PATH)."""
    p = subprocess.run([ast_binary, "-V"], capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "Asterisk 22.10.1", p.stdout + p.stderr
