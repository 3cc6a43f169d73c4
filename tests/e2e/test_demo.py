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
    assert (out / "config.yaml").is_file()
    assert (out / "state" / "journal.sqlite3").is_file()
    assert any((out / "archive").rglob("*.xml"))
    for receipt in receipts:
        assert str(receipt) in done.stdout
