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
    text = ("Faxbot package check\n" + "This page went through the installed gateway.\n" * 20).encode()
    send_and_receive(url, h, "check.pdf", pdf_document(), "application/pdf")
    print(send_and_receive(url, h, "check.txt", text, "text/plain"))   # last line: the TEXT job


def pdf_document():
    """A one-page PDF whose text is in Helvetica, not embedded: Ghostscript must find a
    substitute among its own fonts (URW base35), as it does for many real documents."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    lines = b"".join(b"BT /F1 18 Tf 72 %d Td (Faxbot package check, PDF line %d) Tj ET\n" % (720 - 30 * i, i)
                     for i in range(20))
    objs[3] = b"<< /Length %d >>\nstream\n%sendstream" % (len(lines), lines)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def inbound_items(url, h):
    inbound = requests.get(f"{url}/inbound", headers=h, timeout=10).json()
    return inbound.get("items", inbound) if isinstance(inbound, dict) else inbound


def send_and_receive(url, h, name, doc, ctype):
    """POST /fax through loopback, wait for SUCCESS, read the received fax back; the job id."""
    before = {i["id"] for i in inbound_items(url, h)}
    r = requests.post(f"{url}/fax", headers=h, files={"file": (name, doc, ctype)},
                      data={"to": "+15551234567"}, timeout=60)
    if r.status_code != 202:
        sys.exit(f"FAIL: POST /fax ({name}) answered {r.status_code}: {r.text[:300]}")
    jid = r.json()["id"]
    print(f"sent {name} as job {jid}")
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
        items = inbound_items(url, h)
        # loopback records the sending job (source_job_id); an older gateway may not
        got = next((i for i in items if i.get("source_job_id") == jid), None) \
            or next((i for i in items if "source_job_id" not in i and i["id"] not in before), None)
        if got:
            break
        time.sleep(0.5)
    if not got:
        sys.exit(f"FAIL: no inbound fax arrived for job {jid}")
    detail, pdf = read_pdf(url, h, got["id"])
    if not detail.get("pages"):
        sys.exit(f"FAIL: received fax {got['id']} has no pages: {detail}")
    print(f"received fax {got['id']}: pages={detail.get('pages')} pdf={len(pdf.content)} bytes")
    return jid


if __name__ == "__main__":
    main()
