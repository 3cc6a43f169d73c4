"""Every command does what its help says, exit code by exit code (issue 13, item 4).

Real subprocesses of the CLI, a real sandbox over loopback, real folders and journals.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    drop_attachments,
    drop_renamed,
    gateway_cmd,
    receipt,
    run_gateway,
)
from utlegg_gateway.demo import _broken_copy, write_gateway_config

COMMANDS = [
    "demo",
    "followup",
    "map",
    "once",
    "replay",
    "run",
    "sandbox",
    "schemas",
    "status",
    "submit",
    "token",
    "validate",
]


def _config(tmp_path: Path, sandbox: Any, credentials: Any, **extra: Any) -> Path:
    return write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        extra=extra,
    )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        gateway_cmd(*args), capture_output=True, text=True, timeout=90, cwd=cwd, check=False
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_states_its_exit_codes(command: str, tmp_path: Path) -> None:
    done = _cli(command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Exit codes: 0" in text or "Exit 0" in text, text
    assert " 2 " in text, text


@pytest.mark.parametrize("command", ["once", "run", "followup", "replay"])
def test_a_bad_log_level_is_a_usage_error(command: str, tmp_path: Path) -> None:
    args = [command, "NAME"] if command == "replay" else [command]
    done = _cli(*args, "--log-level", "LOUD", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "'LOUD' is not one of" in done.stderr
    assert not (tmp_path / "state").exists()


def test_status_never_creates_a_journal(tmp_path: Path, sandbox: Any, credentials: Any) -> None:
    config = _config(tmp_path, sandbox, credentials)
    for args in (["status"], ["status", "--json"]):
        done = run_gateway(config, *args)
        journal = tmp_path / "state" / "journal.sqlite3"
        assert done.returncode == 2, done.stderr
        assert f"no journal at {journal}" in done.stderr
        assert not (tmp_path / "state").exists()


def test_once_without_its_certificate_leaves_no_journal(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    missing = tmp_path / "nowhere" / "client.p12"
    config = _config(tmp_path, sandbox, credentials, maskinporten={"pkcs12_file": str(missing)})
    done = run_gateway(config, "once")
    assert done.returncode == 2, done.stderr
    assert "client.p12" in done.stderr
    assert not (tmp_path / "state" / "journal.sqlite3").exists()


def test_once_with_every_inbox_missing_exits_2(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    shutil.rmtree(tmp_path / "inbox")
    done = run_gateway(config, "once")
    assert done.returncode == 2, done.stderr
    assert "inbox folder missing; nothing could be read" in done.stderr
    assert sandbox.admin.submissions() == []


def test_once_exits_0_when_all_is_accepted_then_a_duplicate_has_its_own_times(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)
    first = run_gateway(config, "once", "--log-level", "debug")
    assert first.returncode == 0, first.stderr
    original = receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)
    cases = original["summary"]["cases"]
    assert cases == original["summary"]["accepted"] >= 2

    drop_renamed(FORMATS["csv-krav"], inbox, "utlegg_20251002_020000.csv")
    again = run_gateway(config, "once")
    assert again.returncode == 0, again.stderr
    dup = receipt(tmp_path / "outbox", "utlegg_20251002_020000.csv")
    assert dup["file"]["duplicateOf"] == FORMATS["csv-krav"].name
    assert dup["file"]["receivedAt"] > original["file"]["finishedAt"]
    assert dup["file"]["finishedAt"] >= dup["file"]["receivedAt"]
    assert dup["summary"]["duplicate"] == cases

    status = run_gateway(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["files"]["duplicate"] == 1
    assert summary["cases"]["accepted"] == cases
    assert summary["cases_in_duplicate_files"] == cases
    assert summary["cases"]["duplicate"] == cases
    # status opened the journal read-only: the rows are exactly those `once` wrote.
    with sqlite3.connect(tmp_path / "state" / "journal.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 2


def test_a_locally_rejected_case_keeps_its_begjaeringsdato(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    examples = sorted((MAPPINGS / "examples").iterdir())
    broken = _broken_copy(examples)
    assert broken is not None
    name, data = broken
    (tmp_path / name).write_bytes(data)
    drop_renamed(tmp_path / name, inbox)
    done = run_gateway(config, "once")
    assert done.returncode == 1, done.stderr
    [case] = receipt(tmp_path / "outbox", name)["cases"]
    assert case["status"] == "rejected"
    assert case["errors"][0]["origin"] == "local"
    assert case["begjaeringsdato"] == "2025-11-03"
    assert sandbox.admin.submissions() == []
