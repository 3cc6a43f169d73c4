"""What an operator sees from `once` (issue 13, item 3).

On a terminal: the real CLI as a subprocess under a pseudo-terminal of 80x24, a real
sandbox over loopback, real folders and journal; the captured output is stripped of its
escape sequences and read as the operator would. Off a terminal: stdout as cron gets it.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments, drop_renamed, gateway_cmd
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.gateway.progress import (
    TerminalProgress,
    counts_text,
    print_summary,
    summarise,
    summary_line,
)

# Longer than fits on one line with its bar and counts at 80 columns.
LONG_NAME = "utlegg_20251001_020000_nattkjoering_fra_inkassosystemet_avdeling_vest.csv"
REJECTED_CASE = "IB-2025-000127"  # the sample's first case; its amount is broken below
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>78]")


def _one_good_one_rejected(src: Path) -> bytes:
    """The csv-krav sample with its first case's amount given three decimals (a local
    rejection); its other case stays as it is (accepted)."""
    raw = src.read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("cp1252"), newline=""), delimiter=";"))
    saksnr, amount = rows[0].index("SAKSNR"), rows[0].index("OPPR_BELOP")
    assert {r[saksnr] for r in rows[1:]} >= {REJECTED_CASE}, "the sample changed"
    for row in rows[1:]:
        if row[saksnr] == REJECTED_CASE and row[amount]:
            row[amount] = "100,125"
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp1252")


def _config(tmp_path: Path, sandbox: Any, credentials: Any, *, min_age: float = 0) -> Path:
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
    )
    if min_age:
        # A file must be `min_age` seconds old: `once` waits for it, and must say so.
        data = yaml.safe_load(config.read_text("utf-8"))
        data["inboxes"][0]["readiness"]["min_age_seconds"] = min_age
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return config


def _drop(tmp_path: Path, name: str = LONG_NAME) -> Path:
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    staged = tmp_path / name
    staged.write_bytes(_one_good_one_rejected(FORMATS["csv-krav"]))
    return drop_renamed(staged, inbox)


def _once_on_a_terminal(config: Path, *args: str) -> tuple[int, str]:
    """`once` with stdin, stdout and stderr on a pseudo-terminal of 80x24; (exit, text)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    proc = subprocess.Popen(
        gateway_cmd("once", "--config", str(config), *args),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=config.parent,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    code = proc.wait(timeout=90)
    return code, _ESCAPES.sub("", b"".join(chunks).decode("utf-8", "replace"))


def _lines(text: str) -> list[str]:
    # A live display rewrites its lines with \r and cursor moves (stripped above).
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text)]


def test_the_terminal_at_80_columns(tmp_path: Path, sandbox: Any, credentials: Any) -> None:
    config = _config(tmp_path, sandbox, credentials, min_age=2)
    dropped = _drop(tmp_path)
    # Its clock ahead (as a share's can be), the file is ready only ~4 s from now, so the
    # wait is seen however slowly the subprocess starts (under coverage it can take seconds).
    ahead = time.time() + 2
    os.utime(dropped, (ahead, ahead))
    code, text = _once_on_a_terminal(config)
    lines = _lines(text)
    assert code == 1, text  # a case was rejected
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    # The long name is never cut: whole on a line of its own (it does not fit with its bar).
    assert LONG_NAME in lines, text
    # What it waited for, while it waited: the log line and the live line (under the name).
    flat = " ".join(text.split())  # log lines wrap at word boundaries
    assert "INFO utlegg_gateway.gateway.runner: waiting for a file to be ready" in flat
    waited = [
        i
        for i, line in enumerate(lines)
        if re.fullmatch(r"  waiting to be 2 s old \(\d+ s\)", line)
    ]
    assert waited, text
    assert all(lines[i - 1] == LONG_NAME for i in waited), text
    # Log lines (through the same console, above the live lines): claim, local rejection.
    assert f"file claimed file={LONG_NAME} inbox=csv-krav" in flat, text
    assert f"case rejected by local prøving file={LONG_NAME} case={REJECTED_CASE}" in flat
    # The file's last line: the journal's counts, not "1/1 done"; every log line above it.
    final = [i for i, line in enumerate(lines) if line.endswith("of 2 · answered")]
    assert final, text
    assert lines[final[-1]] == "  ████████████  accepted 1 · rejected 1 · failed 0 of 2 · answered"
    logged = [i for i, line in enumerate(lines) if re.match(r"\d{4}-\d\d-\d\d .* INFO ", line)]
    assert logged and max(logged) < final[-1], text
    # The summary table, after everything else.
    start = next(i for i, line in enumerate(lines) if "utlegg-gateway once" in line)
    summary = "\n".join(lines[start:])
    assert re.search(r"files\s+│ 1: done 1", summary), summary
    assert re.search(r"cases\s+│ 2: accepted 1 · rejected 1 · failed 0", summary), summary
    assert re.search(r"receipts\s+│ 1 written", summary), summary
    assert "exit code │ 1: some case rejected or failed" in summary, summary
    assert "receipts and error reports are in:" in summary
    assert (tmp_path / "outbox" / f"{LONG_NAME}.kvittering.json").is_file()


