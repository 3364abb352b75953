"""test_asterisk.py — FAX_BACKEND=sip end to end against a stand-in Asterisk that speaks
AMI over TCP (tests/peers/ami_peer.py): success with the result fields, busy (retried by
the job policy), no answer, congestion, rejected, a failure with no result event, a wrong
AMI secret (/health/ready 503 and diagnostics say the login was rejected), the AMI
socket dropped mid-call (the job is reconciled after the reconnect, never left
in_progress), the channel cap, Originate injection attempts, the inbound hand-off
(good path, replay, paths outside the spool, wrong secret), and the rendered
Asterisk configuration for every trunk preset."""

import os
import re
import stat
import sys
import time

import pytest

import documents as docs
from helpers import (assert_detail, create_job, fetch, get_job, run_cli, send_fax, slow_factor,
                     wait_job)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402

AMI_SECRET = "ami-Secret-4711"
IN_SECRET = "inbound-secret-0123456789abcdef"
ADMIN = "asterisk-admin-key-8c1d2e3f4a5b"


@pytest.fixture
def peer():
    p = AmiPeer(secret=AMI_SECRET)
    yield p
    p.close()


def wait_ready(srv, timeout=15.0):
    deadline = time.monotonic() + timeout * slow_factor()
    last = None
    while time.monotonic() < deadline:
        last = srv.get("/health/ready")
        if last.status_code == 200:
            return last.json()
        time.sleep(0.1)
    raise AssertionError(f"not ready: {last.status_code} {last.text}\n{srv.stderr_text()[-3000:]}")


def start(server, peer, tmp_path, ready=True, **env):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    base = dict(FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=peer.port,
                ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD=AMI_SECRET,
                ASTERISK_INBOUND_SECRET=IN_SECRET, ASTERISK_SPOOL_DIR=str(spool),
                INBOUND_ENABLED="true", FAX_WORKERS="2", FAX_MAX_ATTEMPTS="3", API_KEY=ADMIN)
    base.update(env)
    srv = server(**base)
    srv.spool = spool
    if ready:
        wait_ready(srv)
    return srv


def job_for(srv, to, **fields):
    return create_job(srv, to=to, key=ADMIN, fields=fields or None)


def originate_vars(action):
    from ami_peer import variables_of
    return dict(variables_of(action["headers"]))


def header(action, name):
    vals = [v for k, v in action["headers"] if k.lower() == name.lower()]
    assert len(vals) == 1, f"{name}: {vals} in {action['headers']}"
    return vals[0]


def finish(srv, job_id, timeout=30):
    return wait_job(srv, job_id, key=ADMIN, timeout=timeout)


# ---------------------------------------------------------------- outbound

def test_success_sends_one_originate_with_the_job_and_reports_the_fax(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_LOCAL_STATION_ID="+1 555 000 9999")
    job = job_for(srv, "+15550001")
    final, seen = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    assert final["pages"] == 1 and final["bit_rate"] == 14400, final
    assert final["remote_station_id"] == "+1 555 000 1111", final
    assert final["provider_sid"] == f"faxbot-{job['id']}-1", final
    assert final["attempts"] == 1 and final["ecm"] is True, final

    origs = peer.originates()
    assert len(origs) == 1, peer.action_names()
    o = origs[0]
    assert header(o, "Channel") == "PJSIP/+15550001@faxbot-trunk"
    assert header(o, "Context") == "faxout" and header(o, "Exten") == "send"
    assert header(o, "Priority") == "1" and header(o, "Async") == "true"
    assert header(o, "ChannelId") == f"faxbot-{job['id']}-1"
    assert header(o, "ActionID")
    v = originate_vars(o)
    assert v["FAXBOT_JOBID"] == job["id"] and v["FAXBOT_ATTEMPT"] == "1"
    assert v["FAXOPT(localstationid)"] == "+1 555 000 9999"
    assert v["CHANNEL(hangup_handler_push)"] == "faxbot-result,s,1"
    path = v["FAXBOT_FILE"]
    assert os.path.isabs(path) and os.path.isfile(path) and path.endswith(".tiff"), path
    with open(path, "rb") as f:
        assert f.read(4) in (b"II*\x00", b"MM\x00*")


