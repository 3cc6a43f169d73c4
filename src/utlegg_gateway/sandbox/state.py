"""The sandbox's memory: registrations, grants seen, uploads, cases, requests received.

One SQLite database, `:memory:` by default or a file (`--state FILE`) so a restart keeps
everything. This is the only sandbox module that knows SQL; sqlite3 errors become
`ConfigError` here (a state file the sandbox cannot use is a start-up problem).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utlegg_gateway.errors import ConfigError

__all__ = ["CaseRow", "RequestRow", "SandboxState", "UploadRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (client_id TEXT PRIMARY KEY, registration TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS old_debtors (identifikator TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS jti (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    uuid TEXT PRIMARY KEY, org TEXT NOT NULL, innsender_referanse TEXT NOT NULL,
    filnavn TEXT NOT NULL, content_type TEXT NOT NULL, content BLOB NOT NULL,
    received_at REAL NOT NULL, outcome TEXT NOT NULL, korrelasjonsid TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    ref TEXT PRIMARY KEY, org TEXT NOT NULL, innsender_referanse TEXT NOT NULL,
    begjaeringsdato TEXT NOT NULL, saksnummer TEXT NOT NULL, submitted_at REAL NOT NULL,
    last_version_at REAL NOT NULL, versions INTEGER NOT NULL, payload TEXT NOT NULL,
    status_override TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS cases_dup ON cases (org, innsender_referanse, begjaeringsdato);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, received_at REAL NOT NULL, headers TEXT NOT NULL, org TEXT,
    body BLOB NOT NULL, status INTEGER NOT NULL, ref TEXT);
"""


@dataclass(frozen=True)
class UploadRow:
    """One attachment as received."""

    uuid: str
    org: str
    innsender_referanse: str
    filnavn: str
    content_type: str
    content: bytes
    received_at: float
    outcome: str  # the state it ends in once scanning is over: ready | virus | failed
    korrelasjonsid: str


@dataclass(frozen=True)
class CaseRow:
    """One accepted begjæring (a case) and its latest version."""

    ref: str
    org: str
    innsender_referanse: str
    begjaeringsdato: str
    saksnummer: str
    submitted_at: float
    last_version_at: float
    versions: int
    payload: dict[str, Any]
    status_override: str | None


@dataclass(frozen=True)
class RequestRow:
    """One begjæring-carrying request as received, with its answer's status."""

    seq: int
    operation: str
    method: str
    path: str
    received_at: float
    headers: dict[str, str]
    org: str | None
    body: bytes
    status: int
    ref: str | None


