"""test_dropin.py — a Faxbot user's .env, taken from Faxbot's setup guides, started as
is (issue 17): which backend an .env without FAX_BACKEND gets (one provider's
credentials → that provider; several → refused; none → loopback, unmistakable in the
start log, /health, the job JSON and the CLI); the Phaxio guide as written (no
PHAXIO_CALLBACK_TOKEN: readiness, the start log, doctor and the 401 say where the
token is; PHAXIO_VERIFY_SIGNATURE=false honoured with loud warnings; Faxbot's
?job_id= callback URL; ENFORCE_PUBLIC_HTTPS); and no unauthenticated inbound: every
inbound and webhook route probed with no and wrong credentials stores nothing and
changes no job, /sinch-inbound answers 403 naming the settings when nothing
authenticates it, SINCH_INBOUND_HMAC_SECRET is enforced, replays store one fax."""

import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time

import pytest
import requests

import documents as docs
from conftest import Server, _stop_all
from helpers import wait_for, create_job, get_job, run_cli, slow_factor, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from phaxio_peer import PhaxioPeer  # noqa: E402

PDF = docs.pdf_pages(["drop-in test page"])


def dotenv(text, **subst):
    """A .env file's text (comments, blank lines, KEY=VALUE) as a dict, after
    str.format(**subst) so a guide's placeholders can become the test's addresses."""
    env = {}
    for line in text.format(**subst).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, _, v = line.partition("=")
        env[k.strip()] = v.strip()
    return env


def _wait(cond, what, timeout=30.0):
    return wait_for(cond, what, timeout)


def _start_fails(server, **env):
    srv = server(expect_ready=False, **env)
    deadline = time.monotonic() + 20 * slow_factor()
    while srv.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.proc.poll() is not None, "the server started although it should have refused"
    assert srv.proc.returncode != 0
    return srv.stderr_text()


def _inbound_ids(srv, key=None):
    r = srv.get("/inbound", key=key)
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return sorted(i["id"] for i in items)


# ---------------------------------------------------------------------------
# 1. FAX_BACKEND unset
# ---------------------------------------------------------------------------

PHAXIO_GUIDE_ENV = """
# Faxbot docs, "Phaxio setup": .env
PHAXIO_API_KEY={key}
PHAXIO_API_SECRET={secret}
PHAXIO_CALLBACK_URL={public}/phaxio-callback
PUBLIC_API_URL={public}
API_KEY=guide-api-key-0123456789
"""


def test_unset_backend_with_phaxio_credentials_uses_phaxio_and_says_so(server):
    env = dotenv(PHAXIO_GUIDE_ENV, key="k", secret="s", public="https://fax.example.com")
    srv = server(**env)
    h = srv.get("/health").json()
    assert h["backend"] == "phaxio" and "test_mode" not in h, h
    err = srv.stderr_text()
    assert "FAX_BACKEND is not set; using phaxio" in err and "PHAXIO_API_KEY" in err, err


def test_unset_backend_with_several_providers_refuses_naming_them(server):
    env = dotenv(PHAXIO_GUIDE_ENV, key="k", secret="s", public="https://fax.example.com")
    env.update(SINCH_PROJECT_ID="proj-1", SIGNALWIRE_PROJECT_ID="p", SIGNALWIRE_API_TOKEN="t")
    err = _start_fails(server, **env)
    assert "FAX_BACKEND is not set" in err, err
    for name in ("phaxio", "sinch", "signalwire", "SINCH_PROJECT_ID", "SIGNALWIRE_API_TOKEN"):
        assert name in err, (name, err)


def test_unset_backend_without_credentials_is_an_unmistakable_loopback(server, cli_env):
    srv = server(API_KEY="loop-key-0123456789")
    err = srv.stderr_text()
    assert "built-in loopback test engine" in err and "NEVER leave this machine" in err, err
    h = srv.get("/health").json()
    assert h["backend"] == "loopback" and h["test_mode"] is True and "test receiver" in h["delivery"], h
    ready = srv.get("/health/ready").json()
    assert any("loopback" in w and "test receiver" in w for w in ready["warnings"]), ready
    job = create_job(srv, key="loop-key-0123456789", content=PDF, filename="d.pdf",
                     content_type="application/pdf")
    done, _ = wait_job(srv, job["id"], key="loop-key-0123456789", timeout=60)
    assert done["status"] == "SUCCESS" and "built-in test receiver" in done["delivery"], done
    assert "delivered to the built-in test receiver" in srv.stderr_text()
    env = dict(cli_env, FAXBOT_URL=srv.url, FAXBOT_API_KEY="loop-key-0123456789")
    rc, out, _ = run_cli(["status", job["id"]], env)
    assert rc == 0 and "delivered to the built-in test receiver" in out, out


def test_a_real_backend_job_has_no_loopback_note(server):
    env = dotenv(PHAXIO_GUIDE_ENV, key="k", secret="s", public="https://fax.example.com")
    srv = server(FAX_DISABLED="true", **env)
    job = create_job(srv, key=env["API_KEY"], content=PDF, filename="d.pdf", content_type="application/pdf")
    assert "delivery" not in get_job(srv, job["id"], key=env["API_KEY"])


