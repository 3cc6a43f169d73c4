"""`once --followup`: one nightly cron line submits, then polls statuses (issue 13, item 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments, drop_renamed, run_gateway
from utlegg_gateway.demo import write_gateway_config


def _config(tmp_path: Path, sandbox: Any, credentials: Any) -> Path:
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
    )
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)
    return config


def test_once_followup_submits_then_writes_the_first_statuses(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)

    done = run_gateway(config, "once", "--followup")

    assert done.returncode == 0, done.stderr
    held = sorted(c["innsenderReferanse"] for c in sandbox.admin.cases())
    assert held == ["IB-2025-000127", "IB-2025-000311"]
    for ref in held:
        path = tmp_path / "outbox" / "status" / f"{ref}.sakOpprettet.json"
        assert json.loads(path.read_bytes())["saksstatus"] == "sakOpprettet"
    # Off a terminal stdout is JSON lines: the round's events, then the run's summary.
    events = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = sorted((e["case"], e["saksstatus"]) for e in events if e["event"] == "status")
    assert statuses == [(ref, "sakOpprettet") for ref in held]
    assert events[-1]["followup"] == {"status_changes": 2, "letters": 0, "errors": 0}


def test_once_without_followup_polls_nothing(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    done = run_gateway(config, "once")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "outbox" / "status").exists()
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert not [e for e in events if e["event"] in ("status", "letter", "followup-error")]
    assert events[-1]["followup"] is None


def test_a_failed_followup_round_makes_once_exit_1(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    config = _config(tmp_path, sandbox, credentials)
    sandbox.admin.set_faults({"status": {"probability": 1.0, "actions": ["500"]}}, seed=1)

    done = run_gateway(config, "once", "--followup")

    assert done.returncode == 1, done.stderr
    # The submissions themselves went through: their receipts say accepted.
    doc = json.loads(
        (tmp_path / "outbox" / f"{FORMATS['csv-krav'].name}.kvittering.json").read_bytes()
    )
    assert doc["summary"]["accepted"] == 2
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len([e for e in events if e["event"] == "followup-error"]) == 2
    assert events[-1]["followup"] == {"status_changes": 0, "letters": 0, "errors": 2}
    assert events[-1]["exit_code"] == 1
