"""test_owners.py — keys that share a gateway (issue 18, point 7), black box with
several keys: jobs and inbound faxes belong to an owner (the key's `owner`, else
the key itself); a key sees and acts on its owner's work only (another owner's
job or fax is "not found"), unless it has the explicit `fax:all` scope; the
bootstrap key sees everything; inbound faxes are routed to an owner by the number
they were sent to (INBOUND_OWNERS), and a loopback fax comes back to the owner
that sent it."""

import pytest

from helpers import assert_detail, create_job, wait_jobs

BOOT = "owners-bootstrap-key-5c2b7e1d"
ROUTED = "+15551230077"          # INBOUND_OWNERS routes faxes received on it to globex
SCOPES = ["fax:send", "fax:read", "inbound:list", "inbound:read"]


def _key(srv, name, owner=None, scopes=SCOPES):
    body = {"name": name, "scopes": scopes}
    if owner is not None:
        body["owner"] = owner
    r = srv.post("/admin/api-keys", key=BOOT, json=body)
    assert r.status_code == 200, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def world(module_server):
    srv = module_server(API_KEY=BOOT, INBOUND_OWNERS=f"{ROUTED}=globex", FAX_WORKERS="2")
    keys = {
        "acme": _key(srv, "acme-1", "acme"),
        "acme2": _key(srv, "acme-2", "acme"),
        "globex": _key(srv, "globex", "globex"),
        "auditor": _key(srv, "auditor", "audit", ["fax:read", "inbound:list", "inbound:read", "fax:all"]),
        "star": _key(srv, "star", None, ["*"]),
    }
    jobs = {
        "acme": create_job(srv, key=keys["acme"], content=b"acme's letter\n")["id"],
        "globex": create_job(srv, key=keys["globex"], content=b"globex's letter\n")["id"],
        # acme sends to the number routed to globex: the received copy is globex's
        "routed": create_job(srv, key=keys["acme"], to=ROUTED, content=b"for globex\n")["id"],
    }
    done = wait_jobs(srv, list(jobs.values()), key=BOOT, timeout=90)
    assert all(j["status"] == "SUCCESS" and j["inbound_id"] for j in done.values()), done
    inbound = {name: done[jid]["inbound_id"] for name, jid in jobs.items()}
    return srv, keys, jobs, inbound


def test_two_keys_do_not_see_or_cancel_each_others_jobs(server):
    """The plainest case, with nothing but two ordinary keys (before owners, any
    fax:read key listed every other key's jobs and any fax:send key cancelled them)."""
    srv = server(API_KEY=BOOT, FAX_WORKERS="1")
    a, b = _key(srv, "a", "team-a"), _key(srv, "b", "team-b")
    ja = [create_job(srv, key=a, content=b"a %d\n" % i)["id"] for i in range(3)]
    jb = create_job(srv, key=b, content=b"b\n")["id"]
    assert {j["id"] for j in srv.get("/fax", key=b).json()["items"]} == {jb}
    assert_detail(srv.get(f"/fax/{ja[0]}", key=b), 404)
    for jid in ja:
        assert_detail(srv.post(f"/fax/{jid}/cancel", key=b), 404)
    done = wait_jobs(srv, ja + [jb], key=BOOT, timeout=90)
    assert all(j["status"] == "SUCCESS" for j in done.values()), done


def _job_ids(srv, key):
    r = srv.get("/fax?limit=500", key=key)
    assert r.status_code == 200, r.text
    return {j["id"] for j in r.json()["items"]}


def _inbound_ids(srv, key):
    r = srv.get("/inbound?limit=500", key=key)
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()}


def test_a_key_lists_its_owners_jobs_only(world):
    srv, keys, jobs, _ = world
    assert _job_ids(srv, keys["acme"]) == {jobs["acme"], jobs["routed"]}
    assert _job_ids(srv, keys["acme2"]) == {jobs["acme"], jobs["routed"]}, "keys of one owner share its work"
    assert _job_ids(srv, keys["globex"]) == {jobs["globex"]}
    assert _job_ids(srv, keys["star"]) == set(), "'*' is every scope of one owner, not every owner"
    assert _job_ids(srv, keys["auditor"]) == set(jobs.values()), "fax:all sees every owner's jobs"
    assert _job_ids(srv, BOOT) == set(jobs.values()), "the bootstrap key sees everything"
    assert srv.get(f"/fax/{jobs['acme']}", key=keys["acme"]).json()["owner"] == "acme"


def test_another_owners_job_is_not_found(world):
    srv, keys, jobs, _ = world
    other = jobs["globex"]
    assert_detail(srv.get(f"/fax/{other}", key=keys["acme"]), 404)
    assert_detail(srv.get(f"/fax/{other}/tiff", key=keys["acme"]), 404)
    assert_detail(srv.post(f"/fax/{other}/cancel", key=keys["acme"]), 404)
    assert srv.get(f"/fax/{other}", key=keys["globex"]).status_code == 200
    assert srv.get(f"/fax/{other}", key=keys["auditor"]).status_code == 200
    assert srv.get(f"/fax/{other}/tiff", key=BOOT).status_code == 200


def test_cancel_only_own_queued_job(world):
    srv, keys, _, _ = world
    # FAX_WORKERS=2 and several jobs: at least one of these is still queued when cancelled
    mine = [create_job(srv, key=keys["globex"], content=b"later %d\n" % i)["id"] for i in range(4)]
    for jid in mine:
        assert_detail(srv.post(f"/fax/{jid}/cancel", key=keys["acme"]), 404)
    statuses = [srv.post(f"/fax/{jid}/cancel", key=keys["globex"]).status_code for jid in mine]
    assert all(s in (200, 409) for s in statuses), statuses
    wait_jobs(srv, mine, key=keys["globex"], timeout=90)


def test_inbound_faxes_belong_to_an_owner(world):
    srv, keys, _, inbound = world
    assert _inbound_ids(srv, keys["acme"]) == {inbound["acme"]}
    globex_sees = _inbound_ids(srv, keys["globex"])
    assert {inbound["globex"], inbound["routed"]} <= globex_sees, \
        "a fax received on a number INBOUND_OWNERS routes to globex is globex's"
    assert inbound["acme"] not in globex_sees
    assert _inbound_ids(srv, keys["auditor"]) >= set(inbound.values())
    assert _inbound_ids(srv, BOOT) >= set(inbound.values())
    theirs = inbound["routed"]
    for path in (f"/inbound/{theirs}", f"/inbound/{theirs}/pdf", f"/inbound/{theirs}/tiff"):
        assert_detail(srv.get(path, key=keys["acme"]), 404)
    got = srv.get(f"/inbound/{theirs}", key=keys["globex"])
    assert got.status_code == 200 and got.json()["owner"] == "globex", got.text
    # the short-lived link is the permission itself, whoever holds it
    url = got.json()["pdf_url"]
    assert srv.get(url[url.index("/inbound/"):]).status_code == 200


def test_fax_all_is_explicit_and_documented_in_errors(world):
    srv, _, _, _ = world
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "bad", "scopes": ["fax:everything"]})
    detail = assert_detail(r, 400)
    assert "fax:all" in detail, detail


def test_bad_inbound_owners_setting_stops_the_start(server):
    srv = server(expect_ready=False, INBOUND_OWNERS="5551230077=acme")
    assert srv.proc.wait(timeout=10) != 0
    assert "INBOUND_OWNERS" in srv.stderr_text()
