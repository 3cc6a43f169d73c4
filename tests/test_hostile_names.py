"""File names from foreign systems: not UTF-8, with control characters, too long.

Each test drops a good export under a hostile name beside a good companion file, runs
the gateway (`once`, in process, against the sandbox), and checks where the files ended,
what the outbox says, that the companion was accepted and that a later run still works.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from tests.e2e._support import FORMATS, archived, drop_attachments, drop_renamed, receipt
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.gateway.runner import run_once
from utlegg_gateway.journal.sqlite import FileState, Journal

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def _config(tmp_path: Path, sandbox: Any, credentials: Any) -> Path:
    return write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
        receipt_formats=("json", "csv", "xml"),
    )


def _drop_pair(tmp_path: Path, hostile: str) -> None:
    """The CSV sample under a hostile name, the XML sample as its good companion."""
    for fmt in ("csv-krav", "xml-sak"):
        drop_attachments(fmt, tmp_path / "inbox" / fmt)
    drop_renamed(FORMATS["csv-krav"], tmp_path / "inbox" / "csv-krav", hostile)
    drop_renamed(FORMATS["xml-sak"], tmp_path / "inbox" / "xml-sak")


def _companion_accepted(tmp_path: Path) -> None:
    got = receipt(tmp_path / "outbox", FORMATS["xml-sak"].name)
    assert {c["status"] for c in got["cases"]} == {"accepted"}


def _journal_names(config: Path) -> list[str]:
    settings = load_settings(config, environ={})
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        return [r.name for r in journal.files_in_states(*FileState)]


def test_a_latin1_name_is_stored_losslessly_answered_and_shown_escaped(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A name that is not UTF-8 (Latin-1 from an SMB share) no longer stops the journal."""
    hostile = os.fsdecode(b"utlegg_s\xe6rskilt_\xf8.csv")  # 'særskilt_ø' in Latin-1
    config = _config(tmp_path, sandbox, credentials)
    _drop_pair(tmp_path, hostile)

    first = run_once(load_settings(config, environ={}))

    assert first.exit_code == 0, [o.file for o in first.outcomes]
    _companion_accepted(tmp_path)
    outbox = tmp_path / "outbox"
    # The answer carries the legacy system's own bytes, plus the suffix.
    answer = outbox / f"{hostile}.kvittering.json"
    assert os.fsencode(answer.name) == b"utlegg_s\xe6rskilt_\xf8.csv.kvittering.json"
    doc = json.loads(answer.read_bytes())
    assert doc["file"]["name"] == "utlegg_s\\xe6rskilt_\\xf8.csv"
    assert {c["status"] for c in doc["cases"]} == {"accepted"}
    assert hostile in _journal_names(config)  # exactly the bytes the file system gave
    assert hostile in archived(tmp_path)

    # A later start recovers without crashing, and a new drop is still processed.
    drop_renamed(FORMATS["csv-krav"], tmp_path / "inbox" / "csv-krav", "later.csv")
    second = run_once(load_settings(config, environ={}))
    assert second.exit_code == 0
    later = receipt(outbox, "later.csv")
    assert {c["status"] for c in later["cases"]} == {"duplicate"}  # same cases, not resent
    # Both samples carry the same two cases: ELAN holds them once.
    assert len(sandbox.admin.cases()) == 2


def test_control_characters_in_a_name_give_valid_receipts(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """ANSI escapes and a line break in a name: the XML receipt is valid and shows them escaped."""
    hostile = "utlegg_\x1b[31mrød\x1b[0m\nny.csv"
    config = _config(tmp_path, sandbox, credentials)
    _drop_pair(tmp_path, hostile)

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 0
    _companion_accepted(tmp_path)
    outbox = tmp_path / "outbox"
    xml = etree.fromstring((outbox / f"{hostile}.kvittering.xml").read_bytes())
    assert xml.get("fil") == "utlegg_\\x1b[31mrød\\x1b[0m\\nny.csv"
    doc = json.loads((outbox / f"{hostile}.kvittering.json").read_bytes())
    assert doc["file"]["name"] == "utlegg_\\x1b[31mrød\\x1b[0m\\nny.csv"
    csv_text = (outbox / f"{hostile}.kvittering.csv").read_bytes().decode("utf-8-sig")
    assert "\x1b" not in csv_text and "utlegg_\\x1b[31m" in csv_text


def test_a_name_too_long_for_its_receipt_is_shortened_and_the_receipt_says_so(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A 240-byte name cannot take `.kvittering.json`: the outbox name is cut + hashed."""
    hostile = "u" * 236 + ".csv"
    config = _config(tmp_path, sandbox, credentials)
    _drop_pair(tmp_path, hostile)

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 0
    _companion_accepted(tmp_path)
    outbox = tmp_path / "outbox"
    answers = list(outbox.glob("u*.kvittering.json"))
    assert len(answers) == 1
    (answer,) = answers
    assert len(os.fsencode(answer.name)) <= 255
    doc = json.loads(answer.read_bytes())
    assert doc["file"]["name"] == hostile
    assert answer.name == doc["file"]["outboxName"] + ".kvittering.json"
    assert doc["file"]["outboxName"].startswith("u" * 200)
    assert {c["status"] for c in doc["cases"]} == {"accepted"}
    # Every format of the same answer uses the same shortened stem.
    stem = doc["file"]["outboxName"]
    assert (outbox / f"{stem}.kvittering.csv").is_file()
    assert (outbox / f"{stem}.kvittering.xml").is_file()
    assert hostile in archived(tmp_path)
