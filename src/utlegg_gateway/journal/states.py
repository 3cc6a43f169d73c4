"""The journal's vocabulary: states, allowed transitions and the records it returns.

Kept apart from the SQL (`_core.py`, `sqlite.py`, `postgres.py`) so the state machine can
be read on its own; `_core.SqlJournal` checks every change against it, for both backends.

File states (one row per claimed input file)::

    claimed ──▶ mapping ──▶ processing ──▶ done
       │           │             │
       ├──▶ duplicate            └──▶ failed ◀── (claimed, mapping)
       └──▶ failed                        │
                                          └──▶ claimed   (replay by an operator)

Case states (one row per begjæring built from a file)::

    new ──▶ rejected_local                          (local prøving or mapping failed)
     ├───▶ duplicate                                (same business key accepted before)
     ├───▶ waiting_attachments ──▶ uploading | failed
     └───▶ uploading ──▶ submitting ──▶ accepted | rejected | failed
                │             │
                └──▶ retry_wait ◀┘   (temporary failure; `next_attempt_at`)
                        └──▶ uploading | submitting | failed

End states: files `done`, `failed`, `duplicate`; cases `accepted`, `rejected_local`,
`rejected`, `failed`, `duplicate`. Everything else is resumed on start
(`files_in_states(*FILE_RESUMABLE)`, `cases_in_states(*CASE_RESUMABLE)`).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from utlegg_gateway.errors import ErrorEntry, Place

__all__ = [
    "CASE_END_STATES",
    "CASE_RESUMABLE",
    "CASE_TRANSITIONS",
    "FILE_END_STATES",
    "FILE_RESUMABLE",
    "FILE_TRANSITIONS",
    "CaseRecord",
    "CaseState",
    "FileRecord",
    "FileState",
    "Intent",
    "RowLike",
    "Transition",
    "case_from_row",
    "file_from_row",
    "parse_time",
]


class FileState(StrEnum):
    """Where a claimed input file stands."""

    CLAIMED = "claimed"
    MAPPING = "mapping"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    DUPLICATE = "duplicate"


class CaseState(StrEnum):
    """Where one begjæring stands."""

    NEW = "new"
    WAITING_ATTACHMENTS = "waiting_attachments"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    RETRY_WAIT = "retry_wait"
    ACCEPTED = "accepted"
    REJECTED_LOCAL = "rejected_local"
    REJECTED = "rejected"
    FAILED = "failed"
    DUPLICATE = "duplicate"


F, C = FileState, CaseState

FILE_TRANSITIONS: Mapping[FileState, frozenset[FileState]] = {
    F.CLAIMED: frozenset({F.MAPPING, F.FAILED, F.DUPLICATE}),
    F.MAPPING: frozenset({F.PROCESSING, F.FAILED}),
    F.PROCESSING: frozenset({F.DONE, F.FAILED}),
    F.FAILED: frozenset({F.CLAIMED}),  # replay
    F.DONE: frozenset(),
    F.DUPLICATE: frozenset(),
}
CASE_TRANSITIONS: Mapping[CaseState, frozenset[CaseState]] = {
    C.NEW: frozenset({C.REJECTED_LOCAL, C.DUPLICATE, C.WAITING_ATTACHMENTS, C.UPLOADING, C.FAILED}),
    C.WAITING_ATTACHMENTS: frozenset({C.UPLOADING, C.FAILED}),
    C.UPLOADING: frozenset({C.SUBMITTING, C.RETRY_WAIT, C.FAILED}),
    C.SUBMITTING: frozenset({C.ACCEPTED, C.REJECTED, C.RETRY_WAIT, C.FAILED}),
    # retry_wait -> retry_wait moves the next attempt time after another temporary failure.
    C.RETRY_WAIT: frozenset({C.UPLOADING, C.SUBMITTING, C.RETRY_WAIT, C.FAILED}),
    C.ACCEPTED: frozenset(),
    C.REJECTED_LOCAL: frozenset(),
    C.REJECTED: frozenset(),
    C.FAILED: frozenset(),
    C.DUPLICATE: frozenset(),
}
FILE_END_STATES = frozenset({F.DONE, F.FAILED, F.DUPLICATE})
CASE_END_STATES = frozenset({C.ACCEPTED, C.REJECTED_LOCAL, C.REJECTED, C.FAILED, C.DUPLICATE})
FILE_RESUMABLE = tuple(s for s in FileState if s not in FILE_END_STATES)
CASE_RESUMABLE = tuple(s for s in CaseState if s not in CASE_END_STATES)


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case as mapping built it, to be recorded (`Journal.add_cases`)."""

    key: str
    innsender_referanse: str
    begjaeringsdato: str
    payload: Mapping[str, Any]
    source: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One registered input file; `path` is where it is now (work, archive or failed)."""

    id: int
    inbox: str
    name: str
    sha256: str
    size: int
    path: str | None
    state: FileState
    duplicate_of: int | None
    error: ErrorEntry | None
    registered_at: datetime
    updated_at: datetime
    # The customer organisation it belongs to (vendor mode); '' for a single-tenant set-up.
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One begjæring: its payload, where it came from and how far it got."""

    id: int
    file_id: int
    key: str
    innsender_referanse: str
    begjaeringsdato: str
    state: CaseState
    payload: dict[str, Any]
    source: dict[str, Any]
    ekstern_saksreferanse: str | None
    korrelasjonsid: str | None
    meldingsid: str | None
    errors: tuple[ErrorEntry, ...]
    duplicate_of: int | None
    attempts: int
    next_attempt_at: datetime | None
    submitted_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def place(self) -> Place:
        """Where in its file the case came from (for error entries of the case)."""
        return Place.from_json(self.source)


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded state change."""

    entity: str
    entity_id: int
    from_state: str | None
    to_state: str
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Intent:
    """An external call about to be made (recorded before it is made)."""

    case_id: int
    operation: str
    meldingsid: str
    at: datetime


class RowLike(Protocol):
    """What the converters need of a row (sqlite3.Row fits)."""

    def __getitem__(self, key: str, /) -> Any: ...


# File names come from foreign file systems: a Latin-1 name on an SMB share reaches
# Python as a str with lone surrogates (surrogateescape), which SQLite's UTF-8 text
# cannot hold. Such a name (or path) is stored as this marker + its percent-quoted bytes:
# lossless, and unambiguous (a name beginning with the marker is stored quoted too).
_QUOTED = "%surrogateescape:"


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def encode_name(text: str) -> str:
    """A file name or path as the journal stores it (see `_QUOTED`)."""
    if not _has_surrogates(text) and not text.startswith(_QUOTED):
        return text
    return _QUOTED + urllib.parse.quote(os.fsencode(text), safe="/")


def decode_name(stored: str) -> str:
    """The file name or path `encode_name` stored, exactly as the file system gave it."""
    if not stored.startswith(_QUOTED):
        return stored
    return os.fsdecode(urllib.parse.unquote_to_bytes(stored[len(_QUOTED) :]))


def parse_time(value: str | None) -> datetime | None:
    """A stored ISO 8601 time (or None)."""
    return None if value is None else datetime.fromisoformat(value)


def file_from_row(row: RowLike) -> FileRecord:
    """A FileRecord from a `files` row."""
    registered, updated = parse_time(row["registered_at"]), parse_time(row["updated_at"])
    assert registered is not None and updated is not None
    return FileRecord(
        id=row["id"],
        inbox=row["inbox"],
        name=decode_name(row["name"]),
        sha256=row["sha256"],
        size=row["size"],
        path=None if row["path"] is None else decode_name(row["path"]),
        state=FileState(row["state"]),
        duplicate_of=row["duplicate_of"],
        error=None if row["error"] is None else ErrorEntry.from_json(json.loads(row["error"])),
        registered_at=registered,
        updated_at=updated,
        tenant=row["tenant"],
    )


def case_from_row(row: RowLike) -> CaseRecord:
    """A CaseRecord from a `cases` row."""
    created, updated = parse_time(row["created_at"]), parse_time(row["updated_at"])
    assert created is not None and updated is not None
    return CaseRecord(
        id=row["id"],
        file_id=row["file_id"],
        key=row["key"],
        innsender_referanse=row["innsender_referanse"],
        begjaeringsdato=row["begjaeringsdato"],
        state=CaseState(row["state"]),
        payload=json.loads(row["payload"]),
        source=json.loads(row["source"]),
        ekstern_saksreferanse=row["ekstern_saksreferanse"],
        korrelasjonsid=row["korrelasjonsid"],
        meldingsid=row["meldingsid"],
        errors=tuple(ErrorEntry.from_json(e) for e in json.loads(row["errors"])),
        duplicate_of=row["duplicate_of"],
        attempts=row["attempts"],
        next_attempt_at=parse_time(row["next_attempt_at"]),
        submitted_at=parse_time(row["submitted_at"]),
        finished_at=parse_time(row["finished_at"]),
        created_at=created,
        updated_at=updated,
    )