def test_t38_result_fields_in_any_event_order(server, peer, tmp_path):
    srv = start(server, peer, tmp_path)
    peer.script("+15550002", kind="t38", pages=2, bitrate=9600, remote="FAR END 42",
                order=["UserEvent", "Hangup", "SendFAX", "OriginateResponse"])
    job = job_for(srv, "+15550002")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    assert final["pages"] == 2 and final["bit_rate"] == 9600, final
    assert final["remote_station_id"] == "FAR END 42", final


def test_busy_is_retried_by_the_job_policy(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="3")
    peer.script("+15550003", kind="busy")
    job = job_for(srv, "+15550003")
    peer.wait(lambda: len(peer.originates()) >= 1, what="first Originate")
    peer.script("+15550003", kind="success")   # the line is free for the retry
    final, seen = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", (final, seen)
    assert final["attempts"] == 2, final
    assert "queued" in seen[1:], seen
    origs = peer.originates()
    assert [originate_vars(o)["FAXBOT_ATTEMPT"] for o in origs] == ["1", "2"]
    assert [header(o, "ChannelId") for o in origs] == [f"faxbot-{job['id']}-1", f"faxbot-{job['id']}-2"]


def test_busy_every_time_fails_busy_after_all_attempts(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="2")
    peer.script("+15550004", kind="busy")
    job = job_for(srv, "+15550004")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "busy", final
    assert final["attempts"] == 2 and "SIP 486" in final["error"], final


@pytest.mark.parametrize("kind,reason,text", [("noanswer", "no_answer", "no answer"),
                                              ("congestion", "congestion", "congest")])
def test_unanswered_calls_map_to_reasons(server, peer, tmp_path, kind, reason, text):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="1")
    peer.script("+15550005", kind=kind)
    job = job_for(srv, "+15550005")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == reason, final
    assert text in final["error"].lower(), final


def test_rejected_is_final_with_advice(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="3")
    peer.script("+15550006", kind="rejected")
    job = job_for(srv, "+15550006")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "rejected", final
    assert final["attempts"] == 1, "a 403 must not be retried"
    assert "caller id" in final["error"].lower(), final
    assert len(peer.originates()) == 1


def test_failure_without_a_result_event_still_ends_the_job(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="1")
    peer.script("+15550007", kind="nochannel")
    job = job_for(srv, "+15550007")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "line_error", final
    peer.script("+15550008", kind="busy", no_result=True)
    job = job_for(srv, "+15550008")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "busy", final


