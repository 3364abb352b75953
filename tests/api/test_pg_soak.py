"""test_pg_soak.py — three gateway nodes on different ports sharing one real
PostgreSQL 15 (tests/peers/pg.py) and one S3 stand-in (tests/peers/s3_peer.py, each
node with its own local cache), jobs posted round-robin through the loopback backend
while one node is kill -9'd twice and started again. Every accepted job ends exactly
once (one final event, one successful attempt), with exactly one inbound fax, and
`faxbot fsck` finds nothing wrong afterwards.

FAXBOT_SOAK_JOBS sets the number of jobs (default 200 here, 100 on a sanitizer build;
bench/cluster_soak.sh runs 1,000). A POST whose answer is lost (its node died) is sent again to the next
node with the same Idempotency-Key, as a client should, so "accepted" is exact.

Skips loudly when PostgreSQL 15 is not installed."""

import json
import os
import threading
import time
import uuid
from collections import Counter

import requests

from helpers import PHONE, run_cli, sanitized, slow_factor
from s3_peer import S3Peer

KEY, SECRET = "AKIDFAXBOTSOAK", "soak/s3cret+chars"
ADMIN = "soak-admin-key-0a1b2c3d4e5f"
PEPPER = "soak-pepper-0123456789abcdef"


def _post(srv, i, idem):
    files = {"file": (f"soak{i}.txt", f"soak job {i}\nthree nodes, one database\n".encode(), "text/plain")}
    return requests.post(srv.url + "/fax", data={"to": PHONE}, files=files,
                         headers={"X-API-Key": ADMIN, "Idempotency-Key": idem}, timeout=60)


def _post_until_accepted(nodes, i, log):
    """POST job i starting at node i % 3; on a dead node or a 5xx, the next node,
    same Idempotency-Key. The job id, or None if no node took it in time."""
    idem = f"soak-{i}-{uuid.uuid4().hex}"
    deadline = time.monotonic() + 120 * slow_factor()
    k = i % len(nodes)
    while time.monotonic() < deadline:
        srv = nodes[k]
        try:
            r = _post(srv, i, idem)
            if r.status_code in (200, 201, 202):
                return r.json()["id"]
            log.append((i, srv.env["FAXBOT_NODE_ID"], r.status_code, r.text[:200]))
            if r.status_code < 500:
                return None
        except requests.RequestException as e:
            log.append((i, srv.env["FAXBOT_NODE_ID"], "error", repr(e)[:200]))
        k = (k + 1) % len(nodes)
        time.sleep(0.05)
    return None


def test_three_nodes_1000_jobs_kill9_twice(server, pg_cluster, tmp_path):
    n_jobs = int(os.environ.get("FAXBOT_SOAK_JOBS", "100" if sanitized() else "200"))
    s3 = S3Peer(KEY, SECRET).start()
    try:
        _soak(server, pg_cluster, s3, n_jobs)
    finally:
        s3.stop()


def _soak(server, pg_cluster, s3, n_jobs):
    t_start = time.monotonic()
    url = pg_cluster.create_database()
    db = url.split("///", 1)[1].split("?", 1)[0]
    env = dict(DATABASE_URL=url, STORAGE_BACKEND="s3", S3_BUCKET="faxes", S3_PREFIX="soak/",
               S3_ENDPOINT_URL=s3.url, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, API_KEY=ADMIN,
               FAXBOT_KEY_PEPPER=PEPPER, FAX_WORKERS="2", FAX_LEASE_SECONDS="3", MAX_REQUESTS_PER_MINUTE="0",
               FAX_MAX_ATTEMPTS="5")
    nodes = [server(expect_ready=False, FAXBOT_NODE_ID=f"node-{i}", **env) for i in range(3)]
    for srv in nodes:
        srv.wait_ready()
    victim = nodes[1]

    accepted, log, lock = {}, [], threading.Lock()
    posted = [0]
    kills = []

    def poster(worker, n_workers):
        for i in range(worker, n_jobs, n_workers):
            jid = _post_until_accepted(nodes, i, log)
            with lock:
                posted[0] += 1
                if jid:
                    accepted[i] = jid

    def killer():
        for frac in (1 / 3, 2 / 3):
            while posted[0] < n_jobs * frac:
                time.sleep(0.05)
            victim.kill9()
            kills.append(posted[0])
            time.sleep(1.0)
            victim.start(expect_ready=False)
            victim.wait_ready()

    threads = [threading.Thread(target=poster, args=(w, 4)) for w in range(4)]
    threads.append(threading.Thread(target=killer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_posted = time.monotonic()
    assert len(kills) == 2, kills
    assert len(accepted) == n_jobs, (len(accepted), log[-10:])
    ids = set(accepted.values())
    assert len(ids) == n_jobs, "two posts were given one job"

    # every job reaches a final status
    deadline = time.monotonic() + max(300, n_jobs * 1.0) * slow_factor()
    while time.monotonic() < deadline:
        left = int(pg_cluster.sql("SELECT count(*) FROM fax_jobs WHERE status NOT IN ('SUCCESS', 'FAILED',"
                                  " 'cancelled')", db=db)[0][0])
        if left == 0:
            break
        time.sleep(1.0)
    t_done = time.monotonic()
    rows = dict(pg_cluster.sql("SELECT id, status FROM fax_jobs", db=db))
    assert set(rows) == ids, (len(rows), len(ids))
    states = Counter(rows.values())
    assert states == Counter({"SUCCESS": n_jobs}), dict(states)
    # ended exactly once: one final event and one successful attempt per job
    finals = dict(pg_cluster.sql("SELECT job_id, count(*) FROM events WHERE type IN ('fax.succeeded', 'fax.failed',"
                                 " 'fax.cancelled') GROUP BY job_id", db=db))
    assert set(finals) == ids and set(finals.values()) == {"1"}, Counter(finals.values())
    wins = dict(pg_cluster.sql("SELECT job_id, count(*) FROM job_attempts WHERE outcome = 'SUCCESS' GROUP BY 1",
                               db=db))
    assert set(wins) == ids and set(wins.values()) == {"1"}, Counter(wins.values())
    # exactly one inbound fax per job
    inbound = dict(pg_cluster.sql("SELECT source_job_id, count(*) FROM inbound_faxes GROUP BY 1", db=db))
    assert set(inbound) == ids and set(inbound.values()) == {"1"}, Counter(inbound.values())
    # every node worked, the victim in each of its lives
    claims = [srv.stderr_text().count("queued -> in_progress (claim)") for srv in nodes]
    assert all(c > 0 for c in claims), claims
    assert victim.stderr_text().count("----- run") == 3
    # no object without a row, no row pointing at a missing object
    code, out, err = run_cli(["fsck", "--json"], env=nodes[0].env, timeout=300)
    report = json.loads(out) if out.strip().startswith("{") else {"raw": out, "err": err}
    assert code == 0, json.dumps(report, indent=1)[:4000]
    assert report["checked"]["jobs"] == n_jobs and report["checked"]["inbound"] == n_jobs, report["checked"]
    print(f"\nsoak: {n_jobs} jobs on 3 nodes (kill -9 after {kills[0]} and {kills[1]} posts): "
          f"posted in {t_posted - t_start:.0f} s, all final after {t_done - t_start:.0f} s; "
          f"claims per node {claims}; lost answers retried {len(log)}; fsck clean "
          f"({report['checked']['objects']} objects)")
