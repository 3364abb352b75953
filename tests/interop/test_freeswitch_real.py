"""test_freeswitch_real.py — FAX_BACKEND=freeswitch against a real FreeSWITCH 1.10.12.

Each test renders the configuration with `faxbot freeswitch-config`, loads the rendered
files into one FreeSWITCH ("pbx", the gateway's PBX: the sofia gateway, the inbound
dialplan, the event socket and its ACL, included the way a stock conf/ tree includes
them) and starts a second one as the trunk ("far": receives, answers busy, rings, answers
without fax, and sends faxes in). Faxes are real: spandsp on both ends, over T.38 or
G.711 audio, on 127.0.0.1 with ports of their own, so the tests run in parallel
(`pytest -n`). Each asserts the job or inbound fax the gateway ends with and that the
rendered hook reached the gateway with the call's real result (the gateway logs every
hook it gets), and that FreeSWITCH logged no [CRIT]/[ERR] about the rendered files.

The build comes from ../shared/peers/freeswitch (next to the repository) or
$FAXBOT_FREESWITCH_PEER_DIR; without it every test is skipped and says so:
"SKIPPED: real FreeSWITCH not found at …". A real fax takes 20-50 s."""

import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)

import documents as docs  # noqa: E402
import fs_real  # noqa: E402
from conftest import Server, _stop_all, base_env, faxbot_bin  # noqa: E402
from helpers import get_job, run_cli, tiff_pages, wait_job  # noqa: E402

ADMIN = "fs-real-admin-key-0c4f"
SECRET = "fs-real-hook-secret-7b2e"
GW = "faxbot_trunk"
ESL_PASSWORD = "pbx-esl-pw-3a9d"
FAR_ESL_PASSWORD = "far-esl-pw-51c0"

# numbers the far end answers (see FAR_DIALPLAN)
RX_T38 = "+15550001"
RX_AUDIO = "+15550002"
BUSY = "+15550486"
RINGS = "+15550408"
NO_FAX = "+15550049"
FAX_LINE = "+15551230000"        # the gateway's inbound fax number
FAR_CALLER = "15557654321"

FAR_DIALPLAN = r"""    <context name="public">
      <extension name="rx-t38">
        <condition field="destination_number" expression="^\+?15550001$">
          <action application="answer"/>
          <action application="set" data="fax_enable_t38=true"/>
          <action application="set" data="fax_enable_t38_request=false"/>
          <action application="rxfax" data="@T@/fax-in/${uuid}.tif"/>
          <action application="hangup"/>
        </condition>
      </extension>
      <extension name="rx-audio">
        <condition field="destination_number" expression="^\+?15550002$">
          <action application="answer"/>
          <action application="set" data="fax_enable_t38=false"/>
          <action application="set" data="fax_enable_t38_request=false"/>
          <action application="rxfax" data="@T@/fax-in/${uuid}.tif"/>
          <action application="hangup"/>
        </condition>
      </extension>
      <extension name="busy">
        <condition field="destination_number" expression="^\+?15550486$">
          <action application="respond" data="486 Busy Here"/>
        </condition>
      </extension>
      <extension name="rings">
        <condition field="destination_number" expression="^\+?15550408$">
          <action application="ring_ready"/>
          <action application="sleep" data="60000"/>
        </condition>
      </extension>
      <extension name="answers-no-fax">
        <condition field="destination_number" expression="^\+?15550049$">
          <action application="answer"/>
          <action application="sleep" data="6000"/>
          <action application="hangup"/>
        </condition>
      </extension>
    </context>"""


@pytest.fixture(scope="session")
def fs_binary():
    d = fs_real.locate_build()
    if d is None:
        msg = (f"SKIPPED: real FreeSWITCH not found at {fs_real.build_dir()} "
               f"(needs unpack.sh and {fs_real.TARBALL}; or set FAXBOT_FREESWITCH_PEER_DIR)")
        sys.stderr.write(msg + "\n")
        pytest.skip(msg)
    try:
        return fs_real.unpack(d)
    except RuntimeError as e:
        pytest.fail(f"the real FreeSWITCH build at {d} does not run here: {e}", pytrace=False)


