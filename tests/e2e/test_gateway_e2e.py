"""End to end: real folders, the sandbox over loopback, the gateway as a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    SAMPLE_CASES,
    archived,
    drop_attachments,
    drop_renamed,
    drop_slowly,
    gateway_cmd,
    held_cases,
    journal_rows,
    make_batch,
    mapping_workers,
    receipt,
    run_gateway,
    running,
    wait_for,
)
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.folders.outbox.receipts import REFERENCE_UNKNOWN


def _config(tmp_path: Path, sandbox: Any, credentials: Any, **extra: Any) -> Path:
    return write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.4,
        observer="native",
        extra=extra,
    )


def _health_url(log: Path) -> str | None:
    for line in log.read_text().splitlines():
        if line.startswith("{") and "health endpoint listening" in line:
            return str(json.loads(line)["url"])
    return None


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Daemon:
    """`utlegg-gateway run` in a subprocess, logs to files (a full pipe must never block it)."""

    def __init__(self, config: Path, tag: str) -> None:
        self.log = config.parent / f"daemon-{tag}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                gateway_cmd("run", "--config", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=config.parent,
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no shutdown path runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and the exit code."""
        self.proc.terminate()
        return self.proc.wait(timeout=60)

    def assert_alive(self) -> bool:
        """True while running; fails the test with the log if it died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log.read_text()}")
        return True


def test_once_both_formats_renamed_drop(
    tmp_path: Path, strict_or_lenient_sandbox: Any, credentials: Any
) -> None:
    """`once` (subprocess): both formats → receipts with the sandbox's refs, archived; `status`.

    Run in both sandbox modes: in strict mode the second format's copy of a case gets a
    DUPLIKAT_INNSENDING without reference, which the gateway fills from its journal.
    """
    sandbox = strict_or_lenient_sandbox
    config = _config(tmp_path, sandbox, credentials)
    for fmt in FORMATS:
        drop_attachments(fmt, tmp_path / "inbox" / fmt)
        drop_renamed(FORMATS[fmt], tmp_path / "inbox" / fmt)

    done = run_gateway(config, "once")

    assert done.returncode == 0, done.stderr
    held = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}
    assert sorted(held) == sorted(SAMPLE_CASES)
    for fmt, src in FORMATS.items():
        got = receipt(tmp_path / "outbox", src.name)
        assert {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in got["cases"]} == held
        assert src.name in archived(tmp_path)
        assert not (tmp_path / "inbox" / fmt / src.name).exists()
    # Non-terminal stderr: structured JSON lines.
    assert all(line.startswith("{") for line in done.stderr.strip().splitlines())
    # `status --json` shows the journal's view of what just happened.
    shown = run_gateway(config, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    assert summary["files"]["done"] == 2
    assert summary["cases"]["accepted"] + summary["cases"]["duplicate"] == 4
    assert summary["oldest_open_file_age_seconds"] is None


def test_daemon_slow_chunked_write_then_sigterm(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`run`: a slowly written file is claimed only when complete; health; SIGHUP; SIGTERM → 0."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    daemon = Daemon(config, "slow")
    try:
        journal = tmp_path / "state" / "journal.sqlite3"
        wait_for(journal.exists, what="daemon start")
        # A writer pausing between chunks (a slow share); the readiness window outlasts it.
        drop_slowly(FORMATS["csv-krav"], inbox, chunks=5, between=lambda: time.sleep(0.1))
        name = FORMATS["csv-krav"].name
        wait_for(
            lambda: (
                daemon.assert_alive() and (tmp_path / "outbox" / f"{name}.kvittering.json").exists()
            ),
            timeout=60,
            what="receipt",
        )
        # Health and metrics on the port the daemon logged (port 0: a free one).
        url = wait_for(lambda: _health_url(daemon.log), what="health endpoint")
        wait_for(
            lambda: 'utlegg_gateway_cases{state="accepted"} 2.0' in _get(url + "/metrics")[1],
            what="metrics refreshed",
        )
        status, body = _get(url + "/healthz")
        checks = json.loads(body)["checks"]
        assert status == 200, body
        assert {"inbox:csv-krav", "inbox:xml-sak", "journal", "token"} <= set(checks)
        # SIGHUP reloads the mappings without stopping.
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "mappings reloaded" in daemon.log.read_text(), what="reload")
        assert daemon.assert_alive()
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
    got = receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert held_cases(sandbox) == sorted(SAMPLE_CASES)
    files = journal_rows(tmp_path / "state" / "journal.sqlite3", "SELECT name, state FROM files")
    assert files == [(FORMATS["csv-krav"].name, "done")]
    assert "stopped" in daemon.log.read_text()


def test_once_exit_codes_for_a_broken_case_and_a_held_lock(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A broken case makes `once` exit 1; a second run while the lock is held exits 3."""
    from utlegg_gateway.gateway.runner import RunLock

    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    raw = (
        FORMATS["csv-krav"]
        .read_bytes()
        .replace(b"IB-2025-000311;01.10.2025", b"IB-2025-000311;31.02.2025")
    )
    (tmp_path / "broken.csv").write_bytes(raw)
    drop_renamed(tmp_path / "broken.csv", inbox, "utlegg_20251005_020000.csv")

    with RunLock(tmp_path / "state" / "gateway.lock"):
        locked = run_gateway(config, "once")
    assert locked.returncode == 3, locked.stderr
    assert "lock" in locked.stderr

    done = run_gateway(config, "once")

    assert done.returncode == 1, done.stderr
    got = {
        c["innsenderReferanse"]: c
        for c in receipt(tmp_path / "outbox", "utlegg_20251005_020000.csv")["cases"]
    }
    assert got["IB-2025-000127"]["status"] == "accepted"
    bad = next(c for ref, c in got.items() if ref != "IB-2025-000127")
    assert bad["status"] == "rejected"
    assert bad["errors"][0]["source"]["row"] == 5
    assert bad["errors"][0]["rule"] == "invalid-date"
    assert held_cases(sandbox) == ["IB-2025-000127"]


