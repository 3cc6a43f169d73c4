"""Corrections and Betjeningskartet routing through the real pipeline (`once`, in-process)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
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
)
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.followup import run_followup_once
from utlegg_gateway.gateway.runner import run_once
from utlegg_gateway.journal.sqlite import CaseState, Journal

CSV = FORMATS["csv-krav"]  # IB-2025-000127 (one debtor) and IB-2025-000311 (two debtors)
DEBTORS_311 = ("29887847396", "05818004402")


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Client credentials the sandbox trusts (RSA keys are slow: once per module)."""
    from utlegg_gateway.sandbox import write_credentials

    return write_credentials(tmp_path_factory.mktemp("creds"))


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """SandboxOptions fields for this test."""
    return {}


@pytest.fixture
def sandbox(credentials: Any, sandbox_options: dict[str, Any]) -> Iterator[Any]:
    """A fresh sandbox (model 2.0), attachments ready at once."""
    from utlegg_gateway.sandbox import SandboxOptions, running_sandbox

    options = SandboxOptions(**({"scanning_seconds": 0.0} | sandbox_options))
    with running_sandbox(options, credentials=[credentials]) as sb:
        yield sb


def _config(tmp_path: Path, sandbox: Any, credentials: Any) -> Path:
    return write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "endring": ["csv-krav"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
        extra={
            "routing": {"betjeningskartet": True},
            "corrections": {"inboxes": ["endring"], "retry_initial_seconds": 0.2},
            "followup": {"status_enabled": False},
        },
    )


def _once(config: Path) -> Any:
    return run_once(load_settings(config, environ={}))


def _drop(tmp_path: Path, inbox: str, name: str | None = None, data: bytes | None = None) -> str:
    folder = tmp_path / "inbox" / inbox
    drop_attachments("csv-krav", folder)
    if data is None:
        return drop_renamed(CSV, folder, name).name
    target = folder / (name or CSV.name)
    tmp = target.with_name(target.name + ".filepart")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target.name


def _corrected_csv() -> bytes:
    """The sample with a lower remaining amount on every claim line (a typical correction)."""
    raw = CSV.read_bytes()
    lines = raw.decode("cp1252").split("\r\n" if b"\r\n" in raw else "\n")
    col = lines[0].split(";").index("REST_BELOP")
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(";")
        if len(cells) > col and cells[col]:
            cells[col] = "1,00"
            lines[i] = ";".join(cells)
    return ("\r\n" if b"\r\n" in raw else "\n").join(lines).encode("cp1252")


def _by_ref(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["innsenderReferanse"]: c for c in data["cases"]}


