"""test_cli.py — the faxbot command line: send/status/keys against a running server,
the local `convert`, and its behaviour when the server is down."""

import re
import subprocess

import pytest

import documents as docs
from conftest import free_port
from helpers import get_job, run_cli, wait_job

BOOT = "cli-bootstrap-key-0a1b2c3d4e5f"


@pytest.fixture
def cli(server, cli_env):
    srv = server(API_KEY=BOOT)
    env = dict(cli_env)
    env["FAXBOT_URL"] = srv.url
    env["FAXBOT_API_KEY"] = BOOT
    return srv, env


def _tiff_pages(path):
    p = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    widths = re.findall(r"Image Width: (\d+)", p.stdout)
    yres = re.findall(r"Resolution: [\d.]+, ([\d.]+)", p.stdout)
    return widths, yres, p.stdout


def test_help(cli_env):
    code, out, err = run_cli(["--help"], cli_env)
    assert code == 0, err
    text = out + err
    for cmd in ("serve", "send", "status", "keys", "convert"):
        assert cmd in text, f"--help does not list {cmd}: {text}"


def test_unknown_command(cli_env):
    code, out, err = run_cli(["frobnicate"], cli_env)
    assert code != 0
    assert err.strip(), "an unknown command should say so on stderr"


def test_send_and_status(cli, tmp_path):
    srv, env = cli
    doc = tmp_path / "letter.pdf"
    doc.write_bytes(docs.pdf_text(2))
    code, out, err = run_cli(["send", "--to", "(555) 123-4567", str(doc)], env)
    assert code == 0, f"exit {code}; stderr: {err}"
    first = out.splitlines()[0]
    m = re.fullmatch(r"job ([0-9a-f]{32}) queued", first)
    assert m, f"first line should be 'job <id> queued': {first!r}"
    job_id = m.group(1)
    job = get_job(srv, job_id, key=BOOT)
    assert job["to"] == "+15551234567" and job["file_name"] == "letter.pdf"
    wait_job(srv, job_id, key=BOOT)
    code, out, err = run_cli(["status", job_id], env)
    assert code == 0, err
    fields = dict(re.findall(r"^([a-z_]+): ?(.*)$", out, re.M))
    assert fields.get("id") == job_id, out
    assert fields.get("status") == "SUCCESS", out
    assert fields.get("to") == "+15551234567", out
    assert fields.get("pages") == "2", out


def test_send_options_and_wait(cli, tmp_path):
    srv, env = cli
    doc = tmp_path / "note.txt"
    doc.write_bytes(docs.utf8_text())
    code, out, err = run_cli(["send", "--to", "+15551234567", str(doc), "--header-text", "ACME",
                              "--resolution", "standard", "--wait"], env, timeout=90)
    assert code == 0, f"--wait on a good fax should exit 0: {out} {err}"
    job_id = re.match(r"job ([0-9a-f]{32}) queued", out.splitlines()[0]).group(1)
    job = get_job(srv, job_id, key=BOOT)
    assert job["status"] == "SUCCESS" and job["resolution"] == "standard"


def test_send_api_error(cli, tmp_path):
    _, env = cli
    doc = tmp_path / "x.txt"
    doc.write_bytes(b"hello\n")
    code, out, err = run_cli(["send", "--to", "not-a-number", str(doc)], env)
    assert code == 1
    assert err.strip(), "the API's detail should be printed on stderr"
    bad = dict(env, FAXBOT_API_KEY="wrong")
    code, out, err = run_cli(["send", "--to", "+15551234567", str(doc)], bad)
    assert code == 1 and "API key" in err, err


def test_send_missing_file(cli, tmp_path):
    _, env = cli
    code, out, err = run_cli(["send", "--to", "+15551234567", str(tmp_path / "nope.pdf")], env)
    assert code != 0 and err.strip()


def test_status_unknown(cli):
    _, env = cli
    code, out, err = run_cli(["status", "0" * 32], env)
    assert code == 1
    assert "Job not found" in err, err


