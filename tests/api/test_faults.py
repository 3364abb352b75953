"""test_faults.py — fault injection against the real server: a full disk (a small
tmpfs or loop-mounted ext4 as FAX_DATA_DIR), the database locked by another process,
the PBX (Asterisk over AMI, FreeSWITCH over ESL) or the cloud provider (Phaxio)
going away and coming back on the same port, and kill -9 at seeded random moments
while many Phaxio jobs are in flight.  Each scenario asserts a clear outcome:
never a hang, never an empty 500, never a lost accepted job, never a fax sent twice,
never a corrupt database (`PRAGMA integrity_check` after the server stops)."""

import errno
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import pytest

import documents as docs
from conftest import Server, _stop_all
from helpers import (PHONE, assert_detail, audit_job_id, create_job, get_job,
                     raw_post, multipart_body, read_audit, send_fax, slow_factor, wait_job,
                     wait_jobs)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402
from esl_peer import EslPeer  # noqa: E402
from phaxio_peer import PhaxioPeer  # noqa: E402

ADMIN = "faults-admin-key-5e0c7a19d2"
# transient failures retried every second or two, long enough to outlast an outage
RETRY_FAST = dict(FAX_MAX_ATTEMPTS="12", FAX_RETRY_BASE_SECONDS="1", FAX_RETRY_MAX_SECONDS="2")


# ----------------------------------------------------------------------------- helpers

def _until(cond, what, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout * slow_factor()
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout * slow_factor():.0f} s waiting for {what}")