# ---------------------------------------------------------------------------
# 2. The Phaxio guide as written
# ---------------------------------------------------------------------------

@pytest.fixture
def peer():
    p = PhaxioPeer()
    yield p
    p.close()


@pytest.fixture
def guide(tmp_path, peer):
    """A server started from the Phaxio guide's .env, PUBLIC_API_URL = its own address."""
    started = []

    def make(extra=""):
        srv = Server(tempfile.mkdtemp(prefix="guide-", dir=str(tmp_path)), {})
        env = dotenv(PHAXIO_GUIDE_ENV + extra, key=peer.api_key, secret=peer.api_secret, public=srv.url)
        env["PHAXIO_API_URL"] = peer.url
        srv.env.update(env)
        started.append(srv)
        srv.start()
        return srv, env["API_KEY"]

    yield make
    _stop_all(started)


WHERE = "Settings > Webhooks"


def test_guide_without_the_token_says_where_it_is_everywhere(guide, peer, tmp_path):
    srv, key = guide()
    r = srv.get("/health/ready")
    assert r.status_code == 503
    text = r.text
    assert "PHAXIO_CALLBACK_TOKEN" in text and WHERE in text and "Webhook Token" in text, text
    assert WHERE in srv.stderr_text() and "PHAXIO_CALLBACK_TOKEN" in srv.stderr_text()
    status, body = peer.post_webhook(f"{srv.url}/phaxio-callback?job_id={'0' * 32}", [("fax", "{}")])
    assert status == 401 and b"PHAXIO_CALLBACK_TOKEN" in body and WHERE.encode() in body, body
    env = {k: v for k, v in srv.env.items()}
    env["FAX_DATA_DIR"] = str(tmp_path / "doctor-data")
    rc, out, _ = run_cli(["doctor", "--wait", "0"], env)
    assert rc == 1 and WHERE in out and "PHAXIO_CALLBACK_TOKEN" in out, out


def test_guide_with_verify_off_works_with_loud_warnings(guide, peer, tmp_path):
    srv, key = guide("PHAXIO_VERIFY_SIGNATURE=false\nENFORCE_PUBLIC_HTTPS=false\n")
    err = srv.stderr_text()
    assert "PHAXIO_VERIFY_SIGNATURE=false" in err and "UNSIGNED" in err and WHERE in err, err
    ready = srv.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert any("PHAXIO_VERIFY_SIGNATURE=false" in w and WHERE in w for w in ready.json()["warnings"]), ready.text
    job = create_job(srv, key=key, content=PDF, filename="d.pdf", content_type="application/pdf")
    done, _ = wait_job(srv, job["id"], key=key, timeout=60)
    assert done["status"] == "SUCCESS" and done["backend"] == "phaxio", done
    env = dict(srv.env, FAX_DATA_DIR=str(tmp_path / "doctor-data"))
    rc, out, _ = run_cli(["doctor", "--wait", "0"], env)
    assert any(l.startswith("WARN") and "PHAXIO_VERIFY_SIGNATURE=false" in l for l in out.splitlines()), out


def test_faxbot_style_job_id_callback_is_applied(guide, peer):
    """Faxbot appends only ?job_id=<id> to the callback URL: such a callback is applied."""
    srv, key = guide("PHAXIO_VERIFY_SIGNATURE=false\n")
    peer.script({"outcome": "hold"})
    job = create_job(srv, key=key, content=PDF, filename="d.pdf", content_type="application/pdf")
    _wait(lambda: peer.created() and get_job(srv, job["id"], key=key)["provider_sid"] == peer.created()[0],
          "the job to follow the held fax")
    fid = peer.created()[0]
    fax = {"id": int(fid), "direction": "sent", "status": "success", "num_pages": 1, "tags": {}}
    status, body = peer.post_webhook(f"{srv.url}/phaxio-callback?job_id={job['id']}",
                                     [("event_type", "fax_completed"), ("fax", json.dumps(fax))], signature="")
    assert status == 200, body
    assert get_job(srv, job["id"], key=key)["status"] == "SUCCESS"


def test_enforce_public_https_as_in_the_guide(server):
    env = dotenv(PHAXIO_GUIDE_ENV, key="k", secret="s", public="http://fax.example.com")
    env["PHAXIO_CALLBACK_TOKEN"] = "tok"
    srv = server(**env)
    r = srv.get("/health/ready")
    assert r.status_code == 503 and "ENFORCE_PUBLIC_HTTPS" in r.text, r.text
    srv2 = server(ENFORCE_PUBLIC_HTTPS="false", **env)
    r = srv2.get("/health/ready")
    assert "ENFORCE_PUBLIC_HTTPS" not in r.text, r.text


# ---------------------------------------------------------------------------
# 3. No unauthenticated inbound
# ---------------------------------------------------------------------------

