"""test_stop_drain.py — `docker stop` / `systemctl stop` semantics of `faxbot serve`:
SIGTERM in the middle of a real transmission (loopback engine) exits 0, and
nothing accepted is lost: the fax being sent and the one queued behind it both
end SUCCESS — the one in flight before the exit, the queued one after the next
start — and both arrive as inbound faxes."""
from helpers import create_job, get_job, wait_job, slow_factor

import time

TEXT = ("This page is long enough to keep the fax engine busy for a while.\n" * 150).encode()


def test_sigterm_mid_transmission_loses_nothing(server):
    srv = server(FAX_WORKERS="1", LOOPBACK_TRANSPORT="audio")
    sending = create_job(srv, content=TEXT)
    queued = create_job(srv, content=b"queued behind the first one\n")
    deadline = time.monotonic() + 60 * slow_factor()
    while get_job(srv, sending["id"])["status"] != "in_progress":
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.05)
    code = srv.stop(timeout=180 * slow_factor())
    assert code == 0, f"SIGTERM mid-transmission: exit {code}; stderr:\n{srv.stderr_text()[-2000:]}"
    # drained, not cut: the transmission in flight finished before the exit
    run1 = srv.stderr_text()
    stop_at = run1.index("stopping (signal 15)")
    assert f"job {sending['id']}: in_progress -> SUCCESS" in run1[stop_at:], \
        f"the fax in flight did not finish after SIGTERM:\n{run1[-2000:]}"
    srv.start()
    first = get_job(srv, sending["id"])
    assert first["status"] == "SUCCESS" and first["attempts"] == 1, first
    done, seen = wait_job(srv, queued["id"], timeout=120)
    assert done["status"] == "SUCCESS", f"the queued job after the restart: {done}"
    inbound = srv.get("/inbound").json()
    items = inbound.get("items", inbound) if isinstance(inbound, dict) else inbound
    assert len(items) == 2, f"expected both faxes received, got {len(items)}: {items}"
