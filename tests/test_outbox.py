"""The outbox: atomic writes and the receipt / error report formats, on real folders."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from utlegg_gateway.errors import JournalError, OutboxError, SourceError
from utlegg_gateway.folders.outbox import (
    CSV_COLUMNS,
    RECEIPT_XML_NAMESPACE,
    CaseReceipt,
    ErrorReport,
    Receipt,
    ReceiptError,
    receipt_csv,
    receipt_csv_chunks,
    receipt_json_chunks,
    receipt_xml_chunks,
    sweep_temp_files,
    write_atomic,
    write_error_report,
    write_receipt,
)

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 27, 2, 5, tzinfo=UTC)


def _receipt() -> Receipt:
    return Receipt(
        source_name="utlegg_20261127_020000.csv",
        inbox="kravsys",
        sha256="ab" * 32,
        received_at=T0,
        finished_at=T1,
        cases=(
            CaseReceipt(
                innsender_referanse="K-1001",
                begjaeringsdato="2026-11-20",
                status="accepted",
                ekstern_saksreferanse="UB-2026-000017",
                korrelasjonsid="0d6f6c2e-8a43-4a5e-9e0c-6c3f2f4d7a11",
                submitted_at=T0,
                finished_at=T1,
            ),
            CaseReceipt(
                innsender_referanse="K-1002 «Ærlig; Øye»",
                begjaeringsdato="2026-11-20",
                status="rejected",
                finished_at=T1,
                errors=(
                    ReceiptError(
                        rule="UGYLDIG_KID",
                        message="KID-nummeret er ugyldig",
                        origin="local",
                        location="/betalingsinformasjon/kidnummer",
                        row=4,
                        column="KID",
                        value="1234",
                    ),
                    ReceiptError(
                        rule="MANGLER_KRAV", message="Ingen krav", origin="server", location=""
                    ),
                ),
            ),
        ),
    )


def _temp_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_write_atomic_is_byte_exact_and_leaves_no_temp(tmp_path: Path) -> None:
    """The target holds exactly the bytes given and no temp file remains."""
    data = bytes(range(256)) * 1000
    target = tmp_path / "out" / "x.bin"
    write_atomic(target, data)
    assert target.read_bytes() == data
    assert _temp_leftovers(target.parent) == []


def test_write_atomic_failure_is_an_outbox_error_without_leftovers(tmp_path: Path) -> None:
    """Writing onto a directory name fails with OutboxError and leaves no temp file."""
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutboxError) as err:
        write_atomic(tmp_path / "taken", b"data")
    assert err.value.file == str(tmp_path / "taken")
    assert _temp_leftovers(tmp_path) == []


def test_killed_writer_never_leaves_a_partial_target(tmp_path: Path) -> None:
    """A process killed in the middle of a write leaves the old content, never a mix."""
    target = tmp_path / "r.json"
    write_atomic(target, b"old")
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        import utlegg_gateway.folders.outbox.writer as ob
        def die(fd):
            os._exit(7)  # killed after the data is written, before the rename
        ob.os.fsync = die
        ob.write_atomic(Path({str(target)!r}), b"new" * 100000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == 7
    assert target.read_bytes() == b"old"
    # The crash leaves a hidden *.tmp that every reader (and our inbox) ignores.
    assert all(name.startswith(".") for name in _temp_leftovers(tmp_path))


def test_receipt_json_document(tmp_path: Path) -> None:
    """The JSON receipt carries status, reference, times, korrelasjonsid and error locations."""
    (path,) = write_receipt(tmp_path, "utlegg_20261127_020000.csv", _receipt(), ["json"])
    assert path.name == "utlegg_20261127_020000.csv.kvittering.json"
    doc = json.loads(path.read_bytes().decode("utf-8"))
    assert doc["format"] == "utlegg-gateway/kvittering" and doc["version"] == 1
    assert doc["file"]["receivedAt"] == "2026-11-27T02:00:00+00:00"
    assert doc["summary"] == {
        "cases": 2,
        "accepted": 1,
        "rejected": 1,
        "failed": 0,
        "duplicate": 0,
    }
    accepted, rejected = doc["cases"]
    assert accepted["eksternSaksreferanse"] == "UB-2026-000017"
    assert accepted["korrelasjonsid"] == "0d6f6c2e-8a43-4a5e-9e0c-6c3f2f4d7a11"
    assert accepted["submittedAt"] == "2026-11-27T02:00:00+00:00"
    assert rejected["errors"][0] == {
        "rule": "UGYLDIG_KID",
        "message": "KID-nummeret er ugyldig",
        "origin": "local",
        "location": "/betalingsinformasjon/kidnummer",
        "source": {"row": 4, "column": "KID"},
        "value": "1234",
    }
    assert rejected["errors"][1]["source"] == {}
    assert _temp_leftovers(tmp_path) == []


def test_receipt_csv_rows_per_case_and_error(tmp_path: Path) -> None:
    """The CSV receipt is UTF-8 with BOM, `;`, CRLF, a case row per case and an error row each."""
    paths = write_receipt(tmp_path, "f.csv", _receipt(), ["json", "csv"])
    assert [p.name for p in paths] == ["f.csv.kvittering.json", "f.csv.kvittering.csv"]
    raw = paths[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == list(CSV_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["case", "case", "error", "error"]
    assert rows[1][4] == "accepted" and rows[1][5] == "UB-2026-000017"
    # A value holding `;` is quoted and survives the round trip.
    assert rows[2][2] == "K-1002 «Ærlig; Øye»"
    assert rows[3][9:14] == ["UGYLDIG_KID", "KID-nummeret er ugyldig", "local", rows[3][12], "4"]
    assert rows[3][15] == "KID"


def test_receipt_csv_encoding_is_configurable(tmp_path: Path) -> None:
    """With cp1252 configured, the CSV bytes are cp1252 (Norwegian letters intact)."""
    (_, path) = write_receipt(tmp_path, "f.csv", _receipt(), ["csv"], csv_encoding="cp1252")
    text = path.read_bytes().decode("cp1252")
    assert "K-1002 «Ærlig; Øye»" in text


def test_receipt_xml_is_well_formed_and_complete(tmp_path: Path) -> None:
    """The XML receipt parses and has one `sak` per case with its `feil` children."""
    paths = write_receipt(tmp_path, "f.xml", _receipt(), ["xml"])
    assert paths[-1].name == "f.xml.kvittering.xml"
    root = etree.fromstring(paths[-1].read_bytes())
    ns = {"k": RECEIPT_XML_NAMESPACE}
    saker = root.findall("k:sak", ns)
    assert [s.get("status") for s in saker] == ["accepted", "rejected"]
    assert saker[0].get("eksternSaksreferanse") == "UB-2026-000017"
    feil = saker[1].findall("k:feil", ns)
    assert [(f.get("regel"), f.get("rad"), f.text) for f in feil] == [
        ("UGYLDIG_KID", "4", "KID-nummeret er ugyldig"),
        ("MANGLER_KRAV", None, "Ingen krav"),
    ]


def test_rewriting_the_same_receipt_is_a_no_op(tmp_path: Path) -> None:
    """Writing the identical receipt again (a resumed run) keeps the file and its mtime."""
    (first,) = write_receipt(tmp_path, "f.csv", _receipt())
    os.utime(first, (1_000_000, 1_000_000))
    (again,) = write_receipt(tmp_path, "f.csv", _receipt())
    assert again == first
    assert first.stat().st_mtime == 1_000_000


def test_a_different_receipt_for_a_used_name_gets_a_new_number(tmp_path: Path) -> None:
    """A second file dropped under the same name never overwrites the first receipt."""
    (first,) = write_receipt(tmp_path, "f.csv", _receipt())
    before = first.read_bytes()
    other = Receipt("f.csv", "kravsys", "cd" * 32, T0, T1)
    (second,) = write_receipt(tmp_path, "f.csv", other)
    assert second.name == "f.csv.2.kvittering.json"
    assert first.read_bytes() == before
    assert json.loads(second.read_bytes())["file"]["sha256"] == "cd" * 32


def test_path_tricks_in_the_name_are_refused(tmp_path: Path) -> None:
    """A source name with a folder part cannot write outside the outbox."""
    with pytest.raises(OutboxError):
        write_receipt(tmp_path, "../evil.csv", _receipt())
    assert list(tmp_path.iterdir()) == []


def test_error_report_from_gateway_error(tmp_path: Path) -> None:
    """An unreadable file gets NAME.feil.json and a plain NAME.feil.txt naming place and hint."""
    exc = SourceError(
        "ugyldig tegn i fødselsnummer 01817612345",
        file="inkassonett_20261127.xml",
        row=17,
        column="SKY_ID",
        hint="eksporter filen på nytt som ISO-8859-1",
    )
    paths = write_error_report(
        tmp_path,
        "inkassonett_20261127.xml",
        exc,
        at=T0,
        inbox="inkassonett",
        sha256="ef" * 32,
        moved_to="failed/inkassonett_20261127.xml",
    )
    assert [p.name for p in paths] == [
        "inkassonett_20261127.xml.feil.json",
        "inkassonett_20261127.xml.feil.txt",
    ]
    doc = json.loads(paths[0].read_bytes())
    assert doc["code"] == "source-unreadable"
    assert doc["file"]["movedTo"] == "failed/inkassonett_20261127.xml"
    assert doc["errors"][0]["source"] == {"row": 17, "column": "SKY_ID"}
    text = paths[1].read_text(encoding="utf-8")
    assert "rad 17, kolonne SKY_ID" in text
    assert "eksporter filen på nytt som ISO-8859-1" in text
    assert "failed/inkassonett_20261127.xml" in text
    # The human-readable text masks the identifier; nothing is half-written.
    assert "01817612345" not in text and "*********45" in text
    assert _temp_leftovers(tmp_path) == []


def test_error_report_from_report_object(tmp_path: Path) -> None:
    """A prepared ErrorReport with several errors lists each one in both files."""
    report = ErrorReport(
        source_name="u.csv",
        code="attachments-missing",
        message="vedlegg mangler",
        at=T0,
        errors=(
            ReceiptError(rule="VEDLEGG_MANGLER", message="a.pdf mangler", origin="gateway"),
            ReceiptError(rule="VEDLEGG_MANGLER", message="b.pdf mangler", origin="gateway"),
            ReceiptError(
                rule="VEDLEGG_SKAL_HA_UUID",
                message="Attachment 'c.pdf' has no uuid",
                server_message="Vedlegg 'c.pdf' mangler uuid",
            ),
        ),
    )
    json_path, txt_path = write_error_report(tmp_path, "u.csv", report)
    errors = json.loads(json_path.read_bytes())["errors"]
    assert len(errors) == 3
    assert [e.get("serverMessage") for e in errors] == [None, None, "Vedlegg 'c.pdf' mangler uuid"]
    text = txt_path.read_text(encoding="utf-8")
    assert "Feil 1: [VEDLEGG_MANGLER] a.pdf mangler" in text
    assert "Feil 2: [VEDLEGG_MANGLER] b.pdf mangler" in text
    assert (
        "Feil 3: [VEDLEGG_SKAL_HA_UUID] Attachment 'c.pdf' has no uuid\n"
        "  Skatteetatens tekst: Vedlegg 'c.pdf' mangler uuid\n"
    ) in text


def test_sweep_removes_only_temp_files_a_killed_write_left(tmp_path: Path) -> None:
    """A crash's `.NAME.<hex>.tmp` is removed at start; final files and other dotfiles stay."""
    outbox = tmp_path / "outbox"
    write_receipt(outbox, "a.csv", _receipt())  # a final file, as the outbox holds them
    leftover = outbox / "status" / ".IB-1.sakOpprettet.json.0123456789ab.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b'{"half":')
    foreign = outbox / ".keep"
    foreign.write_bytes(b"")
    not_ours = outbox / ".report.tmp"
    not_ours.write_bytes(b"x")

    removed = sweep_temp_files(outbox)

    assert removed == [leftover]
    assert sorted(p.relative_to(outbox).as_posix() for p in outbox.rglob("*") if p.is_file()) == [
        ".keep",
        ".report.tmp",
        "a.csv.kvittering.json",
    ]


