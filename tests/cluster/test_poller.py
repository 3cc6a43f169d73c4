"""One follow-up poller per tenant across the cluster: one polls, the other stands by and
takes over once the holder's database connection is gone (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cluster.conftest import instance_settings
from utlegg_gateway.cluster import PollerLock
from utlegg_gateway.config import JournalSettings
from utlegg_gateway.followup import Followup

pytestmark = pytest.mark.postgres


async def _end_connection(journal: JournalSettings, pid: int | None) -> None:
    """End a session from the server side: what the server does when its host dies."""
    assert pid is not None and journal.url is not None and journal.password is not None
    password = journal.password.read()
    async with await psycopg.AsyncConnection.connect(
        journal.url, password=password, autocommit=True
    ) as admin:
        # With a timeout the call waits until the backend has gone (and freed its locks).
        await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


async def _until(check: Any, *, timeout: float = 10.0) -> None:
    """Ask `check()` (async) until it is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.01)


def test_one_holder_and_a_takeover_when_its_connection_dies(
    cluster_journal: JournalSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = PollerLock.for_settings(
        instance_settings(tmp_path / "a", cluster_journal, instance="gw-a", tenant="acme")
    )
    b = PollerLock.for_settings(
        instance_settings(tmp_path / "b", cluster_journal, instance="gw-b", tenant="acme")
    )
    other_tenant = PollerLock.for_settings(
        instance_settings(tmp_path / "c", cluster_journal, instance="gw-b", tenant="beta")
    )

    async def run() -> None:
        try:
            assert await a.turn() is True
            assert await b.turn() is False
            assert await a.turn() is True  # the holder keeps it round after round
            assert await b.turn() is False
            assert await other_tenant.turn() is True  # a lock per tenant
            await _end_connection(cluster_journal, a.session.connection_pid)
            await _until(b.turn)
            # The old holder notices its lost connection and stands by.
            assert await a.turn() is False
            await b.aclose()  # a clean stop: the other takes over at its next round
            await _until(a.turn)
        finally:
            for lock in (a, b, other_tenant):
                await lock.aclose()

    with caplog.at_level(logging.INFO, logger="utlegg_gateway.cluster._poller"):
        asyncio.run(run())
    said = [
        (r.getMessage(), getattr(r, "fields", {}).get("instance"))
        for r in caplog.records
        if r.name == "utlegg_gateway.cluster._poller"
    ]
    assert ("follow-up poller: this instance polls", "gw-a") in said
    assert ("follow-up poller: another instance polls", "gw-b") in said
    assert ("follow-up poller: this instance polls", "gw-b") in said


def test_a_lone_holder_that_lost_its_connection_stands_by_then_takes_the_lock_again(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """A holder that finds its connection lost does not ask again at once (it would win
    the race against peers that have been asking); with no peer it resumes a step later."""
    from utlegg_gateway.cluster._poller import STANDBY_TURNS_AFTER_LOSS

    a = PollerLock.for_settings(instance_settings(tmp_path / "a", cluster_journal, instance="gw-a"))

    async def run() -> list[bool]:
        try:
            assert await a.turn() is True
            lost_pid = a.session.connection_pid
            await _end_connection(cluster_journal, lost_pid)
            turns = [await a.turn() for _ in range(STANDBY_TURNS_AFTER_LOSS + 2)]
            assert a.session.connection_pid not in (None, lost_pid)  # a new connection
            return turns
        finally:
            await a.aclose()

    # The turn that notices the loss is the first stand-by turn; then it holds again.
    assert asyncio.run(run()) == [False] * STANDBY_TURNS_AFTER_LOSS + [True, True]


class _CountingStatus:
    """Stands in for the status poller: counts the rounds this instance ran."""

    def __init__(self) -> None:
        self.rounds = 0
        self.last_failures: dict[str, str] = {}

    async def poll_once(self) -> list[Any]:
        self.rounds += 1
        return []


def test_two_followup_loops_poll_one_at_a_time(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """Two instances' follow-up loops for one tenant: only the lock holder's rounds run;
    when its connection dies the other's loop polls within a few steps."""
    settings = [
        instance_settings(
            tmp_path / name,
            cluster_journal,
            instance=name,
            followup={"tick_seconds": 0.02},
        )
        for name in ("gw-a", "gw-b")
    ]
    locks = [PollerLock.for_settings(s) for s in settings]
    counters = [_CountingStatus(), _CountingStatus()]
    followups = [
        Followup(s, status=c, letters=None)  # type: ignore[arg-type]
        for s, c in zip(settings, counters, strict=True)
    ]

    async def run() -> None:
        stop = asyncio.Event()
        loops = [
            asyncio.ensure_future(f.run(stop, turn=lock.turn))
            for f, lock in zip(followups, locks, strict=True)
        ]
        try:

            async def some_rounds() -> bool:
                return max(c.rounds for c in counters) >= 5

            await _until(some_rounds)
            holder = 0 if counters[0].rounds else 1
            standby = 1 - holder
            assert counters[standby].rounds == 0
            await _end_connection(cluster_journal, locks[holder].session.connection_pid)

            async def taken_over() -> bool:
                return counters[standby].rounds >= 3

            await _until(taken_over)
            # The old holder stands by now: at most the round it was in when it lost it.
            before = counters[holder].rounds
            rounds_then = counters[standby].rounds

            async def more_rounds() -> bool:
                return counters[standby].rounds >= rounds_then + 5

            await _until(more_rounds)
            assert counters[holder].rounds <= before + 1
        finally:
            stop.set()
            await asyncio.gather(*loops)
            for lock in locks:
                await lock.aclose()

    asyncio.run(run())


def test_the_daemons_followup_takes_the_tenants_lock(
    make_sandbox: Any,
    sandbox_credentials: Any,
    cluster_journal: JournalSettings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`start_followup` (what `run` starts per tenant) with `cluster.enabled`: of two
    instances one polls and the other says that another instance polls."""
    from datetime import UTC, datetime

    from utlegg_gateway.elan import build_client
    from utlegg_gateway.followup import start_followup
    from utlegg_gateway.journal import open_journal

    def clock() -> datetime:
        return datetime.now(UTC)

    with make_sandbox() as sandbox:
        settings = [
            instance_settings(
                tmp_path / name,
                cluster_journal,
                instance=name,
                sandbox=sandbox,
                credentials=sandbox_credentials,
                followup={"tick_seconds": 0.02},
            )
            for name in ("gw-a", "gw-b")
        ]

        def said() -> set[tuple[str, Any]]:
            return {
                (r.getMessage(), getattr(r, "fields", {}).get("instance"))
                for r in caplog.records
                if r.name == "utlegg_gateway.cluster._poller"
            }

        async def run() -> set[tuple[str, Any]]:
            stop = asyncio.Event()
            journal = open_journal(cluster_journal, clock=clock)
            try:
                async with build_client(settings[0]) as a, build_client(settings[1]) as b:
                    tasks = [
                        start_followup(s, journal, elan, clock=clock, stop=stop)
                        for s, elan in zip(settings, (a, b), strict=True)
                    ]

                    async def both_decided() -> bool:
                        return len(said()) >= 2

                    try:
                        await _until(both_decided)
                    finally:
                        stop.set()
                        await asyncio.gather(*(t for t in tasks if t is not None))
            finally:
                journal.close()
            return said()

        with caplog.at_level(logging.INFO, logger="utlegg_gateway.cluster._poller"):
            lines = asyncio.run(run())
    assert {message for message, _ in lines} == {
        "follow-up poller: this instance polls",
        "follow-up poller: another instance polls",
    }
    assert {instance for _, instance in lines} == {"gw-a", "gw-b"}


def test_a_one_off_round_skips_while_a_daemon_polls(
    cluster_journal: JournalSettings, tmp_path: Path
) -> None:
    """`followup_once` (the `followup` command, `once --followup`) with `cluster.enabled`
    does nothing while another instance holds the tenant's poller lock."""
    from datetime import UTC, datetime

    from utlegg_gateway.followup import followup_once

    settings = instance_settings(tmp_path / "b", cluster_journal, instance="gw-b")
    holder = PollerLock.for_settings(
        instance_settings(tmp_path / "a", cluster_journal, instance="gw-a")
    )

    class _NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the skipped round used the ELAN client ({name})")

    async def run() -> Any:
        try:
            assert await holder.turn() is True
            untouched: Any = _NoCalls()  # neither the journal nor ELAN may be used
            return await followup_once(
                settings, untouched, untouched, clock=lambda: datetime.now(UTC)
            )
        finally:
            await holder.aclose()

    report = asyncio.run(run())
    assert report.status_changes == [] and report.letters == [] and report.errors == []