SINCH_ENV = {"FAX_BACKEND": "sinch", "SINCH_PROJECT_ID": "proj-1", "SINCH_API_KEY": "kid",
             "SINCH_API_SECRET": "ksecret", "SINCH_BASE_URL": "http://127.0.0.1:9/v3",
             "INBOUND_ENABLED": "true", "API_KEY": "admin-key-0123456789"}
ADMIN = SINCH_ENV["API_KEY"]


def _sinch_incoming(fax_id="01HZINBOUND0000000000000001"):
    fax = {"id": fax_id, "direction": "INBOUND", "from": "+14155552222", "to": "+14155553333",
           "numberOfPages": 1, "status": "COMPLETED"}
    return json.dumps({"event": "INCOMING_FAX", "eventTime": "2026-01-01T00:00:00Z", "fax": fax,
                       "file": base64.b64encode(PDF).decode(), "fileType": "PDF"}).encode()


def _post(srv, path, body, headers=None, auth=None, ctype="application/json"):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return srv.session.post(srv.url + path, data=body, headers=h, auth=auth, timeout=30)


def test_sinch_inbound_with_nothing_configured_is_403_naming_the_settings(server):
    srv = server(**SINCH_ENV)
    r = _post(srv, "/sinch-inbound", _sinch_incoming())
    assert r.status_code == 403, r.text
    d = r.json()["detail"]
    for name in ("SINCH_INBOUND_BASIC_USER", "SINCH_INBOUND_BASIC_PASS", "SINCH_INBOUND_HMAC_SECRET",
                 "SINCH_INBOUND_ALLOW_UNAUTHENTICATED"):
        assert name in d, (name, d)
    assert _inbound_ids(srv, ADMIN) == []
    ready = srv.get("/health/ready").text
    assert "SINCH_INBOUND_BASIC_USER" in ready


def test_sinch_inbound_explicit_opt_in_accepts_and_warns(server):
    srv = server(SINCH_INBOUND_ALLOW_UNAUTHENTICATED="true", **SINCH_ENV)
    assert "SINCH_INBOUND_ALLOW_UNAUTHENTICATED=true" in srv.stderr_text()
    r = _post(srv, "/sinch-inbound", _sinch_incoming())
    assert r.status_code == 200, r.text
    assert len(_inbound_ids(srv, ADMIN)) == 1
    ready = srv.get("/health/ready").json()
    assert any("SINCH_INBOUND_ALLOW_UNAUTHENTICATED" in w for w in ready["warnings"]), ready


def _sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sinch_inbound_hmac_secret_is_enforced_and_replays_store_once(server):
    secret = "hmac-secret-for-sinch"
    srv = server(SINCH_INBOUND_HMAC_SECRET=secret, **SINCH_ENV)
    assert "Sinch itself does not sign" in srv.stderr_text()
    body = _sinch_incoming()
    for headers in ({}, {"X-Sinch-Signature": "0" * 64}, {"X-Sinch-Signature": _sign("wrong", body)},
                    {"X-Sinch-Signature": _sign(secret, body + b" ")}):
        r = _post(srv, "/sinch-inbound", body, headers)
        assert r.status_code == 401 and "X-Sinch-Signature" in r.json()["detail"], (headers, r.text)
    assert _inbound_ids(srv, ADMIN) == []
    good = {"X-Sinch-Signature": _sign(secret, body).upper()}
    r1 = _post(srv, "/sinch-inbound", body, good)
    assert r1.status_code == 200, r1.text
    r2 = _post(srv, "/sinch-inbound", body, good)     # Sinch retries; an attacker replays
    assert r2.status_code == 200 and r2.json()["inbound_id"] == r1.json()["inbound_id"]
    assert _inbound_ids(srv, ADMIN) == [r1.json()["inbound_id"]]


def test_sinch_inbound_basic_and_hmac_both_required_when_both_set(server):
    secret = "hmac-2"
    srv = server(SINCH_INBOUND_HMAC_SECRET=secret, SINCH_INBOUND_BASIC_USER="u", SINCH_INBOUND_BASIC_PASS="p",
                 **SINCH_ENV)
    body = _sinch_incoming()
    assert _post(srv, "/sinch-inbound", body, auth=("u", "p")).status_code == 401           # no signature
    assert _post(srv, "/sinch-inbound", body, {"X-Sinch-Signature": _sign(secret, body)}).status_code == 401
    assert _post(srv, "/sinch-inbound", body, {"X-Sinch-Signature": _sign(secret, body)},
                 auth=("u", "wrong")).status_code == 401
    assert _inbound_ids(srv, ADMIN) == []
    r = _post(srv, "/sinch-inbound", body, {"X-Sinch-Signature": _sign(secret, body)}, auth=("u", "p"))
    assert r.status_code == 200, r.text


