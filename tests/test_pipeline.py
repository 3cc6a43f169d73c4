"""The pipeline and `once` in-process: real folders, real SQLite, the sandbox over loopback."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._support import (
    FORMATS,
    MAPPINGS,
    SAMPLE_CASES,
    archived,
    drop_attachments,
    drop_renamed,
    held_cases,
    journal_rows,
    make_batch,
    receipt,
    receipt_csv,
)
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.gateway import pipeline
from utlegg_gateway.gateway.runner import run_once
from utlegg_gateway.journal.sqlite import CaseState, Journal
from utlegg_gateway.operations import replay_file
from utlegg_gateway.provning import RULES


def _config(tmp_path: Path, sandbox: Any, credentials: Any, **extra: Any) -> Path:
    return write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
        receipt_formats=("json", "csv"),
        extra=extra,
    )


def _once(config: Path, progress: pipeline.ProgressSink | None = None) -> Any:
    return run_once(load_settings(config, environ={}), progress=progress)


class _Outcomes:
    """A progress sink that keeps what the pipeline reports: each case's outcome, and the
    file-level calls in their order."""

    def __init__(self) -> None:
        self.cases: list[str] = []
        self.calls: list[tuple[str, str]] = []

    def waiting(self, name: str, reason: str, seconds: float) -> None: ...
    def cases_found(self, name: str, total: int) -> None: ...

    def file_started(self, name: str) -> None:
        self.calls.append(("started", name))

    def file_duplicate(self, name: str, original: str) -> None:
        self.calls.append(("duplicate", name))

    def file_finished(self, name: str, outcome: pipeline.FileOutcome) -> None:
        self.calls.append(("finished", name))

    def case_finished(self, name: str, outcome: str) -> None:
        self.cases.append(outcome)


def _inbox(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / "inbox" / fmt


@pytest.fixture(params=[False, True], ids=["held", "streamed"])
def while_mapping(request: pytest.FixtureRequest) -> bool:
    """`runner.submit_while_mapping`: a test taking this runs once held, once streamed."""
    return bool(request.param)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_sample_is_submitted_receipted_and_archived(
    tmp_path: Path, sandbox: Any, credentials: Any, fmt: str
) -> None:
    """Each format: cases accepted once, receipt with the sandbox's refs, originals archived."""
    config = _config(tmp_path, sandbox, credentials)
    drop_attachments(fmt, _inbox(tmp_path, fmt))
    drop_renamed(FORMATS[fmt], _inbox(tmp_path, fmt))

    report = _once(config)

    assert report.exit_code == 0
    name = FORMATS[fmt].name
    got = receipt(tmp_path / "outbox", name)
    held = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}
    assert sorted(held) == sorted(SAMPLE_CASES)
    assert {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in got["cases"]} == held
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert (tmp_path / "outbox" / f"{name}.kvittering.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    pdfs = sorted(p.name for p in FORMATS[fmt].parent.glob("*.pdf"))
    assert archived(tmp_path) == sorted([name, *pdfs])
    assert list(_inbox(tmp_path, fmt).iterdir()) == []
    assert not any((tmp_path / "work").rglob("*.*"))
    # The attachments reached the sandbox as uploaded, and each submission names their uuids.
    uploads = {u["uuid"]: u["filnavn"] for u in sandbox.admin.uploads()}
    for case in sandbox.admin.cases():
        text = json.dumps(case["payload"])
        for uuid, filnavn in uploads.items():
            if uuid in text:
                assert filnavn.endswith(".pdf")
        assert "uuid" in text


def _break_one_case(src: Path, dst: Path) -> None:
    """A copy of the CSV sample where one claim of IB-2025-000311 has a three-decimal amount."""
    raw = src.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp1252"
    lines = (
        raw.decode(encoding).split("\r\n") if b"\r\n" in raw else raw.decode(encoding).split("\n")
    )
    head = lines[0].split(";")
    col = head.index("OPPR_BELOP")
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(";")
        if "IB-2025-000311" in cells:
            cells[col] = "100,125"
            lines[i] = ";".join(cells)
            break
    sep = "\r\n" if b"\r\n" in raw else "\n"
    dst.write_bytes(sep.join(lines).encode(encoding))


def test_broken_case_is_reported_with_row_and_rule_and_good_case_goes_on(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """One broken case among good ones: good accepted, broken reported (row, rule), exit 1."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    name = "utlegg_20251002_020000.csv"
    _break_one_case(FORMATS["csv-krav"], tmp_path / name)
    drop_renamed(tmp_path / name, inbox, name)

    report = _once(config)

    assert report.exit_code == 1
    got = {c["innsenderReferanse"]: c for c in receipt(tmp_path / "outbox", name)["cases"]}
    assert got["IB-2025-000127"]["status"] == "accepted"
    bad = got["IB-2025-000311"]
    assert bad["status"] == "rejected"
    [error] = bad["errors"]
    assert error["origin"] == "local"
    assert error["source"]["row"] == 5
    assert error["source"]["column"] == "OPPR_BELOP"
    # The server's rule name for the amount (the mapping's code stays in the journal entry).
    assert error["rule"] == "UGYLDIG_BELOEP"
    assert held_cases(sandbox) == ["IB-2025-000127"]


def test_same_file_again_gets_a_duplicate_receipt_and_is_not_resent(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """The same bytes dropped again are answered as a duplicate, nothing is sent twice."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    assert _once(config).exit_code == 0
    submitted = len(sandbox.admin.submissions())

    drop_renamed(FORMATS["xml-sak"], inbox, "inkassonett_20251002.xml")
    progress = _Outcomes()
    assert _once(config, progress).exit_code == 0

    again = receipt(tmp_path / "outbox", "inkassonett_20251002.xml")
    assert again["file"]["duplicateOf"] == FORMATS["xml-sak"].name
    # Never "started": a terminal would draw its empty counts ("0 of ?") until the
    # duplicate is told, as tests/test_terminal.py once caught.
    name = "inkassonett_20251002.xml"
    assert progress.calls == [("duplicate", name), ("finished", name)]
    assert {c["status"] for c in again["cases"]} == {"duplicate"}
    assert len(sandbox.admin.submissions()) == submitted
    assert "inkassonett_20251002.xml" in archived(tmp_path)


def test_case_accepted_from_another_file_is_not_sent_again(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """The XML export of cases already accepted from the CSV export is answered, not resubmitted."""
    config = _config(tmp_path, sandbox, credentials)
    for fmt in ("csv-krav", "xml-sak"):
        drop_attachments(fmt, _inbox(tmp_path, fmt))
    drop_renamed(FORMATS["csv-krav"], _inbox(tmp_path, "csv-krav"))
    assert _once(config).exit_code == 0
    first = {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in sandbox.admin.cases()}
    drop_renamed(FORMATS["xml-sak"], _inbox(tmp_path, "xml-sak"))

    assert _once(config).exit_code == 0

    got = receipt(tmp_path / "outbox", FORMATS["xml-sak"].name)["cases"]
    assert {c["innsenderReferanse"]: c["status"] for c in got} == dict.fromkeys(first, "duplicate")
    assert {c["innsenderReferanse"]: c["eksternSaksreferanse"] for c in got} == first
    assert len(sandbox.admin.cases()) == 2
    assert not [
        s for s in sandbox.admin.submissions() if s["operation"] == "submit" and s["status"] != 201
    ]


def test_missing_attachment_fails_the_case_naming_the_file(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A case whose PDF never arrives fails with an error naming it; it is never submitted."""
    config = _config(tmp_path, sandbox, credentials)
    settings_extra = load_settings(config, environ={})
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    (inbox / "TR-2024-4411_dom.pdf").unlink()
    # No waiting for the demo's 5 s: the case ends as soon as the wait is over.
    text = config.read_text().replace("attachments_wait_seconds: 5", "attachments_wait_seconds: 0")
    config.write_text(text)
    assert settings_extra.inboxes[0].attachments_wait_seconds == 5
    drop_renamed(FORMATS["csv-krav"], inbox)

    assert _once(config).exit_code == 1

    got = {
        c["innsenderReferanse"]: c
        for c in receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)["cases"]
    }
    assert got["IB-2025-000127"]["status"] == "accepted"
    assert got["IB-2025-000311"]["status"] == "failed"
    assert "TR-2024-4411_dom.pdf" in got["IB-2025-000311"]["errors"][0]["message"]
    assert held_cases(sandbox) == ["IB-2025-000127"]


def test_unreadable_file_goes_to_failed_with_a_report_and_can_be_replayed(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Malformed XML: error report (json+txt), original in failed/, exit 1; replay re-queues it."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    bad = tmp_path / "inkassonett_20251003.xml"
    bad.write_bytes(b"<?xml version='1.0'?><Utleggsbatch><Sak>")
    drop_renamed(bad, inbox)

    assert _once(config).exit_code == 1

    report = json.loads((tmp_path / "outbox" / "inkassonett_20251003.xml.feil.json").read_text())
    assert report["code"].startswith("source")
    assert "replay" in (tmp_path / "outbox" / "inkassonett_20251003.xml.feil.txt").read_text()
    failed = [p.name for p in (tmp_path / "failed").rglob("*") if p.is_file()]
    assert failed == ["inkassonett_20251003.xml"]
    assert sandbox.admin.submissions() == []

    target = replay_file(load_settings(config, environ={}), "inkassonett_20251003.xml")

    assert target == inbox / "inkassonett_20251003.xml"
    assert target.read_bytes() == bad.read_bytes()
    assert not [p for p in (tmp_path / "failed").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("while_mapping", "workers"),
    [(False, 1), (True, 1), (False, 2)],
    ids=["held", "streamed", "held-on-2-workers"],
)
def test_xml_broken_after_its_good_cases_answers_every_case(
    tmp_path: Path, sandbox: Any, credentials: Any, while_mapping: bool, workers: int
) -> None:
    """Two good Sak, then a syntax error at the end: both cases answered, the file failed.

    Held (`submit_while_mapping: false`), nothing reaches ELAN; streamed, the cases read
    before the break were sent as they were read and the receipt says they were accepted.
    Mapped by worker processes, the break is met the same way.
    """
    runner = {"submit_while_mapping": while_mapping, "mapping_workers": workers}
    config = _config(tmp_path, sandbox, credentials, runner=runner)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    text = FORMATS["xml-sak"].read_bytes()
    # Cut the closing tag of the batch: well-formed up to the last Sak, broken after it.
    broken = text[: text.rindex(b"</in:Utleggsbatch>")] + b"<in:Sak saksnr='X'>"
    source = tmp_path / "inkassonett_20251009.xml"
    source.write_bytes(broken)
    drop_renamed(source, inbox)

    assert _once(config).exit_code == 1

    submitted = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    name = "inkassonett_20251009.xml"
    assert json.loads((tmp_path / "outbox" / f"{name}.feil.json").read_text())["code"].startswith(
        "source"
    )
    cases = receipt(tmp_path / "outbox", name)["cases"]
    assert sorted(c["innsenderReferanse"] for c in cases) == sorted(SAMPLE_CASES)
    if while_mapping:
        assert len(submitted) == len(SAMPLE_CASES)
        assert {c["status"] for c in cases} == {"accepted"}
        assert all(c["eksternSaksreferanse"] for c in cases)
    else:
        assert submitted == []
        assert sandbox.admin.uploads() == []
        assert {c["status"] for c in cases} == {"failed"}
        assert all("this case was not sent" in c["errors"][0]["message"] for c in cases)
    assert [p.name for p in (tmp_path / "failed").rglob("*") if p.is_file()] == [name]


def test_a_key_used_twice_in_one_file_refuses_the_second_and_answers_every_case(
    tmp_path: Path, sandbox: Any, credentials: Any, while_mapping: bool
) -> None:
    """The XML sample with its second Sak repeated (same saksnr, later date): the first two
    go to ELAN once each; the repeat is refused locally under a name of its own, so the
    journal and the receipt hold three cases. Before, the journal's (file, key) match made
    the repeat the first case again, and `once` died on a second upload of one case."""
    config = _config(tmp_path, sandbox, credentials, runner={"submit_while_mapping": while_mapping})
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    text = FORMATS["xml-sak"].read_text("latin-1")
    start = text.index('<in:Sak saksnr="IB-2025-000311"')
    end = text.index("</in:Sak>", start) + len("</in:Sak>")
    repeat = text[start:end].replace('begjaert="2025-10-01"', 'begjaert="2025-10-02"')
    source = tmp_path / "inkassonett_20251003.xml"
    source.write_text(text[:end] + "\n  " + repeat + text[end:], "latin-1")
    drop_renamed(source, inbox)

    assert _once(config).exit_code == 1

    submits = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    assert len(submits) == 2
    assert held_cases(sandbox) == sorted(SAMPLE_CASES)
    name = source.name
    got = {c["innsenderReferanse"]: c for c in receipt(tmp_path / "outbox", name)["cases"]}
    again = "IB-2025-000311 (again, /Utleggsbatch/Sak[3] (line 88))"
    assert sorted(got) == sorted([*SAMPLE_CASES, again])
    assert {got[k]["status"] for k in SAMPLE_CASES} == {"accepted"}
    assert got[again]["status"] == "rejected"
    [error] = got[again]["errors"]
    assert error["rule"] == "duplicate-case-key"
    assert error["source"] == {"element": "/Utleggsbatch/Sak[3]"}
    assert "earlier case of this file (line 47)" in error["message"]
    path = load_settings(config, environ={}).journal.path
    rows = journal_rows(path, "SELECT key, state FROM cases ORDER BY id")
    assert rows == [
        ("IB-2025-000127", "accepted"),
        ("IB-2025-000311", "accepted"),
        (again, "rejected_local"),
    ]
    assert name in archived(tmp_path)


def test_a_forbidden_state_change_fails_its_case_and_not_the_run(
    tmp_path: Path, sandbox: Any, credentials: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that asks the journal for a transition its state machine forbids fails that
    one case (receipt: `illegal-transition`); the file's other case is sent and the run
    ends normally. Before, the refusal was a JournalError and `once` died (exit 2) with
    the file unanswered, as the key clash of one file did.

    No real trigger is known any more, so the bug is injected: the journal is asked to
    move the first case from `uploading` back to `new` instead of to `submitting`. The
    refusal itself is the real journal's."""
    first, other = sorted(SAMPLE_CASES)
    real = Journal.set_case_state

    def buggy(self: Journal, case_id: int, state: CaseState, **kw: Any) -> Any:
        if state is CaseState.SUBMITTING and self.case(case_id).key == first:
            return real(self, case_id, CaseState.NEW)
        return real(self, case_id, state, **kw)

    monkeypatch.setattr(Journal, "set_case_state", buggy)
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)

    assert _once(config).exit_code == 1

    submits = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    assert len(submits) == 1
    name = FORMATS["xml-sak"].name
    got = {c["innsenderReferanse"]: c for c in receipt(tmp_path / "outbox", name)["cases"]}
    assert sorted(got) == sorted(SAMPLE_CASES)
    assert got[other]["status"] == "accepted"
    assert got[first]["status"] == "failed"
    [error] = got[first]["errors"]
    assert error["rule"] == "illegal-transition" and error["origin"] == "gateway"
    assert "uploading -> new is not allowed" in error["message"]
    path = load_settings(config, environ={}).journal.path
    rows = journal_rows(path, "SELECT key, state FROM cases ORDER BY key")
    assert rows == [(first, "failed"), (other, "accepted")]
    assert name in archived(tmp_path)


def test_journal_records_intent_before_the_submit(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Every accepted case has a submit intent whose Meldingsid the sandbox received."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    assert _once(config).exit_code == 0
    sent = {
        s["headers"].get("meldingsid") or s["headers"].get("Meldingsid")
        for s in sandbox.admin.submissions()
        if s["operation"] == "submit"
    }
    settings = load_settings(config, environ={})
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        cases = journal.cases_in_states(*CaseState)
        assert len(cases) == 2
        for case in cases:
            [intent] = journal.intents(case.id)
            assert intent.operation == "submit"
            assert intent.meldingsid in sent


def test_symlink_in_the_inbox_is_refused_unread(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A data file that is a symbolic link is never followed: error report, moved to failed/."""
    config = _config(tmp_path, sandbox, credentials)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(FORMATS["csv-krav"].read_bytes())
    (_inbox(tmp_path, "csv-krav") / "utlegg_20251004_020000.csv").symlink_to(secret)

    assert _once(config).exit_code == 1

    report = json.loads((tmp_path / "outbox" / "utlegg_20251004_020000.csv.feil.json").read_text())
    assert "symbolic link" in report["message"]
    [moved] = [p for p in (tmp_path / "failed").rglob("*") if p.is_symlink()]
    assert moved.name == "utlegg_20251004_020000.csv"
    assert secret.read_bytes() == FORMATS["csv-krav"].read_bytes()
    assert sandbox.admin.submissions() == []


def test_once_leaves_a_case_waiting_for_its_pdf_to_the_next_run(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`once` does not sit out the attachment wait: the case waits, the next run ends it."""
    config = _config(tmp_path, sandbox, credentials)
    config.write_text(
        config.read_text().replace("attachments_wait_seconds: 5", "attachments_wait_seconds: 3600")
    )
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    late = inbox / "TR-2024-4411_dom.pdf"
    pdf = late.read_bytes()
    late.unlink()
    drop_renamed(FORMATS["csv-krav"], inbox)
    settings = load_settings(config, environ={})

    first = run_once(settings, max_wait_seconds=0.5)

    assert first.exit_code == 0
    [outcome] = first.outcomes
    assert outcome.file.state.value == "processing"
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        cases = journal.cases_for_file(outcome.file.id)
    assert {c.innsender_referanse: c.state.value for c in cases} == {
        "IB-2025-000127": "accepted",
        "IB-2025-000311": "waiting_attachments",
    }
    assert not (tmp_path / "outbox" / f"{FORMATS['csv-krav'].name}.kvittering.json").exists()
    assert held_cases(sandbox) == ["IB-2025-000127"]

    late.write_bytes(pdf)
    second = run_once(settings, max_wait_seconds=0.5)

    assert second.exit_code == 0
    got = receipt(tmp_path / "outbox", FORMATS["csv-krav"].name)
    assert {c["status"] for c in got["cases"]} == {"accepted"}
    assert held_cases(sandbox) == sorted(SAMPLE_CASES)
    assert FORMATS["csv-krav"].name in archived(tmp_path)


def test_pdf_still_needed_by_an_unfinished_file_is_not_archived(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Archiving a file leaves a PDF that another unfinished file's case still names."""
    from utlegg_gateway.elan import build_client
    from utlegg_gateway.gateway.pipeline import Pipeline
    from utlegg_gateway.journal.sqlite import CaseState as S

    config = _config(tmp_path, sandbox, credentials)
    settings = load_settings(config, environ={})
    inbox = _inbox(tmp_path, "csv-krav")
    for name in ("shared.pdf", "own.pdf"):
        (inbox / name).write_bytes(b"%PDF-1.4\n%%EOF\n")
    src = {"attachments": [{"filnavn": "shared.pdf"}, {"filnavn": "own.pdf"}]}

    async def files_to_archive() -> list[Path]:
        with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
            async with build_client(settings) as client:
                pipeline = Pipeline(settings, journal, client)
                done = journal.register_file(
                    inbox="csv-krav", name="a.csv", sha256="a", size=1, path=inbox / "a.csv"
                )
                waiting = journal.register_file(
                    inbox="csv-krav", name="b.csv", sha256="b", size=1, path=inbox / "b.csv"
                )
                first = journal.add_case(
                    done.id,
                    key="A",
                    innsender_referanse="A",
                    begjaeringsdato="2025-01-01",
                    payload={},
                    source=src,
                )
                journal.set_case_state(first.id, S.REJECTED_LOCAL)
                journal.add_case(
                    waiting.id,
                    key="B",
                    innsender_referanse="B",
                    begjaeringsdato="2025-01-01",
                    payload={},
                    source={"attachments": [{"filnavn": "shared.pdf"}]},
                )
                record = journal.file(done.id)
                return pipeline._attachment_files(record, journal.cases_for_file(done.id))

    moved = asyncio.run(files_to_archive())

    assert [p.name for p in moved] == ["own.pdf"]


def test_archive_failure_keeps_the_answer_and_moves_at_the_next_run(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """If archive/ cannot be written the receipt still stands; the next run archives the file."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    (tmp_path / "archive").write_text("not a folder")  # mkdir of a day folder fails

    assert _once(config).exit_code == 0

    name = FORMATS["xml-sak"].name
    assert {c["status"] for c in receipt(tmp_path / "outbox", name)["cases"]} == {"accepted"}
    assert (tmp_path / "work" / "xml-sak" / name).is_file()
    (tmp_path / "archive").unlink()

    assert _once(config).exit_code == 0

    assert name in archived(tmp_path)
    assert not (tmp_path / "work" / "xml-sak" / name).exists()
    assert len(sandbox.admin.cases()) == 2
    assert sorted(p.name for p in (tmp_path / "outbox").glob(f"{name}*.json")) == [
        f"{name}.kvittering.json"
    ]


def test_an_elan_rejection_422_is_recorded_and_receipted_in_process(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """ELAN's own 422 (a rule only the server checks) ends the case `rejected`, origin server.

    The register ELAN consults holds the sample's creditors as underenheter, which no
    payload shows: only the server can answer ER_IKKE_HOVEDENHET, as ELAN would.
    """
    config = _config(tmp_path, sandbox, credentials)
    for creditor in ("311758489", "313182495"):  # the two Kreditor orgnr of the sample
        sandbox.admin.add_register_entry(creditor, enhetstype="BEDR", hovedenhet="319100008")
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)
    progress = _Outcomes()

    report = _once(config, progress)

    assert report.exit_code == 1
    name = FORMATS["xml-sak"].name
    cases = receipt(tmp_path / "outbox", name)["cases"]
    assert cases and {c["status"] for c in cases} == {"rejected"}
    # The live counts (`once` on a terminal) say so too, case by case.
    assert progress.cases == ["rejected"] * len(cases)
    for case in cases:
        rules = {(e["rule"], e["origin"]) for e in case["errors"]}
        assert ("ER_IKKE_HOVEDENHET", "server") in rules
        # Said in English like a local finding; ELAN's own text kept verbatim beside it.
        [said] = [e for e in case["errors"] if e["rule"] == "ER_IKKE_HOVEDENHET"]
        assert said["message"] == RULES["ER_IKKE_HOVEDENHET"].explain()
        assert said["serverMessage"] == "Saksøker er ikke angitt med hovedenhet"
        assert case["korrelasjonsid"], case
        assert case["eksternSaksreferanse"] is None
    # The server saw each case once and refused it; none is held.
    statuses = [s["status"] for s in sandbox.admin.submissions() if s.get("operation") == "submit"]
    assert statuses == [422] * len(cases)
    assert sandbox.admin.cases() == []
    settings = load_settings(config, environ={})
    with Journal.open(settings.journal.path, clock=lambda: datetime.now(UTC)) as journal:
        rows = journal.cases_in_states(CaseState.REJECTED)
        assert len(rows) == len(cases)
        assert all(r.korrelasjonsid for r in rows)
        assert all("ER_IKKE_HOVEDENHET" in {e.rule for e in r.errors} for r in rows)
        assert all(
            e.server_message == "Saksøker er ikke angitt med hovedenhet"
            for r in rows
            for e in r.errors
            if e.rule == "ER_IKKE_HOVEDENHET"
        )
    csv_rows = receipt_csv(tmp_path / "outbox", name)
    assert {r["serverMessage"] for r in csv_rows if r["rule"] == "ER_IKKE_HOVEDENHET"} == {
        "Saksøker er ikke angitt med hovedenhet"
    }
    assert name in archived(tmp_path)


def test_an_innsender_other_than_the_token_s_organisation_is_never_sent(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Signed in through the system user of another organisation, the sample's innsender
    is not the organisation the token represents: refused locally by ELAN's own rule,
    before any call (the sandbox, like ELAN, would refuse it too: tests/sandbox)."""
    from tests.conftest import SANDBOX_SYSTEMUSER_ORG

    config = _config(
        tmp_path,
        sandbox,
        credentials,
        maskinporten={"systembruker": {"org": SANDBOX_SYSTEMUSER_ORG}},
    )
    inbox = _inbox(tmp_path, "xml-sak")
    drop_attachments("xml-sak", inbox)
    drop_renamed(FORMATS["xml-sak"], inbox)

    report = _once(config)

    assert report.exit_code == 1
    cases = receipt(tmp_path / "outbox", FORMATS["xml-sak"].name)["cases"]
    assert len(cases) == 2
    for case in cases:
        assert case["status"] == "rejected"
        found = [
            e for e in case["errors"] if e["rule"] == "INNSENDER_SAMSVARER_IKKE_MED_AUTENTISERING"
        ]
        assert [e["origin"] for e in found] == ["local"], case["errors"]
        assert SANDBOX_SYSTEMUSER_ORG in found[0]["message"]
        # English for the tool, the server's Norwegian text of the same finding beside it.
        assert found[0]["message"].startswith("The innsender's organisation number")
        assert found[0]["serverMessage"].startswith("Innsenders organisasjonsnummer")
        assert SANDBOX_SYSTEMUSER_ORG in found[0]["serverMessage"]
    assert [s for s in sandbox.admin.submissions() if s.get("operation") == "submit"] == []
    assert sandbox.admin.cases() == []


TRANSITIONS = "SELECT id FROM transitions WHERE entity = 'case' AND to_state = ?"


def test_cases_start_while_the_file_is_read(
    tmp_path: Path,
    sandbox: Any,
    credentials: Any,
    while_mapping: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Streamed, the first case is submitted before the last is recorded; held, after.

    One case in flight makes the order certain: reading waits for the slot, so with
    streaming the second batch of cases (two per batch here, a setting) is recorded only
    once the first has been submitted. The journal's transition ids are its commit order.
    """
    monkeypatch.setattr(pipeline, "RECORD_BATCH", 2)
    config = _config(
        tmp_path,
        sandbox,
        credentials,
        runner={"submit_while_mapping": while_mapping, "max_cases_in_flight": 1},
    )
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    refs = make_batch(6, inbox / "utlegg_20260101_020000.csv")

    assert _once(config).exit_code == 0

    path = load_settings(config, environ={}).journal.path
    created = [r[0] for r in journal_rows(path, TRANSITIONS, ("new",))]
    submitting = [r[0] for r in journal_rows(path, TRANSITIONS, ("submitting",))]
    assert len(created) == len(refs)
    assert len(submitting) == len(refs)
    if while_mapping:
        assert min(submitting) < max(created)
    else:
        assert max(created) < min(submitting)
    assert sorted(s["innsenderReferanse"] for s in sandbox.admin.cases()) == sorted(refs)


def test_an_adjacent_csv_whose_key_comes_back_answers_every_case_read(
    tmp_path: Path, sandbox: Any, credentials: Any, while_mapping: bool
) -> None:
    """`grouping: adjacent`, and a row of the first case after the last: the file fails
    naming the line and the option; every case completed before is in the receipt, sent
    and accepted when streamed, not sent when held; the original is kept in failed/."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (MAPPINGS / "csv-krav.yaml").read_text(encoding="utf-8")
    assert "  header: true\n" in text
    (mappings / "csv-krav.yaml").write_text(
        text.replace("  header: true\n", "  header: true\n  grouping: adjacent\n"),
        encoding="utf-8",
    )
    config = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"]},
        mapping_dirs=[mappings],
        stable_seconds=0.05,
        extra={"runner": {"submit_while_mapping": while_mapping}},
    )
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    source = tmp_path / "made" / "utlegg_20260202_020000.csv"
    source.parent.mkdir()
    refs = make_batch(5, source)
    header, first, *rest = source.read_bytes().split(b"\r\n")
    rows = [row for row in rest if row]
    # The first case's first row again after every other case's rows.
    original = b"\r\n".join([header, first, *rows, first, b""])
    source.write_bytes(original)
    drop_renamed(source, inbox)

    assert _once(config).exit_code == 1

    name = source.name
    report = json.loads((tmp_path / "outbox" / f"{name}.feil.json").read_text())
    assert report["code"] == "source-unreadable"
    line = 2 + 1 + len(rows)  # header, first row, the other rows: the next one
    assert f"at line {line}" in report["message"]
    assert "grouping: adjacent" in json.dumps(report)
    # The last case ended only on the line that broke the promise: never let out as
    # complete, so not recorded; the cases before it are all answered.
    read = refs[:-1]
    cases = receipt(tmp_path / "outbox", name)["cases"]
    assert sorted(c["innsenderReferanse"] for c in cases) == sorted(read)
    submitted = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    if while_mapping:
        assert len(submitted) == len(read)  # each once, before the break was read
        assert {c["status"] for c in cases} == {"accepted"}
        assert held_cases(sandbox) == sorted(read)
    else:
        assert submitted == []
        assert {c["status"] for c in cases} == {"failed"}
        assert all("this case was not sent" in c["errors"][0]["message"] for c in cases)
    kept = [p for p in (tmp_path / "failed").rglob("*") if p.is_file()]
    assert [p.name for p in kept] == [name]
    assert kept[0].read_bytes() == original


def test_auto_maps_a_big_held_file_on_every_core_and_a_streamed_one_in_process(
    tmp_path: Path,
    sandbox: Any,
    credentials: Any,
    while_mapping: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mapping_workers: auto`: workers for a held file (every file is "big" here), none
    for a streamed one; either way each case is sent once and the receipt is complete.

    A spy around `map_file` (the real one runs) records how many workers were asked for:
    nothing else outside the process shows it.
    """
    from utlegg_gateway.mapping import _parallel
    from utlegg_gateway.mapping import map_file as real

    monkeypatch.setattr(_parallel, "PARALLEL_MIN_BYTES", 0)
    asked: list[int] = []

    def spy(path: Path, spec: Any, ctx: Any, *, workers: int = 1) -> Any:
        asked.append(workers)
        return real(path, spec, ctx, workers=workers)

    monkeypatch.setattr(pipeline, "map_file", spy)
    config = _config(tmp_path, sandbox, credentials, runner={"submit_while_mapping": while_mapping})
    inbox = _inbox(tmp_path, "csv-krav")
    drop_attachments("csv-krav", inbox)
    name = "utlegg_20260101_020000.csv"
    refs = make_batch(9, inbox / name)

    assert _once(config).exit_code == 0

    assert asked == [1 if while_mapping else len(os.sched_getaffinity(0))]
    submits = [s for s in sandbox.admin.submissions() if s["operation"] == "submit"]
    assert len(submits) == len(refs)
    assert held_cases(sandbox) == refs
    cases = receipt(tmp_path / "outbox", name)["cases"]
    assert [c["innsenderReferanse"] for c in cases] == refs  # file order
    assert {c["status"] for c in cases} == {"accepted"}