class Rig:
    """far (trunk) + pbx (loaded with our rendered files) + the gateway."""

    def __init__(self, binary, base, t38=True, cut_esl=False, **gw_env):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix="fsreal-", dir=str(base))
        self.spool = os.path.join(self.work, "spool")
        os.makedirs(self.spool)
        os.makedirs(os.path.join(self.work, "far", "fax-in"))
        self.t38 = t38
        self.far_sip, self.pbx_sip = fs_real.free_udp_port(), fs_real.free_udp_port()
        self.far_esl, self.pbx_esl = fs_real.free_tcp_port(), fs_real.free_tcp_port()
        self.cutter = fs_real.TcpCutter(self.pbx_esl) if cut_esl else None
        env = {"FAX_BACKEND": "freeswitch", "FREESWITCH_ESL_HOST": "127.0.0.1",
               "FREESWITCH_ESL_PORT": str(self.cutter.port if self.cutter else self.pbx_esl),
               "FREESWITCH_ESL_PASSWORD": ESL_PASSWORD, "FREESWITCH_GATEWAY_NAME": GW,
               "FREESWITCH_INBOUND_SECRET": SECRET, "FREESWITCH_SPOOL_DIR": self.spool,
               "FREESWITCH_T38_ENABLE": "true" if t38 else "false", "INBOUND_ENABLED": "true",
               "API_KEY": ADMIN, "FAX_WORKERS": "2", "FAX_MAX_ATTEMPTS": "1",
               "FAX_LOCAL_STATION_ID": "+1 555 123 0000", "FAX_HEADER": "Faxbot interop"}
        env.update(gw_env)
        self.srv = Server(os.path.join(self.work, "gw"), env)
        self.render()
        self.far = fs_real.FsInstance(binary, self.work, "far", self.far_esl, FAR_ESL_PASSWORD, self.far_conf())
        self.pbx = fs_real.FsInstance(binary, self.work, "pbx", self.pbx_esl, ESL_PASSWORD, self.pbx_conf())
        self.started = []

    def render(self):
        self.rendered = os.path.join(self.work, "rendered")
        env = base_env()
        env.update({k: v for k, v in self.srv.env.items() if k.startswith(("FAX", "FREESWITCH", "INBOUND"))})
        env.update({"SIP_SERVER": f"127.0.0.1:{self.far_sip}", "FREESWITCH_ESL_PORT": str(self.pbx_esl),
                    "FREESWITCH_HOOK_URL": self.srv.url, "FREESWITCH_INBOUND_NUMBER": FAX_LINE})
        code, out, err = run_cli(["freeswitch-config", "--out", self.rendered], env)
        assert code == 0, out + err

    def pbx_conf(self):
        r = self.rendered
        inc = fs_real.include
        profile = fs_real.sofia_profile("external", self.pbx_sip, inc(f"{r}/sip_profiles/external/*.xml"))
        dialplan = (f'    <context name="public">\n      {inc(r + "/dialplan/public/*.xml")}\n    </context>\n'
                    f'    {inc(r + "/dialplan/*.xml")}')
        return fs_real.freeswitch_xml("@T@", "pbx", fs_real.rtp_range(),
                                      inc(f"{r}/autoload_configs/faxbot_event_socket.conf.xml"),
                                      inc(f"{r}/autoload_configs/faxbot_acl.xml"),
                                      False,   # no T.38 request by default: the originate must ask for it
                                      profile, dialplan)

    def far_conf(self):
        gw = (f'<gateway name="to-pbx"><param name="proxy" value="127.0.0.1:{self.pbx_sip}"/>'
              f'<param name="register" value="false"/><param name="username" value="far"/>'
              f'<param name="password" value="unused"/><param name="caller-id-in-from" value="true"/></gateway>')
        return fs_real.freeswitch_xml("@T@", "far", fs_real.rtp_range(),
                                      fs_real.event_socket_xml(self.far_esl, FAR_ESL_PASSWORD), "", True,
                                      fs_real.sofia_profile("far", self.far_sip, gw), FAR_DIALPLAN)

    def start(self):
        for fs in (self.far, self.pbx):        # both start side by side (5-7 s each on a busy machine)
            fs.launch()
            self.started.append(fs)
        for fs in self.started:
            fs.wait_ready()
        self.far_events = self.far.esl()
        self.far_events.subscribe("CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CUSTOM "
                                  "spandsp::rxfaxresult spandsp::txfaxresult")
        self.srv.start()
        deadline = time.monotonic() + 20
        while self.srv.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not log in to the rendered event socket:\n" \
                + self.srv.stderr_text()[-3000:]
            time.sleep(0.1)
        return self

    def stop(self):
        try:
            self.far_events.close()
        except AttributeError:
            pass
        _stop_all([self.srv])
        for fs in self.started:
            fs.stop()
        if self.cutter:
            self.cutter.close()

    # -- helpers ---------------------------------------------------------------------
    def send(self, to, pages=1):
        content = docs.pdf_pages([f"interop page {i + 1} of {pages}" for i in range(pages)])
        r = self.srv.post("/fax", key=ADMIN, data={"to": to}, files={"file": ("doc.pdf", content, "application/pdf")})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def wait(self, job_id, timeout=120):
        return wait_job(self.srv, job_id, key=ADMIN, timeout=timeout)[0]

    def hook_lines(self, job_id, timeout=15):
        """The gateway's log lines for the rendered outbound hook of this job."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [ln for ln in self.srv.stderr_text().splitlines() if f"result hook for job {job_id}" in ln]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.2)

    def assert_clean_logs(self):
        """No [CRIT] or [ERR] in the PBX log (the rendered files load and apply cleanly)."""
        bad = [ln for ln in self.pbx.log_text().splitlines() if "[CRIT]" in ln or "[ERR]" in ln]
        assert not bad, "the PBX logged errors:\n" + "\n".join(bad[:20])


@pytest.fixture
def rig(fs_binary, tmp_path):
    made = []

    def make(**kw):
        r = Rig(fs_binary, tmp_path, **kw)
        made.append(r)
        return r.start()

    yield make
    for r in made:
        r.stop()


def _hook_fields(line):
    m = re.search(r"fax_success=(\S*) pages=(\S*) hangup_cause=(\S*): (.*)$", line)
    assert m, line
    return {"fax_success": m.group(1), "pages": m.group(2), "hangup_cause": m.group(3), "outcome": m.group(4)}


def _far_result(rig, timeout=10):
    return rig.far_events.wait_event(lambda e: e.get("Event-Subclass") == "spandsp::rxfaxresult", timeout)


def _received_pages(rig):
    d = os.path.join(rig.work, "far", "fax-in")
    files = [os.path.join(d, f) for f in os.listdir(d)]
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        pages = tiff_pages(f.read())
    assert all(p["width"] == 1728 and p["xres"] == 204.0 for p in pages), pages
    return len(pages)


# -- outbound ------------------------------------------------------------------------------

def test_t38_two_pages_success_and_hook(rig):
    r = rig(t38=True)
    job_id = r.send(RX_T38, pages=2)
    job = r.wait(job_id)
    assert job["status"] == "SUCCESS", job
    assert job["pages"] == 2 and job["attempts"] == 1, job
    # BACKGROUND_JOB "+OK" comes at answer, so the duration is the fax's (~35 s), not ~0
    assert job["duration_s"] and job["duration_s"] > 15, job
    # the PBX's spandsp.conf does not request T.38: fax_enable_t38_request on the originate did
    far = _far_result(r)
    assert far and far["fax-success"] == "1" and far["fax-t38-status"] == "negotiated", far
    assert far["fax-document-transferred-pages"] == "2", far
    assert _received_pages(r) == 2
    [line] = r.hook_lines(job_id)
    h = _hook_fields(line)
    assert h["fax_success"] == "1" and h["pages"] == "2" and h["hangup_cause"] == "NORMAL_CLEARING", h
    # hook and event are one update: whichever came second changed nothing
    assert h["outcome"] in ("applied", "already finished"), h
    assert get_job(r.srv, job_id, key=ADMIN)["updated_at"] == job["updated_at"]
    r.assert_clean_logs()


def test_audio_success_and_hook(rig):
    r = rig(t38=False)
    job_id = r.send(RX_AUDIO)
    job = r.wait(job_id)
    assert job["status"] == "SUCCESS" and job["pages"] == 1, job
    far = _far_result(r)
    assert far and far["fax-success"] == "1" and far["fax-t38-status"] != "negotiated", far
    assert _received_pages(r) == 1
    h = _hook_fields(r.hook_lines(job_id)[0])
    assert h["fax_success"] == "1" and h["pages"] == "1", h
    r.assert_clean_logs()


def test_busy_hook_and_event(rig):
    r = rig()
    job_id = r.send(BUSY)
    job = r.wait(job_id, timeout=30)
    assert job["status"] == "FAILED" and job["failure_reason"] == "busy", job
    assert "USER_BUSY" in job["error"], job
    h = _hook_fields(r.hook_lines(job_id)[0])
    assert h["fax_success"] == "" and h["hangup_cause"] == "USER_BUSY", h
    r.assert_clean_logs()


def test_no_answer_hook_and_event(rig):
    r = rig(FREESWITCH_ORIGINATE_TIMEOUT="5")
    job_id = r.send(RINGS)
    job = r.wait(job_id, timeout=40)
    assert job["status"] == "FAILED" and job["failure_reason"] == "no_answer", job
    h = _hook_fields(r.hook_lines(job_id)[0])
    assert h["fax_success"] == "" and h["hangup_cause"] in ("NO_ANSWER", "ALLOTTED_TIMEOUT"), h
    r.assert_clean_logs()


def test_answered_without_fax_fails_with_the_spandsp_result(rig):
    r = rig()
    job_id = r.send(NO_FAX)
    job = r.wait(job_id, timeout=60)
    assert job["status"] == "FAILED" and job["pages"] in (0, None), job
    assert "49" in job["error"], job          # T30_ERR_CALLDROPPED: "The call dropped prematurely"
    h = _hook_fields(r.hook_lines(job_id)[0])
    assert h["fax_success"] == "0" and h["pages"] == "0" and h["hangup_cause"] == "NORMAL_CLEARING", h
    r.assert_clean_logs()


def test_event_socket_dropped_mid_call_result_comes_by_the_hook(rig):
    r = rig(cut_esl=True)
    job_id = r.send(RX_T38)
    answered = r.far_events.wait_event(lambda e: e.get("Event-Name") == "CHANNEL_ANSWER", 60)
    assert answered, "the far end never answered"
    r.cutter.cut()                      # the gateway's event socket is gone until the fax is over
    job = r.wait(job_id, timeout=120)
    assert job["status"] == "SUCCESS" and job["pages"] == 1, job
    [line] = r.hook_lines(job_id)
    h = _hook_fields(line)
    assert h["fax_success"] == "1" and h["outcome"] == "applied", h
    r.cutter.mend()                     # back: the reconciliation finds nothing left to do
    time.sleep(2)
    assert get_job(r.srv, job_id, key=ADMIN)["updated_at"] == job["updated_at"]
    r.assert_clean_logs()


# -- inbound ---------------------------------------------------------------------------------

def test_inbound_fax_is_stored_through_the_rendered_dialplan(rig, tmp_path):
    r = rig()
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(docs.pdf_pages(["inbound page one", "inbound page two"]))
    tif = tmp_path / "in.tif"
    code, out, err = run_cli(["convert", str(pdf), str(tif)], base_env())
    assert code == 0, out + err
    reply = r.far_events.bgapi(
        f"originate {{fax_enable_t38=true,fax_enable_t38_request=true,origination_caller_id_number={FAR_CALLER},"
        f"fax_ident=FAR-SENDER}}sofia/gateway/to-pbx/{FAX_LINE} &txfax({tif})")
    assert reply.startswith("+OK"), reply
    sent = r.far_events.wait_event(lambda e: e.get("Event-Subclass") == "spandsp::txfaxresult", 120)
    assert sent and sent["fax-success"] == "1", sent
    deadline = time.monotonic() + 20
    while True:
        lst = r.srv.get("/inbound", key=ADMIN).json()
        if lst or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(lst) == 1, (lst, r.srv.stderr_text()[-3000:])
    fax = lst[0]
    assert fax.get("from_number", fax.get("fr")) == FAR_CALLER, fax
    assert fax.get("to_number", fax.get("to")) == FAX_LINE.lstrip("+"), fax
    assert fax["pages"] == 2, fax
    # the hook carried the call's real result (taken at hangup, not when `set` ran)
    assert "hook fax_success=1 pages=2)" in r.srv.stderr_text(), r.srv.stderr_text()[-3000:]
    got = r.srv.get(f"/inbound/{fax['id']}/pdf", key=ADMIN)
    assert got.status_code == 200 and got.content.startswith(b"%PDF"), got.status_code
    r.assert_clean_logs()


def test_inbound_call_without_fax_is_reported_and_not_stored(rig):
    r = rig()
    reply = r.far_events.bgapi(
        f"originate {{origination_caller_id_number={FAR_CALLER}}}sofia/gateway/to-pbx/{FAX_LINE} "
        f"&playback(silence_stream://6000)")
    assert reply.startswith("+OK"), reply
    hung = r.far_events.wait_event(lambda e: e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE", 60)
    assert hung, "the call never ended"
    deadline = time.monotonic() + 15
    while "brought no pages (hook fax_success=0)" not in r.srv.stderr_text():
        assert time.monotonic() < deadline, r.srv.stderr_text()[-3000:]
        time.sleep(0.2)
    assert r.srv.get("/inbound", key=ADMIN).json() == []
    r.assert_clean_logs()


def test_rendered_outbound_context_sends_a_fax_by_hand(rig, tmp_path):
    """The trunk test the rendered faxbot_outbound.xml documents, typed on the PBX."""
    r = rig()
    pdf = tmp_path / "by-hand.pdf"
    pdf.write_bytes(docs.pdf_pages(["sent by hand through faxbot_outbound"]))
    tif = tmp_path / "by-hand.tif"
    code, out, err = run_cli(["convert", str(pdf), str(tif)], base_env())
    assert code == 0, out + err
    c = r.pbx.esl()
    try:
        c.subscribe("CUSTOM spandsp::txfaxresult")
        reply = c.bgapi(f"originate {{faxbot_tiff={tif}}}sofia/gateway/{GW}/{RX_T38.lstrip('+')} "
                        f"faxbot_txfax XML faxbot_outbound")
        assert reply.startswith("+OK"), reply
        sent = c.wait_event(lambda e: e.get("Event-Subclass") == "spandsp::txfaxresult", 120)
    finally:
        c.close()
    assert sent and sent["fax-success"] == "1" and sent["fax-t38-status"] == "negotiated", sent
    assert _received_pages(r) == 1
    r.assert_clean_logs()
