"""test_retry.py — retries and final failure over a hopeless line with the loopback
engine: attempts count up to FAX_MAX_ATTEMPTS with backoff, then FAILED, never stuck."""

import time

import pytest

from helpers import TERMINAL, assert_job_shape, create_job, get_job, slow_factor

HOPELESS = {
    "audio_noise": {"LOOPBACK_TRANSPORT": "audio", "LOOPBACK_IMPAIRMENT": "-5"},
    "t38_loss": {"LOOPBACK_TRANSPORT": "t38", "LOOPBACK_IMPAIRMENT": "100"},
}


@pytest.mark.parametrize("line", list(HOPELESS))
def test_hopeless_line_retries_then_fails(server, line):
    srv = server(FAX_MAX_ATTEMPTS="2", FAX_RETRY_BASE_SECONDS="1", **HOPELESS[line])
    job = create_job(srv, content=b"this fax will not get through\n", filename="x.txt")
    assert job["max_attempts"] == 2
    deadline = time.monotonic() + 90 * slow_factor()
    history = []
    retry_seen = None
    while time.monotonic() < deadline:
        cur = get_job(srv, job["id"])
        key = (cur["status"], cur["attempts"], cur["failure_reason"])
        if not history or history[-1] != key:
            history.append(key)
        if cur["status"] == "queued" and cur["attempts"] >= 1:
            retry_seen = cur
        if cur["status"] in TERMINAL:
            break
        time.sleep(0.2)
    assert cur["status"] == "FAILED", f"{line}: not FAILED in time; history {history}; last {cur}"
    assert_job_shape(cur)
    assert cur["attempts"] == 2, f"{line}: attempts {cur['attempts']}; history {history}"
    assert cur["failure_reason"] not in (None, "conversion_error"), cur
    assert isinstance(cur["error"], str) and cur["error"], cur
    assert cur["next_attempt_at"] is None, f"a FAILED job has no next attempt: {cur}"
    if retry_seen is not None:  # caught between the attempts: the retry is visible
        assert retry_seen["failure_reason"] not in (None, "conversion_error"), retry_seen
        assert retry_seen["next_attempt_at"] is not None, retry_seen
    statuses = [h[0] for h in history]
    assert "SUCCESS" not in statuses
    # and it stays FAILED
    time.sleep(1.5)
    assert get_job(srv, job["id"])["status"] == "FAILED"
