"""test_freeswitch.py — FAX_BACKEND=freeswitch end to end against tests/peers/esl_peer.py,
a stand-in FreeSWITCH speaking the Event Socket over TCP.  Covers: success (fields
from the spandsp events), busy and no answer (transient: retried), a failed fax,
T.38 on and off, a wrong ESL password (readiness 503, diagnostics "auth rejected"),
diagnostics (mod_spandsp, gateway state), a dropped socket mid-call (reconciled,
never stuck, never sent twice), Faxbot's result hook (1/0, hook + event = one
update), inbound through the spool directory (good, outside the spool, wrong
secret, replay), injection attempts through the fax header, and
`faxbot freeswitch-config` rendering well-formed XML for every option combination."""

import itertools
import os
import stat
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

import documents as docs
from conftest import Server, _stop_all
from helpers import wait_for, PHONE, create_job, get_job, run_cli, slow_factor, wait_job, sse_read

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from esl_peer import EslPeer, parse_originate  # noqa: E402

ADMIN = "fs-admin-key-5d1e0a7c"
SECRET = "fs-internal-secret-91ab"
GW = "gw_test"
FORBIDDEN = set(",'\"{}[]<>^$\\|`\r\n\t\0")


@pytest.fixture
def peer():
    p = EslPeer(gateway=GW)
    yield p
    p.close()


@pytest.fixture
def fs(tmp_path, peer):
    """Factory: a faxbot server with FAX_BACKEND=freeswitch connected to `peer`."""
    started = []

    def make(expect_connected=True, **env):
        base = {"FAX_BACKEND": "freeswitch", "FREESWITCH_ESL_HOST": "127.0.0.1",
                "FREESWITCH_ESL_PORT": str(peer.port), "FREESWITCH_ESL_PASSWORD": peer.password,
                "FREESWITCH_GATEWAY_NAME": GW, "FAX_WORKERS": "2", "API_KEY": ADMIN}
        base.update(env)
        srv = Server(tempfile.mkdtemp(prefix="fs-", dir=str(tmp_path)), base)
        started.append(srv)
        srv.start()
        if expect_connected:
            _wait(lambda: srv.get("/health/ready").status_code == 200, "the event socket login")
        return srv

    yield make
    _stop_all(started)


def _wait(cond, what, timeout=20.0):
    return wait_for(cond, what, timeout)


def _send(srv, **fields):
    return create_job(srv, key=ADMIN, content=docs.pdf_pages(["freeswitch test page"]), filename="doc.pdf",
                      fields=fields or None)


def _done(srv, job_id, timeout=30):
    job, seen = wait_job(srv, job_id, key=ADMIN, timeout=timeout)
    return job, seen


def _originates_for(peer, job_id):
    return [o for o in peer.originates if o["parsed"] and o["parsed"]["vars"].get("faxbot_job_id") == job_id]


def _hook(srv, body, secret=SECRET, path="/_internal/freeswitch/outbound_result"):
    headers = {} if secret is None else {"X-Internal-Secret": secret}
    return srv.post(path, json=body, headers=headers)


# -- outbound -------------------------------------------------------------------

def test_success_reads_the_spandsp_result(fs, peer):
    srv = fs(FREESWITCH_CALLER_ID_NUMBER="+15550009999", FAX_LOCAL_STATION_ID="+1 555 000 9999",
             FAX_HEADER="ACME Corp")
    job = _send(srv)
    final, seen = _done(srv, job["id"])
    assert final["status"] == "SUCCESS", (final, seen)
    assert final["pages"] == 1 and final["bit_rate"] == 14400, final
    assert final["ecm"] in (True, 1), final
    assert final["remote_station_id"] == "+1 555 0100 REMOTE", final
    assert final["attempts"] == 1 and final["failure_reason"] in (None, ""), final
    [o] = _originates_for(peer, job["id"])
    p = o["parsed"]
    v = p["vars"]
    assert final["provider_sid"] == v["origination_uuid"], final
    assert v["fax_ident"] == "+1 555 000 9999" and v["fax_header"] == "ACME Corp", v
    assert v["origination_caller_id_number"] == "+15550009999", v
    assert v["fax_enable_t38"] == "true" and v["fax_enable_t38_request"] == "true", v
    assert v["fax_use_ecm"] == "true" and v["originate_timeout"] == "60", v
    assert p["dial"] == f"sofia/gateway/{GW}/{PHONE}", p
    assert p["app"].startswith("&txfax(/") and p["app"].endswith("fax.tiff)"), p
    assert os.path.isfile(p["app"][len("&txfax("):-1]), "txfax must get the job's real TIFF"
    assert peer.refused_vars == [], "a real FreeSWITCH refuses variables holding ${"
    # the client pre-set the Job-UUID of its bgapi, and subscribed to exactly our events
    [bg] = [c for c in peer.bgapis() if job["id"] in c["cmd"]]
    assert bg["headers"]["Job-UUID"] == o["job_uuid"]
    assert peer.subscriptions[0] == ("event plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE CUSTOM "
                                     "spandsp::txfaxresult spandsp::rxfaxresult spandsp::txfaxpageresult")


