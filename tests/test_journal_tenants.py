"""Tenants in the journal (vendor mode): each customer's rows are its own, in one journal
(SQLite file or PostgreSQL database: each test runs on both)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from utlegg_gateway.config import JournalSettings
from utlegg_gateway.errors import JournalError
from utlegg_gateway.journal import open_journal
from utlegg_gateway.journal._core import SqlJournal
from utlegg_gateway.journal._schema import SCHEMA
from utlegg_gateway.journal.sqlite import (
    FILE_RESUMABLE,
    SCHEMA_VERSION,
    CaseState,
    FileState,
    Journal,
)


def _clock() -> datetime:
    return datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def journal(journal_settings: JournalSettings) -> Iterator[SqlJournal]:
    with open_journal(journal_settings, clock=_clock) as j:
        assert isinstance(j, SqlJournal)
        yield j


def _file_with_case(j: SqlJournal, ref: str = "IB-1", sha: str = "a" * 64) -> tuple[int, int]:
    record = j.register_file(inbox="csv", name="export.csv", sha256=sha, size=10, path="w/x")
    case = j.add_case(
        record.id,
        key=ref,
        innsender_referanse=ref,
        begjaeringsdato="2026-12-01",
        payload={"innsenderReferanse": ref},
        source={"rows": [2]},
    )
    return record.id, case.id


def test_the_same_export_from_two_customers_is_no_duplicate(journal: SqlJournal) -> None:
    """Two agencies may export byte-identical files: only a tenant's own copy is a duplicate."""
    nord, sor = journal.for_tenant("nord"), journal.for_tenant("sor")
    first, _ = _file_with_case(nord)
    other, _ = _file_with_case(sor)
    again = nord.register_file(inbox="csv", name="export.csv", sha256="a" * 64, size=10)
    assert sor.file(other).duplicate_of is None
    assert again.duplicate_of == first
    assert (nord.file(first).tenant, sor.file(other).tenant) == ("nord", "sor")
    rows = journal._query("SELECT tenant, COUNT(*) AS n FROM cases GROUP BY tenant ORDER BY 1")
    assert [(r["tenant"], r["n"]) for r in rows] == [("nord", 1), ("sor", 1)]


def test_lookups_stay_inside_the_tenant(journal: SqlJournal) -> None:
    """Resumable files, business-key lookups, cursors and counts see one tenant only."""
    nord, sor = journal.for_tenant("nord"), journal.for_tenant("sor")
    _, nord_case = _file_with_case(nord, "IB-1")
    _file_with_case(sor, "IB-1", sha="b" * 64)
    for state in (CaseState.UPLOADING, CaseState.SUBMITTING, CaseState.ACCEPTED):
        nord.set_case_state(nord_case, state)
    assert nord.accepted_case("IB-1", "2026-12-01") is not None
    assert sor.accepted_case("IB-1", "2026-12-01") is None  # another agency's IB-1
    assert [f.tenant for f in sor.files_in_states(*FILE_RESUMABLE)] == ["sor"]
    assert [c.state for c in sor.cases_in_states(CaseState.NEW)] == [CaseState.NEW]
    assert sor.cases_in_states(CaseState.ACCEPTED) == []
    nord.set_cursor("dialogporten.updated_after", "2026-12-01T00:00:00Z")
    assert sor.get_cursor("dialogporten.updated_after") is None
    assert nord.get_cursor("dialogporten.updated_after") == "2026-12-01T00:00:00Z"
    assert nord.summary()["cases"]["accepted"] == 1
    assert sor.summary()["cases"]["accepted"] == 0
    every = journal.for_tenant(None)
    assert every.summary()["files"]["claimed"] == 2
    with pytest.raises(JournalError, match="reading only"):
        every.register_file(inbox="csv", name="x.csv", sha256="c" * 64, size=1)


def test_a_single_tenant_journal_of_version_1_is_migrated_in_place(tmp_path: Path) -> None:
    """A journal written before tenants keeps its rows, now the implicit tenant's ('')."""
    path = tmp_path / "journal.sqlite3"
    old_schema = "\n".join(
        line for line in SCHEMA.splitlines() if "tenant" not in line
    )  # version 1 was this schema without the tenant columns and indexes
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute(
        "INSERT INTO files (inbox, name, sha256, size, path, state, registered_at, updated_at)"
        " VALUES ('csv', 'old.csv', ?, 1, 'work/csv/old.csv', 'processing', ?, ?)",
        ("d" * 64, _clock().isoformat(), _clock().isoformat()),
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()

    with Journal.open(path, clock=_clock) as j:
        (old,) = j.files_in_states(FileState.PROCESSING)
        assert (old.name, old.tenant) == ("old.csv", "")
        assert j.for_tenant("nord").files_in_states(FileState.PROCESSING) == []
        assert j._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 2


@pytest.mark.postgres
def test_a_postgresql_journal_of_version_1_is_migrated_in_place(
    postgres_journal_settings: JournalSettings,
) -> None:
    """The PostgreSQL journal's steps are the same: version 1 gains the tenant columns."""
    import psycopg

    from utlegg_gateway.journal import postgres

    settings = postgres_journal_settings
    assert settings.url is not None and settings.password is not None
    old_schema = "\n".join(line for line in postgres.SCHEMA.splitlines() if "tenant" not in line)
    with psycopg.connect(settings.url, password=settings.password.read(), autocommit=True) as raw:
        for statement in old_schema.split(";"):
            if statement.strip():
                raw.execute(statement)
        raw.execute(
            "INSERT INTO files (inbox, name, sha256, size, path, state, registered_at,"
            " updated_at) VALUES ('csv', 'old.csv', %s, 1, 'work/csv/old.csv', 'processing',"
            " %s, %s)",
            ("d" * 64, _clock().isoformat(), _clock().isoformat()),
        )
        raw.execute("CREATE TABLE journal_schema (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO journal_schema (version) VALUES (1)")
    with pytest.raises(JournalError, match="version 1, this gateway reads 2"):
        open_journal(settings, clock=_clock, read_only=True)  # status does not migrate
    with open_journal(settings, clock=_clock) as j:
        (old,) = j.files_in_states(FileState.PROCESSING)
        assert (old.name, old.tenant) == ("old.csv", "")
        assert j.for_tenant("nord").files_in_states(FileState.PROCESSING) == []
    with open_journal(settings, clock=_clock, read_only=True) as j:  # now it reads
        assert j.summary()["files"]["processing"] == 1
