"""The embedded journal: SQLite (WAL) on local disk, the default backend.

The journal's operations and the state machine's checks are `SqlJournal`'s (`_core.py`),
shared with the PostgreSQL backend; this module holds what is SQLite's own: opening the
file (WAL, FULL sync, foreign keys), its schema version (`PRAGMA user_version`) and
migrations (`_schema.py`), the transactions, and the one place where `sqlite3` errors
become `JournalError`. Every state change is one write with a row in `transitions`
(from, to, time, detail), durable (committed, fsynced) *before* the call that made it
returns and so before the gateway acts on the new state; `record_intent` is committed
before each external call. Writes of several threads that meet at the lock share one
commit (`_GroupCommit`).

The state machine (states, allowed transitions, end states) is drawn and defined in
`states.py` and re-exported here. Everything not in an end state is resumed on
start (`files_in_states(*FILE_RESUMABLE)`, `cases_in_states(*CASE_RESUMABLE)`).

Duplicates: a file whose SHA-256 equals one already registered (and not `failed`, so a
fixed configuration can re-read a re-dropped file) is registered with `duplicate_of`
set; the pipeline answers it with a duplicate receipt and marks it `duplicate`. A copy
with a case that ended `failed` is read again too (its accepted cases are then caught
per case by `accepted_case`).
Journal rows are never purged with the archive, so duplicates are caught for ever.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from utlegg_gateway.errors import JournalError
from utlegg_gateway.journal._core import SqlJournal
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
)

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


class _SqliteTx:
    """The write transaction `SqlJournal` works in (the connection, BEGIN IMMEDIATE taken)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
        return row

    def run(self, sql: str, args: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, args)

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        row_id = self._conn.execute(sql, args).lastrowid
        assert row_id is not None
        return row_id


class Journal(SqlJournal):
    """The durable state in SQLite. Thread-safe: writes on one connection under one lock;
    reads outside a write on a second connection under a lock of its own.

    Why two: a write's COMMIT waits for its fsync while holding the write lock, and a
    read on the event loop thread (a case's record, before its next call) waited for it
    too, stalling every case in flight. WAL lets a reader go on beside a writer, and it
    sees every transaction committed before the read began, so a read after one of our
    writes returns sees that write. A read inside a write transaction (same thread) stays
    on the write connection, where its uncommitted rows are.

    Open with `Journal.open(path, clock=...)`; close with `close()` or use it as a
    context manager. All times come from the injected clock (timezone-aware). What a
    tenant view sees: `SqlJournal`.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], datetime],
        *,
        tenant: str | None = "",
        lock: threading.RLock | None = None,
        reader: _Reader | None = None,
        commits: _GroupCommit | None = None,
    ):
        super().__init__(clock, tenant=tenant)
        self._conn = conn
        self._path = path
        self._lock = lock or threading.RLock()
        self._reader = reader or _Reader(conn, self._lock)
        self._commits = commits or _GroupCommit()

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
                reads = sqlite3.connect(
                    path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=busy_timeout_ms / 1000,
                )
                reads.row_factory = sqlite3.Row
                reads.execute("PRAGMA query_only=ON")
                reads.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                journal._reader = _Reader(reads, threading.Lock(), own=True)
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

    def for_tenant(self, tenant: str | None) -> Self:
        """The same journal as seen by `tenant` (same connection and lock; close it once);
        None: every tenant's rows, read-only."""
        return type(self)(
            self._conn,
            self._path,
            self._clock,
            tenant=tenant,
            lock=self._lock,
            reader=self._reader,
            commits=self._commits,
        )

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
            self._reader.close()
            self._conn.close()

    @property
    def path(self) -> Path:
        """Where the journal lives."""
        return self._path

    def journal_mode(self) -> str:
        """The SQLite journal mode in force ('wal')."""
        with self._lock, _translated(self._path, "read"):
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[_SqliteTx]:
        """One write, durable when this returns: a group commit (see `_GroupCommit`).

        The write runs in a savepoint of the batch's transaction, so a write that fails
        is undone alone and the others of its batch still commit."""
        if getattr(self._reader.writing, "active", False):
            # It would wait for its own batch's commit: refuse it instead of hanging.
            raise JournalError("a journal write inside another write", file=str(self._path))
        commits = self._commits
        commits.arriving()
        batch: _Batch | None = None
        failure: BaseException | None = None
        with self._lock, _translated(self._path, "write"):
            try:
                if commits.batch is None:
                    self._conn.execute("BEGIN IMMEDIATE")
                    commits.batch = _Batch()
                batch = commits.batch
                self._conn.execute("SAVEPOINT write")
                self._reader.writing.active = True
                try:
                    yield _SqliteTx(self._conn)
                except BaseException as exc:
                    failure = exc
                    self._conn.execute("ROLLBACK TO write")
                finally:
                    self._reader.writing.active = False
                    self._conn.execute("RELEASE write")
            finally:
                if commits.left() and batch is not None:
                    # Nobody else is on the way: commit the batch (every write in it).
                    commits.batch = None
                    try:
                        self._conn.execute("COMMIT")
                    except sqlite3.Error as exc:
                        batch.error = exc
                        if self._conn.in_transaction:
                            self._conn.execute("ROLLBACK")
                    batch.done.set()
        if failure is not None:
            raise failure
        assert batch is not None
        # Another writer was on the way and commits this batch once it has written.
        batch.done.wait()
        if batch.error is not None:
            with _translated(self._path, "write"):
                raise batch.error

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if getattr(self._reader.writing, "active", False):
            # Inside this thread's own write: only the write connection sees its rows.
            with self._lock, _translated(self._path, "read"):
                return list(self._conn.execute(sql, args).fetchall())
        with self._reader.lock, _translated(self._path, "read"):
            return list(self._reader.conn.execute(sql, args).fetchall())


class _Batch:
    """The writes of one group commit: set `done` once committed (or `error`)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: sqlite3.Error | None = None


class _GroupCommit:
    """Writers on their way to the journal, and the batch they write into.

    A COMMIT waits for its fsync (7 ms and more on a slow disk) holding the write lock;
    writers arriving meanwhile queue for the lock. The first of them to get it opens a
    new transaction; each writes in it and, if another writer is still on its way, waits
    for that one to commit; the last to arrive commits for all. So N writers waiting on
    one fsync share the next one, and each still returns only once its write is durable.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._coming = 0
        self.batch: _Batch | None = None  # read and set under the write lock

    def arriving(self) -> None:
        with self._mutex:
            self._coming += 1

    def left(self) -> bool:
        """This writer is done writing: whether it was the last one on its way."""
        with self._mutex:
            self._coming -= 1
            return self._coming == 0


class _Reader:
    """The read connection every tenant view of one journal shares, its lock, and which
    thread is inside a write transaction (a thread-local flag)."""

    def __init__(
        self, conn: sqlite3.Connection, lock: threading.Lock | threading.RLock, *, own: bool = False
    ) -> None:
        self.conn = conn
        self.lock = lock
        self.writing = threading.local()
        # False: the write connection doubles as the reader (read-only `status`).
        self._own = own

    def close(self) -> None:
        if self._own:
            with self.lock:
                self.conn.close()


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
