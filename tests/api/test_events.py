"""test_events.py — what the gateway tells its clients: signed webhooks to a real
receiver on 127.0.0.1 (signatures checked with Python's hmac), per-job order,
retries with the same webhook-id, no retry on 410, delivery after kill -9, the
SSRF guard at POST time, GET /events with Last-Event-ID resume, scopes, and
pages_sent."""

import json
import os
import socket
import sys
import threading
import time

import pytest
import requests

import documents as docs
from helpers import create_job, get_job, slow_factor, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from webhook_receiver import WebhookReceiver, verify  # noqa: E402

KEY = "events-test-bootstrap-key"
FAST = {"API_KEY": KEY, "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_RETRY_MAX_SECONDS": "2", "SSE_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def rx():
    r = WebhookReceiver().start()
    yield r
    r.stop()


def callback_secret(srv):
    with open(os.path.join(srv.data_dir, "webhook-secret")) as f:
        return f.read().strip()


def add_endpoint(srv, url, types=None):
    body = {"url": url}
    if types is not None:
        body["event_types"] = types
    r = srv.post("/admin/webhooks", key=KEY, json=body)
    assert r.status_code == 201, r.text
    ep = r.json()
    assert ep["secret"].startswith("whsec_"), ep
    return ep


def job_types(reqs, job_id):
    """The job's event types as first received: delivery is at-least-once, so a retry
    (same webhook-id, e.g. after a slow answer) is counted once."""
    seen, types = set(), []
    for r in reqs:
        wid = r["headers"].get("webhook-id")
        if r["json"]["data"].get("id") != job_id or wid in seen:
            continue
        seen.add(wid)
        types.append(r["json"]["type"])
    return types


def test_every_event_arrives_signed_and_in_order(server, rx):
    srv = server(**FAST)
    ep = add_endpoint(srv, rx.url("/all"))
    job = create_job(srv, key=KEY, content=docs.pdf_text(3), filename="three.pdf",
                     content_type="application/pdf", fields={"callback_url": rx.url("/cb")})
    final, _ = wait_job(srv, job["id"], key=KEY)
    assert final["status"] == "SUCCESS", final
    assert final["pages"] == 3 and final["pages_sent"] == 3, final

    cb = rx.wait(lambda rs: "fax.succeeded" in job_types(rs, job["id"]), path="/cb", timeout=20)
    # delivery is at-least-once: a retry after a slow answer (a loaded machine) is the same
    # event under the same webhook-id; the assertions below take each delivery once
    first = {}
    for r in cb:
        first.setdefault(r["headers"]["webhook-id"], r)
        assert first[r["headers"]["webhook-id"]]["json"] == r["json"], "a retry must carry the same event"
    cb = [r for r in cb if first[r["headers"]["webhook-id"]] is r]
    allr = rx.wait(lambda rs: any(r["json"]["type"] == "inbound.received" for r in rs)
                   and "fax.succeeded" in job_types(rs, job["id"]), path="/all", timeout=20)
    secret = callback_secret(srv)
    for r in cb:
        assert verify(r, secret), f"callback signature does not verify: {r['headers']}"
        assert not verify(r, ep["secret"]), "callback signed with the endpoint's secret"
    for r in allr:
        assert verify(r, ep["secret"]), f"endpoint signature does not verify: {r['headers']}"
        assert abs(int(r["headers"]["webhook-timestamp"]) - time.time()) < 120
        assert r["headers"]["content-type"] == "application/json"

    types = job_types(cb, job["id"])
    assert types[0] == "fax.queued" and types[-1] == "fax.succeeded", types
    assert set(types) == {"fax.queued", "fax.progress", "fax.succeeded"}, types
    progress = [r["json"]["progress"] for r in cb if r["json"]["type"] == "fax.progress"]
    stages = [p["stage"] for p in progress]
    assert stages[0] == "converting" and "dialing" in stages, stages
    sent = [p["pages_sent"] for p in progress if p["stage"] == "sending"]
    assert sent == [1, 2, 3], f"one progress event per page, in order: {progress}"
    assert all(p["pages"] == 3 for p in progress if p["stage"] == "sending"), progress
    # the endpoint sees the same job events in the same order, plus the inbound fax
    assert job_types(allr, job["id"]) == types
    inbound = [r["json"] for r in allr if r["json"]["type"] == "inbound.received"]
    assert inbound[0]["data"]["id"] == final["inbound_id"], inbound
    # envelope: id, type, timestamp, data = the job as GET /fax/{id} shows it
    last = cb[-1]["json"]
    assert last["id"].startswith("evt_") and last["timestamp"].endswith("+00:00"), last
    detail = get_job(srv, job["id"], key=KEY)
    for k in ("id", "status", "pages", "pages_sent", "attempts", "to"):
        assert last["data"][k] == detail[k], (k, last["data"], detail)
    # one webhook-id per event (and one event per webhook-id); deliveries are listed on the job
    ids = [r["headers"]["webhook-id"] for r in cb]
    assert len({r["json"]["id"] for r in cb}) == len(ids), ids
    deadline = time.monotonic() + 10
    while True:                           # the outcome is recorded just after the receiver answers
        listed = get_job(srv, job["id"], key=KEY)["webhook_deliveries"]
        done = all(d["status"] == "delivered" and d["last_status"] == 200 for d in listed)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {d["id"] for d in listed if d["target"] == "callback_url"} >= set(ids[-5:]), listed
    assert done, listed


def test_retry_failed_and_cancelled_events(server, rx):
    srv = server(FAX_MAX_ATTEMPTS="2", FAX_RETRY_BASE_SECONDS="1", LOOPBACK_TRANSPORT="audio",
                 LOOPBACK_IMPAIRMENT="-5", **FAST)
    add_endpoint(srv, rx.url("/f"), ["fax.retry_scheduled", "fax.failed", "fax.cancelled"])
    job = create_job(srv, key=KEY, content=docs.pdf_text(1), filename="x.pdf", content_type="application/pdf")
    final, _ = wait_job(srv, job["id"], key=KEY, timeout=120)
    assert final["status"] == "FAILED", final
    reqs = rx.wait(lambda rs: "fax.failed" in job_types(rs, job["id"]), path="/f", timeout=20)
    types = job_types(reqs, job["id"])
    assert types == ["fax.retry_scheduled", "fax.failed"], f"only the asked-for types, in order: {types}; {final}"
    retry = reqs[0]["json"]
    assert retry["retry"]["next_attempt_at"] and retry["retry"]["reason"], retry
    assert reqs[-1]["json"]["data"]["failure_reason"] == final["failure_reason"]

    held = server(FAX_DISABLED="true", **FAST)
    add_endpoint(held, rx.url("/c"), ["fax.cancelled"])
    j2 = create_job(held, key=KEY)
    assert held.post(f"/fax/{j2['id']}/cancel", key=KEY).status_code == 200
    reqs = rx.wait(lambda rs: len(rs) >= 1, path="/c", timeout=20)
    assert [r["json"]["type"] for r in reqs] == ["fax.cancelled"]
    assert reqs[0]["json"]["data"]["status"] == "cancelled"


def test_500_three_times_then_200_same_webhook_id_four_times(server, rx):
    srv = server(FAX_DISABLED="true", **FAST)
    rx.script("/flaky", [500, 503, 429, 200])
    ep = add_endpoint(srv, rx.url("/flaky"), ["fax.queued"])
    create_job(srv, key=KEY)
    reqs = rx.wait(lambda rs: len(rs) >= 4, path="/flaky", timeout=30 * slow_factor())
    time.sleep(2.5)                       # nothing more after the 200
    reqs = rx.of("/flaky")
    assert [r["answer"] for r in reqs] == [500, 503, 429, 200], reqs
    assert len({r["headers"]["webhook-id"] for r in reqs}) == 1, "the same webhook-id on every attempt"
    assert all(verify(r, ep["secret"]) for r in reqs)
    gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
    assert all(g >= 0.4 for g in gaps), f"retries are backed off: {gaps}"
    d = srv.get(f"/admin/webhooks/{ep['id']}/deliveries", key=KEY).json()["items"]
    assert len(d) == 1 and d[0]["status"] == "delivered" and d[0]["attempts"] == 4, d
    assert d[0]["id"] == reqs[0]["headers"]["webhook-id"]


def test_410_is_not_retried(server, rx):
    srv = server(FAX_DISABLED="true", **FAST)
    rx.script("/gone", [410])
    ep = add_endpoint(srv, rx.url("/gone"), ["fax.queued"])
    create_job(srv, key=KEY)
    rx.wait(lambda rs: len(rs) >= 1, path="/gone", timeout=20)
    time.sleep(3)
    assert len(rx.of("/gone")) == 1, "a 410 is final"
    d = srv.get(f"/admin/webhooks/{ep['id']}/deliveries", key=KEY).json()["items"]
    assert d[0]["status"] == "failed" and d[0]["last_status"] == 410 and d[0]["attempts"] == 1, d
    metrics = srv.get("/metrics").text
    assert 'faxbot_webhook_attempts_total{outcome="failed"} 1' in metrics, metrics
    assert 'faxbot_webhook_attempts_total{outcome="retry"} 0' in metrics, metrics


def test_kill9_mid_delivery_still_delivers_after_restart(server, rx):
    srv = server(FAX_DISABLED="true", **FAST)
    rx.script("/slow", [("hang", 60), 200])
    add_endpoint(srv, rx.url("/slow"), ["fax.queued"])
    job = create_job(srv, key=KEY, fields={"callback_url": rx.url("/cb-after")})
    rx.wait(lambda rs: len(rs) >= 1, path="/slow", timeout=20)    # the gateway is waiting on us
    srv.kill9()
    rx.release()
    srv.start()
    reqs = rx.wait(lambda rs: any(r["answer"] == 200 for r in rs), path="/slow", timeout=30)
    ids = {r["headers"]["webhook-id"] for r in reqs}
    assert len(ids) == 1, f"the retry after the restart keeps its webhook-id: {ids}"
    time.sleep(1.5)
    assert sum(1 for r in rx.of("/slow") if r["answer"] == 200) == 1, "delivered once, not again"
    cb = rx.wait(lambda rs: len(rs) >= 1, path="/cb-after", timeout=20)
    assert cb[0]["json"]["data"]["id"] == job["id"]


def test_private_and_plain_http_destinations_refused_at_post_time(server):
    srv = server(API_KEY=KEY)
    for url, word in [("https://127.0.0.1/hook", "private"), ("https://10.1.2.3/x", "private"),
                      ("https://169.254.169.254/latest", "private"), ("https://[::1]:8443/x", "private"),
                      ("https://localhost/x", "private"), ("http://example.com/x", "https"),
                      ("https://192.168.1.10/x", "private")]:
        r = srv.post("/fax", key=KEY, data={"to": "+15551234567", "callback_url": url},
                     files={"file": ("a.txt", b"hi\n")})
        assert r.status_code == 400, (url, r.status_code, r.text)
        assert "callback_url" in r.json()["detail"] and word in r.json()["detail"], (url, r.text)
        r = srv.post("/admin/webhooks", key=KEY, json={"url": url})
        assert r.status_code == 400 and word in r.json()["detail"], (url, r.text)
    assert srv.get("/fax", key=KEY).json()["items"] == [], "a refused callback_url makes no job"
    r = srv.post("/admin/webhooks", key=KEY, json={"url": "https://203.0.113.9/x", "event_types": ["fax.nope"]})
    assert r.status_code == 400 and "event_types" in r.json()["detail"], r.text


def test_admin_webhooks_list_get_delete(server, rx):
    srv = server(**FAST)
    ep = add_endpoint(srv, rx.url("/a"), ["fax.succeeded", "fax.failed"])
    listed = srv.get("/admin/webhooks", key=KEY).json()["items"]
    assert [e["id"] for e in listed] == [ep["id"]]
    assert "secret" not in listed[0], "the secret is shown once, at creation"
    assert listed[0]["event_types"] == ["fax.succeeded", "fax.failed"]
    assert srv.get(f"/admin/webhooks/{ep['id']}", key=KEY).json()["url"] == rx.url("/a")
    assert srv.get("/admin/webhooks", key="wrong").status_code == 401
    assert srv.delete(f"/admin/webhooks/{ep['id']}", key=KEY).status_code == 200
    assert srv.get(f"/admin/webhooks/{ep['id']}", key=KEY).status_code == 404
    assert srv.delete(f"/admin/webhooks/{ep['id']}", key=KEY).status_code == 404
    assert srv.get("/admin/webhooks", key=KEY).json()["items"] == []


# ---- GET /events ----

class SSE:
    """A raw SSE client: reads events off a streaming GET /events."""

    def __init__(self, srv, key=KEY, last_id=None):
        h = {"X-API-Key": key, "Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = str(last_id)
        s = requests.Session()
        s.trust_env = False
        self.resp = s.get(srv.url + "/events", headers=h, stream=True, timeout=(5, 30))
        self.events = []
        self.comments = 0
        self.lock = threading.Condition()
        if self.resp.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        cur = {}
        try:
            for raw in self.resp.iter_lines(decode_unicode=True):
                if raw is None:
                    continue
                if raw == "":
                    if "data" in cur:
                        with self.lock:
                            self.events.append({"id": int(cur["id"]), "event": cur.get("event"),
                                                "data": json.loads(cur["data"])})
                            self.lock.notify_all()
                    cur = {}
                elif raw.startswith(":"):
                    with self.lock:
                        self.comments += 1
                        self.lock.notify_all()
                else:
                    k, _, v = raw.partition(":")
                    cur[k] = v[1:] if v.startswith(" ") else v
        except Exception:
            pass

    def wait(self, pred, timeout=20):
        deadline = time.monotonic() + timeout * slow_factor()
        with self.lock:
            while not pred(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"SSE: condition not met; events {[(e['id'], e['event']) for e in self.events]}")
                self.lock.wait(min(left, 0.5))
            return list(self.events)

    def close(self):
        self.resp.close()


def test_sse_stream_and_resume_with_last_event_id_loses_nothing(server):
    srv = server(FAX_DISABLED="true", **FAST)
    first = SSE(srv)
    assert first.resp.status_code == 200, first.resp.text
    assert first.resp.headers["Content-Type"].startswith("text/event-stream")
    a = create_job(srv, key=KEY)
    got = first.wait(lambda es: any(e["data"]["data"]["id"] == a["id"] for e in es))
    first.close()
    last_id = got[-1]["id"]
    # events while nobody listens
    more = [create_job(srv, key=KEY) for _ in range(5)]
    srv.post(f"/fax/{more[0]['id']}/cancel", key=KEY)
    second = SSE(srv, last_id=last_id)
    want = {m["id"] for m in more}
    es = second.wait(lambda es: want <= {e["data"]["data"]["id"] for e in es}
                     and any(e["event"] == "fax.cancelled" for e in es))
    ids = [e["id"] for e in es]
    assert ids == list(range(last_id + 1, last_id + 1 + len(ids))), f"no gaps, no repeats: {ids}"
    # a new live event arrives on the resumed stream too
    late = create_job(srv, key=KEY)
    es = second.wait(lambda es: any(e["data"]["data"]["id"] == late["id"] for e in es))
    assert [e["id"] for e in es] == list(range(last_id + 1, es[-1]["id"] + 1))
    # heartbeats keep an idle stream alive
    n = second.comments
    time.sleep(2.5)
    assert second.comments > n, "heartbeat comments on an idle stream"
    second.close()
    # from the start: everything, in order
    full = SSE(srv, last_id=0)
    es = full.wait(lambda es: any(e["data"]["data"]["id"] == late["id"] for e in es))
    assert [e["id"] for e in es] == list(range(1, len(es) + 1))
    assert es[0]["event"] == "fax.queued" and es[0]["data"]["data"]["id"] == a["id"]
    full.close()


def test_sse_auth_and_scopes(server):
    srv = server(FAX_DISABLED="true", INBOUND_ENABLED="true", **FAST)
    assert srv.get("/events", key="nope", timeout=5).status_code == 401
    keys = {}
    for name, scopes in [("sender", ["fax:send"]), ("inbound", ["inbound:list"]), ("reader", ["fax:read", "fax:send"])]:
        r = srv.post("/admin/api-keys", key=KEY, json={"name": name, "scopes": scopes})
        assert r.status_code in (200, 201), r.text
        keys[name] = r.json()["token"]
    assert srv.get("/events", key=keys["sender"], timeout=5).status_code == 403
    assert srv.get("/events", key=KEY, headers={"Last-Event-ID": "x1"}, timeout=5).status_code == 400
    inbound_only = SSE(srv, key=keys["inbound"], last_id=0)
    reader = SSE(srv, key=keys["reader"], last_id=0)
    job = create_job(srv, key=keys["reader"])       # its own job: owners see their own work
    reader.wait(lambda es: any(e["data"]["data"]["id"] == job["id"] for e in es))
    time.sleep(1.0)
    assert inbound_only.events == [], "fax events are not shown to a key without fax:read"
    assert inbound_only.resp.status_code == 200
    inbound_only.close()
    reader.close()


def _stuck_reader(srv, last_id=None):
    """A client that opens GET /events and then never reads (tiny receive window)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", srv.port))
    resume = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
    s.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n{resume}\r\n".encode())
    return s


def _wait_cut(srv, n, timeout=30):
    deadline = time.monotonic() + timeout * slow_factor()
    while time.monotonic() < deadline:
        if srv.stderr_text().count("fell more than") >= n:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("mode", ["live", "resuming"])
def test_slow_sse_reader_is_cut_off(server, mode):
    srv = server(FAX_DISABLED="true", SSE_MAX_BUFFER_KB="8", **FAST)
    if mode == "resuming":
        for _ in range(200):              # a backlog far larger than the buffers on the way
            create_job(srv, key=KEY)
        s = _stuck_reader(srv, last_id=0)
    else:
        s = _stuck_reader(srv)
        time.sleep(0.5)
        for _ in range(200):
            create_job(srv, key=KEY)
    try:
        assert _wait_cut(srv, 1), "a reader that does not read is cut off, not buffered for ever"
    finally:
        s.close()
    assert srv.get("/health").status_code == 200
    m = srv.get("/metrics").text
    assert "faxbot_event_streams 0" in m, m


# ---- the CLI ----

def test_cli_send_wait_and_events(server, cli_env, tmp_path):
    from helpers import run_cli
    srv = server(**FAST)
    env = dict(cli_env, FAXBOT_URL=srv.url, FAXBOT_API_KEY=KEY)
    doc = tmp_path / "three.pdf"
    doc.write_bytes(docs.pdf_text(3))
    code, out, err = run_cli(["send", "--to", "+15551234567", "--wait", str(doc)], env)
    assert code == 0, out + err
    lines = out.splitlines()
    assert "\r" not in out and "\x1b" not in out, "not a terminal: plain lines, no redrawing"
    job_id = lines[0].split()[1]
    assert lines[0] == f"job {job_id} queued", lines
    assert "status: SUCCESS" in lines and "pages: 3" in lines and "pages_sent: 3" in lines, out
    stages = lines[1:lines.index("id: " + job_id)]
    assert stages[-1] == "SUCCESS", stages
    # events from the start: this job's whole story, one JSON document per line
    code, out, err = run_cli(["events", "--last-event-id", "0", "--json", "--count", "3"], env, timeout=30)
    assert code == 0, out + err
    evs = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in evs][0] == "fax.queued" and len(evs) == 3, evs
    assert all(e["data"]["id"] == job_id for e in evs), evs
    code, out, err = run_cli(["events", "--last-event-id", "0", "--count", "1"], env, timeout=30)
    assert code == 0 and "fax.queued" in out and job_id in out, out + err
    code, out, err = run_cli(["events", "--count", "1"], dict(env, FAXBOT_API_KEY="wrong"), timeout=30)
    assert code == 1 and "401" in err, out + err


def test_stream_cap_answers_503_and_keeps_the_api(server):
    srv = server(FAX_DISABLED="true", SSE_MAX_STREAMS="2", **FAST)
    a, b = SSE(srv), SSE(srv)
    assert a.resp.status_code == 200 and b.resp.status_code == 200
    time.sleep(0.5)
    r = srv.get("/events", key=KEY, timeout=5)
    assert r.status_code == 503 and "SSE_MAX_STREAMS" in r.json()["detail"], r.text
    assert r.headers.get("Retry-After"), r.headers
    assert srv.get("/fax", key=KEY).status_code == 200, "the API keeps working"
    a.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:     # the hub notices the closed stream
        c = SSE(srv)
        if c.resp.status_code == 200:
            c.close()
            break
        time.sleep(0.5)
    else:
        raise AssertionError("a freed stream slot was not given to a new stream")
    b.close()


def test_sse_shows_each_owner_only_its_own_jobs(server):
    srv = server(FAX_DISABLED="true", **FAST)
    tokens = {}
    for name in ("alice", "bob"):
        r = srv.post("/admin/api-keys", key=KEY, json={"name": name, "owner": name, "scopes": ["fax:send", "fax:read"]})
        assert r.status_code in (200, 201), r.text
        tokens[name] = r.json()["token"]
    a, b, admin = SSE(srv, key=tokens["alice"]), SSE(srv, key=tokens["bob"]), SSE(srv)
    ja = create_job(srv, key=tokens["alice"])
    jb = create_job(srv, key=tokens["bob"])
    a.wait(lambda es: any(e["data"]["data"]["id"] == ja["id"] for e in es))
    b.wait(lambda es: any(e["data"]["data"]["id"] == jb["id"] for e in es))
    admin.wait(lambda es: {ja["id"], jb["id"]} <= {e["data"]["data"]["id"] for e in es})
    time.sleep(0.5)
    assert {e["data"]["data"]["id"] for e in a.events} == {ja["id"]}, "alice sees only alice's jobs"
    assert {e["data"]["data"]["id"] for e in b.events} == {jb["id"]}, "bob sees only bob's jobs"
    for s in (a, b, admin):
        s.close()
