"""The journal: real SQLite files in tmp_path and real PostgreSQL databases (each test
runs on both backends, ids `[sqlite]` and `[postgres]`), reopened to prove durability."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from utlegg_gateway.config import JournalSettings
from utlegg_gateway.errors import ErrorEntry, JournalError, TransitionError
from utlegg_gateway.journal import open_journal
from utlegg_gateway.journal._core import SqlJournal
from utlegg_gateway.journal.sqlite import (
    CASE_RESUMABLE,
    FILE_RESUMABLE,
    SCHEMA_VERSION,
    CaseState,
    FileState,
    Journal,
    NewCase,
)


class Clock:
    """A settable clock, so times in the journal are exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal_store(journal_settings: JournalSettings, clock: Clock) -> Iterator[SqlJournal]:
    with open_journal(journal_settings, clock=clock) as j:
        assert isinstance(j, SqlJournal)
        yield j


@pytest.fixture
def journal(journal_store: SqlJournal) -> SqlJournal:
    return journal_store


@pytest.fixture
def sqlite_journal(tmp_path: Path, clock: Clock) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "state" / "journal.sqlite3", clock=clock)
    yield j
    j.close()


def _open(settings: JournalSettings, clock: Any) -> SqlJournal:
    store = open_journal(settings, clock=clock)
    assert isinstance(store, SqlJournal)
    return store


def _set_schema_version(settings: JournalSettings, version: int) -> None:
    """Write another schema version into the journal, as another gateway release would."""
    if settings.url is None:
        with sqlite3.connect(settings.path) as raw:
            raw.execute(f"PRAGMA user_version={version}")
        return
    import psycopg

    assert settings.password is not None
    with psycopg.connect(settings.url, password=settings.password.read(), autocommit=True) as raw:
        raw.execute("UPDATE journal_schema SET version = %s", (version,))


def _case(journal: SqlJournal, file_id: int, key: str = "S1", dato: str = "2026-11-20") -> int:
    return journal.add_case(
        file_id,
        key=key,
        innsender_referanse=key,
        begjaeringsdato=dato,
        payload={"innsenderReferanse": key},
        source={"rows": [2, 3]},
    ).id


