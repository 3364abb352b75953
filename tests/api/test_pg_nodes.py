"""test_pg_nodes.py — several gateway nodes on one real PostgreSQL 15 (tests/peers/pg.py):
the schema migrations are applied once when three nodes start together; two nodes
sending through the loopback backend never claim a job twice; the lease of a node
that was kill -9'd is taken over by another node; and a PostgreSQL restart in the
middle of a load is a gap of 503s with Retry-After after which every accepted job
completes. The nodes share one FAX_DATA_DIR (local storage: the documents must be
where every node can read them) and so one key pepper.

Skips loudly when PostgreSQL 15 is not installed."""

import threading
import time
from collections import Counter

import pytest

import pg as pgpeer
from helpers import PHONE, TERMINAL, create_job, get_job, send_fax, slow_factor, wait_jobs


def _db_name(url):
    return url.split("///", 1)[1].split("?", 1)[0]


def _nodes(server, url, shared, n, **env):
    """n nodes on one database and one data dir, started at (nearly) the same moment."""
    nodes = [server(expect_ready=False, DATABASE_URL=url, FAX_DATA_DIR=str(shared),
                    FAXBOT_NODE_ID=f"node-{i}", **env) for i in range(n)]
    for srv in nodes:
        srv.wait_ready()
    return nodes


