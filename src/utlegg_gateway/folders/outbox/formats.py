"""Rendering receipts and error reports as bytes: JSON, CSV and XML (pure functions)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator

from lxml import etree

from utlegg_gateway._logging import mask
from utlegg_gateway.folders.outbox.receipts import (
    RECEIPT_FORMAT_VERSION,
    CaseReceipt,
    ErrorReport,
    Receipt,
    iso_time,
)

__all__ = [
    "CSV_COLUMNS",
    "RECEIPT_XML_NAMESPACE",
    "error_report_json",
    "error_report_text",
    "neutralise",
    "receipt_csv",
    "receipt_csv_chunks",
    "receipt_json",
    "receipt_json_chunks",
    "receipt_xml",
    "receipt_xml_chunks",
    "xml_safe",
]

RECEIPT_XML_NAMESPACE = "urn:utlegg-gateway:kvittering:1"


def receipt_json(receipt: Receipt) -> bytes:
    """`NAME.kvittering.json`: UTF-8, indented, keys in a fixed order, newline at the end."""
    return b"".join(receipt_json_chunks(receipt))


def receipt_json_chunks(receipt: Receipt) -> Iterator[bytes]:
    """`receipt_json` case by case, so a file of any size is written in flat memory.

    The bytes are those of `json.dumps(receipt.to_json(), indent=2)`: the document is
    dumped with an empty case list, and each case is dumped alone and indented to its
    place (json.dumps never puts a raw newline inside a string, so indenting by line is
    exact).
    """
    head = json.dumps(receipt.to_json(with_cases=False), ensure_ascii=False, indent=2)
    cases = iter(receipt.cases)
    first = next(cases, None)
    if first is None:
        yield (head + "\n").encode("utf-8")
        return
    assert head.endswith("[]\n}")  # "cases" is the document's last key
    yield (head[: -len("[]\n}")] + "[\n").encode("utf-8")
    case: CaseReceipt | None = first
    while case is not None:
        text = json.dumps(case.to_json(), ensure_ascii=False, indent=2)
        following = next(cases, None)
        end = ",\n" if following is not None else "\n"
        yield ("    " + text.replace("\n", "\n    ") + end).encode("utf-8")
        case = following
    yield b"  ]\n}\n"


CSV_COLUMNS = (
    "type",
    "file",
    "innsenderReferanse",
    "begjaeringsdato",
    "status",
    "eksternSaksreferanse",
    "korrelasjonsid",
    "submittedAt",
    "finishedAt",
    "rule",
    "message",
    "origin",
    "location",
    "row",
    "element",
    "column",
    "field",
    "note",
    "serverMessage",
)


# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP "CSV
# injection"): `=cmd|' /C calc'!A0` in a case reference would run when opened.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: a leading `'` before a formula character."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


class _Rows:
    """csv.writer with every cell neutralised (and control characters shown escaped)."""

    def __init__(self, buf: io.StringIO, delimiter: str, *, formulas: bool) -> None:
        self._writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
        self._formulas = formulas

    def writerow(self, row: list[str]) -> None:
        cells = [xml_safe(c) for c in row]
        self._writer.writerow([neutralise(c) for c in cells] if self._formulas else cells)


def receipt_csv(
    receipt: Receipt,
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
    neutralise_formulas: bool = True,
) -> bytes:
    """`NAME.kvittering.csv`: a header, one `case` row per case, one `error` row per error.

    CRLF line ends and `;` as in the legacy exports; characters the chosen encoding
    cannot hold become `?` (a readable receipt beats none). Cells that a spreadsheet
    would run as a formula get a leading `'` unless `neutralise_formulas` is off (for
    importers that need the exact value back).
    """
    return b"".join(
        receipt_csv_chunks(
            receipt,
            encoding=encoding,
            delimiter=delimiter,
            neutralise_formulas=neutralise_formulas,
        )
    )


def receipt_csv_chunks(
    receipt: Receipt,
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
    neutralise_formulas: bool = True,
) -> Iterator[bytes]:
    """`receipt_csv` case by case (flat memory at any number of cases)."""
    # One incremental encoder for the whole file: `utf-8-sig` writes its BOM once.
    encoder = codecs.getincrementalencoder(encoding)(errors="replace")
    buf = io.StringIO()
    writer = _Rows(buf, delimiter, formulas=neutralise_formulas)

    def flush() -> bytes:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return encoder.encode(text)

    writer.writerow(list(CSV_COLUMNS))
    for case in receipt.cases:
        base = [
            receipt.source_name,
            case.innsender_referanse,
            case.begjaeringsdato,
            case.status,
            case.ekstern_saksreferanse or "",
            case.korrelasjonsid or "",
            iso_time(case.submitted_at) or "",
            iso_time(case.finished_at) or "",
        ]
        writer.writerow(["case", *base, *[""] * 8, case.note or "", ""])
        for err in case.errors:
            writer.writerow(
                [
                    "error",
                    *base,
                    err.rule,
                    err.message,
                    err.origin,
                    err.location or "",
                    "" if err.row is None else str(err.row),
                    err.element or "",
                    err.column or "",
                    err.field or "",
                    "",
                    err.server_message or "",
                ]
            )
        yield flush()
    yield flush() + encoder.encode("", final=True)


def receipt_xml(receipt: Receipt) -> bytes:
    """`NAME.kvittering.xml`: one `sak` per case with its `feil` children (UTF-8)."""
    return b"".join(receipt_xml_chunks(receipt))


_NS = RECEIPT_XML_NAMESPACE
_ROOT = f"{{{_NS}}}kvittering"
_ROOT_END = b"</kvittering>\n"


def _root() -> etree._Element:
    # lxml-stubs type nsmap keys as str; None (the default namespace) is what lxml wants.
    return etree.Element(_ROOT, nsmap={None: _NS})  # type: ignore[dict-item]  # lxml-stubs reject the None (default) prefix


def receipt_xml_chunks(receipt: Receipt) -> Iterator[bytes]:
    """`receipt_xml` case by case, byte for byte what one pretty-printed tree would give.

    Each `sak` is pretty-printed alone inside an empty root and cut out of it, so the
    whole tree is never held. The root's start tag is one line (lxml writes a newline in
    an attribute as `&#10;`), so the cuts are at known lines.
    """
    root = _root()
    root.set("versjon", str(RECEIPT_FORMAT_VERSION))
    _set(root, "fil", receipt.source_name)
    _set(root, "innboks", receipt.inbox)
    _set(root, "sha256", receipt.sha256)
    _set(root, "mottatt", iso_time(receipt.received_at))
    _set(root, "ferdig", iso_time(receipt.finished_at))
    _set(root, "duplikatAv", receipt.duplicate_of)
    cases = iter(receipt.cases)
    case = next(cases, None)
    if case is None:  # an empty root is written `<kvittering .../>`
        yield _tostring(root, declaration=True)
        return
    etree.SubElement(root, "x")
    declaration, start, _ = _tostring(root, declaration=True).split(b"\n", 2)
    yield declaration + b"\n" + start + b"\n"
    while case is not None:
        holder = _root()
        _sak(holder, case)
        text = _tostring(holder, declaration=False)
        yield text[text.index(b"\n") + 1 : -len(_ROOT_END)]
        case = next(cases, None)
    yield _ROOT_END


def _tostring(root: etree._Element, *, declaration: bool) -> bytes:
    return bytes(
        etree.tostring(root, xml_declaration=declaration, encoding="UTF-8", pretty_print=True)
    )


def _sak(parent: etree._Element, case: CaseReceipt) -> None:
    sak = etree.SubElement(parent, f"{{{_NS}}}sak")
    _set(sak, "innsenderReferanse", case.innsender_referanse)
    _set(sak, "begjaeringsdato", case.begjaeringsdato)
    _set(sak, "status", case.status)
    _set(sak, "eksternSaksreferanse", case.ekstern_saksreferanse)
    _set(sak, "korrelasjonsid", case.korrelasjonsid)
    _set(sak, "innsendt", iso_time(case.submitted_at))
    _set(sak, "ferdig", iso_time(case.finished_at))
    _set(sak, "merknad", case.note)
    for err in case.errors:
        feil = etree.SubElement(sak, f"{{{_NS}}}feil")
        _set(feil, "regel", err.rule)
        _set(feil, "opphav", err.origin)
        _set(feil, "lokasjon", err.location)
        _set(feil, "rad", None if err.row is None else str(err.row))
        _set(feil, "element", err.element)
        _set(feil, "kolonne", err.column)
        _set(feil, "felt", err.field)
        _set(feil, "servermelding", err.server_message)
        feil.text = xml_safe(err.message)


def _set(element: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        element.set(name, xml_safe(value))


# XML 1.0 cannot hold most control characters at all (not even as &#x1b;).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` with every character XML 1.0 forbids written as a visible `\\xNN` escape."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def error_report_json(report: ErrorReport) -> bytes:
    """`NAME.feil.json`."""
    return (json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def error_report_text(report: ErrorReport) -> bytes:
    """`NAME.feil.txt`: plain Norwegian text for the person who must act; identifiers masked."""
    lines = [
        f"utlegg-gateway: feilrapport for {report.source_name}",
        "",
        f"Filen kunne ikke behandles: {mask(report.message)}",
        f"Feilkode: {report.code}",
        f"Tidspunkt: {iso_time(report.at)}",
    ]
    if report.inbox:
        lines.append(f"Innboks: {report.inbox}")
    if report.sha256:
        lines.append(f"SHA-256: {report.sha256}")
    if report.moved_to:
        lines.append(f"Originalen ligger nå i: {report.moved_to}")
    for number, err in enumerate(report.errors, 1):
        where = ", ".join(
            f"{label} {value}"
            for label, value in (
                ("rad", err.row),
                ("element", err.element),
                ("kolonne", err.column),
                ("felt", err.field),
                ("sti", err.location),
            )
            if value is not None
        )
        lines += ["", f"Feil {number}: [{err.rule}] {mask(err.message)}"]
        if err.server_message is not None:
            lines.append(f"  Skatteetatens tekst: {mask(err.server_message)}")
        if where:
            lines.append(f"  Sted: {mask(where)}")
        if err.value is not None:
            lines.append(f"  Verdi: {mask(err.value)}")
    if report.hint:
        lines += ["", f"Tips: {mask(report.hint)}"]
    lines += [
        "",
        "Hva nå: rett feilen i fagsystemet (eller i oppsettet av gatewayen) og legg",
        "filen i innboksen på nytt. Den samme filen blir lest på nytt når den forrige",
        "feilet; ingen saker fra denne filen er sendt inn.",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
