"""What one journal read and one journal write cost on PostgreSQL, against a bare round trip.

    .venv/bin/python benchmarks/bench_journal.py [--reads 3000] [--writes 500] [--rounds 3]

Starts a throwaway PostgreSQL server on loopback (tests/_postgres.py, as the tests do),
opens the journal on it as the gateway does, and times, in rounds that alternate:

- a read: `journal.case_state(id)` (one SELECT on a pooled connection), and a write:
  `journal.set_case_state(id, …)` (BEGIN, SELECT, UPDATE, INSERT, COMMIT, under the
  write lock, and the case record back), on a case holding the official example;
- each with the pool checking every connection it hands out (`check=`
  `ConnectionPool.check_connection`: one empty query first, what the journal did until
  this benchmark) and without (what it does now);
- the limit beside them: `SELECT 1` on one psycopg connection of its own, no pool.

Prints wall and CPU microseconds per operation, each the best of the rounds; nothing is
asserted. The same on SQLite (a file in a temporary folder) for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg_pool import ConnectionPool
from tests import _postgres
from tests._data import REFERENCE

from utlegg_gateway.journal import JournalStore
from utlegg_gateway.journal.postgres import PostgresJournal
from utlegg_gateway.journal.sqlite import Journal
from utlegg_gateway.journal.states import CaseState


def _clock() -> datetime:
    return datetime(2026, 12, 8, 4, 0, tzinfo=UTC)


def _timed(n: int, op: Callable[[int], object]) -> tuple[float, float]:
    """Wall and CPU microseconds per call of `op(i)` for i in range(n)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        op(i)
    return 1e6 * (time.perf_counter() - wall) / n, 1e6 * (time.process_time() - cpu) / n


def _one_case(journal: JournalStore) -> int:
    """One case holding the official example as its payload (6.7 KB of JSON)."""
    record = journal.register_file(inbox="csv", name="bench.csv", sha256="b" * 64, size=1)
    case = journal.add_case(
        record.id,
        key="S1",
        innsender_referanse="S1",
        begjaeringsdato="2026-12-01",
        payload=json.loads(REFERENCE.read_text(encoding="utf-8")),
        source={},
    )
    return case.id


def _ops(journal: JournalStore, case_id: int) -> dict[str, Callable[[int], object]]:
    journal.set_case_state(case_id, CaseState.UPLOADING)

    def write(_i: int) -> None:
        # retry_wait -> retry_wait is allowed (a later attempt time), so every call writes.
        journal.set_case_state(case_id, CaseState.RETRY_WAIT, next_attempt_at=_clock())

    return {"read": lambda _i: journal.case_state(case_id), "write": write}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = {"read": args.reads, "write": args.writes}
    best: dict[tuple[str, str], tuple[float, float]] = {}

    def keep(variant: str, op: str, figures: tuple[float, float]) -> None:
        old = best.get((variant, op))
        best[(variant, op)] = figures if old is None or figures[0] < old[0] else old

    with _postgres.running_server() as server:
        url = server.url(server.create_database())
        journal = PostgresJournal.open(url, password=_postgres.PASSWORD, clock=_clock)
        case_id = _one_case(journal)
        ops = _ops(journal, case_id)
        # The pool's check callback, swapped in and out on the journal's own pool: a
        # private attribute of psycopg_pool, read at each checkout (3.2, 3.3).
        pool: ConnectionPool[psycopg.Connection[object]] = journal._shared.pool  # type: ignore[assignment]
        variants = {"checked at checkout": ConnectionPool.check_connection, "now": None}
        with psycopg.connect(server.admin_conninfo(), autocommit=True) as bare:
            for _ in range(args.rounds):
                for variant, check in variants.items():
                    pool._check = check
                    for op, run in ops.items():
                        keep(variant, op, _timed(counts[op], run))
                keep(
                    "bare SELECT 1",
                    "read",
                    _timed(args.reads, lambda _i: bare.execute("SELECT 1").fetchall()),
                )
        journal.close()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Journal.open(Path(tmp) / "journal.sqlite3", clock=_clock)
        ops = _ops(sqlite, _one_case(sqlite))
        for _ in range(args.rounds):
            for op, run in ops.items():
                keep("SQLite", op, _timed(counts[op], run))
        sqlite.close()

    print(f"best of {args.rounds} rounds; {args.reads} reads, {args.writes} writes per round")
    print("| journal | read µs wall | read µs CPU | write µs wall | write µs CPU |")
    print("|---|---:|---:|---:|---:|")
    for variant in ("checked at checkout", "now", "bare SELECT 1", "SQLite"):
        cells = []
        for op in ("read", "write"):
            wall, cpu = best.get((variant, op), (float("nan"), float("nan")))
            cells += [f"{wall:.0f}", f"{cpu:.0f}"]
        name = f"PostgreSQL, {variant}" if variant != "SQLite" else variant
        print(f"| {name} | " + " | ".join(c if c != "nan" else "" for c in cells) + " |")


if __name__ == "__main__":
    main()