def test_sigkill_at_four_points_of_a_50_case_batch(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """SIGKILL at four points of a 50-case batch; after restarts every case is in exactly once.

    Points: during mapping while its first cases are submitted, between upload and submit,
    right after the sandbox accepted, and around the receipt. Afterwards: each case accepted
    exactly once at the sandbox, the receipt written once, the original archived, nothing
    lost.
    """
    config = _config(
        tmp_path,
        sandbox,
        credentials,
        runner={"max_cases_in_flight": 10, "case_retries": 3, "case_retry_delay_seconds": 0.2},
        elan={"timeout_seconds": 20},
    )
    journal = tmp_path / "state" / "journal.sqlite3"
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    name = "utlegg_20260101_020000.csv"
    refs = make_batch(50, inbox / name)

    def states() -> dict[str, int]:
        return dict(journal_rows(journal, "SELECT state, COUNT(*) FROM cases GROUP BY state"))

    def file_state() -> str | None:
        rows = journal_rows(journal, "SELECT state FROM files WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def crash(tag: str, condition: Any, what: str) -> None:
        daemon = Daemon(config, tag)
        try:
            wait_for(lambda: daemon.assert_alive() and condition(), timeout=60, what=what)
        finally:
            daemon.kill()

    # 1. During mapping, with submissions under way: cases start as they are recorded
    #    (runner.submit_while_mapping) and reading waits for a case slot, so with submits
    #    slowed the file stays `mapping` while its first cases are sent. The sandbox may
    #    hold some of them, but only cases the journal recorded before they were sent.
    sandbox.admin.set_faults({"submit": {"probability": 1.0, "actions": ["delay:0.2"]}})
    crash(
        "mapping",
        lambda: (
            file_state() == "mapping"
            and sum(n for s, n in states().items() if s in {"submitting", "accepted"}) > 0
        ),
        "mapping while submitting",
    )
    sandbox.admin.clear_faults()
    assert file_state() == "mapping"
    recorded = {r[0] for r in journal_rows(journal, "SELECT innsender_referanse FROM cases")}
    assert set(held_cases(sandbox)) <= recorded

    # 2. Between upload and submit: the attachment's state check hangs after the upload.
    sandbox.admin.set_faults({"attachment_status": {"probability": 1.0, "actions": ["delay:3"]}})
    uploaded_not_submitted = (
        "SELECT COUNT(*) FROM cases c WHERE c.state = 'uploading'"
        " AND EXISTS (SELECT 1 FROM attachments a WHERE a.case_id = c.id)"
    )
    crash("upload", lambda: journal_rows(journal, uploaded_not_submitted)[0][0] > 0, "upload")

    # 3. Right after the sandbox accepted: it stores the case, drops the connection, and the
    #    client's resubmit hangs; killed while the journal still says `submitting`.
    # Every call after the first hangs a while, so the window cannot be missed by the poll.
    sandbox.admin.set_faults({"submit": {"sequence": ["accept_then_drop"] + ["delay:4"] * 12}})
    accepted_at_sandbox = set(refs)

    def sandbox_ahead_of_journal() -> bool:
        held = {c["innsenderReferanse"] for c in sandbox.admin.cases()} & accepted_at_sandbox
        recorded = {
            r[0]
            for r in journal_rows(
                journal, "SELECT innsender_referanse FROM cases WHERE state = 'accepted'"
            )
        }
        return bool(held - recorded)

    crash("accepted", sandbox_ahead_of_journal, "sandbox ahead of journal")

    # 4. Around the receipt: every case has ended; the receipt is being (or about to be) written.
    sandbox.admin.clear_faults()
    crash(
        "receipt",
        lambda: (
            sum(
                n
                for s, n in states().items()
                if s in {"accepted", "rejected", "rejected_local", "failed", "duplicate"}
            )
            == 50
        ),
        "all cases ended",
    )

    done = run_gateway(config, "once")

    assert done.returncode == 0, done.stderr
    held = [
        c["innsenderReferanse"]
        for c in sandbox.admin.cases()
        if c["innsenderReferanse"] in set(refs)
    ]
    assert sorted(held) == refs  # each exactly once
    got = receipt(tmp_path / "outbox", name)
    assert sorted(c["innsenderReferanse"] for c in got["cases"]) == refs
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    by_ref = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}
    known = [c for c in got["cases"] if c["eksternSaksreferanse"] is not None]
    assert all(c["eksternSaksreferanse"] == by_ref[c["innsenderReferanse"]] for c in known)
    unknown = [c for c in got["cases"] if c["eksternSaksreferanse"] is None]
    # The kill right after the sandbox accepted loses the answer; in strict mode the
    # resubmission's DUPLIKAT_INNSENDING names no reference, and the receipt says so.
    if not sandbox.sandbox.options.strict:
        assert unknown == []
    assert all(c["note"] == REFERENCE_UNKNOWN for c in unknown)
    # No half-written file anywhere in the outbox. A daemon that lived long enough under
    # load polled status on its own (status/ is the follow-up's, not a leftover).
    outbox = tmp_path / "outbox"
    assert sorted(p.name for p in outbox.iterdir() if p.name != "status") == [
        f"{name}.kvittering.json"
    ]
    stray = [p for p in outbox.rglob("*") if p.is_file() and not p.name.endswith(".json")]
    assert stray == []
    assert name in archived(tmp_path)
    assert not any((tmp_path / "work").rglob("*.csv"))
    assert journal_rows(journal, "SELECT state FROM files") == [("done",)]


def test_sigkill_while_workers_map_a_held_file_loses_nothing(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """SIGKILL of the daemon while its worker processes map a file: the workers end with it,
    and the next run sends every case exactly once, the receipt in file order."""
    config = _config(
        tmp_path,
        sandbox,
        credentials,
        runner={"submit_while_mapping": False, "mapping_workers": 2},
    )
    journal = tmp_path / "state" / "journal.sqlite3"
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    name = "utlegg_20260101_020000.csv"
    refs = make_batch(300, inbox / name)

    daemon = Daemon(config, "workers")
    try:
        workers = wait_for(
            lambda: daemon.assert_alive() and len(mapping_workers(daemon.proc.pid)) == 2
            and mapping_workers(daemon.proc.pid),
            timeout=60,
            what="two mapping workers",
        )  # fmt: skip
    finally:
        daemon.kill()
    # Orphaned, a worker dies on its next write to the closed pipe.
    wait_for(lambda: not any(running(pid) for pid in workers), timeout=30, what="workers end")
    # Held: what reached ELAN before the kill (at most the cases of a just-finished read)
    # was recorded first.
    recorded = {r[0] for r in journal_rows(journal, "SELECT innsender_referanse FROM cases")}
    assert set(held_cases(sandbox)) <= recorded

    done = run_gateway(config, "once")

    assert done.returncode == 0, done.stderr
    assert held_cases(sandbox) == refs  # each exactly once
    got = receipt(tmp_path / "outbox", name)
    assert [c["innsenderReferanse"] for c in got["cases"]] == refs
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert journal_rows(journal, "SELECT state FROM files") == [("done",)]


def test_sigterm_lets_calls_in_flight_finish_and_records_them(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """SIGTERM while submits are in flight: they finish, are recorded, and the daemon exits 0."""
    config = _config(tmp_path, sandbox, credentials)
    journal = tmp_path / "state" / "journal.sqlite3"
    inbox = tmp_path / "inbox" / "xml-sak"
    drop_attachments("xml-sak", inbox)
    sandbox.admin.set_faults({"submit": {"probability": 1.0, "actions": ["delay:1.5"]}})
    daemon = Daemon(config, "term")
    try:
        wait_for(journal.exists, what="daemon start")
        drop_renamed(FORMATS["xml-sak"], inbox)
        wait_for(
            lambda: (
                daemon.assert_alive()
                and journal_rows(journal, "SELECT id FROM cases WHERE state = 'submitting'")
            ),
            timeout=60,
            what="a submit in flight",
        )
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
    states = dict(journal_rows(journal, "SELECT innsender_referanse, state FROM cases"))
    assert "submitting" not in states.values()
    held = set(held_cases(sandbox))
    assert {ref for ref, state in states.items() if state == "accepted"} == held
    assert held


def test_daemon_retries_a_failed_archive_move(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`run`: when archive/ cannot be written the file waits in work/ and is moved once it can."""
    config = _config(tmp_path, sandbox, credentials, runner={"move_retry_seconds": 0.3})
    inbox = tmp_path / "inbox" / "xml-sak"
    drop_attachments("xml-sak", inbox)
    blocker = tmp_path / "archive"
    blocker.write_text("not a folder")
    name = FORMATS["xml-sak"].name
    daemon = Daemon(config, "archive")
    try:
        drop_renamed(FORMATS["xml-sak"], inbox)
        wait_for(
            lambda: (
                daemon.assert_alive() and (tmp_path / "outbox" / f"{name}.kvittering.json").exists()
            ),
            timeout=60,
            what="receipt",
        )
        wait_for(lambda: "archiving failed" in daemon.log.read_text(), what="failed move")
        assert (tmp_path / "work" / "xml-sak" / name).exists()
        blocker.unlink()
        wait_for(lambda: daemon.assert_alive() and name in archived(tmp_path), what="archived")
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
    assert not (tmp_path / "work" / "xml-sak" / name).exists()
