"""test_migrate.py — `faxbot migrate --to postgresql://… [--storage s3]`: a real
single-node installation (SQLite + files, made by the server through its API: faxes
sent over the loopback backend and received back as inbound faxes, API keys made and
one revoked) is stopped and copied to a real PostgreSQL 15 (tests/peers/pg.py) and
the signature-verifying S3 stand-in (tests/peers/s3_peer.py). A gateway started on
PostgreSQL + S3 with an empty data directory then serves every job, attempt, key and
inbound fax as the old one did, byte for byte. Running migrate again copies nothing
and verifies; a damaged target row or object is reported by the verification; and it
refuses a running source, a newer target schema and a source already on PostgreSQL."""

import os
import re

import pytest

from conftest import shared_pg
from helpers import PHONE, create_job, fetch, run_cli, wait_job, wait_jobs
from s3_peer import S3Peer

BOOT = "migrate-admin-key-0123456789"
S3_KEY, S3_SECRET = "AKIDMIGRATETEST", "migrate/s3cret+key"


@pytest.fixture(scope="module")
def s3():
    peer = S3Peer(S3_KEY, S3_SECRET).start()
    yield peer
    peer.stop()


def s3_env(peer, prefix):
    return dict(S3_BUCKET="faxes", S3_PREFIX=prefix, S3_ENDPOINT_URL=peer.url,
                AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)


def snapshot(srv, jobs, keys):
    """Everything a client sees of the installation, through the REST API."""
    snap = {"jobs": {}, "admin": {}, "tiff": {}, "inbound": {}, "pdf": {}}
    for jid in jobs:
        snap["jobs"][jid] = fetch(srv, f"/fax/{jid}", key=BOOT).json()
        snap["admin"][jid] = fetch(srv, f"/admin/fax-jobs/{jid}", key=BOOT).json()
        snap["tiff"][jid] = fetch(srv, f"/fax/{jid}/tiff", key=BOOT, ctype="image/tiff").content
        iid = snap["jobs"][jid]["inbound_id"]
        snap["inbound"][iid] = fetch(srv, f"/inbound/{iid}", key=BOOT).json()
        snap["pdf"][iid] = fetch(srv, f"/inbound/{iid}/pdf", key=BOOT).content
    snap["list"] = fetch(srv, "/fax?limit=100", key=BOOT).json()["items"]
    snap["inbound_list"] = fetch(srv, "/inbound?limit=100", key=BOOT).json()
    snap["keys"] = {k["key_id"]: k for k in fetch(srv, "/admin/api-keys", key=BOOT).json()}
    assert set(keys) <= set(snap["keys"])
    return snap


@pytest.fixture(scope="module")
def installation(module_server):
    """A stopped single-node installation: (server, job ids, {name: key}, API snapshot)."""
    # SQLite and local files whatever FAXBOT_TEST_DB / FAXBOT_TEST_STORAGE say: what migrate moves
    srv = module_server(API_KEY=BOOT, DATABASE_URL=None, STORAGE_BACKEND="local", FAX_BACKEND="loopback")
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "sender", "owner": "clinic", "scopes": "fax:send,fax:read"})
    assert r.status_code == 200, r.text
    sender = r.json()
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "gone", "owner": "old", "scopes": "fax:read"})
    revoked = r.json()
    assert srv.delete(f"/admin/api-keys/{revoked['key_id']}", key=BOOT).status_code in (200, 204)
    jobs = [create_job(srv, key=BOOT, content=f"migrated fax {i}\n".encode() * (i + 1),
                       filename=f"m{i}.txt")["id"] for i in range(3)]
    jobs.append(create_job(srv, key=sender["token"], content=b"from the sender key\n", filename="s.txt")["id"])
    done = wait_jobs(srv, jobs, key=BOOT, timeout=120)
    assert all(j["status"] == "SUCCESS" and j["inbound_id"] for j in done.values()), \
        [(j["status"], j["error"], j["inbound_id"]) for j in done.values()]
    snap = snapshot(srv, jobs, [sender["key_id"], revoked["key_id"]])
    assert len(snap["inbound_list"]) == len(jobs)
    assert srv.stop() == 0
    with open(os.path.join(srv.data_dir, "key-pepper")) as f:
        pepper = f.read().strip()
    return {"srv": srv, "jobs": jobs, "sender": sender, "revoked": revoked, "snap": snap, "pepper": pepper}


