"""Receipts and error reports: their types, and how they are built from journal data.

Built from the journal only (no "generated now" time), so a re-write after a crash has
the same bytes. `formats.py` renders them; `writer.py` writes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from utlegg_gateway.errors import ErrorEntry, GatewayError, Place
from utlegg_gateway.folders._fs import fit_name, shown_name
from utlegg_gateway.journal.states import CaseRecord, CaseState, FileRecord

__all__ = [
    "RECEIPT_FORMAT_VERSION",
    "CaseReceipt",
    "CaseStatus",
    "ErrorReport",
    "Origin",
    "Receipt",
    "ReceiptError",
    "build_error_report",
    "build_receipt",
    "case_receipt",
    "error_from_gateway_error",
    "iso_time",
    "receipt_error",
]

RECEIPT_FORMAT_VERSION = 1
CaseStatus = Literal["accepted", "rejected", "failed", "duplicate"]
Origin = Literal["local", "server", "gateway"]
_STATUSES: tuple[CaseStatus, ...] = ("accepted", "rejected", "failed", "duplicate")


@dataclass(frozen=True, slots=True)
class ReceiptError:
    """One error of a case or file: rule/code, message and where it was found.

    `origin` is "local" (our prøving/mapping), "server" (ELAN's 422) or "gateway"
    (transport, attachments, …). `location` is a JSON pointer into the begjæring;
    `row`/`element`/`column` point into the source file.
    """

    rule: str
    message: str
    origin: Origin = "local"
    location: str | None = None
    row: int | None = None
    element: str | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    server_message: str | None = None  # Skatteetaten's Norwegian text of a rule finding

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
        if self.server_message is not None:
            out["serverMessage"] = self.server_message
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
    # Something the operator must know that is not an error (REFERENCE_UNKNOWN).
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this case."""
        out = {
            "innsenderReferanse": self.innsender_referanse,
            "begjaeringsdato": self.begjaeringsdato,
            "status": self.status,
            "eksternSaksreferanse": self.ekstern_saksreferanse,
            "korrelasjonsid": self.korrelasjonsid,
            "submittedAt": iso_time(self.submitted_at),
            "finishedAt": iso_time(self.finished_at),
            "errors": [e.to_json() for e in self.errors],
        }
        if self.note is not None:
            out["note"] = self.note
        return out


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
    # Iterated once per format (and once for `summary` when `counts` is not given): a
    # tuple, or a view that reads the journal page by page each time (`build_receipt`).
    cases: Iterable[CaseReceipt] = ()
    # Set when the file's content was seen before: the name it was first received under.
    duplicate_of: str | None = None
    # Set when the name was too long for `NAME.kvittering.json`: the stem the outbox used.
    outbox_name: str | None = None
    # The cases per status, when the builder counted them already (saves a pass).
    counts: Mapping[CaseStatus, int] | None = None

    def summary(self) -> dict[str, int]:
        """`{"cases": n, "accepted": …, "rejected": …, "failed": …, "duplicate": …}`."""
        counts = self.counts
        if counts is None:
            counts = Counter(c.status for c in self.cases)
        return {"cases": sum(counts.values()), **{s: counts.get(s, 0) for s in _STATUSES}}

    def to_json(self, *, with_cases: bool = True) -> dict[str, Any]:
        """The JSON document (see docs/architecture.md "Outbox formats").

        `with_cases=False` leaves `cases` empty (the summary still counts them all), for
        the writer that streams the cases one by one.
        """
        return {
            "format": "utlegg-gateway/kvittering",
            "version": RECEIPT_FORMAT_VERSION,
            "file": {
                "name": self.source_name,
                "inbox": self.inbox,
                "sha256": self.sha256,
                "receivedAt": iso_time(self.received_at),
                "finishedAt": iso_time(self.finished_at),
                "duplicateOf": self.duplicate_of,
                **({"outboxName": self.outbox_name} if self.outbox_name is not None else {}),
            },
            "summary": self.summary(),
            "cases": [c.to_json() for c in self.cases] if with_cases else [],
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
            "at": iso_time(self.at),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "errors": [e.to_json() for e in self.errors],
        }


def error_from_gateway_error(exc: GatewayError, origin: Origin = "local") -> ReceiptError:
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


def iso_time(value: datetime | None) -> str | None:
    """ISO 8601 of a time, None for None (every outbox format writes times so)."""
    return None if value is None else value.isoformat()


_RECEIPT_STATUS: dict[CaseState, CaseStatus] = {
    CaseState.ACCEPTED: "accepted",
    CaseState.REJECTED: "rejected",
    CaseState.REJECTED_LOCAL: "rejected",
    CaseState.FAILED: "failed",
    CaseState.DUPLICATE: "duplicate",
}
_ORIGIN: dict[CaseState, Origin] = {CaseState.REJECTED: "server", CaseState.REJECTED_LOCAL: "local"}


def receipt_error(entry: ErrorEntry, origin: Origin) -> ReceiptError:
    """The receipt's view of a journal error entry."""
    place = entry.place or Place()
    return ReceiptError(
        rule=entry.rule,
        message=entry.message,
        origin=origin,
        location=entry.location,
        row=place.row,
        element=place.element,
        column=entry.column,
        field=entry.field,
        value=entry.value,
        server_message=entry.server_message,
    )


# DUPLIKAT_INNSENDING as published names no reference, and Status på sak is keyed by it.
REFERENCE_UNKNOWN = (
    "ELAN answered DUPLIKAT_INNSENDING: the case is already submitted, but ELAN did not "
    "name its eksternSaksreferanse and the journal has none (the first answer was lost). "
    "Find the case in Skatteetaten's messages to the organisation (Altinn) or ask "
    "Skatteetaten, quoting innsenderReferanse, begjaeringsdato and korrelasjonsid."
)


def build_receipt(
    record: FileRecord, cases: Iterable[CaseRecord], *, duplicate_of: FileRecord | None = None
) -> Receipt:
    """The receipt of a file from journal data only (a re-write after a crash is byte-equal).

    `cases` is iterated once here (counts, end time) and again by each format, and never
    held: pass a list, or a view that reads the journal page by page
    (`JournalStore.file_cases`), so a file of any size is answered in flat memory.
    """
    counts: Counter[CaseStatus] = Counter()
    finished: datetime | None = None
    for case in cases:
        counts[_status(case, duplicate_of)] += 1
        if case.finished_at is not None and (finished is None or case.finished_at > finished):
            finished = case.finished_at
    # A duplicate is answered from its original at once: its own times, never the
    # original's (which are earlier than this file's receivedAt).
    finished_at = record.registered_at if duplicate_of is not None or finished is None else finished
    return Receipt(
        source_name=shown_name(record.name),
        inbox=record.inbox,
        sha256=record.sha256,
        received_at=record.registered_at,
        finished_at=finished_at,
        cases=_CaseReceipts(cases, duplicate=duplicate_of is not None),
        duplicate_of=shown_name(duplicate_of.name) if duplicate_of is not None else None,
        outbox_name=_shortened(record.name),
        counts=counts,
    )


def _status(case: CaseRecord, duplicate_of: FileRecord | None) -> CaseStatus:
    return "duplicate" if duplicate_of is not None else _RECEIPT_STATUS[case.state]


def case_receipt(case: CaseRecord, *, duplicate: bool = False) -> CaseReceipt:
    """One journal case as the receipt shows it (errors left out for a duplicate file)."""
    status: CaseStatus = "duplicate" if duplicate else _RECEIPT_STATUS[case.state]
    origin = _ORIGIN.get(case.state, "gateway")
    return CaseReceipt(
        innsender_referanse=case.innsender_referanse,
        begjaeringsdato=case.begjaeringsdato,
        status=status,
        ekstern_saksreferanse=case.ekstern_saksreferanse,
        korrelasjonsid=case.korrelasjonsid,
        submitted_at=case.submitted_at,
        finished_at=case.finished_at,
        errors=() if duplicate else tuple(receipt_error(e, origin) for e in case.errors),
        note=REFERENCE_UNKNOWN if status == "accepted" and not case.ekstern_saksreferanse else None,
    )


@dataclass(frozen=True, slots=True)
class _CaseReceipts:
    """The cases of a receipt, made from the journal's records each time it is iterated."""

    cases: Iterable[CaseRecord]
    duplicate: bool

    def __iter__(self) -> Iterator[CaseReceipt]:
        return (case_receipt(c, duplicate=self.duplicate) for c in self.cases)


def _shortened(name: str) -> str | None:
    fitted = fit_name(name)
    return None if fitted == name else shown_name(fitted)


def build_error_report(record: FileRecord, *, at: datetime, moved_to: str) -> ErrorReport:
    """NAME.feil's content from the journal's record of the failure (same bytes on re-write)."""

    error = record.error or ErrorEntry("gateway-error", "unknown failure")
    return ErrorReport(
        source_name=shown_name(record.name),
        code=error.code,
        message=error.message,
        at=at,
        inbox=record.inbox,
        sha256=record.sha256,
        moved_to=moved_to,
        hint=error.hint
        or f"fix the cause, then: utlegg-gateway replay {record.name} --config <config>",
        errors=(receipt_error(error, "local"),),
    )