def test_open_uses_wal_and_sets_schema_version(sqlite_journal: Journal) -> None:
    """The SQLite journal runs in WAL mode and records its schema version."""
    assert sqlite_journal.journal_mode() == "wal"
    with sqlite3.connect(sqlite_journal.path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_read_does_not_wait_for_a_write_in_progress(sqlite_journal: Journal) -> None:
    """Reads go on while another thread is inside a write transaction (a COMMIT waiting
    for its fsync held every read on the event loop thread before), and see the state
    committed before them; a read inside the write sees that write's own rows."""
    record = sqlite_journal.register_file(inbox="in", name="a.csv", sha256="1" * 64, size=1)
    case_id = _case(sqlite_journal, record.id)
    inside = threading.Event()
    release = threading.Event()
    seen_inside: list[int] = []

    def writer() -> None:
        # _tx is the journal's own write transaction: held open here on purpose.
        with sqlite_journal._tx() as tx:
            tx.run("UPDATE cases SET attempts = 7 WHERE id = ?", (case_id,))
            seen_inside.append(sqlite_journal.case(case_id).attempts)
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inside.wait(30)
        # The write is still open: this read neither waits for it nor sees it.
        assert sqlite_journal.case(case_id).attempts == 0
        assert sqlite_journal.file(record.id).name == "a.csv"
    finally:
        release.set()
        thread.join(30)
    assert seen_inside == [7]
    assert sqlite_journal.case(case_id).attempts == 7  # committed: every read sees it


def test_writers_meeting_at_the_lock_share_one_commit_and_a_failed_one_is_undone_alone(
    sqlite_journal: Journal, tmp_path: Path
) -> None:
    """Group commit: writers that queue behind a commit (here: behind the test holding
    the write lock, as a slow fsync does) share the next COMMIT; each call returns only
    once that commit is done, and a refused write in the batch leaves the others in."""
    record = sqlite_journal.register_file(inbox="in", name="a.csv", sha256="2" * 64, size=1)
    ids = [_case(sqlite_journal, record.id, key=f"S{n}") for n in range(8)]
    statements: list[str] = []
    sqlite_journal._conn.set_trace_callback(statements.append)  # the write connection
    errors: dict[int, BaseException] = {}

    def write(n: int) -> None:
        try:
            # Case 3 asks for a move the state machine refuses (new -> accepted).
            target = CaseState.ACCEPTED if n == 3 else CaseState.UPLOADING
            sqlite_journal.set_case_state(ids[n], target)
        except BaseException as exc:  # collected and asserted below
            errors[n] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    with sqlite_journal._lock:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sqlite_journal._commits._coming < 8:
            assert time.monotonic() < deadline, "writers did not arrive"
            time.sleep(0.001)
    for t in threads:
        t.join(30)
    assert list(errors) == [3] and isinstance(errors[3], TransitionError)
    assert statements.count("COMMIT") == 1
    sqlite_journal._conn.set_trace_callback(None)
    with sqlite3.connect(sqlite_journal.path) as other:
        states = dict(other.execute("SELECT key, state FROM cases").fetchall())
    assert states == {f"S{n}": "new" if n == 3 else "uploading" for n in range(8)}


def test_newer_schema_is_refused(journal_settings: JournalSettings, clock: Clock) -> None:
    """A journal written by a newer gateway is refused instead of being misread, by the
    gateway and by `status` (read-only) alike."""
    _open(journal_settings, clock).close()
    _set_schema_version(journal_settings, SCHEMA_VERSION + 1)
    for read_only in (False, True):
        with pytest.raises(JournalError, match="schema version") as err:
            open_journal(journal_settings, clock=clock, read_only=read_only)
        assert (err.value.file or err.value.value) == (
            str(journal_settings.path) if journal_settings.url is None else journal_settings.url
        )


def test_unopenable_path_is_a_journal_error(tmp_path: Path, clock: Clock) -> None:
    """A journal path that is a directory gives JournalError, not sqlite3.Error."""
    bad = tmp_path / "adir"
    bad.mkdir()
    with pytest.raises(JournalError):
        Journal.open(bad, clock=clock)


def test_same_content_is_a_duplicate(journal: SqlJournal) -> None:
    """A second file with the same SHA-256 is registered with duplicate_of the first."""
    first = journal.register_file(inbox="krav", name="a.csv", sha256="ab" * 32, size=10)
    second = journal.register_file(inbox="krav", name="b.csv", sha256="ab" * 32, size=10)
    other = journal.register_file(inbox="krav", name="c.csv", sha256="cd" * 32, size=10)
    assert first.duplicate_of is None
    assert second.duplicate_of == first.id
    assert other.duplicate_of is None
    assert second.state is FileState.CLAIMED


def test_content_of_a_failed_file_is_not_a_duplicate(journal: SqlJournal) -> None:
    """Re-dropping a file that failed (e.g. bad config since fixed) is read again."""
    first = journal.register_file(inbox="krav", name="a.csv", sha256="ab" * 32, size=10)
    journal.set_file_state(
        first.id, FileState.FAILED, error=ErrorEntry("source-unreadable", "cannot read")
    )
    again = journal.register_file(inbox="krav", name="a.csv", sha256="ab" * 32, size=10)
    assert again.duplicate_of is None


def test_file_transitions_are_recorded_with_times(journal: SqlJournal, clock: Clock) -> None:
    """Every file state change leaves a timestamped transitions row with its detail."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1, path="/w/a")
    clock.advance(5)
    journal.set_file_state(f.id, FileState.MAPPING)
    clock.advance(5)
    journal.set_file_state(f.id, FileState.PROCESSING)
    clock.advance(5)
    done = journal.set_file_state(f.id, FileState.DONE, path="/archive/2026-11-27/a.csv")
    rows = journal.transitions("file", f.id)
    assert [(r.from_state, r.to_state) for r in rows] == [
        (None, "claimed"),
        ("claimed", "mapping"),
        ("mapping", "processing"),
        ("processing", "done"),
    ]
    assert rows[-1].at == datetime(2026, 11, 27, 2, 0, 15, tzinfo=UTC)
    assert rows[-1].detail["path"] == "/archive/2026-11-27/a.csv"
    assert done.path == "/archive/2026-11-27/a.csv"


def test_illegal_transition_is_refused_and_changes_nothing(journal: SqlJournal) -> None:
    """A transition outside the state machine raises and leaves state and history as they were."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    with pytest.raises(TransitionError, match="claimed -> done is not allowed") as err:
        journal.set_file_state(f.id, FileState.DONE)
    # Not a JournalError: the journal is sound, so only this file fails, not the run.
    assert not isinstance(err.value, JournalError)
    assert err.value.code == "illegal-transition" and err.value.field == "state"
    assert journal.file(f.id).state is FileState.CLAIMED
    assert len(journal.transitions("file", f.id)) == 1
    cid = _case(journal, f.id)
    with pytest.raises(TransitionError, match="new -> accepted is not allowed"):
        journal.set_case_state(cid, CaseState.ACCEPTED)
    assert journal.case(cid).state is CaseState.NEW
    journal.set_case_state(cid, CaseState.UPLOADING)
    with pytest.raises(TransitionError, match="retry_wait needs next_attempt_at"):
        journal.set_case_state(cid, CaseState.RETRY_WAIT)
    assert journal.case(cid).state is CaseState.UPLOADING
    assert len(journal.transitions("case", cid)) == 2


def test_add_case_is_idempotent_per_file_and_key(journal: SqlJournal) -> None:
    """Adding the same case key twice for one file returns the one existing case."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    a = _case(journal, f.id, "S1")
    b = _case(journal, f.id, "S1")
    c = _case(journal, f.id, "S2")
    assert a == b != c
    assert [x.key for x in journal.cases_for_file(f.id)] == ["S1", "S2"]


def _new(key: str, payload: Any = None) -> NewCase:
    return NewCase(key, key, "2026-11-20", payload or {"innsenderReferanse": key}, {"rows": [2]})


def test_add_cases_records_a_batch_in_one_transaction(journal: SqlJournal) -> None:
    """A batch comes back in order, without payloads; a key already there is not added again;
    a case that cannot be stored takes the whole batch back (one transaction, one commit)."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    first = _case(journal, f.id, "S1")
    got = journal.add_cases(f.id, [_new("S2"), _new("S1"), _new("S3")])
    assert [(c.key, c.state) for c in got] == [
        ("S2", CaseState.NEW),
        ("S1", CaseState.NEW),
        ("S3", CaseState.NEW),
    ]
    assert got[1].id == first
    assert all(c.payload == {} for c in got)
    assert journal.case(got[0].id).payload == {"innsenderReferanse": "S2"}
    with pytest.raises(TypeError):
        journal.add_cases(
            f.id, [_new("S4"), _new("S5", {1: "keys of mixed types", "b": "cannot be sorted"})]
        )
    assert [c.key for c in journal.cases_for_file(f.id)] == ["S1", "S2", "S3"]


def test_intent_is_committed_before_the_call(
    journal_settings: JournalSettings, clock: Clock
) -> None:
    """An intent is visible to another connection right away, as if the process died next."""
    with _open(journal_settings, clock) as j:
        f = j.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
        cid = _case(j, f.id)
        j.set_case_state(cid, CaseState.UPLOADING)
        j.record_intent(cid, "submit", "6f1c1d9e-0000-4000-8000-000000000001")
        with _open(journal_settings, clock) as other:
            intents = other.intents(cid)
        assert [(i.case_id, i.operation, i.meldingsid) for i in intents] == [
            (cid, "submit", "6f1c1d9e-0000-4000-8000-000000000001")
        ]
        assert intents[0].at == clock.now
        assert j.case(cid).meldingsid == "6f1c1d9e-0000-4000-8000-000000000001"


def test_the_intent_and_submitting_state_are_one_commit(
    journal_settings: JournalSettings, clock: Clock
) -> None:
    """`set_case_state(..., intent=)`: state, Meldingsid and intent committed together
    (seen by another connection at once), or, when refused, none of them."""
    with _open(journal_settings, clock) as j:
        f = j.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
        cid = _case(j, f.id)
        j.set_case_state(cid, CaseState.UPLOADING)
        with pytest.raises(TransitionError, match="needs its meldingsid"):
            j.set_case_state(cid, CaseState.SUBMITTING, intent="submit")  # no meldingsid
        assert j.case(cid).state is CaseState.UPLOADING
        assert j.intents(cid) == []
        j.set_case_state(cid, CaseState.SUBMITTING, meldingsid="m-1", intent="submit")
        with _open(journal_settings, clock) as other:
            seen = other.case(cid)
            intents = other.intents(cid)
        assert (seen.state, seen.meldingsid, seen.attempts) == (CaseState.SUBMITTING, "m-1", 1)
        assert [(i.operation, i.meldingsid, i.at) for i in intents] == [
            ("submit", "m-1", clock.now)
        ]


def test_case_lifecycle_sets_times_attempts_and_reference(
    journal: SqlJournal, clock: Clock
) -> None:
    """Submitting counts attempts and keeps the first submit time; accepting sets finished_at."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    cid = _case(journal, f.id)
    journal.set_case_state(cid, CaseState.UPLOADING)
    clock.advance(1)
    journal.set_case_state(cid, CaseState.SUBMITTING)
    first_submit = clock.now
    clock.advance(30)
    journal.set_case_state(
        cid,
        CaseState.RETRY_WAIT,
        next_attempt_at=clock.now + timedelta(seconds=60),
        errors=[ErrorEntry("elan-temporary", "503")],
    )
    assert journal.cases_due(clock.now) == []
    clock.advance(61)
    assert [c.id for c in journal.cases_due(clock.now)] == [cid]
    journal.set_case_state(cid, CaseState.SUBMITTING)
    clock.advance(1)
    done = journal.set_case_state(
        cid, CaseState.ACCEPTED, ekstern_saksreferanse="UB-1", korrelasjonsid="k-1", errors=[]
    )
    assert done.attempts == 2
    assert done.submitted_at == first_submit
    assert done.finished_at == clock.now
    assert done.next_attempt_at is None
    assert done.ekstern_saksreferanse == "UB-1"
    assert done.errors == ()
    assert journal.file_finished(f.id)


def test_accepted_case_lookup_by_business_key(journal: SqlJournal) -> None:
    """Only an accepted case with the same innsenderReferanse and date is found."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    cid = _case(journal, f.id, "S1", "2026-11-20")
    assert journal.accepted_case("S1", "2026-11-20") is None
    journal.set_case_state(cid, CaseState.UPLOADING)
    journal.set_case_state(cid, CaseState.SUBMITTING)
    journal.set_case_state(cid, CaseState.ACCEPTED, ekstern_saksreferanse="UB-9")
    found = journal.accepted_case("S1", "2026-11-20")
    assert found is not None and found.ekstern_saksreferanse == "UB-9"
    assert journal.accepted_case("S1", "2026-11-21") is None
    assert journal.accepted_case("S2", "2026-11-20") is None


def test_reopen_resumes_intermediate_states(
    journal_settings: JournalSettings, clock: Clock
) -> None:
    """After close and reopen, files and cases in intermediate states are listed to resume."""
    with _open(journal_settings, clock) as j:
        busy = j.register_file(inbox="krav", name="a.csv", sha256="01" * 32, size=1)
        j.set_file_state(busy.id, FileState.MAPPING)
        j.set_file_state(busy.id, FileState.PROCESSING)
        finished = j.register_file(inbox="krav", name="b.csv", sha256="02" * 32, size=1)
        j.set_file_state(finished.id, FileState.DUPLICATE)
        c1 = _case(j, busy.id, "S1")
        c2 = _case(j, busy.id, "S2")
        j.set_case_state(c1, CaseState.UPLOADING)
        j.set_case_state(c1, CaseState.SUBMITTING)
        j.set_case_state(
            c2, CaseState.REJECTED_LOCAL, errors=[ErrorEntry("MANGLER_KRAV", "mangler krav")]
        )
    with _open(journal_settings, clock) as j:
        assert [f.id for f in j.files_in_states(*FILE_RESUMABLE)] == [busy.id]
        resumed = j.cases_in_states(*CASE_RESUMABLE)
        assert [(c.id, c.state) for c in resumed] == [(c1, CaseState.SUBMITTING)]
        assert j.case(c2).errors == (ErrorEntry("MANGLER_KRAV", "mangler krav"),)
        assert not j.file_finished(busy.id)


def test_state_survives_a_killed_process(journal_settings: JournalSettings) -> None:
    """A process killed right after record_intent leaves the intent and state for the next start."""
    script = textwrap.dedent(
        f"""
        import os
        from datetime import UTC, datetime
        from utlegg_gateway.config import JournalSettings
        from utlegg_gateway.journal import open_journal
        from utlegg_gateway.journal.sqlite import CaseState
        settings = JournalSettings.model_validate_json({journal_settings.model_dump_json()!r})
        j = open_journal(settings, clock=lambda: datetime.now(UTC))
        f = j.register_file(inbox="krav", name="a.csv", sha256="aa" * 32, size=3)
        c = j.add_case(f.id, key="S1", innsender_referanse="S1", begjaeringsdato="2026-11-20",
                       payload={{}}, source={{}})
        j.set_case_state(c.id, CaseState.UPLOADING)
        j.record_intent(c.id, "submit", "m-1")
        j.set_case_state(c.id, CaseState.SUBMITTING)
        os._exit(9)  # no close, no checkpoint: as if killed
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == 9
    with _open(journal_settings, lambda: datetime.now(UTC)) as j:
        (case,) = j.cases_in_states(*CASE_RESUMABLE)
        assert case.state is CaseState.SUBMITTING
        assert [i.meldingsid for i in j.intents(case.id)] == ["m-1"]


def test_attachment_uuid_is_reused_only_for_same_content(journal: SqlJournal) -> None:
    """An uploaded attachment's UUID is found again for the same case, name and hash only."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="00" * 32, size=1)
    cid = _case(journal, f.id)
    journal.record_attachment(cid, "S1_varsel.pdf", "11" * 32, "uuid-1")
    assert journal.attachment_uuid(cid, "S1_varsel.pdf", "11" * 32) == "uuid-1"
    assert journal.attachment_uuid(cid, "S1_varsel.pdf", "22" * 32) is None


def test_cursor_round_trip(journal_settings: JournalSettings, clock: Clock) -> None:
    """A cursor set is read back, updated in place, and survives reopening."""
    with _open(journal_settings, clock) as j:
        assert j.get_cursor("status") is None
        j.set_cursor("status", "41")
        j.set_cursor("status", "42")
    with _open(journal_settings, clock) as j:
        assert j.get_cursor("status") == "42"


def test_summary_counts_and_oldest_open_age(journal: SqlJournal, clock: Clock) -> None:
    """The summary counts every state and gives the age of the oldest unfinished file."""
    a = journal.register_file(inbox="krav", name="a.csv", sha256="01" * 32, size=1)
    clock.advance(100)
    b = journal.register_file(inbox="krav", name="b.csv", sha256="02" * 32, size=1)
    journal.set_file_state(b.id, FileState.FAILED, error=ErrorEntry("x", "failed"))
    _case(journal, a.id)
    clock.advance(20)
    s = journal.summary()
    assert s["files"]["claimed"] == 1 and s["files"]["failed"] == 1 and s["files"]["done"] == 0
    assert s["cases"]["new"] == 1
    assert s["oldest_open_file_age_seconds"] == 120.0
    assert s["cases_due"] == 0


def test_naive_clock_is_refused(journal_settings: JournalSettings) -> None:
    """A clock without a timezone is a programming error the journal reports."""
    naive = datetime(2026, 1, 1)
    with (
        _open(journal_settings, lambda: naive) as j,
        pytest.raises(JournalError),
    ):
        j.register_file(inbox="krav", name="a", sha256="0", size=0)


def test_file_cases_reads_page_by_page_and_counts_by_state(journal: SqlJournal) -> None:
    """`file_cases` yields every case of its file once, in order, without payloads, even
    when cases change state between pages; `case_counts` counts them per state."""
    f = journal.register_file(inbox="krav", name="a.csv", sha256="0e" * 32, size=1)
    other = journal.register_file(inbox="krav", name="b.csv", sha256="0f" * 32, size=1)
    ids = [_case(journal, f.id, key=f"S{n}") for n in range(7)]
    _case(journal, other.id, key="OTHER")
    seen = []
    for case in journal.file_cases(f.id, page=3):
        seen.append(case.id)
        assert case.payload == {}
        # Ending a case while walking (as failing a file does) must not move the pages.
        if case.id != ids[0]:
            journal.set_case_state(case.id, CaseState.REJECTED_LOCAL)
    assert seen == ids
    assert [c.id for c in journal.file_cases(f.id, page=7)] == ids  # a full last page
    assert list(journal.file_cases(f.id)) == journal.cases_for_file(f.id, payloads=False)
    journal.set_case_state(ids[0], CaseState.FAILED)
    assert journal.case_counts(f.id) == {CaseState.REJECTED_LOCAL: 6, CaseState.FAILED: 1}
    assert journal.case_counts(other.id) == {CaseState.NEW: 1}
    assert list(journal.file_cases(999)) == []
    assert journal.case_counts(999) == {}
