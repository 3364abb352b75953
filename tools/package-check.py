#!/usr/bin/python3
"""package-check.py — the check `make test-package` runs against an installed
gateway (the .deb in a Debian root, the container, the compose service): wait for
/health, send a fax through the loopback backend, wait for SUCCESS, read the
received fax back (/inbound, its PDF), and with --expect-job make sure a job sent
earlier (before a restart or an upgrade) is still there.

    package-check.py URL API_KEY [--expect-job ID] [--no-send]
Prints the job id last, so a caller can check it again after a restart."""
import sys
import time
import urllib.parse

import requests


def wait_health(url, seconds=60):
    deadline = time.time() + seconds
    while True:
        try:
            r = requests.get(url + "/health", timeout=5)
            if r.status_code == 200:
                return r.json()
        except requests.RequestException:
            pass
        if time.time() > deadline:
            sys.exit(f"FAIL: {url}/health did not answer 200 within {seconds}s")
        time.sleep(0.5)


def read_pdf(url, h, inbound_id):
    """GET /inbound/{id} and the PDF behind its pdf_url; exits on anything but a PDF."""
    detail = requests.get(f"{url}/inbound/{inbound_id}", headers=h, timeout=10).json()
    # the link's path and token, on the address we reach the gateway by
    link = urllib.parse.urlsplit(detail["pdf_url"])
    pdf = requests.get(f"{url}{link.path}?{link.query}", timeout=30)
    if pdf.status_code != 200 or not pdf.content.startswith(b"%PDF"):
        sys.exit(f"FAIL: the PDF of received fax {inbound_id}: {pdf.status_code} {pdf.content[:80]!r}")
    return detail, pdf


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    url, key = args[0].rstrip("/"), args[1]
    h = {"X-API-Key": key}
    health = wait_health(url)
    print(f"health: {health}")
    if "--expect-job" in args:
        jid = args[args.index("--expect-job") + 1]
        r = requests.get(f"{url}/fax/{jid}", headers=h, timeout=10)
        if r.status_code != 200 or r.json().get("status") != "SUCCESS":
            sys.exit(f"FAIL: job {jid} sent before is not there as SUCCESS: {r.status_code} {r.text[:300]}")
        print(f"job {jid} still there: {r.json()['status']}")
        inbound = requests.get(f"{url}/inbound", headers=h, timeout=10).json()
        items = inbound.get("items", inbound) if isinstance(inbound, dict) else inbound
        if not items:
            sys.exit("FAIL: the received faxes are gone")
        for item in items:   # each one still opens
            read_pdf(url, h, item["id"])
        print(f"inbound faxes kept, each PDF readable: {len(items)}")
    if "--no-send" in args:
        return
    doc = ("Faxbot package check\n" + "This page went through the installed gateway.\n" * 20).encode()
    r = requests.post(f"{url}/fax", headers=h, files={"file": ("check.txt", doc, "text/plain")},
                      data={"to": "+15551234567"}, timeout=60)
    if r.status_code != 202:
        sys.exit(f"FAIL: POST /fax answered {r.status_code}: {r.text[:300]}")
    jid = r.json()["id"]
    print(f"sent job {jid}")
    deadline = time.time() + 180
    while True:
        job = requests.get(f"{url}/fax/{jid}", headers=h, timeout=10).json()
        if job["status"] in ("SUCCESS", "FAILED"):
            break
        if time.time() > deadline:
            sys.exit(f"FAIL: job {jid} still {job['status']} after 180 s")
        time.sleep(1)
    print(f"job {jid}: {job['status']} pages={job.get('pages')} bit_rate={job.get('bit_rate')}")
    if job["status"] != "SUCCESS":
        sys.exit(f"FAIL: job ended {job}")
    got = None
    for _ in range(60):
        inbound = requests.get(f"{url}/inbound", headers=h, timeout=10).json()
        items = inbound.get("items", inbound) if isinstance(inbound, dict) else inbound
        got = next((i for i in items if i.get("job_id") == jid or i.get("outbound_job_id") == jid), None) \
            or (items[0] if items else None)
        if got:
            break
        time.sleep(0.5)
    if not got:
        sys.exit("FAIL: no inbound fax arrived")
    detail, pdf = read_pdf(url, h, got["id"])
    print(f"received fax {got['id']}: pages={detail.get('pages')} pdf={len(pdf.content)} bytes")
    print(jid)


if __name__ == "__main__":
    main()
