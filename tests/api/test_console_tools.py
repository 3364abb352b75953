"""test_console_tools.py — what the console's Setup Wizard, Settings editor and
Diagnostics pages need of the server, against the real binary: their files are
embedded and served (and all console files stay within the 150 KB gzip budget);
POST /admin/diagnostics/run reports Ghostscript, the time of the checks and, for a
PBX backend, the UDPTL/RTP port ranges (a real AMI stand-in for Asterisk); the
wizard's dry run names the wrong AMI field and never echoes a secret."""

import gzip
import json
import os
import re
import sys

from helpers import assert_detail

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402

ADMIN = "console-tools-admin-key-3f9a21"
AMI_SECRET = "console-tools-ami-secret-77"


def test_console_pages_are_embedded_and_within_the_size_budget(server):
    srv = server(API_KEY=ADMIN)
    index = srv.get("/admin/ui/").text
    total = len(gzip.compress(index.encode()))
    for name, ctype in (("settings.js", "text/javascript"), ("wizard.js", "text/javascript"),
                        ("diagnostics.js", "text/javascript"), ("plugins.js", "text/javascript"), ("tools.css", "text/css")):
        assert f'"{name}"' in index, name
        r = srv.get("/admin/ui/" + name)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype), name
        assert r.headers.get("ETag")
    for name in re.findall(r'(?:src|href)="([\w.-]+\.(?:js|css|svg))"', index):
        total += len(gzip.compress(srv.get("/admin/ui/" + name).content))
    assert total <= 150 * 1024, f"console assets are {total} bytes gzipped (budget 150 KB)"


def test_diagnostics_reports_ghostscript_and_when_it_ran(server):
    srv = server(API_KEY=ADMIN)
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    c = d["checks"]
    assert d["backend"] == "loopback" and d["ok"] is True, d
    assert c["ghostscript"] is True and c["ghostscript_path"], c
    assert c["db"] is True and c["storage"] is True
    assert "port_ranges" not in c, "the port ranges are a PBX backend's"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", d["checked_at"]), d
    assert_detail(srv.post("/admin/diagnostics/run"), 401)


def test_diagnostics_without_ghostscript_is_not_ok(server):
    srv = server(API_KEY=ADMIN, GHOSTSCRIPT_PATH="/nonexistent/bin/gs")
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    assert d["checks"]["ghostscript"] is False and d["checks"]["ghostscript_path"] == "/nonexistent/bin/gs", d
    assert d["ok"] is False


def sip_server(server, peer, tmp_path, **env):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    return server(API_KEY=ADMIN, FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=str(peer.port),
                  ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD=AMI_SECRET, ASTERISK_SPOOL_DIR=str(spool), **env)


def wait_logged_in(srv):
    import time
    deadline = time.monotonic() + 15
    while True:
        d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
        if d["checks"]["backend"].get("credentials") == "ok" or time.monotonic() > deadline:
            return d
        time.sleep(0.2)


def test_diagnostics_checks_the_port_ranges_of_asterisk(server, tmp_path):
    peer = AmiPeer(secret=AMI_SECRET)
    try:
        srv = sip_server(server, peer, tmp_path)
        d = wait_logged_in(srv)
        p = d["checks"]["port_ranges"]
        assert p["ok"] is True and p["udptl"] == {"start": 4000, "end": 4999, "ok": True, "detail": p["udptl"]["detail"]}, p
        assert p["rtp"]["start"] == 10000 and p["rtp"]["end"] == 20000 and "10001 ports" in p["rtp"]["detail"], p
        assert d["ok"] is True, d
        trunk = d["checks"]["backend"]["trunk"]     # the stand-in answers RoundtripUsec 21000
        assert trunk["qualify"] == "Reachable" and trunk["qualify_ms"] == 21.0, trunk
        # overlapping ranges: named, with the settings to move
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"UDPTL_PORT_START": 10100, "UDPTL_PORT_END": 10200})
        assert r.status_code == 200, r.text
        d = wait_logged_in(srv)
        p = d["checks"]["port_ranges"]
        assert p["ok"] is False and d["ok"] is False, p
        assert "overlap" in p["advice"][0] and "UDPTL_PORT_START" in p["advice"][0], p
        # an RTP range too narrow for the calls at once
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"UDPTL_PORT_START": 4000, "UDPTL_PORT_END": 4999,
                                                                  "RTP_PORT_START": 10000, "RTP_PORT_END": 10005,
                                                                  "ASTERISK_MAX_CHANNELS": 8})
        assert r.status_code == 200, r.text
        p = wait_logged_in(srv)["checks"]["port_ranges"]
        assert p["ok"] is False and "ASTERISK_MAX_CHANNELS=8" in p["advice"][0], p
        # an empty range (end below start)
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"RTP_PORT_START": 12000, "RTP_PORT_END": 11000})
        if r.status_code == 200:
            p = wait_logged_in(srv)["checks"]["port_ranges"]
            assert p["rtp"]["ok"] is False and "RTP_PORT_START" in p["rtp"]["detail"], p
        else:   # refused up front is as good: it names the setting
            assert r.status_code == 400 and "RTP_PORT" in r.json()["detail"], r.text
    finally:
        peer.close()


def test_wizard_dry_run_names_the_wrong_ami_field_and_echoes_no_secret(server, tmp_path):
    """What the wizard's Test connection sends: FAX_BACKEND plus the typed fields."""
    peer = AmiPeer(secret=AMI_SECRET)
    try:
        srv = server(API_KEY=ADMIN, ASTERISK_SPOOL_DIR=str(tmp_path))
        body = {"FAX_BACKEND": "sip", "ASTERISK_AMI_HOST": "127.0.0.1", "ASTERISK_AMI_PORT": str(peer.port),
                "ASTERISK_AMI_USERNAME": "faxbot", "ASTERISK_AMI_PASSWORD": "typed-wrong-secret-1"}
        r = srv.post("/admin/settings/validate", key=ADMIN, json=body)
        v = r.json()
        assert r.status_code == 200 and v["ok"] is False, v
        assert v["fields"]["ASTERISK_AMI_PASSWORD"]["ok"] is False
        assert "ASTERISK_AMI_PASSWORD" in v["fields"]["ASTERISK_AMI_PASSWORD"]["detail"]
        assert "typed-wrong-secret-1" not in json.dumps(v)
        body["ASTERISK_AMI_PASSWORD"] = AMI_SECRET
        v = srv.post("/admin/settings/validate", key=ADMIN, json=body).json()
        assert v["ok"] is True and v["fields"]["ASTERISK_AMI_PASSWORD"]["ok"] is True, v
        assert AMI_SECRET not in json.dumps(v)
        assert srv.get("/health/ready").json()["backend"] == "loopback", "Test connection changes nothing"
        # the pinned spool directory is read-only for the wizard and the Settings page
        row = next(i for i in srv.get("/admin/settings", key=ADMIN).json()["items"] if i["name"] == "ASTERISK_SPOOL_DIR")
        assert row["source"] == "env" and row["editable"] is False and row["pinned_by"] == "ASTERISK_SPOOL_DIR", row
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"ASTERISK_SPOOL_DIR": "/tmp/elsewhere"})
        assert r.status_code == 409 and "ASTERISK_SPOOL_DIR" in r.json()["detail"], r.text
    finally:
        peer.close()
