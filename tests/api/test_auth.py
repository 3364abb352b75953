"""test_auth.py — API keys (bootstrap and database keys), scopes, the admin key API,
auth modes, rate limiting and the audit log, against the real server."""

import re
import time

import pytest

from helpers import PHONE, assert_detail, create_job, read_audit, send_fax, slow_factor

BOOT = "bootstrap-Key-for-tests-5f3a9c1e77"
TOKEN_RE = re.compile(r"^fbk_live_([0-9a-f]{12})_[A-Za-z0-9_-]{32,}$")


def avoid_minute_boundary():
    """The limiter counts per wall-clock minute (Faxbot's fixed window); a burst
    that straddles a minute boundary would be split over two windows, so start
    bursts a safe distance away from one."""
    margin = 4.0 * slow_factor()
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


def make_key(srv, scopes, admin=BOOT, **extra):
    body = {"name": extra.pop("name", "test key"), "owner": extra.pop("owner", "tests"),
            "scopes": scopes}
    body.update(extra)
    r = srv.post("/admin/api-keys", key=admin, json=body)
    assert r.status_code == 200, f"create key -> {r.status_code} {r.text}"
    return r.json()


def test_bootstrap_key_required(server):
    srv = server(API_KEY=BOOT)
    for r in (srv.get("/fax"), srv.get("/fax", key="wrong-key"), send_fax(srv),
              send_fax(srv, key="wrong"), srv.get("/fax/" + "0" * 32),
              srv.post("/fax/" + "0" * 32 + "/cancel")):
        assert r.status_code == 401, f"{r.request.method} {r.request.url}: {r.status_code}"
        assert r.json() == {"detail": "Invalid or missing API key"}
    assert srv.get("/fax", key=BOOT).status_code == 200
    job = create_job(srv, key=BOOT)
    assert srv.get(f"/fax/{job['id']}", key=BOOT).status_code == 200
    # a prefix or an extension of the bootstrap key is not the key
    for k in (BOOT[:-1], BOOT + "x", BOOT.upper(), "x" + BOOT):
        assert srv.get("/fax", key=k).status_code == 401, repr(k)