@pytest.mark.parametrize("plan,reason", [("busy", "busy"), ("no_answer", "no_answer")])
def test_busy_and_no_answer_are_retried_then_fail(fs, peer, plan, reason):
    srv = fs(FAX_MAX_ATTEMPTS="2")
    peer.default_plan = plan
    job = _send(srv)
    final, seen = _done(srv, job["id"])
    assert final["status"] == "FAILED", (final, seen)
    assert final["failure_reason"] == reason and final["attempts"] == 2, final
    assert plan.upper() in final["error"], final
    assert len(_originates_for(peer, job["id"])) == 2


@pytest.mark.parametrize("preset,meaning", [
    ("twilio", "Twilio Elastic SIP Trunking says: Twilio: caller ID is not a Twilio number or verified caller ID"),
    ("generic", "generic SIP trunk says: Forbidden: the trunk refused the call"),
])
def test_a_sip_error_says_what_the_trunk_plugin_documents(fs, peer, preset, meaning):
    srv = fs(FAX_MAX_ATTEMPTS="1", SIP_TRUNK_PRESET=preset)
    peer.default_plan = "forbidden"
    job = _send(srv)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "rejected", final
    assert "CALL_REJECTED" in final["error"] and f"(SIP 403: {meaning}" in final["error"], final


def test_failed_fax_maps_the_spandsp_code(fs, peer):
    srv = fs(FAX_MAX_ATTEMPTS="1")
    peer.default_plan = "fax_fail"
    job = _send(srv)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "line_error", final
    assert "The call dropped prematurely" in final["error"] and "49" in final["error"], final


def test_gateway_refusal_is_final(fs, peer):
    srv = fs(FAX_MAX_ATTEMPTS="3")
    peer.default_plan = "rejected_gateway"
    job = _send(srv)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "provider_error", final
    assert final["attempts"] == 1 and "INVALID_GATEWAY" in final["error"], final


@pytest.mark.parametrize("t38", ["true", "false"])
def test_t38_variables_and_negotiated_result(fs, peer, t38):
    srv = fs(FREESWITCH_T38_ENABLE=t38)
    peer.default_plan = "t38" if t38 == "true" else "success"
    job = _send(srv)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    [o] = _originates_for(peer, job["id"])
    v = o["parsed"]["vars"]
    assert v["fax_enable_t38"] == t38 and v["fax_enable_t38_request"] == t38, v


# -- login, readiness, diagnostics ---------------------------------------------

def test_wrong_password_is_reported_precisely(fs, peer):
    srv = fs(expect_connected=False, FREESWITCH_ESL_PASSWORD="not-the-password")
    _wait(lambda: peer.auth_failures >= 1, "an auth attempt")
    r = _wait(lambda: (lambda x: [x] if "auth rejected" in x.text else None)(srv.get("/health/ready")),
              "readiness to name the rejected password")[0]
    assert r.status_code == 503, r.text
    assert "FREESWITCH_ESL_PASSWORD" in r.text and "not-the-password" not in r.text, r.text
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    be = d["checks"]["backend"]
    assert be["esl"] == "auth_rejected" and be["auth"] is False and "auth rejected" in be["detail"], d
    assert d["ok"] is False
    # a send while logged out fails as a network error (transient), never hangs
    job = _send(srv)
    j = _wait(lambda: (lambda x: x if x["status"] != "in_progress" and x["attempts"] >= 1 else None)(
        get_job(srv, job["id"], key=ADMIN)), "the attempt to end")
    assert j["failure_reason"] == "network_error" or j["status"] == "queued", j
    assert not peer.bgapis()