def test_a_duplicate_file_says_of_what(tmp_path: Path, sandbox: Any, credentials: Any) -> None:
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)
    first, text = _once_on_a_terminal(config)
    assert first == 0, text
    drop_renamed(FORMATS["csv-krav"], inbox, "utlegg_20251002_020000.csv")  # the same bytes
    again, text = _once_on_a_terminal(config)
    lines = _lines(text)
    assert again == 0, text  # nothing was sent: the duplicate is answered from the original
    shown = "utlegg_20251002_020000.csv  duplicate of utlegg_20251001_020000.csv"
    assert shown in lines, text
    assert not any("0/?" in line or "of ?" in line for line in lines), text
    assert any(re.search(r"files\s+│ 1: duplicate 1", line) for line in lines), text


def test_off_a_terminal_stdout_is_json_lines(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    _drop(tmp_path)
    done = subprocess.run(
        gateway_cmd("once", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["file", "receipt", "summary"], events
    file, receipt, summary = events
    assert file["file"] == LONG_NAME
    assert file["state"] == "done"
    assert file["cases"] == {
        "accepted": 1,
        "rejected": 1,
        "failed": 0,
        "duplicate": 0,
        "open": 0,
    }
    assert Path(receipt["path"]).name == f"{LONG_NAME}.kvittering.json"
    assert Path(receipt["path"]).is_file()
    assert summary["files"] == {"done": 1}
    assert summary["cases"]["accepted"] == 1
    assert summary["cases"]["rejected"] == 1
    assert summary["receipts"] == 1
    assert summary["exit_code"] == 1
    assert Path(summary["outbox"]) == Path(receipt["path"]).parent
    # The logs stay JSON lines on stderr.
    assert all(json.loads(line) for line in done.stderr.splitlines() if line.strip())


def test_a_line_that_does_not_fit_puts_the_name_on_its_own() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    progress = TerminalProgress(console)
    progress.file_started("short.csv")
    progress.cases_found("short.csv", 4)
    progress.case_finished("short.csv", "accepted")
    progress.case_finished("short.csv", "rejected")
    progress.file_started(LONG_NAME)
    progress.cases_found(LONG_NAME, 2)
    console.print(progress)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("short.csv  ")
    assert lines[0].endswith("accepted 1 · rejected 1 · failed 0 of 4")
    assert lines[1] == LONG_NAME
    assert lines[2].endswith("accepted 0 · rejected 0 · failed 0 of 2")
    assert all(len(line) <= 80 for line in lines)


def test_counts_show_duplicates_and_open_cases_only_when_there_are_any() -> None:
    from collections import Counter

    assert counts_text(Counter(), None) == "accepted 0 · rejected 0 · failed 0 of ?"
    shown = counts_text(Counter(accepted=1, duplicate=2, open=1), 4)
    assert shown == "accepted 1 · rejected 0 · failed 0 · duplicate 2 · open 1 of 4"


def test_the_summary_prints_folders_on_their_own_lines_and_the_followup_round() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    outbox = Path("/srv/utlegg") / ("a-share-with-a-long-name-" * 2) / "outbox"
    summary = summarise(
        [],
        exit_code=2,
        outbox=outbox,
        failed=Path("/srv/failed"),
        followup={"status_changes": 3, "letters": 1, "errors": 0},
    )
    print_summary(console, summary)
    lines = out.getvalue().splitlines()
    assert f"  {outbox}" in lines
    assert not any("/srv/failed" in line for line in lines)  # no file failed: not shown
    flat = " ".join(re.sub("[│┌┐└┘─┬┴├┤┼]", " ", out.getvalue()).split())  # cells wrap
    assert "3 status change(s) · 1 letter(s) · 0 error(s)" in flat
    assert "2: cannot run (configuration, credentials, mapping, usage, no inbox)" in flat
    assert all(len(line) <= 80 for line in lines)
    assert json.loads(summary_line(summary))["followup"]["letters"] == 1


def test_a_file_unreadable_before_its_first_case_shows_only_how_it_ended() -> None:
    from datetime import UTC, datetime

    from utlegg_gateway.gateway.pipeline import FileOutcome
    from utlegg_gateway.journal.sqlite import FileRecord, FileState

    now = datetime(2025, 11, 3, tzinfo=UTC)
    record = FileRecord(
        1, "csv-krav", "broken.csv", "0" * 64, 10, None, FileState.FAILED, None, None, now, now
    )
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    progress = TerminalProgress(console)
    progress.file_started("broken.csv")
    progress.file_finished("broken.csv", FileOutcome(file=record))
    console.print(progress)
    assert out.getvalue().splitlines() == ["broken.csv  ████████████  unreadable, moved to failed/"]