@pytest.mark.parametrize("payload", ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "+1+1", "-2+3"])
def test_csv_receipt_neutralises_formulas_unless_told_not_to(payload: str) -> None:
    """A reference or name that a spreadsheet would run is written with a leading `'`."""
    case = CaseReceipt(innsender_referanse=payload, begjaeringsdato="2026-11-20", status="failed")
    receipt = Receipt(f"{payload}.csv", "kravsys", "ab" * 32, T0, T1, cases=(case,))

    rows = list(csv.reader(io.StringIO(receipt_csv(receipt).decode("utf-8-sig")), delimiter=";"))
    (row,) = rows[1:]
    assert row[1] == f"'{payload}.csv"
    assert row[2] == f"'{payload}"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)

    exact = receipt_csv(receipt, neutralise_formulas=False).decode("utf-8-sig")
    (row,) = list(csv.reader(io.StringIO(exact), delimiter=";"))[1:]
    assert row[2] == payload


def _many(n: int) -> Receipt:
    """`_receipt()`'s two cases repeated `n` times, renumbered (odd characters included)."""
    base = _receipt()
    cases = [
        CaseReceipt(
            innsender_referanse=f"{c.innsender_referanse}-{i}\n",
            begjaeringsdato=c.begjaeringsdato,
            status=c.status,
            ekstern_saksreferanse=c.ekstern_saksreferanse,
            finished_at=c.finished_at,
            errors=c.errors,
            note="two\nlines" if i % 3 == 0 else None,
        )
        for i in range(n)
        for c in base.cases
    ]
    return Receipt(
        source_name=base.source_name,
        inbox=base.inbox,
        sha256=base.sha256,
        received_at=T0,
        finished_at=T1,
        cases=tuple(cases),
    )