# Every inbound and webhook route of every backend, probed with no and with wrong
# credentials (and a body that would otherwise be a valid delivery where one is easy
# to make): nothing may be stored and no job may change.
ROUTE_PROBES = [
    ("phaxio", {"FAX_BACKEND": "phaxio", "PHAXIO_API_KEY": "k", "PHAXIO_API_SECRET": "s",
                "PHAXIO_CALLBACK_TOKEN": "tok", "PUBLIC_API_URL": "https://fax.example.com"},
     [("/phaxio-callback", {"X-Phaxio-Signature": "0" * 40}), ("/phaxio-inbound", {"X-Phaxio-Signature": "0" * 40})]),
    ("sinch", {"SINCH_WEBHOOK_USER": "u", "SINCH_WEBHOOK_PASSWORD": "p"},
     [("/sinch-callback", {"Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()}),
      ("/sinch-inbound", {"Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()})]),
    ("signalwire", {"FAX_BACKEND": "signalwire", "SIGNALWIRE_SPACE_URL": "http://127.0.0.1:9",
                    "SIGNALWIRE_PROJECT_ID": "p", "SIGNALWIRE_API_TOKEN": "t"},
     [("/signalwire-callback", {"X-SignalWire-Signature": "AAAA"})]),
    ("sip", {"FAX_BACKEND": "sip", "ASTERISK_AMI_HOST": "127.0.0.1", "ASTERISK_AMI_PORT": "9",
             "ASTERISK_AMI_PASSWORD": "x", "ASTERISK_INBOUND_SECRET": "right-secret-0123456789"},
     [("/_internal/asterisk/inbound", {"X-Internal-Secret": "wrong-secret-0123456789"})]),
    ("freeswitch", {"FAX_BACKEND": "freeswitch", "FREESWITCH_ESL_HOST": "127.0.0.1", "FREESWITCH_ESL_PORT": "9",
                    "FREESWITCH_INBOUND_SECRET": "right-secret-0123456789"},
     [("/_internal/freeswitch/inbound", {"X-Internal-Secret": "wrong-secret-0123456789"}),
      ("/_internal/freeswitch/outbound_result", {"X-Internal-Secret": "wrong-secret-0123456789"})]),
]


@pytest.mark.parametrize("name,env,routes", ROUTE_PROBES, ids=[p[0] for p in ROUTE_PROBES])
def test_every_inbound_route_refuses_missing_and_wrong_credentials(server, tmp_path, name, env, routes):
    full = dict(SINCH_ENV) if name == "sinch" else {"INBOUND_ENABLED": "true", "API_KEY": ADMIN}
    full.update(env)
    srv = server(FAX_DISABLED="true", **full)
    job = create_job(srv, key=ADMIN, content=PDF, filename="d.pdf", content_type="application/pdf")
    before = get_job(srv, job["id"], key=ADMIN)
    tiff = tmp_path / "in.tif"
    tiff.write_bytes(b"II*\x00")
    bodies = [
        (_sinch_incoming(), "application/json"),
        (json.dumps({"tiff_path": str(tiff), "from": "+14155552222", "to": "+14155553333", "uniqueid": "1.2",
                     "job_id": job["id"], "fax_status": "SUCCESS", "fax_success": "1"}).encode(), "application/json"),
        (f"job_id={job['id']}&FaxStatus=delivered&MessageStatus=delivered&fax=%7B%7D".encode(),
         "application/x-www-form-urlencoded"),
    ]
    for path, wrong in routes:
        for headers in ({}, wrong):
            refused = []
            for body, ctype in bodies:
                r = _post(srv, f"{path}?job_id={job['id']}", body, headers, ctype=ctype)
                # 400: a body this provider never sends is refused before the signature is looked at
                assert r.status_code in (400, 401, 403), (path, headers, r.status_code, r.text)
                assert r.json().get("detail"), r.text
                refused.append(r.status_code)
            assert 401 in refused or 403 in refused, (path, headers, refused)
    assert _inbound_ids(srv, ADMIN) == []
    after = get_job(srv, job["id"], key=ADMIN)
    assert after["status"] == before["status"] and after["updated_at"] == before["updated_at"], after


def test_asterisk_hand_off_without_a_secret_is_403_naming_it(server):
    srv = server(FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT="9",
                 ASTERISK_AMI_PASSWORD="x")
    r = _post(srv, "/_internal/asterisk/inbound", b'{"tiff_path":"/x.tif","uniqueid":"1.1"}')
    assert r.status_code == 403 and "ASTERISK_INBOUND_SECRET" in r.json()["detail"], r.text


# ---------------------------------------------------------------------------
# 5. Inbound does not depend on the sending backend
# ---------------------------------------------------------------------------

IN_SECRET = "asterisk-inbound-secret-0123456789"


def _fax_tiff(tmp_path, cli_env):
    src = tmp_path / "inbound.txt"
    src.write_text("An inbound fax\nreceived on Asterisk while Phaxio sends\n")
    out = tmp_path / "in.tif"
    code, o, e = run_cli(["convert", str(src), str(out)], cli_env)
    assert code == 0, o + e
    return out.read_bytes()


def test_send_through_phaxio_receive_on_asterisk(server, tmp_path, cli_env):
    spool = tmp_path / "spool"
    spool.mkdir()
    env = dotenv(PHAXIO_GUIDE_ENV, key="k", secret="s", public="https://fax.example.com")
    env.update(FAX_BACKEND="phaxio", PHAXIO_CALLBACK_TOKEN="webhook-token", INBOUND_ENABLED="true",
               ASTERISK_INBOUND_SECRET=IN_SECRET, ASTERISK_SPOOL_DIR=str(spool))
    srv = server(**env)
    key = env["API_KEY"]
    assert "/_internal/asterisk/inbound served by sip although FAX_BACKEND=phaxio" in srv.stderr_text()
    listing = srv.get("/admin/inbound/callbacks", key=key)
    assert listing.status_code == 200, listing.text
    cbs = {c["path"]: c for c in listing.json()["callbacks"]}
    ast = cbs["/_internal/asterisk/inbound"]
    assert ast["backend"] == "sip" and ast["kind"] == "inbound" and ast["active"] is True, ast
    assert ast["sending_backend"] is False and "ASTERISK_INBOUND_SECRET" in ast["enabled_by"], ast
    assert cbs["/phaxio-callback"]["kind"] == "status" and cbs["/phaxio-callback"]["enabled_by"] == "FAX_BACKEND=phaxio"
    assert cbs["/phaxio-inbound"]["sending_backend"] is True
    assert srv.get("/admin/inbound/callbacks").status_code == 401

    rx = spool / "rx-1700000001.7.tif"
    rx.write_bytes(_fax_tiff(tmp_path, cli_env))
    form = {"tiff_path": str(rx), "from": "+15551230000", "to": "+15559870000", "uniqueid": "1700000001.7"}
    r = srv.session.post(srv.url + "/_internal/asterisk/inbound", data=form, timeout=30,
                         headers={"X-Internal-Secret": "wrong-secret-0123456789"})
    assert r.status_code == 401
    r = srv.session.post(srv.url + "/_internal/asterisk/inbound", data=form, timeout=30,
                         headers={"X-Internal-Secret": IN_SECRET})
    assert r.status_code == 200, r.text
    fax = srv.get(f"/inbound/{r.json()['inbound_id']}", key=key).json()
    assert fax["backend"] == "sip" and fax["pages"] == 1, fax


def test_inbound_source_gated_by_inbound_enabled(server):
    srv = server(FAX_BACKEND="loopback", INBOUND_ENABLED="false", ASTERISK_INBOUND_SECRET=IN_SECRET,
                 API_KEY=ADMIN)
    r = srv.session.post(srv.url + "/_internal/asterisk/inbound", data={"tiff_path": "/x", "uniqueid": "1.1"},
                         headers={"X-Internal-Secret": IN_SECRET}, timeout=30)
    assert r.status_code == 404 and "INBOUND_ENABLED" in r.json()["detail"], r.text
    cb = srv.get("/admin/inbound/callbacks", key=ADMIN).json()
    assert cb["inbound_enabled"] is False
    assert [c["active"] for c in cb["callbacks"] if c["path"] == "/_internal/asterisk/inbound"] == [False]


def test_sinch_inbound_while_loopback_sends(server):
    srv = server(FAX_BACKEND="loopback", SINCH_INBOUND_BASIC_USER="u", SINCH_INBOUND_BASIC_PASS="p",
                 API_KEY=ADMIN)
    assert _post(srv, "/sinch-inbound", _sinch_incoming()).status_code == 401
    r = _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p"))
    assert r.status_code == 200, r.text
    assert srv.get(f"/inbound/{r.json()['inbound_id']}", key=ADMIN).json()["backend"] == "sinch"
    # its status route is not served: nothing of Sinch sends here
    assert _post(srv, "/sinch-callback", b"{}", auth=("u", "p")).status_code == 404


def test_pbx_result_hook_for_a_job_not_in_flight_is_409_with_its_state(server):
    srv = server(FAX_BACKEND="freeswitch", FREESWITCH_ESL_HOST="127.0.0.1", FREESWITCH_ESL_PORT="9",
                 FREESWITCH_INBOUND_SECRET=IN_SECRET, FAX_DISABLED="true", API_KEY=ADMIN)
    job = create_job(srv, key=ADMIN, content=PDF, filename="d.pdf", content_type="application/pdf")
    before = get_job(srv, job["id"], key=ADMIN)
    hdr = {"X-Internal-Secret": IN_SECRET}
    r = _post(srv, "/_internal/freeswitch/outbound_result",
              json.dumps({"job_id": job["id"], "fax_success": "1", "fax_document_transferred_pages": "1"}).encode(),
              hdr)
    assert r.status_code == 409, r.text
    assert r.json()["status"] == "queued" and "not in flight" in r.json()["detail"], r.text
    after = get_job(srv, job["id"], key=ADMIN)
    assert after["status"] == "queued" and after["updated_at"] == before["updated_at"]
    r = _post(srv, "/_internal/freeswitch/outbound_result",
              json.dumps({"job_id": "0" * 32, "fax_success": "1"}).encode(), hdr)
    assert r.status_code == 404, r.text


# ---------------------------------------------------------------------------
# 8. Trunk presets in both renderers; SIP_SERVER as host:port
# ---------------------------------------------------------------------------

SIP_GUIDE_ENV = """
# Faxbot docs, "SIP/Asterisk setup" with a Twilio Elastic SIP trunk
FAX_BACKEND=sip
SIP_TRUNK_PRESET=twilio
SIP_SERVER=acme.pstn.twilio.com:5060
SIP_USERNAME=twuser
SIP_PASSWORD=Tw-Pass-12345
SIP_FROM_USER=+15551112222
ASTERISK_AMI_PASSWORD=Ami-Pass-777
ASTERISK_INBOUND_SECRET=asterisk-inbound-secret-0123456789
"""


def _render_cfg(cmd, tmp_path, cli_env, env):
    out = tmp_path / cmd
    code, o, e = run_cli([cmd, "--out", str(out)], dict(cli_env, **env))
    assert code == 0, o + e
    return out


def test_asterisk_twilio_preset_host_port_and_caller_id_name(tmp_path, cli_env):
    out = _render_cfg("asterisk-config", tmp_path, cli_env, dotenv(SIP_GUIDE_ENV))
    pjsip = (out / "pjsip.conf").read_text()
    assert "contact = sip:acme.pstn.twilio.com:5060" in pjsip, pjsip
    # the caller ID name goes in each Originate (test_asterisk.py), not on the endpoint,
    # where res_pjsip would stamp it on every inbound call too
    assert "from_user = +15551112222" in pjsip and "callerid" not in pjsip, pjsip
    assert "type = registration" not in pjsip and "t38_udptl = no" in pjsip
    env = dotenv(SIP_GUIDE_ENV)
    env.update(SIP_SERVER="acme.pstn.twilio.com:5070", SIP_CALLER_ID_NAME="ACME Fax")
    pjsip = (_render_cfg("asterisk-config", tmp_path / "b", cli_env, env) / "pjsip.conf").read_text()
    assert "contact = sip:acme.pstn.twilio.com:5070" in pjsip and "callerid" not in pjsip
    env["SIP_PORT"] = "5080"
    code, o, e = run_cli(["asterisk-config", "--out", str(tmp_path / "c")], dict(cli_env, **env))
    assert code != 0 and "SIP_PORT" in o + e and "SIP_SERVER" in o + e, o + e


def test_freeswitch_renderer_honours_the_trunk_preset(tmp_path, cli_env):
    env = dotenv(SIP_GUIDE_ENV)
    env.update(FAX_BACKEND="freeswitch", PUBLIC_API_URL="http://10.0.0.5:8080")
    gw = (_render_cfg("freeswitch-config", tmp_path, cli_env, env)
          / "sip_profiles/external/faxbot_gateway.xml").read_text()
    assert '<param name="register" value="false"/>' in gw, gw        # Twilio: no registration
    assert 'name="fax_enable_t38" value="false"' in gw, gw            # Twilio: no T.38
    assert '<param name="realm" value="acme.pstn.twilio.com"/>' in gw
    assert '<param name="proxy" value="acme.pstn.twilio.com:5060"/>' in gw
    assert 'name="origination_caller_id_name" value="Asterisk PBX"' in gw
    assert 'name="origination_caller_id_number" value="+15551112222"' in gw
    env.update(SIP_TRUNK_PRESET="generic", SIP_SERVER="sip.example.net")
    gw = (_render_cfg("freeswitch-config", tmp_path / "g", cli_env, env)
          / "sip_profiles/external/faxbot_gateway.xml").read_text()
    assert '<param name="register" value="true"/>' in gw and 'name="fax_enable_t38" value="true"' in gw
    assert "origination_caller_id_name" not in gw
    env["SIP_TRUNK_PRESET"] = "nosuch"
    code, o, e = run_cli(["freeswitch-config", "--out", str(tmp_path / "x")], dict(cli_env, **env))
    assert code != 0 and "SIP_TRUNK_PRESET" in o + e and "twilio" in o + e


# ---------------------------------------------------------------------------
# 4. Migrating an existing Faxbot + Asterisk install
# ---------------------------------------------------------------------------

def _asterisk(server, tmp_path, **extra):
    from ami_peer import AmiPeer
    peer = AmiPeer(secret="ami-secret-0123456789")
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    srv = server(FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=peer.port,
                 ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD="ami-secret-0123456789",
                 ASTERISK_INBOUND_SECRET=IN_SECRET, ASTERISK_SPOOL_DIR=str(spool), INBOUND_ENABLED="true",
                 API_KEY=ADMIN, **extra)
    _wait(lambda: srv.get("/health/ready").status_code == 200, "AMI login")
    return srv, peer, spool


def test_faxbot_faxresult_event_fields_are_accepted(server, tmp_path):
    srv, peer, _ = _asterisk(server, tmp_path)
    try:
        peer.script("+15550002", kind="success", pages=3, faxbot_event=True)
        peer.script("+15550003", kind="file_error", faxbot_event=True)
        ok = create_job(srv, to="+15550002", key=ADMIN)
        bad = create_job(srv, to="+15550003", key=ADMIN, fields={})
        done, _ = wait_job(srv, ok["id"], key=ADMIN, timeout=30)
        assert done["status"] == "SUCCESS" and done["pages"] == 3, done
        failed, _ = wait_job(srv, bad["id"], key=ADMIN, timeout=30)
        assert failed["status"] == "FAILED", failed
    finally:
        peer.close()


def test_asterisk_hand_off_answers_both_id_shapes_and_names_the_spool(server, tmp_path, cli_env):
    srv, peer, spool = _asterisk(server, tmp_path)
    try:
        rx = spool / "1700000002.9.tiff"
        rx.write_bytes(_fax_tiff(tmp_path, cli_env))
        # Faxbot's documented JSON hand-off fields
        body = {"tiff_path": str(rx), "to_number": "+15559870000", "from_number": "+15551230000",
                "faxstatus": "SUCCESS", "faxpages": 1, "uniqueid": "1700000002.9"}
        r = _post(srv, "/_internal/asterisk/inbound", json.dumps(body).encode(), {"X-Internal-Secret": IN_SECRET})
        assert r.status_code == 200, r.text
        j = r.json()
        assert j["status"] == "ok" and j["id"] == j["inbound_id"] and len(j["id"]) == 32, j
        # Faxbot's documented location for received faxes
        body = dict(body, tiff_path="/faxdata/1700000003.1.tiff", uniqueid="1700000003.1")
        r = _post(srv, "/_internal/asterisk/inbound", json.dumps(body).encode(), {"X-Internal-Secret": IN_SECRET})
        assert r.status_code in (400, 403) and "ASTERISK_SPOOL_DIR" in r.json()["detail"], r.text
        assert str(spool) in r.json()["detail"] and "/faxdata" in r.json()["detail"]
    finally:
        peer.close()


FAXBOT_EXAMPLE_ENV = """
# a Faxbot .env after the SIP/Asterisk guide (parts of Faxbot's .env.example)
FAX_BACKEND=sip
API_KEY=your_secure_api_key_here
FAX_DATA_DIR=/faxdata
ASTERISK_AMI_HOST=asterisk
ASTERISK_AMI_PORT=5038
ASTERISK_AMI_USERNAME=api
ASTERISK_AMI_PASSWORD=changeme
ASTERISK_INBOUND_SECRET=
SIP_USERNAME=trunkuser
SIP_PASSWORD=trunkpass
SIP_SERVER=sip.example.net:5060
PHAXIO_CALLBACK_URL=https://fax.example.com/phaxio-callback
SINCH_INBOUND_VERIFY_SIGNATURE=true
STORAGE_BACKEND=local  # or s3
S3_BUCKET=
ENABLE_LOCAL_ADMIN=true
SOMETHING_ELSE=1
"""


def test_doctor_from_faxbot_lists_every_variable(tmp_path, cli_env):
    env_file = tmp_path / "faxbot.env"
    env_file.write_text(FAXBOT_EXAMPLE_ENV)
    rc, out, err = run_cli(["doctor", "--from-faxbot", str(env_file)], cli_env)
    by_var = {}
    for line in out.splitlines():
        for verdict in ("carries over", "renamed", "needs action", "ignored", "ok"):
            if line.startswith(verdict):
                by_var[line[13:].split()[0]] = (verdict, line)
    assert rc == 1, out + err
    assert by_var["FAX_BACKEND"][0] == "carries over"
    assert by_var["SIP_SERVER"][0] == "carries over"
    assert by_var["ASTERISK_AMI_PASSWORD"][0] == "needs action" and "changeme" in by_var["ASTERISK_AMI_PASSWORD"][1]
    assert by_var["PHAXIO_CALLBACK_URL"][0] == "renamed" and "PHAXIO_STATUS_CALLBACK_URL" in by_var["PHAXIO_CALLBACK_URL"][1]
    assert by_var["SINCH_INBOUND_VERIFY_SIGNATURE"][0] == "ignored"
    assert by_var["STORAGE_BACKEND"][0] == "carries over"          # the inline comment is not part of the value
    assert by_var["S3_BUCKET"][0] == "carries over"
    assert by_var["ENABLE_LOCAL_ADMIN"][0] == "ignored"
    assert by_var["SOMETHING_ELSE"][0] == "ignored" and "unknown" in by_var["SOMETHING_ELSE"][1]
    assert "variables need action" in out


def test_doctor_from_faxbot_phaxio_guide(tmp_path, cli_env):
    env_file = tmp_path / "phaxio.env"
    env_file.write_text(PHAXIO_GUIDE_ENV.format(key="k", secret="s", public="https://fax.example.com"))
    rc, out, _ = run_cli(["doctor", "--from-faxbot", str(env_file)], cli_env)
    assert rc == 1
    assert any(l.startswith("needs action") and "FAX_BACKEND (missing)" in l for l in out.splitlines()), out
    tok = [l for l in out.splitlines() if "PHAXIO_CALLBACK_TOKEN (missing)" in l]
    assert tok and "Settings > Webhooks" in tok[0], out
    assert any(l.startswith("ok") and "using phaxio" in l for l in out.splitlines()), out


def test_receive_on_freeswitch_while_loopback_sends(server, tmp_path, cli_env):
    spool = tmp_path / "fs-spool"
    spool.mkdir()
    srv = server(FAX_BACKEND="loopback", FREESWITCH_INBOUND_SECRET=IN_SECRET, FREESWITCH_SPOOL_DIR=str(spool),
                 API_KEY=ADMIN)
    cbs = {c["path"]: c for c in srv.get("/admin/inbound/callbacks", key=ADMIN).json()["callbacks"]}
    fs = cbs["/_internal/freeswitch/inbound"]
    assert fs["backend"] == "freeswitch" and "FREESWITCH_INBOUND_SECRET" in fs["enabled_by"], fs
    assert "/_internal/freeswitch/outbound_result" not in cbs          # nothing of FreeSWITCH sends here
    rx = spool / "rx-0c9f.tif"
    rx.write_bytes(_fax_tiff(tmp_path, cli_env))
    body = json.dumps({"tiff_path": str(rx), "uuid": "0c9f2b1e-1111-2222-3333-444455556666", "fax_success": "1",
                       "pages": "1", "from_number": "+15551230000", "to_number": "+15559870000"}).encode()
    assert _post(srv, "/_internal/freeswitch/inbound", body, {"X-Internal-Secret": "wrong-" + IN_SECRET}).status_code == 401
    r = _post(srv, "/_internal/freeswitch/inbound", body, {"X-Internal-Secret": IN_SECRET})
    assert r.status_code == 200, r.text
    assert srv.get(f"/inbound/{r.json()['id']}", key=ADMIN).json()["backend"] == "freeswitch"


def test_inbound_source_outlives_a_live_swap_away_from_its_backend(tmp_path, peer):
    """Sending through Phaxio (inferred from its credentials) with its webhook token set, then switching the sender to
    loopback live: /phaxio-inbound keeps answering (an inbound-only Phaxio source
    takes over) while /phaxio-callback goes with the replaced sender."""
    started = []
    try:
        srv = Server(tempfile.mkdtemp(prefix="swapin-", dir=str(tmp_path)), {})
        srv.env.update(PHAXIO_API_URL=peer.url, PHAXIO_API_KEY=peer.api_key,
                       PHAXIO_API_SECRET=peer.api_secret, PHAXIO_CALLBACK_TOKEN=peer.callback_token,
                       PUBLIC_API_URL=srv.url, ENFORCE_PUBLIC_HTTPS="false", API_KEY=ADMIN)
        started.append(srv)
        srv.start()
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"backend": "loopback"})
        assert r.status_code == 200, r.text
        assert srv.get("/health/ready").json()["backend"] == "loopback"

        def listing():
            cbs = srv.get("/admin/inbound/callbacks", key=ADMIN).json()["callbacks"]
            return {c["path"]: c for c in cbs} if "/phaxio-callback" not in {c["path"] for c in cbs} else None

        cbs = wait_for(listing, "the replaced Phaxio sender to stop")
        src = cbs["/phaxio-inbound"]
        assert src["backend"] == "phaxio" and src["sending_backend"] is False, src
        assert "PHAXIO_CALLBACK_TOKEN" in src["enabled_by"], src
        # answered (and refused unsigned), not 404; the status route is gone
        assert srv.post("/phaxio-inbound", data=b"x").status_code in (400, 401, 403)
        assert srv.post("/phaxio-callback?job_id=" + "0" * 32, data=b"x").status_code == 404
    finally:
        _stop_all(started)


def test_inbound_source_follows_live_settings(server):
    """An inbound source turned on, re-keyed and turned off from the settings (the
    console's PUT /admin/settings) while loopback sends, without a restart."""
    srv = server(FAX_BACKEND="loopback", API_KEY=ADMIN)
    assert _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p")).status_code == 404
    r = srv.request("PUT", "/admin/settings", key=ADMIN,
                    json={"SINCH_INBOUND_BASIC_USER": "u", "SINCH_INBOUND_BASIC_PASS": "p"})
    assert r.status_code == 200, r.text
    assert _post(srv, "/sinch-inbound", _sinch_incoming()).status_code == 401
    r = _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p"))
    assert r.status_code == 200, r.text
    assert srv.get(f"/inbound/{r.json()['inbound_id']}", key=ADMIN).json()["backend"] == "sinch"
    # new credentials: the old ones are refused at once
    r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"SINCH_INBOUND_BASIC_PASS": "p2"})
    assert r.status_code == 200, r.text
    assert _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p")).status_code == 401
    assert _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p2")).status_code == 200
    # turned off: the route is gone once the replaced source has finished
    r = srv.request("PUT", "/admin/settings", key=ADMIN,
                    json={"SINCH_INBOUND_BASIC_USER": "", "SINCH_INBOUND_BASIC_PASS": ""})
    assert r.status_code == 200, r.text
    wait_for(lambda: _post(srv, "/sinch-inbound", _sinch_incoming(), auth=("u", "p2")).status_code == 404,
             "the Sinch inbound source to stop")
