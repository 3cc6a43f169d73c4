"""Defects found by a review of the durable path, each pinned by a test on real parts.

Real folders in tmp_path, a real SQLite journal, the sandbox over loopback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e._support import FORMATS, MAPPINGS, drop_attachments, drop_renamed
from utlegg_gateway.config import Settings, load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.journal.sqlite import CaseRecord, CaseState, Journal


def _settings(
    tmp_path: Path,
    sandbox: Any,
    credentials: Any,
    *,
    wait: float = 5,
    stable: float = 0.05,
    **extra: Any,
) -> Settings:
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=stable,
        extra=extra,
    )
    text = config.read_text("utf-8")
    config.write_text(text.replace("wait_seconds: 5", f"wait_seconds: {wait}"))
    return load_settings(config, environ={})


def _inbox(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / "inbox" / fmt


class _BoundedSleep:
    """An injected sleep that does not wait, and stops a loop that would never end."""

    def __init__(self, limit: int) -> None:
        self.calls = 0
        self.limit = limit

    async def __call__(self, seconds: float) -> None:
        self.calls += 1
        if self.calls > self.limit:
            raise RuntimeError("the case was retried without end")
        await asyncio.sleep(0)


def _claim_into_work(tmp_path: Path, fmt: str) -> Path:
    """Put the sample into work/ as the scanner's claim would (the claim is tested elsewhere)."""
    work = tmp_path / "work" / fmt
    work.mkdir(parents=True, exist_ok=True)
    return drop_renamed(FORMATS[fmt], work)


def _now() -> datetime:
    return datetime.now(UTC)


async def _process_with(
    settings: Settings, path: Path, sleep: _BoundedSleep
) -> tuple[Any, list[CaseRecord]]:
    """The file's outcome, and its cases as the journal holds them afterwards."""
    from utlegg_gateway.elan import build_client
    from utlegg_gateway.folders.work import Inbox
    from utlegg_gateway.gateway.pipeline import Pipeline

    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        async with build_client(settings) as client:
            pipeline = Pipeline(settings, journal, client, sleep=sleep)
            inbox = Inbox(settings.inboxes[0], work=path.parent, journal=journal, clock=_now)
            record = inbox.register(path)
            outcome = await pipeline.process(record)
        return outcome, journal.cases_for_file(record.id)


def _retry_settings(tmp_path: Path, sandbox: Any, credentials: Any, retries: int) -> Settings:
    # No stable window: the injected sleep does not let time pass for the PDFs.
    return _settings(
        tmp_path,
        sandbox,
        credentials,
        stable=0,
        elan={"base_url": sandbox.elan_base_url, "retry": {"attempts": 1}},
        runner={
            "lock_file": "state/gateway.lock",
            "mapping_dirs": [str(MAPPINGS)],
            "case_retries": retries,
            "case_retry_delay_seconds": 30,
        },
    )