@pytest.mark.parametrize("n", [0, 1, 50])
def test_streamed_receipts_are_the_bytes_of_the_whole_document(n: int) -> None:
    """Written case by case, the JSON is json.dumps of the whole document and the XML is
    one pretty-printed tree (built here from the same cases as the reference)."""
    receipt = _many(n)
    whole = (json.dumps(receipt.to_json(), ensure_ascii=False, indent=2) + "\n").encode()
    assert b"".join(receipt_json_chunks(receipt)) == whole

    ns = RECEIPT_XML_NAMESPACE
    root = etree.Element(f"{{{ns}}}kvittering", nsmap={None: ns})  # type: ignore[dict-item]  # lxml-stubs reject the None (default) prefix
    for name, value in [
        ("versjon", "1"),
        ("fil", receipt.source_name),
        ("innboks", receipt.inbox),
        ("sha256", receipt.sha256),
        ("mottatt", T0.isoformat()),
        ("ferdig", T1.isoformat()),
    ]:
        root.set(name, value)
    for case in receipt.cases:
        sak = etree.SubElement(root, f"{{{ns}}}sak")
        sak.set("innsenderReferanse", case.innsender_referanse)
        sak.set("begjaeringsdato", case.begjaeringsdato)
        sak.set("status", case.status)
        optional: list[tuple[str, str | None]] = [
            ("eksternSaksreferanse", case.ekstern_saksreferanse),
            ("ferdig", case.finished_at.isoformat() if case.finished_at else None),
            ("merknad", case.note),
        ]
        for key, text in optional:
            if text is not None:
                sak.set(key, text)
        for err in case.errors:
            feil = etree.SubElement(sak, f"{{{ns}}}feil")
            feil.set("regel", err.rule)
            feil.set("opphav", err.origin)
            if err.location is not None:
                feil.set("lokasjon", err.location)
            if err.row is not None:
                feil.set("rad", str(err.row))
            if err.column is not None:
                feil.set("kolonne", err.column)
            feil.text = err.message
    tree = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    assert b"".join(receipt_xml_chunks(receipt)) == tree


