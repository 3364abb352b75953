"""test_settings.py — settings that live in the gateway: the table and its
precedence (default < settings file < environment) with a source per value, the
settings file (0600, .bak, version 1, AES-256-GCM secrets, line and column of a
damaged file), the admin settings routes in Faxbot's shapes, masking everywhere
(each test secret is searched for in every response, the server's output, the audit
log and the whole data directory), and validate against the provider, AMI and ESL
stand-ins in tests/peers."""

import base64
import json
import os
import stat
import sys
import tempfile
import time

import pytest

import documents as docs

from conftest import Server, _stop_all
from helpers import create_job, read_audit, run_cli, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402
from esl_peer import EslPeer  # noqa: E402
from phaxio_peer import PhaxioPeer  # noqa: E402

ADMIN = "settings-admin-key-7f3a2b9c"
CONFIG_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def make(tmp_path):
    """Factory of servers that are not started yet: the test may write a settings
    file first. make(**env) -> Server; srv.start() starts it."""
    started = []

    def factory(**env):
        base = {"API_KEY": ADMIN}
        base.update(env)
        srv = Server(tempfile.mkdtemp(prefix="set-", dir=str(tmp_path)), base)
        started.append(srv)
        return srv

    yield factory
    _stop_all(started)


def config_path(srv):
    return os.path.join(srv.data_dir, "config", "faxbot.config.json")


def write_config(srv, settings, version=1):
    os.makedirs(os.path.dirname(config_path(srv)), exist_ok=True)
    with open(config_path(srv), "w") as f:
        json.dump({"version": version, "settings": settings}, f)


def put(srv, body, key=ADMIN):
    return srv.request("PUT", "/admin/settings", key=key, json=body)


def item(view, name):
    for it in view["items"]:
        if it["name"] == name:
            return it
    raise AssertionError(f"{name} not in the settings table")


def everything_said(srv, responses):
    """Every byte the gateway said or kept: responses, its output, its data dir."""
    chunks = [r.text for r in responses]
    chunks.append(srv.stderr_text())
    for root, _dirs, files in os.walk(srv.data_dir):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    chunks.append(f.read().decode("latin-1"))
            except OSError:
                pass
    return "\n".join(chunks)


# ---- precedence and source -------------------------------------------------------

def test_precedence_default_file_env_with_source(make):
    srv = make(MAX_FILE_SIZE_MB="5")
    write_config(srv, {"MAX_FILE_SIZE_MB": 20, "FAX_MAX_ATTEMPTS": 7, "FAX_HEADER": "From the file"})
    srv.start()
    view = srv.get("/admin/settings", key=ADMIN).json()
    assert item(view, "MAX_FILE_SIZE_MB")["value"] == 5 and item(view, "MAX_FILE_SIZE_MB")["source"] == "env"
    assert item(view, "FAX_MAX_ATTEMPTS")["value"] == 7 and item(view, "FAX_MAX_ATTEMPTS")["source"] == "file"
    assert item(view, "FAX_HEADER")["value"] == "From the file"
    assert item(view, "FAX_WORKERS")["source"] == "default" and item(view, "FAX_WORKERS")["value"] == 4
    assert view["limits"]["max_file_size_mb"] == 5
    # the file's value is really in force: a new job gets 7 attempts
    job = create_job(srv, key=ADMIN)
    assert job["max_attempts"] == 7, job


def test_env_pinned_value_refuses_a_change_naming_the_variable(make):
    srv = make(MAX_FILE_SIZE_MB="5").start()
    r = put(srv, {"max_file_size_mb": 30})
    assert r.status_code == 409, r.text
    assert "MAX_FILE_SIZE_MB" in r.json()["detail"]
    assert not os.path.exists(config_path(srv)), "a refused change must not write the file"
    r = put(srv, {"FAX_DATA_DIR": "/elsewhere"})
    assert r.status_code == 400 and "FAX_DATA_DIR" in r.json()["detail"], r.text