def test_upload_failing_once_is_retried_in_the_same_run_and_the_file_finishes(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A 503 on an upload puts the case in retry_wait; the same run retries it and ends the file."""
    settings = _retry_settings(tmp_path, sandbox, credentials, retries=2)
    sandbox.admin.set_faults({"upload": {"sequence": ["503"]}})
    drop_attachments("csv-krav", _inbox(tmp_path, "csv-krav"))
    path = _claim_into_work(tmp_path, "csv-krav")
    sleep = _BoundedSleep(limit=20)

    outcome, cases = asyncio.run(_process_with(settings, path, sleep))

    assert {c.state for c in cases} == {CaseState.ACCEPTED}
    assert outcome.counts == {CaseState.ACCEPTED: len(cases)}
    assert outcome.file.state.value == "done"
    assert (tmp_path / "outbox" / f"{path.name}.kvittering.json").is_file()
    assert sorted(c["innsenderReferanse"] for c in sandbox.admin.cases()) == sorted(
        c.innsender_referanse for c in cases
    )
    assert sleep.calls == 1


def test_upload_that_keeps_failing_temporarily_ends_failed_after_case_retries(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """An upload answered 503 every time is retried `case_retries` times, then the case fails."""
    settings = _retry_settings(tmp_path, sandbox, credentials, retries=2)
    sandbox.admin.set_faults({"upload": {"probability": 1.0, "actions": ["503"]}})
    drop_attachments("csv-krav", _inbox(tmp_path, "csv-krav"))
    path = _claim_into_work(tmp_path, "csv-krav")
    sleep = _BoundedSleep(limit=20)

    outcome, cases = asyncio.run(_process_with(settings, path, sleep))

    assert {c.state for c in cases} == {CaseState.FAILED}
    assert outcome.counts == {CaseState.FAILED: len(cases)}
    for case in cases:
        [error] = case.errors
        assert error.code != "internal-error", error
    # One first try and `case_retries` retries per case, each one upload call (attempts: 1).
    assert sleep.calls == 2 * len(cases)
    assert sandbox.admin.cases() == []


def test_a_reader_error_outside_the_gateway_tree_fails_only_that_file(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A CSV field beyond the csv module's limit fails that file with a report; others go on."""
    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials)
    csv_inbox, xml_inbox = _inbox(tmp_path, "csv-krav"), _inbox(tmp_path, "xml-sak")
    raw = FORMATS["csv-krav"].read_bytes()
    huge = tmp_path / "utlegg_20251005_020000.csv"
    huge.write_bytes(raw.replace(b";", b";" + b"x" * 200_000 + b";", 1))
    drop_renamed(huge, csv_inbox)
    drop_attachments("xml-sak", xml_inbox)
    drop_renamed(FORMATS["xml-sak"], xml_inbox)

    report = run_once(settings)

    assert report.exit_code == 1
    outbox = tmp_path / "outbox"
    feil = outbox / f"{huge.name}.feil.json"
    assert feil.is_file()
    assert [p.name for p in (tmp_path / "failed").rglob("*") if p.is_file()] == [huge.name]
    assert (outbox / f"{FORMATS['xml-sak'].name}.kvittering.json").is_file()
    assert sorted(c["innsenderReferanse"] for c in sandbox.admin.cases()) == sorted(
        ["IB-2025-000127", "IB-2025-000311"]
    )


def test_redrop_after_a_case_failed_for_a_missing_pdf_sends_that_case(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Same bytes dropped again once the PDF is there: the failed case is sent, the other not."""
    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials, wait=0)
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    late = inbox / "TR-2024-4411_dom.pdf"
    pdf = late.read_bytes()
    late.unlink()
    drop_renamed(FORMATS["csv-krav"], inbox)
    assert run_once(settings).exit_code == 1
    assert [c["innsenderReferanse"] for c in sandbox.admin.cases()] == ["IB-2025-000127"]

    late.write_bytes(pdf)
    again = drop_renamed(FORMATS["csv-krav"], inbox, "utlegg_20251001_020000_igjen.csv")
    report = run_once(settings)

    assert report.exit_code == 0
    got = json.loads((tmp_path / "outbox" / f"{again.name}.kvittering.json").read_text("utf-8"))
    assert got["file"]["duplicateOf"] is None
    assert {c["innsenderReferanse"]: c["status"] for c in got["cases"]} == {
        "IB-2025-000127": "duplicate",
        "IB-2025-000311": "accepted",
    }
    assert sorted(c["innsenderReferanse"] for c in sandbox.admin.cases()) == [
        "IB-2025-000127",
        "IB-2025-000311",
    ]


def test_pdf_with_an_mtime_ahead_of_our_clock_is_used_not_waited_out(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A PDF whose mtime is an hour ahead (a share's clock) is taken once seen stable."""
    import os
    import time

    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials, wait=5)
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    ahead = time.time() + 3600
    for pdf in inbox.glob("*.pdf"):
        os.utime(pdf, (ahead, ahead))
    drop_renamed(FORMATS["csv-krav"], inbox)

    report = run_once(settings)

    got = json.loads(
        (tmp_path / "outbox" / f"{FORMATS['csv-krav'].name}.kvittering.json").read_text("utf-8")
    )
    assert {c["innsenderReferanse"]: c["status"] for c in got["cases"]} == {
        "IB-2025-000127": "accepted",
        "IB-2025-000311": "accepted",
    }
    assert report.exit_code == 0


