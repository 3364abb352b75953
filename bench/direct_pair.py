#!/usr/bin/env python3
"""bench/direct_pair.py [--steps 4,16] [--kinds t38,g711] — FAX_BACKEND=direct end to end
(issue 20): two real gateway processes on 127.0.0.1, each the other's SIP trunk; for each
kind and step, N one-page faxes are submitted at once to the sender; counted: how many
succeed, how many arrive pixel-exact (`faxbot tiff-compare` below the header band), the
wall time, and the CPU both processes used per call-second (CPU / (N × line seconds)),
next to the same N faxes through FAX_BACKEND=loopback in the same run (its ratio = what
the SIP + sockets + real time cost over the in-memory engine). Needs `make build`;
FAXBOT_BIN overrides the binary. Writes bench/results/direct_pair.txt."""

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import documents as docs  # noqa: E402
from conftest import Server, free_port  # noqa: E402
from helpers import run_cli  # noqa: E402

KEY = "bench-direct-key-1"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def jobs_done(srv, ids, timeout):
    deadline = time.monotonic() + timeout
    final = {}
    while time.monotonic() < deadline and len(final) < len(ids):
        for jid in ids:
            if jid in final:
                continue
            j = get_ok(srv, f"/fax/{jid}").json()
            if j["status"] in ("SUCCESS", "FAILED", "cancelled"):
                final[jid] = j
        time.sleep(0.5)
    return final


def submit(srv, n, pdf):
    ids = []
    for i in range(n):
        r = srv.post("/fax", key=KEY, data={"to": f"+1555{i:07d}"}, files={"file": ("p.pdf", pdf, "application/pdf")})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def get_ok(srv, path):
    """GET that waits out the API's rate limit (429) instead of comparing an error body."""
    for _ in range(240):
        r = srv.get(path, key=KEY)
        if r.status_code != 429:
            return r
        time.sleep(1)
    return r


def exact_count(sender, receiver, final, work):
    inbound = get_ok(receiver, "/inbound?limit=500").json()
    exact = 0
    shown = False
    for k, item in enumerate(inbound):
        to = item.get("to")
        job = next((j for j in final.values() if j["to"] == to and j["status"] == "SUCCESS"), None)
        if not job:
            continue
        sp, rp = os.path.join(work, f"s{k}.tif"), os.path.join(work, f"r{k}.tif")
        with open(sp, "wb") as f:
            f.write(get_ok(sender, f"/fax/{job['id']}/tiff").content)
        with open(rp, "wb") as f:
            f.write(get_ok(receiver, f"/inbound/{item['id']}/tiff").content)
        code, out, err = run_cli(["tiff-compare", sp, rp], dict(os.environ))
        exact += code == 0
        if code != 0 and not shown:
            shown = True
            print(f"  not exact: job {job['id']} ({job.get('bit_rate')} bit/s, ecm {job.get('ecm')}) vs inbound "
                  f"{item['id']} ({item.get('pages')} pages): {(out + err).strip()[:300]}", flush=True)
    return exact


def run_direct(kind, n, pdf, base):
    work = tempfile.mkdtemp(prefix=f"{kind}-{n}-", dir=base)
    pa, pb = free_port(), free_port()
    common = {"FAX_BACKEND": "direct", "INBOUND_ENABLED": "true", "API_KEY": KEY, "DIRECT_SIP_BIND": "127.0.0.1",
              "DIRECT_REGISTER": "false", "DIRECT_MEDIA_PORT_START": "44000", "DIRECT_MEDIA_PORT_END": "47999",
              "DIRECT_MAX_CALLS": str(n + 2), "FAX_WORKERS": str(n), "FAX_MAX_ATTEMPTS": "1",
              "DIRECT_T38": "offer" if kind == "t38" else "off", "MAX_REQUESTS_PER_MINUTE": "0"}
    a = Server(os.path.join(work, "a"), dict(common, DIRECT_SIP_PORT=str(pa), SIP_SERVER=f"127.0.0.1:{pb}")).start()
    b = Server(os.path.join(work, "b"), dict(common, DIRECT_SIP_PORT=str(pb), SIP_SERVER=f"127.0.0.1:{pa}",
                                              DIRECT_T38="accept" if kind == "t38" else "off")).start()
    try:
        ids = submit(a, n, pdf)
        c0 = cpu_s(a.proc.pid) + cpu_s(b.proc.pid)
        t0 = time.monotonic()
        final = jobs_done(a, ids, 300)
        wall = time.monotonic() - t0
        cpu = cpu_s(a.proc.pid) + cpu_s(b.proc.pid) - c0
        ok = [j for j in final.values() if j["status"] == "SUCCESS"]
        line = sum(j.get("duration_s") or 0 for j in ok) or 1
        time.sleep(2)
        exact = exact_count(a, b, final, work)
        return len(ok), exact, wall, cpu, cpu / line
    finally:
        a.stop()
        b.stop()


def run_loopback(kind, n, pdf, base):
    work = tempfile.mkdtemp(prefix=f"lb-{kind}-{n}-", dir=base)
    s = Server(os.path.join(work, "l"), {"FAX_BACKEND": "loopback", "API_KEY": KEY, "FAX_WORKERS": str(n),
                                          "LOOPBACK_TRANSPORT": "t38" if kind == "t38" else "audio",
                                          "MAX_REQUESTS_PER_MINUTE": "0"}).start()
    try:
        ids = submit(s, n, pdf)
        c0 = cpu_s(s.proc.pid)
        final = jobs_done(s, ids, 300)
        cpu = cpu_s(s.proc.pid) - c0
        ok = [j for j in final.values() if j["status"] == "SUCCESS"]
        line = sum(j.get("duration_s") or 0 for j in ok) or 1
        return cpu / line
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="4,16")
    ap.add_argument("--kinds", default="t38,g711")
    a = ap.parse_args()
    pdf = docs.pdf_text(1)
    base = tempfile.mkdtemp(prefix="direct-bench-")
    rows = ["kind  faxes  succeeded  pixel-exact  wall_s  cpu_s(both)  cpu_per_call_s  loopback_cpu_per_call_s  ratio"]
    for kind in a.kinds.split(","):
        for n in (int(x) for x in a.steps.split(",")):
            ok, exact, wall, cpu, per = run_direct(kind, n, pdf, base)
            lb = run_loopback(kind, n, pdf, base)
            # both ends of every fax are in the direct figure (two processes): per call = / 2
            rows.append(f"{kind:5} {n:6} {ok:10} {exact:12} {wall:7.1f} {cpu:12.2f} {per / 2:15.5f} "
                        f"{lb:24.5f} {per / 2 / lb if lb else 0:6.1f}")
            print(rows[-1], flush=True)
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "direct_pair.txt"), "w") as f:
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