def differences(a, b):
    """The fields of a that b has otherwise, per item (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: differences(a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return (a, b)


def migrate(inst, url, *extra, s3=None, prefix="mig/"):
    env = dict(inst["srv"].env)
    if s3 is not None:
        env.update(s3_env(s3, prefix))
    return run_cli(["migrate", "--to", url, *extra], env)


def counts(out, what):
    """{table: n} from the lines "  <table>  N rows: X copied, …" of the copy phase."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\w+) +\d+ rows: (\d+) " + what, out, re.M)}


def test_migrated_installation_serves_everything_from_postgresql_and_s3(installation, s3, server):
    inst, snap = installation, installation["snap"]
    url = shared_pg().create_database()
    rc, out, err = migrate(inst, url, "--storage", "s3", s3=s3)
    assert rc == 0, out + err
    copied = counts(out, "copied")
    n = len(inst["jobs"])
    assert copied["fax_jobs"] == n and copied["inbound_faxes"] == n and copied["job_attempts"] >= n, out
    assert copied["api_keys"] == 2 and copied["events"] > 0, out
    m = re.search(r"artifacts: (\d+) files, (\d+) bytes: (\d+) uploaded", out)
    assert m and int(m.group(1)) >= 5 * n and m.group(1) == m.group(3), out
    assert "verification OK" in out and "all present with the same size and SHA-256" in out, out
    for jid in inst["jobs"]:
        assert ("faxes", f"mig/outbound/{jid}/original") in s3.objects
        assert ("faxes", f"mig/outbound/{jid}/fax.tiff") in s3.objects
    assert all(v in ("ok", "NoSuchKey") for _, _, v in s3.requests), s3.requests

    # again: nothing new to copy, and the copy still verifies
    rc, out2, err2 = migrate(inst, url, "--storage", "s3", s3=s3)
    assert rc == 0, out2 + err2
    assert set(counts(out2, "copied").values()) == {0}, out2
    assert re.search(r": 0 uploaded \(0 bytes\), \d+ already in S3", out2), out2
    assert "verification OK" in out2

    # a gateway on PostgreSQL + S3 with an empty data directory of its own
    new = server(API_KEY=BOOT, DATABASE_URL=url, STORAGE_BACKEND="s3", FAXBOT_KEY_PEPPER=inst["pepper"],
                 FAX_BACKEND="loopback", **s3_env(s3, "mig/"))
    assert not os.path.exists(os.path.join(new.data_dir, "outbound", inst["jobs"][0]))
    again = snapshot(new, inst["jobs"], list(snap["keys"]))
    for part in ("jobs", "admin", "inbound", "list", "inbound_list", "keys"):
        if part == "inbound":      # each answer carries a fresh short-lived PDF link
            for v in list(again[part].values()) + list(snap[part].values()):
                v.pop("pdf_url", None), v.pop("pdf_url_expires_at", None)
        assert again[part] == snap[part], (part, differences(again[part], snap[part]))
    for jid in inst["jobs"]:
        assert again["tiff"][jid] == snap["tiff"][jid], jid      # byte-identical, fetched from S3
    for iid, pdf in snap["pdf"].items():
        assert again["pdf"][iid] == pdf and pdf.startswith(b"%PDF"), iid
    # the keys work as before: the sender's secret (same pepper), the revoked one not
    assert fetch(new, f"/fax/{inst['jobs'][3]}", key=inst["sender"]["token"]).json()["id"] == inst["jobs"][3]
    assert new.get("/fax", key=inst["revoked"]["token"]).status_code == 401
    # and new work goes on after the copied rows (keys and events numbered past them)
    r = new.post("/admin/api-keys", key=BOOT, json={"name": "after", "owner": "clinic", "scopes": "fax:read"})
    assert r.status_code == 200, r.text
    job = create_job(new, key=inst["sender"]["token"], content=b"sent after the migration\n")
    final, _ = wait_job(new, job["id"], key=BOOT, timeout=120)
    assert final["status"] == "SUCCESS", final
    assert ("faxes", f"mig/outbound/{job['id']}/original") in s3.objects