class SandboxState:
    """Thread-safe access to the sandbox database (one connection, one lock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(
                str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
            )
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use sandbox state file {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ConfigError(f"sandbox state failed: {exc}") from exc

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored setting (clock offset, signing key, counters)."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def next_counter(self, key: str) -> int:
        """Increment and return a named counter (saksnummer sequence)."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = (int(row[0]) if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))
        return value

    # -- registrations ----------------------------------------------------------------
    def put_client(self, registration: dict[str, Any]) -> None:
        """Register (or replace) a Maskinporten client."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO clients (client_id, registration) VALUES (?, ?)",
                (registration["client_id"], json.dumps(registration)),
            )

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        """A client's registration, or None."""
        with self._tx() as db:
            row = db.execute(
                "SELECT registration FROM clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def clients(self) -> list[dict[str, Any]]:
        """Every registration."""
        with self._tx() as db:
            rows = db.execute("SELECT registration FROM clients ORDER BY client_id").fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def add_old_debtor(self, identifikator: str) -> None:
        """Put a debtor on the old rules (SAKSOEKT_GAMMELT_REGELVERK)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO old_debtors VALUES (?)", (identifikator,))

    def old_debtors(self) -> set[str]:
        """Debtors on the old rules."""
        with self._tx() as db:
            rows = db.execute("SELECT identifikator FROM old_debtors").fetchall()
        return {str(r[0]) for r in rows}

    # -- grants -----------------------------------------------------------------------
    def use_jti(self, jti: str, expires: float, now: float) -> bool:
        """Record a grant id; False if it was seen before (expired ids are pruned)."""
        with self._tx() as db:
            db.execute("DELETE FROM jti WHERE expires < ?", (now - 3600,))
            try:
                db.execute("INSERT INTO jti (jti, expires) VALUES (?, ?)", (jti, expires))
            except sqlite3.IntegrityError:
                return False
        return True

    # -- uploads ----------------------------------------------------------------------
    def add_upload(self, row: UploadRow) -> None:
        """Store an attachment."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.uuid,
                    row.org,
                    row.innsender_referanse,
                    row.filnavn,
                    row.content_type,
                    row.content,
                    row.received_at,
                    row.outcome,
                    row.korrelasjonsid,
                ),
            )

    def get_upload(self, uuid: str) -> UploadRow | None:
        """One attachment, or None."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM uploads WHERE uuid = ?", (uuid,)).fetchone()
        return None if row is None else UploadRow(*row)

    def uploads(self) -> list[UploadRow]:
        """Every attachment, oldest first."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM uploads ORDER BY received_at, uuid").fetchall()
        return [UploadRow(*r) for r in rows]

    # -- cases ------------------------------------------------------------------------
    def add_case(self, row: CaseRow) -> None:
        """Store a newly accepted case."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.ref,
                    row.org,
                    row.innsender_referanse,
                    row.begjaeringsdato,
                    row.saksnummer,
                    row.submitted_at,
                    row.last_version_at,
                    row.versions,
                    json.dumps(row.payload, ensure_ascii=False),
                    row.status_override,
                ),
            )

    @staticmethod
    def _case(row: tuple[Any, ...]) -> CaseRow:
        values = list(row)
        values[8] = json.loads(values[8])
        return CaseRow(*values)

    def get_case(self, ref: str) -> CaseRow | None:
        """A case by eksternSaksreferanse, or None."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM cases WHERE ref = ?", (ref,)).fetchone()
        return None if row is None else self._case(row)

    def find_duplicate(self, org: str, innsender_referanse: str, dato: str) -> CaseRow | None:
        """The case already accepted with this innsenderReferanse + begjæringsdato, if any."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM cases WHERE org = ? AND innsender_referanse = ? "
                "AND begjaeringsdato = ?",
                (org, innsender_referanse, dato),
            ).fetchone()
        return None if row is None else self._case(row)

    def update_case(self, ref: str, payload: dict[str, Any], at: float) -> None:
        """Store a new version of a case (an accepted endring)."""
        with self._tx() as db:
            db.execute(
                "UPDATE cases SET payload = ?, last_version_at = ?, versions = versions + 1 "
                "WHERE ref = ?",
                (json.dumps(payload, ensure_ascii=False), at, ref),
            )

    def set_case_status(self, ref: str, status: str | None) -> bool:
        """Force a case's status (None: back to the clock); False for an unknown case."""
        with self._tx() as db:
            cur = db.execute("UPDATE cases SET status_override = ? WHERE ref = ?", (status, ref))
        return cur.rowcount == 1

    def cases(self) -> list[CaseRow]:
        """Every case, oldest first."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM cases ORDER BY submitted_at, ref").fetchall()
        return [self._case(r) for r in rows]

    # -- request log ------------------------------------------------------------------
    def log_request(
        self,
        *,
        operation: str,
        method: str,
        path: str,
        received_at: float,
        headers: dict[str, str],
        org: str | None,
        body: bytes,
        status: int,
        ref: str | None,
    ) -> None:
        """Keep a begjæring-carrying request exactly as received."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO requests (operation, method, path, received_at, headers, org, "
                "body, status, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (operation, method, path, received_at, json.dumps(headers), org, body, status, ref),
            )

    def requests(self) -> list[RequestRow]:
        """Every logged request, in arrival order."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT seq, operation, method, path, received_at, headers, org, body, status, "
                "ref FROM requests ORDER BY seq"
            ).fetchall()
        out = []
        for r in rows:
            values = list(r)
            values[5] = json.loads(values[5])
            out.append(RequestRow(*values))
        return out

    # -- reset ------------------------------------------------------------------------
    def reset(self, *, registrations: bool = False) -> None:
        """Forget traffic and cases (and, on request, registrations); keep the signing key."""
        tables = ["jti", "uploads", "cases", "requests"]
        if registrations:
            tables += ["clients", "old_debtors"]
        with self._tx() as db:
            for table in tables:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names above
            db.execute("DELETE FROM meta WHERE key IN ('clock_offset', 'saksnummer')")