def test_file_error_is_final(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="3")
    peer.script("+15550009", kind="file_error")
    final, _ = finish(srv, job_for(srv, "+15550009")["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "file_error", final
    assert final["attempts"] == 1 and "FAX_DATA_DIR" in final["error"], final


# ---------------------------------------------------------------- AMI login and reconnects

def test_wrong_ami_secret_is_a_clear_not_ready(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, ready=False, ASTERISK_AMI_PASSWORD="not-the-secret")
    peer.wait(lambda: peer.logins_failed >= 1, what="a rejected login")
    deadline = time.monotonic() + 10
    while True:
        r = srv.get("/health/ready")
        text = r.text
        if "login rejected" in text or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["checks"]["backend_config"] is False, body
    assert any("AMI login rejected for user 'faxbot'" in w and "ASTERISK_AMI_PASSWORD" in w
               for w in body["warnings"]), body
    assert "not-the-secret" not in r.text and AMI_SECRET not in r.text
    d = srv.post("/admin/diagnostics/run", key=ADMIN)
    assert d.status_code == 200, d.text
    dj = d.json()
    assert dj["ok"] is False and dj["checks"]["backend"]["credentials"] == "rejected", dj
    assert dj["checks"]["backend"]["ami"]["login"] == "login_rejected", dj
    assert "not-the-secret" not in srv.stderr_text()
    assert peer.logins_ok == 0


def test_diagnostics_when_all_is_well(server, peer, tmp_path):
    srv = start(server, peer, tmp_path)
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    b = d["checks"]["backend"]
    assert d["ok"] is True, d
    assert b["credentials"] == "ok" and all(b["modules"].values()), b
    assert b["trunk"]["registration"] == "Registered" and b["trunk"]["qualify"] == "Reachable", b
    peer.modules.discard("res_fax_spandsp")
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    assert d["ok"] is False and d["checks"]["backend"]["modules"]["res_fax_spandsp"] is False, d
    assert any("res_fax_spandsp" in a for a in d["checks"]["backend"]["advice"]), d


def test_dropped_ami_mid_call_is_reconciled_and_retried(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, FAX_MAX_ATTEMPTS="3")
    peer.script("+15550010", kind="drop")
    job = job_for(srv, "+15550010")
    peer.wait(lambda: len(peer.originates()) >= 1, what="Originate")
    peer.script("+15550010", kind="success")
    final, seen = finish(srv, job["id"], timeout=40)
    assert final["status"] == "SUCCESS", (final, seen)
    assert final["attempts"] == 2, final
    assert peer.sessions >= 2, "the gateway must log in again"
    names = peer.action_names()
    assert "CoreShowChannels" in names, names
    # the CoreShowChannels check came after the second login and before the second Originate
    second_login = [i for i, n in enumerate(names) if n == "Login"][1]
    check = names.index("CoreShowChannels", second_login)
    assert check < [i for i, n in enumerate(names) if n == "Originate"][1], names


def test_call_still_up_after_a_reconnect_keeps_its_result(server, peer, tmp_path):
    srv = start(server, peer, tmp_path)
    peer.script("+15550011", kind="hold")
    job = job_for(srv, "+15550011")
    peer.wait(lambda: len(peer.channels) == 1, what="the call to be up")
    uid = next(iter(peer.channels))
    peer.drop_all()
    peer.wait(lambda: peer.sessions >= 2, what="a new login")
    peer.wait(lambda: "CoreShowChannels" in peer.action_names(), what="reconciliation")
    time.sleep(0.5)
    assert get_job(srv, job["id"], key=ADMIN)["status"] == "in_progress"
    peer.finish(uid, kind="success")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "SUCCESS" and final["attempts"] == 1, final
    assert len(peer.originates()) == 1


def test_gateway_restart_mid_call_resumes_instead_of_resending(server, peer, tmp_path):
    srv = start(server, peer, tmp_path)
    peer.script("+15550020", kind="hold")
    peer.script("+15550021", kind="hold")
    kept = job_for(srv, "+15550020")
    lost = job_for(srv, "+15550021")
    peer.wait(lambda: len(peer.channels) == 2, what="both calls up")
    uids = {c.number: uid for uid, c in peer.channels.items()}
    srv.kill9()
    with peer.lock:                     # one call ends while the gateway is down
        peer.channels.pop(uids["+15550021"])
    peer.script("+15550021", kind="success")
    srv.start()
    wait_ready(srv)
    final, _ = finish(srv, lost["id"])
    assert final["status"] == "SUCCESS" and final["attempts"] == 2, final
    assert get_job(srv, kept["id"], key=ADMIN)["status"] == "in_progress"
    peer.finish(uids["+15550020"], kind="success")
    final, _ = finish(srv, kept["id"])
    assert final["status"] == "SUCCESS" and final["attempts"] == 1, final
    assert sorted(header(o, "Channel") for o in peer.originates()) == [
        "PJSIP/+15550020@faxbot-trunk", "PJSIP/+15550021@faxbot-trunk", "PJSIP/+15550021@faxbot-trunk"]


def test_channel_cap_defers_without_using_attempts(server, peer, tmp_path):
    srv = start(server, peer, tmp_path, ASTERISK_MAX_CHANNELS="1", FAX_WORKERS="3")
    peer.script("+15550012", kind="hold")
    first = job_for(srv, "+15550012")
    peer.wait(lambda: len(peer.channels) == 1, what="the first call")
    others = [job_for(srv, "+15550013"), job_for(srv, "+15550014")]
    time.sleep(3)
    assert len(peer.originates()) == 1, "a second call started beyond ASTERISK_MAX_CHANNELS=1"
    for j in others:
        cur = get_job(srv, j["id"], key=ADMIN)
        assert cur["status"] in ("queued", "in_progress") and cur["attempts"] <= 1, cur
    peer.finish(next(iter(peer.channels)), kind="success")
    for j in [first] + others:
        final, _ = finish(srv, j["id"])
        assert final["status"] == "SUCCESS" and final["attempts"] == 1, final
    assert len(peer.originates()) == 3


# ---------------------------------------------------------------- injection

NASTY_HEADER = 'ACME, Inc. ${SHELL} "q" \\ |pipe (x'


def test_header_and_caller_id_cannot_split_the_originate(server, peer, tmp_path):
    srv = start(server, peer, tmp_path)
    job = job_for(srv, "+15550015", header_text=NASTY_HEADER, caller_id="+15557654321")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    origs = peer.originates()
    assert len(origs) == 1
    o = origs[0]
    v = originate_vars(o)
    assert v["FAXOPT(headerinfo)"] == NASTY_HEADER, v
    assert set(v) == {"FAXBOT_JOBID", "FAXBOT_ATTEMPT", "FAXBOT_FILE", "FAXOPT(headerinfo)",
                      "CHANNEL(hangup_handler_push)"}, v
    assert header(o, "CallerID") == "<+15557654321>"
    assert header(o, "Channel") == "PJSIP/+15550015@faxbot-trunk"
    assert set(peer.action_names()) <= {"Login", "Originate", "Ping", "CoreShowChannels"}, peer.action_names()
    for bad in ("line one\r\nAction: Hangup", "nul\x00byte", "tab\tand\nnewline"):
        r = send_fax(srv, to="+15550016", key=ADMIN, fields={"header_text": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
    r = send_fax(srv, to="+15550016", key=ADMIN, fields={"caller_id": "+1555,Variable: X=1"})
    assert r.status_code == 400, r.text
    time.sleep(0.5)
    assert len(peer.originates()) == 1
    assert "Hangup" not in peer.action_names()


def test_caller_id_name_travels_in_the_originate(server, peer, tmp_path):
    """The trunk endpoint has no `callerid` (it would overwrite the caller of every inbound
    call), so SIP_CALLER_ID_NAME and SIP_FROM_USER go in each Originate's CallerID."""
    srv = start(server, peer, tmp_path, SIP_FROM_USER="+15551112222", SIP_CALLER_ID_NAME="ACME Fax")
    job = job_for(srv, "+15550017")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    job = job_for(srv, "+15550018", caller_id="+15557654321")
    final, _ = finish(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    assert [header(o, "CallerID") for o in peer.originates()] == ['"ACME Fax" <+15551112222>',
                                                                  '"ACME Fax" <+15557654321>']


# ---------------------------------------------------------------- inbound

def make_tiff(tmp_path, cli_env, name="in.tif"):
    src = tmp_path / "inbound.txt"
    src.write_text("An inbound fax\nfor the gateway\n")
    out = tmp_path / name
    code, o, e = run_cli(["convert", str(src), str(out)], cli_env)
    assert code == 0, o + e
    return out


def test_inbound_hand_off(server, peer, tmp_path, cli_env):
    srv = start(server, peer, tmp_path)
    tiff = make_tiff(tmp_path, cli_env)
    data = tiff.read_bytes()
    rx = srv.spool / "rx-1700000000.42.tif"
    rx.write_bytes(data)
    code, body = peer.deliver_inbound(srv.url, IN_SECRET, str(rx), "+15551230000", "+15559870000",
                                      "REMOTE FAX", "1700000000.42")
    assert code == 200, body
    inbound_id = re.search(r'"inbound_id":"([0-9a-f]{32})"', body).group(1)
    listed = fetch(srv, "/inbound", key=ADMIN).json()
    assert [f["id"] for f in listed] == [inbound_id], listed
    fax = listed[0]
    assert fax["backend"] == "sip" and fax["pages"] == 1, fax
    assert fax["to"] == "+15559870000" and fax["remote_station_id"] == "REMOTE FAX", fax
    pdf = fetch(srv, f"/inbound/{inbound_id}/pdf", key=ADMIN, ctype="application/pdf").content
    assert pdf.startswith(b"%PDF")
    assert not rx.exists(), "the spool file is taken over"

    # replay: same uniqueid, file there again or not -> the same fax, never a second one
    code, body2 = peer.deliver_inbound(srv.url, IN_SECRET, str(rx), "+15551230000", "+15559870000",
                                       "REMOTE FAX", "1700000000.42")
    assert code == 200 and inbound_id in body2, body2
    srv.restart()
    wait_ready(srv)
    rx.write_bytes(data)
    code, body3 = peer.deliver_inbound(srv.url, IN_SECRET, str(rx), "+15551230000", "+15559870000",
                                       "REMOTE FAX", "1700000000.42")
    assert code == 200 and inbound_id in body3, body3
    assert len(fetch(srv, "/inbound", key=ADMIN).json()) == 1


def test_inbound_refuses_bad_requests(server, peer, tmp_path, cli_env):
    srv = start(server, peer, tmp_path)
    tiff = make_tiff(tmp_path, cli_env)
    outside = tmp_path / "outside.tif"
    outside.write_bytes(tiff.read_bytes())
    inside = srv.spool / "rx-1.tif"
    inside.write_bytes(tiff.read_bytes())
    link = srv.spool / "rx-link.tif"
    os.symlink(outside, link)
    junk = srv.spool / "rx-junk.tif"
    junk.write_bytes(b"II*\x00not a tiff at all" * 10)

    def post(path, secret=IN_SECRET, uid="1700000001.1"):
        return peer.deliver_inbound(srv.url, secret, str(path), "+15551230000", "+15559870000", "X", uid)

    assert post(inside, secret="wrong-secret-wrong-secret")[0] == 401
    assert post(inside, secret=None)[0] == 401
    assert post(outside)[0] == 403
    assert post(link)[0] == 403
    assert post(f"{srv.spool}/../outside.tif")[0] == 403
    assert post("/etc/passwd")[0] == 403
    assert post(srv.spool / "missing.tif")[0] == 400
    assert post(junk, uid="1700000001.2")[0] == 400
    assert fetch(srv, "/inbound", key=ADMIN).json() == []
    assert outside.exists() and inside.exists()
    r = srv.post("/_internal/asterisk/inbound", headers={"X-Internal-Secret": IN_SECRET,
                                                         "Content-Type": "application/json"},
                 data=b'{"tiff_path": 5}')
    assert_detail(r, 400)
    r = srv.post("/_internal/asterisk/inbound", headers={"X-Internal-Secret": IN_SECRET,
                                                         "Content-Type": "application/json"},
                 json={"tiff_path": str(inside), "from": "+1555", "to": "+1666", "station_id": "S",
                       "uniqueid": "1700000001.3"})
    assert r.status_code == 200 and r.json()["inbound_id"], r.text


# ---------------------------------------------------------------- configuration

PJSIP_OPTIONS = {
    "transport": {"type", "protocol", "bind", "external_media_address", "external_signaling_address", "local_net",
                  "cert_file", "priv_key_file", "ca_list_file", "method"},
    "auth": {"type", "auth_type", "username", "password"},
    "aor": {"type", "contact", "qualify_frequency"},
    "endpoint": {"type", "transport", "context", "disallow", "allow", "aors", "outbound_auth", "from_user",
                 "from_domain", "callerid", "send_pai", "direct_media", "rtp_symmetric", "force_rport",
                 "rewrite_contact", "dtmf_mode", "fax_detect", "t38_udptl", "t38_udptl_ec",
                 "t38_udptl_maxdatagram"},
    "registration": {"type", "transport", "outbound_auth", "server_uri", "client_uri", "contact_user",
                     "retry_interval", "forbidden_retry_interval", "expiration", "line", "endpoint"},
    "identify": {"type", "endpoint", "match"},
}


def parse_conf(text):
    """Asterisk .conf: [section] then key = value (or exten => ...); ';' comments."""
    sections = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip() if not line.lstrip().startswith("exten") and \
            not line.lstrip().startswith("same") else line.strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            sections.append((m.group(1), []))
            continue
        m = re.fullmatch(r"([A-Za-z0-9_]+)\s*=>?\s*(.*)", line)
        assert m and sections, f"not a config line: {line!r}"
        sections[-1][1].append((m.group(1), m.group(2)))
    return sections


PRESET_ENV = {
    "generic": dict(SIP_SERVER="sip.example.net", SIP_USERNAME="trunkuser", SIP_PASSWORD="Trunk-Pass-99",
                    SIP_FROM_USER="+15551112222"),
    "twilio": dict(SIP_SERVER="acme.pstn.twilio.com", SIP_USERNAME="twuser", SIP_PASSWORD="Tw-Pass-12345",
                   SIP_FROM_USER="+15551112222"),
    "telnyx": dict(SIP_USERNAME="telnyxuser", SIP_PASSWORD="Tx-Pass-12345", SIP_FROM_USER="+15551112222"),
    "bandwidth": dict(SIP_SERVER="192.0.2.10", SIP_FROM_USER="+15551112222"),
    "flowroute": dict(SIP_TECH_PREFIX="12345678", SIP_FROM_USER="15551112222"),
}


def render(tmp_path, cli_env, preset, **extra):
    env = dict(cli_env)
    env.update(SIP_TRUNK_PRESET=preset, ASTERISK_AMI_PASSWORD="Ami-Pass-777",
               ASTERISK_INBOUND_SECRET=IN_SECRET, ASTERISK_SPOOL_DIR="/var/spool/asterisk/fax",
               FAX_LOCAL_STATION_ID="+1 555 111 2222", PUBLIC_API_URL="http://10.0.0.5:8080")
    env.update(PRESET_ENV.get(preset, {}))
    env.update(extra)
    out = tmp_path / f"conf-{preset}"
    code, o, e = run_cli(["asterisk-config", "--out", str(out)], env)
    return code, o + e, out, env


@pytest.mark.parametrize("preset", ["generic", "twilio", "telnyx", "bandwidth", "flowroute"])
def test_rendered_configs_for_every_preset(tmp_path, cli_env, preset):
    code, text, out, env = render(tmp_path, cli_env, preset)
    assert code == 0, text
    for secret in ("Ami-Pass-777", IN_SECRET, env.get("SIP_PASSWORD", "@@none@@")):
        assert secret not in text, "a secret was printed"
    files = {p.name: p for p in out.iterdir()}
    assert set(files) == {"pjsip.conf", "extensions.conf", "manager.conf", "udptl.conf", "res_fax.conf",
                          "modules.conf", "rtp.conf"}, files
    for p in files.values():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        body = p.read_text()
        if p.name != "extensions.conf":
            assert "${" not in body and "$(" not in body, (p.name, body)

    pj = parse_conf(files["pjsip.conf"].read_text())
    types = {}
    for name, opts in pj:
        t = dict(opts)["type"]
        types.setdefault(t, []).append(name)
        unknown = {k for k, _ in opts} - PJSIP_OPTIONS[t]
        assert not unknown, f"{name}: options Asterisk 22 does not document for {t}: {unknown}"
        for k, v in opts:
            assert v, f"{name}.{k} is empty"
    assert {"transport", "aor", "endpoint", "identify"} <= set(types), types
    ep = dict(next(o for n, o in pj if dict(o)["type"] == "endpoint"))
    assert ep["context"] == "fax-inbound" and ep["allow"] == "ulaw,alaw"
    aor = dict(next(o for n, o in pj if dict(o)["type"] == "aor"))
    has_creds = "SIP_USERNAME" in env
    assert ("auth" in types) == has_creds
    if preset == "twilio":
        assert aor["contact"] == "sip:acme.pstn.twilio.com:5060"
        assert ep["t38_udptl"] == "no" and ep["from_user"] == "+15551112222"
        assert "registration" not in types, "Twilio termination does not register"
    elif preset == "telnyx":
        assert aor["contact"] == "sip:sip.telnyx.com:5060" and ep["t38_udptl"] == "yes"
        assert "registration" in types
    elif preset == "flowroute":
        assert aor["contact"] == "sip:sip.flowroute.com:5060" and "registration" not in types
    elif preset == "generic":
        reg = dict(next(o for n, o in pj if dict(o)["type"] == "registration"))
        assert reg["client_uri"] == "sip:trunkuser@sip.example.net:5060"
    if has_creds:
        auth = dict(next(o for n, o in pj if dict(o)["type"] == "auth"))
        assert auth["password"] == env["SIP_PASSWORD"] and auth["username"] == env["SIP_USERNAME"]

    ext = files["extensions.conf"].read_text()
    sec = dict(parse_conf(ext))
    assert {"general", "faxout", "faxbot-result", "fax-inbound"} <= set(sec), sec.keys()
    sendfax = [v for k, v in sec["faxout"] if "SendFAX(" in v]
    assert len(sendfax) == 1
    opts = re.search(r"SendFAX\(\$\{FAXBOT_FILE\},(\w*)\)", sendfax[0]).group(1)
    assert "z" not in opts, opts       # 'z' defeats the audio fallback (tests/interop/test_asterisk_real.py)
    assert ("F" in opts) == (preset == "twilio"), opts
    result = "".join(v for k, v in sec["faxbot-result"])
    assert result.count("UserEvent(FaxResult") == 1
    for field in ("JobID", "Attempt", "FaxStatus", "FaxError", "FaxPages", "FaxBitrate", "RemoteStationID",
                  "HangupCause", "SipCause"):
        assert f"{field}: " in result, field
    assert result.index("RemoteStationID:") < result.index("JobID:")
    inbound = "".join(v for k, v in sec["fax-inbound"])
    assert "ReceiveFAX(${FAXBOT_RXFILE}" in inbound and "/var/spool/asterisk/fax/rx-" in inbound
    assert "http://10.0.0.5:8080/_internal/asterisk/inbound" in inbound
    assert f"X-Internal-Secret: {IN_SECRET}" in inbound
    names = set(re.findall(r"\$\{([A-Z_]+)", ext))
    assert names <= {"FAXBOT_JOBID", "FAXBOT_ATTEMPT", "FAXBOT_FILE", "FAXBOT_RXFILE", "FAXBOT_POST", "REASON",
                     "FILTER", "REMOTESTATIONID", "HANGUPCAUSE", "CHANNEL", "FAXSTATUSSTRING", "FAXERROR",
                     "FAXSTATUS", "FAXPAGES", "FAXBITRATE", "FAXRESOLUTION", "FAXMODE", "FAXOPT",
                     "FAXBOT_ANSWERED", "UNIQUEID", "URIENCODE", "CALLERID", "EXTEN", "CURL"}, names

    man = parse_conf(files["manager.conf"].read_text())
    gen = dict(man[0][1])
    assert man[0][0] == "general" and gen["bindaddr"] == "127.0.0.1" and gen["port"] == "5038"
    user = dict(man[1][1])
    assert man[1][0] == "faxbot" and user["secret"] == "Ami-Pass-777"
    assert user["read"] == "call,user" and "originate" in user["write"].split(",")
    assert "command" not in user["write"] and "all" not in user["write"]
    mods = [v for k, v in parse_conf(files["modules.conf"].read_text())[0][1] if k == "load"]
    assert {"res_fax.so", "res_fax_spandsp.so", "chan_pjsip.so", "res_pjsip_t38.so"} <= set(mods)
    udptl = dict(parse_conf(files["udptl.conf"].read_text())[0][1])
    assert udptl["udptlstart"] == "4000" and udptl["udptlend"] == "4999"


@pytest.mark.parametrize("preset,extra,var", [
    ("generic", {"SIP_SERVER": ""}, "SIP_SERVER"),
    ("twilio", {"SIP_SERVER": "sip.example.com"}, "SIP_SERVER"),
    ("twilio", {"SIP_FROM_USER": ""}, "SIP_FROM_USER"),
    ("flowroute", {"SIP_TECH_PREFIX": ""}, "SIP_TECH_PREFIX"),
    ("generic", {"ASTERISK_AMI_PASSWORD": ""}, "ASTERISK_AMI_PASSWORD"),
    ("generic", {"ASTERISK_INBOUND_SECRET": ""}, "ASTERISK_INBOUND_SECRET"),
    ("generic", {"SIP_PASSWORD": "semi;colon"}, "SIP_PASSWORD"),
    ("generic", {"SIP_TRUNK_PRESET": "nope"}, "SIP_TRUNK_PRESET"),
])
def test_config_errors_name_the_variable(tmp_path, cli_env, preset, extra, var):
    code, text, out, _ = render(tmp_path, cli_env, preset, **extra)
    assert code == 1 and var in text, text
    assert not (out / "pjsip.conf").exists()


def test_server_refuses_to_start_without_the_ami_password(server, tmp_path):
    srv = server(expect_ready=False, FAX_BACKEND="sip", ASTERISK_INBOUND_SECRET=IN_SECRET)
    srv.proc.wait(timeout=20)
    assert srv.proc.returncode != 0
    assert "ASTERISK_AMI_PASSWORD" in srv.stderr_text()