def test_created_key_shape_and_scopes(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read"], name="reader", owner="alice", note="read only")
    assert set(k) >= {"key_id", "token", "name", "owner", "scopes", "expires_at"}
    m = TOKEN_RE.match(k["token"])
    assert m, f"token format: {k['token']!r}"
    assert m.group(1) == k["key_id"]
    assert k["name"] == "reader" and k["owner"] == "alice"
    assert k["scopes"] == ["fax:read"]
    assert k["expires_at"] is None
    # a job of the same owner (keys see their owner's work: test_owners.py)
    job = create_job(srv, key=make_key(srv, ["fax:send"], owner="alice")["token"])
    assert_detail(send_fax(srv, key=k["token"]), 403, "fax:send")
    assert srv.get("/fax", key=k["token"]).status_code == 200
    assert srv.get(f"/fax/{job['id']}", key=k["token"]).status_code == 200
    assert_detail(srv.post(f"/fax/{job['id']}/cancel", key=k["token"]), 403, "fax:send")
    # a sender cannot read
    w = make_key(srv, "fax:send", name="writer")  # comma-string form of scopes
    assert w["scopes"] == ["fax:send"]
    assert create_job(srv, key=w["token"])["status"] in ("queued", "in_progress")
    assert_detail(srv.get("/fax", key=w["token"]), 403, "fax:read")
    assert_detail(srv.get(f"/fax/{job['id']}", key=w["token"]), 403, "fax:read")
    both = make_key(srv, "fax:send,fax:read", name="both")
    assert sorted(both["scopes"]) == ["fax:read", "fax:send"]
    star = make_key(srv, ["*"], name="star")
    assert create_job(srv, key=star["token"])
    assert srv.get("/fax", key=star["token"]).status_code == 200


def test_two_keys_are_different(server):
    srv = server(API_KEY=BOOT)
    a = make_key(srv, ["fax:read"])
    b = make_key(srv, ["fax:read"])
    assert a["key_id"] != b["key_id"] and a["token"] != b["token"]


@pytest.mark.parametrize("bad", ["fbk_live_", "fbk_live_abc_def", "fbk_live_" + "0" * 12 + "_" + "A" * 43,
                                 "fbk_live_" + "g" * 12 + "_" + "A" * 43, "fbk_live__", "_" * 60,
                                 "fbk_test_" + "0" * 12 + "_" + "A" * 43, "x" * 8000, "Bearer abc"])
def test_malformed_tokens_401(module_server, bad):
    srv = module_server(API_KEY=BOOT)
    r = srv.get("/fax", key=bad)
    assert r.status_code == 401, f"{bad[:40]!r}: {r.status_code} {r.text[:200]}"


def test_tampered_db_token_401(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read"])
    tok = k["token"]
    assert srv.get("/fax", key=tok).status_code == 200
    flipped = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    assert srv.get("/fax", key=flipped).status_code == 401
    assert srv.get("/fax", key=tok[:-3]).status_code == 401
    assert srv.get("/fax", key=tok + "A").status_code == 401


def test_revoke(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read"])
    assert srv.get("/fax", key=k["token"]).status_code == 200
    r = srv.delete(f"/admin/api-keys/{k['key_id']}", key=BOOT)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
    assert srv.get("/fax", key=k["token"]).status_code == 401
    listed = {x["key_id"]: x for x in srv.get("/admin/api-keys", key=BOOT).json()}
    assert listed[k["key_id"]]["revoked_at"] is not None
    assert_detail(srv.delete("/admin/api-keys/000000000000", key=BOOT), 404)
    assert_detail(srv.post(f"/admin/api-keys/{k['key_id']}/rotate", key=BOOT), 409)


def test_rotate(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read", "fax:send"])
    r = srv.post(f"/admin/api-keys/{k['key_id']}/rotate", key=BOOT)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["key_id"] == k["key_id"] and new["token"] != k["token"]
    assert TOKEN_RE.match(new["token"])
    assert srv.get("/fax", key=k["token"]).status_code == 401
    assert srv.get("/fax", key=new["token"]).status_code == 200
    assert create_job(srv, key=new["token"])
    assert_detail(srv.post("/admin/api-keys/000000000000/rotate", key=BOOT), 404)


def test_expired_key_401(server):
    srv = server(API_KEY=BOOT)
    # a key cannot be made already expired (400, test_input_rules.py): one that expires
    # in two seconds is refused once they have passed
    expiry = int(time.time()) + 3
    old = make_key(srv, ["fax:read"], expires_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(expiry)))
    assert srv.get("/fax", key=old["token"]).status_code == 200
    time.sleep(max(0.0, expiry - time.time() + 0.3))
    assert srv.get("/fax", key=old["token"]).status_code == 401
    future = make_key(srv, ["fax:read"], expires_at="2999-01-01T00:00:00+00:00")
    assert future["expires_at"] is not None and future["expires_at"].startswith("2999-01-01")
    assert srv.get("/fax", key=future["token"]).status_code == 200


def test_key_use_updates_last_used(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read"])
    before = {x["key_id"]: x for x in srv.get("/admin/api-keys", key=BOOT).json()}
    assert before[k["key_id"]]["last_used_at"] is None
    assert srv.get("/fax", key=k["token"]).status_code == 200
    after = {x["key_id"]: x for x in srv.get("/admin/api-keys", key=BOOT).json()}
    assert after[k["key_id"]]["last_used_at"] is not None


def test_keys_survive_restart(server):
    srv = server(API_KEY=BOOT)
    k = make_key(srv, ["fax:read"])
    srv.restart()
    assert srv.get("/fax", key=k["token"]).status_code == 200


def test_admin_routes_auth(server):
    srv = server(API_KEY=BOOT)
    reader = make_key(srv, ["fax:read", "fax:send"])
    star = make_key(srv, ["*"])
    admin = make_key(srv, ["keys:manage"])
    some_id = reader["key_id"]
    routes = [("GET", "/admin/api-keys", None),
              ("POST", "/admin/api-keys", {"name": "n", "owner": "o", "scopes": ["fax:read"]}),
              ("DELETE", f"/admin/api-keys/{some_id}", None),
              ("POST", f"/admin/api-keys/{some_id}/rotate", None)]
    for method, path, body in routes:
        assert_detail(srv.request(method, path, json=body), 401)
        assert_detail(srv.request(method, path, key="nope", json=body), 401)
        assert_detail(srv.request(method, path, key=reader["token"], json=body), 403)
        # "*" covers the fax scopes but must not grant keys:manage
        assert_detail(srv.request(method, path, key=star["token"], json=body), 403)
    created = make_key(srv, ["fax:read"], admin=admin["token"])
    assert srv.get("/fax", key=created["token"]).status_code == 200
    assert srv.get("/admin/api-keys", key=admin["token"]).status_code == 200
    # the keys:manage key cannot send faxes by itself
    assert send_fax(srv, key=admin["token"]).status_code == 403


@pytest.mark.parametrize("body", [
    {"name": "n", "owner": "o", "scopes": ["fax:fly"]},
    {"name": "n", "owner": "o", "scopes": "fax:send,bogus"},
    {"name": "n", "owner": "o", "scopes": ["fax:send"], "expires_at": "not a time"},
])
def test_create_key_bad_input_400(module_server, body):
    srv = module_server(API_KEY=BOOT)
    assert_detail(srv.post("/admin/api-keys", key=BOOT, json=body), 400)


def test_create_key_not_json_400(server):
    srv = server(API_KEY=BOOT)
    r = srv.post("/admin/api-keys", key=BOOT, data=b"{not json",
                 headers={"Content-Type": "application/json"})
    assert_detail(r, 400)


def test_list_keys_never_shows_secrets(server):
    srv = server(API_KEY=BOOT)
    keys = [make_key(srv, ["fax:read"], name=f"k{i}") for i in range(3)]
    rotated = srv.post(f"/admin/api-keys/{keys[0]['key_id']}/rotate", key=BOOT).json()
    r = srv.get("/admin/api-keys", key=BOOT)
    assert r.status_code == 200
    listed = r.json()
    assert isinstance(listed, list)
    ids = {x["key_id"] for x in listed}
    assert {k["key_id"] for k in keys} <= ids
    for item in listed:
        assert set(item) >= {"key_id", "name", "owner", "scopes", "created_at", "last_used_at",
                             "expires_at", "revoked_at", "note"}, item
        for field in item:
            assert not re.search(r"token|hash|secret", field, re.I), f"field {field} leaks: {item}"
    for secret in [k["token"] for k in keys] + [rotated["token"], BOOT]:
        assert secret not in r.text
        assert secret.split("_", 3)[-1] not in r.text


def test_require_api_key_without_api_key(server):
    srv = server(REQUIRE_API_KEY="true")
    assert_detail(srv.get("/fax"), 401)
    assert_detail(send_fax(srv), 401)
    assert_detail(srv.get("/fax/" + "0" * 32), 401)
    assert_detail(srv.get("/admin/api-keys"), 401)


def test_open_mode_without_keys(server):
    srv = server()
    assert srv.get("/fax").status_code == 200
    job = create_job(srv)
    assert srv.get(f"/fax/{job['id']}").status_code == 200
    # admin routes always need a key
    assert_detail(srv.get("/admin/api-keys"), 401)
    assert_detail(srv.post("/admin/api-keys", json={"name": "n", "owner": "o",
                                                   "scopes": ["keys:manage"]}), 401)


def test_rate_limit(server):
    srv = server(API_KEY=BOOT, MAX_REQUESTS_PER_MINUTE="5")
    a = make_key(srv, ["fax:read", "fax:send"], name="a")
    b = make_key(srv, ["fax:read", "fax:send"], name="b")
    job = create_job(srv, key=a["token"])
    avoid_minute_boundary()
    codes = [srv.get(f"/fax/{job['id']}", key=a["token"]).status_code for _ in range(5)]
    assert codes == [200] * 5, codes
    r = srv.get(f"/fax/{job['id']}", key=a["token"])
    assert_detail(r, 429, "Rate limit exceeded")
    retry = r.headers.get("Retry-After")
    assert retry is not None and retry.isdigit() and 1 <= int(retry) <= 60, retry
    # other keys and other route labels are unaffected
    assert srv.get(f"/fax/{job['id']}", key=b["token"]).status_code == 200
    assert send_fax(srv, key=a["token"]).status_code == 202
    # health is never limited
    for _ in range(8):
        assert srv.get("/health").status_code == 200


def test_rate_limit_post(server):
    srv = server(API_KEY=BOOT, MAX_REQUESTS_PER_MINUTE="3", FAX_WORKERS="1")
    k = make_key(srv, ["fax:send", "fax:read"])
    avoid_minute_boundary()
    codes = [send_fax(srv, key=k["token"]).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429], codes
    # the rejected POST created nothing
    assert len(srv.get("/fax", key=BOOT).json()["items"]) == 3


def _wait_audit_terminal(path, job_id, timeout):
    """Waits (without using the rate-limited API) for the job's terminal audit line."""
    deadline = time.monotonic() + timeout * slow_factor()
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_bytes().splitlines():
                if job_id.encode() in line and b"job_updated" in line and (
                        b'"SUCCESS"' in line or b'"FAILED"' in line):
                    return True
        time.sleep(0.2)
    return False


def test_audit_log(server, tmp_path):
    audit = tmp_path / "audit.log"
    srv = server(API_KEY=BOOT, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(audit),
                 MAX_REQUESTS_PER_MINUTE="2")
    k = make_key(srv, ["fax:read", "fax:send"], name="auditor")
    job = create_job(srv, key=k["token"], to=PHONE)
    _wait_audit_terminal(audit, job["id"], timeout=60)
    avoid_minute_boundary()
    for _ in range(3):
        srv.get(f"/fax/{job['id']}", key=k["token"])  # third is rate limited
    srv.get("/fax", key="definitely-wrong")  # auth_failed
    reader = make_key(srv, ["fax:read"], name="reader")
    send_fax(srv, key=reader["token"])  # denied scope
    rot = srv.post(f"/admin/api-keys/{reader['key_id']}/rotate", key=BOOT).json()
    srv.delete(f"/admin/api-keys/{reader['key_id']}", key=BOOT)
    srv.get(f"/fax/{job['id']}/pdf", params={"token": job["pdf_url"].split("token=")[1]})
    assert srv.stop() == 0
    raw, events = read_audit(audit)
    kinds = {e["event"] for e in events}
    for needed in ("api_key_created", "job_created", "job_updated", "rate_limited", "auth_failed",
                   "api_key_denied_scope", "api_key_rotated", "api_key_revoked", "pdf_served"):
        assert needed in kinds, f"audit event {needed} missing; have {sorted(kinds)}"
    for e in events:
        assert isinstance(e["ts"], str) and re.match(r"^\d{4}-\d\d-\d\dT", e["ts"]), e
    created = [e for e in events if e["event"] == "job_created"]
    assert created and re.fullmatch(r"\*+4567", created[0].get("to", "")), created
    # the full number never appears, in any form, nor any secret
    for needle in (b"15551234567", b"5551234567", b"555-123", PHONE.encode()):
        assert needle not in raw, f"audit log contains {needle!r}"
    assert re.search(rb"\*+4567", raw)
    for secret in (BOOT, k["token"], reader["token"], rot["token"]):
        assert secret.encode() not in raw, "audit log contains a secret"
        # the secret part of fbk_live_<id>_<secret> (which may itself contain "_")
        tail = secret.split("_", 3)[-1] if secret.startswith("fbk_") else secret
        assert tail.encode() not in raw
    err = srv.stderr_text()
    assert "5551234567" not in err, "server log contains a whole phone number"
    for secret in (BOOT, k["token"], rot["token"]):
        assert secret not in err, "server log contains a secret"