def test_old_rules_debtors_end_in_elsa_never_at_elan(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Both debtors of IB-2025-000311 on the old rules: elsa/ file, rejected receipt, not sent."""
    for ident in DEBTORS_311:
        sandbox.admin.add_old_rules_debtor(ident)
    config = _config(tmp_path, sandbox, credentials)
    name = _drop(tmp_path, "csv-krav")

    report = _once(config)

    assert report.exit_code == 1
    assert [c["innsenderReferanse"] for c in sandbox.admin.cases()] == ["IB-2025-000127"]
    sent = [s.get("innsenderReferanse") for s in sandbox.admin.submissions()]
    assert "IB-2025-000311" not in sent
    doc = json.loads((tmp_path / "outbox" / "elsa" / "IB-2025-000311.json").read_bytes())
    assert (doc["rute"], doc["regelverk"]) == ("elsa", "tidligereRegelverk")
    assert {d["regelverk"] for d in doc["skyldnere"]} == {"tidligereRegelverk"}
    assert doc["begjaering"]["innsenderReferanse"] == "IB-2025-000311"
    cases = _by_ref(receipt(tmp_path / "outbox", name))
    assert cases["IB-2025-000127"]["status"] == "accepted"
    assert cases["IB-2025-000311"]["status"] == "rejected"
    assert [e["rule"] for e in cases["IB-2025-000311"]["errors"]] == ["routed-to-elsa"]


def test_mixed_rules_in_one_case_are_reported_for_paper(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """One of two debtors on the old rules: the case goes on paper, never to ELAN."""
    sandbox.admin.add_old_rules_debtor(DEBTORS_311[0])
    config = _config(tmp_path, sandbox, credentials)
    name = _drop(tmp_path, "csv-krav")

    _once(config)

    assert (tmp_path / "outbox" / "elsa" / "IB-2025-000311.papir.json").exists()
    assert [c["innsenderReferanse"] for c in sandbox.admin.cases()] == ["IB-2025-000127"]
    case = _by_ref(receipt(tmp_path / "outbox", name))["IB-2025-000311"]
    assert [e["rule"] for e in case["errors"]] == ["mixed-rules-paper"]


def test_correction_for_accepted_cases_is_sent_as_change_and_receipted(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A corrected export in the endring inbox: PUT per case, receipted with the same refs."""
    config = _config(tmp_path, sandbox, credentials)
    _drop(tmp_path, "csv-krav")
    assert _once(config).exit_code == 0
    refs = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}

    name = _drop(tmp_path, "endring", "utlegg_endring.csv", _corrected_csv())
    report = _once(config)

    assert report.exit_code == 0
    cases = _by_ref(receipt(tmp_path / "outbox", name))
    assert {r: c["status"] for r, c in cases.items()} == dict.fromkeys(refs, "accepted")
    assert {r: c["eksternSaksreferanse"] for r, c in cases.items()} == refs
    changes = [s for s in sandbox.admin.submissions() if s["operation"] == "change"]
    assert sorted(c["eksternSaksreferanse"] for c in changes) == sorted(refs.values())
    assert {c["status"] for c in changes} == {200}
    assert len(sandbox.admin.cases()) == 2, "a correction is never a new case"
    # Original and correction share a reference: statuses are reported once per case.
    settings = load_settings(config, environ={})
    settings = settings.model_copy(
        update={"followup": settings.followup.model_copy(update={"status_enabled": True})}
    )
    followup = run_followup_once(settings)
    assert sorted(c.innsender_referanse for c in followup.status_changes) == sorted(refs)
    assert len(list((tmp_path / "outbox" / "status").glob("*.json"))) == 2


def test_correction_for_unknown_case_is_reported_not_sent_as_new(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A correction with no accepted original: rejected as unknown-case; ELAN sees nothing."""
    config = _config(tmp_path, sandbox, credentials)
    name = _drop(tmp_path, "endring", "utlegg_endring.csv", _corrected_csv())

    assert _once(config).exit_code == 1

    cases = _by_ref(receipt(tmp_path / "outbox", name))
    assert {c["status"] for c in cases.values()} == {"rejected"}
    assert {e["rule"] for c in cases.values() for e in c["errors"]} == {"unknown-case"}
    assert sandbox.admin.submissions() == []


@pytest.mark.parametrize("sandbox_options", [{"unsettled_seconds": 300.0}])
def test_correction_during_uavklart_status_is_retried_then_accepted(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """UAVKLART_STATUS → retry_wait; once the sandbox clock moves on, the retry is accepted."""
    config = _config(tmp_path, sandbox, credentials)
    _drop(tmp_path, "csv-krav")
    assert _once(config).exit_code == 0
    name = _drop(tmp_path, "endring", "utlegg_endring.csv", _corrected_csv())
    # `once` as users run it, in its own process (it installs signal handlers).
    proc = subprocess.Popen(
        gateway_cmd("once", "--config", str(config)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    settings = load_settings(config, environ={})
    journal = Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC))
    try:
        deadline = time.monotonic() + 60
        while not journal.cases_in_states(CaseState.RETRY_WAIT):
            assert time.monotonic() < deadline, "no correction reached retry_wait"
            assert proc.poll() is None, f"once ended without a retry: {proc.stderr}"
            time.sleep(0.02)
    finally:
        journal.close()
    sandbox.admin.advance_clock(301)  # settled now, and not yet besluttet (locked)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    cases = _by_ref(receipt(tmp_path / "outbox", name))
    assert {c["status"] for c in cases.values()} == {"accepted"}
    changes = [s for s in sandbox.admin.submissions() if s["operation"] == "change"]
    assert sorted(c["status"] for c in changes).count(422) >= 1
    assert sorted(c["status"] for c in changes).count(200) == 2
