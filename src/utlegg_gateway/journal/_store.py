"""The journal interface the gateway is written against; SQLite and PostgreSQL both fit.

It lists exactly what the rest of the code calls (pipeline, casework, submission,
follow-up, folders, runner, operations); `open_journal` (in `journal/__init__.py`) gives
the backend the configuration names. Both implement it through `SqlJournal`, so the
state machine is checked in one place whichever database holds the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, Self

from utlegg_gateway.errors import ErrorEntry
from utlegg_gateway.journal.states import (
    CaseRecord,
    CaseState,
    FileRecord,
    FileState,
    NewCase,
    Transition,
)

__all__ = ["JournalStore"]


class JournalStore(Protocol):
    """Durable state of every file and case: one committed transaction per change, a
    transitions row for each, the state machine (`states.py`) enforced. Thread-safe."""

    # -- lifecycle and tenants ---------------------------------------------------------

    def for_tenant(self, tenant: str | None) -> Self:
        """The same journal as seen by `tenant`; None: every tenant's rows, read-only."""
        ...

    def close(self) -> None:
        """Release the connection(s); once, on the journal that was opened."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *_: object) -> None: ...

    # -- files -------------------------------------------------------------------------

    def register_file(
        self, *, inbox: str, name: str, sha256: str, size: int, path: Path | str | None = None
    ) -> FileRecord:
        """Record a freshly claimed file (`claimed`, `duplicate_of` set for known content)."""
        ...

    def file(self, file_id: int) -> FileRecord:
        """The file with this id; JournalError if there is none."""
        ...

    def file_by_path(self, path: Path | str) -> FileRecord | None:
        """The latest file registered at `path`."""
        ...

    def set_file_state(
        self,
        file_id: int,
        state: FileState,
        *,
        path: Path | str | None = None,
        error: ErrorEntry | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> FileRecord:
        """Move a file to `state` (JournalError if FILE_TRANSITIONS does not allow it)."""
        ...

    def set_file_path(self, file_id: int, path: Path | str) -> None:
        """Record that the file moved without a state change."""
        ...

    def files_in_states(self, *states: FileState) -> list[FileRecord]:
        """Files in any of `states`, oldest first."""
        ...

    # -- cases -------------------------------------------------------------------------

    def add_case(
        self,
        file_id: int,
        *,
        key: str,
        innsender_referanse: str,
        begjaeringsdato: str,
        payload: Mapping[str, Any],
        source: Mapping[str, Any],
    ) -> CaseRecord:
        """Record a case built from a file (`new`); idempotent per (file_id, key)."""
        ...

    def add_cases(self, file_id: int, cases: Sequence[NewCase]) -> list[CaseRecord]:
        """`add_case` for a batch in one transaction; the records without payloads."""
        ...

    def case(self, case_id: int) -> CaseRecord:
        """The case with this id; JournalError if there is none."""
        ...

    def case_state(self, case_id: int) -> CaseState:
        """The state of the case with this id, without reading its payload."""
        ...

    def set_case_state(
        self,
        case_id: int,
        state: CaseState,
        *,
        ekstern_saksreferanse: str | None = None,
        korrelasjonsid: str | None = None,
        meldingsid: str | None = None,
        errors: Sequence[ErrorEntry] | None = None,
        next_attempt_at: datetime | None = None,
        duplicate_of: int | None = None,
        payload: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
        intent: str | None = None,
    ) -> CaseRecord:
        """Move a case to `state` (JournalError if CASE_TRANSITIONS does not allow it);
        with `intent`, record that intent (as `record_intent`) in the same commit."""
        ...

    def record_intent(self, case_id: int, operation: str, meldingsid: str) -> None:
        """Commit, before making it, that an external call is about to be made."""
        ...

    def accepted_case(self, innsender_referanse: str, begjaeringsdato: str) -> CaseRecord | None:
        """The case already accepted under this business key, if any."""
        ...

    def sibling_in_flight(
        self, innsender_referanse: str, begjaeringsdato: str, *, other_than: int
    ) -> CaseRecord | None:
        """Another case with this business key that has not ended."""
        ...

    def cases_for_file(self, file_id: int, *, payloads: bool = True) -> list[CaseRecord]:
        """The cases of one file, in the order they were added."""
        ...

    def file_cases(self, file_id: int, *, page: int = 500) -> Iterable[CaseRecord]:
        """The cases of one file without payloads, read a page at a time per iteration."""
        ...

    def case_counts(self, file_id: int) -> Counter[CaseState]:
        """How many cases of one file are in each state."""
        ...

    def cases_in_states(self, *states: CaseState, payloads: bool = True) -> list[CaseRecord]:
        """Cases in any of `states`, oldest first."""
        ...

    def file_finished(self, file_id: int) -> bool:
        """True when the file has cases and every one is in an end state."""
        ...

    # -- attachments, cursors, history -------------------------------------------------

    def record_attachment(self, case_id: int, filnavn: str, sha256: str, uuid: str) -> None:
        """Remember an uploaded attachment's UUID."""
        ...

    def attachment_uuid(self, case_id: int, filnavn: str, sha256: str) -> str | None:
        """The UUID this exact attachment content got for this case, if uploaded."""
        ...

    def get_cursor(self, name: str) -> str | None:
        """A stored cursor value (follow-up polling), or None."""
        ...

    def set_cursor(self, name: str, value: str) -> None:
        """Store a cursor value durably."""
        ...

    def transitions(self, entity: str, entity_id: int) -> list[Transition]:
        """The recorded state changes of one file or case, oldest first."""
        ...

    def summary(self) -> dict[str, Any]:
        """Counts by state, the oldest unfinished file's age and the due cases."""
        ...
