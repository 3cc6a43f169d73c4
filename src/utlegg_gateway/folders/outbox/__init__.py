"""The outbox: every file the gateway hands back appears atomically, never half-written.

Per input file `NAME` (see docs/architecture.md "Outbox formats"):

- `NAME.kvittering.json`: the receipt, one entry per case (status, eksternSaksreferanse,
  times, korrelasjonsid, every error with rule, message and source location);
- `NAME.kvittering.csv` / `NAME.kvittering.xml`: the same for legacy import, per inbox;
- `NAME.feil.json` + `NAME.feil.txt`: the file could not be read at all.

Writes go to a hidden temp name in the same folder, are fsynced, renamed with
`os.replace`, and the folder is fsynced (POSIX). Nothing in the outbox is overwritten: a
rewrite with identical bytes is a no-op (so a resumed run is idempotent); different
content for a name already used gets the next free number, `NAME.2.kvittering.json`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from utlegg_gateway._logging import mask
from utlegg_gateway.errors import GatewayError, OutboxError
from utlegg_gateway.folders._fs import fsync_dir

__all__ = [
    "CSV_COLUMNS",
    "RECEIPT_FORMAT_VERSION",
    "RECEIPT_XML_NAMESPACE",
    "CaseReceipt",
    "CaseStatus",
    "ErrorReport",
    "Receipt",
    "ReceiptError",
    "error_from_gateway_error",
    "error_report_json",
    "error_report_text",
    "receipt_csv",
    "receipt_json",
    "receipt_xml",
    "sweep_temp_files",
    "write_atomic",
    "write_error_report",
    "write_receipt",
]

RECEIPT_FORMAT_VERSION = 1
RECEIPT_XML_NAMESPACE = "urn:utlegg-gateway:kvittering:1"
CaseStatus = Literal["accepted", "rejected", "failed", "duplicate"]
_STATUSES: tuple[CaseStatus, ...] = ("accepted", "rejected", "failed", "duplicate")


# -- data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptError:
    """One error of a case or file: rule/code, message and where it was found.

    `origin` is "local" (our prøving/mapping), "server" (ELAN's 422) or "gateway"
    (transport, attachments, …). `location` is a JSON pointer into the begjæring;
    `row`/`element`/`column` point into the source file.
    """

    rule: str
    message: str
    origin: Literal["local", "server", "gateway"] = "local"
    location: str | None = None
    row: int | None = None
    element: str | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this error (absent details are left out of `source`)."""
        source = {
            k: v
            for k, v in (("row", self.row), ("element", self.element), ("column", self.column))
            if v is not None
        }
        out: dict[str, Any] = {
            "rule": self.rule,
            "message": self.message,
            "origin": self.origin,
            "location": self.location,
            "source": source,
        }
        if self.field is not None:
            out["field"] = self.field
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True)
class CaseReceipt:
    """The outcome of one case (begjæring)."""

    innsender_referanse: str
    begjaeringsdato: str
    status: CaseStatus
    ekstern_saksreferanse: str | None = None
    korrelasjonsid: str | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    errors: tuple[ReceiptError, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this case."""
        return {
            "innsenderReferanse": self.innsender_referanse,
            "begjaeringsdato": self.begjaeringsdato,
            "status": self.status,
            "eksternSaksreferanse": self.ekstern_saksreferanse,
            "korrelasjonsid": self.korrelasjonsid,
            "submittedAt": _iso(self.submitted_at),
            "finishedAt": _iso(self.finished_at),
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class Receipt:
    """The receipt of one input file: all its cases, once every case reached an end state.

    Build it from the journal only (no "generated now" time), so that writing it again
    after a crash gives the same bytes.
    """

    source_name: str
    inbox: str
    sha256: str
    received_at: datetime
    finished_at: datetime | None
    cases: tuple[CaseReceipt, ...] = ()
    # Set when the file's content was seen before: the name it was first received under.
    duplicate_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON document (see docs/architecture.md "Outbox formats")."""
        counts = {s: sum(1 for c in self.cases if c.status == s) for s in _STATUSES}
        return {
            "format": "utlegg-gateway/kvittering",
            "version": RECEIPT_FORMAT_VERSION,
            "file": {
                "name": self.source_name,
                "inbox": self.inbox,
                "sha256": self.sha256,
                "receivedAt": _iso(self.received_at),
                "finishedAt": _iso(self.finished_at),
                "duplicateOf": self.duplicate_of,
            },
            "summary": {"cases": len(self.cases), **counts},
            "cases": [c.to_json() for c in self.cases],
        }


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """Why a whole file could not be read, for a person to act on."""

    source_name: str
    code: str
    message: str
    at: datetime
    inbox: str | None = None
    sha256: str | None = None
    # Where the original now lies (failed/…), so the operator can find it.
    moved_to: str | None = None
    hint: str | None = None
    errors: tuple[ReceiptError, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The JSON document of `NAME.feil.json`."""
        return {
            "format": "utlegg-gateway/feilrapport",
            "version": RECEIPT_FORMAT_VERSION,
            "file": {
                "name": self.source_name,
                "inbox": self.inbox,
                "sha256": self.sha256,
                "movedTo": self.moved_to,
            },
            "at": _iso(self.at),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "errors": [e.to_json() for e in self.errors],
        }


def error_from_gateway_error(
    exc: GatewayError, origin: Literal["local", "server", "gateway"] = "local"
) -> ReceiptError:
    """A receipt error from a GatewayError's detail attributes (rule falls back to code)."""
    return ReceiptError(
        rule=exc.rule or exc.kode or exc.code,
        message=exc.message,
        origin=origin,
        row=exc.row,
        element=exc.element,
        column=exc.column,
        field=exc.field,
        value=exc.value,
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- rendering (pure) ------------------------------------------------------------------


def receipt_json(receipt: Receipt) -> bytes:
    """`NAME.kvittering.json`: UTF-8, indented, keys in a fixed order, newline at the end."""
    return (json.dumps(receipt.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


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
)


def receipt_csv(receipt: Receipt, *, encoding: str = "utf-8-sig", delimiter: str = ";") -> bytes:
    """`NAME.kvittering.csv`: a header, one `case` row per case, one `error` row per error.

    CRLF line ends and `;` as in the legacy exports; characters the chosen encoding
    cannot hold become `?` (a readable receipt beats none).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in receipt.cases:
        base = [
            receipt.source_name,
            case.innsender_referanse,
            case.begjaeringsdato,
            case.status,
            case.ekstern_saksreferanse or "",
            case.korrelasjonsid or "",
            _iso(case.submitted_at) or "",
            _iso(case.finished_at) or "",
        ]
        writer.writerow(["case", *base, *[""] * 8])
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
                ]
            )
    return buf.getvalue().encode(encoding, errors="replace")


def receipt_xml(receipt: Receipt) -> bytes:
    """`NAME.kvittering.xml`: one `sak` per case with its `feil` children (UTF-8)."""
    ns = RECEIPT_XML_NAMESPACE
    # lxml-stubs type nsmap keys as str; None (the default namespace) is what lxml wants.
    root = etree.Element(f"{{{ns}}}kvittering", nsmap={None: ns})  # type: ignore[dict-item]  # lxml-stubs reject the None (default) prefix
    root.set("versjon", str(RECEIPT_FORMAT_VERSION))
    _set(root, "fil", receipt.source_name)
    _set(root, "innboks", receipt.inbox)
    _set(root, "sha256", receipt.sha256)
    _set(root, "mottatt", _iso(receipt.received_at))
    _set(root, "ferdig", _iso(receipt.finished_at))
    _set(root, "duplikatAv", receipt.duplicate_of)
    for case in receipt.cases:
        sak = etree.SubElement(root, f"{{{ns}}}sak")
        _set(sak, "innsenderReferanse", case.innsender_referanse)
        _set(sak, "begjaeringsdato", case.begjaeringsdato)
        _set(sak, "status", case.status)
        _set(sak, "eksternSaksreferanse", case.ekstern_saksreferanse)
        _set(sak, "korrelasjonsid", case.korrelasjonsid)
        _set(sak, "innsendt", _iso(case.submitted_at))
        _set(sak, "ferdig", _iso(case.finished_at))
        for err in case.errors:
            feil = etree.SubElement(sak, f"{{{ns}}}feil")
            _set(feil, "regel", err.rule)
            _set(feil, "opphav", err.origin)
            _set(feil, "lokasjon", err.location)
            _set(feil, "rad", None if err.row is None else str(err.row))
            _set(feil, "element", err.element)
            _set(feil, "kolonne", err.column)
            _set(feil, "felt", err.field)
            feil.text = err.message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _set(element: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        element.set(name, value)


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
        f"Tidspunkt: {_iso(report.at)}",
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


# -- writing ---------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Make `path` hold exactly `data`, all or nothing: temp name in the same folder,
    fsync, `os.replace`, fsync of the folder. Raises OutboxError; never leaves a partial
    file or a temp file behind.
    """
    folder = path.parent
    # Hidden and *.tmp: readers that ignore temp names (ours included) never pick it up.
    tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the original error is the one to report
            tmp.unlink(missing_ok=True)
        raise OutboxError(
            f"cannot write {path.name}: {exc.strerror or exc}",
            file=str(path),
            hint="check that the outbox folder exists, is writable and has free space",
        ) from exc


# write_atomic's temp names: ".<final name>.<12 hex>.tmp"
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def sweep_temp_files(root: Path) -> list[Path]:
    """Remove temp files a killed writer left under `root` (recursively); returns them.

    Only call while holding the run lock: then no write of ours is in progress, and a
    file with write_atomic's temp name can only be the remains of a crash.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.rglob(".*.tmp"):
        if _TEMP_NAME.match(path.name) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _numbered(outbox: Path, source_name: str, suffixes: Sequence[str], n: int) -> list[Path]:
    stem = source_name if n == 1 else f"{source_name}.{n}"
    return [outbox / f"{stem}{suffix}" for suffix in suffixes]


def _write_set(outbox: Path, source_name: str, items: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write files sharing one stem; reuse the stem only where nothing would be overwritten."""
    if "/" in source_name or "\\" in source_name or source_name in {"", ".", ".."}:
        raise OutboxError("an outbox name must be a plain file name", file=source_name)
    suffixes = [suffix for suffix, _ in items]
    n = 1
    while True:
        paths = _numbered(outbox, source_name, suffixes, n)
        if all(_free_or_same(p, data) for p, (_, data) in zip(paths, items, strict=True)):
            break
        n += 1
    for path, (_, data) in zip(paths, items, strict=True):
        if not _same(path, data):
            write_atomic(path, data)
    return paths


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutboxError(f"cannot read {path.name}: {exc.strerror}", file=str(path)) from exc


def _free_or_same(path: Path, data: bytes) -> bool:
    return not path.exists() or _same(path, data)


def write_receipt(
    outbox: Path,
    source_name: str,
    receipt: Receipt,
    formats: Iterable[str] = ("json",),
    *,
    csv_encoding: str = "utf-8-sig",
    csv_delimiter: str = ";",
) -> list[Path]:
    """Write `NAME.kvittering.json` (always) plus `.csv` / `.xml` when in `formats`.

    Idempotent: rewriting the same receipt changes nothing. Returns the paths written.
    """
    wanted = set(formats) | {"json"}
    unknown = wanted - {"json", "csv", "xml"}
    if unknown:
        raise OutboxError(f"unknown receipt format(s): {sorted(unknown)}", field="formats")
    items: list[tuple[str, bytes]] = [(".kvittering.json", receipt_json(receipt))]
    if "csv" in wanted:
        items.append(
            (
                ".kvittering.csv",
                receipt_csv(receipt, encoding=csv_encoding, delimiter=csv_delimiter),
            )
        )
    if "xml" in wanted:
        items.append((".kvittering.xml", receipt_xml(receipt)))
    return _write_set(outbox, source_name, items)


def write_error_report(
    outbox: Path,
    source_name: str,
    error: GatewayError | ErrorReport,
    *,
    at: datetime | None = None,
    inbox: str | None = None,
    sha256: str | None = None,
    moved_to: str | None = None,
) -> list[Path]:
    """Write `NAME.feil.json` and `NAME.feil.txt` for a file that could not be read.

    Given a GatewayError, its details become the one error of the report and `at` is
    required (the clock is the caller's). Returns the paths written.
    """
    if isinstance(error, GatewayError):
        if at is None:
            raise OutboxError("write_error_report needs `at` with a GatewayError", field="at")
        report = ErrorReport(
            source_name=source_name,
            code=error.code,
            message=error.message,
            at=at,
            inbox=inbox,
            sha256=sha256,
            moved_to=moved_to,
            hint=error.hint,
            errors=(error_from_gateway_error(error),),
        )
    else:
        report = error
    return _write_set(
        outbox,
        source_name,
        [(".feil.json", error_report_json(report)), (".feil.txt", error_report_text(report))],
    )
