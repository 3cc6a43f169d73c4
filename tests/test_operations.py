"""Operator commands on a real journal: the status table an operator reads, replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from utlegg_gateway.config import Settings
from utlegg_gateway.errors import ErrorEntry, UsageError
from utlegg_gateway.journal.sqlite import FileState, Journal
from utlegg_gateway.operations import journal_status, render_status, replay_file


def _settings(root: Path) -> Settings:
    (root / "inbox").mkdir()
    data = {
        "environment": "test",
        "organisation": "312597772",
        "maskinporten": {"client_id": "c", "kid": "k", "private_key": {"file": "k.pem"}},
        "inboxes": [{"name": "krav", "path": "inbox", "mappings": ["csv-krav"]}],
        "journal": {"path": "state/journal.sqlite3"},
        "base_dir": root,
    }
    return Settings.model_validate(data, context={"base_dir": root})


def _failed_file(settings: Settings, root: Path, name: str = "krav.csv") -> Path:
    """A file the journal holds as failed, its original in failed/."""
    original = root / "failed" / name
    original.parent.mkdir(exist_ok=True)
    original.write_bytes(b"SAKSNR;BELOP\n1;x\n")
    settings.journal.path.parent.mkdir(exist_ok=True)
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        record = journal.register_file(
            inbox="krav", name=name, sha256="ab" * 32, size=17, path=original
        )
        journal.set_file_state(
            record.id,
            FileState.FAILED,
            path=original,
            error=ErrorEntry("source-unreadable", "no header row"),
        )
    return original


def test_status_table_names_the_failed_file_and_how_to_replay_it(tmp_path: Path) -> None:
    """At 80 columns: the counts, the oldest waiting file, the failed file with its error."""
    settings = _settings(tmp_path)
    _failed_file(settings, tmp_path)
    console = Console(record=True, width=80, color_system=None)
    console.print(render_status(journal_status(settings)))
    shown = console.export_text()
    assert "utlegg-gateway status" in shown
    assert "files" in shown and "failed" in shown
    assert "oldest waiting file: none" in shown
    assert "utlegg-gateway replay NAME" in shown
    assert "krav.csv" in shown and "no header row" in shown


def test_replay_puts_the_failed_file_back_once(tmp_path: Path) -> None:
    """The file moves back to its inbox with its bytes; a replay onto an existing file
    refuses to overwrite it."""
    settings = _settings(tmp_path)
    original = _failed_file(settings, tmp_path)
    data = original.read_bytes()
    target = replay_file(settings, "krav.csv")
    assert target == tmp_path / "inbox" / "krav.csv"
    assert target.read_bytes() == data
    assert not original.exists()
    assert not list((tmp_path / "inbox").glob(".replay-*"))
    original.write_bytes(b"again")
    with pytest.raises(UsageError, match="already exists"):
        replay_file(settings, "krav.csv")
    assert target.read_bytes() == data


def test_replay_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    """An unknown name, a failed file gone from failed/: each a UsageError naming it."""
    settings = _settings(tmp_path)
    original = _failed_file(settings, tmp_path)
    with pytest.raises(UsageError, match=r"no failed file named 'other\.csv'") as unknown:
        replay_file(settings, "other.csv")
    assert unknown.value.hint and "status" in unknown.value.hint
    original.unlink()
    with pytest.raises(UsageError, match="no longer at"):
        replay_file(settings, "krav.csv")
    assert list((tmp_path / "inbox").iterdir()) == []