def test_migrations_applied_once_when_three_nodes_start_together(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    nodes = _nodes(server, url, shared, 3)
    db = _db_name(url)
    rows = pg_cluster.sql("SELECT count(*), count(DISTINCT version), max(version), count(DISTINCT applied_by)"
                          " FROM faxbot_schema", db=db)
    n, distinct, top, appliers = (int(v) for v in rows[0])
    assert n == distinct == top >= 8 and appliers == 1, rows     # every version once, by one node
    applied = sum(srv.stderr_text().count("applied schema migration") for srv in nodes)
    assert applied == n, "\n---\n".join(srv.stderr_text()[-2000:] for srv in nodes)
    # every node answers, from the one schema
    for srv in nodes:
        r = srv.get("/health/ready")
        assert r.status_code == 200, r.text


def test_two_nodes_never_claim_a_job_twice(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    a, b = _nodes(server, url, shared, 2, FAX_WORKERS="2")
    ids = []
    for i in range(24):
        srv = (a, b)[i % 2]
        ids.append(create_job(srv, to=PHONE, content=f"two nodes, job {i}\n".encode(),
                              filename=f"n{i}.txt")["id"])
    jobs = wait_jobs(a, ids, timeout=180)
    states = Counter(j["status"] for j in jobs.values())
    assert states == Counter({"SUCCESS": len(ids)}), dict(states)
    db = _db_name(url)
    # one attempt each, and one inbound fax each (the loopback receiver's witness)
    attempts = dict(pg_cluster.sql("SELECT id, attempts FROM fax_jobs", db=db))
    assert set(attempts) == set(ids)
    assert all(v == "1" for v in attempts.values()), attempts
    rows = dict(pg_cluster.sql("SELECT job_id, count(*) FROM job_attempts WHERE outcome <> 'deferred'"
                               " GROUP BY job_id", db=db))
    assert all(rows.get(j) == "1" for j in ids), rows
    inbound = dict(pg_cluster.sql("SELECT source_job_id, count(*) FROM inbound_faxes GROUP BY 1", db=db))
    assert all(inbound.get(j) == "1" for j in ids), inbound
    # both nodes did some of the work (a claim given back unspent, "deferred", is claimed again)
    claims = [srv.stderr_text().count("queued -> in_progress (claim)") for srv in (a, b)]
    assert sum(claims) >= len(ids), claims
    assert all(c > 0 for c in claims), claims
    # a job is visible on every node, whichever took it
    assert get_job(b, ids[0])["status"] == "SUCCESS"


def test_killed_nodes_lease_is_taken_over(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    env = dict(DATABASE_URL=url, FAX_DATA_DIR=str(shared), FAX_WORKERS="1", FAX_LEASE_SECONDS="2")
    a = server(FAXBOT_NODE_ID="node-a", **env)
    ids = [create_job(a, to=PHONE, content=f"lease job {i}\n".encode(), filename=f"l{i}.txt")["id"]
           for i in range(3)]
    deadline = time.monotonic() + 30 * slow_factor()
    held = None
    while time.monotonic() < deadline and not held:
        for jid in ids:
            if get_job(a, jid)["status"] == "in_progress":
                held = jid
                break
        else:
            time.sleep(0.05)
    assert held, "no job went in_progress on node-a"
    a.kill9()
    db = _db_name(url)
    lease = pg_cluster.sql(f"SELECT lease_node, status FROM fax_jobs WHERE id = '{held}'", db=db)
    b = server(FAXBOT_NODE_ID="node-b", **env)
    jobs = wait_jobs(b, ids, timeout=120)
    states = Counter(j["status"] for j in jobs.values())
    assert states == Counter({"SUCCESS": 3}), (dict(states), b.stderr_text()[-3000:])
    if lease == [["node-a", "in_progress"]]:
        # node-b took node-a's attempt over once node-a's heartbeat stopped
        assert f"job {held}: in_progress -> queued (interrupted)" in b.stderr_text(), b.stderr_text()[-3000:]
        rows = pg_cluster.sql(f"SELECT outcome, message FROM job_attempts WHERE job_id = '{held}' ORDER BY attempt", db=db)
        assert rows[0][0] == "interrupted" and "lease expired" in rows[0][1], rows
        assert rows[-1][0] == "SUCCESS", rows
    else:
        pytest.fail(f"the job was not held by node-a when it was killed: {lease}")
    inbound = dict(pg_cluster.sql("SELECT source_job_id, count(*) FROM inbound_faxes GROUP BY 1", db=db))
    assert all(inbound.get(j) == "1" for j in ids), inbound
    left = pg_cluster.sql("SELECT count(*) FROM fax_jobs WHERE lease_node <> ''", db=db)
    assert left == [["0"]], left


def test_postgresql_restart_mid_load(server, tmp_path):
    """A PostgreSQL of its own (a restart would cut every other test's connections)."""
    if not pgpeer.available():
        pytest.skip(f"SKIPPED LOUDLY: PostgreSQL 15 is not installed ({pgpeer.pg_bin_dir()})")
    pg = pgpeer.PgCluster.start()
    try:
        srv = server(DATABASE_URL=pg.create_database(), FAX_WORKERS="2", API_KEY="restart-key")
        accepted, refused, other = [], [], []
        stop = threading.Event()

        def post_loop():
            i = 0
            while not stop.is_set():
                r = send_fax(srv, key="restart-key", content=f"load job {i}\n".encode(), filename=f"r{i}.txt")
                if r.status_code == 202:
                    accepted.append(r.json()["id"])
                elif r.status_code == 503:
                    refused.append((r.headers.get("Retry-After"), r.json().get("detail", "")))
                else:
                    other.append((r.status_code, r.text[:200]))
                i += 1
                time.sleep(0.05)

        t = threading.Thread(target=post_loop)
        t.start()
        try:
            time.sleep(2.0)
            before = len(accepted)
            pg.restart(gap=3.0)
            time.sleep(3.0)
        finally:
            stop.set()
            t.join()
        assert before > 0, "nothing was accepted before the restart"
        assert refused, "no request was refused while PostgreSQL was down"
        assert all(ra and ra.isdigit() for ra, _ in refused), refused
        assert not other, other
        assert len(accepted) > before, "nothing was accepted after the restart"
        jobs = wait_jobs(srv, accepted, key="restart-key", timeout=180)
        states = Counter(j["status"] for j in jobs.values())
        assert states == Counter({"SUCCESS": len(accepted)}), dict(states)
        listed = srv.get("/fax", key="restart-key", params={"limit": 500}).json()["items"]
        assert sorted(j["id"] for j in listed) == sorted(accepted), "a refused job was kept, or an accepted one lost"
    finally:
        pg.stop()


def test_health_status_names_the_nodes_and_their_leases(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    a, b = _nodes(server, url, shared, 2, API_KEY="pg-admin", FAX_DISABLED="true")
    time.sleep(1.5)                        # a heartbeat or two from both
    hs = b.get("/admin/health-status", key="pg-admin").json()
    assert hs["node"] == {"id": "node-1", "database": "postgresql"}, hs
    nodes = {n["id"]: n for n in hs["nodes"]}
    assert set(nodes) == {"node-0", "node-1"}, hs["nodes"]
    assert hs["nodes"][0]["id"] == "node-1" and hs["nodes"][0]["this"] is True
    assert all(n["alive"] and n["leases_held"] == 0 for n in nodes.values()), nodes
    a.kill9()
    time.sleep(11)                         # past the staleness window (10 s)
    nodes = {n["id"]: n for n in b.get("/admin/health-status", key="pg-admin").json()["nodes"]}
    assert nodes["node-0"]["alive"] is False and nodes["node-1"]["alive"] is True, nodes
    # the single-node default says so too
    solo = server(API_KEY="pg-admin", DATABASE_URL=None)
    if "DATABASE_URL" not in solo.env:
        hs = solo.get("/admin/health-status", key="pg-admin").json()
        assert hs["node"]["database"] == "sqlite" and hs["nodes"] == [], hs