def test_diagnostics_ok_and_gateway_states(fs, peer):
    srv = fs()
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    be = d["checks"]["backend"]
    assert be["esl"] == "ok" and be["auth"] is True and be["mod_spandsp"] is True, d
    assert be["gateway"] == {"name": GW, "state": "REGED", "status": "UP", "ok": True}, d
    assert d["ok"] is True
    peer.gateway_state = "FAIL_WAIT"
    peer.mod_spandsp = False
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    be = d["checks"]["backend"]
    assert be["mod_spandsp"] is False and "mod_spandsp" in be["mod_spandsp_detail"], d
    assert be["gateway"]["state"] == "FAIL_WAIT" and be["gateway"]["ok"] is False, d
    assert d["ok"] is False
    cmds = [c["cmd"] for c in peer.commands]
    assert "api module_exists mod_spandsp" in cmds and f"api sofia status gateway {GW}" in cmds


def test_diagnostics_unknown_gateway(fs, peer):
    srv = fs(FREESWITCH_GATEWAY_NAME="gw_other")
    be = srv.post("/admin/diagnostics/run", key=ADMIN).json()["checks"]["backend"]
    assert be["gateway"]["state"] is None and "FREESWITCH_GATEWAY_NAME" in be["gateway"]["detail"], be


def test_bad_gateway_name_refuses_to_start(tmp_path, peer):
    srv = Server(tempfile.mkdtemp(dir=str(tmp_path)), {"FAX_BACKEND": "freeswitch",
                                                        "FREESWITCH_GATEWAY_NAME": "gw/../x y"})
    try:
        srv.start(expect_ready=False)
        assert srv.proc.wait(timeout=20) != 0
        assert "FREESWITCH_GATEWAY_NAME" in srv.stderr_text()
    finally:
        _stop_all([srv])


# -- reconnect ----------------------------------------------------------------

def test_dropped_socket_mid_call_is_reconciled_and_completes(fs, peer):
    srv = fs()
    peer.default_plan = "drop_alive"
    job = _send(srv)
    final, seen = _done(srv, job["id"])
    assert final["status"] == "SUCCESS", (final, seen)
    assert peer.connections >= 2, "the client must reconnect"
    [o] = _originates_for(peer, job["id"])
    assert o["parsed"]["vars"]["origination_uuid"] in peer.uuid_exists_asked
    assert final["attempts"] == 1


