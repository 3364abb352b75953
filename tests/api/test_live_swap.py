"""test_live_swap.py — changing the backend's credentials while 50 jobs move through
it swaps the backend live: attempts already handed to the old instance stay with it
(its webhook routes keep answering, its results are applied), queued jobs go to the
new one, every job ends exactly once, and no provider stand-in sees a fax twice.
Two Phaxio stand-ins play the old and the new account (different API keys and
webhook tokens, so a callback of the old account is refused by the new instance and
must be handled by the old one)."""

import collections
import json
import os
import sys
import tempfile
import time

import pytest

import documents as docs

from conftest import Server, _stop_all
from helpers import TERMINAL, create_job, get_job, slow_factor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from phaxio_peer import PhaxioPeer  # noqa: E402

ADMIN = "swap-admin-key-5d1e9a"
N_JOBS = 50


@pytest.fixture
def peers():
    a = PhaxioPeer(api_key="old-account-key", api_secret="old-account-secret", callback_token="old-hook-token")
    b = PhaxioPeer(api_key="new-account-key", api_secret="new-account-secret", callback_token="new-hook-token")
    yield a, b
    a.close()
    b.close()


def faxes_by_job(peer):
    """job id -> how many faxes the stand-in created for it."""
    with peer.lock:
        tags = [f["tags"].get("faxbot_job") for f in peer.faxes.values()]
    return collections.Counter(tags)


def test_backend_swap_under_load_ends_every_job_exactly_once(tmp_path, peers):
    old, new = peers
    # The old account: the first 6 faxes are accepted and held (results come later),
    # the next 2 submissions stall inside the HTTP call; the rest would succeed.
    old.script(*([{"outcome": "hold"}] * 6 + [{"stall": True}] * 2))
    started = []
    try:
        srv = Server(tempfile.mkdtemp(prefix="swap-", dir=str(tmp_path)),
                     {"API_KEY": ADMIN, "FAX_WORKERS": "2", "FAX_MAX_ATTEMPTS": "1"})
        started.append(srv)
        # the backend's settings live in the settings file (the environment would pin them)
        os.makedirs(os.path.join(srv.data_dir, "config"))
        with open(os.path.join(srv.data_dir, "config", "faxbot.config.json"), "w") as f:
            json.dump({"version": 1, "settings": {
                "FAX_BACKEND": "phaxio", "PHAXIO_API_URL": old.url, "PHAXIO_API_KEY": old.api_key,
                "PHAXIO_API_SECRET": old.api_secret, "PHAXIO_CALLBACK_TOKEN": old.callback_token}}, f)
        srv.env["PUBLIC_API_URL"] = srv.url
        srv.start()
        if srv.url != srv.env["PUBLIC_API_URL"]:
            srv.restart(PUBLIC_API_URL=srv.url)
        pdf = docs.pdf_text(1)
        ids = [create_job(srv, key=ADMIN, content=pdf, filename=f"j{i}.pdf")["id"] for i in range(N_JOBS)]
        old.wait_for(lambda: len(old.sends) >= 8 and old.stalled.is_set(), timeout=60 * slow_factor(),
                     what="6 held faxes and 2 stalled submissions at the old account")

        r = srv.request("PUT", "/admin/settings", key=ADMIN,
                        json={"phaxio_api_url": new.url, "phaxio_api_key": new.api_key,
                              "phaxio_api_secret": new.api_secret, "phaxio_callback_token": new.callback_token})
        assert r.status_code == 200, r.text
        meta = r.json()["_meta"]
        assert meta["backend_swapped"] is True and meta["restart_required"] == [], meta
        ready = srv.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["backend"] == "phaxio", ready.text
        inst = srv.get("/admin/config", key=ADMIN).json()["backend_instances"]
        assert [i["state"] for i in inst] == ["active", "draining"], inst
        assert inst[1]["in_flight"] >= 8, f"the old instance holds the held and stalled attempts: {inst}"

        # the old account finishes what it has: stalled submissions return, held faxes complete
        old.unstall()
        old.wait_for(lambda: len(old._holds) >= 6, timeout=30 * slow_factor(), what="held faxes")
        for fax_id in list(old._holds):
            old.release(fax_id)

        deadline = time.monotonic() + 120 * slow_factor()
        final = {}
        while time.monotonic() < deadline and len(final) < N_JOBS:
            for jid in ids:
                if jid not in final:
                    j = get_job(srv, jid, key=ADMIN)
                    if j["status"] in TERMINAL:
                        final[jid] = j
            time.sleep(0.3)
        assert len(final) == N_JOBS, f"{N_JOBS - len(final)} jobs did not end; stderr:\n{srv.stderr_text()[-3000:]}"
        statuses = collections.Counter(j["status"] for j in final.values())
        assert statuses == {"SUCCESS": N_JOBS}, statuses

        a, b = faxes_by_job(old), faxes_by_job(new)
        assert max(a.values()) == 1 and max(b.values()) == 1, "a stand-in saw a fax twice"
        assert not set(a) & set(b), f"jobs sent through both accounts: {set(a) & set(b)}"
        assert set(a) | set(b) == set(ids)
        assert len(a) == 8, f"exactly the attempts in flight at the swap stayed with the old account: {len(a)}"
        for jid in ids:
            assert final[jid]["backend"] == "phaxio"
            expected = "old" if jid in a else "new"
            hist = srv.get(f"/admin/fax-jobs/{jid}", key=ADMIN).json()["attempt_history"]
            assert len(hist) == 1 and hist[0]["outcome"] == "SUCCESS", (expected, hist)
        # every callback of the old account was accepted (by the old instance)
        refused = [c for c in old.callbacks if c["status"] != 200]
        assert not refused, refused[:3]
        # the old instance goes away once its last attempt ended
        deadline = time.monotonic() + 10 * slow_factor()
        while time.monotonic() < deadline:
            inst = srv.get("/admin/config", key=ADMIN).json()["backend_instances"]
            if len(inst) == 1:
                break
            time.sleep(0.2)
        assert inst == [{"name": "phaxio", "state": "active", "in_flight": 0}], inst
    finally:
        _stop_all(started)


