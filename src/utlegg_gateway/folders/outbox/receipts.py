"""Receipts and error reports from journal data only: a re-write after a crash is byte-equal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from utlegg_gateway.errors import ErrorEntry, Place
from utlegg_gateway.folders.outbox import (
    CaseReceipt,
    CaseStatus,
    ErrorReport,
    Receipt,
    ReceiptError,
)
from utlegg_gateway.journal.states import CaseRecord, CaseState, FileRecord

__all__ = ["Origin", "build_error_report", "build_receipt", "receipt_error"]

Origin = Literal["local", "server", "gateway"]

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
    )


def build_receipt(
    record: FileRecord, cases: Sequence[CaseRecord], *, duplicate_of: FileRecord | None = None
) -> Receipt:
    """The receipt of a file from journal data only (a re-write after a crash is byte-equal)."""

    entries = []
    for case in cases:
        status: CaseStatus = (
            "duplicate" if duplicate_of is not None else _RECEIPT_STATUS[case.state]
        )
        origin = _ORIGIN.get(case.state, "gateway")
        entries.append(
            CaseReceipt(
                innsender_referanse=case.innsender_referanse,
                begjaeringsdato=case.begjaeringsdato,
                status=status,
                ekstern_saksreferanse=case.ekstern_saksreferanse,
                korrelasjonsid=case.korrelasjonsid,
                submitted_at=case.submitted_at,
                finished_at=case.finished_at,
                errors=tuple(receipt_error(e, origin) for e in case.errors)
                if duplicate_of is None
                else (),
            )
        )
    finished = [c.finished_at for c in cases if c.finished_at is not None]
    return Receipt(
        source_name=record.name,
        inbox=record.inbox,
        sha256=record.sha256,
        received_at=record.registered_at,
        finished_at=max(finished) if finished else record.registered_at,
        cases=tuple(entries),
        duplicate_of=duplicate_of.name if duplicate_of is not None else None,
    )


def build_error_report(record: FileRecord, *, at: datetime, moved_to: str) -> ErrorReport:
    """NAME.feil's content from the journal's record of the failure (same bytes on re-write)."""

    error = record.error or ErrorEntry("gateway-error", "unknown failure")
    return ErrorReport(
        source_name=record.name,
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