def _integrity(db_path):
    """`sqlite3 DB 'PRAGMA integrity_check'` (the CLI, as an operator would run it)."""
    p = subprocess.run(["sqlite3", str(db_path), "PRAGMA integrity_check;"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"sqlite3 failed on {db_path}: {p.stderr}"
    return p.stdout.strip()


def _new_server(tmp_path, prefix, **env):
    """A Server that is not started yet (so its data dir can be prepared first)."""
    return Server(tempfile.mkdtemp(prefix=prefix, dir=str(tmp_path)), env)


def _reopen(peer):
    """Brings a closed stand-in back on the same port, keeping its records (the
    provider or the PBX is back after an outage).  Works for the three peers: each
    serves through a socketserver whose handler class reaches the peer object."""
    attr = "httpd" if hasattr(peer, "httpd") else "server"
    old = getattr(peer, attr)
    deadline = time.monotonic() + 10
    while True:
        try:
            new = type(old)(("127.0.0.1", peer.port), old.RequestHandlerClass)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    new.daemon_threads = True
    if hasattr(old, "peer"):
        new.peer = old.peer
    setattr(peer, attr, new)
    t = threading.Thread(target=new.serve_forever, daemon=True)
    t.start()
    if attr == "httpd":
        peer._serve = t
    else:
        peer.thread = t


def _timed(fn):
    t0 = time.monotonic()
    try:
        r = fn()
    except Exception as e:  # a timeout or a reset is an outcome the test reports
        return e, time.monotonic() - t0
    return r, time.monotonic() - t0


def _clear_answer(r, what, ok=(200, 202)):
    """Success, or a 503/507 with a {"detail"}: anything else is a failure."""
    assert not isinstance(r, Exception), f"{what}: no answer: {r!r}"
    if r.status_code in ok:
        return None
    assert r.status_code in (503, 507), f"{what}: {r.status_code} {r.text[:300]!r}"
    return assert_detail(r, r.status_code)


# ----------------------------------------------------------------------------- 1. full disk

@pytest.fixture
def small_disk(tmp_path):
    """mount(path): mounts an 8 MB filesystem on `path` — a tmpfs, else a loop-mounted
    ext4 image — and returns its kind; skips when this machine allows neither.
    Unmounted at teardown (after the test has stopped its server)."""
    mounted = []

    def mount(path):
        path = str(path)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", path],
                           capture_output=True, text=True)
        if p.returncode == 0:
            mounted.append(path)
            return "tmpfs"
        tmpfs_err = p.stderr.strip()
        img = str(tmp_path / "small-disk.img")
        with open(img, "wb") as f:
            f.truncate(8 * 1024 * 1024)
        p = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", img], capture_output=True, text=True)
        if p.returncode == 0:
            p = subprocess.run(["mount", "-o", "loop", img, path], capture_output=True, text=True)
            if p.returncode == 0:
                mounted.append(path)
                os.chmod(path, 0o700)
                return "ext4"
        pytest.skip(f"cannot mount a small filesystem here (tmpfs: {tmpfs_err}; "
                    f"loop ext4: {p.stderr.strip()})")

    yield mount
    for path in reversed(mounted):
        if subprocess.run(["umount", path], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True)


def _fill(path, leave=0):
    """Writes a filler file until the filesystem is full, then gives back `leave` bytes."""
    chunk = b"\0" * 65536
    # unbuffered: a write that hits the end of the disk leaves nothing for close() to flush
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as e:
            assert e.errno in (errno.ENOSPC, errno.EDQUOT), e
    if leave:
        size = os.path.getsize(path)
        os.truncate(path, max(0, size - leave))


def _job_dirs(srv):
    d = os.path.join(srv.data_dir, "outbound")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_full_disk_gives_507_and_keeps_accepted_jobs(tmp_path, small_disk):
    srv = _new_server(tmp_path, "disk-", FAX_WORKERS="1")
    kind = small_disk(srv.data_dir)
    try:
        srv.start()
        before = [create_job(srv, content=docs.pdf_text(1), filename=f"before{i}.pdf") for i in range(2)]
        done = wait_jobs(srv, [j["id"] for j in before], timeout=60)
        assert all(j["status"] == "SUCCESS" for j in done.values()), done
        dirs_before = _job_dirs(srv)
        filler = os.path.join(srv.data_dir, "filler.bin")

        # (a) an upload bigger than the space left: 507 while it streams, nothing left behind
        _fill(filler, leave=256 * 1024)
        big = b"A big letter that cannot fit on this disk.\n" * (2 * 1024 * 1024 // 43)
        body, ctype = multipart_body({"to": PHONE}, "big.txt", big, "text/plain")
        status, text, _ = raw_post(srv.port, "/fax", body, ctype, timeout=30)
        assert status == 507, f"[{kind}] an upload that does not fit: {status} {text[-500:]!r}"
        assert "disk is full" in text, text[-500:]
        # the upload directory goes when the server has finished with the request, which
        # may be a moment after the client saw the answer
        _until(lambda: _job_dirs(srv) == dirs_before, "a refused upload left files behind")

        # (b) the disk completely full: a tiny upload is refused the same way
        _fill(filler + ".2")
        r, took = _timed(lambda: send_fax(srv, content=b"tiny\n", filename="tiny.txt", timeout=30))
        assert not isinstance(r, Exception), f"[{kind}] POST /fax on a full disk: {r!r}"
        assert_detail(r, 507, "disk is full")
        assert took < 10, f"the 507 took {took:.1f} s"
        # the upload directory goes when the server has finished with the request, which
        # may be a moment after the client saw the answer
        _until(lambda: _job_dirs(srv) == dirs_before, "a refused upload left files behind")

        # the server is up, says why it is not ready, and still serves what it has
        assert srv.get("/health").status_code == 200
        r, took = _timed(lambda: srv.get("/health/ready", timeout=15))
        assert not isinstance(r, Exception) and took < 10, (r, took)
        assert r.status_code == 503, f"[{kind}] /health/ready on a full disk: {r.status_code} {r.text}"
        ready = r.json()
        assert ready["checks"]["storage"] is False, ready
        assert any(w.startswith("storage:") and "space" in w.lower() for w in ready["warnings"]), ready
        for j in before:
            got = get_job(srv, j["id"])
            assert got["status"] == "SUCCESS" and got["pages"] == 1, got
            assert os.path.getsize(os.path.join(srv.data_dir, "outbound", j["id"], "original")) > 0
        listed = srv.get("/fax").json()["items"]
        assert sorted(j["id"] for j in listed) == sorted(j["id"] for j in before), listed

        # space freed: ready again, new faxes go through
        os.unlink(filler)
        os.unlink(filler + ".2")
        _until(lambda: srv.get("/health/ready").json()["checks"]["storage"], "storage to be ready again")
        after = create_job(srv, content=docs.pdf_text(1), filename="after.pdf")
        assert wait_job(srv, after["id"], timeout=60)[0]["status"] == "SUCCESS"
        assert srv.stop() == 0, "the server did not stop cleanly"
        assert _integrity(os.path.join(srv.data_dir, "faxbot.db")) == "ok"
    finally:
        _stop_all([srv])


def test_disk_full_jobs_wait_without_spending_attempts(tmp_path, small_disk):
    """The upload fits but its 10-page fax image does not: a full disk is the
    gateway's condition, not the fax's. The job waits queued (no attempt spent, even
    with FAX_MAX_ATTEMPTS=2 and one-second retries), and once space is back it is
    sent promptly, on its first attempt."""
    srv = _new_server(tmp_path, "conv-", FAX_WORKERS="1", FAX_MAX_ATTEMPTS="2", FAX_RETRY_BASE_SECONDS="1",
                      FAX_RETRY_MAX_SECONDS="1")
    small_disk(srv.data_dir)
    try:
        srv.start()
        warm = create_job(srv, content=docs.pdf_text(1), filename="warm.pdf")
        wait_job(srv, warm["id"])
        filler = os.path.join(srv.data_dir, "filler.bin")
        _fill(filler, leave=240 * 1024)   # room for the job's rows and events, not for its fax image
        job = create_job(srv, content=docs.pdf_text(10), filename="ten.pdf")["id"]
        time.sleep(4.0)                       # two attempts' worth of one-second retries
        mid = get_job(srv, job)
        assert mid["status"] == "queued" and mid["attempts"] == 0, \
            f"while the disk is full the job must wait, not spend attempts: {mid}"
        os.unlink(filler)
        t0 = time.monotonic()
        final, seen = wait_job(srv, job, timeout=30)
        took = time.monotonic() - t0
        assert final["status"] == "SUCCESS" and final["pages"] == 10 and final["attempts"] == 1, \
            f"while full: {mid}; after: {final} (statuses {seen})"
        assert final["error"] is None and final["failure_reason"] is None, final
        assert took < 15 * slow_factor(), f"sent {took:.1f} s after space came back"
        assert srv.stop() == 0
        assert _integrity(os.path.join(srv.data_dir, "faxbot.db")) == "ok"
    finally:
        _stop_all([srv])


def test_disk_filling_up_under_load_loses_nothing(tmp_path, small_disk):
    """Twenty loopback faxes into a disk that fills up while they are converted,
    sent and received: once space is back every one is SUCCESS on its first attempt,
    with its received copy stored as an inbound fax, no job stays in_progress for
    its lease (FAX_LEASE_SECONDS=300), and no partial received.tiff is left behind."""
    srv = _new_server(tmp_path, "load-", FAX_WORKERS="2", FAX_MAX_ATTEMPTS="2", FAX_RETRY_BASE_SECONDS="1",
                      FAX_RETRY_MAX_SECONDS="1", FAX_LEASE_SECONDS="300")
    small_disk(srv.data_dir)
    try:
        srv.start()
        filler = os.path.join(srv.data_dir, "filler.bin")
        _fill(filler, leave=1400 * 1024)
        ids = [create_job(srv, content=docs.pdf_text(2), filename=f"l{i}.pdf")["id"] for i in range(20)]
        time.sleep(5.0)
        os.unlink(filler)
        t0 = time.monotonic()
        done = wait_jobs(srv, ids, timeout=90)
        took = time.monotonic() - t0
        bad = {jid: (j["status"], j["attempts"], j["failure_reason"], j["inbound_id"]) for jid, j in done.items()
               if j["status"] != "SUCCESS" or j["attempts"] != 1 or not j["inbound_id"]}
        assert not bad, f"{len(bad)} of 20 jobs lost something: {bad}"
        inbound = {f["id"] for f in srv.get("/inbound?limit=500").json()}
        assert {j["inbound_id"] for j in done.values()} <= inbound, "a received copy is missing"
        assert took < 60 * slow_factor(), f"finished {took:.0f} s after space came back"
        leftovers = [d for d in _job_dirs(srv)
                     if os.path.exists(os.path.join(srv.data_dir, "outbound", d, "received.tiff"))]
        assert leftovers == [], f"received.tiff left behind in {leftovers}"
        assert srv.stop() == 0
        assert _integrity(os.path.join(srv.data_dir, "faxbot.db")) == "ok"
    finally:
        _stop_all([srv])


def test_file_size_limit_gives_507_not_a_dead_server(tmp_path):
    """The no-mount way to cap a data dir: the server runs under `prlimit --fsize`."""
    srv = _new_server(tmp_path, "fsize-", FAX_WORKERS="1")
    wrapper = os.path.join(srv.workdir, "faxbot-fsize.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec prlimit --fsize={3 * 1024 * 1024} -- '{srv.binary}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    srv.binary = wrapper
    try:
        srv.start()
        before = create_job(srv, content=docs.pdf_text(1), filename="small.pdf")
        body, ctype = multipart_body({"to": PHONE}, "big.txt", b"x\n" * (2 * 1024 * 1024), "text/plain")
        status, text, _ = raw_post(srv.port, "/fax", body, ctype, timeout=30)
        try:
            srv.proc.wait(timeout=1.0)       # a dying server has a moment to be reaped
        except subprocess.TimeoutExpired:
            pass
        alive = srv.proc.poll() is None
        assert alive, f"the server died (exit {srv.proc.returncode}) on a write past RLIMIT_FSIZE"
        assert status == 507 and "file size limit" in text, f"{status} {text[-300:]!r}"
        assert get_job(srv, before["id"])["id"] == before["id"]
    finally:
        _stop_all([srv])


# ----------------------------------------------------------------------------- 2. database locked

LOCKER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
con.close()
print("released", flush=True)
"""


@pytest.mark.sqlite_only
def test_database_locked_answers_fast_and_loses_nothing(server, tmp_path):
    """Another process holds an EXCLUSIVE transaction on faxbot.db for 8 s (the database
    is in WAL mode, so that blocks writers only): writes wait out busy_timeout (5 s) and
    answer 503 with a detail, reads and readiness answer at once, jobs in flight finish
    exactly once after the lock is gone."""
    audit = tmp_path / "audit.log"
    srv = server(FAX_WORKERS="2", FAX_LEASE_SECONDS="5", AUDIT_LOG_ENABLED="true",
                 AUDIT_LOG_FILE=str(audit))
    db = os.path.join(srv.data_dir, "faxbot.db")
    done_before = create_job(srv, content=docs.pdf_text(1), filename="done.pdf")
    wait_job(srv, done_before["id"])
    in_flight = [create_job(srv, content=docs.pdf_text(2), filename=f"fly{i}.pdf")["id"] for i in range(3)]
    hold = 8.0
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, db, str(hold)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        t_locked = time.monotonic()
        results = {}

        def call(name, delay, fn):
            time.sleep(delay)
            results[name] = _timed(fn)

        calls = [
            ("post@0.3", 0.3, lambda: send_fax(srv, content=docs.pdf_text(1), filename="l1.pdf", timeout=30)),
            ("post@4", 4.0, lambda: send_fax(srv, content=docs.pdf_text(1), filename="l2.pdf", timeout=30)),
            ("get@0.5", 0.5, lambda: srv.get(f"/fax/{done_before['id']}", timeout=30)),
            ("get_in_flight@1", 1.0, lambda: srv.get(f"/fax/{in_flight[0]}", timeout=30)),
            ("list@1.5", 1.5, lambda: srv.get("/fax", timeout=30)),
            ("ready@2", 2.0, lambda: srv.get("/health/ready", timeout=30)),
            ("cancel@2.5", 2.5, lambda: srv.post(f"/fax/{in_flight[2]}/cancel", timeout=30)),
        ]
        threads = [threading.Thread(target=call, args=c) for c in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        assert time.monotonic() - t_locked < hold + 8, "requests hung behind the lock"
    finally:
        try:
            locker.wait(30)
        except subprocess.TimeoutExpired:
            locker.kill()
            locker.wait()
    report = {k: (getattr(r, "status_code", r), round(took, 2)) for k, (r, took) in results.items()}
    print("db-locked outcomes:", report)
    for name, (r, took) in results.items():
        assert took < 10.0 * max(1.0, slow_factor() / 2), f"{name} took {took:.1f} s: {report}"
        _clear_answer(r, name, ok=(200, 202, 409))
    for name in ("get@0.5", "get_in_flight@1", "list@1.5"):
        assert results[name][0].status_code == 200, f"reads must not wait for a writer in WAL mode: {report}"
        assert results[name][1] < 2.0, report
    assert results["ready@2"][1] < 6.0, report
    refused = [n for n in ("post@0.3", "post@4") if results[n][0].status_code != 202]
    assert "post@0.3" in refused, f"a write inside the lock cannot succeed: {report}"
    for n in refused:
        detail = results[n][0].json()["detail"]
        assert "locked" in detail or "busy" in detail or "try again" in detail, detail
    accepted = [results[n][0].json()["id"] for n in ("post@0.3", "post@4") if n not in refused]

    # after the lock: everything works, nothing lost, nothing done twice
    cancelled = results["cancel@2.5"][0].status_code == 200
    late = create_job(srv, content=docs.pdf_text(1), filename="after.pdf")["id"]
    ids = [done_before["id"]] + in_flight + accepted + [late]
    jobs = wait_jobs(srv, ids, timeout=60)
    for jid, j in jobs.items():
        want = ("cancelled",) if (cancelled and jid == in_flight[2]) else ("SUCCESS",)
        if jid == in_flight[2] and not cancelled:
            want = ("SUCCESS", "cancelled")
        assert j["status"] in want, f"{jid}: {j['status']} {j['failure_reason']} {j['error']} ({report})"
    listed = srv.get("/fax", params={"limit": 500}).json()["items"]
    assert sorted(j["id"] for j in listed) == sorted(ids), "a refused upload became a job, or a job vanished"
    inbound = Counter(f["source_job_id"] for f in srv.get("/inbound", params={"limit": 500}).json())
    for jid, j in jobs.items():
        n = inbound[jid]
        assert n == (1 if j["status"] == "SUCCESS" else n) and n <= 1, f"job {jid} was faxed {n} times"
    assert srv.stop() == 0
    _, events = read_audit(audit)
    finals = Counter(audit_job_id(e) for e in events
                     if e["event"] == "job_updated" and e.get("status") in ("SUCCESS", "FAILED"))
    assert all(v == 1 for v in finals.values()), f"a job reached a terminal state twice: {finals}"
    assert _integrity(db) == "ok"


# ----------------------------------------------------------------------------- 3. PBX / provider gone

AMI_SECRET = "ami-faults-Secret-31"
FS_GW = "gw_faults"


@pytest.fixture
def ami_peer():
    p = AmiPeer(secret=AMI_SECRET)
    yield p
    p.close()


@pytest.fixture
def esl_peer():
    p = EslPeer(gateway=FS_GW)
    yield p
    p.close()


def _not_ready_naming(srv, words, within=5.0):
    """GET /health/ready must turn 503 and name the missing part within `within` s."""
    t0 = time.monotonic()
    last = {}

    def check():
        r = srv.get("/health/ready", timeout=10)
        last["r"] = r
        text = " ".join(r.json().get("warnings", [])) if r.status_code == 503 else ""
        return r.status_code == 503 and all(w.lower() in text.lower() for w in words)

    try:
        _until(check, f"/health/ready to say 503 naming {words}", timeout=within, step=0.1)
    except AssertionError:
        r = last.get("r")
        raise AssertionError(f"/health/ready after {time.monotonic() - t0:.1f} s: "
                             f"{r.status_code if r is not None else None} {r.text if r is not None else ''}")
    body = last["r"].json()
    print("not ready:", body["warnings"], f"after {time.monotonic() - t0:.1f} s")
    assert body["checks"]["backend_config"] is False, body
    return body


def _wait_ready(srv, timeout=20.0):
    _until(lambda: srv.get("/health/ready").status_code == 200, "/health/ready 200", timeout=timeout, step=0.1)


def _transient_wait(srv, job_id, key=None):
    """The job tried while the far end was gone: queued again for a retry, not failed."""
    def seen():
        j = get_job(srv, job_id, key)
        return j if (j["status"] == "queued" and j["attempts"] >= 1) else None
    j = _until(seen, f"job {job_id} to fail transiently and wait for a retry", timeout=15)
    assert j["failure_reason"] == "network_error" and j["next_attempt_at"], j
    return j


def test_asterisk_gone_then_back(server, tmp_path, ami_peer):
    peer = ami_peer
    spool = tmp_path / "spool"
    spool.mkdir()
    srv = server(FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=peer.port,
                 ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD=AMI_SECRET,
                 ASTERISK_SPOOL_DIR=str(spool), FAX_WORKERS="2", API_KEY=ADMIN, **RETRY_FAST)
    _wait_ready(srv)
    peer.script("+15550030", kind="hold")
    on_line = create_job(srv, to="+15550030", key=ADMIN)["id"]
    peer.wait(lambda: len(peer.channels) == 1, what="the call to be up")
    _until(lambda: get_job(srv, on_line, ADMIN)["provider_sid"], "the Originate to be accepted")

    peer.close()                                     # Asterisk goes away with the call up
    body = _not_ready_naming(srv, ["AMI"])
    assert any("127.0.0.1:%d" % peer.port in w for w in body["warnings"]), body
    later = create_job(srv, to="+15550031", key=ADMIN)["id"]
    _transient_wait(srv, later, ADMIN)
    j = get_job(srv, on_line, ADMIN)
    assert j["status"] == "in_progress" and j["attempts"] == 1, \
        f"a call whose fate is unknown waits for Asterisk to come back: {j}"
    assert len(peer.originates()) == 1, "nothing can have been sent while Asterisk was gone"

    with peer.lock:                                  # Asterisk restarted: the call is gone
        peer.channels.clear()
    peer.script("+15550030", kind="success")
    _reopen(peer)
    _wait_ready(srv)
    jobs = wait_jobs(srv, [on_line, later], key=ADMIN, timeout=40)
    assert jobs[on_line]["status"] == "SUCCESS" and jobs[on_line]["attempts"] == 2, jobs[on_line]
    assert jobs[later]["status"] == "SUCCESS", jobs[later]
    calls = Counter(dict(a["headers"]).get("Channel") for a in peer.originates())
    assert calls == Counter({"PJSIP/+15550030@faxbot-trunk": 2, "PJSIP/+15550031@faxbot-trunk": 1}), calls
    assert "CoreShowChannels" in peer.action_names(), "the lost call was not reconciled"


def test_freeswitch_gone_then_back(server, esl_peer):
    peer = esl_peer
    srv = server(FAX_BACKEND="freeswitch", FREESWITCH_ESL_HOST="127.0.0.1",
                 FREESWITCH_ESL_PORT=str(peer.port), FREESWITCH_ESL_PASSWORD=peer.password,
                 FREESWITCH_GATEWAY_NAME=FS_GW, FAX_WORKERS="2", API_KEY=ADMIN, **RETRY_FAST)
    _wait_ready(srv)
    peer.plans["+15550040"] = "hold"
    on_line = create_job(srv, to="+15550040", key=ADMIN,
                         content=docs.pdf_pages(["fault page"]), filename="a.pdf")["id"]
    call = _until(lambda: peer.call_for_job(on_line), "the originate")
    _until(lambda: get_job(srv, on_line, ADMIN)["provider_sid"] == call.uuid, "the call to be accepted")

    peer.close()                                     # FreeSWITCH goes away with the call up
    _not_ready_naming(srv, ["FreeSWITCH", "event socket"])
    later = create_job(srv, to="+15550041", key=ADMIN,
                       content=docs.pdf_pages(["fault page 2"]), filename="b.pdf")["id"]
    _transient_wait(srv, later, ADMIN)
    j = get_job(srv, on_line, ADMIN)
    assert j["status"] == "in_progress" and j["attempts"] == 1, j
    with peer.lock:                                  # FreeSWITCH restarted: the call ended unseen
        call.alive = False
    _reopen(peer)
    _wait_ready(srv)
    jobs = wait_jobs(srv, [on_line, later], key=ADMIN, timeout=40)
    # a call whose result is lost is never resent (it may have gone through): a clear failure
    assert jobs[on_line]["status"] == "FAILED" and jobs[on_line]["failure_reason"] == "result_unknown", \
        jobs[on_line]
    assert jobs[later]["status"] == "SUCCESS", jobs[later]
    per_job = Counter(o["parsed"]["vars"].get("faxbot_job_id") for o in peer.originates if o["parsed"])
    assert per_job == Counter({on_line: 1, later: 1}), per_job
    assert call.uuid in peer.uuid_exists_asked


@pytest.fixture
def phaxio_peer():
    p = PhaxioPeer()
    yield p
    p.close()


def _phaxio_server(tmp_path, peer, prefix, **env):
    base = {"FAX_BACKEND": "phaxio", "PHAXIO_API_KEY": peer.api_key,
            "PHAXIO_API_SECRET": peer.api_secret, "PHAXIO_API_URL": peer.url,
            "PHAXIO_CALLBACK_TOKEN": peer.callback_token, "FAX_WORKERS": "2"}
    base.update(env)
    srv = _new_server(tmp_path, prefix, **base)
    srv.env["PUBLIC_API_URL"] = srv.url
    srv.start()
    if srv.url != srv.env["PUBLIC_API_URL"]:     # the port was taken meanwhile
        srv.restart(PUBLIC_API_URL=srv.url)
    return srv


def _sends_per_job(peer):
    with peer.lock:
        return Counter(s["fields"].get("tag[faxbot_job]") for s in peer.sends if s["answer"] == 200)


def test_phaxio_down_then_back(tmp_path, phaxio_peer):
    peer = phaxio_peer
    srv = _phaxio_server(tmp_path, peer, "phxdown-", **RETRY_FAST)
    try:
        first = create_job(srv, content=docs.pdf_pages(["before the outage"]), filename="a.pdf")["id"]
        assert wait_job(srv, first)[0]["status"] == "SUCCESS"
        peer.close()                                 # the provider is unreachable
        ids = [create_job(srv, content=docs.pdf_pages([f"outage {i}"]), filename=f"o{i}.pdf")["id"]
               for i in range(3)]
        for jid in ids:
            _transient_wait(srv, jid)
        _until(lambda: all(get_job(srv, j)["attempts"] >= 2 for j in ids), "a second attempt (retry)")
        # readiness checks Phaxio's configuration, not its reachability: it answers at once
        r, took = _timed(lambda: srv.get("/health/ready", timeout=10))
        _clear_answer(r, "/health/ready with Phaxio down", ok=(200,))
        assert took < 2.0, f"/health/ready took {took:.1f} s"
        assert all(get_job(srv, j)["status"] in ("queued", "in_progress") for j in ids)
        _reopen(peer)
        jobs = wait_jobs(srv, ids, timeout=40)
        assert all(j["status"] == "SUCCESS" for j in jobs.values()), jobs
        assert _sends_per_job(peer) == Counter({jid: 1 for jid in [first] + ids}), _sends_per_job(peer)
    finally:
        _stop_all([srv])


# ----------------------------------------------------------------------------- 4. kill -9 at random

KILL_SEED = int(os.environ.get("FAXBOT_FAULT_SEED", "20261125"))   # fixed: runs are reproducible
N_PHASES, JOBS_PER_PHASE = 3, 4
# what the stand-in does with each POST /faxes it gets, drawn with the seed
PEER_ACTIONS = [({"outcome": "success"}, 35), ({"outcome": "hold"}, 35), ({"stall": True}, 15),
                ({"drop": True}, 15)]


def _releaser(peer, rng, stop):
    """Finishes held faxes at random moments, whether the gateway is up or not (the
    stand-in retries its webhooks, as Phaxio does)."""
    while not stop.is_set():
        time.sleep(rng.uniform(0.1, 0.6))
        for fid, ev in list(peer._holds.items()):
            if not ev.is_set():
                peer.release(fid, pages=1 + int(fid) % 2)


def test_kill9_at_random_points_with_phaxio(tmp_path, phaxio_peer):
    """12 jobs against the Phaxio stand-in, 4 submitted before each of 3 kill -9s that
    land at seeded random moments, while the stand-in answers at once, holds the fax
    (webhooks come later, maybe while the gateway is down), stalls its answer to the
    submission (the kill lands while the gateway waits for it) or drops the request.
    After the last restart every job ends SUCCESS exactly once and Phaxio created
    exactly one fax per job."""
    peer = phaxio_peer
    rng = random.Random(KILL_SEED)
    actions = [a for a, _ in PEER_ACTIONS]
    weights = [w for _, w in PEER_ACTIONS]
    peer.script(*[dict(a) for a in rng.choices(actions, weights, k=4 * N_PHASES * JOBS_PER_PHASE)])
    audit = tmp_path / "audit.log"
    srv = _phaxio_server(tmp_path, peer, "phxkill-", FAX_LEASE_SECONDS="3", AUDIT_LOG_ENABLED="true",
                         AUDIT_LOG_FILE=str(audit), FAX_WORKERS="3", **RETRY_FAST)
    stop = threading.Event()
    releaser = threading.Thread(target=_releaser, args=(peer, random.Random(KILL_SEED + 1), stop), daemon=True)
    releaser.start()
    ids, kills = [], []
    try:
        for phase in range(N_PHASES):
            peer._stall.clear()          # stall / drop hold their answer until the next kill
            for i in range(JOBS_PER_PHASE):
                n = len(ids)
                ids.append(create_job(srv, content=docs.pdf_pages([f"job {n} page {p + 1}" for p in range(1 + n % 2)]),
                                      filename=f"k{n}.pdf")["id"])
            delay = rng.uniform(0.05, 0.5)
            time.sleep(delay)
            states = Counter(get_job(srv, j)["status"] for j in ids)
            kills.append((round(delay, 3), dict(states)))
            port = srv.port
            srv.kill9()
            peer.unstall()
            srv.start()
            assert srv.port == port, "the restarted server must keep its port (PUBLIC_API_URL)"
        in_flight_at_kills = [s.get("in_progress", 0) + s.get("queued", 0) for _, s in kills]
        assert sum(in_flight_at_kills) >= 1, f"no job was in flight at any kill: {kills}"
        jobs = wait_jobs(srv, ids, timeout=60)
        bad = {j: (v["status"], v["failure_reason"], v["error"]) for j, v in jobs.items() if v["status"] != "SUCCESS"}
        assert not bad, f"kills {kills}: not SUCCESS: {bad}"
        with peer.lock:
            created = Counter(f["tags"].get("faxbot_job") for f in peer.faxes.values())
        assert created == Counter({jid: 1 for jid in ids}), f"kills {kills}: faxes created per job {created}"
        assert _sends_per_job(peer) == created, f"kills {kills}: sends per job {_sends_per_job(peer)}"
        assert sorted(peer.created()) == sorted(v["provider_sid"] for v in jobs.values()), \
            "a job follows the wrong fax"
        listed = srv.get("/fax", params={"limit": 500}).json()["items"]
        assert sorted(j["id"] for j in listed) == sorted(ids), "jobs appeared or vanished"
        assert srv.stop() == 0
        _, events = read_audit(audit)
        finals = Counter()
        for e in events:
            if e["event"] == "job_updated" and e.get("status") in ("SUCCESS", "FAILED"):
                finals[(audit_job_id(e), e["status"])] += 1
        twice = {k: v for k, v in finals.items() if v > 1 or k[1] == "FAILED"}
        assert not twice, f"kills {kills}: terminal more than once (or FAILED) in the audit: {twice}"
        # the audit line follows the commit: each kill may drop at most one, never add one
        missing = [j for j in ids if not finals[(j, "SUCCESS")]]
        assert len(missing) <= N_PHASES, f"terminal audit lines missing for {missing}"
        assert _integrity(os.path.join(srv.data_dir, "faxbot.db")) == "ok"
        print("kill points (delay s, job states at the kill):", kills)
    finally:
        stop.set()
        peer.unstall()
        _stop_all([srv])
