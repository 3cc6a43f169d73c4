"""The run lifecycle's parts that need no sandbox: the run lock, health and metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from utlegg_gateway.gateway.runner import RunLock
from utlegg_gateway.health import HealthServer, HealthState

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_lock_writes_pid_and_is_removed_on_release(tmp_path: Path) -> None:
    """The lock file holds our pid while held and is gone after release."""
    path = tmp_path / "state" / "gateway.lock"
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()


def test_second_holder_in_another_process_gets_lock_held(tmp_path: Path) -> None:
    """A second run (another process) is refused with LockHeldError naming the holder."""
    path = tmp_path / "gateway.lock"
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from utlegg_gateway.gateway.runner import RunLock
        from utlegg_gateway.errors import LockHeldError
        try:
            RunLock(Path({str(path)!r})).acquire()
        except LockHeldError as exc:
            print("HELD", exc.exit_code, exc.message)
        else:
            print("GOT")
        """
    )
    with RunLock(path):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    # The refusal the second process got carries the lock's exit code (3) and our pid.
    assert out.stdout.startswith("HELD 3 ")
    assert str(os.getpid()) in out.stdout


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    """A lock file left by a process that died (no flock held) is taken over."""
    path = tmp_path / "gateway.lock"
    # A child takes the lock and is killed with SIGKILL: no cleanup runs.
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from pathlib import Path;"
            "from utlegg_gateway.gateway.runlock import RunLock;"
            f"RunLock(Path({str(path)!r})).acquire(); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        child.kill()
        child.wait()
    assert path.read_text().strip() == str(child.pid)
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())


def test_healthz_ok_then_failing_when_an_inbox_vanishes(tmp_path: Path) -> None:
    """/healthz answers 200 with per-check detail, and 503 once a check fails."""
    state = HealthState(clock=lambda: NOW)
    state.set_inbox(
        "a", last_successful_scan=NOW - timedelta(seconds=5), folder_present=True, error=None
    )
    state.set_check("journal", True)
    state.set_check("token", True)
    state.set_certificate_expiry(NOW + timedelta(days=200))
    server = HealthServer(state, port=0).start()
    try:
        status, body = _get(server.url + "/healthz")
        report = json.loads(body)
        assert status == 200
        assert report["status"] == "ok"
        assert report["checks"]["inbox:a"]["seconds_since_scan"] == 5
        assert report["checks"]["certificate"]["days_left"] == 200
        state.set_inbox("a", last_successful_scan=NOW, folder_present=False, error="folder missing")
        status, body = _get(server.url + "/healthz")
        assert status == 503
        assert json.loads(body)["checks"]["inbox:a"]["error"] == "folder missing"
    finally:
        server.stop()


def test_certificate_close_to_expiry_fails_health() -> None:
    """A certificate expiring within the warning window makes the report unhealthy."""
    state = HealthState(clock=lambda: NOW)
    state.set_certificate_expiry(NOW + timedelta(days=3))
    healthy, report = state.report()
    assert not healthy
    assert report["checks"]["certificate"]["ok"] is False


def test_metrics_expose_journal_counts_latency_and_oldest_age() -> None:
    """/metrics serves files/cases by state, submit latency and the oldest waiting age."""
    state = HealthState(clock=lambda: NOW)
    state.set_summary(
        {
            "files": {"done": 3, "processing": 1},
            "cases": {"accepted": 7, "failed": 1},
            "oldest_waiting_seconds": 42.0,
        }
    )
    state.metrics.submit_latency.observe(0.2)
    state.set_inbox(
        "a", last_successful_scan=NOW - timedelta(seconds=9), folder_present=True, error=None
    )
    server = HealthServer(state, port=0).start()
    try:
        status, body = _get(server.url + "/metrics")
    finally:
        server.stop()
    text = body.decode()
    assert status == 200
    assert 'utlegg_gateway_files{state="done"} 3.0' in text
    assert 'utlegg_gateway_cases{state="accepted"} 7.0' in text
    assert "utlegg_gateway_oldest_waiting_file_age_seconds 42.0" in text
    assert "utlegg_gateway_submit_latency_seconds_count 1.0" in text
    assert 'utlegg_gateway_seconds_since_last_scan{inbox="a"} 9.0' in text


def test_vendor_mode_labels_every_series_and_check_with_its_tenant() -> None:
    """With tenants, /metrics and /healthz say whose files, cases, inboxes and tokens they are."""
    state = HealthState(clock=lambda: NOW, tenants=True)
    state.set_summary({"files": {"done": 3}, "cases": {"accepted": 7}}, tenant="alfa")
    state.set_summary({"files": {"done": 1}, "cases": {"accepted": 2}}, tenant="beta")
    state.set_inbox(
        "a-csv",
        last_successful_scan=NOW - timedelta(seconds=4),
        folder_present=True,
        error=None,
        tenant="alfa",
    )
    state.set_check("token", True, tenant="alfa")
    state.set_check("token", False, error="MP-250", tenant="beta")
    state.metrics.case_finished("accepted", "beta")
    state.metrics.submitted(0.1, "alfa")
    server = HealthServer(state, port=0).start()
    try:
        _, metrics = _get(server.url + "/metrics")
        status, health = _get(server.url + "/healthz")
    finally:
        server.stop()
    text = metrics.decode()
    assert 'utlegg_gateway_files{state="done",tenant="alfa"} 3.0' in text
    assert 'utlegg_gateway_cases{state="accepted",tenant="beta"} 2.0' in text
    assert 'utlegg_gateway_seconds_since_last_scan{inbox="a-csv",tenant="alfa"} 4.0' in text
    assert 'utlegg_gateway_check_ok{check="token:beta",tenant="beta"} 0.0' in text
    assert 'utlegg_gateway_cases_finished_total{state="accepted",tenant="beta"} 1.0' in text
    assert 'utlegg_gateway_submit_latency_seconds_count{tenant="alfa"} 1.0' in text
    report = json.loads(health)
    assert status == 503  # beta's token cannot be had
    assert report["checks"]["token:beta"]["tenant"] == "beta"
    assert report["checks"]["token:alfa"]["ok"] is True
    assert report["checks"]["inbox:a-csv"]["tenant"] == "alfa"


def test_unknown_path_is_404() -> None:
    """Anything but /healthz and /metrics is 404."""
    server = HealthServer(HealthState(), port=0).start()
    try:
        status, _ = _get(server.url + "/nope")
    finally:
        server.stop()
    assert status == 404


def test_fill_attachment_uuids_sets_uuid_at_each_pointer() -> None:
    """UUIDs land on the Vedlegg objects named by JSON pointers; the input is not changed."""
    from utlegg_gateway.gateway.casework import fill_attachment_uuids

    payload: dict[str, Any] = {"a": [{"v": {"filnavn": "x.pdf"}}], "b~/c": {"filnavn": "y.pdf"}}
    out = fill_attachment_uuids(payload, {"/a/0/v": "U1", "/b~0~1c": "U2"})
    assert out == {
        "a": [{"v": {"filnavn": "x.pdf", "uuid": "U1"}}],
        "b~/c": {"filnavn": "y.pdf", "uuid": "U2"},
    }
    assert "uuid" not in payload["a"][0]["v"]
