"""test_console.py — the Admin Console over plain HTTP: its embedded files at
/admin/ui/ (content types, ETag revalidation, the Content-Security-Policy), "/"
sending a browser there, and sign-in sessions (cookie flags, CSRF, sign-out,
revocation, rate limited failures), against the real server. The browser tests
in tests/browser drive the pages themselves."""

import requests

from helpers import PHONE, assert_detail, read_audit

BOOT = "bootstrap-Key-for-console-tests-81c2"


def browser(srv):
    s = requests.Session()
    s.trust_env = False
    return s


def make_key(srv, scopes):
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "console", "owner": "ops", "scopes": scopes})
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(srv, s, key):
    return s.post(srv.url + "/admin/ui/session", json={"api_key": key})


def test_assets_served_with_types_etag_and_csp(server):
    srv = server(API_KEY=BOOT)
    r = srv.get("/admin/ui/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" in r.text and "src=\"app.js\"" in r.text
    etag = r.headers["ETag"]
    again = srv.get("/admin/ui/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    js = srv.get("/admin/ui/app.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    css = srv.get("/admin/ui/app.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert js.headers["ETag"] != etag
    assert_detail(srv.get("/admin/ui/nothing-here.js"), 404)
    bare = srv.get("/admin/ui", allow_redirects=False)
    assert bare.status_code == 301 and bare.headers["Location"] == "/admin/ui/"


def test_root_redirects_browsers_only(server):
    srv = server(API_KEY=BOOT)
    r = srv.get("/", headers={"Accept": "text/html,application/xhtml+xml"}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/admin/ui/"
    api = srv.get("/", headers={"Accept": "application/json"}, allow_redirects=False)
    assert_detail(api, 404)


def test_sign_in_sets_strict_httponly_cookie_and_never_returns_the_key(server):
    srv = server(API_KEY=BOOT)
    key = make_key(srv, ["fax:send", "fax:read"])
    s = browser(srv)
    r = sign_in(srv, s, key["token"])
    assert r.status_code == 200, r.text
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("faxbot_session=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie            # plain http from a peer that is no trusted proxy
    secret = key["token"][len("fbk_live_") + 13:]   # the part after "fbk_live_<12 hex id>_"
    assert len(secret) >= 43
    assert key["token"] not in r.text and secret not in r.text and secret not in cookie
    body = r.json()
    assert body["key_id"] == key["key_id"] and set(body["scopes"]) == {"fax:send", "fax:read"}
    assert len(body["csrf_token"]) >= 32
    me = s.get(srv.url + "/admin/ui/session")
    assert me.status_code == 200 and me.json()["csrf_token"] == body["csrf_token"]
    # the cookie works on API routes, within the key's scopes
    assert s.get(srv.url + "/fax").status_code == 200
    assert_detail(s.get(srv.url + "/admin/api-keys"), 403, "keys:manage")


def test_secure_flag_behind_trusted_https_proxy(server):
    srv = server(API_KEY=BOOT, TRUSTED_PROXIES="127.0.0.1")
    r = browser(srv).post(srv.url + "/admin/ui/session", json={"api_key": BOOT},
                          headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200 and "; Secure" in r.headers["Set-Cookie"]


def test_csrf_token_required_to_change_state(server):
    srv = server(API_KEY=BOOT, FAX_BACKEND="loopback")
    s = browser(srv)
    csrf = sign_in(srv, s, BOOT).json()["csrf_token"]
    files = {"file": ("a.txt", b"hello\n", "text/plain")}
    no = s.post(srv.url + "/fax", data={"to": PHONE}, files=files)
    assert_detail(no, 403, "CSRF")
    wrong = s.post(srv.url + "/admin/api-keys", json={"scopes": ["fax:read"]}, headers={"X-CSRF-Token": "x" * 43})
    assert_detail(wrong, 403, "CSRF")
    ok = s.post(srv.url + "/fax", data={"to": PHONE}, files=files, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 202, ok.text
    assert_detail(s.delete(srv.url + "/admin/ui/session"), 403, "CSRF")
    out = s.delete(srv.url + "/admin/ui/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and "Max-Age=0" in out.headers["Set-Cookie"]
    assert_detail(s.get(srv.url + "/fax"), 401)


def test_session_ends_when_its_key_is_revoked_or_rotated(server):
    srv = server(API_KEY=BOOT)
    for action in ("revoke", "rotate"):
        key = make_key(srv, ["fax:read"])
        s = browser(srv)
        assert sign_in(srv, s, key["token"]).status_code == 200
        assert s.get(srv.url + "/fax").status_code == 200
        if action == "revoke":
            assert srv.delete(f"/admin/api-keys/{key['key_id']}", key=BOOT).status_code == 200
        else:
            assert srv.post(f"/admin/api-keys/{key['key_id']}/rotate", key=BOOT).status_code == 200
        assert_detail(s.get(srv.url + "/fax"), 401)
        assert_detail(s.get(srv.url + "/admin/ui/session"), 401)


def test_bad_sign_ins_are_refused_audited_and_rate_limited(server, tmp_path):
    audit = tmp_path / "audit.log"
    srv = server(API_KEY=BOOT, AUTH_FAILURES_PER_MINUTE=3, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(audit))
    s = browser(srv)
    assert_detail(s.post(srv.url + "/admin/ui/session", data="api_key=x",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_detail(s.post(srv.url + "/admin/ui/session", json={}), 400)
    codes = [sign_in(srv, s, "fbk_live_000000000000_" + "A" * 43).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429], codes
    assert "faxbot_session" not in s.cookies
    raw, audit_events = read_audit(str(audit))
    events = [e["event"] for e in audit_events]
    assert "auth_failed" in events and "auth_rate_limited" in events
    assert b"A" * 43 not in raw              # the pasted secret is never logged