def test_verification_reports_a_damaged_row_and_object(installation, s3, pg_cluster):
    inst = installation
    url = pg_cluster.create_database()
    db = url.split("///")[1].split("?")[0]
    rc, out, err = migrate(inst, url, "--storage", "s3", s3=s3, prefix="dmg/")
    assert rc == 0, out + err
    jid, jid2 = inst["jobs"][0], inst["jobs"][1]
    pg_cluster.sql(f"UPDATE fax_jobs SET status = 'FAILED' WHERE id = '{jid}'", db=db)
    pg_cluster.sql(f"DELETE FROM job_attempts WHERE job_id = '{jid2}'", db=db)
    obj = s3.objects[("faxes", f"dmg/outbound/{jid}/fax.tiff")]
    good = obj["body"]
    obj["body"] = good[:-1] + bytes([good[-1] ^ 1])            # one bit, same size
    rc, out, err = migrate(inst, url, "--verify-only", "--storage", "s3", s3=s3, prefix="dmg/")
    assert rc == 1, out + err
    assert "copying rows" not in out
    assert re.search(rf"fax_jobs +id={jid}: status differs \(source 'SUCCESS', target 'FAILED'\)", out), out
    assert re.search(rf"job_attempts +job_id={jid2} attempt=1: missing in the target", out), out
    assert re.search(rf"artifact outbound/{jid}/fax.tiff: differs in S3", out), out
    assert "verification FAILED: 3 problem(s)" in out, out
    # a run copies what is missing (never overwrites): the damaged row stays reported
    rc, out, err = migrate(inst, url, "--storage", "s3", s3=s3, prefix="dmg/")
    assert rc == 1 and counts(out, "copied")["job_attempts"] >= 1, out
    assert "verification FAILED: 2 problem(s)" in out, out
    # removed from the target, the row and the object are copied afresh
    pg_cluster.sql(f"DELETE FROM fax_jobs WHERE id = '{jid}'", db=db)
    del s3.objects[("faxes", f"dmg/outbound/{jid}/fax.tiff")]
    rc, out, err = migrate(inst, url, "--storage", "s3", s3=s3, prefix="dmg/")
    assert rc == 0, out + err
    assert counts(out, "copied")["fax_jobs"] == 1 and ": 1 uploaded" in out, out
    assert s3.objects[("faxes", f"dmg/outbound/{jid}/fax.tiff")]["body"] == good


def test_artifacts_left_in_place_without_s3(installation, pg_cluster):
    url = pg_cluster.create_database()
    rc, out, err = migrate(installation, url)
    assert rc == 0, out + err
    assert re.search(r"artifacts: \d+ files, \d+ bytes, left in place under ", out), out
    assert "verification OK" in out and "every node needs that directory" in out, out


def test_refusals(installation, server, pg_cluster):
    inst = installation
    url = pg_cluster.create_database()
    # a gateway still running on the source database (FAX_DISABLED: its job stays as it is)
    running = server(API_KEY=BOOT, DATABASE_URL=None, STORAGE_BACKEND="local", FAX_DISABLED="true")
    rc, out, err = run_cli(["migrate", "--to", url], dict(running.env))
    assert rc == 2 and "another process has" in err and "--force" in err, out + err
    assert "copying rows" not in out
    # --force copies all the same (an idle gateway: nothing changes meanwhile)
    create_job(running, key=BOOT)
    forced = pg_cluster.create_database()
    rc, out, err = run_cli(["migrate", "--to", forced, "--force"], dict(running.env))
    assert rc == 0 and "warning: another process has" in out and "verification OK" in out, out + err
    # a target whose schema is newer than this faxbot
    newer = pg_cluster.create_database()
    ndb = newer.split("///")[1].split("?")[0]
    pg_cluster.sql("CREATE TABLE faxbot_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL,"
                   " applied_by TEXT NOT NULL DEFAULT ''); INSERT INTO faxbot_schema VALUES (999, 0, 'future')", db=ndb)
    rc, out, err = migrate(inst, newer)
    assert rc == 2 and "refusing: the target database" in err and "version 999" in err, out + err
    # a source that is already PostgreSQL; a target that is not
    env = dict(inst["srv"].env, DATABASE_URL=url)
    rc, out, err = run_cli(["migrate", "--to", newer], env)
    assert rc == 2 and "already on PostgreSQL" in err, out + err
    rc, out, err = migrate(inst, "sqlite:///tmp/other.db")
    assert rc == 2 and "--to must be a PostgreSQL URL" in err, out + err
    # nothing was written to the refused target
    assert pg_cluster.sql("SELECT count(*) FROM faxbot_schema", db=ndb) == [["1"]]
