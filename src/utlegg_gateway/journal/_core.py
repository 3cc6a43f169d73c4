"""What both journal backends share: the state machine's checks and the portable SQL.

`SqlJournal` holds every journal operation once: which transitions are allowed (checked
here and nowhere else), what a transition row records, how tenants scope a lookup, how
rows become records. The statements it issues are plain SQL that SQLite and PostgreSQL
read alike, with `?` for every value; a backend (`sqlite.py`, `postgres.py`) supplies the
connection, the transactions, its schema and migrations, its placeholder style and the
one place where its driver's errors become `JournalError`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, Self

from utlegg_gateway.errors import ErrorEntry, JournalError, TransitionError
from utlegg_gateway.journal.states import (
    CASE_END_STATES,
    CASE_TRANSITIONS,
    FILE_RESUMABLE,
    FILE_TRANSITIONS,
    CaseRecord,
    CaseState,
    FileRecord,
    FileState,
    Intent,
    NewCase,
    RowLike,
    Transition,
    encode_name,
)
from utlegg_gateway.journal.states import case_from_row as _case
from utlegg_gateway.journal.states import file_from_row as _file
from utlegg_gateway.journal.states import parse_time as _dt

__all__ = ["FileCases", "SqlJournal", "Tx", "dump_json", "timestamp"]

F, C = FileState, CaseState


def timestamp(value: datetime) -> str:
    """A time as the journal stores it: UTC ISO 8601 with microseconds (sorts as text)."""
    if value.tzinfo is None:
        raise JournalError("journal times must be timezone-aware", value=value.isoformat())
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def dump_json(value: Any) -> str:
    """JSON text for a TEXT column (payloads, sources, errors, transition details)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A name with surrogates (see states.encode_name): JSON's \u escapes hold it.
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str)
    return text


# Every column of `cases` but the payload, which is read as an empty object instead.
_CASE_COLUMNS_LIGHT = (
    "id, file_id, key, innsender_referanse, begjaeringsdato, state, '{}' AS payload, source,"
    " ekstern_saksreferanse, korrelasjonsid, meldingsid, errors, duplicate_of, attempts,"
    " next_attempt_at, submitted_at, finished_at, created_at, updated_at"
)


def _columns(payloads: bool) -> str:
    return "*" if payloads else _CASE_COLUMNS_LIGHT


class Tx(Protocol):
    """One open write transaction, as a backend hands it to the shared logic."""

    def one(self, sql: str, args: Sequence[Any] = ()) -> RowLike | None:
        """The first row of a query (None when there is none)."""
        ...

    def run(self, sql: str, args: Sequence[Any] = ()) -> None:
        """A statement whose result is not needed."""
        ...

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """An INSERT into a table with an `id` column; the new row's id."""
        ...


class FileCases:
    """A file's cases (no payloads), read from the journal a page at a time per iteration.

    Iterate it as often as needed; each pass sees the journal as it is then, and never
    holds more than one page of records.
    """

    def __init__(self, journal: SqlJournal, file_id: int, page: int) -> None:
        self._journal = journal
        self._file_id = file_id
        self._page = page

    def __iter__(self) -> Iterator[CaseRecord]:
        after = 0
        while True:
            records = self._journal._case_page(self._file_id, after, self._page)
            yield from records
            if len(records) < self._page:
                return
            after = records[-1].id


