"""test_restart.py — crash safety: kill -9 the server while faxes are in flight or
while an upload is streaming, restart it on the same data dir, and check that
every accepted job finishes exactly once (the audit log and the inbound faxes
the built-in receiver stored are the witnesses)."""

import os
import socket
import time
from collections import Counter

import pytest

import documents as docs
from helpers import (BOUNDARY, PHONE, TERMINAL, audit_job_id, create_job, get_job,
                     raw_request_head, read_audit, slow_factor, wait_job, wait_jobs)

N_JOBS = 20


def _terminal_count(srv, ids):
    n = 0
    for jid in ids:
        if srv.get(f"/fax/{jid}").json()["status"] in TERMINAL:
            n += 1
    return n


@pytest.mark.parametrize("kill_point", ["early", "midway"])
def test_kill9_while_sending_then_restart(server, tmp_path, kill_point):
    audit = tmp_path / "audit.log"
    srv = server(FAX_WORKERS="2", FAX_LEASE_SECONDS="5", AUDIT_LOG_ENABLED="true",
                 AUDIT_LOG_FILE=str(audit))
    ids = []
    for i in range(N_JOBS):
        ids.append(create_job(srv, to=PHONE, content=f"restart test job {i}\n".encode(),
                              filename=f"j{i}.txt")["id"])
    if kill_point == "early":
        time.sleep(0.3)
    else:
        # wait until some (but not all) jobs are done, or give up waiting after a while
        deadline = time.monotonic() + 30 * slow_factor()
        while time.monotonic() < deadline and _terminal_count(srv, ids) < N_JOBS // 3:
            time.sleep(0.2)
    done_before = _terminal_count(srv, ids)
    assert done_before < N_JOBS, "all jobs finished before the kill; the test proves nothing"
    srv.kill9()
    srv.start()
    jobs = wait_jobs(srv, ids, timeout=120)
    states = Counter(j["status"] for j in jobs.values())
    assert states == Counter({"SUCCESS": N_JOBS}), \
        f"after kill -9 ({kill_point}, {done_before} done before) expected all SUCCESS: {dict(states)}; " \
        + "; ".join(f"{j['id'][:8]}: {j['status']} {j['failure_reason']} {j['error']}"
                    for j in jobs.values() if j["status"] != "SUCCESS")
    listed = srv.get("/fax", params={"limit": 500}).json()["items"]
    assert sorted(j["id"] for j in listed) == sorted(ids), "jobs appeared or vanished"
    assert srv.stop() == 0
    _, events = read_audit(audit)
    finals = Counter()
    for e in events:
        if e["event"] == "job_updated" and e.get("status") in ("SUCCESS", "FAILED"):
            finals[(audit_job_id(e), e["status"])] += 1
    # The audit line is written just after the database commit, so a kill -9 landing
    # between the two can lose one line (never add one): at most one job may lack it.
    problems, missing = [], []
    for jid in ids:
        n_ok, n_fail = finals[(jid, "SUCCESS")], finals[(jid, "FAILED")]
        if n_fail or n_ok > 1:
            problems.append(f"{jid}: {n_ok} x SUCCESS, {n_fail} x FAILED")
        elif n_ok == 0:
            missing.append(jid)
    assert not problems, ("no job may reach a terminal state twice (audit across both runs):\n"
                          + "\n".join(problems))
    assert len(missing) <= 1, f"terminal audit lines missing for {len(missing)} jobs: {missing}"
    # The database witness: the built-in receiver got each fax, and each job has
    # exactly one inbound fax, the one its inbound_id names.
    srv.start()
    inbound = srv.get("/inbound", params={"limit": 500}).json()
    per_job = Counter(f["source_job_id"] for f in inbound)
    for jid, job in jobs.items():
        assert per_job[jid] == 1, f"job {jid} has {per_job[jid]} inbound faxes"
        assert job["inbound_id"] in {f["id"] for f in inbound if f["source_job_id"] == jid}


def test_kill9_during_upload(server):
    srv = server(FAX_WORKERS="1", FAX_LEASE_SECONDS="5")
    before = create_job(srv, content=docs.pdf_text(1), filename="before.pdf")
    # stream half of an 8 MB upload, then crash the server mid-request
    payload = docs.pdf_text(1) + b"%" + b"x" * (8 * 1024 * 1024) + b"\n"
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{PHONE}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    total = len(head) + len(payload) + len(tail)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(raw_request_head(srv.port, "/fax",
                                   f"multipart/form-data; boundary={BOUNDARY}", total))
        s.sendall(head)
        s.sendall(payload[:len(payload) // 2])
        time.sleep(0.3)
        srv.kill9()
    finally:
        s.close()
    srv.start()
    listed = srv.get("/fax", params={"limit": 500}).json()["items"]
    for job in listed:
        original = os.path.join(srv.data_dir, "outbound", job["id"], "original")
        assert os.path.isfile(original), \
            f"job {job['id']} ({job['status']}) is listed but its document is missing"
    assert before["id"] in {j["id"] for j in listed}
    assert all(j["id"] == before["id"] for j in listed), \
        f"a half-received upload became a job: {[j['id'] for j in listed]}"
    # the server works normally afterwards, including the job from before the crash
    assert wait_job(srv, before["id"], timeout=60)[0]["status"] == "SUCCESS"
    after = create_job(srv, content=docs.pdf_text(1), filename="after.pdf")
    assert wait_job(srv, after["id"], timeout=60)[0]["status"] == "SUCCESS"
    assert get_job(srv, after["id"])["pages"] == 1


def test_kill9_right_after_accept(server):
    """A 202 means durable: kill -9 immediately after the answer, and the job is there."""
    srv = server(FAX_WORKERS="1", FAX_LEASE_SECONDS="5")
    job = create_job(srv, content=docs.pdf_text(1), filename="now.pdf")
    srv.kill9()
    srv.start()
    final, _ = wait_job(srv, job["id"], timeout=60)
    assert final["status"] == "SUCCESS", final
