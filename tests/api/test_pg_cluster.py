"""test_pg_cluster.py — what several gateway nodes on one real PostgreSQL 15 share
besides jobs (tests/peers/pg.py): one node at a time is logged in to a PBX connection
(the AMI stand-in, tests/peers/ami_peer.py) and, when it is kill -9'd, another node
takes the connection and the call in flight over and finishes it without sending it
twice; one node at a time sweeps retention; a key revoked on one node is refused by
another within a second; /admin/health-status names the holders of the named leases.

Skips loudly when PostgreSQL 15 is not installed."""

import os
import sys
import time

import pytest

from helpers import create_job, get_job, slow_factor, wait_for, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402
from esl_peer import EslPeer  # noqa: E402

ADMIN = "cluster-admin-key-5d6e7f8a9b0c"
AMI_SECRET = "ami-Secret-cluster"
IN_SECRET = "inbound-secret-cluster-0123456789"


def _db_name(url):
    return url.split("///", 1)[1].split("?", 1)[0]


def _health(srv):
    r = srv.get("/admin/health-status", key=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def _lease(srv, name):
    for lease in _health(srv)["leases"]:
        if lease["name"] == name:
            return lease
    return None


@pytest.fixture
def ami():
    p = AmiPeer(secret=AMI_SECRET)
    yield p
    p.close()


def _sip_node(server, name, url, shared, spool, ami, **env):
    base = dict(DATABASE_URL=url, FAX_DATA_DIR=str(shared), STORAGE_BACKEND="local", FAXBOT_NODE_ID=name,
                API_KEY=ADMIN,
                FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=ami.port,
                ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD=AMI_SECRET,
                ASTERISK_INBOUND_SECRET=IN_SECRET, ASTERISK_SPOOL_DIR=str(spool), INBOUND_ENABLED="true",
                FAX_WORKERS="2", FAX_MAX_ATTEMPTS="3", FAX_LEASE_SECONDS="2")
    base.update(env)
    return server(**base)


def test_one_node_at_a_time_on_the_ami_and_a_kill9_is_taken_over(server, pg_cluster, ami, tmp_path):
    url = pg_cluster.create_database()
    shared, spool = tmp_path / "shared", tmp_path / "spool"
    shared.mkdir()
    spool.mkdir()
    ami.script("+15550020", kind="hold")        # the call stays up until we end it
    a = _sip_node(server, "node-a", url, shared, spool, ami)
    lease_name = f"pbx:ami:127.0.0.1:{ami.port}"
    b = _sip_node(server, "node-b", url, shared, spool, ami)
    # one node logged in; the other is standby (and still ready: it serves the API)
    wait_for(lambda: ami.connected() == 1, "one AMI login", 10)
    time.sleep(1.5)
    assert ami.connected() == 1
    assert _lease(b, lease_name)["node"] == "node-a", _health(b)["leases"]
    assert b.get("/health/ready").status_code == 200
    assert "standby: node node-a holds the AMI connection" in _health(b)["backend_state"]["message"]

    # a job posted on the standby node is sent by the holder
    job = create_job(b, to="+15550020", key=ADMIN)
    wait_for(lambda: len(ami.originates()) == 1, "the Originate", 20)
    call = wait_for(lambda: next(iter(ami.channels.values()), None), "the call to be up", 10)
    wait_for(lambda: get_job(b, job["id"], key=ADMIN)["status"] == "in_progress", "in_progress", 10)
    assert f"sip job {job['id']} attempt 1: originating" in a.stderr_text()
    assert "originating" not in b.stderr_text()

    # the holder dies mid-call: node-b takes the connection and the call over
    a.kill9()
    t0 = time.monotonic()
    wait_for(lambda: ami.connected() == 1 and "this node holds the AMI connection at" in b.stderr_text(),
             "node-b to log in", 30)
    took = time.monotonic() - t0
    wait_for(lambda: "CoreShowChannels" in ami.action_names(), "node-b to ask Asterisk about the call", 30)
    assert _lease(b, lease_name)["node"] == "node-b"
    assert _lease(b, lease_name)["this"] is True
    # the call is still up on the PBX: it is followed, not sent again
    time.sleep(1.0)
    assert len(ami.originates()) == 1, ami.action_names()
    ami.finish(call.uid, "success")
    final, _ = wait_job(b, job["id"], key=ADMIN, timeout=30)
    assert final["status"] == "SUCCESS", (final, b.stderr_text()[-3000:])
    assert final["attempts"] == 1, final
    assert len(ami.originates()) == 1
    db = _db_name(url)
    rows = pg_cluster.sql(f"SELECT outcome FROM job_attempts WHERE job_id = '{job['id']}' ORDER BY attempt", db=db)
    assert rows == [["SUCCESS"]], rows
    assert took < 20 * slow_factor(), took

    # node-a comes back: node-b keeps the connection, node-a is standby
    a.start()
    a.wait_ready()
    time.sleep(2.0)
    assert ami.connected() == 1
    assert _lease(a, lease_name)["node"] == "node-b"
    assert "standby: node node-b holds the AMI connection" in _health(a)["backend_state"]["message"]

    # a clean stop gives the connection up at once: node-a logs in without waiting 10 s
    t0 = time.monotonic()
    b.stop()
    wait_for(lambda: ami.connected() == 1 and _lease(a, lease_name)["node"] == "node-a", "node-a to log in", 10)
    assert time.monotonic() - t0 < 5 * slow_factor()


@pytest.fixture
def esl():
    p = EslPeer()
    yield p
    p.close()


def test_one_node_at_a_time_on_the_event_socket_and_a_kill9_is_taken_over(server, pg_cluster, esl, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    esl.default_plan = "hold"                   # the call stays up until we end it
    env = dict(DATABASE_URL=url, FAX_DATA_DIR=str(shared), STORAGE_BACKEND="local", API_KEY=ADMIN,
               FAX_BACKEND="freeswitch",
               FREESWITCH_ESL_HOST="127.0.0.1", FREESWITCH_ESL_PORT=str(esl.port),
               FREESWITCH_ESL_PASSWORD=esl.password, FREESWITCH_GATEWAY_NAME=esl.gateway, FAX_WORKERS="2",
               FAX_LEASE_SECONDS="2")
    a = server(FAXBOT_NODE_ID="node-a", **env)
    b = server(FAXBOT_NODE_ID="node-b", **env)
    lease_name = f"pbx:esl:127.0.0.1:{esl.port}"
    wait_for(lambda: esl.connected_sessions() == 1, "one event socket session", 10)
    time.sleep(1.5)
    assert esl.connected_sessions() == 1
    assert _lease(b, lease_name)["node"] == "node-a"
    assert "standby: node node-a holds the FreeSWITCH event socket" in _health(b)["backend_state"]["message"]

    job = create_job(b, to="+15550030", key=ADMIN)
    call = wait_for(lambda: esl.call_for_job(job["id"]), "the originate", 20)
    wait_for(lambda: get_job(b, job["id"], key=ADMIN)["provider_sid"] == call.uuid, "the job to be accepted", 10)
    assert "originate to" in a.stderr_text() and "originate to" not in b.stderr_text()

    a.kill9()
    wait_for(lambda: esl.connected_sessions() == 1 and "this node holds the FreeSWITCH event socket" in b.stderr_text(),
             "node-b on the event socket", 30)
    # node-b asks FreeSWITCH about the call it took over: still up, so it is followed, not sent again
    wait_for(lambda: call.uuid in esl.uuid_exists_asked, "node-b to ask about the call", 30)
    assert _lease(b, lease_name)["node"] == "node-b"
    assert len(esl.bgapis()) == 1
    esl.complete(call, success=True)
    final, _ = wait_job(b, job["id"], key=ADMIN, timeout=30)
    assert final["status"] == "SUCCESS", (final, b.stderr_text()[-3000:])
    assert final["attempts"] == 1, final
    assert len(esl.bgapis()) == 1


def test_retention_is_swept_by_one_node_at_a_time(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    env = dict(DATABASE_URL=url, FAX_DATA_DIR=str(shared), STORAGE_BACKEND="local", API_KEY=ADMIN,
               RETENTION_SWEEP_SECONDS="1")
    nodes = [server(FAXBOT_NODE_ID=f"node-{i}", **env) for i in range(3)]
    time.sleep(0.5)
    marks = [srv.stderr_text().count("retention: sweeping") for srv in nodes]
    t0 = time.monotonic()
    time.sleep(6.0)
    swept = [srv.stderr_text().count("retention: sweeping") - m for srv, m in zip(nodes, marks)]
    elapsed = time.monotonic() - t0
    # at most one sweep per interval over all nodes (+1 for a sweep straddling the edges)
    assert 1 <= sum(swept) <= elapsed + 1, swept
    holder = _lease(nodes[0], "retention")
    assert holder and holder["node"] in {f"node-{i}" for i in range(3)}, _health(nodes[0])["leases"]
    # every node names the same holder
    assert {_lease(srv, "retention")["node"] for srv in nodes} == {holder["node"]}
    # the holder dies: another node sweeps
    dead = next(srv for srv in nodes if srv.env["FAXBOT_NODE_ID"] == holder["node"])
    dead.kill9()
    rest = [srv for srv in nodes if srv is not dead]
    wait_for(lambda: (_lease(rest[0], "retention") or {}).get("node") != holder["node"], "another node to sweep", 10)
    assert _lease(rest[1], "retention")["node"] == _lease(rest[0], "retention")["node"]


def test_a_key_revoked_on_one_node_is_refused_by_another_within_a_second(server, pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    shared = tmp_path / "shared"
    shared.mkdir()
    env = dict(DATABASE_URL=url, FAX_DATA_DIR=str(shared), STORAGE_BACKEND="local", API_KEY=ADMIN)
    a = server(FAXBOT_NODE_ID="node-a", **env)
    b = server(FAXBOT_NODE_ID="node-b", **env)
    r = a.post("/admin/api-keys", key=ADMIN, json={"name": "clinic", "owner": "clinic", "scopes": ["fax:read"]})
    assert r.status_code == 200, r.text
    created = r.json()
    token, key_id = created["token"], created["key_id"]
    # the new key works on the other node at once
    assert b.get("/fax", key=token).status_code == 200
    r = a.delete(f"/admin/api-keys/{key_id}", key=ADMIN)
    assert r.status_code in (200, 204), r.text
    t0 = time.monotonic()
    while True:
        code = b.get("/fax", key=token).status_code
        if code == 401:
            break
        assert time.monotonic() - t0 < 1.0, f"node-b still answers {code} for a revoked key"
        time.sleep(0.02)
    assert time.monotonic() - t0 < 1.0
