"""Hostile drops through the whole gateway: an answer for each, the companions unharmed.

Real files in temporary folders, the real sandbox, `once` in process. Each test checks
where the file ended, the outbox answer's code and location, that the good companion in
the same run was accepted, and that a later drop is still processed.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e._support import FORMATS, drop_attachments, drop_renamed, receipt
from utlegg_gateway.config import load_settings
from utlegg_gateway.demo import write_gateway_config
from utlegg_gateway.gateway.runner import run_once

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
FIFO_PDF = "IB-2025-000127_betalingsoppfordring.pdf"  # named by case IB-2025-000127 only


def _config(tmp_path: Path, sandbox: Any, credentials: Any, **readiness: Any) -> Path:
    """Both inboxes; `readiness` applies to csv-krav only (xml-sak holds the companions)."""
    path = write_gateway_config(
        tmp_path,
        sandbox=sandbox,
        credentials=credentials,
        inboxes={"csv-krav": ["csv-krav"], "xml-sak": ["xml-sak"]},
        mapping_dirs=[MAPPINGS],
        stable_seconds=0.05,
    )
    data = yaml.safe_load(path.read_text("utf-8"))
    for inbox in data["inboxes"]:
        if inbox["name"] == "csv-krav":
            inbox["readiness"].update(readiness)
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def _cases(tmp_path: Path, name: str) -> dict[str, dict[str, Any]]:
    return {c["innsenderReferanse"]: c for c in receipt(tmp_path / "outbox", name)["cases"]}


def _later_drop_is_processed(tmp_path: Path, config: Path) -> None:
    inbox = tmp_path / "inbox" / "xml-sak"
    drop_attachments("xml-sak", inbox)
    name = drop_renamed(FORMATS["xml-sak"], inbox, "later.xml").name
    run_once(load_settings(config, environ={}))
    assert set(_cases(tmp_path, name)) == {"IB-2025-000127", "IB-2025-000311"}


def test_a_fifo_or_hard_linked_attachment_fails_its_case_only(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A FIFO named as a PDF once hung `once` for ever; now its case fails, named, at once."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    (inbox / FIFO_PDF).unlink()
    os.mkfifo(inbox / FIFO_PDF)
    name = drop_renamed(FORMATS["csv-krav"], inbox).name

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 1
    cases = _cases(tmp_path, name)
    assert cases["IB-2025-000311"]["status"] == "accepted"
    bad = cases["IB-2025-000127"]
    assert bad["status"] == "failed"
    [error] = bad["errors"]
    assert error["rule"] == "attachment-refused"
    assert FIFO_PDF in error["message"] and "not a regular file" in error["message"]
    assert [c["innsenderReferanse"] for c in sandbox.admin.cases()] == ["IB-2025-000311"]
    assert not any(u.get("filnavn") == FIFO_PDF for u in sandbox.admin.uploads())
    _later_drop_is_processed(tmp_path, config)


def test_a_hard_link_to_a_file_outside_is_never_uploaded(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A PDF hard-linked in from elsewhere is refused (off by default), its case failed."""
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    secret = tmp_path / "private" / "lonnsslipp.pdf"
    secret.parent.mkdir()
    secret.write_bytes(b"%PDF-1.4 someone else's payslip")
    (inbox / FIFO_PDF).unlink()
    os.link(secret, inbox / FIFO_PDF)
    name = drop_renamed(FORMATS["csv-krav"], inbox).name

    assert run_once(load_settings(config, environ={})).exit_code == 1

    cases = _cases(tmp_path, name)
    assert cases["IB-2025-000311"]["status"] == "accepted"
    [error] = cases["IB-2025-000127"]["errors"]
    assert (error["rule"], error["origin"]) == ("attachment-refused", "gateway")
    assert "hard link" in error["message"]
    uploaded = [u.get("filnavn") for u in sandbox.admin.uploads()]
    assert FIFO_PDF not in uploaded


