"""DUPLIKAT_INNSENDING as Skatteetaten publishes it names no eksternSaksreferanse.

A second gateway (its own journal) sends cases ELAN already holds: the receipt says
"accepted", and where neither ELAN nor the journal knows the reference it says so and how
the operator finds it, in every receipt format.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from lxml import etree

from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments, drop_renamed, receipt
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.folders.outbox.receipts import REFERENCE_UNKNOWN
from utlegg_gateway.gateway.runner import run_once


def _gateway_once(root: Path, sandbox: Any, credentials: Any) -> int:
    config = write_gateway_config(
        root,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
        receipt_formats=("json", "csv", "xml"),
    )
    inbox = root / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)
    return run_once(load_settings(config, environ={})).exit_code


def test_a_duplicate_the_journal_does_not_know(
    tmp_path: Path, strict_or_lenient_sandbox: Any, credentials: Any
) -> None:
    """Strict: reference unknown, said plainly (JSON note, CSV note, XML merknad).
    Lenient: the sandbox's extension names the reference, and no note is written."""
    sandbox = strict_or_lenient_sandbox
    strict = sandbox.sandbox.options.strict
    assert _gateway_once(tmp_path / "first", sandbox, credentials) == 0
    held = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}

    assert _gateway_once(tmp_path / "second", sandbox, credentials) == 0

    name = FORMATS["csv-krav"].name
    outbox = tmp_path / "second" / "outbox"
    got = receipt(outbox, name)["cases"]
    assert {c["status"] for c in got} == {"accepted"}
    assert len(sandbox.admin.cases()) == len(held)  # nothing was submitted twice
    csv_text = (outbox / f"{name}.kvittering.csv").read_bytes().decode("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(csv_text), delimiter=";") if r["type"] == "case"]
    sak = etree.parse(str(outbox / f"{name}.kvittering.xml")).getroot()
    merknader = [s.get("merknad") for s in sak.iter("{*}sak")]
    if strict:
        assert [c["eksternSaksreferanse"] for c in got] == [None] * len(held)
        assert [c["note"] for c in got] == [REFERENCE_UNKNOWN] * len(held)
        assert [r["note"] for r in rows] == [REFERENCE_UNKNOWN] * len(held)
        assert merknader == [REFERENCE_UNKNOWN] * len(held)
    else:
        assert {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in got} == held
        assert all("note" not in c for c in got)
        assert {r["note"] for r in rows} == {""}
        assert merknader == [None] * len(held)