def test_keys_create_list_revoke(cli):
    srv, env = cli
    code, out, err = run_cli(["keys", "create", "--name", "cli-key", "--scopes",
                              "fax:send,fax:read", "--owner", "bob"], env)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, f"keys create must print only the token: {out!r}"
    token = lines[0].strip()
    assert token.startswith("fbk_live_"), token
    assert srv.get("/fax", key=token).status_code == 200
    key_id = [k for k in srv.get("/admin/api-keys", key=BOOT).json() if k["name"] == "cli-key"][0]["key_id"]
    code, out, err = run_cli(["keys", "list"], env)
    assert code == 0, err
    assert "cli-key" in out and key_id in out
    assert token not in out and token.split("_", 3)[-1] not in out
    code, out, err = run_cli(["keys", "revoke", key_id], env)
    assert code == 0, err
    assert srv.get("/fax", key=token).status_code == 401


def test_keys_create_bad_scope(cli):
    _, env = cli
    code, out, err = run_cli(["keys", "create", "--name", "n", "--scopes", "fax:fly"], env)
    assert code == 1 and err.strip() and not out.strip()


def test_convert_pdf(tmp_path, cli_env):
    src = tmp_path / "two.pdf"
    src.write_bytes(docs.pdf_text(2))
    out_tif = tmp_path / "out.tif"
    code, out, err = run_cli(["convert", str(src), str(out_tif)], cli_env)
    assert code == 0, err
    assert re.search(r"out\.tif: 2 pages, 1728 px, fine", out), out
    widths, yres, info = _tiff_pages(out_tif)
    assert widths == ["1728", "1728"], info
    assert all(abs(float(y) - 196) < 1 for y in yres), info
    std = tmp_path / "std.tif"
    code, out, err = run_cli(["convert", str(src), str(std), "--standard"], cli_env)
    assert code == 0, err
    assert "standard" in out, out
    widths, yres, info = _tiff_pages(std)
    assert widths == ["1728", "1728"] and all(abs(float(y) - 98) < 1 for y in yres), info


def test_convert_text_and_image(tmp_path, cli_env):
    for name, data in (("t.txt", docs.utf8_text()), ("p.png", docs.png_image()),
                       ("j.jpg", docs.jpeg_image())):
        src = tmp_path / name
        src.write_bytes(data)
        dst = tmp_path / (name + ".tif")
        code, out, err = run_cli(["convert", str(src), str(dst)], cli_env)
        assert code == 0, f"{name}: {err}"
        widths, _, info = _tiff_pages(dst)
        assert widths == ["1728"], f"{name}: {info}"


def test_convert_corrupt(tmp_path, cli_env):
    src = tmp_path / "bad.pdf"
    src.write_bytes(docs.corrupt_pdf())
    code, out, err = run_cli(["convert", str(src), str(tmp_path / "bad.tif")], cli_env)
    assert code == 1
    assert err.strip(), "a corrupt document needs a message on stderr"
    src = tmp_path / "bin.dat"
    src.write_bytes(docs.random_binary())
    code, out, err = run_cli(["convert", str(src), str(tmp_path / "bin.tif")], cli_env)
    assert code == 1 and err.strip()
    code, out, err = run_cli(["convert", str(tmp_path / "missing.pdf"), str(tmp_path / "m.tif")],
                             cli_env)
    assert code == 1 and err.strip()


def test_server_down(cli_env):
    port = free_port()
    env = dict(cli_env, FAXBOT_URL=f"http://127.0.0.1:{port}", FAXBOT_API_KEY="k")
    code, out, err = run_cli(["status", "0" * 32], env, timeout=30)
    assert code == 1
    assert re.search(rf"127\.0\.0\.1:{port}|connect|reach|refused", err, re.I), \
        f"unclear message when the server is down: {err!r}"
    code, out, err = run_cli(["keys", "list"], env, timeout=30)
    assert code == 1 and err.strip()
