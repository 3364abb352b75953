"""test_input_rules.py — input rules without silent surprises (issue 18, point 6),
black box: a field sent twice is a 400 (not "the last one wins"), an Idempotency-Key
reused for a different fax is a 422 (not a 202 that drops the new fax), a file name
that is not UTF-8 still shows (cleaned), header_text is checked as characters of
UTF-8 text, a resolution with a NUL inside is refused, keys that could never work
are refused at creation, and numbers longer than E.164 allows are refused."""

import json

import pytest

import documents as docs
from helpers import PHONE, assert_detail, create_job, get_job, multipart_body, raw_post, send_fax

BOOT = "input-rules-bootstrap-key-1f4e9a"


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(API_KEY=BOOT)


def _multipart(parts):
    """A multipart body from (name, filename or None, bytes) parts, in order."""
    boundary = "----faxbot-input-rules-7d1c"
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disp += b'; filename="' + filename + b'"'
        out += b"Content-Disposition: " + disp + b"\r\n"
        if filename is not None:
            out += b"Content-Type: text/plain\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("field,first,second", [
    ("to", b"+15551230001", b"+15551230002"),
    ("header_text", b"first header", b"second header"),
    ("caller_id", b"+15551230003", b"+15551230004"),
    ("resolution", b"fine", b"standard"),
    ("callback_url", b"https://example.com/a", b"https://example.com/b"),
])
def test_a_field_sent_twice_is_400(srv, field, first, second):
    parts = [("to", None, PHONE.encode())] if field != "to" else []
    parts += [(field, None, first), (field, None, second), ("file", b"a.txt", b"hello\n")]
    body, ctype = _multipart(parts)
    status, text, _ = raw_post(srv.port, "/fax", body, ctype, key=BOOT)
    assert status == 400, f"a second '{field}' was accepted: {status} {text[-300:]!r}"
    assert f"exactly one '{field}'" in text, text[-300:]


def test_idempotency_key_reused_for_another_fax_is_422(srv):
    key = {"Idempotency-Key": "order-4711"}
    first = create_job(srv, key=BOOT, headers=key, content=b"invoice 4711\n", filename="a.txt")
    # the same request again: the same job (a retry after a lost answer)
    again = send_fax(srv, key=BOOT, headers=key, content=b"invoice 4711\n", filename="a.txt")
    assert again.status_code == 202 and again.json()["id"] == first["id"], again.text
    # another number with the same key: refused, and says so
    other_to = send_fax(srv, key=BOOT, headers=key, to="+15559876543", content=b"invoice 4711\n")
    detail = assert_detail(other_to, 422, "Idempotency-Key")
    assert first["id"] in detail, detail
    # another document with the same key
    other_doc = send_fax(srv, key=BOOT, headers=key, content=b"invoice 4712\n", filename="a.txt")
    assert_detail(other_doc, 422, "different fax")
    # another option with the same key
    other_opt = send_fax(srv, key=BOOT, headers=key, content=b"invoice 4711\n", fields={"resolution": "standard"})
    assert_detail(other_opt, 422, "different fax")
    listed = [j for j in srv.get("/fax?limit=500", key=BOOT).json()["items"] if j["to"] == "+15559876543"]
    assert listed == [], f"the refused fax became a job: {listed}"


def test_file_name_with_invalid_utf8_is_kept_cleaned(srv):
    body, ctype = _multipart([("to", None, PHONE.encode()), ("file", b"r\xe9sum\xe9 \xff.txt", b"hello\n")])
    status, text, _ = raw_post(srv.port, "/fax", body, ctype, key=BOOT)
    assert status == 202, text[-300:]
    job = json.loads(text.split("\r\n\r\n", 1)[1])
    assert job.get("file_name") == "r_sum_ _.txt", job
    assert get_job(srv, job["id"], key=BOOT)["file_name"] == "r_sum_ _.txt"
    # valid UTF-8 names are kept as they are
    ok = create_job(srv, key=BOOT, filename="résumé.txt")
    assert ok["file_name"] == "résumé.txt", ok


@pytest.mark.parametrize("value,ok", [
    ("Müller & Søn — Zürich".encode(), True),          # 21 characters, 26 bytes
    ("ä".encode() * 50, True),                           # 50 characters, 100 bytes
    ("ä".encode() * 51, False),                          # 51 characters
    (b"A" * 50, True),
    (b"A" * 51, False),
    (b"bell\x7f", False),                                # DEL
    (b"caf\xe9", False),                                 # Latin-1, not UTF-8
    (b"\xc2\x85next line", False),                       # C1 control (NEL)
    (b"tab\there", False),
])
def test_header_text_rules(srv, value, ok):
    body, ctype = _multipart([("to", None, PHONE.encode()), ("header_text", None, value),
                              ("file", b"h.txt", b"hello\n")])
    status, text, _ = raw_post(srv.port, "/fax", body, ctype, key=BOOT)
    if ok:
        assert status == 202, f"{value!r}: {status} {text[-300:]!r}"
    else:
        assert status == 400 and "header_text" in text, f"{value!r}: {status} {text[-300:]!r}"


def test_resolution_with_embedded_nul_is_400(srv):
    body, ctype = _multipart([("to", None, PHONE.encode()), ("resolution", None, b"fine\x00standard"),
                              ("file", b"r.txt", b"hello\n")])
    status, text, _ = raw_post(srv.port, "/fax", body, ctype, key=BOOT)
    assert status == 400 and "resolution" in text, f"{status} {text[-300:]!r}"


def test_keys_that_could_never_work_are_400(srv):
    past = srv.post("/admin/api-keys", key=BOOT, json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    assert_detail(past, 400, "in the past")
    empty = srv.post("/admin/api-keys", key=BOOT, json={"name": "none", "scopes": []})
    assert_detail(empty, 400, "at least one scope")
    commas = srv.post("/admin/api-keys", key=BOOT, json={"name": "none", "scopes": " , "})
    assert_detail(commas, 400, "scope")
    # leaving scopes out still gives the defaults
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "default"})
    assert r.status_code == 200 and sorted(r.json()["scopes"]) == ["fax:read", "fax:send"], r.text


@pytest.mark.parametrize("to,ok", [
    ("+123456789012345", True),          # 15 digits: E.164's longest
    ("+1234567890123456", False),        # 16
    ("001234567890123456", False),       # 16 after the 00 prefix
    ("+12345678901234567890", False),    # 20
])
def test_numbers_longer_than_e164_are_refused(srv, to, ok):
    r = send_fax(srv, key=BOOT, to=to)
    if ok:
        assert r.status_code == 202, r.text
        assert r.json()["to"] == "+123456789012345"
    else:
        assert_detail(r, 400, "15")


def test_pdf_upload_still_works_with_every_field_once(srv):
    """The rules refuse repeats, not fields: one of each is fine."""
    r = send_fax(srv, key=BOOT, content=docs.pdf_text(1), filename="one.pdf",
                 fields={"header_text": "Acme", "caller_id": "+15551230009", "resolution": "standard",
                         "callback_url": "https://example.com/cb"})
    assert r.status_code == 202, r.text
    assert r.json()["resolution"] == "standard"