def test_call_that_ended_unseen_is_not_stuck_and_not_resent(fs, peer):
    srv = fs(FAX_MAX_ATTEMPTS="3")
    peer.default_plan = "drop_lost"
    job = _send(srv)
    final, seen = _done(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "result_unknown", (final, seen)
    assert final["attempts"] == 1 and len(_originates_for(peer, job["id"])) == 1, final
    # afterwards the link works normally again
    peer.default_plan = "success"
    job2 = _send(srv)
    assert _done(srv, job2["id"])[0]["status"] == "SUCCESS"


# -- Faxbot's result hook -----------------------------------------------------------

def _held_call(srv, peer):
    peer.default_plan = "hold"
    job = _send(srv)
    call = _wait(lambda: peer.call_for_job(job["id"]), "the originate")
    _wait(lambda: get_job(srv, job["id"], key=ADMIN)["provider_sid"] == call.uuid, "the job to be accepted")
    return job, call


@pytest.mark.parametrize("secret_var", ["ASTERISK_INBOUND_SECRET", "FREESWITCH_INBOUND_SECRET"])
def test_hook_success_then_event_updates_once(fs, peer, secret_var):
    srv = fs(**{secret_var: SECRET})
    job, call = _held_call(srv, peer)
    # Faxbot's documented hook: fax_status carries ${fax_success}
    r = _hook(srv, {"job_id": job["id"], "fax_status": "1", "fax_result_text": "OK",
                    "fax_document_transferred_pages": "1", "uuid": call.uuid})
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    done = get_job(srv, job["id"], key=ADMIN)
    assert done["status"] == "SUCCESS" and done["pages"] == 1, done
    # the events for the same call arrive later: no second update
    peer.complete(call, success=True)
    time.sleep(0.5)
    again = get_job(srv, job["id"], key=ADMIN)
    assert again["updated_at"] == done["updated_at"] and again["status"] == "SUCCESS", (done, again)
    # a replayed hook changes nothing either
    r = _hook(srv, {"job_id": job["id"], "fax_status": "1", "uuid": call.uuid})
    assert r.status_code == 409 and r.json()["applied"] is False and r.json()["status"] == "SUCCESS", r.text
    assert "dropped" not in srv.stderr_text() and "not applied" not in srv.stderr_text()


def test_hook_failure_and_event_first(fs, peer):
    srv = fs(ASTERISK_INBOUND_SECRET=SECRET, FAX_MAX_ATTEMPTS="1")
    job, call = _held_call(srv, peer)
    r = _hook(srv, {"job_id": job["id"], "fax_success": "0", "fax_result_code": "49",
                    "fax_result_text": "Disconnected after permitted retries", "uuid": call.uuid})
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    done = get_job(srv, job["id"], key=ADMIN)
    assert done["status"] == "FAILED" and done["failure_reason"] == "line_error", done
    # event first, hook second
    job2, call2 = _held_call(srv, peer)
    peer.complete(call2, success=True)
    ok, _ = _done(srv, job2["id"])
    assert ok["status"] == "SUCCESS"
    r = _hook(srv, {"job_id": job2["id"], "fax_status": "0", "uuid": call2.uuid})
    assert r.status_code == 409 and r.json()["status"] == "SUCCESS" and "not in flight" in r.json()["detail"], r.text
    assert get_job(srv, job2["id"], key=ADMIN)["updated_at"] == ok["updated_at"]


def test_hook_busy_cause_and_empty_status(fs, peer):
    srv = fs(ASTERISK_INBOUND_SECRET=SECRET, FAX_MAX_ATTEMPTS="1")
    job, call = _held_call(srv, peer)
    # ${fax_success} is empty when txfax never ran: nothing final without a cause
    r = _hook(srv, {"job_id": job["id"], "fax_status": "", "uuid": call.uuid})
    assert r.status_code == 200 and r.json()["applied"] is False
    assert get_job(srv, job["id"], key=ADMIN)["status"] == "in_progress"
    r = _hook(srv, {"job_id": job["id"], "fax_success": "", "hangup_cause": "USER_BUSY", "uuid": call.uuid})
    assert r.status_code == 200 and r.json()["applied"] is True
    done = get_job(srv, job["id"], key=ADMIN)
    assert done["status"] == "FAILED" and done["failure_reason"] == "busy", done


def test_hook_auth_and_validation(fs, peer):
    srv = fs()
    r = _hook(srv, {"job_id": "0" * 32, "fax_status": "1"})
    assert r.status_code == 403 and r.json()["detail"].startswith("Internal secret not configured: set FREESWITCH_INBOUND_SECRET")
    srv2 = fs(ASTERISK_INBOUND_SECRET=SECRET)
    for bad in (None, "wrong", SECRET + "x"):
        r = _hook(srv2, {"job_id": "0" * 32, "fax_status": "1"}, secret=bad)
        assert r.status_code == 401 and r.json()["detail"] == "Invalid internal secret", r.text
    r = _hook(srv2, {"fax_status": "1"})
    assert r.status_code == 400 and r.json()["detail"] == "Missing job_id"
    r = srv2.post("/_internal/freeswitch/outbound_result", data=b"not json",
                  headers={"X-Internal-Secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 400


# -- inbound --------------------------------------------------------------------------

@pytest.fixture
def fax_tiff(tmp_path, cli_env):
    src = tmp_path / "in.pdf"
    src.write_bytes(docs.pdf_pages(["inbound fax page"]))
    out = tmp_path / "in.tif"
    code, o, e = run_cli(["convert", str(src), str(out)], cli_env)
    assert code == 0, o + e
    return out.read_bytes()


def test_inbound_through_the_spool_dir(fs, peer, tmp_path, fax_tiff):
    spool = tmp_path / "spool"
    spool.mkdir()
    srv = fs(INBOUND_ENABLED="true", FREESWITCH_SPOOL_DIR=str(spool), FREESWITCH_INBOUND_SECRET=SECRET)
    uuid = "0a1b2c3d-0000-4000-8000-00000000beef"
    path = spool / f"{uuid}.tif"
    path.write_bytes(fax_tiff)
    body = {"uuid": uuid, "tiff_path": str(path), "from_number": "+15557654321", "to_number": "+15551230000",
            "fax_success": "1", "pages": "1"}
    path_in = "/_internal/freeswitch/inbound"
    r = _hook(srv, body, path=path_in)
    assert r.status_code == 200, r.text
    fax_id = r.json()["id"]
    assert not path.exists(), "the spool file is taken over (as the Asterisk hand-off does)"
    lst = srv.get("/inbound", key=ADMIN).json()
    assert [x["id"] for x in lst] == [fax_id], lst
    frm = lst[0].get("from_number", lst[0].get("fr"))
    to = lst[0].get("to_number", lst[0].get("to"))
    assert frm == "+15557654321" and to == "+15551230000", lst
    pdf = srv.get(f"/inbound/{fax_id}/pdf", key=ADMIN)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # replay: the same fax, not a second one
    r = _hook(srv, body, path=path_in)
    assert r.status_code == 200 and r.json()["id"] == fax_id, r.text
    assert len(srv.get("/inbound", key=ADMIN).json()) == 1
    # a path outside the spool directory, directly or through a symlink or ..
    outside = tmp_path / "secret.tif"
    outside.write_bytes(fax_tiff)
    (spool / "link.tif").symlink_to(outside)
    for p in (str(outside), str(spool / "link.tif"), str(spool / ".." / "secret.tif")):
        r = _hook(srv, dict(body, uuid="0a1b2c3d-0000-4000-8000-00000000dead", tiff_path=p), path=path_in)
        assert r.status_code == 403, (p, r.text)
    # larger than the 64 MB cap: refused without reading it
    big = spool / "big.tif"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)
    r = _hook(srv, dict(body, uuid="big-1", tiff_path=str(big)), path=path_in)
    assert r.status_code == 400 and "64 MB" in r.json()["detail"], r.text
    assert big.exists()
    # wrong or missing secret
    assert _hook(srv, body, secret="nope", path=path_in).status_code == 401
    assert _hook(srv, body, secret=None, path=path_in).status_code == 401
    # a file that is not a fax
    junk = spool / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    r = _hook(srv, dict(body, uuid="junk-1", tiff_path=str(junk)), path=path_in)
    assert r.status_code == 400, r.text
    assert len(srv.get("/inbound", key=ADMIN).json()) == 1


def test_inbound_disabled_is_404(fs, peer, tmp_path):
    srv = fs(FREESWITCH_INBOUND_SECRET=SECRET, INBOUND_ENABLED="false")
    r = _hook(srv, {"uuid": "x", "tiff_path": "/tmp/x.tif"}, path="/_internal/freeswitch/inbound")
    assert r.status_code == 404


# -- injection ------------------------------------------------------------------------

INJECTIONS = [
    "A,fax_ident=evil}sofia/gateway/evil/1 &park()",
    "${system(touch /tmp/pwn)} $${x} 'q' \"d\"",
    "{x=y}[a=b]<c=d> ^^:k=v:j=w \\ | ` end",
    "x\u00e9\u2028y,,,''''",
]


@pytest.mark.parametrize("header", INJECTIONS)
def test_injection_through_the_fax_header_is_neutralised(fs, peer, header):
    srv = fs(FREESWITCH_CALLER_ID_NUMBER="+15550001111")
    job = _send(srv, header_text=header)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    bg = peer.bgapis()
    assert len(bg) == 1, bg
    # exactly the commands a client sends: auth, the subscription and one bgapi
    kinds = [c["cmd"].split(" ", 1)[0] for c in peer.commands]
    assert kinds == ["auth", "event", "bgapi"], kinds
    assert bg[0]["cmd"].startswith("bgapi originate {") and set(bg[0]["headers"]) == {"Job-UUID"}, bg
    [o] = peer.originates
    p = o["parsed"]
    assert set(p["vars"]) == {"faxbot_job_id", "origination_uuid", "fax_header", "fax_use_ecm",
                              "fax_enable_t38", "fax_enable_t38_request", "origination_caller_id_number",
                              "originate_timeout", "ignore_early_media"}, p["vars"]
    assert p["dial"] == f"sofia/gateway/{GW}/{PHONE}" and p["extra_args"] == [], p
    assert p["app"].startswith("&txfax(") and p["app"].endswith(")"), p
    h = p["vars"]["fax_header"]
    assert not (set(h) & FORBIDDEN) and "${" not in h, h
    assert all(0x20 <= ord(ch) < 0x7f for ch in h), h
    # the letters of the header survive, only the dangerous characters are gone
    assert h.split()[0] in header


def test_injection_through_environment_header_with_newlines(fs, peer):
    srv = fs(FAX_HEADER="Line1\nbgapi originate evil\n\nexit", FAX_LOCAL_STATION_ID="ID,x=y}")
    job = _send(srv)
    final, _ = _done(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    assert [c["cmd"].split(" ", 1)[0] for c in peer.commands] == ["auth", "event", "bgapi"]
    v = peer.originates[0]["parsed"]["vars"]
    assert v["fax_header"] == "Line1 bgapi originate evil exit" and v["fax_ident"] == "ID x=y", v


def test_invalid_destination_is_refused_before_freeswitch(fs, peer):
    srv = fs()
    # the API normalises numbers; a number that still is not plain digits never reaches FreeSWITCH
    r = srv.post("/fax", key=ADMIN, data={"to": "+1555123/4567"}, files={"file": ("a.txt", b"x")})
    assert r.status_code in (400, 202), r.text
    if r.status_code == 202:
        final, _ = _done(srv, r.json()["id"])
        assert final["status"] == "FAILED" and final["failure_reason"] == "invalid_number", final
    assert not peer.bgapis()


# -- freeswitch-config ------------------------------------------------------------------

def _render(cli_env, out, **env):
    e = dict(cli_env)
    e.update({k: v for k, v in env.items() if v is not None})
    return run_cli(["freeswitch-config", "--out", str(out)], e)


FILES = ["sip_profiles/external/faxbot_gateway.xml", "dialplan/faxbot_outbound.xml",
         "dialplan/public/faxbot_inbound.xml", "autoload_configs/faxbot_event_socket.conf.xml",
         "autoload_configs/faxbot_acl.xml"]


def test_config_renders_well_formed_xml_for_every_combination(tmp_path, cli_env):
    sip_pass = "p&<>\"'w%d"
    esl_pass = "Clue&Con<\"'>"
    combos = itertools.product(["true", "false"], [None, "faxuser&co"], [None, SECRET],
                               [None, "+15551230000"], [None, "+15550009999"])
    for i, (t38, user, secret, did, cid) in enumerate(combos):
        out = tmp_path / f"cfg{i}"
        code, o, e = _render(cli_env, out, SIP_SERVER="sip.example.net:5060", SIP_USERNAME=user,
                             SIP_PASSWORD=sip_pass % i, FREESWITCH_T38_ENABLE=t38,
                             ASTERISK_INBOUND_SECRET=secret, FREESWITCH_INBOUND_NUMBER=did,
                             FREESWITCH_CALLER_ID_NUMBER=cid, FREESWITCH_ESL_PASSWORD=esl_pass,
                             FREESWITCH_GATEWAY_NAME="gw_fax", FAX_HEADER="Smith & Sons <fax>",
                             FAX_LOCAL_STATION_ID="+1 555 0000",
                             PUBLIC_API_URL="http://10.0.0.2:8080", FREESWITCH_SPOOL_DIR="/var/spool/fax")
        assert code == 0, (i, o, e)
        for secret_text in (sip_pass % i, esl_pass, SECRET):
            assert secret_text not in o + e, "secrets must never be printed"
        roots = {}
        for f in FILES:
            p = out / f
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, f
            roots[f] = ET.parse(p).getroot()
        gw = roots[FILES[0]].find("gateway")
        assert gw.get("name") == "gw_fax"
        params = {x.get("name"): x.get("value") for x in gw.findall("param")}
        # the realm is the host; the proxy keeps SIP_SERVER's :port (issue 17)
        assert params["realm"] == "sip.example.net" and params["proxy"] == "sip.example.net:5060"
        assert params["register"] == ("true" if user else "false")
        if user:
            assert params["username"] == user and params["password"] == sip_pass % i
        else:
            assert "password" not in params
        gvars = {x.get("name"): x.get("value") for x in gw.find("variables").findall("variable")}
        assert gvars["fax_enable_t38"] == t38
        assert ("origination_caller_id_number" in gvars) == bool(cid)
        assert ("api_hangup_hook" in gvars) == bool(secret)
        if secret:
            hook = gvars["api_hangup_hook"]
            assert hook.startswith("expand system curl ") and f"X-Internal-Secret: {secret}" in hook
            assert hook.endswith("http://10.0.0.2:8080/_internal/freeswitch/outbound_result")
            # FreeSWITCH refuses a gateway variable holding "${"; $\'{…} becomes ${…} at hangup
            assert "${" not in hook
            assert '"fax_success":"$\\\'{fax_success}"' in hook and "$\\'{faxbot_job_id}" in hook
        ob = roots[FILES[1]].find("context")
        acts = [(a.get("application"), a.get("data")) for a in ob.iter("action")]
        assert ("txfax", "${faxbot_tiff}") in acts and ("set", f"fax_enable_t38={t38}") in acts
        assert ("set", "fax_header=Smith & Sons fax") in acts, acts
        ext = roots[FILES[2]].find("extension")
        conds = ext.findall("condition")
        assert conds[0].get("field") == "caller_id_number" and conds[0].get("break") == "never"
        dest = conds[1]
        assert dest.get("field") == "destination_number"
        assert dest.get("expression") == (r"^\+?(15551230000)$" if did else r"^\+?(\d{2,20})$")
        acts = [(a.get("application"), a.get("data")) for a in dest.findall("action")]
        assert acts[1] == ("answer", None) and ("rxfax", "${faxbot_rx_file}") in acts
        assert ("set", "faxbot_rx_file=/var/spool/fax/${uuid}.tif") in acts
        hooks = [d for a, d in acts if a == "set" and d.startswith("api_hangup_hook=")]
        assert len(hooks) == (1 if secret else 0)
        if secret:
            # deferred: FreeSWITCH must expand these at hangup, not when `set` runs
            # (`set` expands twice: three backslashes leave ${…} for the hook at hangup)
            assert '"\\\\\\${fax_success}"' in hooks[0] and "/var/spool/fax/\\\\\\${uuid}.tif" in hooks[0]
            assert hooks[0].count("${") == hooks[0].count("\\\\\\${"), hooks[0]
            assert "caller_id_number" not in hooks[0], "raw caller numbers must not reach a shell"
        es = roots[FILES[3]]
        sp = {x.get("name"): x.get("value") for x in es.find("settings").findall("param")}
        assert sp["password"] == esl_pass and sp["apply-inbound-acl"] == "faxbot_esl"
        assert sp["listen-ip"] == "127.0.0.1" and sp["listen-port"] == "8021"
        lst = roots[FILES[4]].find("list")
        assert lst.get("name") == "faxbot_esl" and lst.get("default") == "deny"
        assert lst.find("node").get("cidr") == "127.0.0.1/32"


def test_config_refuses_unsafe_values(tmp_path, cli_env):
    base = {"SIP_SERVER": "sip.example.net"}
    cases = [({}, "SIP_SERVER", {"SIP_SERVER": ""}),
             ({"ASTERISK_INBOUND_SECRET": "it's"}, "ASTERISK_INBOUND_SECRET", {}),
             ({"FREESWITCH_GATEWAY_NAME": "a b"}, "FREESWITCH_GATEWAY_NAME", {}),
             ({"SIP_PASSWORD": "a\nb"}, "SIP_PASSWORD", {}),
             ({"FREESWITCH_SPOOL_DIR": "/var/spool/fax dir"}, "FREESWITCH_SPOOL_DIR", {}),
             ({"FREESWITCH_INBOUND_NUMBER": "12;3"}, "FREESWITCH_INBOUND_NUMBER", {})]
    for i, (env, name, override) in enumerate(cases):
        e = dict(base, **env)
        e.update(override)
        code, o, err = _render(cli_env, tmp_path / f"bad{i}", **e)
        assert code == 1 and name in err, (env, code, o, err)
        assert not (tmp_path / f"bad{i}" / FILES[0]).exists()
    code, o, err = run_cli(["freeswitch-config"], cli_env)
    assert code == 2 and "--out" in err


def test_page_events_show_pages_sent(fs, peer):
    srv = fs()
    job = _send(srv)
    final, seen = _done(srv, job["id"])
    assert final["status"] == "SUCCESS" and final["pages_sent"] == 1, final
    evs = sse_read(srv, key=ADMIN, stop=lambda es: any(e["event"] == "fax.succeeded" for e in es))
    mine = [e for e in evs if e["data"]["data"]["id"] == job["id"]]
    sending = [e["data"]["progress"] for e in mine if e["event"] == "fax.progress"
               and e["data"]["progress"]["stage"] == "sending"]
    assert sending and sending[0]["pages_sent"] == 1, f"spandsp::txfaxpageresult became progress: {mine}"
    assert mine[-1]["event"] == "fax.succeeded", [e["event"] for e in mine]
