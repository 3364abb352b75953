"""test_health.py — liveness, readiness, metrics, unknown routes and start-up errors."""

import re
import subprocess

from conftest import base_env, check_binary, free_port
from helpers import assert_detail, create_job, slow_factor

METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)(\s+-?\d+)?$')


def parse_metrics(text):
    """Returns {(name, labels): value}; every non-comment line must parse."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_health_ok(server):
    srv = server()
    r = srv.get("/health")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok" and body["backend"] == "loopback", body
    # the default backend is a test engine, and /health says so (issue 17)
    assert body["test_mode"] is True and "test receiver" in body["delivery"], body


def test_health_needs_no_key(server):
    srv = server(API_KEY="bootstrap-key-123", REQUIRE_API_KEY="true")
    assert srv.get("/health").status_code == 200
    assert srv.get("/health/ready").status_code == 200


def test_ready_shape(server):
    srv = server()
    r = srv.get("/health/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["backend"] == "loopback"
    checks = body["checks"]
    for name in ("db", "backend_config", "storage", "ghostscript"):
        assert checks.get(name) is True, f"check {name} not true: {body}"
    assert isinstance(body["warnings"], list)


def test_ready_dev_mode_warns(server):
    """With no API_KEY and no REQUIRE_API_KEY the server runs open; it must warn
    (in /health/ready's warnings or on stderr at start, naming API_KEY)."""
    srv = server()
    body = srv.get("/health/ready").json()
    assert body["warnings"] or "API_KEY" in srv.stderr_text(), \
        f"open (no auth) mode should produce a warning: {body}; stderr: {srv.stderr_text()[-1000:]}"


def test_metrics_prometheus_text(server):
    srv = server()
    create_job(srv)
    srv.get("/health")
    srv.get("/no/such/route")
    r = srv.get("/metrics")
    assert r.status_code == 200
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    samples = parse_metrics(r.text)
    names = {name for name, _ in samples}
    for needed in ("faxbot_http_requests_total", "faxbot_jobs", "faxbot_jobs_created_total",
                   "process_resident_memory_bytes"):
        assert needed in names, f"metric {needed} missing; have {sorted(names)}"
    assert any(n == "faxbot_http_requests_total" and labels for n, labels in samples), \
        "faxbot_http_requests_total should carry labels"
    for status in ("queued", "in_progress", "SUCCESS", "FAILED", "cancelled"):
        assert ("faxbot_jobs", f'{{status="{status}"}}') in samples, \
            f'faxbot_jobs{{status="{status}"}} gauge missing'
    assert samples[("faxbot_jobs_created_total", "")] >= 1
    assert samples[("process_resident_memory_bytes", "")] > 1_000_000
    assert sum(v for (n, _), v in samples.items() if n == "faxbot_http_requests_total") >= 3
    # TYPE lines for the counters
    assert re.search(r"^# TYPE faxbot_http_requests_total counter$", r.text, re.M)


def test_unknown_route_404(server):
    srv = server()
    for path in ("/nope", "/fax/abc/def/ghi", "/health/nope", "/admin"):
        r = srv.get(path)
        assert r.status_code == 404, f"{path}: {r.status_code}"
        assert r.json() == {"detail": "Not Found"}, f"{path}: {r.text}"


def test_wrong_method_405(server):
    srv = server()
    for method, path in (("DELETE", "/health"), ("POST", "/health"), ("PUT", "/fax"),
                         ("DELETE", "/fax"), ("PATCH", "/metrics")):
        r = srv.request(method, path)
        assert_detail(r, 405)


def test_unknown_backend_refuses_to_start(tmp_path):
    binary = check_binary()
    env = base_env()
    env["FAX_DATA_DIR"] = str(tmp_path / "data")
    env["FAX_BACKEND"] = "nosuch"
    p = subprocess.run([binary, "serve", "--listen", f"127.0.0.1:{free_port()}"], env=env,
                       capture_output=True, timeout=20 * slow_factor())
    assert p.returncode != 0, "server must refuse an unknown FAX_BACKEND"
    assert b"FAX_BACKEND" in p.stderr, f"stderr should name FAX_BACKEND: {p.stderr[:500]!r}"


def test_sigterm_clean_exit(server):
    srv = server()
    create_job(srv)
    code = srv.stop()
    assert code == 0, f"SIGTERM should stop the server with exit 0, got {code}; " \
                      f"stderr:\n{srv.stderr_text()[-2000:]}"


def test_restart_keeps_jobs(server):
    srv = server()
    job = create_job(srv)
    srv.restart()
    r = srv.get(f"/fax/{job['id']}")
    assert r.status_code == 200 and r.json()["id"] == job["id"]