def test_switching_to_another_backend_is_live_and_ready_at_once(tmp_path, peers):
    old, _ = peers
    started = []
    try:
        srv = Server(tempfile.mkdtemp(prefix="swap2-", dir=str(tmp_path)), {"API_KEY": ADMIN})
        started.append(srv)
        srv.start()
        assert srv.get("/health/ready").json()["backend"] == "loopback"
        r = srv.request("PUT", "/admin/settings", key=ADMIN,
                        json={"backend": "phaxio", "phaxio_api_url": old.url, "phaxio_api_key": old.api_key,
                              "phaxio_api_secret": old.api_secret, "phaxio_callback_token": old.callback_token,
                              "public_api_url": srv.url})
        assert r.status_code == 200, r.text
        assert r.json()["_meta"]["backend_changed"] is True and r.json()["backend"]["type"] == "phaxio"
        assert srv.get("/health/ready").json()["backend"] == "phaxio"
        # the new backend's webhook route answers now; loopback had none
        assert srv.post("/phaxio-callback?job_id=" + "0" * 32, data=b"x").status_code in (400, 401, 403)
        job = create_job(srv, key=ADMIN, content=docs.pdf_text(1), filename="one.pdf")
        assert job["backend"] == "phaxio"
        old.wait_for(lambda: len(old.faxes) == 1, timeout=60 * slow_factor(), what="the fax at the new backend")
        # a backend that refuses its settings changes nothing
        r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"backend": "sip", "ami_password": ""})
        assert r.status_code == 400 and "ASTERISK_AMI_PASSWORD" in r.json()["detail"], r.text
        assert srv.get("/health/ready").json()["backend"] == "phaxio"
        assert srv.get("/admin/settings", key=ADMIN).json()["backend"]["type"] == "phaxio"
    finally:
        _stop_all(started)