def test_unknown_fields_are_a_400_that_names_them(make):
    srv = make().start()
    r = put(srv, {"fax_max_attempts": 2, "documo_api_key": "x", "made_up": 1})
    assert r.status_code == 400, r.text
    d = r.json()["detail"]
    assert "documo_api_key" in d and "made_up" in d, d
    assert not os.path.exists(config_path(srv))
    r = put(srv, {"fax_max_attempts": "lots"})
    assert r.status_code == 400 and "FAX_MAX_ATTEMPTS" in r.json()["detail"], r.text
    r = srv.request("PUT", "/admin/settings", key=ADMIN, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "line 1" in r.json()["detail"], r.text


def test_put_writes_the_file_atomically_0600_with_bak_and_applies(make):
    srv = make().start()
    r = put(srv, {"fax_max_attempts": 5, "fax_header": "ACME Fax"})
    assert r.status_code == 200, r.text
    meta = r.json()["_meta"]
    assert sorted(meta["applied"]) == ["FAX_HEADER", "FAX_MAX_ATTEMPTS"], meta
    assert meta["restart_required"] == [] and meta["backend_swapped"] is True   # FAX_HEADER reaches the backend
    path = config_path(srv)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.load(open(path))
    assert doc == {"version": 1, "settings": {"FAX_HEADER": "ACME Fax", "FAX_MAX_ATTEMPTS": 5}}, doc
    assert create_job(srv, key=ADMIN)["max_attempts"] == 5
    r = put(srv, {"fax_max_attempts": None, "fax_workers": 2})
    assert r.status_code == 200, r.text
    assert r.json()["_meta"]["restart_required"] == ["FAX_WORKERS"], r.json()["_meta"]
    bak = json.load(open(path + ".bak"))
    assert bak["settings"]["FAX_MAX_ATTEMPTS"] == 5, "the previous version is kept as .bak"
    assert stat.S_IMODE(os.stat(path + ".bak").st_mode) == 0o600
    assert "FAX_MAX_ATTEMPTS" not in json.load(open(path))["settings"], "null returns a setting to its default"
    left = [n for n in os.listdir(os.path.dirname(path)) if n not in ("faxbot.config.json", "faxbot.config.json.bak")]
    assert left == [], f"temporary files left behind: {left}"
    # survives a restart, and is reported as coming from the file
    srv.restart()
    view = srv.get("/admin/settings", key=ADMIN).json()
    assert item(view, "FAX_WORKERS")["source"] == "file" and item(view, "FAX_HEADER")["value"] == "ACME Fax"
    audit_names = [e for e in srv.get("/admin/logs?event=settings_changed", key=ADMIN).json()["items"]]
    assert audit_names == [], "the ring is per process"


def test_reload_rereads_the_file(make):
    srv = make().start()
    write_config(srv, {"FAX_MAX_ATTEMPTS": 9})
    r = srv.post("/admin/settings/reload", key=ADMIN)
    assert r.status_code == 200, r.text
    assert item(r.json(), "FAX_MAX_ATTEMPTS")["value"] == 9 and item(r.json(), "FAX_MAX_ATTEMPTS")["source"] == "file"
    assert "FAX_MAX_ATTEMPTS" in r.json()["_meta"]["applied"]
    assert create_job(srv, key=ADMIN)["max_attempts"] == 9
    with open(config_path(srv), "w") as f:
        f.write('{"version": 1,\n "settings": {\n   "FAX_MAX_ATTEMPTS": 3,,\n }}')
    r = srv.post("/admin/settings/reload", key=ADMIN)
    assert r.status_code == 400 and "line 3" in r.json()["detail"], r.text
    assert create_job(srv, key=ADMIN)["max_attempts"] == 9, "a damaged file changes nothing"


# ---- the file ------------------------------------------------------------------

@pytest.mark.parametrize("text,line,column", [
    ('{"version": 1,\n  "settings": {\n    "FAX_HEADER": "x"\n    "FAX_WORKERS": 2\n  }\n}\n', 4, 17),
    ('{"version": 1, "settings": {"FAX_HEADER": "unterminated}\n', 1, 0),
])
def test_a_damaged_file_stops_the_start_with_line_and_column(make, text, line, column):
    srv = make()
    os.makedirs(os.path.dirname(config_path(srv)), exist_ok=True)
    with open(config_path(srv), "w") as f:
        f.write(text)
    srv.start(expect_ready=False)
    rc = srv.proc.wait(timeout=20)
    err = srv.stderr_text()
    assert rc != 0, err
    assert f"line {line}" in err and "column" in err, err
    if column:
        assert f"column {column}" in err, err
    assert "listening" not in err, "nothing may start on half the settings"


def test_a_file_with_an_unknown_setting_or_version_stops_the_start(make):
    srv = make()
    write_config(srv, {"FAX_HEADERS": "typo"})
    srv.start(expect_ready=False)
    assert srv.proc.wait(timeout=20) != 0
    assert "FAX_HEADERS" in srv.stderr_text()
    srv2 = make()
    write_config(srv2, {}, version=2)
    srv2.start(expect_ready=False)
    assert srv2.proc.wait(timeout=20) != 0
    assert "version 2" in srv2.stderr_text()


def test_secrets_are_encrypted_with_the_key_and_plain_with_a_warning(make):
    secret = "phx-secret-Q9w8E7r6"
    srv = make(FAXBOT_CONFIG_KEY=CONFIG_KEY).start()
    assert put(srv, {"phaxio_api_secret": secret, "phaxio_api_key": "phx-key-A1b2C3d4"}).status_code == 200
    raw = open(config_path(srv)).read()
    assert secret not in raw and "phx-key-A1b2C3d4" not in raw
    doc = json.loads(raw)
    assert doc["settings"]["PHAXIO_API_SECRET"].startswith("aes256gcm:"), doc
    srv.restart()
    view = srv.get("/admin/settings", key=ADMIN).json()
    assert view["phaxio"]["api_secret"].endswith("7r6") and secret not in json.dumps(view)
    assert view["phaxio"]["configured"] is True and view["_meta"]["secrets_encrypted"] is True
    # the wrong key: a clear stop, not a half-read file
    srv.stop()
    srv.env["FAXBOT_CONFIG_KEY"] = base64.b64encode(b"\x01" * 32).decode()
    srv.start(expect_ready=False)
    assert srv.proc.wait(timeout=20) != 0
    assert "PHAXIO_API_" in srv.stderr_text() and "FAXBOT_CONFIG_KEY" in srv.stderr_text()
    # without a key: plain text, and a warning at every start
    plain = make()
    write_config(plain, {"PHAXIO_API_SECRET": secret})
    plain.start()
    assert "plain text" in plain.stderr_text() and "FAXBOT_CONFIG_KEY" in plain.stderr_text()
    assert secret not in plain.stderr_text()


# ---- masking everywhere -----------------------------------------------------------

def test_no_secret_in_any_response_log_audit_or_data_file(make, tmp_path):
    audit = str(tmp_path / "audit.log")
    env_secret = "env-phaxio-secret-ZZ88yy77"
    srv = make(FAXBOT_CONFIG_KEY=CONFIG_KEY, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=audit,
               PHAXIO_API_SECRET=env_secret).start()
    secrets = {
        "phaxio_api_key": "put-phaxio-key-KK11jj22",
        "asterisk_inbound_secret": "put-asterisk-inbound-0123456789ab",
        "ami_password": "put-ami-password-PP33",
        "freeswitch_esl_password": "put-esl-password-EE44",
        "sip_password": "put-sip-password-SS55",
        "signalwire_api_token": "put-sw-token-TT66",
    }
    responses = [put(srv, secrets)]
    assert responses[0].status_code == 200, responses[0].text
    for path in ("/admin/settings", "/admin/config", "/admin/settings/export", "/admin/health-status",
                 "/admin/inbound/callbacks", "/admin/logs", "/admin/logs/tail", "/admin/fax-jobs"):
        r = srv.get(path, key=ADMIN)
        assert r.status_code == 200, (path, r.text)
        responses.append(r)
    responses.append(srv.post("/admin/settings/reload", key=ADMIN))
    responses.append(srv.post("/admin/settings/validate", key=ADMIN, json={"ami_password": "validate-pw-VV99"}))
    responses.append(srv.post("/admin/diagnostics/run", key=ADMIN))
    time.sleep(0.3)
    said = everything_said(srv, responses)
    for name, value in list(secrets.items()) + [("env", env_secret), ("validate", "validate-pw-VV99"),
                                                 ("admin key", ADMIN)]:
        assert value not in said, f"the secret of {name} appears in a response, the log, the audit or the data dir"
    # the change itself is audited by name, with who made it
    changed = [e for e in read_audit(audit)[1] if e["event"] == "settings_changed"]
    assert changed and changed[0]["by"] == "env" and "PHAXIO_API_KEY" in changed[0]["changed"], changed
    # masked values end with the last 4 characters
    view = responses[1].json()
    assert view["sip"]["ami_password"].endswith("PP33") and set(view["sip"]["ami_password"][:-4]) == {"*"}
    assert item(view, "PHAXIO_API_SECRET")["source"] == "env"


def test_export_omits_secrets_unless_asked_and_audits(make, tmp_path):
    audit = str(tmp_path / "audit.log")
    srv = make(FAXBOT_CONFIG_KEY=CONFIG_KEY, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=audit).start()
    assert put(srv, {"phaxio_api_secret": "exp-secret-Ab12Cd34", "fax_header": "Hello World"}).status_code == 200
    r = srv.get("/admin/settings/export", key=ADMIN)
    body = r.json()
    assert set(body) >= {"env_content", "requires_restart", "note"}
    env = body["env_content"]
    assert 'FAX_HEADER="Hello World"' in env and "exp-secret" not in env and "Ab12" not in env, env
    # DATABASE_URL is a secret too (a PostgreSQL URL may carry a password): set on PostgreSQL runs
    on_pg = "DATABASE_URL" in srv.env
    # and so is the S3 secret key, set on S3 runs (FAXBOT_TEST_STORAGE=s3)
    on_s3 = "AWS_SECRET_ACCESS_KEY" in srv.env
    assert "# PHAXIO_API_SECRET=" in env and "# API_KEY=" in env
    assert body["secrets_omitted"] == 2 + on_pg + on_s3, body
    assert ("# DATABASE_URL=" in env) == on_pg and "postgresql://" not in env, env
    assert ("# AWS_SECRET_ACCESS_KEY=" in env) == on_s3, env
    assert not on_s3 or srv.env["AWS_SECRET_ACCESS_KEY"] not in env
    r = srv.get("/admin/settings/export?include_secrets=true", key=ADMIN)
    assert "PHAXIO_API_SECRET=exp-secret-Ab12Cd34" in r.json()["env_content"]
    ev = [e for e in read_audit(audit)[1] if e["event"] == "settings_exported"]
    assert [e["include_secrets"] for e in ev] == ["false", "true"], ev
    assert all("exp-secret" not in json.dumps(e) for e in read_audit(audit)[1])


def test_admin_routes_need_an_admin_key(make):
    srv = make().start()
    r = srv.post("/admin/api-keys", key=ADMIN, json={"name": "sender", "scopes": ["fax:send"]})
    weak = r.json()["token"]
    for method, path in (("GET", "/admin/settings"), ("PUT", "/admin/settings"), ("GET", "/admin/config"),
                         ("POST", "/admin/settings/validate"), ("POST", "/admin/settings/reload"),
                         ("GET", "/admin/settings/export"), ("GET", "/admin/fax-jobs"), ("GET", "/admin/logs")):
        assert srv.request(method, path).status_code == 401, path
        assert srv.request(method, path, key=weak).status_code == 403, path


# ---- validate against the stand-ins ---------------------------------------------------

def test_validate_finds_a_wrong_phaxio_secret(make):
    peer = PhaxioPeer()
    try:
        srv = make(PHAXIO_API_URL=peer.url, PUBLIC_API_URL="https://fax.example.com").start()
        body = {"backend": "phaxio", "phaxio_api_key": peer.api_key, "phaxio_api_secret": "wrong-secret-1234",
                "phaxio_callback_token": peer.callback_token}
        r = srv.post("/admin/settings/validate", key=ADMIN, json=body)
        assert r.status_code == 200, r.text
        v = r.json()
        assert v["backend"] == "phaxio" and v["ok"] is False and v["test_fax"] is None
        assert v["fields"]["PHAXIO_API_SECRET"]["ok"] is False and "rejected" in v["fields"]["PHAXIO_API_SECRET"]["detail"]
        assert v["checks"]["auth"] is False
        body["phaxio_api_secret"] = peer.api_secret
        v = srv.post("/admin/settings/validate", key=ADMIN, json=body).json()
        assert v["ok"] is True, json.dumps(v)
        assert v["ok"] is True and v["fields"]["PHAXIO_API_SECRET"]["ok"] is True, v
        assert "wrong-secret-1234" not in json.dumps(v) and peer.api_secret not in json.dumps(v)
        assert srv.get("/health/ready").json()["backend"] == "loopback", "validate is a dry run"
        del body["phaxio_callback_token"]
        v = srv.post("/admin/settings/validate", key=ADMIN, json=body).json()
        assert v["ok"] is False and v["fields"]["PHAXIO_CALLBACK_TOKEN"]["ok"] is False, v
        assert not os.path.exists(config_path(srv))
    finally:
        peer.close()


def test_validate_finds_a_wrong_ami_password(make, tmp_path):
    peer = AmiPeer(secret="right-ami-secret-42")
    try:
        srv = make(ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=str(peer.port),
                   ASTERISK_SPOOL_DIR=str(tmp_path)).start()
        r = srv.post("/admin/settings/validate", key=ADMIN, json={"backend": "sip", "ami_password": "wrong-ami-pw"})
        v = r.json()
        assert r.status_code == 200 and v["ok"] is False, v
        assert v["fields"]["ASTERISK_AMI_PASSWORD"]["ok"] is False, v
        assert peer.logins_failed >= 1
        v = srv.post("/admin/settings/validate", key=ADMIN,
                     json={"backend": "sip", "ami_password": "right-ami-secret-42"}).json()
        assert v["fields"]["ASTERISK_AMI_PASSWORD"]["ok"] is True, v
        assert "right-ami-secret-42" not in json.dumps(v)
    finally:
        peer.close()


def test_validate_finds_a_wrong_esl_password(make):
    peer = EslPeer(password="RightEsl77")
    try:
        srv = make(FREESWITCH_ESL_HOST="127.0.0.1", FREESWITCH_ESL_PORT=str(peer.port)).start()
        v = srv.post("/admin/settings/validate", key=ADMIN,
                     json={"backend": "freeswitch", "freeswitch_esl_password": "WrongEsl00"}).json()
        assert v["ok"] is False and v["fields"]["FREESWITCH_ESL_PASSWORD"]["ok"] is False, v
        v = srv.post("/admin/settings/validate", key=ADMIN,
                     json={"backend": "freeswitch", "freeswitch_esl_password": "RightEsl77"}).json()
        assert v["fields"]["FREESWITCH_ESL_PASSWORD"]["ok"] is True, v
    finally:
        peer.close()


def test_validate_names_a_setting_the_backend_refuses(make):
    srv = make().start()
    v = srv.post("/admin/settings/validate", key=ADMIN,
                 json={"backend": "freeswitch", "freeswitch_spool_dir": "relative/dir"}).json()
    assert v["ok"] is False and "FREESWITCH_SPOOL_DIR" in v["fields"], v


# ---- jobs, logs, callbacks ----------------------------------------------------------

def test_fax_jobs_list_filters_detail_attempts_pdf_and_retry(make):
    srv = make(FAX_MAX_ATTEMPTS="1").start()
    # PDFs: Ghostscript, not the text renderer (which fails in this tree's ASan build)
    good = create_job(srv, key=ADMIN, to="+15551230001", content=docs.pdf_text(1), filename="a.pdf")
    done, _ = wait_job(srv, good["id"], key=ADMIN, timeout=90)
    assert done["status"] == "SUCCESS", done
    r = srv.get("/admin/fax-jobs?status=SUCCESS&backend=loopback&limit=10&offset=0", key=ADMIN)
    body = r.json()
    assert r.status_code == 200 and body["total"] == 1 and len(body["jobs"]) == 1, body
    j = body["jobs"][0]
    assert set(j) >= {"id", "to_number", "status", "backend", "pages", "error", "created_at", "updated_at"}
    assert j["to_number"].endswith("0001") and "555123" not in j["to_number"], j
    assert srv.get("/admin/fax-jobs?backend=phaxio", key=ADMIN).json()["total"] == 0
    assert srv.get("/admin/fax-jobs?since=2999-01-01T00:00:00Z", key=ADMIN).json()["total"] == 0
    assert srv.get("/admin/fax-jobs?limit=101", key=ADMIN).status_code == 400
    d = srv.get(f"/admin/fax-jobs/{good['id']}", key=ADMIN).json()
    assert d["provider_sid"] is None or isinstance(d["provider_sid"], str)
    hist = d["attempt_history"]
    assert len(hist) == 1 and hist[0]["outcome"] == "SUCCESS" and hist[0]["backend"] == "loopback", hist
    assert hist[0]["started_at"] and hist[0]["ended_at"] and hist[0]["pages"] == 1, hist
    pdf = srv.get(f"/admin/fax-jobs/{good['id']}/pdf", key=ADMIN)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert srv.get("/admin/fax-jobs/" + "0" * 32, key=ADMIN).status_code == 404
    r = srv.post(f"/admin/fax-jobs/{good['id']}/retry", key=ADMIN)
    assert r.status_code == 409 and "SUCCESS" in r.json()["detail"], r.text
    r = srv.post(f"/admin/fax-jobs/{good['id']}/refresh", key=ADMIN)
    assert r.status_code == 409, r.text
    # a FAILED job, retried by an admin, gets a second attempt in its history
    srv.restart(LOOPBACK_IMPAIRMENT="-5")         # a hopeless line (as in test_retry.py)
    bad = create_job(srv, key=ADMIN, content=docs.pdf_text(1), filename="b.pdf")
    done, _ = wait_job(srv, bad["id"], key=ADMIN, timeout=90)
    assert done["status"] == "FAILED", done
    srv.restart(LOOPBACK_IMPAIRMENT="")
    r = srv.post(f"/admin/fax-jobs/{bad['id']}/retry", key=ADMIN)
    assert r.status_code == 202 and r.json()["status"] == "queued", r.text
    done, _ = wait_job(srv, bad["id"], key=ADMIN, timeout=90)
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done
    hist = srv.get(f"/admin/fax-jobs/{bad['id']}", key=ADMIN).json()["attempt_history"]
    assert [h["outcome"] for h in hist] == ["FAILED", "SUCCESS"], hist
    assert hist[0]["reason"], hist


def test_logs_filter_and_tail(make, tmp_path):
    audit = str(tmp_path / "audit.log")
    srv = make(AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=audit).start()
    job = create_job(srv, key=ADMIN, to="+15557654321", content=docs.pdf_text(1), filename="c.pdf")
    wait_job(srv, job["id"], key=ADMIN)
    r = srv.get("/admin/logs?event=job_created", key=ADMIN).json()
    assert r["count"] == 1 and r["items"][0]["job_id"] == job["id"], r
    assert "7654321" not in json.dumps(r), "numbers are masked"
    assert srv.get(f"/admin/logs?q={job['id']}", key=ADMIN).json()["count"] >= 2
    assert srv.get("/admin/logs?since=2999-01-01T00:00:00Z", key=ADMIN).json()["count"] == 0
    t = srv.get("/admin/logs/tail?event=job_created&lines=50", key=ADMIN).json()
    assert t["source"] == audit and t["count"] == 1 and t["items"][0]["raw"].startswith("{"), t
    other = make().start()
    assert other.get("/admin/logs/tail", key=ADMIN).status_code == 400


def test_inbound_callbacks_freeswitch_hook_text_masked_unless_asked(make, tmp_path):
    audit = str(tmp_path / "audit.log")
    secret = "fs-hook-secret-abcdef012345"
    peer = EslPeer()
    try:
        srv = make(FAX_BACKEND="freeswitch", FREESWITCH_ESL_HOST="127.0.0.1", FREESWITCH_ESL_PORT=str(peer.port),
                   FREESWITCH_ESL_PASSWORD=peer.password, FREESWITCH_INBOUND_SECRET=secret,
                   PUBLIC_API_URL="http://gw.example.com:8080", AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=audit).start()
        r = srv.get("/admin/inbound/callbacks", key=ADMIN).json()
        assert r["backend"] == "freeswitch" and secret not in json.dumps(r)
        hooks = {c["path"]: c for c in r["callbacks"]}
        out = hooks["/_internal/freeswitch/outbound_result"]
        assert out["url"] == "http://gw.example.com:8080/_internal/freeswitch/outbound_result"
        assert "X-Internal-Secret: " + r["secret"] in out["hook"] and r["secret"].endswith("2345"), out
        full = srv.get("/admin/inbound/callbacks?include_secrets=true", key=ADMIN).json()
        hook = {c["path"]: c for c in full["callbacks"]}["/_internal/freeswitch/outbound_result"]["hook"]
        # the exact text faxbot freeswitch-config renders into the gateway XML
        assert hook == ("expand system curl -s -m 10 -X POST -H 'Content-Type: application/json' "
                        f"-H 'X-Internal-Secret: {secret}' -d '{{\"job_id\":\"$\\'{{faxbot_job_id}}\","
                        "\"fax_success\":\"$\\'{fax_success}\",\"fax_result_code\":\"$\\'{fax_result_code}\","
                        "\"fax_document_transferred_pages\":\"$\\'{fax_document_transferred_pages}\","
                        "\"hangup_cause\":\"$\\'{hangup_cause}\",\"uuid\":\"$\\'{uuid}\"}' "
                        "http://gw.example.com:8080/_internal/freeswitch/outbound_result"), hook
        # and it is the text in the gateway XML `faxbot freeswitch-config` writes (XML-escaped there)
        assert "X-Internal-Secret: " + secret in hook
        assert [e["event"] for e in read_audit(audit)[1]].count("hook_secret_shown") == 1
    finally:
        peer.close()


# ---- the CLI -----------------------------------------------------------------------

def test_cli_config_on_the_file(tmp_path, cli_env):
    env = dict(cli_env)
    env.update(FAX_DATA_DIR=str(tmp_path / "data"), FAXBOT_CONFIG_KEY=CONFIG_KEY)
    rc, out, err = run_cli(["config", "set", "FAX_HEADER", "Night Desk"], env)
    assert rc == 0, out + err
    rc, out, err = run_cli(["config", "set", "phaxio_api_secret", "cli-secret-WX12yz34"], env)
    assert rc == 0 and "cli-secret" not in out + err, out + err
    path = tmp_path / "data" / "config" / "faxbot.config.json"
    doc = json.loads(path.read_text())
    assert doc["settings"]["FAX_HEADER"] == "Night Desk" and doc["settings"]["PHAXIO_API_SECRET"].startswith("aes256gcm:")
    rc, out, err = run_cli(["config", "set", "FAX_WORKERS", "lots"], env)
    assert rc == 1 and "FAX_WORKERS" in err, out + err
    rc, out, err = run_cli(["config", "set", "NOT_A_SETTING", "1"], env)
    assert rc == 1 and "NOT_A_SETTING" in err
    rc, out, err = run_cli(["config", "get", "PHAXIO_API_SECRET"], env)
    assert rc == 0 and out.strip().endswith("yz34") and "cli-secret" not in out
    rc, out, err = run_cli(["config", "get", "PHAXIO_API_SECRET", "--reveal"], env)
    assert out.strip() == "cli-secret-WX12yz34"
    rc, out, err = run_cli(["config", "show"], env)
    lines = {l.split()[0]: l.split() for l in out.splitlines()}
    assert lines["FAX_HEADER"][-2:] == ["file", "live"] and "FAX_WORKERS" not in lines, out
    rc, out, err = run_cli(["config", "export"], env)
    assert 'FAX_HEADER="Night Desk"' in out and "cli-secret" not in out and "# PHAXIO_API_SECRET=" in out
    rc, out, err = run_cli(["config", "validate"], env)
    assert rc == 0 and "all checks passed" in out, out + err
    rc, out, err = run_cli(["config", "set", "FAX_HEADER", ""], env)
    assert "FAX_HEADER" not in json.loads(path.read_text())["settings"]
    path.write_text('{"version": 1, "settings": {,}}')
    rc, out, err = run_cli(["config", "show"], env)
    assert rc == 1 and "line 1" in err, err


def test_cli_config_against_a_running_server(make, cli_env):
    peer = PhaxioPeer()
    try:
        srv = make(PHAXIO_API_URL=peer.url).start()
        env = dict(cli_env)
        env.update(FAXBOT_URL=srv.url, FAXBOT_API_KEY=ADMIN)
        rc, out, err = run_cli(["config", "set", "fax_max_attempts", "6"], env)
        assert rc == 0 and "FAX_MAX_ATTEMPTS" in out, out + err
        assert create_job(srv, key=ADMIN)["max_attempts"] == 6
        rc, out, err = run_cli(["config", "get", "FAX_MAX_ATTEMPTS"], env)
        assert out.strip() == "6"
        rc, out, err = run_cli(["config", "set", "API_KEY", "x"], env)
        assert rc == 1 and "API_KEY" in err, out + err
        for k, v in (("phaxio_api_key", peer.api_key), ("phaxio_api_secret", "wrong-one-1234"),
                     ("phaxio_callback_token", peer.callback_token)):
            assert run_cli(["config", "set", k, v], env)[0] == 0
        rc, out, err = run_cli(["config", "validate"], env)
        assert rc == 0, "loopback is still the backend"
        rc, out, err = run_cli(["config", "set", "backend", "phaxio"], env)
        assert rc == 0 and "backend swapped live" in out, out + err
        rc, out, err = run_cli(["config", "validate"], env)
        assert rc == 1 and "FAIL" in out and "PHAXIO_API_SECRET" in out, out + err
        rc, out, err = run_cli(["config", "show"], env)
        assert "wrong-one" not in out and "FAX_BACKEND" in out
        rc, out, err = run_cli(["config", "export"], env)
        assert "FAX_BACKEND=phaxio" in out and "wrong-one" not in out
        env["FAXBOT_API_KEY"] = "not-the-key"
        rc, out, err = run_cli(["config", "show"], env)
        assert rc == 1 and "Admin authentication failed" in err
    finally:
        peer.close()


# ---- the shapes Faxbot's console reads (FAXBOT.md §1.6, §10) ---------------------------

def test_console_shapes_field_by_field(make):
    srv = make().start()
    job = create_job(srv, key=ADMIN, content=docs.pdf_text(1), filename="shape.pdf")
    wait_job(srv, job["id"], key=ADMIN, timeout=90)
    cfg = srv.get("/admin/config", key=ADMIN).json()
    assert set(cfg) >= {"backend", "allow_restart", "require_api_key", "enforce_public_https",
                        "phaxio_verify_signature", "persisted_settings_enabled", "branding", "mcp",
                        "audit_log_enabled", "rate_limits", "inbound", "storage", "backend_configured",
                        "public_api_url"}, sorted(cfg)
    assert set(cfg["branding"]) == {"docs_base", "logo_path"}
    assert set(cfg["mcp"]) >= {"sse_enabled", "sse_path", "require_oauth", "oauth", "http_enabled", "http_path"}
    assert set(cfg["mcp"]["oauth"]) == {"issuer", "audience", "jwks_url"}
    assert set(cfg["rate_limits"]) == {"global_rpm", "inbound_list_rpm", "inbound_get_rpm"}
    assert set(cfg["inbound"]) == {"enabled", "retention_days", "token_ttl_minutes"}
    assert set(cfg["storage"]) >= {"backend", "s3_bucket", "s3_region", "s3_prefix", "s3_endpoint_url", "s3_kms_key_id"}
    assert set(cfg["backend_configured"]) >= {"phaxio", "sinch", "signalwire", "documo", "sip_ami_configured",
                                              "sip_ami_password_default"}
    st = srv.get("/admin/settings", key=ADMIN).json()
    sections = {
        "backend": {"type", "disabled"},
        "phaxio": {"api_key", "api_secret", "callback_url", "verify_signature", "configured"},
        "sinch": {"project_id", "api_key", "api_secret", "configured"},
        "signalwire": {"space_url", "project_id", "api_token", "from_fax", "callback_url", "configured"},
        "fs": {"esl_host", "esl_port", "gateway_name", "caller_id_number", "t38_enable"},
        "sip": {"ami_host", "ami_port", "ami_username", "ami_password", "ami_password_is_default", "station_id",
                "configured"},
        "security": {"require_api_key", "enforce_https", "audit_enabled", "public_api_url"},
        "storage": {"backend", "s3_bucket", "s3_kms_enabled"},
        "database": {"url", "persistent"},
        "inbound": {"enabled", "retention_days", "token_ttl_minutes", "sip", "phaxio", "sinch"},
        "limits": {"max_file_size_mb", "pdf_token_ttl_minutes", "rate_limit_rpm", "inbound_list_rpm",
                   "inbound_get_rpm"},
    }
    for name, fields in sections.items():
        assert set(st[name]) >= fields, (name, sorted(st[name]))
    assert set(st["inbound"]["sip"]) == {"asterisk_secret", "configured"}
    assert set(st["inbound"]["sinch"]) == {"verify_signature", "basic_auth_configured", "hmac_configured"}
    assert isinstance(st["backend"]["disabled"], bool) and isinstance(st["fs"]["esl_port"], int)
    hs = srv.get("/admin/health-status", key=ADMIN).json()
    assert set(hs) >= {"timestamp", "backend", "backend_healthy", "jobs", "inbound_enabled", "api_keys_configured",
                       "require_auth", "queue_depth", "disk_free_bytes"}, sorted(hs)
    assert set(hs["jobs"]) >= {"queued", "in_progress", "recent_failures"}
    fj = srv.get("/admin/fax-jobs?limit=50&offset=0", key=ADMIN).json()
    assert set(fj) >= {"total", "jobs"} and fj["total"] == 1
    assert set(fj["jobs"][0]) >= {"id", "to_number", "status", "backend", "pages", "error", "created_at", "updated_at"}
    one = srv.get(f"/admin/fax-jobs/{job['id']}", key=ADMIN).json()
    assert set(one) >= set(fj["jobs"][0]) | {"provider_sid", "file_name"}
    logs = srv.get("/admin/logs?limit=5", key=ADMIN).json()
    assert set(logs) == {"items", "count"} and logs["count"] == len(logs["items"]) <= 5
    cb = srv.get("/admin/inbound/callbacks", key=ADMIN).json()
    assert set(cb) >= {"backend", "callbacks"}
    ex = srv.get("/admin/settings/export", key=ADMIN).json()
    assert set(ex) >= {"env_content", "requires_restart", "note"}
    v = srv.post("/admin/settings/validate", key=ADMIN, json={"backend": "loopback"}).json()
    assert set(v) >= {"backend", "checks", "test_fax"} and v["test_fax"] is None
    diag = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    assert set(diag) >= {"backend", "checks"}