def test_csv_receipt_uses_the_inbox_encoding_and_delimiter(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """An inbox's receipt_csv_encoding and receipt_csv_delimiter shape its CSV receipt."""
    from utlegg_gateway.gateway.runner import run_once

    base = _settings(tmp_path, sandbox, credentials)
    inbox_settings = base.inboxes[0].model_copy(
        update={
            "receipt_formats": ("json", "csv"),
            "receipt_csv_encoding": "cp1252",
            "receipt_csv_delimiter": ",",
        }
    )
    settings = base.model_copy(update={"inboxes": (inbox_settings, *base.inboxes[1:])})
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    drop_renamed(FORMATS["csv-krav"], inbox)

    assert run_once(settings).exit_code == 0

    data = (tmp_path / "outbox" / f"{FORMATS['csv-krav'].name}.kvittering.csv").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n")[0].startswith(b"type,file,innsenderReferanse,")


def test_outbox_unwritable_at_the_receipt_keeps_the_file_answerable(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Accepted cases and a broken outbox: not 'failed'; the next run writes the receipt."""
    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    outbox = tmp_path / "outbox"
    outbox.write_text("not a folder")  # the receipt's folder cannot be made

    first = run_once(settings)

    assert first.exit_code == 1
    assert sorted(c["innsenderReferanse"] for c in sandbox.admin.cases()) == sorted(
        ["IB-2025-000127", "IB-2025-000311"]
    )
    assert not (tmp_path / "failed").exists()
    outbox.unlink()

    second = run_once(settings)

    assert second.exit_code == 0
    name = FORMATS["xml-sak"].name
    assert sorted(p.name for p in outbox.iterdir()) == [f"{name}.kvittering.json"]
    got = json.loads((outbox / f"{name}.kvittering.json").read_text("utf-8"))
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert name in [p.name for p in (tmp_path / "archive").rglob("*")]
    assert len(sandbox.admin.cases()) == 2


def test_daemon_writes_a_receipt_it_could_not_write_before(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`run`: a receipt the outbox refused is written by the sweep once it can; no restart."""
    from tests.e2e._support import wait_for
    from tests.e2e.test_gateway_e2e import Daemon

    _settings(tmp_path, sandbox, credentials, runner={"move_retry_seconds": 0.3})
    config = tmp_path / "config.yaml"
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    outbox = tmp_path / "outbox"
    outbox.write_text("not a folder")
    name = FORMATS["xml-sak"].name
    daemon = Daemon(config, "outbox")
    try:
        drop_renamed(FORMATS["xml-sak"], inbox)
        wait_for(
            lambda: daemon.assert_alive() and "cannot write the answer" in daemon.log.read_text(),
            timeout=60,
            what="refused receipt",
        )
        assert len(sandbox.admin.cases()) == 2
        outbox.unlink()
        wait_for(
            lambda: daemon.assert_alive() and (outbox / f"{name}.kvittering.json").exists(),
            timeout=60,
            what="receipt",
        )
        wait_for(lambda: name in [p.name for p in (tmp_path / "archive").rglob("*")], what="move")
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
    assert not (tmp_path / "failed").exists()
    assert len(sandbox.admin.cases()) == 2


def test_work_folder_away_at_start_leaves_the_file_open_not_failed(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A resumed file whose work folder is away (share unmounted) waits; it is not 'failed'."""
    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials, wait=3600)
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    late = inbox / "TR-2024-4411_dom.pdf"
    pdf = late.read_bytes()
    late.unlink()
    drop_renamed(FORMATS["csv-krav"], inbox)
    name = FORMATS["csv-krav"].name
    assert run_once(settings, max_wait_seconds=0.5).outcomes[0].file.state.value == "processing"
    work = tmp_path / "work" / "csv-krav"
    away = work.with_name("csv-krav.unmounted")
    work.rename(away)

    second = run_once(settings, max_wait_seconds=0.5)

    assert second.exit_code == 1
    assert [o.file.state.value for o in second.outcomes] == ["processing"]
    assert not (tmp_path / "outbox" / f"{name}.feil.json").exists()
    away.rename(work)
    late.write_bytes(pdf)

    third = run_once(settings, max_wait_seconds=0.5)

    assert third.exit_code == 0
    got = json.loads((tmp_path / "outbox" / f"{name}.kvittering.json").read_text("utf-8"))
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert not (tmp_path / "failed").exists()


def test_sweep_and_recover_go_on_past_a_work_folder_on_a_dead_share(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Listing work/ on a dead share (EIO; here ENAMETOOLONG) skips that inbox, raises nothing."""
    from utlegg_gateway.elan import build_client
    from utlegg_gateway.gateway.runner import Gateway

    base = _settings(tmp_path, sandbox, credentials)
    dead = base.inboxes[0].model_copy(update={"work": tmp_path / ("x" * 300)})
    settings = base.model_copy(update={"inboxes": (dead, *base.inboxes[1:])})
    live = tmp_path / "work" / "xml-sak"
    live.mkdir(parents=True)
    drop_renamed(FORMATS["xml-sak"], live)

    async def recover_and_sweep() -> tuple[list[Any], list[Any]]:
        with Journal.open(settings.journal.path, clock=_now) as journal:
            async with build_client(settings) as client:
                gateway = Gateway(settings, journal, client)
                return gateway.recover(), gateway.unmoved()

    recovered, unmoved = asyncio.run(recover_and_sweep())

    assert [r.name for r in recovered] == [FORMATS["xml-sak"].name]
    assert [r.name for r in unmoved] == [FORMATS["xml-sak"].name]
    # Recovery only registers: nothing reached ELAN.
    assert sandbox.admin.uploads() == [] and sandbox.admin.submissions() == []


def test_new_file_in_work_under_an_answered_files_stale_path_is_processed(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Two crashes (after an archive move, after a claim) must not archive a new file unread."""
    from utlegg_gateway.gateway.runner import run_once

    settings = _settings(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    assert run_once(settings).exit_code == 0
    name = FORMATS["xml-sak"].name
    work = tmp_path / "work" / "xml-sak" / name
    # Crash 1, between the move to archive/ and its journal record: the row still says work/.
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        [first] = journal.files_in_states(*journal_file_states())
        journal.set_file_path(first.id, work)
    # Crash 2, between a later claim of a new file of the same name and its registration.
    drop_attachments("xml-sak", inbox)
    (inbox / "IB-2025-000127_betalingsoppfordring.pdf").rename(
        inbox / "IB-2025-000999_betalingsoppfordring.pdf"
    )
    work.write_bytes(FORMATS["xml-sak"].read_bytes().replace(b"IB-2025-000127", b"IB-2025-000999"))

    assert run_once(settings).exit_code == 0

    assert "IB-2025-000999" in [c["innsenderReferanse"] for c in sandbox.admin.cases()]
    got = json.loads((tmp_path / "outbox" / f"{name}.2.kvittering.json").read_text("utf-8"))
    assert "IB-2025-000999" in [c["innsenderReferanse"] for c in got["cases"]]


def journal_file_states() -> tuple[Any, ...]:
    """Every file state (to list all files)."""
    from utlegg_gateway.journal.sqlite import FileState

    return tuple(FileState)


def test_inbox_with_its_own_work_folder_gets_archived_and_reported(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """With `inboxes[].work` set, answered files leave work/ and a broken one gets its report."""
    from utlegg_gateway.gateway.runner import run_once

    base = _settings(tmp_path, sandbox, credentials)
    own = base.inboxes[1].model_copy(update={"work": tmp_path / "share-work"})
    settings = base.model_copy(update={"inboxes": (base.inboxes[0], own)})
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    bad = tmp_path / "inkassonett_20251009.xml"
    bad.write_bytes(b"<?xml version='1.0'?><Utleggsbatch><Sak>")
    drop_renamed(bad, inbox)

    assert run_once(settings).exit_code == 1

    assert [p.name for p in (tmp_path / "share-work").rglob("*") if p.is_file()] == []
    assert FORMATS["xml-sak"].name in [p.name for p in (tmp_path / "archive").rglob("*")]
    assert (tmp_path / "outbox" / f"{bad.name}.feil.json").is_file()
    assert [p.name for p in (tmp_path / "failed").rglob("*") if p.is_file()] == [bad.name]