def test_an_empty_export_is_answered_and_moved_to_failed(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A 0-byte export no longer waits for ever: past its age it gets NAME.feil.json."""
    config = _config(tmp_path, sandbox, credentials, empty_file_max_age_seconds=0)
    (tmp_path / "inbox" / "csv-krav" / "tom.csv").write_bytes(b"")
    drop_attachments("xml-sak", tmp_path / "inbox" / "xml-sak")
    companion = drop_renamed(FORMATS["xml-sak"], tmp_path / "inbox" / "xml-sak").name

    report = run_once(load_settings(config, environ={}))

    assert report.exit_code == 1
    assert {c["status"] for c in _cases(tmp_path, companion).values()} == {"accepted"}
    feil = json.loads((tmp_path / "outbox" / "tom.csv.feil.json").read_bytes())
    assert feil["code"] == "inbox-error"
    assert "empty (0 bytes)" in feil["message"]
    assert feil["file"]["name"] == "tom.csv"
    assert (tmp_path / "failed" / "tom.csv").is_file()
    assert not (tmp_path / "inbox" / "csv-krav" / "tom.csv").exists()


def test_an_export_over_the_size_limit_is_refused_unread(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Over `max_file_bytes`: an error report naming the limit, the original in failed/."""
    config = _config(tmp_path, sandbox, credentials, max_file_bytes=4096)
    big = tmp_path / "inbox" / "csv-krav" / "stor.csv"
    big.write_bytes(b"SAKSNR;X\n" + b"A;" + b"x" * 8192 + b"\n")
    drop_attachments("xml-sak", tmp_path / "inbox" / "xml-sak")
    companion = drop_renamed(FORMATS["xml-sak"], tmp_path / "inbox" / "xml-sak").name

    assert run_once(load_settings(config, environ={})).exit_code == 1

    assert {c["status"] for c in _cases(tmp_path, companion).values()} == {"accepted"}
    feil = json.loads((tmp_path / "outbox" / "stor.csv.feil.json").read_bytes())
    assert "max_file_bytes (4096)" in feil["message"]
    assert (tmp_path / "failed" / "stor.csv").is_file()


def test_an_export_whose_records_are_in_another_namespace_is_not_silently_empty(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Records in a foreign namespace once gave "0 cases", exit 0, archived: now an error."""
    config = _config(tmp_path, sandbox, credentials)
    foreign = (
        FORMATS["xml-sak"]
        .read_bytes()
        .replace(b"urn:no:inkassonett:eksport:3", b"urn:no:inkassonett:eksport:4")
    )
    xml_inbox = tmp_path / "inbox" / "xml-sak"
    (xml_inbox / "ny_versjon.xml.part").write_bytes(foreign)
    (xml_inbox / "ny_versjon.xml.part").replace(xml_inbox / "ny_versjon.xml")
    drop_attachments("csv-krav", tmp_path / "inbox" / "csv-krav")
    companion = drop_renamed(FORMATS["csv-krav"], tmp_path / "inbox" / "csv-krav").name

    assert run_once(load_settings(config, environ={})).exit_code == 1

    assert {c["status"] for c in _cases(tmp_path, companion).values()} == {"accepted"}
    feil = json.loads((tmp_path / "outbox" / "ny_versjon.xml.feil.json").read_bytes())
    assert feil["code"] == "source-unreadable"
    assert "found no case" in feil["message"] and "namespace" in feil["hint"]
    assert (tmp_path / "failed" / "ny_versjon.xml").is_file()
    assert not (tmp_path / "outbox" / "ny_versjon.xml.kvittering.json").exists()


def test_one_record_in_a_foreign_namespace_is_a_refused_case_not_a_lost_one(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """Two cases, the second in another namespace: it once vanished without a word; now the
    receipt has it as a refused case naming the element, its line and both namespaces."""
    config = _config(tmp_path, sandbox, credentials)
    text = FORMATS["xml-sak"].read_bytes()
    head, sep, tail = text.partition(b'<in:Sak saksnr="IB-2025-000311"')
    body, end, rest = tail.partition(b"</in:Sak>")
    foreign = (
        head
        + b'<x:Sak xmlns:x="urn:no:inkassonett:eksport:4" saksnr="IB-2025-000311"'
        + body
        + b"</x:Sak>"
        + rest
    )
    assert sep and end
    line = head.count(b"\n") + 1
    xml_inbox = tmp_path / "inbox" / "xml-sak"
    drop_attachments("xml-sak", xml_inbox)
    (xml_inbox / "blandet.xml.part").write_bytes(foreign)
    (xml_inbox / "blandet.xml.part").replace(xml_inbox / "blandet.xml")

    assert run_once(load_settings(config, environ={})).exit_code == 1

    cases = _cases(tmp_path, "blandet.xml")
    assert cases["IB-2025-000127"]["status"] == "accepted"
    lost = cases["/Utleggsbatch/Sak[2]"]
    assert lost["status"] != "accepted"
    (error,) = lost["errors"]
    assert error["rule"] == "foreign-record"
    assert f"<Sak> element at line {line} " in error["message"]
    assert "'urn:no:inkassonett:eksport:4'" in error["message"]
    assert "'urn:no:inkassonett:eksport:3'" in error["message"]
    assert error["source"]["element"] == "/Utleggsbatch/Sak[2]"
    assert len(cases) == 2
    submitted = [r for r in sandbox.sandbox.state.requests() if r.method == "POST"]
    assert not any(b"IB-2025-000311" in r.body for r in submitted)
    _later_drop_is_processed(tmp_path, config)


def test_an_xml_value_longer_than_libxml2_takes_is_refused_before_it_is_buffered(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """A 12 MB attribute: an error report (source-unsafe, about which byte), failed/; it is
    refused while reading, not after libxml2 buffered the whole tag (benchmark:
    benchmarks/bench_hostile_memory.py)."""
    config = _config(tmp_path, sandbox, credentials)
    text = FORMATS["xml-sak"].read_bytes()
    head, _, tail = text.partition(b"<in:Underskrift>")
    xml_inbox = tmp_path / "inbox" / "xml-sak"
    part = xml_inbox / "lang.xml.part"
    part.write_bytes(head + b'<in:Underskrift notat="' + b"A" * 12_000_000 + b'">' + tail)
    part.replace(xml_inbox / "lang.xml")
    drop_attachments("csv-krav", tmp_path / "inbox" / "csv-krav")
    companion = drop_renamed(FORMATS["csv-krav"], tmp_path / "inbox" / "csv-krav").name

    assert run_once(load_settings(config, environ={})).exit_code == 1

    assert {c["status"] for c in _cases(tmp_path, companion).values()} == {"accepted"}
    feil = json.loads((tmp_path / "outbox" / "lang.xml.feil.json").read_bytes())
    assert feil["code"] == "source-unsafe"
    assert "longer than 10000000 bytes" in feil["message"]
    assert f"about byte {head.rfind(b'>') + 1}" in feil["message"]  # after the last tag
    assert (tmp_path / "failed" / "lang.xml").is_file()
    _later_drop_is_processed(tmp_path, config)


def test_a_look_alike_reference_is_rejected_and_names_are_nfc(
    tmp_path: Path, sandbox: Any, credentials: Any
) -> None:
    """`IB-2025-\\u200b000311` (a zero-width space) once passed as a new case beside
    IB-2025-000311; now that case is rejected with UGYLDIG_TEGN at its row and field. The
    other case goes on, its name sent in NFC though the export wrote it decomposed."""
    config = _config(tmp_path, sandbox, credentials)
    text = FORMATS["csv-krav"].read_bytes().decode("cp1252")  # the sample's encoding
    text = text.replace("IB-2025-000311", "IB-2025-\u200b000311")
    text = text.replace("å", unicodedata.normalize("NFD", "å"))  # a + combining ring
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    (inbox / "lik.csv.part").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (inbox / "lik.csv.part").replace(inbox / "lik.csv")

    assert run_once(load_settings(config, environ={})).exit_code == 1

    cases = _cases(tmp_path, "lik.csv")
    assert cases["IB-2025-000127"]["status"] == "accepted"
    bad = cases["IB-2025-\u200b000311"]
    assert bad["status"] == "rejected"
    [error] = [e for e in bad["errors"] if e["rule"] == "UGYLDIG_TEGN"]
    assert error["location"] == "/innsenderReferanse"
    assert "U+200B ZERO WIDTH SPACE" in error["message"]
    assert error["source"].get("row")
    held = sandbox.admin.cases()
    assert [c["innsenderReferanse"] for c in held] == ["IB-2025-000127"]
    sent = json.dumps(held[0]["payload"], ensure_ascii=False)
    assert "å" in sent and sent == unicodedata.normalize("NFC", sent)
    _later_drop_is_processed(tmp_path, config)


def _sample_text() -> str:
    return FORMATS["csv-krav"].read_bytes().decode("cp1252")


def _duplicate_header() -> bytes:
    lines = _sample_text().split("\r\n")
    header = lines[0].split(";")
    header[-1] = header[1]  # the last column renamed to the second's name
    return "\r\n".join([";".join(header), *lines[1:]]).encode("cp1252")


def _bom_inside() -> bytes:
    lines = _sample_text().split("\r\n")
    return "\r\n".join([*lines[:3], "\ufeff" + lines[3], *lines[4:]]).encode("utf-8")


def _mixed_encodings() -> bytes:
    lines = _sample_text().split("\r\n")
    head = "\r\n".join(lines[:3]).encode("utf-8")
    return head + b"\r\n" + "\r\n".join(lines[3:]).encode("cp1252")


_AMBIGUOUS = {
    "duplicate-header": (_duplicate_header, "appears 2 times in the header", 1),
    "bom-inside": (_bom_inside, "byte-order mark", 4),
    "mixed-encodings": (_mixed_encodings, "mixes encodings", 4),
}


@pytest.mark.parametrize("kind", sorted(_AMBIGUOUS))
def test_an_ambiguous_csv_is_an_error_not_a_guess(
    tmp_path: Path, sandbox: Any, credentials: Any, kind: str
) -> None:
    """A duplicated header, a BOM mid-file, a UTF-8 file with cp1252 lines: each once was
    read one way silently; now the file is refused naming the row, nothing of it sent,
    the companion accepted."""
    make, words, row = _AMBIGUOUS[kind]
    config = _config(tmp_path, sandbox, credentials)
    inbox = tmp_path / "inbox" / "csv-krav"
    drop_attachments("csv-krav", inbox)
    (inbox / "tvetydig.csv.part").write_bytes(make())
    (inbox / "tvetydig.csv.part").replace(inbox / "tvetydig.csv")
    drop_attachments("xml-sak", tmp_path / "inbox" / "xml-sak")
    companion = drop_renamed(FORMATS["xml-sak"], tmp_path / "inbox" / "xml-sak").name

    assert run_once(load_settings(config, environ={})).exit_code == 1

    assert {c["status"] for c in _cases(tmp_path, companion).values()} == {"accepted"}
    feil = json.loads((tmp_path / "outbox" / "tvetydig.csv.feil.json").read_bytes())
    assert words in feil["message"]
    assert [e["source"].get("row") for e in feil["errors"]] == [row]
    assert (tmp_path / "failed" / "tvetydig.csv").is_file()
    submitted = [c["innsenderReferanse"] for c in sandbox.admin.cases()]
    assert sorted(submitted) == ["IB-2025-000127", "IB-2025-000311"]  # the companion's only
    assert len(submitted) == 2
