"""test_plugin_native.py — black-box tests of the native plugin kind with the example
plugin plugins/examples/native-echo (built next to the faxbot binary as native_echo.so):
installed into $FAX_DATA_DIR/plugins/faxbot-native-echo/ and selected with FAX_BACKEND, a
fax goes out end to end through the shared object (the PDF lands in its outbox and comes
back as a received fax through the sink); its final failure is recorded; a library built
for another ABI version (native_echo_abi99.so) is refused with a message naming both."""

import hashlib
import json
import os
import tempfile

import pytest

import conftest
from documents import pdf_pages
from helpers import create_job, fetch, run_cli, wait_job
from plugin_install import REPO_ROOT, install, setting

PID = "faxbot-native-echo"
KEY = "native-plugin-test-key-0a1b2c"
PDF = pdf_pages(["Native plugin page one", "Native plugin page two"])


def manifest():
    with open(os.path.join(REPO_ROOT, "plugins", "examples", "native-echo", "manifest.json")) as f:
        return json.load(f)


def library(name):
    path = os.path.join(os.path.dirname(conftest.faxbot_bin()), name)
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: `make build` builds the example native plugin next to faxbot", pytrace=False)
    return path


@pytest.fixture
def gateway(tmp_path):
    started = []

    def make(lib="native_echo.so", expect_ready=True, **env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        full = {"FAX_BACKEND": PID, "API_KEY": KEY, "INBOUND_ENABLED": "true"}
        full.update(env)
        srv = conftest.Server(workdir, full)
        install(srv.data_dir, manifest(), files=[(library(lib), "native_echo.so")])
        started.append(srv)
        return srv.start(expect_ready=expect_ready)

    yield make
    conftest._stop_all(started)


def test_fax_sent_end_to_end_through_the_shared_object(gateway, tmp_path):
    outbox = str(tmp_path / "outbox")
    os.makedirs(outbox)
    srv = gateway(**{setting(PID, "outbox_dir"): outbox, setting(PID, "echo_inbound"): "true"})
    job = create_job(srv, key=KEY, content=PDF, filename="two.pdf", content_type="application/pdf")
    done, _ = wait_job(srv, job["id"], key=KEY, timeout=30)
    assert done["status"] == "SUCCESS" and done["backend"] == PID, done
    assert done["pages"] == 2 and done["provider_sid"] == f"echo-{job['id']}-1"
    # the plugin delivered the job's normalized PDF into its outbox
    delivered = os.path.join(outbox, f"{job['id']}-1.pdf")
    with open(delivered, "rb") as f:
        data = f.read()
    assert data.startswith(b"%PDF")
    # and handed the same document back through the sink as a received fax
    inbound = srv.get("/inbound", key=KEY).json()
    assert len(inbound) == 1, inbound
    fax = fetch(srv, f"/inbound/{inbound[0]['id']}", key=KEY).json()
    url = fax["pdf_url"]
    received = fetch(srv, url[url.index("/inbound/"):], key=KEY).content
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(data).hexdigest()
    ready = srv.get("/health/ready").json()
    assert "native-echo" in json.dumps(ready), ready


def test_final_failure_reported_by_the_plugin(gateway):
    srv = gateway(**{setting(PID, "reject_prefix"): "+1555", "FAX_MAX_ATTEMPTS": "3"})
    job = create_job(srv, key=KEY, content=PDF, filename="two.pdf", content_type="application/pdf")
    done, _ = wait_job(srv, job["id"], key=KEY, timeout=30)
    assert done["status"] == "FAILED" and done["failure_reason"] == "invalid_number" and done["attempts"] == 1, done
    assert "reject_prefix" in done["error"]


def test_abi_mismatch_refused(gateway):
    srv = gateway(lib="native_echo_abi99.so", expect_ready=False)
    try:
        srv.proc.wait(timeout=20)
    except Exception:
        pass
    text = srv.stderr_text()
    assert "plugin ABI version 99" in text and "speaks version 1" in text, text[-2000:]


@pytest.mark.parametrize("native,message", [
    ({"library": "../evil.so", "abi_version": 1}, "native.library"),
    ({"library": "echo.dll", "abi_version": 1}, "native.library"),
    ({"library": "native_echo.so"}, "native.abi_version: required"),
    ({"library": "native_echo.so", "abi_version": 2}, "this gateway speaks plugin ABI version 1"),
    ({"library": "native_echo.so", "abi_version": 1, "entry": "main"}, "native.entry"),
])
def test_bad_native_sections_refused_naming_the_field(tmp_path, native, message):
    m = manifest()
    m["native"] = native
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(m))
    env = conftest.base_env()
    env["FAX_DATA_DIR"] = str(tmp_path / "data")
    rc, out, err = run_cli(["plugins", "validate", str(path)], env)
    assert rc != 0 and message in out + err, (out, err)


def test_installed_with_the_cli_and_listed_without_loading_code(tmp_path):
    """`faxbot plugins install DIR` copies the manifest and the library; listing it opens nothing."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_text(json.dumps(manifest()))
    # a library that is not an ELF object at all: loading it would fail loudly
    (src / "native_echo.so").write_bytes(b"not a shared object")
    env = conftest.base_env()
    env["FAX_DATA_DIR"] = str(tmp_path / "data")
    rc, out, err = run_cli(["plugins", "install", str(src)], env)
    assert rc == 0, (out, err)
    rc, out, err = run_cli(["plugins", "list"], env)
    assert rc == 0 and PID in out, (out, err)
    # only selecting it opens the library, and the failure says which file and why
    srv = conftest.Server(str(tmp_path / "gw"), {"FAX_BACKEND": PID, "FAX_DATA_DIR": env["FAX_DATA_DIR"]})
    srv.start(expect_ready=False)
    try:
        srv.proc.wait(timeout=20)
    except Exception:
        pass
    text = srv.stderr_text()
    srv.stop()
    assert "could not load" in text and "native_echo.so" in text, text[-2000:]
