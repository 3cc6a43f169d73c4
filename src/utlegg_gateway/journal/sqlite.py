"""The journal: durable state of every file and case, in SQLite (WAL) on local disk.

This is the only module that knows SQL, and the one place where `sqlite3` errors become
`JournalError`. Every state change is one committed transaction with a row in
`transitions` (from, to, time, detail), written *before* the gateway acts on the new
state; `record_intent` is committed before each external call.

The state machine (states, allowed transitions, end states) is drawn and defined in
`_journal_types.py` and re-exported here. Everything not in an end state is resumed on
start (`files_in_states(*FILE_RESUMABLE)`, `cases_in_states(*CASE_RESUMABLE)`).

Duplicates: a file whose SHA-256 equals one already registered (and not `failed`, so a
fixed configuration can re-read a re-dropped file) is registered with `duplicate_of`
set; the pipeline answers it with a duplicate receipt and marks it `duplicate`. A copy
with a case that ended `failed` is read again too (its accepted cases are then caught
per case by `accepted_case`).
Journal rows are never purged with the archive, so duplicates are caught for ever.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from utlegg_gateway.errors import ErrorEntry, JournalError
from utlegg_gateway.journal._schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from utlegg_gateway.journal.states import (
    CASE_END_STATES,
    CASE_RESUMABLE,
    CASE_TRANSITIONS,
    FILE_END_STATES,
    FILE_RESUMABLE,
    FILE_TRANSITIONS,
    CaseRecord,
    CaseState,
    FileRecord,
    FileState,
    Intent,
    NewCase,
    Transition,
    encode_name,
)
from utlegg_gateway.journal.states import case_from_row as _case
from utlegg_gateway.journal.states import file_from_row as _file
from utlegg_gateway.journal.states import parse_time as _dt

__all__ = [
    "CASE_END_STATES",
    "CASE_RESUMABLE",
    "CASE_TRANSITIONS",
    "FILE_END_STATES",
    "FILE_RESUMABLE",
    "FILE_TRANSITIONS",
    "SCHEMA_VERSION",
    "CaseRecord",
    "CaseState",
    "FileRecord",
    "FileState",
    "Intent",
    "Journal",
    "NewCase",
    "Transition",
]

F, C = FileState, CaseState


def _ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise JournalError("journal times must be timezone-aware", value=value.isoformat())
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# Every column of `cases` but the payload, which is read as an empty object instead.
_CASE_COLUMNS_LIGHT = (
    "id, file_id, key, innsender_referanse, begjaeringsdato, state, '{}' AS payload, source,"
    " ekstern_saksreferanse, korrelasjonsid, meldingsid, errors, duplicate_of, attempts,"
    " next_attempt_at, submitted_at, finished_at, created_at, updated_at"
)


def _columns(payloads: bool) -> str:
    return "*" if payloads else _CASE_COLUMNS_LIGHT


def _dump(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A name with surrogates (see states.encode_name): JSON's \u escapes hold it.
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str)
    return text


class Journal:
    """The durable state. Thread-safe: one connection, every call under one lock.

    Open with `Journal.open(path, clock=...)`; close with `close()` or use it as a
    context manager. All times come from the injected clock (timezone-aware).

    A journal object sees one tenant (vendor mode: one customer organisation): every file
    it registers carries it, and every lookup by state, content or business key stays
    inside it, so one customer's file can never be a duplicate of, or resume as, another's.
    `for_tenant` gives another tenant's view on the same connection; `tenant=None` (only
    for reading: `status`) sees them all.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], datetime],
        *,
        tenant: str | None = "",
        lock: threading.RLock | None = None,
    ):
        self._conn = conn
        self._path = path
        self._clock = clock
        self._lock = lock or threading.RLock()
        self._tenant = tenant

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, *, clock: Callable[[], datetime], busy_timeout_ms: int = 5000
    ) -> Journal:
        """Open (creating if needed) the journal at `path`: WAL, FULL sync, schema migrated."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal folder: {exc.strerror}", file=str(path.parent)
            ) from exc
        with _translated(path, "open"):
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write
            # transaction takes the lock up front and never fails half-way on upgrade.
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JournalError(
                        f"the journal cannot use WAL mode (got {mode!r}): network share?",
                        file=str(path),
                        hint="put journal.path on a local disk",
                    )
                # FULL: a committed intent survives a power cut, which at-most-once
                # submission relies on: an intent without an outcome means the call may
                # have reached ELAN.
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                journal = cls(conn, path, clock)
                journal._migrate()
            except BaseException:
                conn.close()
                raise
        return journal

    @classmethod
    def open_read_only(
        cls, path: Path, *, clock: Callable[[], datetime], busy_timeout_ms: int = 5000
    ) -> Journal:
        """Open an existing journal for reading only (`status`): never creates one.

        JournalError "no journal at PATH" (exit 2) when there is none; a newer schema
        than this gateway's is refused as in `open`.
        """
        if not path.is_file():
            raise JournalError(
                f"no journal at {path}",
                file=str(path),
                hint="check journal.path (relative paths are taken from the config's "
                "folder); the journal is created by the first `once` or `run`",
            )
        with _translated(path, "open"):
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
            conn.row_factory = sqlite3.Row
            try:
                conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    raise JournalError(
                        f"the journal has schema version {version}, this gateway reads"
                        f" {SCHEMA_VERSION}",
                        file=str(path),
                        hint="run `once` or `run` of this version once to migrate it, or "
                        "use the gateway version that wrote it",
                    )
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, clock)

    def for_tenant(self, tenant: str | None) -> Journal:
        """The same journal as seen by `tenant` (same connection and lock; close it once);
        None: every tenant's rows, read-only."""
        return Journal(self._conn, self._path, self._clock, tenant=tenant, lock=self._lock)

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

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the journal has schema version {version}, newer than this gateway"
                f" ({SCHEMA_VERSION})",
                file=str(self._path),
                hint="run the newer gateway version, or restore a matching journal",
            )
        if version == 0:
            with self._tx():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={step}")

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock, _translated(self._path, "close"):
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """Where the journal lives."""
        return self._path

    def journal_mode(self) -> str:
        """The SQLite journal mode in force ('wal')."""
        with self._lock, _translated(self._path, "read"):
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated(self._path, "write"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, _translated(self._path, "read"):
            return list(self._conn.execute(sql, args).fetchall())

    def _now(self) -> str:
        return _ts(self._clock())

    def _transition(
        self,
        conn: sqlite3.Connection,
        entity: str,
        entity_id: int,
        *,
        from_state: str | None,
        to_state: str,
        at: str,
        detail: Mapping[str, Any],
    ) -> None:
        conn.execute(
            "INSERT INTO transitions (entity, entity_id, from_state, to_state, at, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (entity, entity_id, from_state, to_state, at, _dump(dict(detail))),
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
        with self._tx() as conn:
            # A finished copy with a case that ended `failed` (a PDF that never came, ELAN
            # down past the retries) is no answer: the re-drop is how a person retries it,
            # and its accepted cases are still caught per case (`accepted_case`). A copy
            # still at work is a duplicate: its cases may yet be accepted.
            prior = conn.execute(
                "SELECT id FROM files AS f WHERE tenant = ? AND sha256 = ?"
                " AND state NOT IN (?, ?) AND NOT (state = ? AND EXISTS"
                " (SELECT 1 FROM cases AS c WHERE c.file_id = f.id AND c.state = ?))"
                " ORDER BY id LIMIT 1",
                (tenant, sha256, F.FAILED.value, F.DUPLICATE.value, F.DONE.value, C.FAILED.value),
            ).fetchone()
            duplicate_of = None if prior is None else int(prior["id"])
            cur = conn.execute(
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
            file_id = cur.lastrowid
            assert file_id is not None
            self._transition(
                conn,
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
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None:
                raise JournalError(f"no file with id {file_id} in the journal", value=str(file_id))
            current = FileState(row["state"])
            if state not in FILE_TRANSITIONS[current]:
                raise JournalError(
                    f"file {file_id}: {current.value} -> {state.value} is not allowed",
                    field="state",
                    value=state.value,
                )
            sets, args = ["state = ?", "updated_at = ?"], [state.value, now]
            if path is not None:
                sets.append("path = ?")
                args.append(str(path))
            if error is not None:
                sets.append("error = ?")
                args.append(_dump(error.to_json()))
            conn.execute(f"UPDATE files SET {', '.join(sets)} WHERE id = ?", (*args, file_id))  # noqa: S608 -- column names are literals above, values are bound
            info = dict(detail or {})
            if path is not None:
                info["path"] = str(path)
            if error is not None:
                info["error"] = error.to_json()
            self._transition(
                conn,
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
        with self._tx() as conn:
            conn.execute(
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
        with self._tx() as conn:
            for new in cases:
                row = conn.execute(
                    "SELECT id FROM cases WHERE file_id = ? AND key = ?", (file_id, new.key)
                ).fetchone()
                if row is not None:
                    ids.append(int(row["id"]))
                    continue
                cur = conn.execute(
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
                        _dump(dict(new.payload)),
                        _dump(dict(new.source)),
                        now,
                        now,
                    ),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
                self._transition(
                    conn,
                    "case",
                    cur.lastrowid,
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
    ) -> CaseRecord:
        """Move a case to `state` (checked against CASE_TRANSITIONS) and store what came with it.

        Entering `submitting` counts an attempt and sets `submitted_at` the first time;
        an end state sets `finished_at`; `next_attempt_at` is kept only in `retry_wait`.
        `payload` replaces the stored payload (e.g. with attachment UUIDs filled in).
        """
        now = self._now()
        with self._tx() as conn:
            row = conn.execute(
                "SELECT state, submitted_at FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            if row is None:
                raise JournalError(f"no case with id {case_id} in the journal", value=str(case_id))
            current = CaseState(row["state"])
            if state not in CASE_TRANSITIONS[current]:
                raise JournalError(
                    f"case {case_id}: {current.value} -> {state.value} is not allowed",
                    field="state",
                    value=state.value,
                )
            if state is C.RETRY_WAIT and next_attempt_at is None:
                raise JournalError("retry_wait needs next_attempt_at", field="next_attempt_at")
            sets: list[str] = ["state = ?", "updated_at = ?", "next_attempt_at = ?"]
            args: list[Any] = [
                state.value,
                now,
                _ts(next_attempt_at) if next_attempt_at is not None else None,
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
                args.append(_dump(stored))
                info["errors"] = stored
            if payload is not None:
                sets.append("payload = ?")
                args.append(_dump(dict(payload)))
            if next_attempt_at is not None:
                info["next_attempt_at"] = _ts(next_attempt_at)
            if state is C.SUBMITTING:
                sets.append("attempts = attempts + 1")
                if row["submitted_at"] is None:
                    sets.append("submitted_at = ?")
                    args.append(now)
            if state in CASE_END_STATES:
                sets.append("finished_at = ?")
                args.append(now)
            conn.execute(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", (*args, case_id))  # noqa: S608 -- column names are literals above, values are bound
            self._transition(
                conn,
                "case",
                case_id,
                from_state=current.value,
                to_state=state.value,
                at=now,
                detail=info,
            )
        return self.case(case_id)

    def record_intent(self, case_id: int, operation: str, meldingsid: str) -> None:
        """Commit, BEFORE making it, that an external call (`operation`) is about to be made.

        After a crash, an intent with no recorded outcome means "the call may have reached
        the server": resubmit with the same `meldingsid` and read DUPLIKAT_INNSENDING as in.
        """
        now = self._now()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO intents (case_id, operation, meldingsid, at) VALUES (?, ?, ?, ?)",
                (case_id, operation, meldingsid, now),
            )
            conn.execute(
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

    def cases_in_states(self, *states: CaseState, payloads: bool = True) -> list[CaseRecord]:
        """Cases in any of `states`, oldest first (CASE_RESUMABLE: what to resume on start)."""
        return [_case(r) for r in self._in_states("cases", states, _columns(payloads))]

    def _in_states(
        self,
        table: Literal["files", "cases"],
        states: Sequence[FileState | CaseState],
        columns: str = "*",
    ) -> list[sqlite3.Row]:
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
            (C.RETRY_WAIT.value, _ts(now), *args),
        )
        return [_case(r) for r in rows]

    def file_finished(self, file_id: int) -> bool:
        """True when the file has cases and every one is in an end state (time to archive)."""
        rows = self._query("SELECT state FROM cases WHERE file_id = ?", (file_id,))
        return bool(rows) and all(CaseState(r["state"]) in CASE_END_STATES for r in rows)

    # -- attachments -------------------------------------------------------------------

    def record_attachment(self, case_id: int, filnavn: str, sha256: str, uuid: str) -> None:
        """Remember an uploaded attachment so a resumed case reuses it instead of re-uploading."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO attachments (case_id, filnavn, sha256, uuid, uploaded_at)"
                " VALUES (?, ?, ?, ?, ?)",
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
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
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
                counts[r["state"]] = r["n"]
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


@contextmanager
def _translated(path: Path, action: str) -> Iterator[None]:
    """The one place sqlite3 errors become JournalError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise JournalError(
            f"journal {action} failed: {exc}",
            file=str(path),
            hint="check that the journal is on a local, writable disk with free space",
        ) from exc