def test_streamed_csv_receipt_has_one_bom_and_every_row() -> None:
    """The CSV written case by case starts with one BOM and holds a row per case and error."""
    receipt = _many(30)
    data = b"".join(receipt_csv_chunks(receipt))
    assert data == receipt_csv(receipt)
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows].count("case") == 60
    assert [r[0] for r in rows].count("error") == 60


class _Broken:
    """Cases that fail half-way through (the journal going away while a receipt streams)."""

    def __init__(self, cases: tuple[CaseReceipt, ...]) -> None:
        self._cases = cases

    def __iter__(self) -> Iterator[CaseReceipt]:
        yield self._cases[0]
        raise JournalError("journal gone")


def test_a_receipt_failing_half_way_leaves_no_file_and_no_temp(tmp_path: Path) -> None:
    """A case source failing mid-write leaves neither a partial receipt nor a temp file,
    and an earlier receipt under the name stays as it was."""
    (first,) = write_receipt(tmp_path, "f.csv", _receipt())
    before = first.read_bytes()
    base = _receipt()
    broken = Receipt(
        source_name="g.csv",
        inbox=base.inbox,
        sha256=base.sha256,
        received_at=T0,
        finished_at=T1,
        cases=_Broken(tuple(base.cases)),
    )
    with pytest.raises(JournalError, match="journal gone"):
        write_receipt(tmp_path, "g.csv", broken, ["json", "csv", "xml"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv.kvittering.json"]
    assert first.read_bytes() == before
