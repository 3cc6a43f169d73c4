"""`utlegg-gateway demo` as the README runs it: a subprocess with its own sandbox."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e._support import gateway_cmd


def test_demo_runs_end_to_end_and_leaves_everything(tmp_path: Path) -> None:
    """The demo submits the examples, reports the broken case, and leaves receipts and config."""
    out = tmp_path / "demo"
    done = subprocess.run(
        gateway_cmd("demo", "--dir", str(out)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        # Wide enough that rich does not wrap the receipt paths it prints.
        env={**os.environ, "COLUMNS": "250"},
    )

    assert done.returncode == 0, done.stderr
    receipts = sorted((out / "outbox").glob("*.kvittering.json"))
    assert len(receipts) >= 3
    statuses = [c["status"] for r in receipts for c in json.loads(r.read_text())["cases"]]
    assert statuses.count("rejected") == 1
    assert statuses.count("accepted") == len(statuses) - 1 >= 2
    broken = json.loads(
        (out / "outbox" / "utlegg_99991231_000000_demo-feil.csv.kvittering.json").read_text()
    )
    [error] = broken["cases"][0]["errors"]
    assert error["source"]["row"] == 2
    assert error["rule"] == "UGYLDIG_BELOEP"  # the server's name, not too-many-decimals
    # Only the exports the demo's mappings read are dropped: no file fails.
    assert list((out / "outbox").glob("*.feil.*")) == []
    assert list((out / "failed").rglob("*.*")) == []
    assert (out / "config.yaml").is_file()
    assert (out / "state" / "journal.sqlite3").is_file()
    assert any((out / "archive").rglob("*.xml"))
    for receipt in receipts:
        assert str(receipt) in done.stdout


def test_demo_in_vendor_mode_files_for_each_customer(tmp_path: Path) -> None:
    """`demo --tenants 2`: each customer's exports go out under its own organisation and
    come back in its own outbox."""
    out = tmp_path / "demo"
    done = subprocess.run(
        gateway_cmd("demo", "--dir", str(out), "--tenants", "2"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250"},
    )

    assert done.returncode == 0, done.stderr
    innsendere = set()
    for tenant in ("kunde-1", "kunde-2"):
        receipts = sorted((out / "outbox" / tenant).glob("*.kvittering.json"))
        assert len(receipts) == 4, receipts
        cases = [c for r in receipts for c in json.loads(r.read_text())["cases"]]
        assert [c["status"] for c in cases].count("rejected") == 1
        assert [c["status"] for c in cases].count("accepted") == len(cases) - 1
        dropped = (out / "archive" / tenant).rglob("utlegg_20251103_020000.csv")
        innsendere |= {p.read_text("cp1252").split("\n")[1].split(";")[4] for p in dropped}
    assert len(innsendere) == 2  # two customer organisations, neither the vendor's
    assert "kunde-2" in done.stdout