class SqlJournal(ABC):
    """The journal's operations over any backend; see `journal.sqlite.Journal` for the
    contract (one committed transaction per change, a transitions row for each).

    A journal object sees one tenant (vendor mode: one customer organisation): every file
    it registers carries it, and every lookup by state, content or business key stays
    inside it, so one customer's file can never be a duplicate of, or resume as, another's.
    `for_tenant` gives another tenant's view on the same connection(s); `tenant=None`
    (only for reading: `status`) sees them all.
    """

    def __init__(self, clock: Callable[[], datetime], *, tenant: str | None = "") -> None:
        self._clock = clock
        self._tenant = tenant

    # -- what a backend provides --------------------------------------------------------

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Tx]:
        """A write transaction: committed on leaving, rolled back on an exception."""

    @abstractmethod
    def _query(self, sql: str, args: Sequence[Any] = ()) -> Sequence[RowLike]:
        """Every row of a read-only query."""

    @abstractmethod
    def for_tenant(self, tenant: str | None) -> Self:
        """The same journal as seen by `tenant` (same connections; close it once);
        None: every tenant's rows, read-only."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection(s)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- tenants -----------------------------------------------------------------------

    @property
    def tenant(self) -> str | None:
        """The tenant this view sees ('' single-tenant, None every tenant)."""
        return self._tenant

    def _scope(self, table: str = "") -> tuple[str, list[str]]:
        """` AND tenant = ?` and its argument, or nothing for the every-tenant view."""
        if self._tenant is None:
            return "", []
        return f" AND {table + '.' if table else ''}tenant = ?", [self._tenant]

    def _writing_tenant(self) -> str:
        if self._tenant is None:
            raise JournalError("the every-tenant view of the journal is for reading only")
        return self._tenant

    def _now(self) -> str:
        return timestamp(self._clock())

    @staticmethod
    def _transition(
        tx: Tx,
        entity: str,
        entity_id: int,
        *,
        from_state: str | None,
        to_state: str,
        at: str,
        detail: Mapping[str, Any],
    ) -> None:
        tx.run(
            "INSERT INTO transitions (entity, entity_id, from_state, to_state, at, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (entity, entity_id, from_state, to_state, at, dump_json(dict(detail))),
        )

    # -- files -------------------------------------------------------------------------

    def register_file(
        self, *, inbox: str, name: str, sha256: str, size: int, path: Path | str | None = None
    ) -> FileRecord:
        """Record a freshly claimed file (state `claimed`).

        `duplicate_of` is set when a file with the same content was registered before,
        did not end `failed` and did not end `done` with a case `failed`; the caller then
        answers it as a duplicate.
        """
        now = self._now()
        tenant = self._writing_tenant()
        with self._tx() as tx:
            # A finished copy with a case that ended `failed` (a PDF that never came, ELAN
            # down past the retries) is no answer: the re-drop is how a person retries it,
            # and its accepted cases are still caught per case (`accepted_case`). A copy
            # still at work is a duplicate: its cases may yet be accepted.
            prior = tx.one(
                "SELECT id FROM files AS f WHERE tenant = ? AND sha256 = ?"
                " AND state NOT IN (?, ?) AND NOT (state = ? AND EXISTS"
                " (SELECT 1 FROM cases AS c WHERE c.file_id = f.id AND c.state = ?))"
                " ORDER BY id LIMIT 1",
                (tenant, sha256, F.FAILED.value, F.DUPLICATE.value, F.DONE.value, C.FAILED.value),
            )
            duplicate_of = None if prior is None else int(prior["id"])
            file_id = tx.insert(
                "INSERT INTO files (tenant, inbox, name, sha256, size, path, state,"
                " duplicate_of, registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    inbox,
                    encode_name(name),
                    sha256,
                    size,
                    None if path is None else encode_name(str(path)),
                    F.CLAIMED.value,
                    duplicate_of,
                    now,
                    now,
                ),
            )
            self._transition(
                tx,
                "file",
                file_id,
                from_state=None,
                to_state=F.CLAIMED.value,
                at=now,
                detail={
                    "inbox": inbox,
                    "name": name,
                    "sha256": sha256,
                    "duplicate_of": duplicate_of,
                },
            )
        return self.file(file_id)

    def file(self, file_id: int) -> FileRecord:
        """The file with this id; JournalError if there is none."""
        rows = self._query("SELECT * FROM files WHERE id = ?", (file_id,))
        if not rows:
            raise JournalError(f"no file with id {file_id} in the journal", value=str(file_id))
        return _file(rows[0])

    def file_by_path(self, path: Path | str) -> FileRecord | None:
        """The latest file registered at `path` (to find claimed files the journal lacks)."""
        scope, args = self._scope()
        rows = self._query(
            f"SELECT * FROM files WHERE path = ?{scope} ORDER BY id DESC LIMIT 1",  # noqa: S608 -- only a fixed condition is interpolated
            (encode_name(str(path)), *args),
        )
        return _file(rows[0]) if rows else None

    def set_file_state(
        self,
        file_id: int,
        state: FileState,
        *,
        path: Path | str | None = None,
        error: ErrorEntry | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> FileRecord:
        """Move a file to `state` (checked against FILE_TRANSITIONS); `path` = new location."""
        now = self._now()
        with self._tx() as tx:
            row = tx.one("SELECT state FROM files WHERE id = ?", (file_id,))
            if row is None:
                raise JournalError(f"no file with id {file_id} in the journal", value=str(file_id))
            current = FileState(row["state"])
            if state not in FILE_TRANSITIONS[current]:
                raise TransitionError(
                    f"file {file_id}: {current.value} -> {state.value} is not allowed",
                    field="state",
                    value=state.value,
                )
            sets, args = ["state = ?", "updated_at = ?"], [state.value, now]
            if path is not None:
                sets.append("path = ?")
                args.append(encode_name(str(path)))
            if error is not None:
                sets.append("error = ?")
                args.append(dump_json(error.to_json()))
            tx.run(f"UPDATE files SET {', '.join(sets)} WHERE id = ?", (*args, file_id))  # noqa: S608 -- column names are literals above, values are bound
            info = dict(detail or {})
            if path is not None:
                info["path"] = str(path)
            if error is not None:
                info["error"] = error.to_json()
            self._transition(
                tx,
                "file",
                file_id,
                from_state=current.value,
                to_state=state.value,
                at=now,
                detail=info,
            )
        return self.file(file_id)

    def set_file_path(self, file_id: int, path: Path | str) -> None:
        """Record that the file moved (archive, failed) without a state change."""
        with self._tx() as tx:
            tx.run(
                "UPDATE files SET path = ?, updated_at = ? WHERE id = ?",
                (encode_name(str(path)), self._now(), file_id),
            )

    def files_in_states(self, *states: FileState) -> list[FileRecord]:
        """Files in any of `states`, oldest first (FILE_RESUMABLE: what to resume on start)."""
        return [_file(r) for r in self._in_states("files", states)]

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
        """Record a case built from a file (state `new`); idempotent per (file_id, key).

        Adding the same key again (a resumed mapping) returns the existing record unchanged.
        `source` says where in the file the case came from (rows / element).
        """
        new = NewCase(key, innsender_referanse, begjaeringsdato, payload, source)
        (case_id,) = self._insert_cases(file_id, [new])
        return self.case(case_id)

    def add_cases(self, file_id: int, cases: Sequence[NewCase]) -> list[CaseRecord]:
        """`add_case` for several cases in ONE transaction (one commit, one fsync).

        The records come back without payloads (`payload` is `{}`, as `cases_for_file(...,
        payloads=False)`): the caller has just built them, and the full record is read
        when the case runs.
        """
        ids = self._insert_cases(file_id, cases)
        marks = ", ".join("?" * len(ids))
        rows = self._query(
            f"SELECT {_columns(False)} FROM cases WHERE id IN ({marks}) ORDER BY id",  # noqa: S608 -- fixed columns and placeholders only
            ids,
        )
        by_id = {r["id"]: _case(r) for r in rows}
        return [by_id[i] for i in ids]

    def _insert_cases(self, file_id: int, cases: Sequence[NewCase]) -> list[int]:
        now = self._now()
        ids: list[int] = []
        with self._tx() as tx:
            for new in cases:
                row = tx.one(
                    "SELECT id FROM cases WHERE file_id = ? AND key = ?", (file_id, new.key)
                )
                if row is not None:
                    ids.append(int(row["id"]))
                    continue
                case_id = tx.insert(
                    # The case belongs to its file's tenant, whichever view adds it.
                    "INSERT INTO cases (file_id, tenant, key, innsender_referanse,"
                    " begjaeringsdato, state, payload, source, created_at, updated_at)"
                    " VALUES (?, (SELECT tenant FROM files WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        file_id,
                        file_id,
                        new.key,
                        new.innsender_referanse,
                        new.begjaeringsdato,
                        C.NEW.value,
                        dump_json(dict(new.payload)),
                        dump_json(dict(new.source)),
                        now,
                        now,
                    ),
                )
                ids.append(case_id)
                self._transition(
                    tx,
                    "case",
                    case_id,
                    from_state=None,
                    to_state=C.NEW.value,
                    at=now,
                    detail={"key": new.key},
                )
        return ids

    def case(self, case_id: int) -> CaseRecord:
        """The case with this id; JournalError if there is none."""
        rows = self._query("SELECT * FROM cases WHERE id = ?", (case_id,))
        if not rows:
            raise JournalError(f"no case with id {case_id} in the journal", value=str(case_id))
        return _case(rows[0])

    def case_state(self, case_id: int) -> CaseState:
        """The state of the case with this id, without reading its payload."""
        rows = self._query("SELECT state FROM cases WHERE id = ?", (case_id,))
        if not rows:
            raise JournalError(f"no case with id {case_id} in the journal", value=str(case_id))
        return CaseState(rows[0]["state"])

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
        """Move a case to `state` (checked against CASE_TRANSITIONS) and store what came with it.

        `intent` (an operation, with `meldingsid`) records `record_intent`'s row in the same
        commit: one fsync instead of two before a submit, and still before the call.

        Entering `submitting` counts an attempt and sets `submitted_at` the first time;
        an end state sets `finished_at`; `next_attempt_at` is kept only in `retry_wait`.
        `payload` replaces the stored payload (e.g. with attachment UUIDs filled in).
        """
        now = self._now()
        with self._tx() as tx:
            row = tx.one("SELECT state, submitted_at FROM cases WHERE id = ?", (case_id,))
            if row is None:
                raise JournalError(f"no case with id {case_id} in the journal", value=str(case_id))
            current = CaseState(row["state"])
            if state not in CASE_TRANSITIONS[current]:
                raise TransitionError(
                    f"case {case_id}: {current.value} -> {state.value} is not allowed",
                    field="state",
                    value=state.value,
                )
            if state is C.RETRY_WAIT and next_attempt_at is None:
                raise TransitionError("retry_wait needs next_attempt_at", field="next_attempt_at")
            sets: list[str] = ["state = ?", "updated_at = ?", "next_attempt_at = ?"]
            args: list[Any] = [
                state.value,
                now,
                timestamp(next_attempt_at) if next_attempt_at is not None else None,
            ]
            info: dict[str, Any] = dict(detail or {})
            for column, value in (
                ("ekstern_saksreferanse", ekstern_saksreferanse),
                ("korrelasjonsid", korrelasjonsid),
                ("meldingsid", meldingsid),
                ("duplicate_of", duplicate_of),
            ):
                if value is not None:
                    sets.append(f"{column} = ?")
                    args.append(value)
                    info[column] = value
            if errors is not None:
                sets.append("errors = ?")
                stored = [e.to_json() for e in errors]
                args.append(dump_json(stored))
                info["errors"] = stored
            if payload is not None:
                sets.append("payload = ?")
                args.append(dump_json(dict(payload)))
            if next_attempt_at is not None:
                info["next_attempt_at"] = timestamp(next_attempt_at)
            if state is C.SUBMITTING:
                sets.append("attempts = attempts + 1")
                if row["submitted_at"] is None:
                    sets.append("submitted_at = ?")
                    args.append(now)
            if state in CASE_END_STATES:
                sets.append("finished_at = ?")
                args.append(now)
            # RETURNING: the record comes back with the write, not from a read after it.
            updated = tx.one(
                f"UPDATE cases SET {', '.join(sets)} WHERE id = ? RETURNING *",  # noqa: S608 -- column names are literals above, values are bound
                (*args, case_id),
            )
            if intent is not None:
                if meldingsid is None:
                    raise TransitionError("an intent needs its meldingsid", field="meldingsid")
                tx.run(
                    "INSERT INTO intents (case_id, operation, meldingsid, at) VALUES (?, ?, ?, ?)",
                    (case_id, intent, meldingsid, now),
                )
            self._transition(
                tx,
                "case",
                case_id,
                from_state=current.value,
                to_state=state.value,
                at=now,
                detail=info,
            )
        assert updated is not None  # the row was read above, in this transaction
        return _case(updated)

    def record_intent(self, case_id: int, operation: str, meldingsid: str) -> None:
        """Commit, BEFORE making it, that an external call (`operation`) is about to be made.

        After a crash, an intent with no recorded outcome means "the call may have reached
        the server": resubmit with the same `meldingsid` and read DUPLIKAT_INNSENDING as in.
        """
        now = self._now()
        with self._tx() as tx:
            tx.run(
                "INSERT INTO intents (case_id, operation, meldingsid, at) VALUES (?, ?, ?, ?)",
                (case_id, operation, meldingsid, now),
            )
            tx.run(
                "UPDATE cases SET meldingsid = ?, updated_at = ? WHERE id = ?",
                (meldingsid, now, case_id),
            )

    def intents(self, case_id: int) -> list[Intent]:
        """Every intent recorded for a case, oldest first."""
        rows = self._query("SELECT * FROM intents WHERE case_id = ? ORDER BY id", (case_id,))
        return [
            Intent(r["case_id"], r["operation"], r["meldingsid"], _dt(r["at"]) or self._clock())
            for r in rows
        ]

    def accepted_case(self, innsender_referanse: str, begjaeringsdato: str) -> CaseRecord | None:
        """The case already accepted under this business key, if any (do not submit again)."""
        scope, args = self._scope()
        rows = self._query(
            "SELECT * FROM cases WHERE innsender_referanse = ? AND begjaeringsdato = ?"  # noqa: S608 -- only a fixed condition is interpolated
            f" AND state = ?{scope} ORDER BY id LIMIT 1",
            (innsender_referanse, begjaeringsdato, C.ACCEPTED.value, *args),
        )
        return _case(rows[0]) if rows else None

    def sibling_in_flight(
        self, innsender_referanse: str, begjaeringsdato: str, *, other_than: int
    ) -> CaseRecord | None:
        """Another case with this business key that has not ended (another file's copy)."""
        ended = [s.value for s in CASE_END_STATES]
        marks = ", ".join("?" * len(ended))
        scope, args = self._scope()
        where = "innsender_referanse = ? AND begjaeringsdato = ? AND id != ?" + scope
        sql = f"SELECT * FROM cases WHERE {where} AND state NOT IN ({marks}) ORDER BY id"  # noqa: S608 -- only placeholders are interpolated
        rows = self._query(sql, (innsender_referanse, begjaeringsdato, other_than, *args, *ended))
        return _case(rows[0]) if rows else None

    def cases_for_file(self, file_id: int, *, payloads: bool = True) -> list[CaseRecord]:
        """The cases of one file, in the order they were added.

        `payloads=False` leaves each record's `payload` empty (`{}`): a file's case list
        for states, receipts and archiving must not hold every begjæring in memory.
        """
        rows = self._query(
            f"SELECT {_columns(payloads)} FROM cases WHERE file_id = ? ORDER BY id",  # noqa: S608 -- fixed column lists only
            (file_id,),
        )
        return [_case(r) for r in rows]

    def file_cases(self, file_id: int, *, page: int = 500) -> FileCases:
        """The cases of one file without payloads, read `page` at a time on each iteration.

        For a file of any size: receipts, archiving and resuming walk it in flat memory.
        """
        return FileCases(self, file_id, page)

    def _case_page(self, file_id: int, after: int, page: int) -> list[CaseRecord]:
        rows = self._query(
            f"SELECT {_columns(False)} FROM cases WHERE file_id = ? AND id > ?"  # noqa: S608 -- fixed column lists only
            " ORDER BY id LIMIT ?",
            (file_id, after, page),
        )
        return [_case(r) for r in rows]

    def case_counts(self, file_id: int) -> Counter[CaseState]:
        """How many cases of one file are in each state (one query, no records)."""
        rows = self._query(
            "SELECT state, COUNT(*) AS n FROM cases WHERE file_id = ? GROUP BY state", (file_id,)
        )
        return Counter({CaseState(r["state"]): int(r["n"]) for r in rows})

    def cases_in_states(self, *states: CaseState, payloads: bool = True) -> list[CaseRecord]:
        """Cases in any of `states`, oldest first (CASE_RESUMABLE: what to resume on start)."""
        return [_case(r) for r in self._in_states("cases", states, _columns(payloads))]

    def _in_states(
        self,
        table: Literal["files", "cases"],
        states: Sequence[FileState | CaseState],
        columns: str = "*",
    ) -> Sequence[RowLike]:
        if not states:
            return []
        marks = ", ".join("?" * len(states))
        scope, args = self._scope()
        return self._query(
            f"SELECT {columns} FROM {table} WHERE state IN ({marks}){scope} ORDER BY id",  # noqa: S608 -- a fixed table name, fixed columns and placeholders only
            [*(s.value for s in states), *args],
        )

    def cases_due(self, now: datetime) -> list[CaseRecord]:
        """Cases in `retry_wait` whose next attempt time has come."""
        scope, args = self._scope()
        rows = self._query(
            f"SELECT * FROM cases WHERE state = ? AND next_attempt_at <= ?{scope}"  # noqa: S608 -- only a fixed condition is interpolated
            " ORDER BY next_attempt_at",
            (C.RETRY_WAIT.value, timestamp(now), *args),
        )
        return [_case(r) for r in rows]

    def file_finished(self, file_id: int) -> bool:
        """True when the file has cases and every one is in an end state (time to archive)."""
        rows = self._query("SELECT state FROM cases WHERE file_id = ?", (file_id,))
        return bool(rows) and all(CaseState(r["state"]) in CASE_END_STATES for r in rows)

    # -- attachments -------------------------------------------------------------------

    def record_attachment(self, case_id: int, filnavn: str, sha256: str, uuid: str) -> None:
        """Remember an uploaded attachment so a resumed case reuses it instead of re-uploading."""
        with self._tx() as tx:
            tx.run(
                "INSERT INTO attachments (case_id, filnavn, sha256, uuid, uploaded_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id, filnavn, sha256) DO UPDATE"
                " SET uuid = excluded.uuid, uploaded_at = excluded.uploaded_at",
                (case_id, filnavn, sha256, uuid, self._now()),
            )

    def attachment_uuid(self, case_id: int, filnavn: str, sha256: str) -> str | None:
        """The UUID this exact attachment content got for this case, if already uploaded."""
        rows = self._query(
            "SELECT uuid FROM attachments WHERE case_id = ? AND filnavn = ? AND sha256 = ?",
            (case_id, filnavn, sha256),
        )
        return str(rows[0]["uuid"]) if rows else None

    # -- cursors -----------------------------------------------------------------------

    def _cursor_name(self, name: str) -> str:
        # Each tenant polls its own Dialogporten party: its cursors are its own.
        tenant = self._writing_tenant()
        return f"{tenant}/{name}" if tenant else name

    def get_cursor(self, name: str) -> str | None:
        """A stored cursor value (follow-up polling), or None."""
        rows = self._query("SELECT value FROM cursors WHERE name = ?", (self._cursor_name(name),))
        return str(rows[0]["value"]) if rows else None

    def set_cursor(self, name: str, value: str) -> None:
        """Store a cursor value durably."""
        with self._tx() as tx:
            tx.run(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (self._cursor_name(name), value, self._now()),
            )

    # -- history and overview ----------------------------------------------------------

    def transitions(self, entity: str, entity_id: int) -> list[Transition]:
        """The recorded state changes of one file or case, oldest first."""
        rows = self._query(
            "SELECT * FROM transitions WHERE entity = ? AND entity_id = ? ORDER BY id",
            (entity, entity_id),
        )
        return [
            Transition(
                entity=r["entity"],
                entity_id=r["entity_id"],
                from_state=r["from_state"],
                to_state=r["to_state"],
                at=_dt(r["at"]) or self._clock(),
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]

    def summary(self) -> dict[str, Any]:
        """Counts by state and the age of the oldest unfinished file, for `status` and /metrics.

        Shape: {"files": {state: n, ...}, "cases": {state: n, ...},
        "oldest_open_file_age_seconds": float | None, "cases_due": n}; every state is listed.
        """
        now = self._clock()
        files = {s.value: 0 for s in FileState}
        cases = {s.value: 0 for s in CaseState}
        scope, args = self._scope()
        for table, counts in (("files", files), ("cases", cases)):
            for r in self._query(
                f"SELECT state, COUNT(*) AS n FROM {table} WHERE 1 = 1{scope} GROUP BY state",  # noqa: S608 -- a fixed table name and condition only
                args,
            ):
                counts[r["state"]] = int(r["n"])
        marks = ", ".join("?" * len(FILE_RESUMABLE))
        oldest = self._query(
            f"SELECT MIN(registered_at) AS t FROM files WHERE state IN ({marks}){scope}",  # noqa: S608 -- only placeholders are interpolated
            [*(s.value for s in FILE_RESUMABLE), *args],
        )[0]["t"]
        oldest_dt = _dt(oldest)
        return {
            "files": files,
            "cases": cases,
            "oldest_open_file_age_seconds": (
                None if oldest_dt is None else max(0.0, (now - oldest_dt).total_seconds())
            ),
            "cases_due": len(self.cases_due(now)),
        }
