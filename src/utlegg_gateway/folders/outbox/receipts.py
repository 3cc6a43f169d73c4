"""Receipts and error reports from journal data only: a re-write after a crash is byte-equal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from utlegg_gateway.folders.outbox import (
    CaseReceipt,
    CaseStatus,
    ErrorReport,
    Receipt,
    ReceiptError,
)
from utlegg_gateway.journal.states import CaseRecord, CaseState, FileRecord

__all__ = ["build_error_report", "build_receipt"]

Origin = Literal["local", "server", "gateway"]

_RECEIPT_STATUS: dict[CaseState, CaseStatus] = {
    CaseState.ACCEPTED: "accepted",
    CaseState.REJECTED: "rejected",
    CaseState.REJECTED_LOCAL: "rejected",
    CaseState.FAILED: "failed",
    CaseState.DUPLICATE: "duplicate",
}
_ORIGIN: dict[CaseState, Origin] = {CaseState.REJECTED: "server", CaseState.REJECTED_LOCAL: "local"}


def _receipt_error(entry: Mapping[str, Any], origin: Origin) -> ReceiptError:
    source = entry.get("source") or {}
    return ReceiptError(
        rule=str(entry.get("rule") or entry.get("code") or "error"),
        message=str(entry.get("message", "")),
        origin=origin,
        location=entry.get("location"),
        row=source.get("row"),
        element=source.get("element"),
        column=entry.get("column"),
        field=entry.get("field"),
        value=entry.get("value"),
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
                errors=tuple(_receipt_error(e, origin) for e in case.errors)
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

    error = record.error or {"code": "gateway-error", "message": "unknown failure"}
    return ErrorReport(
        source_name=record.name,
        code=str(error.get("code", "gateway-error")),
        message=str(error.get("message", "")),
        at=at,
        inbox=record.inbox,
        sha256=record.sha256,
        moved_to=moved_to,
        hint=error.get("hint")
        or f"fix the cause, then: utlegg-gateway replay {record.name} --config <config>",
        errors=(
            ReceiptError(
                rule=str(error.get("rule") or error.get("kode") or error.get("code")),
                message=str(error.get("message", "")),
                origin="local",
                row=error.get("row"),
                element=error.get("element"),
                column=error.get("column"),
                field=error.get("field"),
                value=error.get("value"),
            ),
        ),
    )
